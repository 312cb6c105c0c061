/**
 * Child processes for `lock -- CMD` and `elect -- CMD`: start a command, forward
 * signals to it, stop it (SIGTERM, then SIGKILL after a grace), and report its
 * exit the way a shell does.
 *
 * Process groups: with `ownGroup` the child becomes the leader of a new process
 * group (and session), and every signal goes to the whole group, so a shell
 * pipeline or script is stopped with everything it started. The CLI uses a new
 * group when its stdin is not a terminal (scripts, CI); on a terminal the child
 * stays in the foreground group so it can read the terminal, and only the
 * child itself is signalled.
 *
 * If zkctl itself dies without cleaning up (SIGKILL, OOM killer), the child
 * would outlive it and the lock: with `killOnParentDeath` a tiny shell reaper
 * (its own session, ignoring signals, started before the child and told its pid
 * right after the spawn) holds a pipe from zkctl and SIGKILLs the
 * child's group and the child when the pipe closes without a goodbye, or (with
 * bash and /proc) when it finds itself re-parented, i.e. zkctl is gone even
 * though the pipe somehow stayed open. Limits: the reaper itself can be killed,
 * and without ownGroup only the child process (not what it started) is killed.
 */
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { existsSync } from 'node:fs';
import { constants } from 'node:os';
import { UsageError } from './errors.js';
import { setTimer, type Timer } from './duration.js';

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
  /** Make the child a process-group leader and signal the whole group (default false). */
  ownGroup?: boolean;
  /** Default 'inherit'. */
  stdio?: StdioOptions;
  /**
   * Kill the child (its group with ownGroup) with SIGKILL if this process dies
   * without saying goodbye (SIGKILL, OOM killer, crash): a tiny shell reaper
   * holds a pipe from us and acts when it reads EOF instead of "ok" (or, with
   * bash, finds that we are gone).
   */
  killOnParentDeath?: boolean;
}

/**
 * The reaper, for POSIX sh. It is started BEFORE the child: the first line it reads names the
 * targets (the child's group and the child, written as soon as the child exists; nothing when
 * the child could not start). Then `read` blocks until we write "ok" (normal end) or die (EOF):
 * then SIGKILL the targets. Started first, it exists before the child runs, so there is no
 * moment at which zkctl can be killed with a running child and no reaper.
 */
const REAPER_SH = `trap '' INT TERM HUP; IFS= read -r targets || exit 0; [ -n "$targets" ] || exit 0; IFS= read -r line; [ "$line" = ok ] || kill -s KILL -- $targets 2>/dev/null; exit 0`;
/**
 * The same for bash, which can wait with a deadline: once a second it also checks (in /proc,
 * where there is one) that its parent is still zkctl. A process's children are re-parented
 * the moment it dies, zombie or not, so this catches zkctl's death even if the pipe's
 * write end were held open by some other process.
 */
const REAPER_BASH = `trap '' INT TERM HUP
parent=$PPID
IFS= read -r targets || exit 0
[ -n "$targets" ] || exit 0
while :; do
  IFS= read -r -t 1 line
  rc=$?
  [ "$line" = ok ] && exit 0
  [ $rc -gt 128 ] || break
  if [ -r /proc/$$/stat ]; then
    read -r _ _ _ pp _ < /proc/$$/stat || break
    [ "$pp" = "$parent" ] || break
  fi
done
kill -s KILL -- $targets 2>/dev/null
exit 0`;
const BASH = ['/bin/bash', '/usr/bin/bash'].find((p) => existsSync(p));

/** A running child command. */
export class Child {
  readonly pid: number;
  readonly command: string;
  /** Resolves once the child has exited (never rejects). */
  readonly exited: Promise<ChildExit>;
  private exit?: ChildExit;
  private killTimer?: Timer;

  private reaper?: ChildProcess;

