import { randomBytes } from 'node:crypto';
import { Flags } from '@oclif/core';
import { BaseCommand } from '../../cli/base.js';
import { parseDuration } from '../../core/duration.js';
import { CheckFailedError, UsageError } from '../../core/errors.js';
import { resolveWriteTarget, writeFileSafeSync } from '../../core/file-write.js';
import { isStrategyName, STRATEGIES, type StrategyName } from '../../core/dispatch/index.js';
import type { Column } from '../../output/index.js';
import { hostsOf } from '../../core/connect-string.js';

type Result = import('../../bench/dispatch.js').DispatchBenchResult;
type Row = import('../../bench/dispatch.js').StrategyResult;

/** What VS DIRECT means (help, and under the table). */
export const VS_DIRECT_NOTE = 'VS DIRECT = REQ/S ÷ DIRECT REQ/S: the strategy\'s throughput over that of a direct run (round-robin straight to the backends: no ZooKeeper, no dispatcher, no faults) made right before it, so both saw the same machine load. The direct row sums all those runs.';

/** Default per-strategy duration and strategies: a default run shows one failover in well under 20 s. */
export const DEFAULT_DURATION = '1500ms';
export const DEFAULT_STRATEGIES = 'random,round-robin,p2c,peak-ewma';

const fmt = (v: number | null | undefined, d = 1): string => (v === null || v === undefined ? '-' : v.toFixed(d));

const columns: Column<Row>[] = [
  { header: 'STRATEGY', key: 'strategy', get: (r) => r.strategy },
  { header: 'REQ/S', key: 'throughput', get: (r) => r.throughput, align: 'right' },
  { header: 'DIRECT REQ/S', key: 'directThroughput', get: (r) => r.directThroughput ?? '-', align: 'right' },
  { header: 'VS DIRECT', key: 'vsDirect', get: (r) => (r.vsDirect === null || r.anchor ? '-' : `${r.vsDirect.toFixed(2)}x`), align: 'right' },
  { header: 'P50 MS', key: 'p50', get: (r) => fmt(r.latency.p50Ms, 2), align: 'right' },
  { header: 'P99 MS', key: 'p99', get: (r) => fmt(r.latency.p99Ms, 2), align: 'right' },
  { header: 'P99.9 MS', key: 'p999', get: (r) => fmt(r.latency.p999Ms, 2), align: 'right' },
  { header: 'IMBALANCE', key: 'imbalance', get: (r) => r.imbalance.toFixed(3), align: 'right' },
  { header: 'SLOW SHARE', key: 'slowShare', get: (r) => (r.slowShare === null ? '-' : `${(r.slowShare * 100).toFixed(2)}%`), align: 'right' },
  { header: 'FAILED', key: 'failed', get: (r) => r.failed, align: 'right' },
  { header: 'RETRIES', key: 'retries', get: (r) => r.retries, align: 'right' },
  { header: 'KILL→LAST SEND', key: 'lastSend', get: (r) => (r.kills.length ? r.kills.map((k) => `${fmt(k.lastSendAfterMs)}ms`).join(',') : '-'), align: 'right' },
  { header: 'KILL→ZK LEAVE', key: 'zkLeave', get: (r) => (r.kills.length ? r.kills.map((k) => (k.zkLeaveAfterMs === null ? 'n/a' : `${fmt(k.zkLeaveAfterMs, 0)}ms`)).join(',') : '-'), align: 'right' },
];

function fmtMs(ms: number): string {
  return ms >= 1000 && ms % 100 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}

function parseAt(s: string, what: string): number {
  const t = s.trim().replace(/^@/, '');
  return parseDuration(t, what, { zero: true });
}

