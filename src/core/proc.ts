/**
 * Child processes zkctl starts for `lock -- CMD` and `elect -- CMD`: start a
 * command, forward signals to it, stop it (SIGTERM, then SIGKILL after a
 * grace), and report its exit the way a shell does. Also: the environment
 * every child zkctl starts gets (childEnv: no ZKCTL_* credentials).
 *
 * The job: CMD and every process it started. Without a terminal (`ownGroup`)
 * the child leads a new session and process group. On a terminal it stays in
 * zkctl's process group, the terminal's foreground group, so that Ctrl-C,
 * Ctrl-Z and reading the terminal work as for any foreground command. Either
 * way a stop reaches the whole job: the reaper (below) finds its members in
 * /proc (the child, every process of its session or group but those that were
 * in zkctl's group before the child started (pipeline neighbours) and their
 * descendants, and every descendant of those, whatever group it moved to),
 * stops them all with SIGSTOP so that none can fork away meanwhile, and
 * SIGKILLs them. Out of reach: a process that left the group or session AND
 * whose parent exited (setsid plus a double fork, as daemons do), since
 * nothing in /proc ties it to the job any more.
 *
 * The reaper: a tiny shell (its own session, ignoring signals) started before
 * the child and told what to watch right after the spawn. It SIGKILLs the job
 * when zkctl dies without a goodbye (its pipe from zkctl reaches EOF, or with
 * bash and /proc it finds itself re-parented). With bash and a `watchdog`,
 * zkctl also sends it a heartbeat: when none comes for `marginMs` (zkctl was
 * SIGSTOPped, or its event loop froze) the reaper stops the job itself,
 * SIGTERM then SIGKILL `graceMs` later, and tells zkctl so ("fenced") should
 * it ever run again. Limits: the reaper itself can be killed, and a freeze of
 * the whole machine stops the reaper too (only a fencing token checked by the
 * resource guards against that). With ZKCTL_REAPER_TRACE=FILE in zkctl's
 * environment the reaper appends what it does to FILE (for debugging).
 */
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { accessSync, constants as fsConstants, existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { resolve as resolvePath } from 'node:path';
import { constants } from 'node:os';
import { UsageError, ZkctlError } from './errors.js';
import { setTimer, type Timer } from './duration.js';

/**
 * The environment for a child zkctl starts (lock/elect CMD, services register
 * CMD, watch --exec, config watch --exec, editors): the caller's environment
 * minus every ZKCTL_* variable that carries a credential (ZKCTL_AUTH and any
 * ZKCTL_* whose name contains AUTH, PASS, SECRET, TOKEN, CRED, KEY, SASL or
 * JAAS), plus `extra` (what zkctl tells the child, set after the filtering).
 * Other ZKCTL_* settings (ZKCTL_SERVER, ...) stay, so a child may run zkctl.
 */
export function childEnv(extra: Record<string, string | undefined> = {}, base: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(base)) {
    if (isCredentialVar(k)) continue;
    env[k] = v;
  }
  for (const [k, v] of Object.entries(extra)) if (v !== undefined) env[k] = v;
  return env;
}

/** The reaper's environment: PATH, the C locale, and ZKCTL_REAPER_TRACE when set; nothing else. */
function reaperEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH || '/usr/local/bin:/usr/bin:/bin', LC_ALL: 'C' };
  if (process.env.ZKCTL_REAPER_TRACE) env.ZKCTL_REAPER_TRACE = process.env.ZKCTL_REAPER_TRACE;
  return env;
}

/** A ZKCTL_* variable a child must not see (see childEnv). */
export function isCredentialVar(name: string): boolean {
  return name.startsWith('ZKCTL_') && /AUTH|PASS|SECRET|TOKEN|CRED|KEY|SASL|JAAS/.test(name.slice(6));
}

/** A hook zkctl runs for stream events (watch --exec, config watch --exec). */
export interface HookOptions {
  /** What zkctl tells the hook, set after childEnv has dropped the credentials. */
  env: Record<string, string | undefined>;
  /** Written to the hook's stdin (then closed). */
  input?: string | Buffer;
  /** 'inherit' (default): the hook writes to zkctl's stdout and stderr; 'stderr': both go to zkctl's stderr (stdout carries a stream). */
  output?: 'inherit' | 'stderr';
  /** Aborting it stops a running hook: SIGTERM, then SIGKILL `graceMs` later. */
  signal?: AbortSignal;
  /** Default 2000 ms. */
  graceMs?: number;
  /** The environment the hook's is derived from (default process.env; for tests). */
  baseEnv?: NodeJS.ProcessEnv;
}

