/**
 * Selection strategies. Each picks one endpoint of the eligible set (the
 * dispatcher keeps that set: members that are enabled and not ejected) and
 * never one in `exclude` (instances already tried for this request).
 * All randomness comes from the seeded Rng: same seed, same picks.
 *
 * - random: uniform (the naive baseline).
 * - round-robin: in turn.
 * - weighted-round-robin: smooth weighted round robin (nginx), weight from payload.weight.
 * - least-outstanding: fewest requests in flight (ties: random).
 * - p2c: power of two choices: two distinct random instances, the one with fewer in flight.
 * - peak-ewma: p2c on cost = peak-EWMA latency × (in flight + 1) (Finagle, Linkerd).
 * - consistent-hash: ring of virtual nodes with bounded loads (Mirrokni, Thorup, Zadimoghaddam
 *   2018): the key's clockwise successor unless it already has ⌈(1+ε)·(in flight + 1)/n⌉
 *   requests in flight, then the next one on the ring that has room.
 * - sticky: a key stays on the instance it was first given (p2c) until that one leaves the rotation.
 */
import type { Endpoint } from './endpoint.js';
import { hash32, type Rng } from './rng.js';

export const STRATEGIES = [
  'random',
  'round-robin',
  'weighted-round-robin',
  'least-outstanding',
  'p2c',
  'peak-ewma',
  'consistent-hash',
  'sticky',
] as const;
export type StrategyName = (typeof STRATEGIES)[number];

export function isStrategyName(s: string): s is StrategyName {
  return (STRATEGIES as readonly string[]).includes(s);
}

/** What a strategy may ask the dispatcher. */
export interface StrategyHost {
  rng: Rng;
  /** Requests in flight over all eligible endpoints. */
  totalOutstanding(): number;
  /** Monotonic ms clock. */
  now(): number;
}

export interface StrategyOptions {
  /** consistent-hash: load bound ε (default 0.25). */
  epsilon?: number;
  /** consistent-hash: virtual nodes per instance (default 160). */
  vnodes?: number;
  /** peak-ewma: decay time constant in ms (default 10 000, Finagle's). */
  decayMs?: number;
  /** sticky: most keys remembered (default 100 000). */
  maxStickyKeys?: number;
}

export interface Strategy {
  readonly name: StrategyName;
  /** The eligible set changed (joins, leaves, ejections, re-admissions). */
  update(eligible: readonly Endpoint[]): void;
  /** One endpoint, or undefined when every eligible one is excluded (or there is none). */
  pick(key: string | undefined, exclude: ReadonlySet<Endpoint> | undefined): Endpoint | undefined;
}

const EMPTY: ReadonlySet<Endpoint> = new Set();

abstract class Base implements Strategy {
  abstract readonly name: StrategyName;
  protected list: readonly Endpoint[] = [];
  constructor(protected readonly host: StrategyHost) {}
  update(eligible: readonly Endpoint[]): void {
    this.list = eligible;
  }
  abstract pick(key: string | undefined, exclude: ReadonlySet<Endpoint> | undefined): Endpoint | undefined;
  /** The eligible endpoints not excluded (allocates: only used on retries). */
  protected allowed(exclude: ReadonlySet<Endpoint>): Endpoint[] {
    return this.list.filter((e) => !exclude.has(e));
  }
}

class RandomStrategy extends Base {
  readonly name = 'random' as const;
  pick(_key: string | undefined, exclude = EMPTY): Endpoint | undefined {
    const l = exclude.size ? this.allowed(exclude) : this.list;
    return l.length ? l[this.host.rng.int(l.length)] : undefined;
  }
}

class RoundRobinStrategy extends Base {
  readonly name = 'round-robin' as const;
  private i = 0;
  override update(eligible: readonly Endpoint[]): void {
    const first = this.list.length === 0;
    super.update(eligible);
    // Start somewhere random so that many clients do not march in step.
    if (eligible.length) this.i = first ? this.host.rng.int(eligible.length) : this.i % eligible.length;
  }
  pick(_key: string | undefined, exclude = EMPTY): Endpoint | undefined {
    const n = this.list.length;
    for (let k = 0; k < n; k++) {
      const e = this.list[this.i++ % n];
      if (this.i >= n) this.i = 0;
      if (!exclude.has(e)) return e;
    }
    return undefined;
  }
}

