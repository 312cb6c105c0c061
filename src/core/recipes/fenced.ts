/**
 * Run a command while holding a lock or leadership, and stop it when the hold
 * can no longer be trusted (fencing by process control).
 *
 * - 'unsafe' from the hold (no server contact for the schedule's stopAfterMs):
 *   SIGTERM to the command, SIGKILL `graceMs` later. With the default schedule
 *   the command is dead by 0.8 × the session timeout after the last contact,
 *   before the server can expire the session and let another contender in.
 * - 'lost' (session expired, node deleted): SIGKILL at once; there is no time left.
 * - `revocation` fires (someone asked the holder to release, see revoke.ts):
 *   SIGTERM, SIGKILL `graceMs` later, as for 'unsafe'; the outcome says `revoked`.
 * - Signals trapped by `trap` (SIGINT/SIGTERM/SIGHUP to zkctl) are forwarded.
 * - Every stop reaches the whole job (CMD and what it started, on a terminal
 *   too; see proc.ts); after a stopped command exits, whatever is left of
 *   the job is killed, before this returns (and so before the hold is released).
 * - If zkctl dies without cleaning up (SIGKILL), a reaper kills the job (see
 *   Child's killOnParentDeath), so it cannot outlive the session that protects it.
 * - The reaper must say it is ready before the command starts and confirm its
 *   orders after (else the command is not started, or is stopped): a job with
 *   nothing to stop it when zkctl stops is never left running. A reaper that
 *   ends while the command runs (killed) stops the command too.
 * - If zkctl stops running (SIGSTOP, a frozen event loop), the reaper misses
 *   zkctl's heartbeat and stops the job itself (watchdogOf: SIGTERM T/6 after
 *   the last heartbeat, SIGKILL at most T/3 later), long before the server can
 *   expire the session (at the earliest about 5T/6 after zkctl froze: the
 *   holder reaches the server at least every T/6).
 */
import { Child, type ChildExit, exitStatusOf, type SignalTrap } from '../proc.js';
import type { FencingSchedule } from './contenders.js';

/**
 * The reaper's watchdog for a schedule: no heartbeat from zkctl for T/6 ->
 * SIGTERM to the job, SIGKILL min(grace, T/3) later: all dead by T/2 after
 * zkctl froze, while the server expires the session no earlier than about
 * 5T/6 after it (zkctl polls its node every T/6).
 */
export function watchdogOf(schedule: FencingSchedule): { marginMs: number; graceMs: number } {
  const T = schedule.sessionTimeoutMs;
  return { marginMs: Math.floor(T / 6), graceMs: Math.max(0, Math.min(schedule.graceMs, Math.floor(T / 3))) };
}

/** What runFenced needs from a hold (Lock and Election both fit). */
export interface Fenceable {
  on(event: 'unsafe', listener: (info: { reason: string }) => void): unknown;
  on(event: 'lost', listener: (info: { reason: string }) => void): unknown;
  off(event: 'unsafe', listener: (info: { reason: string }) => void): unknown;
  off(event: 'lost', listener: (info: { reason: string }) => void): unknown;
}

export interface FencedRunOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  ownGroup?: boolean;
  /** SIGKILL the command if this process dies without cleaning up (default true; see Child). */
  killOnParentDeath?: boolean;
  schedule: FencingSchedule;
  /** Signals to forward to the command. */
  trap?: SignalTrap;
  /** Heartbeat watchdog in the reaper (default: watchdogOf(schedule); null: none). */
  watchdog?: { marginMs: number; graceMs: number } | null;
  /** Called when the command is being stopped (for a note on stderr). */
  onFence?: (reason: string, how: 'SIGTERM' | 'SIGKILL') => void;
  /** Stop the command (SIGTERM, then SIGKILL after the grace) when this fires: the hold was revoked. Its reason (an Error) names why. */
  revocation?: AbortSignal;
}

export type FencedOutcome =
  /** The command ran to its end: `status` is its exit status (128+n for signal n). */
  | { kind: 'exited'; exit: ChildExit; status: number; pid: number }
  /**
   * zkctl (or its reaper, `byReaper`) stopped it because the hold became unsafe, was lost or revoked;
   * `how`: the signal that ended it (SIGKILL when the grace ran out for any of the job).
   */
  | { kind: 'fenced'; reason: string; how: 'SIGTERM' | 'SIGKILL'; revoked: boolean; byReaper: boolean; unguarded: boolean; exit: ChildExit; status: number; pid: number }
  /** zkctl was interrupted and forwarded the signal. */
  | { kind: 'interrupted'; signal: NodeJS.Signals; exit: ChildExit; status: number; pid: number };