/** How a hook ended: ok (exit 0), or why not. */
export type HookResult = { ok: true } | { ok: false; exit: ChildExit } | { ok: false; error: Error };

/**
 * The one hook runner: CMD with /bin/sh -c, in childEnv (no ZKCTL_* credential) plus `env`,
 * `input` on its stdin; resolves when it has ended (never rejects).
 *
 * The hook runs in its own process group, and stopping it (`signal`) stops the group: SIGTERM,
 * then SIGKILL `graceMs` later to whatever of the group is left. A hook such as
 * `sh -c 'sleep 33'` is a shell with a child; signalling the shell alone left the child running.
 * A stopped hook's result comes once its whole group is gone (or has been SIGKILLed). A hook that
 * ends by itself may leave processes it started in the background: those were asked for.
 */
export function runHook(cmd: string, opts: HookOptions): Promise<HookResult> {
  return new Promise((resolve) => {
    const stdio: StdioOptions = opts.output === 'stderr' ? ['pipe', 'pipe', 'pipe'] : ['pipe', 'inherit', 'inherit'];
    const child = spawn('/bin/sh', ['-c', cmd], { env: childEnv(opts.env, opts.baseEnv), stdio, detached: true });
    if (opts.output === 'stderr') {
      child.stdout?.pipe(process.stderr, { end: false });
      child.stderr?.pipe(process.stderr, { end: false });
    }
    child.stdin?.on('error', () => undefined);
    child.stdin?.end(opts.input ?? '');
    const group = child.pid;
    /** Signal the hook's process group; false when it is gone. */
    const signalGroup = (sig: NodeJS.Signals | 0): boolean => {
      if (group === undefined) return false;
      try {
        process.kill(-group, sig);
        return true;
      } catch {
        return false;
      }
    };
    /** Anything of the group still running (zombies waiting for a slow init to reap them do not count). */
    const groupAlive = (): boolean => (group !== undefined && existsSync('/proc/self') ? groupPeers(group).length > 0 : signalGroup(0));
    let kill: Timer | undefined;
    let poll: NodeJS.Timeout | undefined;
    /** Stopped: the result waits until the group is gone (or the SIGKILL's grace ran out). */
    let waitForGroup = false;
    let result: HookResult | undefined;
    let done = false;
    const settle = (): void => {
      if (done || result === undefined) return;
      if (waitForGroup && groupAlive()) return;
      done = true;
      kill?.clear();
      if (poll) clearInterval(poll);
      opts.signal?.removeEventListener('abort', onAbort);
      resolve(result);
    };
    const onAbort = (): void => {
      waitForGroup = true;
      if (!signalGroup('SIGTERM')) child.kill('SIGTERM');
      kill = setTimer(() => {
        signalGroup('SIGKILL');
        child.kill('SIGKILL');
        // SIGKILL cannot be refused: wait a moment for the group to be reaped, then report regardless.
        kill = setTimer(() => {
          waitForGroup = false;
          settle();
        }, 1000);
      }, opts.graceMs ?? 2000);
      poll = setInterval(settle, 50);
    };
    if (opts.signal?.aborted) onAbort();
    else opts.signal?.addEventListener('abort', onAbort, { once: true });
    child.on('error', (error) => {
      result ??= { ok: false, error };
      settle();
    });
    child.on('close', (code, signal) => {
      result ??= code === 0 ? { ok: true } : { ok: false, exit: { code, signal } };
      settle();
    });
  });
}

/** "exited with 3", "was killed by SIGTERM", "could not run: ..." */
export function hookFailure(r: Exclude<HookResult, { ok: true }>): string {
  if ('error' in r) return `could not run: ${r.error.message}`;
  return r.exit.signal ? `was killed by ${r.exit.signal}` : `exited with ${r.exit.code}`;
}

