/**
 * The coalesced refresh loop: what a watched copy of ZooKeeper state (a service cache, a leader
 * observer, a held registration) does when a watch fires. One run of `body` at a time (it reads
 * the nodes again and passes its watches again); asks that come while a run is in progress (a
 * burst of notifications) are merged into ONE more run after it, so the last state is always
 * read, but never once per notification.
 *
 * Failure semantics, stated plainly:
 * - A failed run goes to `onError` (a connection problem included). With `retry`, it is tried
 *   again after a growing pause (baseMs, doubling, at most maxMs) while the session is usable;
 *   while it is not, the pause is waited again (the reconnect asks for a run at once); once the
 *   session is lost for good or closed, only a new ask (a renewed session's 'reconnected') runs
 *   it. An ask (a notification, a reconnect) runs at once and cancels the pause.
 * - ZooKeeper does not replay what changed while no server held our watches: the loop runs
 *   again on every session event in `on` (default: connected, reconnected), and the body reads
 *   everything again, re-arming its watches whatever happened to them.
 * - `stop()` ends it: no further run, the pause timer and the session listeners are removed at
 *   once. A run in progress finishes its requests (each bounded by the session's request
 *   deadline); `settled(ms)` waits for it, bounded. A one-shot watch the last run armed stays on
 *   the server until it fires once; it then runs nothing.
 * - If `onError` throws (an error the owner does not survive, e.g. before its first report), the
 *   loop stops re-running and the promise of that run (`start()`, `run()`) rejects with it.
 */
import type { Session, SessionState } from '../session.js';

export interface RefreshRetry {
  /** First pause after a failed run (ms); it doubles with each failure in a row. */
  baseMs: number;
  /** Longest pause (ms); read at each failure (owners expose it as a setting). */
  maxMs: number | (() => number);
  /** Let the process exit while only the pause is pending. Default false. */
  unref?: boolean;
}

export interface RefreshLoopOptions {
  /** A failed run (not called after stop()). May throw: see the header. Default: rethrow. */
  onError?: (e: unknown) => void;
  /** Try a failed run again after a pause (see the header). Default: no retry by timer. */
  retry?: RefreshRetry;
  /** Session events that ask for a run while started. Default ['connected', 'reconnected']. */
  on?: readonly SessionState[];
}

/** The pause before the next try after `failures` failed runs in a row. */
export function backoffMs(failures: number, baseMs: number, maxMs: number): number {
  return Math.min(maxMs, baseMs * 2 ** Math.min(Math.max(failures, 1) - 1, 10));
}

export class RefreshLoop {
  /** Runs of the body so far (diagnostics, tests). */
  runs = 0;
  /** Failed runs in a row (0 after a run that succeeded). */
  failures = 0;
  private busy = false;
  private dirty = false;
  private stopped = false;
  private subscribed = false;
  private current?: Promise<void>;
  private timer?: NodeJS.Timeout;
  private readonly events: readonly SessionState[];
  private readonly ask = (): void => this.schedule();

  constructor(
    private readonly session: Session,
    private readonly body: () => Promise<void>,
    private readonly opts: RefreshLoopOptions = {},
  ) {
    this.events = opts.on ?? ['connected', 'reconnected'];
  }

  /** Follow the session's events (see `on`) and run now. Resolves (or rejects) as `run()`. */
  start(): Promise<void> {
    if (!this.stopped && !this.subscribed) {
      this.subscribed = true;
      for (const ev of this.events) this.session.on(ev, this.ask);
    }
    return this.run();
  }

  /**
   * Ask for a run: now, or (during a run, also from the body itself) once more after it; any
   * number of asks during one run make one more run. Cancels a pending pause. No-op once stopped.
   */
  schedule(): void {
    if (this.stopped) return;
    this.clearTimer();
    if (this.busy) {
      this.dirty = true;
      return;
    }
    this.busy = true;
    this.current = this.loop().finally(() => {
      this.busy = false;
      this.current = undefined;
    });
  }

  /** schedule(), and the promise of the run in progress (with the runs merged into it). */
  run(): Promise<void> {
    this.schedule();
    return this.current ?? Promise.resolve();
  }

  /** Ask for a run in `ms` (unless an ask or stop() comes first; a pause already pending is kept). */
  later(ms: number, opts: { unref?: boolean } = {}): void {
    this.wait(ms, () => this.schedule(), opts.unref);
  }

  /** Stop: no further run; the pause and the session listeners go at once (a run in progress finishes). */
  stop(): void {
    this.stopped = true;
    this.clearTimer();
    if (this.subscribed) {
      this.subscribed = false;
      for (const ev of this.events) this.session.removeListener(ev, this.ask);
    }
  }

  get isStopped(): boolean {
    return this.stopped;
  }
  /** A run is in progress. */
  get isRunning(): boolean {
    return this.busy;
  }
  /** A pause (retry or later()) is pending. */
  get isWaiting(): boolean {
    return this.timer !== undefined;
  }

  /** Wait for the run in progress (and the runs merged into it) to end, at most `timeoutMs`. True: nothing runs. Never rejects. */
  async settled(timeoutMs?: number): Promise<boolean> {
    const cur = this.current;
    if (!cur) return true;
    const done = cur.then(
      () => true,
      () => true,
    );
    if (timeoutMs === undefined) return done;
    let t: NodeJS.Timeout | undefined;
    const r = await Promise.race([done, new Promise<boolean>((res) => (t = setTimeout(() => res(false), Math.max(0, timeoutMs))))]);
    clearTimeout(t);
    return r;
  }

  private async loop(): Promise<void> {
    do {
      this.dirty = false;
      this.runs++;
      try {
        await this.body();
        this.failures = 0;
      } catch (e) {
        if (this.stopped) return;
        this.failures++;
        if (!this.opts.onError) throw e;
        this.opts.onError(e);
        if (!this.dirty && !this.stopped) this.retryLater();
      }
    } while (this.dirty && !this.stopped);
  }

  /** After a failed run: try again after the pause, while the session is usable. */
  private retryLater(): void {
    const r = this.opts.retry;
    if (!r) return;
    const max = typeof r.maxMs === 'function' ? r.maxMs() : r.maxMs;
    this.wait(
      backoffMs(this.failures, r.baseMs, max),
      () => {
        const st = this.session.state;
        if (st === 'connected' || st === 'reconnected') this.schedule();
        // Disconnected: the reconnect asks for a run; meanwhile keep trying. Lost for good or closed: nothing will come back.
        else if (st !== 'lost' && st !== 'closed') this.retryLater();
      },
      r.unref,
    );
  }

  private wait(ms: number, then: () => void, unref?: boolean): void {
    if (this.stopped || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (!this.stopped) then();
    }, ms);
    if (unref) this.timer.unref?.();
  }

  private clearTimer(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
  }
}
