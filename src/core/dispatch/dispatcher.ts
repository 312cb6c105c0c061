/**
 * The dispatcher: balanced request dispatch over a service's instances, with
 * failover. The application gives it `send(endpoint, request)`; it picks an
 * instance with the chosen strategy, tracks load and latency, and on failure
 * retries on another instance.
 *
 * Membership comes from a watched ServiceCache (no ZooKeeper read per request)
 * or from `setMembers()` (static lists, tests).
 *
 * Failure semantics, stated plainly:
 * - A request is tried at most `maxAttempts` times (default 3), each time on an
 *   instance not tried yet for it, and a retry is only made while the retry
 *   budget allows (default: 20 % of recent requests + 10/s): when a whole
 *   service fails, clients do not multiply its load.
 * - A connection-level failure (refused, reset, broken pipe, timeout) ejects the
 *   instance at once: no new request goes there. `consecutiveFailures` (default 5)
 *   other errors in a row eject it too. An ejected instance is probed (TCP connect
 *   by default) after 50 ms, then with doubling intervals up to 2 s, and is
 *   re-admitted when a probe succeeds: long before ZooKeeper would drop the node
 *   of a crashed instance (a session timeout), and without waiting for it when the
 *   instance only restarted.
 * - When every member is ejected, requests go to any member (panic routing) rather
 *   than fail outright.
 * - When no member exists, dispatch() fails with NoInstanceError (exit code 3), at once and
 *   without I/O: a loop that retries must let the event loop run in between (setImmediate,
 *   a pause), or no ZooKeeper notification is ever read and the members never come back.
 * - Instances that cannot be used (instanceProblem: blank address or one with whitespace or
 *   control characters, a port that is not an integer in 1-65535) are left out ('skipped').
 */
import { EventEmitter } from 'node:events';
import { tcpConnect } from '../tcp-probe.js';
import { ExitCode, ZkctlError } from '../errors.js';
import type { Session } from '../session.js';
import { DEFAULT_BASE_PATH, type InstanceRecord, instanceProblem, ServiceCache, type ServiceInstance, type SkippedRecord, instanceWeight } from '../recipes/services.js';
import { RetryBudget, type RetryBudgetOptions } from './budget.js';
import { Endpoint } from './endpoint.js';
import { seededRng, type Rng } from './rng.js';
import { createStrategy, type Strategy, type StrategyHost, type StrategyName, type StrategyOptions } from './strategies.js';

export class NoInstanceError extends ZkctlError {
  constructor(message: string) {
    super(message, ExitCode.NO_NODE);
  }
}

/** eject: take the instance out of rotation now; retry: count a failure and retry; fail: give up (no retry). */
export type FailureKind = 'eject' | 'retry' | 'fail';

const CONNECTION_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ECONNABORTED', 'ENOTCONN', 'EAI_AGAIN', 'ERR_SOCKET_CLOSED']);

/** Default classification: connection-level errors (errno codes, or `err.eject === true`) eject; others are retried. */
export function defaultClassify(err: unknown): FailureKind {
  const e = err as { code?: unknown; eject?: unknown; retryable?: unknown } | null;
  if (e && e.retryable === false) return 'fail';
  if (e && (e.eject === true || (typeof e.code === 'string' && CONNECTION_CODES.has(e.code)))) return 'eject';
  return 'retry';
}

/** Default probe: a TCP connection to address:port within `timeoutMs`. */
export function tcpProbe(ep: Endpoint, timeoutMs = 1000): Promise<void> {
  return tcpConnect(ep.address, ep.port, timeoutMs, ep.hostPort);
}