export interface ChildExit {
  /** Exit code, or null when the child was killed by a signal. */
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** Shell convention: the exit code, or 128 + the signal number. */
export function exitStatusOf(e: ChildExit): number {
  if (e.code !== null) return e.code;
  const n = e.signal ? (constants.signals as Record<string, number>)[e.signal] : undefined;
  return 128 + (n ?? 0);
}

export interface StartOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Make the child a session and process-group leader (default false: it stays in zkctl's group, e.g. on a terminal). */
  ownGroup?: boolean;
  /** Default 'inherit'. */
  stdio?: StdioOptions;
  /**
   * Kill the job with SIGKILL if this process dies without saying goodbye
   * (SIGKILL, OOM killer, crash): a tiny shell reaper holds a pipe from us and
   * acts when it reads EOF (or, with bash, finds that we are gone). It is also
   * what reaches every process of the job when zkctl stops it.
   */
  killOnParentDeath?: boolean;
  /**
   * With killOnParentDeath (and bash): heartbeats to the reaper; when none comes
   * for `marginMs` it stops the job itself (SIGTERM, SIGKILL `graceMs` later).
   */
  watchdog?: { marginMs: number; graceMs: number };
}

/** The members of the job in /proc (awk; see the file comment). Variables: root pg sid self excl. */
const MEMBERS = `members() {
  cat /proc/[0-9]*/stat 2>/dev/null | awk -v root="$root" -v pg="$pg" -v sid="$sid" -v self="$self" -v me="$$" -v excl="$excl" '
{ p = $1; sub(/^.*\\) /, ""); st[p] = $1; pp[p] = $2; g[p] = $3; s[p] = $4 }
END {
  n = split(excl, e, " ")
  for (i = 1; i <= n; i++) if (e[i] in pp) x[e[i]] = 1
  do { c = 0; for (p in pp) if (!(p in x) && (pp[p] in x) && p != self && p != root) { x[p] = 1; c = 1 } } while (c)
  if (root in pp) j[root] = 1
  for (p in pp) if ((pg > 0 && g[p] == pg) || (sid > 0 && s[p] == sid)) j[p] = 1
  do { c = 0; for (p in pp) if (!(p in j) && (pp[p] in j) && pp[p] != self) { j[p] = 1; c = 1 } } while (c)
  for (p in j) if (!(p in x) && p != self && p != me && p != 1 && st[p] != "Z" && st[p] != "X") print p
}'
}
tr() {
  [ -z "$ZKCTL_REAPER_TRACE" ] || echo "$(date +%s%3N 2>/dev/null) reaper $$: $*" >> "$ZKCTL_REAPER_TRACE" 2>/dev/null
}
sweep() {
  m=$(members)
  tr "sweep $1: $m"
  [ -n "$m" ] || return 1
  kill -s "$1" $m 2>/dev/null
  [ "$1" = TERM ] && kill -s CONT $m 2>/dev/null
  return 0
}
kill_all() {
  all=
  i=0
  while [ $i -lt 50 ]; do
    i=$((i + 1))
    new=
    for p in $(members); do
      case " $all " in *" $p "*) ;; *) new="$new $p" ;; esac
    done
    [ -n "$new" ] || break
    kill -s STOP $new 2>/dev/null
    all="$all$new"
  done
  if [ ! -d /proc/self ]; then
    all="$all $root"
    [ "$sid" -gt 0 ] && kill -s KILL -- "-$sid" 2>/dev/null
  fi
  set -- $all
  n=$#
  tr "kill_all: $n: $all"
  [ $n -gt 0 ] && kill -s KILL $all 2>/dev/null
  # SIGKILL is sent, not yet done: wait (at most ~2 s) until every member is dead (gone or a
  # zombie), so that zkctl, which waits for this reaper, never exits while a member still runs.
  i=0
  while [ $n -gt 0 ] && [ $i -lt 200 ]; do
    left=
    for p in $all; do
      st=
      [ -r /proc/$p/stat ] && read -r st < /proc/$p/stat 2>/dev/null
      [ -n "$st" ] || continue
      st=\${st##*) }
      case \${st%% *} in Z|X) ;; *) left=1; break ;; esac
    done
    [ -z "$left" ] && break
    sleep 0.01 2>/dev/null || sleep 1
    i=$((i + 1))
  done
  return 0
}
`;

/**
 * The reaper for POSIX sh. The first line it reads says what the job is
 * ("arm MARGIN GRACE ROOT PG SID SELF EXCL..."; written as soon as the child
 * exists, or "none"). Then it obeys "sig NAME" (signal every member), "kill"
 * (SIGKILL them all) and "ok" (goodbye), and kills the job at EOF. Started
 * first, it exists before the child runs, so there is no moment at which
 * zkctl can be killed with a running child and no reaper.
 */
const REAPER_SH = `trap '' INT TERM HUP PIPE TSTP TTIN TTOU
echo ready
IFS=' ' read -r verb margin grace root pg sid self excl || exit 0
[ "$verb" = arm ] || exit 0
${MEMBERS}
echo armed
while IFS= read -r line; do
  case $line in
    ok) exit 0 ;;
    kill) kill_all; echo "killed $n" ;;
    sig\\ *) sweep "\${line#sig }" ;;
  esac
done
kill_all
exit 0`;

/**
 * The same for bash, which can wait with a deadline: the heartbeat watchdog
 * (MARGIN > 0: no line for MARGIN seconds = zkctl is not running: stop the job),
 * and a check, at least once a second, in /proc, that its parent is still zkctl.
 * A process's children are re-parented the moment it dies, zombie or not, so
 * this catches zkctl's death even if the pipe's write end were held open by some
 * other process.
 */
const REAPER_BASH = `trap '' INT TERM HUP PIPE TSTP TTIN TTOU
parent=$PPID
echo ready
IFS=' ' read -r verb margin grace root pg sid self excl || exit 0
[ "$verb" = arm ] || exit 0
${MEMBERS}
echo armed
tr "armed: margin $margin grace $grace root $root pg $pg sid $sid self $self parent $parent"
wait_s=$margin
[ "$margin" = 0 ] && wait_s=1
while :; do
  IFS= read -r -t "$wait_s" line
  rc=$?
  if [ $rc -eq 0 ]; then
    case $line in
      ok) exit 0 ;;
      kill) kill_all; echo "killed $n" ;;
      sig\\ *) sweep "\${line#sig }" ;;
    esac
  elif [ $rc -gt 128 ]; then
    if [ "$margin" != 0 ]; then
      tr "no heartbeat for $margin s (read: $rc)"
      echo fenced
      sweep TERM
      sleep "$grace"
      kill_all
      echo "killed $n"
      exit 0
    fi
  else
    tr "end of input (read: $rc)"
    break
  fi
  if [ -r /proc/$$/stat ]; then
    read -r _ _ _ pp _ < /proc/$$/stat || break
    [ "$pp" = "$parent" ] || { tr "parent $parent gone (now $pp)"; break; }
  fi
done
kill_all
exit 0`;
const BASH = ['/bin/bash', '/usr/bin/bash'].find((p) => existsSync(p));

/** Whether a reaper can keep a heartbeat watchdog here (bash). */
export const WATCHDOG_AVAILABLE = BASH !== undefined;

/** pid, ppid, pgrp, session of a process from /proc (undefined when unreadable). */
function procStat(pid: number | string): { ppid: number; pgrp: number; sid: number; state: string } | undefined {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return { state: f[0]!, ppid: Number(f[1]), pgrp: Number(f[2]), sid: Number(f[3]) };
  } catch {
    return undefined;
  }
}

