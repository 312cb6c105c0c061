/**
 * Where local ensembles live and how zkctl finds them: the state root
 * ($XDG_STATE_HOME/zkctl), the default ensembles root, the registry of ensembles created
 * outside it (ensembles.json), and an ensemble directory's spec (ensemble.json).
 * No oclif, no chalk, never prints.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join } from 'node:path';
import { UsageError } from '../core/errors.js';
import { writeFileSafeSync } from '../core/file-write.js';
import { checkSpec, type EnsembleSpec } from './config.js';

export const ENSEMBLE_FILE = 'ensemble.json';

/** $XDG_STATE_HOME/zkctl (default ~/.local/state/zkctl). */
export function stateRoot(env: NodeJS.ProcessEnv = process.env): string {
  const xdg = env.XDG_STATE_HOME;
  const base = xdg && isAbsolute(xdg) ? xdg : join(env.HOME || homedir(), '.local', 'state');
  return join(base, 'zkctl');
}

/** Where named ensembles live by default. */
export function ensemblesRoot(env: NodeJS.ProcessEnv = process.env): string {
  return join(stateRoot(env), 'ensembles');
}

export function defaultEnsembleDir(name: string, env: NodeJS.ProcessEnv = process.env): string {
  return join(ensemblesRoot(env), name);
}

export function registryPath(env: NodeJS.ProcessEnv): string {
  return join(stateRoot(env), 'ensembles.json');
}

export function readRegistry(env: NodeJS.ProcessEnv): string[] {
  try {
    const v = JSON.parse(readFileSync(registryPath(env), 'utf8')) as { dirs?: unknown };
    return Array.isArray(v.dirs) ? v.dirs.filter((d): d is string => typeof d === 'string') : [];
  } catch {
    return [];
  }
}

export function writeRegistry(env: NodeJS.ProcessEnv, dirs: string[]): void {
  const p = registryPath(env);
  mkdirSync(dirname(p), { recursive: true, mode: 0o700 });
  atomicWrite(p, JSON.stringify({ dirs: [...new Set(dirs)] }, null, 2) + '\n');
}

export function register(env: NodeJS.ProcessEnv, dir: string): void {
  if (dirname(dir) === ensemblesRoot(env)) return;
  const dirs = readRegistry(env);
  if (!dirs.includes(dir)) writeRegistry(env, [...dirs, dir]);
}

export function unregister(env: NodeJS.ProcessEnv, dir: string): void {
  const dirs = readRegistry(env);
  try {
    if (dirs.includes(dir)) writeRegistry(env, dirs.filter((d) => d !== dir));
  } catch {
    /* a read-only state dir: list() drops entries whose directory is gone */
  }
}

/** Atomic (temp file + fsync + rename) through the one file writer, core/file-write.ts. */
export function atomicWrite(path: string, text: string): void {
  writeFileSafeSync(path, text);
}

export function isEnsembleDir(dir: string): boolean {
  return existsSync(join(dir, ENSEMBLE_FILE));
}

export function readSpec(dir: string): EnsembleSpec {
  const p = join(dir, ENSEMBLE_FILE);
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(p, 'utf8'));
  } catch (e) {
    throw new UsageError(`cannot read ${p}: ${(e as Error).message}`);
  }
  return checkSpec(raw, p);
}

/** The spec, or undefined when ensemble.json is missing or unreadable. */
export function safeSpec(dir: string): EnsembleSpec | undefined {
  try {
    return readSpec(dir);
  } catch {
    return undefined;
  }
}