  private constructor(
    private readonly proc: ChildProcess,
    command: string,
    private readonly ownGroup: boolean,
    reaper: ChildProcess | undefined,
  ) {
    this.pid = proc.pid!;
    this.command = command;
    this.reaper = reaper;
    this.exited = new Promise<ChildExit>((resolve) => {
      proc.once('exit', (code, signal) => {
        this.exit = { code, signal };
        this.killTimer?.clear();
        this.dismissReaper();
        resolve(this.exit);
      });
    });
  }

  /** Start a reaper (before the child; see REAPER_SH). Best effort: undefined when it cannot start. */
  private static startReaper(): ChildProcess | undefined {
    try {
      const [shell, script] = BASH ? [BASH, REAPER_BASH] : ['/bin/sh', REAPER_SH];
      const r = spawn(shell, ['-c', script, 'zkctl-reaper'], { stdio: ['pipe', 'ignore', 'ignore'], detached: true });
      r.on('error', () => undefined);
      r.stdin?.on('error', () => undefined);
      r.unref();
      (r.stdin as unknown as { unref?: () => void } | null)?.unref?.();
      return r;
    } catch {
      return undefined;
    }
  }

  /** Tell the reaper what to kill; called right after the child was spawned, in the same tick. */
  private static arm(reaper: ChildProcess | undefined, pid: number | undefined, ownGroup: boolean): void {
    if (!reaper?.stdin || reaper.stdin.destroyed) return;
    if (!pid || !(pid > 1)) {
      reaper.stdin.end('\n'); // no child: the reaper just exits
      return;
    }
    reaper.stdin.write(`${ownGroup ? `-${pid} ${pid}` : `${pid}`}\n`);
  }

  private dismissReaper(): void {
    const r = this.reaper;
    this.reaper = undefined;
    if (!r?.stdin || r.stdin.destroyed) return;
    r.stdin.end('ok\n');
  }

  /**
   * Start `command args...` (no shell). Rejects with a UsageError (exit 2) when
   * the command cannot be started (not found, not executable).
   */
  static start(command: string, args: readonly string[], opts: StartOptions = {}): Promise<Child> {
    return new Promise((resolve, reject) => {
      const ownGroup = !!opts.ownGroup;
      const reaper = opts.killOnParentDeath ? Child.startReaper() : undefined;
      let proc: ChildProcess;
      try {
        proc = spawn(command, [...args], {
          env: opts.env ?? process.env,
          cwd: opts.cwd,
          stdio: opts.stdio ?? 'inherit',
          detached: ownGroup,
        });
      } catch (e) {
        Child.arm(reaper, undefined, ownGroup);
        reject(new UsageError(`cannot run ${command}: ${(e as Error).message}`));
        return;
      }
      // Synchronously after the spawn: no event-loop turn in which zkctl could die unnoticed.
      Child.arm(reaper, proc.pid, ownGroup);
      proc.once('error', (e: NodeJS.ErrnoException) => {
        const why = e.code === 'ENOENT' ? 'command not found' : e.code === 'EACCES' ? 'permission denied' : e.message;
        reject(new UsageError(`cannot run ${command}: ${why}`));
      });
      proc.once('spawn', () => resolve(new Child(proc, command, ownGroup, reaper)));
    });
  }

  get running(): boolean {
    return this.exit === undefined;
  }

  /** Send a signal to the child (its whole group with ownGroup). False when it has exited. */
  signal(sig: NodeJS.Signals): boolean {
    if (!this.running) return false;
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

  /** SIGKILL whatever is left of the child's process group (after it exited; ownGroup only). */
  killGroup(): void {
    if (!this.ownGroup) return;
    try {
      process.kill(-this.pid, 'SIGKILL');
    } catch {
      /* nothing left */
    }
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

  constructor(readonly signals: readonly NodeJS.Signals[] = TERMINATING_SIGNALS) {
    for (const s of signals) {
      const h = (): void => {
        this.received ??= s;
        for (const l of [...this.listeners]) l(s);
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