/**
 * Where `command` is (as execvp would find it: a name with a slash as is, else the first
 * executable in PATH); a UsageError (exit 2) as a failed spawn gives when there is none.
 */
export function resolveCommand(command: string, path: string | undefined, cwd?: string): string {
  const usable = (f: string): 'ok' | 'denied' | 'missing' => {
    try {
      if (!statSync(f).isFile()) return 'denied';
      accessSync(f, fsConstants.X_OK);
      return 'ok';
    } catch (e) {
      return (e as NodeJS.ErrnoException).code === 'EACCES' ? 'denied' : 'missing';
    }
  };
  if (command === '') throw new UsageError('cannot run an empty command');
  if (command.includes('/')) {
    const f = resolvePath(cwd ?? process.cwd(), command);
    const u = usable(f);
    if (u === 'ok') return f;
    throw new UsageError(`cannot run ${command}: ${u === 'denied' ? 'permission denied' : 'command not found'}`);
  }
  let denied = false;
  for (const dir of (path ?? '/usr/local/bin:/usr/bin:/bin').split(':')) {
    const f = resolvePath(cwd ?? process.cwd(), dir || '.', command);
    const u = usable(f);
    if (u === 'ok') return f;
    if (u === 'denied') denied = true;
  }
  throw new UsageError(`cannot run ${command}: ${denied ? 'permission denied' : 'command not found'}`);
}

/** Every live process (zombies left out) with its parent, group and session, from /proc; empty without /proc. */
function liveProcesses(): Array<{ pid: number; ppid: number; pgrp: number; sid: number }> {
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return [];
  }
  const out: Array<{ pid: number; ppid: number; pgrp: number; sid: number }> = [];
  for (const d of entries) {
    if (!/^\d+$/.test(d)) continue;
    const st = procStat(d);
    if (st && st.state !== 'Z') out.push({ pid: Number(d), ppid: st.ppid, pgrp: st.pgrp, sid: st.sid });
  }
  return out;
}

