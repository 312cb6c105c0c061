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
 * - After a fenced command exits, whatever is left of its process group is
 *   killed too (with `ownGroup`).
 * - If zkctl dies without cleaning up (SIGKILL), a reaper kills the command
 *   (see Child's killOnParentDeath), so it cannot outlive the session that
 *   protects it.
 */
import { Child, type ChildExit, exitStatusOf, type SignalTrap } from '../proc.js';
import type { FencingSchedule } from './contenders.js';

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
  /** Called when the command is being stopped (for a note on stderr). */
  onFence?: (reason: string, how: 'SIGTERM' | 'SIGKILL') => void;
  /** Stop the command (SIGTERM, then SIGKILL after the grace) when this fires: the hold was revoked. Its reason (an Error) names why. */
  revocation?: AbortSignal;
}

export type FencedOutcome =
  /** The command ran to its end: `status` is its exit status (128+n for signal n). */
  | { kind: 'exited'; exit: ChildExit; status: number; pid: number }
  /** zkctl stopped it because the hold became unsafe or was lost. */
  | { kind: 'fenced'; reason: string; how: 'SIGTERM' | 'SIGKILL'; revoked: boolean; exit: ChildExit; status: number; pid: number }
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
  try {
    child = await Child.start(command, args, { env: opts.env, cwd: opts.cwd, ownGroup: opts.ownGroup, killOnParentDeath: opts.killOnParentDeath ?? true });
    if (pending) fence(pending.reason, pending.how);
    const c = child;
    untrap = opts.trap?.onSignal((sig) => {
      interrupted ??= sig;
      c.signal(sig);
    });
    // A signal that came while the command was starting.
    if (opts.trap?.received && !interrupted) {
      interrupted = opts.trap.received;
      c.signal(interrupted);
    }
    const exit = await c.exited;
    if (fenced) c.killGroup();
    const status = exitStatusOf(exit);
    if (fenced) return { kind: 'fenced', ...fenced, revoked, exit, status, pid: c.pid };
    if (interrupted) return { kind: 'interrupted', signal: interrupted, exit, status, pid: c.pid };
    return { kind: 'exited', exit, status, pid: c.pid };
  } finally {
    untrap?.();
    hold.off('unsafe', onUnsafe);
    hold.off('lost', onLost);
    opts.revocation?.removeEventListener('abort', onRevoke);
  }
}
