/**
 * chalk for printers that colour only on a TTY. chalk 5 is ESM-only, so it
 * cannot be required on first use; printers `await loadChalk()` before their
 * first coloured output and then use `loadedChalk()` synchronously. Runs
 * without colour (pipes, scripts, benchmarks) never load it.
 */
import type { ChalkInstance } from 'chalk';

let chalk: ChalkInstance | undefined;

export async function loadChalk(): Promise<ChalkInstance> {
  chalk ??= (await import('chalk')).default;
  return chalk;
}

/** chalk once `loadChalk()` has resolved, else undefined. */
export function loadedChalk(): ChalkInstance | undefined {
  return chalk;
}
