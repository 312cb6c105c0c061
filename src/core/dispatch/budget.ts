/**
 * Retry budget (Finagle's RetryBudget): retries may add at most `percent` of
 * the requests of the last `ttlMs`, plus a small reserve of `minPerSec`
 * retries per second so that a quiet client can still retry. A retry storm
 * cannot multiply the load on a failing service.
 */
export interface RetryBudgetOptions {
  /** Retries allowed per request, over the window (default 0.2). */
  percent?: number;
  /** Reserve, in retries per second over the window (default 10). */
  minPerSec?: number;
  /** Window in ms (default 10 000). */
  ttlMs?: number;
}

const SLOTS = 10;

export class RetryBudget {
  private readonly percent: number;
  private readonly reserve: number;
  private readonly slotMs: number;
  private readonly deposits = new Float64Array(SLOTS);
  private readonly withdrawals = new Float64Array(SLOTS);
  private slot = 0;
  private slotStart: number;
  private dep = 0;
  private wd = 0;

  constructor(opts: RetryBudgetOptions = {}, private readonly now: () => number = () => performance.now()) {
    this.percent = opts.percent ?? 0.2;
    const ttl = opts.ttlMs ?? 10_000;
    this.reserve = (opts.minPerSec ?? 10) * (ttl / 1000);
    this.slotMs = ttl / SLOTS;
    this.slotStart = now();
  }

  private roll(): void {
    const t = this.now();
    let steps = Math.floor((t - this.slotStart) / this.slotMs);
    if (steps <= 0) return;
    if (steps > SLOTS) steps = SLOTS;
    for (let i = 0; i < steps; i++) {
      this.slot = (this.slot + 1) % SLOTS;
      this.dep -= this.deposits[this.slot];
      this.wd -= this.withdrawals[this.slot];
      this.deposits[this.slot] = 0;
      this.withdrawals[this.slot] = 0;
    }
    this.slotStart = t - ((t - this.slotStart) % this.slotMs);
  }

  /** A request was made (earns `percent` of a retry). */
  deposit(): void {
    this.roll();
    this.deposits[this.slot] += 1;
    this.dep += 1;
  }

  /** May we retry? Takes one retry from the budget when yes. */
  tryWithdraw(): boolean {
    this.roll();
    if (this.balance() < 1) return false;
    this.withdrawals[this.slot] += 1;
    this.wd += 1;
    return true;
  }

  balance(): number {
    return this.reserve + this.dep * this.percent - this.wd;
  }
}