export interface DispatcherOptions<Req, Res> {
  strategy: StrategyName;
  strategyOptions?: StrategyOptions;
  /** Seed of all randomness (picks, tie-breaks): same seed, same choices. */
  seed?: number;
  /** Send one attempt to one instance. Reject to report a failure (see classify). */
  send: (ep: Endpoint, req: Req) => Promise<Res>;
  /** Health check of an ejected instance; resolve = healthy. Default: TCP connect. */
  probe?: (ep: Endpoint) => Promise<void>;
  classify?: (err: unknown) => FailureKind;
  /** Attempts per request, the first included (default 3). */
  maxAttempts?: number;
  /** false: no budget (only maxAttempts bounds retries). */
  retryBudget?: RetryBudgetOptions | false;
  /** Non-ejecting failures in a row that eject an instance (default 5). */
  consecutiveFailures?: number;
  /** First probe delay after an ejection (default 50 ms); doubles up to maxProbeIntervalMs (default 2000). */
  probeIntervalMs?: number;
  maxProbeIntervalMs?: number;
  /** Monotonic clock in ms (default performance.now). */
  now?: () => number;
  /** Only instances this accepts are members (default: all); the others are ignored, silently. */
  accept?: (inst: ServiceInstance) => boolean;
}

export interface DispatcherStats {
  strategy: StrategyName;
  members: number;
  eligible: number;
  requests: number;
  succeeded: number;
  failed: number;
  retries: number;
  budgetExhausted: number;
  ejections: number;
  readmissions: number;
  outstanding: number;
  endpoints: Array<{ id: string; address: string; port: number; weight: number; sent: number; ok: number; failed: number; outstanding: number; ejected: boolean; ewmaMs: number }>;
}

/**
 * Events: 'members' (Endpoint[] after a membership change), 'join' (Endpoint), 'leave' (Endpoint),
 * 'eject' (Endpoint, error), 'readmit' (Endpoint), 'retry' (Endpoint that failed, error, attempt),
 * 'skipped' ({id, reason, path?}: an instance that cannot be used (see instanceProblem) was left
 * out; said once per instance and reason), 'error' (the cache's read failed; it retries).
 */
export class Dispatcher<Req = unknown, Res = unknown> extends EventEmitter {
  readonly strategyName: StrategyName;
  private readonly strategy: Strategy;
  private readonly rng: Rng;
  private readonly sendFn: (ep: Endpoint, req: Req) => Promise<Res>;
  private readonly probeFn: (ep: Endpoint) => Promise<void>;
  private readonly classify: (err: unknown) => FailureKind;
  private readonly maxAttempts: number;
  private readonly budget?: RetryBudget;
  private readonly failureThreshold: number;
  private readonly accept?: (inst: ServiceInstance) => boolean;
  private readonly probeMs: number;
  private readonly maxProbeMs: number;
  private readonly decayMs: number;
  readonly now: () => number;
  private readonly members = new Map<string, Endpoint>();
  private eligible: Endpoint[] = [];
  private all: Endpoint[] = [];
  private inFlight = 0;
  private closed = false;
  private cache?: ServiceCache;
  private ownsCache = false;
  private readonly probeTimers = new Map<Endpoint, NodeJS.Timeout>();
  private readonly probeDelay = new Map<Endpoint, number>();
  /** Instances left out as unusable, with the reason last said (said once per id and reason). */
  private readonly skippedIds = new Map<string, string>();
  readonly counters = { requests: 0, succeeded: 0, failed: 0, retries: 0, budgetExhausted: 0, ejections: 0, readmissions: 0 };

  constructor(opts: DispatcherOptions<Req, Res>) {
    super();
    this.strategyName = opts.strategy;
    this.rng = seededRng(opts.seed);
    this.now = opts.now ?? (() => performance.now());
    this.decayMs = opts.strategyOptions?.decayMs ?? 10_000;
    const host: StrategyHost = { rng: this.rng, totalOutstanding: () => this.inFlight, now: this.now };
    this.strategy = createStrategy(opts.strategy, host, opts.strategyOptions);
    this.sendFn = opts.send;
    this.probeFn = opts.probe ?? ((ep) => tcpProbe(ep));
    this.classify = opts.classify ?? defaultClassify;
    this.maxAttempts = Math.max(1, opts.maxAttempts ?? 3);
    if (opts.retryBudget !== false) this.budget = new RetryBudget(opts.retryBudget ?? {}, this.now);
    this.failureThreshold = opts.consecutiveFailures ?? 5;
    if (opts.accept) this.accept = opts.accept;
    this.probeMs = opts.probeIntervalMs ?? 50;
    this.maxProbeMs = opts.maxProbeIntervalMs ?? 2000;
  }

