/**
 * `zkctl bench dispatch`: real backend processes registered through the services
 * recipe, a closed-loop load generator sending through the dispatcher, faults
 * injected on a schedule (SIGKILL of a backend, a new backend, SIGKILL of the
 * ZooKeeper leader), and per strategy: throughput, HDR latency, per-backend
 * shares, imbalance, failures, retries, failover times.
 *
 * Each strategy runs against the same fleet, reset before the run (killed
 * backends restarted on their port, added ones stopped, membership settled).
 * The "direct" anchor row sends round-robin straight to the initial backends:
 * no ZooKeeper, no dispatcher, no retries, no fault injection.
 */
import type { Session } from '../core/session.js';
import { Dispatcher, type Endpoint, type StrategyName } from '../core/dispatch/index.js';
import { servicePath } from '../core/recipes/services.js';
import { seededRng } from '../core/dispatch/rng.js';
import type { LocalEnsemble } from '../ensemble/local.js';
import { sleep } from '../ensemble/proc.js';
import { Fleet, type BackendSpec } from './fleet.js';
import { LatencyHistogram, type LatencySummary } from './histogram.js';
import { BackendConnection } from './protocol.js';

export interface DispatchBenchOptions {
  session: Session;
  connectString: string;
  backends: number;
  strategies: StrategyName[];
  /** Requests per strategy (stop after this many), and/or a duration per strategy. */
  requests?: number;
  durationMs?: number;
  concurrency: number;
  serviceMs: number;
  backendConcurrency: number;
  slow: Array<{ id: string; serviceMs: number }>;
  kills: Array<{ id: string; atMs: number }>;
  adds: number[];
  killLeaderAtMs?: number;
  ensemble?: LocalEnsemble;
  basePath: string;
  service: string;
  sessionTimeoutMs: number;
  portBase: number;
  seed: number;
  keys: number;
  epsilon: number;
  direct: boolean;
  binMs: number;
  onProgress?: (msg: string) => void;
  /** Things a person should know (instances skipped as unusable); stderr in the command. */
  onWarning?: (msg: string) => void;
  /**
   * After a run with kills, wait (up to twice the session timeout) for the killed backends to
   * leave ZooKeeper, to measure that time (default true). false: report only what the run saw.
   */
  waitForLeave?: boolean;
  /** The service is this run's own: remove its node at the end (default false). */
  ownService?: boolean;
}

export interface BackendShare {
  id: string;
  sent: number;
  ok: number;
  share: number;
  serviceMs: number;
  slow: boolean;
  killed: boolean;
  added: boolean;
}

export interface KillResult {
  id: string;
  atMs: number;
  /** Run time (ms since start) of the kill, of the ejection, of the last request sent to it, of its node leaving ZooKeeper. */
  ejectedAfterMs: number | null;
  /** From the kill to the last request sent to the dead backend (0: none was sent after the kill). */
  lastSendAfterMs: number;
  /** From the kill to the dispatcher seeing the node leave ZooKeeper (null: not within the wait). */
  zkLeaveAfterMs: number | null;
  /** Requests sent to it after the kill (all retried elsewhere, or failed). */
  sentAfterKill: number;
}

export interface AddResult {
  id: string;
  atMs: number;
  /** From starting the process to the dispatcher seeing it join / sending it its first request. */
  joinAfterMs: number | null;
  firstSendAfterMs: number | null;
}

export interface LeaderKillResult {
  member: number;
  atMs: number;
  /** Our session's view: suspended at / reconnected at (ms since start), if it was affected. */
  suspendedAtMs: number | null;
  reconnectedAtMs: number | null;
  /** Instances that left and re-joined during the run without being killed (session expiries). */
  flaps: number;
  /** Time the restarted member took to serve again (after the run). */
  restartMs: number | null;
}

export interface TimelineBin {
  t: number;
  ok: number;
  failed: number;
  retries: number;
  sent: Record<string, number>;
}

export interface StrategyResult {
  strategy: StrategyName | 'direct';
  anchor: boolean;
  requests: number;
  ok: number;
  failed: number;
  retries: number;
  budgetExhausted: number;
  ejections: number;
  readmissions: number;
  durationMs: number;
  throughput: number;
  /** throughput / directThroughput. */
  vsDirect: number | null;
  /** Throughput of the direct run made right before this strategy's run (its pair; null without one). */
  directThroughput: number | null;
  /** Faults scheduled after the run had ended, which therefore never happened ("--kill b3@1s"). */
  faultsNotFired: string[];
  latency: LatencySummary;
  backends: BackendShare[];
  /** max/mean of the shares of the steady backends (not slow, killed or added). */
  imbalance: number;
  /** Summed share of the slow backends (null without --slow). */
  slowShare: number | null;
  kills: KillResult[];
  adds: AddResult[];
  leaderKill: LeaderKillResult | null;
  cdf: Array<[number, number]>;
  timeline: { binMs: number; bins: TimelineBin[] };
  events: Array<{ t: number; type: string; id?: string }>;
  /** direct row: the throughput of each paired anchor run. */
  runs?: number[];
}