/** The live descendants of `pid` (children, their children, ...), from /proc. */
function descendantsOf(pid: number): number[] {
  const kids = new Map<number, number[]>();
  for (const p of liveProcesses()) {
    const list = kids.get(p.ppid) ?? [];
    list.push(p.pid);
    kids.set(p.ppid, list);
  }
  const out: number[] = [];
  const todo = [...(kids.get(pid) ?? [])];
  while (todo.length) {
    const p = todo.pop()!;
    out.push(p);
    todo.push(...(kids.get(p) ?? []));
  }
  return out;
}

/** The other live processes of process group `pgid` (not this one), from /proc. */
function groupPeers(pgid: number): number[] {
  return liveProcesses()
    .filter((p) => p.pgrp === pgid && p.pid !== process.pid)
    .map((p) => p.pid);
}

const secs = (ms: number): string => (Math.max(0, ms) / 1000).toFixed(3);

/** How long a reaper has to say it is ready, and then that it has its orders (it answers in milliseconds; this is for a machine under heavy load). */
const REAPER_ANSWER_MS = 10_000;

/** The reaper could not be started: the command is not run (exit 1). */
export class ReaperError extends ZkctlError {}

/** zkctl's end of a reaper: its process and the lines it writes ("ready", "armed", "fenced", "killed N"). */
class ReaperLink {
  armed = false;
  closed = false;
  /** The lines after "ready" (set by the Child that owns this reaper). */
  onLine?: (line: string) => void;
  onClose?: () => void;
  /** Resolves with '' once the reaper said "ready", or with why not. */
  readonly ready: Promise<string>;
  private armWaiters: Array<() => void> = [];

  /** '' once the reaper has said "armed", or why not (it ended, or said nothing within `ms`). */
  whenArmed(ms: number): Promise<string> {
    if (this.armed) return Promise.resolve('');
    if (this.closed) return Promise.resolve('ended before it confirmed its orders');
    return new Promise<string>((resolve) => {
      const t = setTimeout(() => resolve(`did not confirm its orders within ${ms / 1000}s`), ms);
      this.armWaiters.push(() => {
        clearTimeout(t);
        resolve(this.armed ? '' : 'ended before it confirmed its orders');
      });
    });
  }

  constructor(
    readonly proc: ChildProcess,
    shell: string,
  ) {
    let settle!: (why: string) => void;
    let isReady = false;
    this.ready = new Promise<string>((r) => (settle = r));
    const timer = setTimeout(() => settle(`${shell} did not answer within ${REAPER_ANSWER_MS / 1000}s`), REAPER_ANSWER_MS);
    let buf = '';
    proc.stdout?.on('data', (d: Buffer) => {
      buf += d.toString();
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (!isReady) {
          if (line === 'ready') {
            isReady = true;
            clearTimeout(timer);
            settle('');
          }
          continue;
        }
        if (line === 'armed') {
          this.armed = true;
          for (const w of this.armWaiters.splice(0)) w();
        }
        this.onLine?.(line);
      }
    });
    const gone = (why: string): void => {
      clearTimeout(timer);
      settle(why);
      if (this.closed) return;
      this.closed = true;
      for (const w of this.armWaiters.splice(0)) w();
      this.onClose?.();
    };
    proc.once('error', (e) => gone(`${shell}: ${e.message}`));
    proc.once('close', (code, signal) => gone(`${shell} ended (${signal ?? `exit ${code}`}) before it was ready`));
  }
}

/** A running child command. */
export class Child {
  readonly pid: number;
  readonly command: string;
  /** Resolves once the child has exited (never rejects). */
  readonly exited: Promise<ChildExit>;
  /** Resolves when the reaper's watchdog stopped the job (zkctl sent no heartbeat in time). */
  readonly watchdogFired: Promise<void>;
  /**
   * Resolves (with why) when the reaper can no longer guard the job: it ended while the job
   * runs (killed). runFenced stops the job then.
   */
  readonly reaperFailed: Promise<string>;
  /** The watchdog fired; `killed`: SIGKILL was needed for some of the job. */
  watchdog?: { killed: boolean };
  /** A stop needed SIGKILL: the grace ran out (zkctl's, or the reaper watchdog's), or SIGKILL was sent outright. */
  escalated = false;
  private exit?: ChildExit;
  private killTimer?: Timer;
  private heartbeat?: NodeJS.Timeout;
  private reaper?: ChildProcess;
  private reaperClosed: Promise<void>;
  private finished?: Promise<void>;
  /** The reaper has ended (asked to, or not). */
  private reaperGone = false;
  /** Processes seen in the job (signalDescendants). */
  private readonly jobSeen = new Set<number>();