export async function runFenced(hold: Fenceable, command: string, args: readonly string[], opts: FencedRunOptions): Promise<FencedOutcome> {
  let fenced: { reason: string; how: 'SIGTERM' | 'SIGKILL' } | undefined;
  let revoked = false;
  let interrupted: NodeJS.Signals | undefined;
  let child: Child | undefined;
  let pending: { reason: string; how: 'SIGTERM' | 'SIGKILL' } | undefined;

  const fence = (reason: string, how: 'SIGTERM' | 'SIGKILL'): void => {
    if (!child) {
      pending = { reason, how };
      return;
    }
    if (!child.running) return;
    if (fenced) {
      // Already being stopped: only escalate SIGTERM -> SIGKILL.
      if (fenced.how === 'SIGKILL' || how === 'SIGTERM') return;
      fenced.how = 'SIGKILL';
      opts.onFence?.(reason, how);
      void child.kill();
      return;
    }
    fenced = { reason, how };
    opts.onFence?.(reason, how);
    if (how === 'SIGKILL') void child.kill();
    else void child.stop(opts.schedule.graceMs);
  };
  const onUnsafe = (i: { reason: string }): void => fence(i.reason, 'SIGTERM');
  const onLost = (i: { reason: string }): void => fence(i.reason, 'SIGKILL');
  const onRevoke = (): void => {
    if (fenced) return;
    revoked = true;
    const r: unknown = opts.revocation?.reason;
    fence(r instanceof Error ? r.message : 'the hold was revoked', 'SIGTERM');
  };
  hold.on('unsafe', onUnsafe);
  hold.on('lost', onLost);
  if (opts.revocation?.aborted) onRevoke();
  else opts.revocation?.addEventListener('abort', onRevoke, { once: true });
  let untrap: (() => void) | undefined;
  let byReaper = false;
  let unguarded = false;
  const watchdog = opts.watchdog === null ? undefined : (opts.watchdog ?? watchdogOf(opts.schedule));
  const reaperReason = `zkctl did not run for over ${fmtMs(watchdog?.marginMs ?? 0)} (stopped or stalled), so it could not prove it still held on: its reaper stopped the command before the session could expire`;
  try {
    child = await Child.start(command, args, {
      env: opts.env,
      cwd: opts.cwd,
      ownGroup: opts.ownGroup,
      killOnParentDeath: opts.killOnParentDeath ?? true,
      watchdog,
    });
    if (pending) fence(pending.reason, pending.how);
    const c = child;
    void c.watchdogFired.then(() => {
      if (fenced) return;
      byReaper = true;
      fence(reaperReason, 'SIGTERM');
    });
    // Without a working reaper nothing would stop the command if zkctl stopped running: stop it now.
    void c.reaperFailed.then((why) => {
      if (fenced || !c.running) return;
      unguarded = true;
      fence(`${why}: zkctl could no longer promise to stop the command before the session could expire`, 'SIGTERM');
    });
    untrap = opts.trap?.onSignal((sig) => {
      interrupted ??= sig;
      c.forward(sig);
    });
    // A signal that came while the command was starting.
    if (opts.trap?.received && !interrupted) {
      interrupted = opts.trap.received;
      c.forward(interrupted);
    }
    const exit = await c.exited;
    // On a terminal, Ctrl-C reaches CMD and zkctl at the same moment: CMD's exit can be seen
    // before zkctl's own SIGINT handler has run. Let pending signal callbacks run first, and
    // count a CMD that a signal ended as a stopped job too, so its leftovers are never spared.
    await new Promise<void>((r) => setImmediate(r));
    if (!interrupted && opts.trap?.received) interrupted = opts.trap.received;
    const stopped = !!fenced || !!interrupted || !!c.watchdog || exit.signal !== null;
    // Whatever is left of a stopped job dies before the hold is released; the reaper also
    // reports whether its watchdog fired while zkctl was not running.
    await c.finish(stopped);
    if (c.watchdog && !byReaper) {
      // The reaper stopped the job while zkctl was not running; that is what happened, whatever zkctl noticed on waking up.
      byReaper = true;
      fenced = { reason: reaperReason, how: 'SIGTERM' };
    }
    const status = exitStatusOf(exit);
    if (fenced) {
      const how: 'SIGTERM' | 'SIGKILL' = exit.signal === 'SIGKILL' || c.escalated ? 'SIGKILL' : 'SIGTERM';
      return { kind: 'fenced', reason: fenced.reason, how, revoked, byReaper, unguarded, exit, status, pid: c.pid };
    }
    if (interrupted) return { kind: 'interrupted', signal: interrupted, exit, status, pid: c.pid };
    return { kind: 'exited', exit, status, pid: c.pid };
  } finally {
    untrap?.();
    hold.off('unsafe', onUnsafe);
    hold.off('lost', onLost);
    opts.revocation?.removeEventListener('abort', onRevoke);
  }
}

function fmtMs(ms: number): string {
  return ms >= 1000 ? `${+(ms / 1000).toFixed(1)}s` : `${ms}ms`;
}
