/**
 * Failover drill on a local ensemble: writers keep committing sequenced writes
 * through their own sessions while the leader is SIGKILLed, round after round.
 *
 * Per round it measures
 * - election: from the kill until a surviving member reports itself leader
 *   (four-letter word `srvr`, polled every 25 ms);
 * - the write gap each writer saw: the longest time between two consecutive
 *   acknowledgements of that writer around the kill (the last ack before the
 *   outage to the first ack after it); the round's gap is the worst writer's;
 * - rejoin: the killed member is started again, and timed until it serves and
 *   until its zxid reaches the leader's (the leader sampled first).
 *
 * Writes: writer k creates <base>/w<k>/<10-digit seq> (data = seq), one at a
 * time, at --rate per second. A write whose outcome is unknown (connection
 * lost, deadline) is retried with the same path: NODE_EXISTS on a retry means
 * the earlier attempt was committed, and counts as its acknowledgement.
 *
 * Verification, after the last round: every acknowledged write must be there
 * (nothing lost), each writer's nodes must have increasing czxids in sequence
 * order, and any write acknowledged before another was sent must have a
 * smaller czxid (nothing reordered: linearizable writes). Core never prints:
 * progress goes through `onProgress`.
 */
import { randomBytes } from 'node:crypto';
import { InterruptedError, isZkCode, SessionExpiredError, UsageError, ZkCode, ZkctlError } from '../core/errors.js';
import { isConnectionProblem, Session } from '../core/session.js';
import { ensurePath } from '../core/nodes.js';
import { deleteTree } from '../core/tree.js';
import { LOCAL_HOST } from './config.js';
import type { LocalEnsemble } from './local.js';
import { sleep } from './proc.js';
import { memberStatus, type MemberStatus } from './status.js';

export interface DrillOptions {
  rounds?: number;
  writers?: number;
  /** Writes per second per writer (default 100; 0: as fast as acknowledgements come). */
  rate?: number;
  /** Where the writers write (default /zkctl/drill); each run gets its own child. */
  basePath?: string;
  /** Leave the written nodes in place (default: deleted after verification). */
  keep?: boolean;
  /** Steady writing before each kill (default 1500 ms). */
  settleMs?: number;
  /** Writers' session timeout asked of the server (default 10 000 ms). */
  sessionTimeoutMs?: number;
  /** Writers' request deadline; also bounds their handshakes (default 2000 ms). */
  requestTimeoutMs?: number;
  /** Most time for a new leader / for the writers to write again / for the member to rejoin (default 60 s each). */
  phaseTimeoutMs?: number;
  onProgress?: (p: DrillProgress) => void;
  signal?: AbortSignal;
}

export type DrillProgress =
  | { kind: 'writers-ready'; writers: number; path: string }
  | { kind: 'kill'; round: number; member: number; epoch?: number }
  | { kind: 'elected'; round: number; member: number; ms: number }
  | { kind: 'writes-resumed'; round: number; gapMs: number }
  | { kind: 'rejoined'; round: number; member: number; restartMs: number; catchUpMs: number | null }
  | { kind: 'verifying'; writes: number };

export interface DrillRound {
  round: number;
  /** The killed leader (member id) and its epoch. */
  killed: number;
  oldEpoch?: number;
  killedAt: string;
  newLeader: number;
  newEpoch?: number;
  /** Kill -> a survivor says it leads. */
  electionMs: number;
  /** The worst writer's gap between acknowledgements around the kill. */
  gapMs: number;
  /** Each writer's gap. */
  gapsMs: number[];
  /** Attempts that failed (connection lost, deadline) and were retried, all writers. */
  retries: number;
  /** Start of the killed member -> it serves again. */
  restartMs: number;
  /** It serves -> its zxid reached the leader's (null: not within the deadline). */
  catchUpMs: number | null;
}

