/**
 * After `up`: the status worth printing. Right after the quorum forms, followers report zxid 0x0
 * (and an old epoch) until they have synced with the leader; this waits, with a deadline, until
 * every serving follower/observer shows the leader's epoch and a non-zero zxid, and returns the
 * last status taken (settled or not: the deadline is never exceeded by more than one probe).
 * A follower that synced by DIFF with nothing to apply reports 0x0 until the next transaction: one
 * client session (its createSession and closeSession are transactions) is opened and closed to move
 * every member to the leader's zxid.
 */
import { sleepMs } from '../core/duration.js';
import { Session } from '../core/session.js';
import type { LocalEnsemble, LocalEnsembleStatus } from './local.js';

/** True when every serving non-leader member has synced with the leader. */
export function isSettled(st: LocalEnsembleStatus): boolean {
  const leader = st.members.find((m) => m.mode === 'leader');
  if (!leader) return false;
  return st.members
    .filter((m) => m.mode === 'follower' || m.mode === 'observer')
    .every((m) => m.zxidValue !== undefined && m.zxidValue !== 0n && (leader.epoch === undefined || m.epoch === leader.epoch));
}

export async function settledStatus(ens: LocalEnsemble, first: LocalEnsembleStatus, deadlineMs: number, opts: { intervalMs?: number; signal?: AbortSignal } = {}): Promise<{ status: LocalEnsembleStatus; settled: boolean }> {
  const end = performance.now() + deadlineMs;
  let st = first;
  let nudged = false;
  while (!isSettled(st)) {
    const left = end - performance.now();
    if (left <= 0 || opts.signal?.aborted) return { status: st, settled: false };
    if (!nudged && st.members.some((m) => m.mode === 'leader')) {
      nudged = true;
      try {
        const s = await Session.connect({ connectString: ens.connectString, timeoutMs: Math.max(500, Math.min(5000, left)), ...ens.sessionSasl() });
        await s.close();
      } catch {
        /* the next probes tell */
      }
    }
    await sleepMs(Math.min(opts.intervalMs ?? 150, left), opts.signal).catch(() => undefined);
    try {
      st = await ens.status({ timeoutMs: Math.max(200, Math.min(2000, end - performance.now())) });
    } catch {
      /* keep the last status */
    }
  }
  return { status: st, settled: true };
}