export interface DispatchBenchResult {
  config: {
    /** The service the backends registered as (a new one per run unless --service was given). */
    service: string;
    backends: number;
    requests: number | null;
    durationMs: number | null;
    concurrency: number;
    serviceMs: number;
    backendConcurrency: number;
    slow: Array<{ id: string; serviceMs: number }>;
    kills: Array<{ id: string; atMs: number }>;
    adds: number[];
    killLeaderAtMs: number | null;
    sessionTimeoutMs: number;
    seed: number;
    keys: number;
    epsilon: number;
    cpus: number;
    node: string;
    startedAt: string;
  };
  results: StrategyResult[];
}

const backendId = (i: number): string => `b${i}`;
const fmtAt = (ms: number): string => (ms >= 1000 && ms % 100 === 0 ? `${ms / 1000}s` : `${ms}ms`);

/** "3" or "b3" -> "b3". */
export function normalizeBackendId(s: string): string {
  const t = s.trim();
  return /^\d+$/.test(t) ? backendId(Number(t)) : t;
}

interface Target {
  name: StrategyName | 'direct';
  pick: (key: string) => Promise<void>;
}

export async function runDispatchBench(opts: DispatchBenchOptions): Promise<DispatchBenchResult> {
  const progress = opts.onProgress ?? (() => undefined);
  const fleet = new Fleet({
    connectString: opts.connectString,
    basePath: opts.basePath,
    service: opts.service,
    sessionTimeoutMs: opts.sessionTimeoutMs,
    portBase: opts.portBase,
  });
  const slowMs = new Map(opts.slow.map((s) => [normalizeBackendId(s.id), s.serviceMs]));
  const initial: BackendSpec[] = [];
  for (let i = 1; i <= opts.backends; i++) {
    const id = backendId(i);
    initial.push({ id, serviceMs: slowMs.get(id) ?? opts.serviceMs, concurrency: opts.backendConcurrency });
  }
  const initialIds = new Set(initial.map((b) => b.id));
  const results: StrategyResult[] = [];
  const onExit = (): void => fleet.killAllNow();
  process.once('exit', onExit);
  try {
    progress(`starting ${opts.backends} backends`);
    await Promise.all(initial.map((b) => fleet.start(b)));
    const keys = Array.from({ length: Math.max(1, opts.keys) }, (_, i) => `k${i}`);

    // Warm-up (JIT, connections): straight to the backends, not measured.
    {
      const conns = initial.map((b) => new BackendConnection('127.0.0.1', fleet.backends.get(b.id)!.port));
      let i = 0;
      const warm = Math.min(3000, Math.max(500, Math.floor((opts.requests ?? 10_000) / 5)));
      await closedLoop(opts.concurrency, warm, undefined, async () => conns[i++ % conns.length].send(), () => undefined, () => undefined);
      for (const c of conns) c.close();
    }

    // The anchor runs right before each strategy (same conditions, one run apart), and each
    // strategy's vsDirect is against its own paired anchor run; the direct row sums them all.
    const anchorRuns: Array<{ result: StrategyResult; hist: LatencyHistogram }> = [];
    const paired: number[] = [];
    const reset = async (): Promise<void> => {
      for (const id of [...fleet.backends.keys()]) if (!initialIds.has(id)) await fleet.stop(id);
      for (const b of initial) if (!fleet.backends.get(b.id)?.alive) await fleet.start(b);
    };
    for (const name of opts.strategies.length ? opts.strategies : []) {
      if (opts.direct) {
        await reset();
        const a = await runOne('direct', opts, fleet, initial, keys);
        anchorRuns.push(a);
        paired.push(a.result.throughput);
      }
      await reset();
      progress(`running ${name}`);
      const { result: r } = await runOne(name, opts, fleet, initial, keys);
      if (opts.direct && paired.length > 0) r.directThroughput = paired[paired.length - 1];
      if (opts.direct && paired[paired.length - 1] > 0) r.vsDirect = Math.round((r.throughput / paired[paired.length - 1]) * 1000) / 1000;
      if (r.faultsNotFired.length) opts.onWarning?.(`${r.faultsNotFired.join(', ')} never happened in the ${name} run: it ended after ${r.durationMs} ms (give --duration longer than the fault time, or an earlier time)`);
      results.push(r);
      progress(`${name}: ${r.throughput} req/s${r.vsDirect !== null ? ` (${r.vsDirect}x direct)` : ''}, p99 ${r.latency.p99Ms} ms, imbalance ${r.imbalance.toFixed(3)}, failed ${r.failed}, retries ${r.retries}`);
    }
    if (opts.direct && opts.strategies.length === 0) {
      await reset();
      anchorRuns.push(await runOne('direct', opts, fleet, initial, keys));
    }
    if (anchorRuns.length) results.unshift(mergeAnchorRuns(anchorRuns));
  } finally {
    process.removeListener('exit', onExit);
    await fleet.stopAll();
    if (opts.ownService) {
      // Best effort: a killed backend's node may stay until its session expires; the service
      // node is a container, which ZooKeeper removes once it is empty.
      await opts.session.delete(servicePath(opts.service, opts.basePath)).catch(() => undefined);
    }
  }
  return {
    config: {
      service: opts.service,
      backends: opts.backends,
      requests: opts.requests ?? null,
      durationMs: opts.durationMs ?? null,
      concurrency: opts.concurrency,
      serviceMs: opts.serviceMs,
      backendConcurrency: opts.backendConcurrency,
      slow: opts.slow.map((s) => ({ id: normalizeBackendId(s.id), serviceMs: s.serviceMs })),
      kills: opts.kills.map((k) => ({ id: normalizeBackendId(k.id), atMs: k.atMs })),
      adds: opts.adds,
      killLeaderAtMs: opts.killLeaderAtMs ?? null,
      sessionTimeoutMs: opts.sessionTimeoutMs,
      seed: opts.seed,
      keys: opts.keys,
      epsilon: opts.epsilon,
      cpus: (await import('node:os')).cpus().length,
      node: process.version,
      startedAt: new Date().toISOString(),
    },
    results,
  };
}