export default class BenchDispatch extends BaseCommand<typeof BenchDispatch> {
  static override summary = 'Measure balancing and failover of the dispatcher with real backends and injected faults.';
  static override description = `Starts N backend processes (TCP servers with a service time and a limit on requests served at once; the rest queue), each registering itself as an instance of a service through zkctl's services recipe with its own session. A closed-loop load generator (--concurrency requests in flight) sends requests through the dispatcher, whose membership comes from a ZooKeeper watch, for --duration per strategy (default ${DEFAULT_DURATION}), or --requests requests.

Faults, relative to the start of each strategy's run: --slow ID:LATENCY (service time of backend ID), --kill ID@T (SIGKILL), --add @T (a new backend), --kill-leader @T (SIGKILL of the ZooKeeper leader of the local ensemble behind --server). Each strategy starts from the same fleet. With no fault flag, a duration run kills one backend (the middle one) at a quarter of the run, so the defaults show failover; --kill none runs without faults. A fault time past --duration is refused (exit 2); with --requests (no known duration) a fault that falls after a run's end is reported on stderr.

The table: REQ/S is the strategy's throughput. ${VS_DIRECT_NOTE} FAILED counts requests that failed after the retries; KILL→LAST SEND is from the kill to the last request sent to the dead backend (failover by ejection); KILL→ZK LEAVE is from the kill to its instance leaving ZooKeeper (its session timing out; n/a when that came after the wait, which a default kill does not do). Imbalance is max/mean of the request counts of the steady backends (neither slow, killed nor added). In plain output (a pipe) the first line is a "# " comment naming the columns; --no-headers leaves it out.

Thresholds (--max-imbalance, --max-failed, --max-p99) apply to every strategy row except the baselines (direct, random) and exit 12 when missed. Results are printed before the --report file is written, so a finished measurement is never lost.

Every flag and output path is checked before anything starts (exit 2): thresholds, durations (--duration must be longer than 0), fault times, strategies (at least one), backend ids in --slow and --kill, a --report path in a missing directory. Each run registers its backends under a service of its own (zkctl-bench-<pid>-<random>, removed at the end), so benches run side by side without measuring each other's backends. With --service NAME, instances under NAME that this run did not start are ignored (never measured; a note on stderr says so), and NAME is refused when one of them has an id the run's backends use (b1, b2, ...), which registering would replace.`;
  static override examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> --backends 10 --requests 10000 --kill none',
    '<%= config.bin %> <%= command.id %> --strategies round-robin,p2c,peak-ewma --slow 3:20ms --report slow.html',
    '<%= config.bin %> <%= command.id %> --strategies random,p2c --kill 2@1s --duration 4s --max-failed 0',
    '<%= config.bin %> <%= command.id %> --kill-leader @2s --duration 5s --json',
  ];
  static override flags = {
    backends: Flags.integer({ summary: 'Number of backends.', default: 10, min: 1, max: 200 }),
    strategies: Flags.string({ summary: `Comma-separated strategies (${STRATEGIES.join(', ')}), or "all".`, default: DEFAULT_STRATEGIES }),
    requests: Flags.integer({ summary: 'Requests per strategy (instead of a duration).', min: 1 }),
    duration: Flags.string({ summary: `Run each strategy this long (default ${DEFAULT_DURATION} when no --requests).` }),
    concurrency: Flags.integer({ summary: 'Requests in flight (closed loop).', default: 64, min: 1 }),
    'service-time': Flags.string({ summary: 'Service time of a backend.', default: '2ms' }),
    'backend-concurrency': Flags.integer({ summary: 'Requests a backend serves at once (more queue).', default: 8, min: 1 }),
    slow: Flags.string({ summary: 'ID:LATENCY: backend ID gets this service time (repeatable).', multiple: true }),
    kill: Flags.string({ summary: 'ID@T: SIGKILL backend ID at T into each run (repeatable); "none": no default kill.', multiple: true }),
    add: Flags.string({ summary: '@T: start one more backend at T (repeatable).', multiple: true }),
    'kill-leader': Flags.string({ summary: '@T: SIGKILL the ZooKeeper leader at T (local ensemble only; restarted after the run).' }),
    ensemble: Flags.string({ summary: 'Local ensemble (name or dir) for --kill-leader (default: the one serving --server).' }),
    report: Flags.string({ summary: 'Write a self-contained HTML report with charts to this file.' }),
    'max-imbalance': Flags.string({ summary: 'Fail (exit 12) when a strategy’s imbalance exceeds this (a number ≥ 1).' }),
    'max-failed': Flags.integer({ summary: 'Fail (exit 12) when a strategy has more failed requests.', min: 0 }),
    'max-p99': Flags.string({ summary: 'Fail (exit 12) when a strategy’s p99 exceeds this (e.g. 50ms).' }),
    'session-timeout': Flags.string({ summary: 'Session timeout of the backends (how long a crashed one stays registered).', default: '4s' }),
    service: Flags.string({ summary: 'Service name the backends register as (default: zkctl-bench-<pid>-<random>, new for each run; a given name must have no instances).' }),
    'base-path': Flags.string({ summary: 'Discovery base path.', default: '/services' }),
    'port-base': Flags.integer({ summary: 'First TCP port tried for the backends.', default: 47100 }),
    seed: Flags.integer({ summary: 'Seed of every random choice.', default: 1 }),
    keys: Flags.integer({ summary: 'Distinct request keys (consistent-hash, sticky), drawn uniformly.', default: 1000, min: 1 }),
    epsilon: Flags.string({ summary: 'consistent-hash load bound ε.', default: '0.25' }),
    'no-direct': Flags.boolean({ summary: 'Leave out the direct anchor row.' }),
    bin: Flags.string({ summary: 'Time bin of the timelines.', default: '50ms' }),
    'no-headers': Flags.boolean({ summary: 'Plain output (a pipe): leave out the "# " header line naming the columns.' }),
  };

  async run(): Promise<Result> {
    const f = this.flags;
    // Every flag is checked here, before anything starts (a run can take minutes).
    const strategies = (f.strategies === 'all' ? [...STRATEGIES] : f.strategies.split(',').map((s) => s.trim()).filter(Boolean)) as StrategyName[];
    if (strategies.length === 0) throw new UsageError(`--strategies ${JSON.stringify(f.strategies)}: no strategy named`, `choose from ${STRATEGIES.join(', ')}, or "all"`);
    for (const s of strategies) if (!isStrategyName(s)) throw new UsageError(`unknown strategy "${s}"`, `choose from ${STRATEGIES.join(', ')}`);
    const { normalizeBackendId } = await import('../../bench/dispatch.js');
    const backendRef = (flag: string, given: string, id: string): void => {
      const m = /^b(\d+)$/.exec(id);
      const n = m ? Number(m[1]) : NaN;
      if (!(n >= 1 && n <= f.backends)) throw new UsageError(`${flag} ${given}: no such backend (1..${f.backends})`);
    };
    const slow = (f.slow ?? []).map((s) => {
      const m = /^([^:]+):(.+)$/.exec(s);
      if (!m) throw new UsageError(`--slow ${s}: expected ID:LATENCY, e.g. 3:20ms`);
      backendRef('--slow', s, normalizeBackendId(m[1]));
      return { id: m[1], serviceMs: parseDuration(m[2], '--slow latency', { zero: true }) };
    });
    const noKill = (f.kill ?? []).some((k) => k.trim() === 'none');
    if (noKill && (f.kill ?? []).length > 1) throw new UsageError('--kill none cannot be combined with other --kill flags');
    const kills = (noKill ? [] : f.kill ?? []).map((s) => {
      const m = /^([^@]+)@(.+)$/.exec(s);
      if (!m) throw new UsageError(`--kill ${s}: expected ID@T, e.g. 3@1s`);
      backendRef('--kill', s, normalizeBackendId(m[1]));
      return { id: m[1], atMs: parseAt(m[2], '--kill time') };
    });
    const adds = (f.add ?? []).map((s) => parseAt(s, '--add time'));
    const killLeaderAtMs = f['kill-leader'] !== undefined ? parseAt(f['kill-leader'], '--kill-leader time') : undefined;
    const durationMs = f.duration !== undefined ? parseDuration(f.duration, '--duration') : undefined;
    if (durationMs !== undefined && durationMs <= 0) throw new UsageError(`--duration ${f.duration}: must be longer than 0`);
    // The length of each run when known: --duration, else the default duration unless --requests is given.
    const runMs = durationMs ?? (f.requests === undefined ? parseDuration(DEFAULT_DURATION, '--duration') : undefined);
    const requests = f.requests;
    // A fault at or after the end of a run never happens: refused when the run length is known.
    if (runMs !== undefined) {
      const late = [
        ...kills.map((k) => [`--kill ${k.id}@${fmtMs(k.atMs)}`, k.atMs] as const),
        ...adds.map((a) => [`--add @${fmtMs(a)}`, a] as const),
        ...(killLeaderAtMs !== undefined ? [[`--kill-leader @${fmtMs(killLeaderAtMs)}`, killLeaderAtMs] as const] : []),
      ].filter(([, at]) => at >= runMs);
      if (late.length) throw new UsageError(`${late.map(([w]) => w).join(', ')}: after the end of each run (${fmtMs(runMs)}): it would never happen`, 'give an earlier time, or a longer --duration');
    }
    // The defaults show failover: with no fault asked for, a duration run kills the middle backend at a quarter.
    let defaultKill = false;
    if (runMs !== undefined && !noKill && kills.length === 0 && slow.length === 0 && adds.length === 0 && killLeaderAtMs === undefined && f.backends >= 2) {
      kills.push({ id: `b${Math.ceil(f.backends / 2)}`, atMs: Math.round(runMs / 4) });
      defaultKill = true;
    }
    const epsilon = Number(f.epsilon);
    if (!(epsilon > 0) || !Number.isFinite(epsilon)) throw new UsageError(`--epsilon ${f.epsilon}: must be a positive number`);
    const maxP99 = f['max-p99'] !== undefined ? parseDuration(f['max-p99'], '--max-p99') : undefined;
    let maxImb: number | undefined;
    if (f['max-imbalance'] !== undefined) {
      maxImb = /^\s*\d+(\.\d+)?\s*$/.test(f['max-imbalance']) ? Number(f['max-imbalance']) : NaN;
      if (!(maxImb >= 1)) throw new UsageError(`--max-imbalance ${f['max-imbalance']}: must be a number ≥ 1 (imbalance is max/mean of the backends' request counts)`);
    }
    // A report path that cannot be written (a directory, a missing directory) is refused before the run.
    if (f.report) resolveWriteTarget(f.report);
    const serviceMs = parseDuration(f['service-time'], '--service-time', { zero: true });
    const sessionTimeoutMs = parseDuration(f['session-timeout'], '--session-timeout');
    if (sessionTimeoutMs <= 0) throw new UsageError(`--session-timeout ${f['session-timeout']}: must be longer than 0`);
    const binMs = Math.max(1, parseDuration(f.bin, '--bin'));
    const { runDispatchBench } = await import('../../bench/dispatch.js');
    const c = this.connection;
    let ensemble;
    if (killLeaderAtMs !== undefined) {
      const E = await import('../../ensemble/index.js');
      ensemble = f.ensemble ? E.load(f.ensemble) : E.findLocalByServers(hostsOf(c.server));
      if (!ensemble) throw new UsageError('--kill-leader needs a local ensemble', 'start one with `zkctl ensemble up`, or name it with --ensemble');
    }
    // A renewing session: the dispatcher's cache must outlive a whole-ensemble outage.
    const session = await this.session({ renew: true });
    // Each run has its own service, so two benches at once never see each other's backends.
    let service = f.service;
    const ownService = service === undefined;
    if (service === undefined) service = `zkctl-bench-${process.pid}-${randomBytes(3).toString('hex')}`;
    else {
      const { readInstances } = await import('../../core/recipes/services.js');
      const { instances, unreadable } = await readInstances(session, service, f['base-path']);
      const ids = [...instances.map((i) => i.path), ...unreadable.map((u) => u.path)].map((p) => p.slice(p.lastIndexOf('/') + 1)).sort();
      const clash = ids.filter((id) => /^b\d+$/.test(id));
      if (clash.length) {
        throw new UsageError(`--service ${service} already has instance${clash.length === 1 ? '' : 's'} ${clash.join(', ')}, an id this run's backends use (registering would replace ${clash.length === 1 ? 'it' : 'them'})`, 'leave --service out: each run then uses a service of its own');
      }
      if (ids.length) {
        const shown = ids.length > 5 ? `${ids.slice(0, 5).join(', ')}, ...` : ids.join(', ');
        process.stderr.write(`zkctl: bench dispatch: note: ${ids.length} instance${ids.length === 1 ? '' : 's'} under --service ${service} not started by this run (${shown}): ignored, not measured\n`);
      }
    }
    if (defaultKill) process.stderr.write(`zkctl: bench dispatch: note: no fault given: backend ${kills[0].id} is killed at ${fmtMs(kills[0].atMs)} into each run (--kill none for none)\n`);
    const progress = (m: string): void => this.progress(m);
    const result = await runDispatchBench({
      session,
      connectString: c.server,
      backends: f.backends,
      strategies,
      ...(requests !== undefined ? { requests } : {}),
      ...(runMs !== undefined ? { durationMs: runMs } : {}),
      concurrency: f.concurrency,
      serviceMs,
      backendConcurrency: f['backend-concurrency'],
      slow,
      kills,
      adds,
      ...(killLeaderAtMs !== undefined ? { killLeaderAtMs } : {}),
      ...(ensemble ? { ensemble } : {}),
      basePath: f['base-path'],
      service,
      sessionTimeoutMs,
      portBase: f['port-base'],
      seed: f.seed,
      keys: f.keys,
      epsilon,
      direct: !f['no-direct'],
      binMs,
      onProgress: progress,
      onWarning: (m) => void process.stderr.write(`zkctl: bench dispatch: ${m}\n`),
      // A default kill does not wait for the session timeout after each run (it would double the run time).
      waitForLeave: !defaultKill,
      ownService,
    });
    // Results first: a report that cannot be written must not lose a finished measurement.
    if (!this.jsonEnabled()) {
      if (this.outputFormat === 'table' || this.outputFormat === 'plain') {
        this.printer.rows(result.results, columns, undefined, { plainHeader: !f['no-headers'] });
        if (this.outputFormat === 'table') {
          const ids = [...new Set(result.results.flatMap((r) => r.backends.map((b) => b.id)))];
          const shareCols: Column<Row>[] = [{ header: 'SHARE %', key: 'strategy', get: (r) => r.strategy }, ...ids.map((id) => ({ header: id, key: id, align: 'right' as const, get: (r: Row) => {
            const b = r.backends.find((x) => x.id === id);
            return b ? (b.share * 100).toFixed(1) : '-';
          } }))];
          this.printer.rows(result.results, shareCols);
          if (result.results.some((r) => r.vsDirect !== null)) process.stdout.write(`${VS_DIRECT_NOTE}\n`);
          if (result.results.some((r) => r.kills.some((k) => k.zkLeaveAfterMs === null))) {
            process.stdout.write(`KILL→ZK LEAVE n/a: the killed backend was still registered when the run ended (its session expires after --session-timeout ${f['session-timeout']}); an explicit --kill waits for it.\n`);
          }
        }
      } else this.printer.object(result as unknown as Record<string, unknown>);
    }
    if (f.report) {
      const { renderDispatchReport } = await import('../../bench/report.js');
      try {
        writeFileSafeSync(f.report, renderDispatchReport(result));
      } catch (e) {
        if (this.jsonEnabled()) process.stdout.write(`${JSON.stringify(result)}\n`);
        throw e;
      }
      this.progress(`report: ${f.report}`);
    }
    // Thresholds
    const problems: string[] = [];
    for (const r of result.results) {
      if (r.strategy === 'direct' || r.strategy === 'random') continue;
      if (maxImb !== undefined && r.imbalance > maxImb) problems.push(`${r.strategy} imbalance ${r.imbalance} > ${maxImb}`);
      if (f['max-failed'] !== undefined && r.failed > f['max-failed']) problems.push(`${r.strategy} failed ${r.failed} > ${f['max-failed']}`);
      if (maxP99 !== undefined && r.latency.p99Ms > maxP99) problems.push(`${r.strategy} p99 ${r.latency.p99Ms}ms > ${maxP99}ms`);
    }
    if (problems.length) {
      if (this.jsonEnabled()) process.stdout.write(`${JSON.stringify(result)}\n`);
      throw new CheckFailedError(`thresholds missed: ${problems.join('; ')}`);
    }
    return result;
  }
}