export interface DrillVerification {
  /** Acknowledged writes, all writers. */
  acknowledged: number;
  /** Acknowledged but missing on the ensemble. */
  lost: number;
  lostPaths: string[];
  /** Pairs out of order: within a writer (czxid not increasing with seq) or in real time across writers. */
  reordered: number;
  reorderedExamples: string[];
  /** Acknowledged with one czxid, found with another (a different write under the same name). */
  mismatched: number;
  /** Written with an unknown outcome at the end (not acknowledged), and found present. */
  unacknowledgedPresent: number;
}

export interface DrillSummary {
  rounds: number;
  writers: number;
  gapP50Ms: number;
  gapMaxMs: number;
  electionP50Ms: number;
  electionMaxMs: number;
  restartMaxMs: number;
  catchUpMaxMs: number | null;
  /** The goal: median write gap at most 1 s. */
  gapGoalMs: number;
  gapGoalMet: boolean;
  /** Nothing acknowledged was lost or reordered. */
  ok: boolean;
}

export interface DrillReport {
  ensemble: string;
  connectString: string;
  size: number;
  tickTime: number;
  /** Session timeout the writers' sessions got from the server. */
  sessionTimeoutMs: number;
  requestTimeoutMs: number;
  ratePerWriter: number;
  path: string;
  startedAt: string;
  elapsedMs: number;
  rounds: DrillRound[];
  verification: DrillVerification;
  summary: DrillSummary;
}

interface Ack {
  seq: number;
  sentAt: number;
  ackAt: number;
  /** From the create reply; undefined when acknowledged by NODE_EXISTS on a retry. */
  czxid?: bigint;
}

const pad = (n: number): string => String(n).padStart(10, '0');

function percentile(xs: number[], p: number): number {
  if (xs.length === 0) return 0;
  const s = [...xs].sort((a, b) => a - b);
  const i = Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1));
  return s[i]!;
}

/** One writer: a session of its own and a loop of sequenced creates. */
class Writer {
  readonly acks: Ack[] = [];
  retries = 0;
  private seq = 0;
  private stopping = false;
  private loop?: Promise<void>;
  /** A write whose outcome stayed unknown when the writer was stopped. */
  pending?: number;
  lastError?: string;
  /** An error that is not a connection problem ended the writer. */
  failure?: Error;

  constructor(
    readonly index: number,
    readonly dir: string,
    private readonly session: Session,
    private readonly periodMs: number,
  ) {}

  start(): void {
    this.loop = this.run().catch((e: unknown) => {
      this.failure = e instanceof Error ? e : new Error(String(e));
    });
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await this.loop;
  }

  private async run(): Promise<void> {
    let next = Date.now();
    while (!this.stopping) {
      const seq = ++this.seq;
      const path = `${this.dir}/${pad(seq)}`;
      const sentAt = Date.now();
      let acked = false;
      for (let attempt = 0; !acked; attempt++) {
        try {
          const r = await this.session.create(path, Buffer.from(String(seq)));
          this.acks.push({ seq, sentAt, ackAt: Date.now(), czxid: r.stat.czxid });
          acked = true;
        } catch (e) {
          if (isZkCode(e, ZkCode.NODE_EXISTS) && attempt > 0) {
            this.acks.push({ seq, sentAt, ackAt: Date.now() });
            acked = true;
          } else if (isConnectionProblem(e) || e instanceof SessionExpiredError || isZkCode(e, ZkCode.CONNECTION_LOSS) || isZkCode(e, ZkCode.SESSION_EXPIRED) || isZkCode(e, ZkCode.SESSION_MOVED)) {
            this.retries++;
            this.lastError = (e as Error).message;
            if (this.stopping && attempt >= 3) {
              this.pending = seq;
              return;
            }
            // The request is queued until the session reconnects; a short pause avoids spinning while it is refused outright.
            await sleep(10);
          } else {
            throw e;
          }
        }
      }
      if (this.periodMs > 0) {
        next += this.periodMs;
        const wait = next - Date.now();
        if (wait > 0) await sleep(wait);
        else next = Date.now();
      }
    }
  }