/**
 * Smooth weighted round robin (nginx): even spread, exact proportions. The first pick of a
 * fresh strategy is a weighted random choice (then the smooth sequence goes on from there):
 * a one-shot pick (`services pick`) honours the weights, and many clients started together
 * do not all begin with the heaviest instance.
 */
class WeightedRoundRobinStrategy extends Base {
  readonly name = 'weighted-round-robin' as const;
  private current = new Map<Endpoint, number>();
  private started = false;
  override update(eligible: readonly Endpoint[]): void {
    super.update(eligible);
    const next = new Map<Endpoint, number>();
    for (const e of eligible) next.set(e, this.current.get(e) ?? 0);
    this.current = next;
  }
  pick(_key: string | undefined, exclude = EMPTY): Endpoint | undefined {
    let total = 0;
    let best: Endpoint | undefined;
    let bestW = -Infinity;
    for (const e of this.list) {
      if (exclude.has(e)) continue;
      const w = (this.current.get(e) ?? 0) + e.weight;
      this.current.set(e, w);
      total += e.weight;
      if (w > bestW) {
        bestW = w;
        best = e;
      }
    }
    if (best && !this.started) {
      this.started = true;
      // Weighted random first choice.
      let r = this.host.rng.next() * total;
      for (const e of this.list) {
        if (exclude.has(e)) continue;
        r -= e.weight;
        if (r < 0) {
          best = e;
          break;
        }
      }
      bestW = this.current.get(best)!;
    }
    if (best) this.current.set(best, bestW - total);
    return best;
  }
}

class LeastOutstandingStrategy extends Base {
  readonly name = 'least-outstanding' as const;
  pick(_key: string | undefined, exclude = EMPTY): Endpoint | undefined {
    let best: Endpoint | undefined;
    let ties = 0;
    for (const e of this.list) {
      if (exclude.has(e)) continue;
      if (!best || e.outstanding < best.outstanding) {
        best = e;
        ties = 1;
      } else if (e.outstanding === best.outstanding) {
        // Reservoir sampling among ties: uniform without a second pass.
        ties++;
        if (this.host.rng.int(ties) === 0) best = e;
      }
    }
    return best;
  }
}

/** Two distinct random endpoints from `l` (or the only one). */
function twoChoices(rng: Rng, l: readonly Endpoint[]): [Endpoint, Endpoint] | [Endpoint] | [] {
  const n = l.length;
  if (n === 0) return [];
  if (n === 1) return [l[0]];
  const i = rng.int(n);
  let j = rng.int(n - 1);
  if (j >= i) j++;
  return [l[i], l[j]];
}

class P2CStrategy extends Base {
  readonly name = 'p2c' as const;
  pick(_key: string | undefined, exclude = EMPTY): Endpoint | undefined {
    const c = twoChoices(this.host.rng, exclude.size ? this.allowed(exclude) : this.list);
    if (c.length < 2) return c[0];
    const [a, b] = c as [Endpoint, Endpoint];
    return b.outstanding < a.outstanding ? b : a;
  }
}

/** Cost of an endpoint with no latency sample yet and requests in flight (Finagle's penalty). */
const PENALTY = 1e9;

class PeakEwmaStrategy extends Base {
  readonly name = 'peak-ewma' as const;
  constructor(host: StrategyHost, private readonly decayMs: number) {
    super(host);
  }
  cost(e: Endpoint, now: number): number {
    const rtt = e.ewmaAt(now, this.decayMs);
    if (rtt === 0) return e.outstanding === 0 ? 0 : PENALTY + e.outstanding;
    return rtt * (e.outstanding + 1);
  }
  pick(_key: string | undefined, exclude = EMPTY): Endpoint | undefined {
    const c = twoChoices(this.host.rng, exclude.size ? this.allowed(exclude) : this.list);
    if (c.length < 2) return c[0];
    const [a, b] = c as [Endpoint, Endpoint];
    const now = this.host.now();
    return this.cost(b, now) < this.cost(a, now) ? b : a;
  }
}

