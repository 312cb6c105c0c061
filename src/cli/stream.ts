/**
 * The one scaffolding for commands that run until something ends them (watch, get -w, config
 * watch, services watch, elect watch, ensemble watch, ensemble top, lock, elect, create --hold,
 * wait, services wait): the process signals that end them, --for, --count, InterruptedError and
 * the exit status of an interrupted run. The stream itself (count, deadline, end reason) is
 * core's StreamControl; hooks run with core's runHook (core/proc.ts), in childEnv: no ZKCTL_*
 * credential ever reaches a hook (ZKCTL_AUTH and any ZKCTL_* naming AUTH, PASS, SECRET, TOKEN,
 * CRED, KEY, SASL or JAAS).
 *
 * Signals: streams and waits catch SIGINT and SIGTERM once (a second one ends the process as
 * usual); holders (lock, elect, services register) catch SIGINT, SIGTERM and SIGHUP until they
 * have released (SignalTrap). Exit status of an interrupted run: 130, or with `bySignal` the
 * signal's own (130 SIGINT, 143 SIGTERM, 129 SIGHUP), as each command documents.
 */
import { Flags } from '@oclif/core';
import { parseDuration } from '../core/duration.js';
import { InterruptedError } from '../core/errors.js';
import { exitStatusOf, SignalTrap, TERMINATING_SIGNALS } from '../core/proc.js';
import { StreamControl, type StreamEnd } from '../core/stream.js';

/** The signals a stream or a wait ends on. */
export const STREAM_SIGNALS: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM'];

export const countFlag = (summary: string) => Flags.integer({ summary, min: 1 });
export const forFlag = (summary: string) => Flags.string({ summary });

/** A trap for Ctrl-C and SIGTERM, caught once: `signal` aborts on the first. */
export function interruptTrap(): SignalTrap {
  return new SignalTrap(STREAM_SIGNALS, { once: true });
}

/** A trap for holders (lock, elect, services register): SIGINT, SIGTERM and SIGHUP, until disposed. */
export function holdTrap(): SignalTrap {
  return new SignalTrap(TERMINATING_SIGNALS);
}

/** The exit status of a run a signal ended: 130, or the signal's own with `bySignal`. */
export function interruptedStatus(signal: NodeJS.Signals | undefined, bySignal = false): number {
  return bySignal ? exitStatusOf({ code: null, signal: signal ?? 'SIGINT' }) : 130;
}

/** InterruptedError (exit 130) once `signal` aborts: race it with the work. */
export function interrupted(signal: AbortSignal, message?: string): Promise<never> {
  const p = new Promise<never>((_, reject) => {
    if (signal.aborted) reject(new InterruptedError(message));
    else signal.addEventListener('abort', () => reject(new InterruptedError(message)), { once: true });
  });
  p.catch(() => undefined); // raced by the caller; never unhandled
  return p;
}

/**
 * A stream ended by --count, --for (a duration flag, parsed here), Ctrl-C or SIGTERM, or the
 * command's own reasons (end(R)). Call `finish()` when it is over: it disposes of the trap and
 * the deadline and sets the exit status of an interrupted stream (130).
 */
export class Stream<R extends string = StreamEnd> extends StreamControl<R> {
  readonly trap: SignalTrap;

  /** Start it once connected (a Ctrl-C while connecting ends zkctl as usual); parse --for before, with parseFor. */
  constructor(opts: { count?: number; forMs?: number; signals?: readonly NodeJS.Signals[] } = {}) {
    const trap = new SignalTrap(opts.signals ?? STREAM_SIGNALS, { once: true });
    super({ count: opts.count, forMs: opts.forMs, signal: trap.signal });
    this.trap = trap;
  }

  /** The signal that ended it, if one did. */
  get received(): NodeJS.Signals | undefined {
    return this.trap.received;
  }

  override dispose(): void {
    super.dispose();
    this.trap.dispose();
  }

  /** Dispose, and when a signal ended the stream set the exit status (130, or the signal's with `bySignal`). */
  finish(bySignal = false): void {
    this.dispose();
    if (this.interrupted) process.exitCode = interruptedStatus(this.received, bySignal);
  }
}

/** A --for flag's value in ms (exit 2 on a bad one, before connecting); undefined when not given. */
export function parseFor(value: string | undefined, what = '--for'): number | undefined {
  return value !== undefined ? parseDuration(value, what) : undefined;
}