  /**
   * A dispatcher fed by a ServiceCache on `<basePath>/<name>` (started here; closed with the dispatcher).
   * Resolves once the current instances are known.
   */
  static async forService<Req, Res>(session: Session, name: string, opts: DispatcherOptions<Req, Res> & { basePath?: string }): Promise<Dispatcher<Req, Res>> {
    const d = new Dispatcher<Req, Res>(opts);
    const cache = new ServiceCache(session, name, opts.basePath ?? DEFAULT_BASE_PATH);
    d.follow(cache, true);
    await cache.start();
    return d;
  }

  /** Take membership from a cache (its 'change' events). */
  follow(cache: ServiceCache, owns = false): void {
    this.cache = cache;
    this.ownsCache = owns;
    cache.on('change', (recs: InstanceRecord[]) => this.setMembers(recs.map((r) => r.instance)));
    cache.on('skipped', (r: SkippedRecord) => this.emit('skipped', r));
    cache.on('error', (e: Error) => {
      if (this.listenerCount('error') > 0) this.emit('error', e);
    });
    if (cache.size > 0) this.setMembers(cache.instances().map((r) => r.instance));
  }

  /**
   * Replace the membership. Disabled instances are left out; so are instances that cannot be
   * used (instanceProblem: a blank address or one with whitespace or control characters, a port
   * that is not an integer in 1-65535), with a 'skipped' event.
   */
  setMembers(instances: ServiceInstance[]): void {
    const next = new Map<string, ServiceInstance>();
    const present = new Set<string>();
    for (const i of instances) {
      if (this.accept && !this.accept(i)) continue;
      present.add(i.id);
      const problem = instanceProblem(i);
      if (problem !== undefined) {
        if (this.skippedIds.get(i.id) !== problem) {
          this.skippedIds.set(i.id, problem);
          this.emit('skipped', { id: i.id, reason: problem } satisfies Omit<SkippedRecord, 'path'>);
        }
        continue;
      }
      this.skippedIds.delete(i.id);
      if (i.enabled !== false) next.set(i.id, i);
    }
    for (const id of [...this.skippedIds.keys()]) if (!present.has(id)) this.skippedIds.delete(id);
    let changed = false;
    for (const [id, ep] of this.members) {
      const inst = next.get(id);
      if (!inst || inst.address !== ep.address || inst.port !== ep.port) {
        this.members.delete(id);
        ep.removed = true;
        this.stopProbe(ep);
        this.emit('leave', ep);
        changed = true;
      } else if (inst !== ep.instance) {
        ep.instance = inst;
        const w = instanceWeight(inst);
        if (w !== ep.weight) {
          ep.weight = w;
          changed = true;
        }
      }
    }
    for (const [id, inst] of next) {
      if (this.members.has(id)) continue;
      const ep = Endpoint.fromInstance(inst);
      this.members.set(id, ep);
      this.emit('join', ep);
      changed = true;
    }
    if (changed) {
      this.rebuild();
      this.emit('members', this.all);
    }
  }