class ConsistentHashStrategy extends Base {
  readonly name = 'consistent-hash' as const;
  private ringHash = new Uint32Array(0);
  private ringOwner: Endpoint[] = [];
  constructor(
    host: StrategyHost,
    private readonly epsilon: number,
    private readonly vnodes: number,
  ) {
    super(host);
  }
  override update(eligible: readonly Endpoint[]): void {
    super.update(eligible);
    const points: Array<[number, Endpoint]> = [];
    for (const e of eligible) for (let v = 0; v < this.vnodes; v++) points.push([hash32(`${e.id}#${v}`), e]);
    points.sort((x, y) => x[0] - y[0] || (x[1].id < y[1].id ? -1 : 1));
    this.ringHash = Uint32Array.from(points.map((p) => p[0]));
    this.ringOwner = points.map((p) => p[1]);
  }
  /** Largest load an endpoint may carry when one more request arrives. */
  capacity(): number {
    const n = this.list.length;
    return Math.ceil(((1 + this.epsilon) * (this.host.totalOutstanding() + 1)) / n);
  }
  pick(key: string | undefined, exclude = EMPTY): Endpoint | undefined {
    const n = this.ringHash.length;
    if (n === 0) return undefined;
    const h = key === undefined ? (this.host.rng.next() * 4294967296) >>> 0 : hash32(key);
    // First ring point ≥ h (binary search), wrapping around.
    let lo = 0;
    let hi = n;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.ringHash[mid] < h) lo = mid + 1;
      else hi = mid;
    }
    const cap = this.capacity();
    let fallback: Endpoint | undefined;
    for (let k = 0; k < n; k++) {
      const e = this.ringOwner[(lo + k) % n];
      if (exclude.has(e)) continue;
      if (e.outstanding < cap) return e;
      if (!fallback || e.outstanding < fallback.outstanding) fallback = e;
    }
    return fallback;
  }
}

class StickyStrategy extends Base {
  readonly name = 'sticky' as const;
  private readonly assigned = new Map<string, Endpoint>();
  private readonly inRotation = new Set<Endpoint>();
  constructor(host: StrategyHost, private readonly maxKeys: number) {
    super(host);
  }
  override update(eligible: readonly Endpoint[]): void {
    super.update(eligible);
    this.inRotation.clear();
    for (const e of eligible) this.inRotation.add(e);
  }
  pick(key: string | undefined, exclude = EMPTY): Endpoint | undefined {
    const k = key ?? '';
    const cur = this.assigned.get(k);
    if (cur && this.inRotation.has(cur) && !exclude.has(cur)) return cur;
    const c = twoChoices(this.host.rng, exclude.size ? this.allowed(exclude) : this.list);
    const e = c.length < 2 ? c[0] : c[1]!.outstanding < c[0]!.outstanding ? c[1] : c[0];
    if (e) {
      if (this.assigned.size >= this.maxKeys && !this.assigned.has(k)) {
        // Forget the oldest assignment (Map keeps insertion order).
        const first = this.assigned.keys().next().value;
        if (first !== undefined) this.assigned.delete(first);
      }
      this.assigned.set(k, e);
    }
    return e;
  }
}

export function createStrategy(name: StrategyName, host: StrategyHost, opts: StrategyOptions = {}): Strategy {
  switch (name) {
    case 'random':
      return new RandomStrategy(host);
    case 'round-robin':
      return new RoundRobinStrategy(host);
    case 'weighted-round-robin':
      return new WeightedRoundRobinStrategy(host);
    case 'least-outstanding':
      return new LeastOutstandingStrategy(host);
    case 'p2c':
      return new P2CStrategy(host);
    case 'peak-ewma':
      return new PeakEwmaStrategy(host, opts.decayMs ?? 10_000);
    case 'consistent-hash':
      return new ConsistentHashStrategy(host, opts.epsilon ?? 0.25, opts.vnodes ?? 160);
    case 'sticky':
      return new StickyStrategy(host, opts.maxStickyKeys ?? 100_000);
  }
}
