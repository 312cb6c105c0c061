/**
 * How a stream of events ends (watch, config watch, elect watch, ensemble watch, the shell's
 * watch): after `count` events, after `forMs`, when `signal` aborts (Ctrl-C), or when the caller
 * ends it for a reason of its own. One end wins; `signal` aborts then, which is what the loop
 * feeding the stream stops on. Process signals are the CLI's (src/cli/stream.ts): the shell
 * gives its own Ctrl-C here as `signal`.
 */
import { setTimer, type Timer } from './duration.js';

export type StreamEnd = 'count' | 'for' | 'interrupted';

export interface StreamOptions {
  /** End after this many events ('count'). */
  count?: number;
  /** End after this long ('for'). */
  forMs?: number;
  /** Aborting it ends the stream ('interrupted'). */
  signal?: AbortSignal;
}

export class StreamControl<R extends string = StreamEnd> {
  private readonly ac = new AbortController();
  private readonly timer?: Timer;
  private readonly outer?: AbortSignal;
  private resolveEnded!: (r: R | StreamEnd) => void;
  /** Resolves with the reason the stream ended, once it has. */
  readonly ended = new Promise<R | StreamEnd>((r) => (this.resolveEnded = r));
  /** Why it ended (undefined while it runs). */
  reason?: R | StreamEnd;
  /** Events counted so far (take). */
  events = 0;

  constructor(readonly opts: StreamOptions = {}) {
    if (opts.forMs !== undefined) this.timer = setTimer(() => this.end('for'), opts.forMs);
    this.outer = opts.signal;
    if (this.outer?.aborted) this.end('interrupted');
    else this.outer?.addEventListener('abort', this.onAbort, { once: true });
  }

  private readonly onAbort = (): void => this.end('interrupted');

  /** Aborts when the stream ends, whatever the reason. */
  get signal(): AbortSignal {
    return this.ac.signal;
  }

  get interrupted(): boolean {
    return this.reason === 'interrupted';
  }

  /** Count one event; false (drop it) when the stream has ended or `count` events were taken. */
  take(): boolean {
    if (this.reason !== undefined || (this.opts.count !== undefined && this.events >= this.opts.count)) return false;
    this.events++;
    return true;
  }

  /** After an event is handled: end with 'count' once `count` events were taken. */
  settle(): void {
    if (this.opts.count !== undefined && this.events >= this.opts.count) this.end('count');
  }

  /** End the stream (the first reason wins). */
  end(reason: R | StreamEnd): void {
    if (this.reason !== undefined) return;
    this.reason = reason;
    this.dispose();
    this.ac.abort();
    this.resolveEnded(reason);
  }

  /** Stop the deadline and stop listening to `signal` (the stream may stay unended). */
  dispose(): void {
    this.timer?.clear();
    this.outer?.removeEventListener('abort', this.onAbort);
  }
}