  private constructor(
    private readonly proc: ChildProcess,
    command: string,
    private readonly ownGroup: boolean,
    link: ReaperLink | undefined,
    watchdog: StartOptions['watchdog'],
  ) {
    this.pid = proc.pid!;
    this.command = command;
    const reaper = link?.proc;
    this.reaper = reaper;
    let fired!: () => void;
    this.watchdogFired = new Promise<void>((r) => (fired = r));
    let failed!: (why: string) => void;
    this.reaperFailed = new Promise<string>((r) => (failed = r));
    this.reaperClosed = link
      ? new Promise<void>((resolve) => {
          // That the reaper has its orders is checked once, by Child.start's gate (whenArmed), before CMD runs.
          link.onLine = (line) => {
            if (line === 'fenced') {
              this.watchdog = { killed: false };
              fired();
            } else if (line.startsWith('killed ') && Number(line.slice(7)) > 0 && this.watchdog && !this.watchdog.killed) {
              // The watchdog's grace ran out for some of the job (not the clean-up after an exit).
              this.watchdog.killed = true;
              this.escalated = true;
            }
          };
          const closed = (): void => {
            this.reaperGone = true;
            // Gone while the job runs, unasked and without its watchdog firing (killed, crashed): nothing guards the job now.
            if (this.running && !this.finished && !this.watchdog) failed('its reaper, which stops the command should zkctl stop, has ended (killed?)');
            resolve();
          };
          if (link.closed) closed();
          else link.onClose = closed;
        })
      : Promise.resolve();
    if (reaper && watchdog && watchdog.marginMs > 0) {
      const every = Math.max(50, Math.min(1000, Math.floor(watchdog.marginMs / 4)));
      this.heartbeat = setInterval(() => this.tell('hb'), every);
      this.heartbeat.unref();
    }
    this.exited = new Promise<ChildExit>((resolve) => {
      proc.once('exit', (code, signal) => {
        this.exit = { code, signal };
        this.killTimer?.clear();
        resolve(this.exit);
      });
    });
  }

  /**
   * Start a reaper (before the child; see REAPER_SH) and wait until it says it is ready to read
   * its orders. One more try if it does not answer in time; then a ReaperError: a job that
   * nothing would stop when zkctl stops is not started.
   */
  private static async startReaper(): Promise<ReaperLink> {
    let why = '';
    for (let attempt = 0; attempt < 2; attempt++) {
      const link = Child.spawnReaper();
      why = await link.ready;
      if (!why) return link;
      try {
        link.proc.kill('SIGKILL');
      } catch {
        /* gone */
      }
    }
    throw new ReaperError(`cannot start the reaper that stops the command should zkctl stop (${why}); not running the command`);
  }

  private static spawnReaper(): ReaperLink {
    // No start-up files (bash runs ~/.bashrc when its stdin is a socket and SHLVL is unset, as
    // under cron or systemd: a slow one, or one that reads stdin, would leave the job unguarded)
    // and an environment of its own: PATH for its tools, nothing else of zkctl's (no credentials).
    const [shell, opts, script] = BASH ? [BASH, ['--norc', '--noprofile'], REAPER_BASH] : ['/bin/sh', [], REAPER_SH];
    let r: ChildProcess;
    try {
      r = spawn(shell, [...opts, '-c', script, 'zkctl-reaper'], { stdio: ['pipe', 'pipe', 'ignore'], detached: true, env: reaperEnv() });
    } catch (e) {
      throw new ReaperError(`cannot start the reaper that stops the command should zkctl stop (${shell}: ${(e as Error).message}); not running the command`);
    }
    r.stdin?.on('error', () => undefined);
    r.stdout?.on('error', () => undefined);
    r.unref();
    (r.stdin as unknown as { unref?: () => void } | null)?.unref?.();
    (r.stdout as unknown as { unref?: () => void } | null)?.unref?.();
    return new ReaperLink(r, shell);
  }

  /**
   * Tell the reaper what the job is; called right after the child was spawned,
   * in the same tick. `excl`: the pids that were in our group before the child
   * (they and their descendants are not the job).
   */
  private static arm(link: ReaperLink | undefined, pid: number | undefined, ownGroup: boolean, excl: number[], watchdog: StartOptions['watchdog']): void {
    const reaper = link?.proc;
    if (!reaper?.stdin || reaper.stdin.destroyed) return;
    if (!pid || !(pid > 1)) {
      reaper.stdin.end('none\n'); // no child: the reaper just exits
      return;
    }
    const margin = watchdog && watchdog.marginMs > 0 && BASH ? secs(watchdog.marginMs) : '0';
    const grace = secs(watchdog?.graceMs ?? 0);
    const pg = ownGroup ? pid : (procStat('self')?.pgrp ?? 0);
    const sid = ownGroup ? pid : 0;
    reaper.stdin.write(`arm ${margin} ${grace} ${pid} ${pg} ${sid} ${process.pid} ${excl.join(' ')}\n`);
  }

