/**
 * Load a CommonJS-capable dependency on first use instead of at import time,
 * so that commands which never need it do not pay for loading it at start-up
 * (yaml alone is ~70 files). Same module instance as `import` would give:
 * these packages resolve to the same file for `require` and `import`.
 */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

export function lazyRequire<T>(id: string): () => T {
  let mod: T | undefined;
  return () => (mod ??= require(id) as T);
}

/** The `yaml` package, loaded on first use. */
export const yaml = lazyRequire<typeof import('yaml')>('yaml');
