/** Durations as operators write them: 500ms, 10s, 1.5m, 2h, or a bare number of seconds. */
import { UsageError } from './errors.js';

const UNITS: Record<string, number> = { ms: 1, s: 1000, sec: 1000, m: 60_000, min: 60_000, h: 3_600_000 };

/**
 * The longest duration zkctl accepts (100 years): anything longer is refused
 * with exit 2 rather than silently wrapping. Waits up to this long work (see
 * setTimer: Node's own timers end at once past 2^31-1 ms, about 24.8 days).
 */
export const MAX_DURATION_MS = 100 * 365 * 24 * 3_600_000;

export interface DurationOptions {
  /** 0 means something for this flag (e.g. --grace 0: no grace). Default: a duration must be positive. */
  zero?: boolean;
}

/**
 * The one parser for every duration a user writes (flags, contexts file, shell).
 * One rule for all of them: a number with an optional unit (seconds when none),
 * more than 0 unless the flag says 0 has a meaning, at most MAX_DURATION_MS.
 * Anything else is a UsageError (exit 2) naming `what` (e.g. "--for").
 */
export function parseDuration(input: string, what = 'duration', opts: DurationOptions = {}): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|sec|m|min|h)?\s*$/i.exec(input);
  if (!m) throw new UsageError(`invalid ${what} "${input}"`, 'use a number with a unit, e.g. 500ms, 10s, 2m, 1h');
  const n = Number(m[1]);
  const unit = (m[2] ?? 's').toLowerCase();
  const ms = Math.round(n * UNITS[unit]);
  if (!Number.isFinite(ms) || ms > MAX_DURATION_MS) {
    throw new UsageError(`${what} "${input.trim()}" is too long`, `at most ${MAX_DURATION_MS / 3_600_000}h (100 years)`);
  }
  if (ms <= 0 && !opts.zero) throw new UsageError(`${what} must be positive, not "${input.trim()}"`, 'e.g. 500ms, 10s, 2m, 1h');
  return ms;
}

export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${+(ms / 1000).toFixed(2)}s`;
  if (ms < 3_600_000) return `${Math.floor(ms / 60_000)}m${Math.round((ms % 60_000) / 1000)}s`;
  return `${Math.floor(ms / 3_600_000)}h${Math.floor((ms % 3_600_000) / 60_000)}m`;
}

/** Node's timers fire at once (TimeoutOverflowWarning) past this many ms. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** A timer from setTimer: clear() it; unref()/ref() as with Node's timers. */
export interface Timer {
  clear(): void;
  unref(): Timer;
  ref(): Timer;
}

/**
 * setTimeout for any delay: delays past MAX_TIMER_MS are chained (each link at
 * most MAX_TIMER_MS, then the rest measured against the clock), so a wait of
 * 597h is 597h, never an immediate wake-up. Use it wherever a duration a user
 * gave (or anything derived from one) becomes a timer. `linkMs` (the longest
 * single Node timer) is for tests.
 */
export function setTimer(fn: () => void, ms: number, linkMs = MAX_TIMER_MS): Timer {
  const deadline = performance.now() + Math.max(0, ms);
  let refd = true;
  let t: NodeJS.Timeout | undefined;
  let cleared = false;
  const arm = (left: number): void => {
    t = setTimeout(tick, Math.min(Math.max(0, left), linkMs));
    if (!refd) t.unref();
  };
  function tick(): void {
    if (cleared) return;
    const left = deadline - performance.now();
    // Node may fire a long timer a little early: only the clock decides.
    if (left > 0) arm(left);
    else {
      cleared = true;
      fn();
    }
  }
  arm(ms);
  const timer: Timer = {
    clear(): void {
      cleared = true;
      if (t) clearTimeout(t);
    },
    unref(): Timer {
      refd = false;
      t?.unref();
      return timer;
    },
    ref(): Timer {
      refd = true;
      t?.ref();
      return timer;
    },
  };
  return timer;
}

/** Resolve after `ms` (any length, see setTimer), or as soon as `signal` aborts. */
export function sleepMs(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const t = setTimer(done, ms);
    function done(): void {
      t.clear();
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
