#!/usr/bin/env node
/**
 * `npm run build`: compile into a staging directory, bundle the vendor modules there, then swap it
 * in for dist/ with two renames, and write the oclif manifest. A zkctl (or a test run) using dist/
 * while a build runs sees the old tree or the new one, never a half-deleted one; files of deleted
 * sources do not linger.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(join(root, 'package.json'));
const stage = join(root, '.build');
const next = join(stage, 'dist');
const old = join(stage, 'dist.old');
const run = (file, args, env = {}, stdio = 'inherit') => execFileSync(file, args, { cwd: root, stdio, env: { ...process.env, ...env } });

rmSync(stage, { recursive: true, force: true });
mkdirSync(stage, { recursive: true });
try {
  run(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', 'tsconfig.json', '--outDir', next]);
  run(process.execPath, [join(root, 'scripts', 'bundle-vendor.mjs'), join(next, 'vendor'), '--no-train']);
  const dist = join(root, 'dist');
  if (existsSync(dist)) renameSync(dist, old);
  renameSync(next, dist);
  run(process.execPath, [require.resolve('oclif/bin/run.js'), 'manifest'], { OCLIF_SKIP_NEW_VERSION_CHECK: 'true' }, ['ignore', 'ignore', 'inherit']);
  // V8 code caches for the bundles, made by running the new dist/ (see bundle-vendor.mjs).
  run(process.execPath, [join(root, 'scripts', 'bundle-vendor.mjs'), join(dist, 'vendor'), '--train-only']);
} finally {
  rmSync(stage, { recursive: true, force: true });
}
