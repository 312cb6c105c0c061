/**
 * What `zkctl wait` and `zkctl services wait` share: the deadline (--timeout), Ctrl-C, and the end:
 * exit 0 when met; exit 10 when not in time, with what was seen last (JSON/YAML on stdout with
 * -o json|yaml / --json, one line on stderr); 130 on SIGINT, 143 on SIGTERM.
 */
import { ExitCode, ZkctlError } from '../core/errors.js';
import { interruptedStatus, interruptTrap } from './stream.js';
import type { WaitOutcome } from '../core/recipes/wait.js';
import { formatJson } from '../output/index.js';
import type { OutputFormat, Printer } from '../output/index.js';

/** Ctrl-C / SIGTERM end a wait: the abort signal, and which signal it was. */
export function waitSignals(): { signal: AbortSignal; received: () => NodeJS.Signals | undefined; dispose: () => void } {
  const trap = interruptTrap();
  return { signal: trap.signal, received: () => trap.received, dispose: () => trap.dispose() };
}

/** The outcome's fields every wait result carries (elapsed time counted from t0, connecting included). */
export function outcomeFields<S>(outcome: WaitOutcome<S>, t0: number): { met: boolean; elapsedMs: number; seen: S | null; checks: number; connected: boolean; lastError?: string; interrupted?: true } {
  return {
    met: outcome.met,
    elapsedMs: Date.now() - t0,
    seen: outcome.seen ?? null,
    checks: outcome.checks,
    connected: outcome.connected,
    ...(outcome.lastError !== undefined ? { lastError: outcome.lastError } : {}),
    ...(outcome.interrupted ? { interrupted: true as const } : {}),
  };
}

/** The end of a not-met line: the last error, and whether the session was connected at the end. */
export function outcomeTail(outcome: WaitOutcome<unknown>): string {
  return `${outcome.lastError ? `; last error: ${outcome.lastError}` : ''}${outcome.connected ? '' : ' (not connected at the end)'}`;
}

/** The result of a wait as printed: `what` (path/service and condition) merged with the outcome. */
export function endWait<R extends Record<string, unknown>>(
  c: { jsonEnabled(): boolean; readonly outputFormat: OutputFormat; readonly printer: Printer },
  result: R & { met: boolean },
  outcome: WaitOutcome<unknown>,
  o: { signal?: NodeJS.Signals; notMet: () => string; progress: (msg: string) => void; metLine: string },
): R {
  const structured = c.outputFormat === 'json' || c.outputFormat === 'yaml';
  if (outcome.met) {
    if (!c.jsonEnabled() && structured) c.printer.object(result);
    o.progress(o.metLine);
    return result;
  }
  // Not met (or interrupted): the report is data for the script, printed before the error
  // (with --json oclif prints only what run() returns: an interrupted wait returns it).
  if (c.jsonEnabled() && !outcome.interrupted) process.stdout.write(`${formatJson(result)}\n`);
  else if (!c.jsonEnabled() && structured) c.printer.object(result);
  if (outcome.interrupted) {
    process.stderr.write(`zkctl: interrupted (${o.signal ?? 'SIGINT'}) after ${(outcome.elapsedMs / 1000).toFixed(1)}s: ${o.notMet()}\n`);
    process.exitCode = interruptedStatus(o.signal, true);
    return result;
  }
  throw new ZkctlError(o.notMet(), ExitCode.NOT_ACQUIRED);
}