/**
 * Closed loop: `concurrency` workers, each sending its next request when the last one is
 * answered, until `total` requests were started, `deadline` (performance.now()) passed, or
 * `stop()` says so.
 */
export async function closedLoop(
  concurrency: number,
  total: number | undefined,
  deadline: number | undefined,
  one: () => Promise<void>,
  onOk: (ms: number, t: number) => void,
  onFail: (t: number, err: unknown) => void,
  stop?: () => boolean,
): Promise<void> {
  let started = 0;
  const worker = async (): Promise<void> => {
    for (;;) {
      if (total !== undefined && started >= total) return;
      if (stop?.()) return;
      const t0 = performance.now();
      if (deadline !== undefined && t0 >= deadline) return;
      started++;
      try {
        await one();
        const t1 = performance.now();
        onOk(t1 - t0, t1);
      } catch (e) {
        onFail(performance.now(), e);
        // A request can fail without any I/O (no instance: NoInstanceError at once). Retrying
        // at once would loop on promise jobs alone and starve the event loop: no ZooKeeper
        // notification would be read, so the membership could never come back. Let I/O run.
        await new Promise<void>((r) => setImmediate(r));
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}

/** The direct row: every paired anchor run summed (throughput = all ok / all time). */
function mergeAnchorRuns(runs: Array<{ result: StrategyResult; hist: LatencyHistogram }>): StrategyResult {
  const first = runs[0].result;
  const hist = new LatencyHistogram();
  for (const r of runs) hist.add(r.hist);
  const ok = runs.reduce((a, r) => a + r.result.ok, 0);
  const failed = runs.reduce((a, r) => a + r.result.failed, 0);
  const durationMs = runs.reduce((a, r) => a + r.result.durationMs, 0);
  const sentBy = new Map<string, number>();
  for (const r of runs) for (const b of r.result.backends) sentBy.set(b.id, (sentBy.get(b.id) ?? 0) + b.sent);
  const total = [...sentBy.values()].reduce((a, b) => a + b, 0) || 1;
  return {
    ...first,
    requests: ok + failed,
    ok,
    failed,
    durationMs,
    throughput: durationMs > 0 ? Math.round((ok / durationMs) * 1000) : 0,
    vsDirect: 1,
    directThroughput: null,
    latency: hist.summary(),
    cdf: hist.cdf(),
    backends: first.backends.map((b) => ({ ...b, sent: sentBy.get(b.id) ?? 0, ok: sentBy.get(b.id) ?? 0, share: Math.round(((sentBy.get(b.id) ?? 0) / total) * 10000) / 10000 })),
    runs: runs.map((r) => r.result.throughput),
  };
}

async function runOne(name: StrategyName | 'direct', opts: DispatchBenchOptions, fleet: Fleet, initial: BackendSpec[], keys: string[]): Promise<{ result: StrategyResult; hist: LatencyHistogram }> {
  const anchor = name === 'direct';
  const rng = seededRng(opts.seed ^ 0x5bd1e995);
  const conns = new Map<string, BackendConnection>();
  const connFor = (host: string, port: number): BackendConnection => {
    const k = `${host}:${port}`;
    let c = conns.get(k);
    if (!c) {
      c = new BackendConnection(host, port);
      conns.set(k, c);
    }
    return c;
  };
  // Accounting
  const index = new Map<string, number>();
  const ids: string[] = [];
  const sent: number[] = [];
  const okCount: number[] = [];
  const lastSent: number[] = [];
  const firstSent: number[] = [];
  const idx = (id: string): number => {
    let i = index.get(id);
    if (i === undefined) {
      i = ids.length;
      index.set(id, i);
      ids.push(id);
      sent.push(0);
      okCount.push(0);
      lastSent.push(0);
      firstSent.push(0);
    }
    return i;
  };
  for (const b of initial) idx(b.id);
  const binMs = opts.binMs;
  const bins: Array<{ ok: number; failed: number; retries: number; sent: number[] }> = [];
  let t0 = 0;
  const bin = (t: number): { ok: number; failed: number; retries: number; sent: number[] } => {
    const b = Math.max(0, Math.floor((t - t0) / binMs));
    while (bins.length <= b) bins.push({ ok: 0, failed: 0, retries: 0, sent: [] });
    return bins[b];
  };
  const events: Array<{ t: number; type: string; id?: string }> = [];
  const ev = (type: string, id?: string, t = performance.now()): void => {
    events.push({ t: Math.round((t - t0) * 10) / 10, type, ...(id ? { id } : {}) });
  };
  const hist = new LatencyHistogram();
  let ok = 0;
  let failed = 0;

  const killTime = new Map<string, number>();
  const sentAfterKill = new Map<string, number>();
  const record = (id: string, t: number): number => {
    const i = idx(id);
    sent[i]++;
    if (killTime.size && killTime.has(id) && t >= killTime.get(id)!) sentAfterKill.set(id, (sentAfterKill.get(id) ?? 0) + 1);
    lastSent[i] = t;
    if (firstSent[i] === 0) firstSent[i] = t;
    const b = bin(t);
    b.sent[i] = (b.sent[i] ?? 0) + 1;
    return i;
  };

  let target: Target;
  let dispatcher: Dispatcher<undefined, void> | undefined;
  const leaveAt = new Map<string, number>();
  const joinAt = new Map<string, number>();
  let flaps = 0;
  const killedIds = new Set<string>();
  if (anchor) {
    const list = initial.map((b) => ({ id: b.id, conn: connFor('127.0.0.1', fleet.backends.get(b.id)!.port) }));
    let i = 0;
    target = {
      name,
      pick: () => {
        const e = list[i];
        i = i + 1 === list.length ? 0 : i + 1;
        record(e.id, performance.now());
        return e.conn.send();
      },
    };
  } else {
    const d = await Dispatcher.forService<undefined, void>(opts.session, opts.service, {
      basePath: opts.basePath,
      strategy: name,
      seed: opts.seed,
      strategyOptions: { epsilon: opts.epsilon },
      // Only the backends this run started: instances others registered under the service are ignored.
      accept: (inst) => fleet.owns(inst),
      send: (ep: Endpoint) => {
        const t = performance.now();
        const i = record(ep.id, t);
        const p = connFor(ep.address, ep.port).send();
        return p.then(() => {
          okCount[i]++;
        });
      },
    });
    dispatcher = d;
    // Wait until the membership is exactly the initial set.
    const want = initial.map((b) => b.id).sort().join(',');
    const end = performance.now() + 30_000;
    while (d.endpoints().map((e) => e.id).join(',') !== want) {
      if (performance.now() > end) throw new Error(`membership did not settle: have ${d.endpoints().map((e) => e.id).join(',')}, want ${want}`);
      await sleep(20);
    }
    d.on('retry', () => bin(performance.now()).retries++);
    d.on('skipped', (r: { id: string; reason: string }) => {
      ev('skipped', r.id);
      opts.onWarning?.(`instance ${r.id} skipped: ${r.reason}`);
    });
    d.on('eject', (ep: Endpoint) => ev('eject', ep.id));
    d.on('readmit', (ep: Endpoint) => ev('readmit', ep.id));
    d.on('leave', (ep: Endpoint) => {
      const t = performance.now();
      if (!leaveAt.has(ep.id)) leaveAt.set(ep.id, t);
      if (!killedIds.has(ep.id)) flaps++;
      ev('zk-leave', ep.id, t);
    });
    d.on('join', (ep: Endpoint) => {
      const t = performance.now();
      if (!joinAt.has(ep.id)) joinAt.set(ep.id, t);
      ev('zk-join', ep.id, t);
    });
    target = { name, pick: (key: string) => d.dispatch(undefined, key) };
  }

  // Faults (not for the anchor).
  const timers: NodeJS.Timeout[] = [];
  const kills: Array<{ id: string; at: number }> = [];
  const adds: Array<{ id: string; at: number }> = [];
  let leader: { member: number; at: number } | undefined;
  let suspendedAt: number | null = null;
  let reconnectedAt: number | null = null;
  const onSuspended = (): void => {
    if (suspendedAt === null) suspendedAt = performance.now();
    ev('session-suspended');
  };
  const onReconnected = (): void => {
    if (reconnectedAt === null) reconnectedAt = performance.now();
    ev('session-reconnected');
  };
  let leaderId: number | undefined;
  if (!anchor && opts.killLeaderAtMs !== undefined && opts.ensemble) leaderId = await opts.ensemble.resolveMember('leader');
  const pendingFaults: Array<Promise<unknown>> = [];
  const notFired = new Set<string>();
  const schedule = (atMs: number, fn: () => Promise<unknown>, what: string): void => {
    notFired.add(what);
    timers.push(
      setTimeout(() => {
        notFired.delete(what);
        pendingFaults.push(fn().catch((e: Error) => ev(`fault-error: ${e.message}`)));
      }, atMs),
    );
  };

  let addSeq = fleet.backends.size;
  let stopAt: number | undefined;
  t0 = performance.now();
  if (!anchor) {
    for (const k of opts.kills) {
      const id = normalizeBackendId(k.id);
      schedule(k.atMs, async () => {
        killedIds.add(id);
        const t = performance.now();
        killTime.set(id, t);
        kills.push({ id, at: t });
        ev('kill', id, t);
        await fleet.kill(id);
      }, `--kill ${id}@${fmtAt(k.atMs)}`);
    }
    for (const a of opts.adds) {
      schedule(a, async () => {
        let n = ++addSeq;
        while (fleet.backends.has(backendId(n))) n = ++addSeq;
        const id = backendId(n);
        const t = performance.now();
        adds.push({ id, at: t });
        idx(id);
        ev('add', id, t);
        await fleet.start({ id, serviceMs: opts.serviceMs, concurrency: opts.backendConcurrency });
      }, `--add @${fmtAt(a)}`);
    }
    if (leaderId !== undefined && opts.killLeaderAtMs !== undefined) {
      opts.session.on('suspended', onSuspended);
      opts.session.on('reconnected', onReconnected);
      const member = leaderId;
      schedule(opts.killLeaderAtMs, async () => {
        const t = performance.now();
        leader = { member, at: t };
        ev('leader-kill', `zk${member}`, t);
        await opts.ensemble!.kill(member);
      }, `--kill-leader @${fmtAt(opts.killLeaderAtMs)}`);
    }
  }
  if (opts.durationMs !== undefined) stopAt = t0 + opts.durationMs;
  await closedLoop(
    opts.concurrency,
    opts.requests,
    stopAt,
    () => target.pick(keys[keys.length === 1 ? 0 : rng.int(keys.length)]),
    (ms, t) => {
      ok++;
      hist.recordMs(ms);
      bin(t).ok++;
    },
    (t) => {
      failed++;
      bin(t).failed++;
    },
  );
  const tEnd = performance.now();
  for (const t of timers) clearTimeout(t);
  await Promise.all(pendingFaults);

  // After the load: wait (bounded) for killed backends to leave ZooKeeper, so that time is measured.
  if (dispatcher && kills.length > 0 && opts.waitForLeave !== false) {
    const end = performance.now() + opts.sessionTimeoutMs * 2 + 3000;
    while (kills.some((x) => !leaveAt.has(x.id)) && performance.now() < end) await sleep(20);
  }
  opts.session.removeListener('suspended', onSuspended);
  opts.session.removeListener('reconnected', onReconnected);
  let restartMs: number | null = null;
  if (leader && opts.ensemble) {
    const t = performance.now();
    await opts.ensemble.start(leader.member, { wait: true, timeoutMs: 60_000 });
    await opts.ensemble.waitForQuorum(60_000);
    restartMs = Math.round(performance.now() - t);
  }
  const st = dispatcher?.stats();
  dispatcher?.close();
  for (const c of conns.values()) c.close();

  const durationMs = tEnd - t0;
  const totalSent = sent.reduce((a, b) => a + b, 0) || 1;
  const killedSet = new Set(kills.map((x) => x.id));
  const addedSet = new Set(adds.map((x) => x.id));
  const specOf = new Map(initial.map((b) => [b.id, b]));
  const backends: BackendShare[] = ids.map((id, i) => ({
    id,
    sent: sent[i],
    ok: anchor ? sent[i] : okCount[i],
    share: Math.round((sent[i] / totalSent) * 10000) / 10000,
    serviceMs: specOf.get(id)?.serviceMs ?? opts.serviceMs,
    slow: (specOf.get(id)?.serviceMs ?? opts.serviceMs) !== opts.serviceMs,
    killed: killedSet.has(id),
    added: addedSet.has(id),
  }));
  const steady = backends.filter((b) => !b.slow && !b.killed && !b.added);
  const mean = steady.reduce((a, b) => a + b.sent, 0) / (steady.length || 1);
  const imbalance = mean > 0 ? Math.max(...steady.map((b) => b.sent)) / mean : 0;
  const slowOnes = backends.filter((b) => b.slow);
  const rel = (t: number | undefined | null, from: number): number | null => (t === undefined || t === null ? null : Math.round((t - from) * 10) / 10);

  const result: StrategyResult = {
    strategy: name,
    anchor,
    requests: ok + failed,
    ok,
    failed,
    retries: st?.retries ?? 0,
    budgetExhausted: st?.budgetExhausted ?? 0,
    ejections: st?.ejections ?? 0,
    readmissions: st?.readmissions ?? 0,
    durationMs: Math.round(durationMs),
    throughput: Math.round((ok / durationMs) * 1000),
    vsDirect: null,
    directThroughput: null,
    faultsNotFired: [...notFired],
    latency: hist.summary(),
    backends,
    imbalance: Math.round(imbalance * 10000) / 10000,
    slowShare: slowOnes.length ? Math.round(slowOnes.reduce((a, b) => a + b.sent, 0) / totalSent * 10000) / 10000 : null,
    kills: kills.map((x) => {
      const i = index.get(x.id) ?? -1;
      const ejectEv = events.find((e) => e.type === 'eject' && e.id === x.id && e.t >= x.at - t0);
      const last = i >= 0 ? lastSent[i] : 0;
      const after = sentAfterKill.get(x.id) ?? 0;
      return {
        id: x.id,
        atMs: Math.round(x.at - t0),
        ejectedAfterMs: ejectEv ? Math.round((ejectEv.t - (x.at - t0)) * 10) / 10 : null,
        lastSendAfterMs: last > x.at ? Math.round((last - x.at) * 10) / 10 : 0,
        zkLeaveAfterMs: rel(leaveAt.get(x.id), x.at),
        sentAfterKill: after,
      };
    }),
    adds: adds.map((x) => {
      const i = index.get(x.id) ?? -1;
      return {
        id: x.id,
        atMs: Math.round(x.at - t0),
        joinAfterMs: rel(joinAt.get(x.id), x.at),
        firstSendAfterMs: i >= 0 && firstSent[i] > 0 ? rel(firstSent[i], x.at) : null,
      };
    }),
    leaderKill: leader
      ? {
          member: leader.member,
          atMs: Math.round(leader.at - t0),
          suspendedAtMs: rel(suspendedAt, t0),
          reconnectedAtMs: rel(reconnectedAt, t0),
          flaps,
          restartMs,
        }
      : null,
    cdf: hist.cdf(),
    timeline: {
      binMs,
      bins: bins.map((b, n) => ({
        t: n * binMs,
        ok: b.ok,
        failed: b.failed,
        retries: b.retries,
        sent: Object.fromEntries(ids.map((id, i) => [id, b.sent[i] ?? 0])),
      })),
    },
    events,
  };
  return { result, hist };
}
