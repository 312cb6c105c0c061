/**
 * What `lock` and `elect` share: their flags, the `-- CMD ARGS...` split, and
 * "hold, run CMD fenced (or wait for a signal), map the outcome to an exit code".
 */
import { Flags } from '@oclif/core';
import { parseDuration } from '../core/duration.js';
import { InterruptedError, LostError, UsageError } from '../core/errors.js';
import { childEnv, type SignalTrap } from '../core/proc.js';
import type { FencingSchedule } from '../core/recipes/contenders.js';
import { type Fenceable, runFenced } from '../core/recipes/fenced.js';

export const FENCING_HELP = `Fencing: while CMD runs, zkctl counts the time since it last heard from ZooKeeper (it polls its node every T/6, T = the session timeout the server granted). After T/2 without contact (earlier if --grace needs the room, never before T/3) it sends CMD SIGTERM, and SIGKILL --grace later, so that CMD is dead by 0.8·T: before the server can expire the session and let the next contender in. Then it exits 11, saying which signal ended CMD. If the session is reported lost, CMD gets SIGKILL at once (exit 11). With the defaults (T = 30s, --grace 5s): SIGTERM at 15s, SIGKILL at 20s. A shorter --session-timeout fences sooner but risks stopping CMD on a slow network. If only the member zkctl talks to goes silent, zkctl moves to another one after T/4 of silence; when it answers, contact resumes and CMD keeps running.

The job: every stop (fencing, revocation, SIGINT/SIGTERM/SIGHUP to zkctl, zkctl killed) reaches CMD and every process it started, on a terminal or not, and SIGKILLs whatever is left after --grace; the hold is released only once they are all gone. Without a terminal CMD runs in its own session; on a terminal it stays in the terminal's foreground group, so Ctrl-C, Ctrl-Z and reading from the terminal work as usual, and zkctl finds the rest of the job in /proc (the process group, and every descendant, whatever group it moved to). Out of reach: a process that calls setsid (or leaves the group) AND double-forks so that its parent exits, as daemons do; nothing then ties it to CMD. Keep such a program in the foreground (most daemons have a flag for it, e.g. --foreground / -f / --nodaemon), or run CMD under a supervisor that kills its own children.

zkctl dying or stalling: a small reaper process (not paused with zkctl) kills the job at once if zkctl dies without cleaning up (SIGKILL, OOM killer), and, when zkctl stops running (SIGSTOP, Ctrl-Z, a frozen event loop) and misses its heartbeat for T/6, stops the job itself (SIGTERM, SIGKILL min(--grace, T/3) later), long before the server can expire the session; zkctl then exits 11 if it runs again. CMD is held at its start until the reaper confirms its orders (if it does not, exit 1 and CMD never runs); if the reaper is killed while CMD runs, zkctl stops the job (exit 11). Limit: a freeze of the whole machine (VM paused, suspend) stops the reaper too; ZooKeeper may expire the session and let another contender in before CMD can be stopped. Where that matters, have the resource check ZKCTL_FENCING_TOKEN (it only grows from one holder to the next) and refuse a lower one.

CMD's environment: zkctl's own minus every ZKCTL_* credential (ZKCTL_AUTH and any ZKCTL_* naming AUTH, PASS, SECRET, TOKEN, CRED, KEY, SASL or JAAS), the same for every command zkctl starts.`;

export const holdFlags = {
  'session-timeout': Flags.string({
    summary: 'Session timeout to ask for; the fencing margin is derived from the one granted.',
    description: 'The server clamps it to [2, 20] × its tickTime (4s to 40s by default).',
    default: '30s',
  }),
  grace: Flags.string({ summary: 'After SIGTERM, how long CMD gets before SIGKILL when the hold is at risk.', default: '5s' }),
};

export interface HoldSettings {
  sessionTimeoutMs: number;
  graceMs: number;
  waitMs?: number;
}

export function parseHoldFlags(flags: { 'session-timeout'?: string; grace?: string; timeout?: string }): HoldSettings {
  const sessionTimeoutMs = parseDuration(flags['session-timeout'] ?? '30s', 'session timeout');
  if (sessionTimeoutMs <= 0) throw new UsageError('--session-timeout must be positive');
  const graceMs = parseDuration(flags.grace ?? '5s', 'grace', { zero: true });
  const s: HoldSettings = { sessionTimeoutMs, graceMs };
  if (flags.timeout !== undefined) s.waitMs = parseDuration(flags.timeout, '--timeout');
  return s;
}

