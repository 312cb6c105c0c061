/** One instance as the dispatcher tracks it: load, latency estimate, health. */
import type { ServiceInstance } from '../recipes/services.js';
import { instanceWeight } from '../recipes/services.js';

export interface EndpointInit {
  id: string;
  address: string;
  port: number;
  weight?: number;
  instance?: ServiceInstance;
}

export class Endpoint {
  readonly id: string;
  address: string;
  port: number;
  weight: number;
  instance?: ServiceInstance;
  /** Requests sent and not yet answered. */
  outstanding = 0;
  /** Attempts sent / answered / failed (all time). */
  sent = 0;
  ok = 0;
  failed = 0;
  consecutiveFailures = 0;
  /** ms timestamps (performance.now()); 0 = never. */
  lastSentAt = 0;
  /** Out of rotation until a probe succeeds. */
  ejected = false;
  ejectedAt = 0;
  ejections = 0;
  /** No longer a member (its node left ZooKeeper). */
  removed = false;
  /** Peak-EWMA latency estimate (ms) and when it was last updated. */
  ewmaMs = 0;
  ewmaStamp = 0;
  /** Index in the dispatcher's member list (internal). */
  slot = -1;

  constructor(init: EndpointInit) {
    this.id = init.id;
    this.address = init.address;
    this.port = init.port;
    this.instance = init.instance;
    this.weight = init.weight ?? (init.instance ? instanceWeight(init.instance) : 1);
  }

  static fromInstance(inst: ServiceInstance): Endpoint {
    return new Endpoint({ id: inst.id, address: inst.address ?? '', port: inst.port ?? 0, instance: inst });
  }

  get hostPort(): string {
    return `${this.address.includes(':') ? `[${this.address}]` : this.address}:${this.port}`;
  }

  /**
   * Peak-EWMA (Finagle/Linkerd): a latency above the estimate replaces it at
   * once (peak); below it, the estimate decays towards it with time constant
   * `decayMs` (so a slow instance is avoided at once and forgiven gradually).
   */
  observeLatency(rttMs: number, now: number, decayMs: number): void {
    if (this.ewmaStamp === 0 || rttMs > this.ewmaMs) {
      this.ewmaMs = rttMs;
    } else {
      const w = Math.exp(-Math.max(0, now - this.ewmaStamp) / decayMs);
      this.ewmaMs = this.ewmaMs * w + rttMs * (1 - w);
    }
    this.ewmaStamp = now;
  }

  /** The estimate decayed to `now` with no new observation (Finagle decays towards 0 while idle). */
  ewmaAt(now: number, decayMs: number): number {
    if (this.ewmaStamp === 0) return 0;
    return this.ewmaMs * Math.exp(-Math.max(0, now - this.ewmaStamp) / decayMs);
  }
}
