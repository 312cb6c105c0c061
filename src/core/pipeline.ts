/**
 * The windowed request pipeline: many requests over one session, at most `window` of them in
 * flight at once. ZooKeeper answers one session's requests in order, so a full window keeps
 * the connection busy without a round trip per request; the window bounds what is queued
 * (memory, and how much is still sent after a failure).
 *
 * Two faces of one thing:
 * - `RequestWindow`: a counting gate. `run(fn)` waits for a free slot (first come, first
 *   served), then runs `fn`; callers that fan out (a recursive read, `Promise.all`) keep their
 *   results in their own order.
 * - `pipeline(items, fn, opts)`: feed a stream of items (a tree walk) through `fn`, pulling
 *   the next item only when a slot is free (back-pressure on the stream). Results are the
 *   callers' to collect, in completion order.
 *
 * Failure semantics, stated plainly: `pipeline` stops on the first error (from `fn`, from the
 * stream, or an abort): it starts no further item, waits for the requests already in flight to
 * settle (each is bounded by the session's request deadline), then throws that first error.
 * Later errors are dropped. Errors a caller tolerates (a node gone meanwhile) are caught inside
 * its `fn`, which is where each caller says what it collects (a count, the nodes not empty).
 */
import { InterruptedError } from './errors.js';

/** At most `size` calls of `run` in flight; the others wait their turn (first in, first out). */
export class RequestWindow {
  readonly size: number;
  private active = 0;
  private readonly waiting: Array<() => void> = [];
  private readonly idle: Array<() => void> = [];

  constructor(size: number) {
    this.size = Math.max(1, Math.floor(size));
  }

  /** Calls in flight. */
  get inFlight(): number {
    return this.active;
  }

  /** Wait for a free slot and take it (give it back with `release`). */
  async acquire(): Promise<void> {
    if (this.active < this.size && this.waiting.length === 0) {
      this.active++;
      return;
    }
    // A slot given back is handed straight to the first waiter (nobody can take it in between).
    await new Promise<void>((r) => this.waiting.push(r));
  }

  release(): void {
    const next = this.waiting.shift();
    if (next) return next();
    this.active--;
    if (this.active === 0) for (const r of this.idle.splice(0)) r();
  }

  /** Run `fn` in a slot of the window. */
  async run<T>(fn: () => Promise<T>): Promise<T> {
    await this.acquire();
    try {
      return await fn();
    } finally {
      this.release();
    }
  }

  /** Resolves when nothing is in flight and nobody waits for a slot. */
  drained(): Promise<void> {
    if (this.active === 0 && this.waiting.length === 0) return Promise.resolve();
    return new Promise<void>((r) => this.idle.push(r));
  }
}

export interface PipelineOptions {
  /** Most calls of `fn` in flight at once (at least 1). */
  window: number;
  /** Aborting starts no further item; the pipeline throws InterruptedError (exit 130) once the ones in flight settled. */
  signal?: AbortSignal;
}

/**
 * Call `fn` on every item of `items`, at most `opts.window` calls in flight, pulling the next
 * item only when a slot is free. Stops on the first error (see the file header): no new item,
 * the calls in flight settle, the first error is thrown. Resolves when every call has settled.
 */
export async function pipeline<T>(items: Iterable<T> | AsyncIterable<T>, fn: (item: T) => Promise<void>, opts: PipelineOptions): Promise<void> {
  const win = new RequestWindow(opts.window);
  let failed = false;
  let firstError: unknown;
  const fail = (e: unknown): void => {
    if (failed) return;
    failed = true;
    firstError = e;
  };
  try {
    for await (const item of items) {
      if (!failed && opts.signal?.aborted) fail(new InterruptedError());
      if (failed) break;
      await win.acquire();
      if (!failed && opts.signal?.aborted) fail(new InterruptedError());
      if (failed) {
        win.release();
        break;
      }
      let p: Promise<void>;
      try {
        p = fn(item);
      } catch (e) {
        p = Promise.reject(e);
      }
      p.then(
        () => win.release(),
        (e: unknown) => {
          fail(e);
          win.release();
        },
      );
    }
  } catch (e) {
    fail(e);
  }
  await win.drained();
  if (failed) throw firstError;
}