  /** Has it an ack after `t`? */
  ackedAfter(t: number): boolean {
    if (this.failure) throw new ZkctlError(`drill: writer ${this.index} failed: ${this.failure.message}`);
    const last = this.acks[this.acks.length - 1];
    return last !== undefined && last.ackAt > t;
  }

  /** The longest time between two consecutive acks whose interval contains `t` or starts before `until` and ends after `t`. */
  gapAround(t: number, until: number): number {
    let gap = 0;
    for (let i = 1; i < this.acks.length; i++) {
      const a = this.acks[i - 1]!.ackAt;
      const b = this.acks[i]!.ackAt;
      if (b > t && a <= until) gap = Math.max(gap, b - a);
    }
    return gap;
  }
}

/** A member's mode and zxid (srvr only). */
function srvrOf(port: number, timeoutMs: number): Promise<MemberStatus> {
  return memberStatus({ host: LOCAL_HOST, port }, { timeoutMs, mntr: false, conf: false });
}

function checkAbort(signal?: AbortSignal): void {
  if (signal?.aborted) throw new InterruptedError('drill interrupted');
}

async function until<T>(what: string, timeoutMs: number, intervalMs: number, fn: () => Promise<T | undefined>, signal?: AbortSignal): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    checkAbort(signal);
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new ZkctlError(`drill: ${what} did not happen within ${timeoutMs} ms`);
    await sleep(intervalMs);
  }
}