  private rebuild(): void {
    this.all = [...this.members.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    this.all.forEach((e, i) => (e.slot = i));
    this.eligible = this.all.filter((e) => !e.ejected);
    this.strategy.update(this.eligible);
  }

  endpoints(): readonly Endpoint[] {
    return this.all;
  }

  get size(): number {
    return this.all.length;
  }

  get outstanding(): number {
    return this.inFlight;
  }

  /** Choose an instance without sending (e.g. `services pick`). */
  pick(key?: string, exclude?: ReadonlySet<Endpoint>): Endpoint | undefined {
    if (this.eligible.length > 0) {
      const e = this.strategy.pick(key, exclude);
      if (e) return e;
    }
    // Panic routing: everything is ejected (or excluded): any member not excluded.
    const rest = exclude && exclude.size ? this.all.filter((e) => !exclude.has(e)) : this.all;
    return rest.length ? rest[this.rng.int(rest.length)] : undefined;
  }

  /** Send `req` to one instance, with failover. Resolves with the first successful reply. */
  async dispatch(req: Req, key?: string): Promise<Res> {
    if (this.closed) throw new ZkctlError('dispatcher is closed');
    const c = this.counters;
    c.requests++;
    this.budget?.deposit();
    let exclude: Set<Endpoint> | undefined;
    for (let attempt = 1; ; attempt++) {
      const ep = this.pick(key, exclude);
      if (!ep) {
        c.failed++;
        throw new NoInstanceError(this.all.length === 0 ? 'no instance of the service is registered' : 'every instance of the service failed this request');
      }
      const t0 = this.now();
      ep.outstanding++;
      ep.sent++;
      ep.lastSentAt = t0;
      this.inFlight++;
      try {
        const res = await this.sendFn(ep, req);
        const t1 = this.now();
        ep.outstanding--;
        this.inFlight--;
        ep.ok++;
        ep.consecutiveFailures = 0;
        ep.observeLatency(t1 - t0, t1, this.decayMs);
        c.succeeded++;
        return res;
      } catch (err) {
        ep.outstanding--;
        this.inFlight--;
        ep.failed++;
        const kind = this.classify(err);
        if (kind === 'eject') this.eject(ep, err);
        else if (kind === 'retry' && ++ep.consecutiveFailures >= this.failureThreshold) this.eject(ep, err);
        if (kind === 'fail' || attempt >= this.maxAttempts || this.closed) {
          c.failed++;
          throw err;
        }
        if (this.budget && !this.budget.tryWithdraw()) {
          c.budgetExhausted++;
          c.failed++;
          throw err;
        }
        c.retries++;
        (exclude ??= new Set()).add(ep);
        this.emit('retry', ep, err, attempt);
      }
    }
  }

  /** Take an instance out of rotation now and start probing it. */
  eject(ep: Endpoint, err?: unknown): void {
    if (ep.ejected || ep.removed || this.closed) return;
    ep.ejected = true;
    ep.ejectedAt = this.now();
    ep.ejections++;
    this.counters.ejections++;
    this.rebuild();
    this.emit('eject', ep, err);
    this.probeDelay.set(ep, this.probeMs);
    this.scheduleProbe(ep);
  }

  private scheduleProbe(ep: Endpoint): void {
    const delay = this.probeDelay.get(ep) ?? this.probeMs;
    const t = setTimeout(() => {
      this.probeTimers.delete(ep);
      if (this.closed || ep.removed || !ep.ejected) return;
      this.probeFn(ep).then(
        () => this.readmit(ep),
        () => {
          if (this.closed || ep.removed || !ep.ejected) return;
          this.probeDelay.set(ep, Math.min(this.maxProbeMs, delay * 2));
          this.scheduleProbe(ep);
        },
      );
    }, delay);
    t.unref();
    this.probeTimers.set(ep, t);
  }

  private stopProbe(ep: Endpoint): void {
    const t = this.probeTimers.get(ep);
    if (t) clearTimeout(t);
    this.probeTimers.delete(ep);
    this.probeDelay.delete(ep);
  }

  /** Put an ejected instance back into rotation. */
  readmit(ep: Endpoint): void {
    if (!ep.ejected || ep.removed || this.closed) return;
    ep.ejected = false;
    ep.consecutiveFailures = 0;
    this.stopProbe(ep);
    this.counters.readmissions++;
    this.rebuild();
    this.emit('readmit', ep);
  }

  stats(): DispatcherStats {
    return {
      strategy: this.strategyName,
      members: this.all.length,
      eligible: this.eligible.length,
      ...this.counters,
      outstanding: this.inFlight,
      endpoints: this.all.map((e) => ({
        id: e.id,
        address: e.address,
        port: e.port,
        weight: e.weight,
        sent: e.sent,
        ok: e.ok,
        failed: e.failed,
        outstanding: e.outstanding,
        ejected: e.ejected,
        ewmaMs: e.ewmaMs,
      })),
    };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const ep of [...this.probeTimers.keys()]) this.stopProbe(ep);
    if (this.cache && this.ownsCache) this.cache.close();
  }
}