/** The command after `--` in the raw argv (undefined when there is none). */
export function commandAfterDashDash(argv: readonly string[]): { command: string; args: string[] } | undefined {
  const i = argv.indexOf('--');
  if (i < 0) return undefined;
  const rest = argv.slice(i + 1);
  if (rest.length === 0) throw new UsageError('nothing after --', 'give the command to run, e.g. -- ./backup.sh --full');
  return { command: rest[0]!, args: rest.slice(1) };
}

export interface HeldOptions {
  hold: Fenceable;
  schedule: FencingSchedule;
  /** "lock /x" / "leadership of /x", for messages. */
  what: string;
  trap: SignalTrap;
  command?: { command: string; args: string[] };
  env?: Record<string, string>;
  /** Notes for people (stderr, TTY only). */
  progress?: (msg: string) => void;
  /** Fires when the hold was revoked (lock --revocable): CMD is stopped as when fencing, then exit 11. */
  revocation?: AbortSignal;
}

export interface HeldResult {
  outcome: 'exited' | 'interrupted' | 'held';
  /** The child's exit status (with a command). */
  status?: number;
  pid?: number;
}

/** After SIGKILL: say whether CMD itself outlived SIGTERM, or only what it started. */
function stoppedDetail(exit: { code: number | null; signal: NodeJS.Signals | null }): string {
  if (exit.signal === 'SIGKILL') return '';
  return ` (for what it started; it ${exit.signal ? `ended by ${exit.signal}` : `exited with ${exit.code}`})`;
}

/**
 * With a command: run it fenced and return its status (or throw LostError when
 * it had to be stopped). Without: wait for a signal (InterruptedError) or for
 * the hold to become unsafe or lost (LostError).
 */
export async function runHeld(o: HeldOptions): Promise<HeldResult> {
  if (o.command) {
    const r = await runFenced(o.hold, o.command.command, o.command.args, {
      env: childEnv(o.env),
      ownGroup: !process.stdin.isTTY,
      schedule: o.schedule,
      trap: o.trap,
      revocation: o.revocation,
      onFence: (reason, how) => process.stderr.write(`zkctl: ${reason}; stopping ${o.command!.command} (${how})\n`),
    });
    if (r.kind === 'fenced') {
      throw new LostError(`${o.what} ${r.revoked ? 'revoked' : r.unguarded ? 'still held, but the command was stopped' : 'lost'}: ${r.reason}; ${o.command.command} (pid ${r.pid}) was stopped with ${r.how}${r.how === 'SIGKILL' && r.reason ? stoppedDetail(r.exit) : ''}`);
    }
    if (r.kind === 'interrupted') {
      if (r.exit.code === null) throw new InterruptedError(`interrupted (${r.signal}); ${o.command.command} ended by ${r.exit.signal}`);
      return { outcome: 'interrupted', status: r.status, pid: r.pid };
    }
    return { outcome: 'exited', status: r.status, pid: r.pid };
  }
  const why = await new Promise<{ signal: NodeJS.Signals } | { lost: string } | { revoked: string }>((resolve) => {
    // Keep the event loop alive while holding, whatever the connection does.
    const keep = setInterval(() => undefined, 1 << 30);
    const done = (r: { signal: NodeJS.Signals } | { lost: string } | { revoked: string }): void => {
      clearInterval(keep);
      untrap();
      o.revocation?.removeEventListener('abort', onRevoke);
      o.hold.off('unsafe', onLost);
      o.hold.off('lost', onLost);
      resolve(r);
    };
    const onLost = (i: { reason: string }): void => done({ lost: i.reason });
    const onRevoke = (): void => {
      const r: unknown = o.revocation?.reason;
      done({ revoked: r instanceof Error ? r.message : 'revocation requested' });
    };
    o.revocation?.addEventListener('abort', onRevoke, { once: true });
    const untrap = o.trap.onSignal((signal) => done({ signal }));
    o.hold.on('unsafe', onLost);
    o.hold.on('lost', onLost);
    if (o.trap.received) done({ signal: o.trap.received });
    else if (o.revocation?.aborted) onRevoke();
  });
  if ('revoked' in why) throw new LostError(`${o.what} revoked: ${why.revoked}; released`);
  if ('lost' in why) throw new LostError(`${o.what} lost: ${why.lost}`);
  throw new InterruptedError(`interrupted (${why.signal}); released ${o.what}`);
}