/** Run the drill (see the module comment). The ensemble must be up with a quorum. */
export async function runFailoverDrill(ens: LocalEnsemble, opts: DrillOptions = {}): Promise<DrillReport> {
  const t0 = Date.now();
  const rounds = opts.rounds ?? 5;
  const nWriters = opts.writers ?? 2;
  const rate = opts.rate ?? 100;
  const settleMs = opts.settleMs ?? 1500;
  const phaseMs = opts.phaseTimeoutMs ?? 60_000;
  const requestTimeoutMs = opts.requestTimeoutMs ?? 2000;
  const sessionTimeoutMs = opts.sessionTimeoutMs ?? 10_000;
  const signal = opts.signal;
  if (ens.size < 3) throw new UsageError(`a failover drill needs at least 3 members (ensemble '${ens.name}' has ${ens.size})`);
  const base = opts.basePath ?? '/zkctl/drill';
  const runPath = `${base === '/' ? '' : base}/${new Date().toISOString().replace(/[-:.]/g, '').slice(0, 15)}-${randomBytes(3).toString('hex')}`;
  const port = (id: number): number => ens.ports(id).clientPort;

  await ens.waitForQuorum(phaseMs);
  const connectString = ens.connectString;
  const admin = await Session.connect({ connectString, timeoutMs: 10_000, renew: true, ...ens.sessionSasl() });
  const sessions: Session[] = [];
  const writers: Writer[] = [];
  const report: DrillRound[] = [];
  try {
    await ensurePath(admin, runPath);
    for (let k = 1; k <= nWriters; k++) {
      const dir = `${runPath}/w${k}`;
      await admin.create(dir);
      const s = await Session.connect({ connectString, timeoutMs: requestTimeoutMs, sessionTimeoutMs, renew: true, ...ens.sessionSasl() });
      sessions.push(s);
      writers.push(new Writer(k, dir, s, rate > 0 ? 1000 / rate : 0));
    }
    for (const w of writers) w.start();
    opts.onProgress?.({ kind: 'writers-ready', writers: nWriters, path: runPath });

    for (let round = 1; round <= rounds; round++) {
      // Steady state: every writer acknowledged something recently.
      const settleFrom = Date.now();
      await sleep(settleMs);
      await until('steady writes before the kill', phaseMs, 20, async () => (writers.every((w) => w.ackedAfter(settleFrom)) ? true : undefined), signal);
      checkAbort(signal);
      const st = await until('a leader before the kill', phaseMs, 100, async () => (await ens.status({ timeoutMs: 1000 })).leader, signal);
      const leaderId = st.id;
      const retriesBefore = writers.reduce((a, w) => a + w.retries, 0);
      opts.onProgress?.({ kind: 'kill', round, member: leaderId, ...(st.epoch !== undefined ? { epoch: st.epoch } : {}) });
      const killedAt = Date.now();
      const killing = ens.kill(leaderId);
      const others = ens.ids.filter((id) => id !== leaderId);
      const elected = await until(
        'a new leader',
        phaseMs,
        25,
        async () => {
          const ss = await Promise.all(others.map(async (id) => ({ id, s: await srvrOf(port(id), 500) })));
          const l = ss.find((x) => x.s.mode === 'leader');
          return l ? { id: l.id, epoch: l.s.epoch, at: Date.now() } : undefined;
        },
        signal,
      );
      await killing;
      opts.onProgress?.({ kind: 'elected', round, member: elected.id, ms: elected.at - killedAt });
      await until('writes after the kill', phaseMs, 10, async () => (writers.every((w) => w.ackedAfter(elected.at)) ? true : undefined), signal);
      const resumedAt = Date.now();
      const gapsMs = writers.map((w) => w.gapAround(killedAt, resumedAt));
      const gapMs = Math.max(...gapsMs);
      opts.onProgress?.({ kind: 'writes-resumed', round, gapMs });

      // Bring the killed member back and wait until it has caught up.
      const restartFrom = Date.now();
      await ens.start(leaderId, { wait: true, timeoutMs: phaseMs });
      const servingAt = Date.now();
      let catchUpMs: number | null = null;
      const catchEnd = Date.now() + Math.min(phaseMs, 30_000);
      while (Date.now() < catchEnd) {
        checkAbort(signal);
        const l = await srvrOf(port(elected.id), 1000);
        const m = await srvrOf(port(leaderId), 1000);
        if (l.zxidValue !== undefined && m.zxidValue !== undefined && m.zxidValue >= l.zxidValue) {
          catchUpMs = Date.now() - servingAt;
          break;
        }
        await sleep(25);
      }
      opts.onProgress?.({ kind: 'rejoined', round, member: leaderId, restartMs: servingAt - restartFrom, catchUpMs });
      const r: DrillRound = {
        round,
        killed: leaderId,
        killedAt: new Date(killedAt).toISOString(),
        newLeader: elected.id,
        newEpoch: elected.epoch,
        electionMs: elected.at - killedAt,
        gapMs,
        gapsMs,
        retries: writers.reduce((a, w) => a + w.retries, 0) - retriesBefore,
        restartMs: servingAt - restartFrom,
        catchUpMs,
      };
      if (st.epoch !== undefined) r.oldEpoch = st.epoch;
      report.push(r);
    }

    await Promise.all(writers.map((w) => w.stop()));
    const total = writers.reduce((a, w) => a + w.acks.length, 0);
    opts.onProgress?.({ kind: 'verifying', writes: total });
    const verification = await verify(admin, writers);
    if (!opts.keep) await deleteTree(admin, runPath).catch(() => undefined);
    const gaps = report.map((r) => r.gapMs);
    const elections = report.map((r) => r.electionMs);
    const catchUps = report.map((r) => r.catchUpMs);
    const summary: DrillSummary = {
      rounds: report.length,
      writers: nWriters,
      gapP50Ms: percentile(gaps, 50),
      gapMaxMs: Math.max(0, ...gaps),
      electionP50Ms: percentile(elections, 50),
      electionMaxMs: Math.max(0, ...elections),
      restartMaxMs: Math.max(0, ...report.map((r) => r.restartMs)),
      catchUpMaxMs: catchUps.some((c) => c === null) ? null : Math.max(0, ...(catchUps as number[])),
      gapGoalMs: 1000,
      gapGoalMet: percentile(gaps, 50) <= 1000,
      ok: verification.lost === 0 && verification.reordered === 0 && verification.mismatched === 0,
    };
    return {
      ensemble: ens.name,
      connectString,
      size: ens.size,
      tickTime: ens.spec.tickTime,
      sessionTimeoutMs: sessions[0]?.negotiatedTimeoutMs ?? sessionTimeoutMs,
      requestTimeoutMs,
      ratePerWriter: rate,
      path: runPath,
      startedAt: new Date(t0).toISOString(),
      elapsedMs: Date.now() - t0,
      rounds: report,
      verification,
      summary,
    };
  } finally {
    await Promise.all(writers.map((w) => w.stop().catch(() => undefined)));
    await Promise.all(sessions.map((s) => s.close().catch(() => undefined)));
    await admin.close().catch(() => undefined);
  }
}