  private tell(line: string): void {
    const s = this.reaper?.stdin;
    if (!s || s.destroyed || s.writableEnded) return;
    s.write(`${line}\n`);
  }

  /**
   * Start `command args...` (no shell). Rejects with a UsageError (exit 2) when
   * the command cannot be started (not found, not executable).
   */
  static async start(command: string, args: readonly string[], opts: StartOptions = {}): Promise<Child> {
    const reaper = opts.killOnParentDeath ? await Child.startReaper() : undefined;
    // With a reaper, CMD is held at its start (a /bin/sh waiting on fd 3, which then execs CMD in
    // the same process) until the reaper confirms its orders: a job that nothing would stop
    // should zkctl stop never runs, not even for a moment. So CMD must be found first.
    const target = reaper ? resolveCommand(command, (opts.env ?? process.env).PATH, opts.cwd) : command;
    const proc = await new Promise<ChildProcess>((resolve, reject) => {
      const ownGroup = !!opts.ownGroup;
      let excl: number[] = [];
      if (opts.killOnParentDeath && !ownGroup) {
        const pg = procStat('self')?.pgrp;
        if (pg) excl = groupPeers(pg);
      }
      const base = opts.stdio ?? 'inherit';
      const stdio: StdioOptions = reaper ? [...(Array.isArray(base) ? base.slice(0, 3) : [base, base, base]), 'pipe'] : base;
      let p: ChildProcess;
      try {
        p = reaper
          ? spawn('/bin/sh', ['-c', 'IFS= read -r go <&3 && [ "$go" = go ] || exit 125; exec 3<&-; exec "$0" "$@"', target, ...args], { env: opts.env ?? childEnv(), cwd: opts.cwd, stdio, detached: ownGroup })
          : spawn(command, [...args], { env: opts.env ?? childEnv(), cwd: opts.cwd, stdio, detached: ownGroup });
      } catch (e) {
        Child.arm(reaper, undefined, ownGroup, excl, opts.watchdog);
        reject(new UsageError(`cannot run ${command}: ${(e as Error).message}`));
        return;
      }
      // Synchronously after the spawn: no event-loop turn in which zkctl could die unnoticed.
      Child.arm(reaper, p.pid, ownGroup, excl, opts.watchdog);
      p.once('error', (e: NodeJS.ErrnoException) => {
        const why = e.code === 'ENOENT' ? 'command not found' : e.code === 'EACCES' ? 'permission denied' : e.message;
        reject(new UsageError(`cannot run ${command}: ${why}`));
      });
      p.once('spawn', () => resolve(p));
    });
    const child = new Child(proc, command, !!opts.ownGroup, reaper, opts.watchdog);
    if (reaper) {
      const why = await reaper.whenArmed(REAPER_ANSWER_MS);
      const gate = proc.stdio[3] as NodeJS.WritableStream & { destroy?: () => void; on: (e: string, f: () => void) => void };
      gate.on('error', () => undefined);
      if (why) {
        // Not guarded: CMD never ran (still held at its start); end it and the reaper.
        gate.destroy?.();
        try {
          proc.kill('SIGKILL');
        } catch {
          /* gone */
        }
        await child.finish(true, 2000);
        throw new ReaperError(`cannot start ${command}: the reaper that stops it should zkctl stop ${why}; not running the command`);
      }
      gate.end('go\n');
    }
    return child;
  }

  get running(): boolean {
    return this.exit === undefined;
  }

  /**
   * Send a signal to the child: to the child itself (its group with ownGroup)
   * at once, and, with `job` (default), through the reaper to every process of
   * the job. False when it has exited.
   */
  signal(sig: NodeJS.Signals, job = true): boolean {
    if (!this.running) return false;
    if (sig === 'SIGKILL') this.escalated = true;
    if (job) this.tell(sig === 'SIGKILL' ? 'kill' : `sig ${sig.replace(/^SIG/, '')}`);
    if (job && this.reaperGone && !this.ownGroup) this.signalDescendants(sig);
    if (this.ownGroup) {
      try {
        process.kill(-this.pid, sig);
        return true;
      } catch {
        /* group gone: fall back to the pid */
      }
    }
    try {
      return this.proc.kill(sig);
    } catch {
      return false;
    }
  }