/** Read every writer's nodes back and check nothing acknowledged is lost or out of order. */
async function verify(session: Session, writers: Writer[]): Promise<DrillVerification> {
  const v: DrillVerification = { acknowledged: 0, lost: 0, lostPaths: [], reordered: 0, reorderedExamples: [], mismatched: 0, unacknowledgedPresent: 0 };
  const all: Array<Ack & { writer: number; found: bigint }> = [];
  for (const w of writers) {
    const { children } = await session.getChildren(w.dir);
    const present = new Set(children);
    const ackedSeqs = new Set(w.acks.map((a) => a.seq));
    v.unacknowledgedPresent += children.filter((c) => !ackedSeqs.has(Number(c))).length;
    v.acknowledged += w.acks.length;
    const found = new Map<number, bigint>();
    const todo = w.acks.filter((a) => present.has(pad(a.seq)));
    for (let i = 0; i < todo.length; i += 1000) {
      const batch = todo.slice(i, i + 1000);
      const stats = await Promise.all(batch.map((a) => session.exists(`${w.dir}/${pad(a.seq)}`)));
      batch.forEach((a, j) => {
        const st = stats[j];
        if (st) found.set(a.seq, st.czxid);
      });
    }
    let prev: { seq: number; z: bigint } | undefined;
    for (const a of w.acks) {
      const z = found.get(a.seq);
      if (z === undefined) {
        v.lost++;
        if (v.lostPaths.length < 20) v.lostPaths.push(`${w.dir}/${pad(a.seq)}`);
        continue;
      }
      if (a.czxid !== undefined && a.czxid !== z) v.mismatched++;
      if (prev && z <= prev.z) {
        v.reordered++;
        if (v.reorderedExamples.length < 10) v.reorderedExamples.push(`writer ${w.index}: seq ${a.seq} (0x${z.toString(16)}) not after seq ${prev.seq} (0x${prev.z.toString(16)})`);
      }
      prev = { seq: a.seq, z };
      all.push({ ...a, writer: w.index, found: z });
    }
  }
  // Real-time order across writers: a write acknowledged before another was sent has the smaller zxid.
  // Per writer, its acks in order with the running maximum of their zxids.
  const perWriter = new Map<number, Array<{ ackAt: number; max: bigint; seq: number }>>();
  for (const a of all) {
    const list = perWriter.get(a.writer) ?? [];
    const prevMax = list[list.length - 1]?.max;
    list.push({ ackAt: a.ackAt, max: prevMax !== undefined && prevMax > a.found ? prevMax : a.found, seq: a.seq });
    perWriter.set(a.writer, list);
  }
  for (const y of all) {
    for (const [writer, list] of perWriter) {
      if (writer === y.writer) continue; // the per-writer check covers it
      // the last write of `writer` acknowledged strictly before y was sent
      let lo = 0;
      let hi = list.length - 1;
      let idx = -1;
      while (lo <= hi) {
        const mid = (lo + hi) >> 1;
        if (list[mid]!.ackAt < y.sentAt) {
          idx = mid;
          lo = mid + 1;
        } else hi = mid - 1;
      }
      if (idx >= 0 && list[idx]!.max >= y.found) {
        v.reordered++;
        if (v.reorderedExamples.length < 10) {
          v.reorderedExamples.push(`writer ${y.writer} seq ${y.seq} (0x${y.found.toString(16)}) was sent after writer ${writer} seq ${list[idx]!.seq} was acknowledged, yet is not ordered after it`);
        }
        break;
      }
    }
  }
  return v;
}