  /**
   * Without a reaper, and with the child in zkctl's own group (on a terminal): signal what the
   * child started, found in /proc (every process seen to descend from it, also the ones orphaned
   * since), so that a stop still reaches the whole job.
   */
  private signalDescendants(sig: NodeJS.Signals): void {
    for (const p of descendantsOf(this.pid)) this.jobSeen.add(p);
    for (const p of this.jobSeen) {
      const st = procStat(p);
      if (!st || st.state === 'Z' || st.state === 'X') continue;
      try {
        process.kill(p, sig);
        if (sig === 'SIGTERM') process.kill(p, 'SIGCONT');
      } catch {
        /* gone */
      }
    }
  }

  /**
   * Forward a signal zkctl received. On a terminal (the child in our group)
   * SIGINT came from the terminal to the whole foreground group already: only
   * the child itself gets it again (as before); anything else goes to the job.
   */
  forward(sig: NodeJS.Signals): void {
    this.signal(sig, this.ownGroup || sig !== 'SIGINT');
  }

  /**
   * The end: stop the heartbeat, SIGKILL whatever is left of the job with
   * `killRest` (after a stop), say goodbye to the reaper and wait (at most
   * `waitMs`) until it is done, so that nothing of a stopped job is left when
   * this resolves.
   */
  finish(killRest: boolean, waitMs = 5000): Promise<void> {
    this.finished ??= (async () => {
      if (this.heartbeat) clearInterval(this.heartbeat);
      this.heartbeat = undefined;
      const r = this.reaper;
      if (killRest && (!r?.stdin || r.stdin.destroyed || r.stdin.writableEnded || this.reaperGone)) {
        if (this.ownGroup) {
          try {
            process.kill(-this.pid, 'SIGKILL');
          } catch {
            /* nothing left */
          }
        } else this.signalDescendants('SIGKILL');
      }
      if (!r) return;
      if (r.stdin && !r.stdin.destroyed && !r.stdin.writableEnded) r.stdin.end(`${killRest ? 'kill\n' : ''}ok\n`);
      let t: NodeJS.Timeout | undefined;
      await Promise.race([this.reaperClosed, new Promise<void>((res) => (t = setTimeout(res, waitMs)))]);
      if (t) clearTimeout(t);
    })();
    return this.finished;
  }

  /**
   * Stop the child: SIGTERM now, SIGKILL after `graceMs` if it is still
   * running. Resolves with its exit. Calling it again does not restart the grace.
   */
  stop(graceMs: number): Promise<ChildExit> {
    if (this.running && !this.killTimer) {
      this.signal('SIGTERM');
      this.killTimer = setTimer(() => this.signal('SIGKILL'), graceMs);
    }
    return this.exited;
  }

  /** SIGKILL now. */
  kill(): Promise<ChildExit> {
    this.signal('SIGKILL');
    return this.exited;
  }
}

export const TERMINATING_SIGNALS: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

/**
 * Catch terminating signals for as long as it is installed, so that the
 * process can clean up (release a lock, stop a child) instead of dying.
 * `signal` aborts on the first one; listeners get every one.
 */
export class SignalTrap {
  private readonly ac = new AbortController();
  private readonly listeners = new Set<(sig: NodeJS.Signals) => void>();
  private readonly handlers = new Map<NodeJS.Signals, () => void>();
  /** The first signal received. */
  received?: NodeJS.Signals;

  /**
   * `once`: after the first signal, stop catching (a second Ctrl-C then ends the process as
   * usual, what streams want); otherwise every signal is caught until dispose (holders, which
   * must release first).
   */
  constructor(
    readonly signals: readonly NodeJS.Signals[] = TERMINATING_SIGNALS,
    opts: { once?: boolean } = {},
  ) {
    for (const s of signals) {
      const h = (): void => {
        this.received ??= s;
        const ls = [...this.listeners];
        if (opts.once) this.dispose();
        for (const l of ls) l(s);
        this.ac.abort(s);
      };
      this.handlers.set(s, h);
      process.on(s, h);
    }
  }

  get signal(): AbortSignal {
    return this.ac.signal;
  }

  /** Call `fn` on every trapped signal; returns an unsubscribe. */
  onSignal(fn: (sig: NodeJS.Signals) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  dispose(): void {
    for (const [s, h] of this.handlers) process.removeListener(s, h);
    this.handlers.clear();
    this.listeners.clear();
  }
}
