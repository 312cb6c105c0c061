#!/usr/bin/env node
/**
 * Start-up bundles (run by `npm run build`, scripts/build.mjs, after tsc).
 *
 * Every zkctl command loads @oclif/core, which is ~150 small CommonJS files with its dependencies
 * (resolving, reading and wrapping each costs more than the code they run), and most load
 * yaml (when a contexts file exists) or cli-table3. This bundles each of
 * those packages, as installed in node_modules, into one file in dist/vendor/ with esbuild, and
 * writes dist/vendor/manifest.json:
 *
 *   { "<package>": { "version": "x.y.z", "bundle": "<file>.cjs", "files": ["lib/index.js", ...] } }
 *
 * `files` are the package's entry files (for @oclif/core: every subpath it exports); the bundle
 * exports one loader per file. At start-up src/cli/vendor.ts puts these modules into Node's module
 * cache under the installed files' own paths, so that `import '@oclif/core'` (from zkctl and from the
 * plugins that share its copy) gets the bundled module and nothing else changes. Packages whose
 * installed version differs from the bundled one are left alone, as is everything when
 * dist/vendor is missing: zkctl then loads the packages from node_modules as usual.
 *
 * Without esbuild (a devDependency) this prints a warning and leaves no dist/vendor.
 * Usage: node scripts/bundle-vendor.mjs [OUT_DIR] [--no-train | --train-only]
 *   OUT_DIR defaults to dist/vendor (its parent is the compiled tree the rewrites take code from);
 *   scripts/build.mjs bundles into its staging dir with --no-train, swaps it in for dist/, writes
 *   the oclif manifest, then runs --train-only (training runs bin/zkctl.js, i.e. dist/).
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const flags = new Set(process.argv.slice(2).filter((a) => a.startsWith('--')));
const positional = process.argv.slice(2).filter((a) => !a.startsWith('--'));
// Where to write (default dist/vendor; scripts/build.mjs passes its staging dir).
const outDir = resolve(root, positional[0] ?? join('dist', 'vendor'));
const train = !flags.has('--no-train');
const bundleNow = !flags.has('--train-only');
const require = createRequire(join(root, 'package.json'));

/** Package -> its entry files (relative to the package root) that zkctl or its plugins load. */
const PACKAGES = {
  '@oclif/core': (pjson) =>
    Object.values(pjson.exports)
      .filter((target) => typeof target === 'string' && target.endsWith('.js'))
      .map((target) => target.replace(/^\.\//, '')),
  yaml: mainEntry,
  'cli-table3': mainEntry,
};
/**
 * Left out of the bundles (still loaded from node_modules if ever required): @oclif/core loads
 * semver only for its Node version check, which the launcher turns off, and typescript only for
 * ts-node development setups.
 */
const EXTERNAL = ['semver', 'typescript', 'ts-node'];

/**
 * Source rewrites of a bundle, for start-up time only (same results): `from` (an exact string,
 * expected `count` times) becomes `to`; `prelude` goes first in the bundle. A rewrite whose
 * string is not found as expected (another version of the package) is skipped with a warning.
 */
const REWRITES = {
  '@oclif/core': [
    {
      // Plugin.load sorts the commands by id: without ICU's collator when the ids allow (src/cli/collate.ts)
      from: '.sort((a, b) => a.id.localeCompare(b.id))',
      to: '.sort((a, b) => __zkctlCompareIds(a.id, b.id))',
      count: 1,
      prelude: async () => `var __zkctlCompareIds = ${(await import(pathToFileURL(join(outDir, '..', 'cli', 'collate.js')).href)).compareIds.toString()};\n`,
    },
  ],
};

function mainEntry(_pjson, name, pkgRoot) {
  return [relative(pkgRoot, require.resolve(name)).split('\\').join('/')];
}

let esbuild;
if (bundleNow) {
  try {
    esbuild = await import('esbuild');
  } catch {
    rmSync(outDir, { recursive: true, force: true });
    process.stderr.write('bundle-vendor: esbuild is not installed; zkctl will load its dependencies unbundled (slower start-up)\n');
    process.exit(0);
  }
} else if (!existsSync(join(outDir, 'manifest.json'))) {
  process.exit(0); // nothing bundled: nothing to train
}

const manifest = bundleNow ? {} : JSON.parse(readFileSync(join(outDir, 'manifest.json'), 'utf8'));
if (bundleNow) {
rmSync(outDir, { recursive: true, force: true });
mkdirSync(outDir, { recursive: true });
for (const [name, entries] of Object.entries(PACKAGES)) {
  const pjsonPath = require.resolve(`${name}/package.json`);
  const pkgRoot = dirname(pjsonPath);
  const pjson = JSON.parse(readFileSync(pjsonPath, 'utf8'));
  const files = entries(pjson, name, pkgRoot);
  const bundle = `${name.replace(/^@/, '').replace(/\//g, '-')}.cjs`;
  const contents = [
    `// ${name} ${pjson.version}: one loader per entry file (see scripts/bundle-vendor.mjs)`,
    ...files.map((f) => `exports[${JSON.stringify(f)}] = () => require(${JSON.stringify(join(pkgRoot, f))});`),
  ].join('\n');
  await esbuild.build({
    stdin: { contents, resolveDir: pkgRoot, sourcefile: `${bundle}.entry.js`, loader: 'js' },
    outfile: join(outDir, bundle),
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    external: EXTERNAL,
    // resolve as Node's require() does: esbuild adds a "module" condition by default, which picks some packages' ESM builds
    conditions: [],
    legalComments: 'eof',
    logLevel: 'error',
  });
  // Code cache (src/cli/vendor.ts): the bundle's `await import(` goes through `__zkctlImport`, its
  // loader's import (a script compiled with vm has none). Any other import( found: no cache.
  let code = readFileSync(join(outDir, bundle), 'utf8');
  for (const rw of REWRITES[name] ?? []) {
    const found = code.split(rw.from).length - 1;
    if (found !== rw.count) {
      process.stderr.write(`bundle-vendor: ${bundle}: expected ${rw.count} of ${JSON.stringify(rw.from)}, found ${found}: not rewritten (slower start-up)\n`);
      continue;
    }
    code = (await rw.prelude()) + code.split(rw.from).join(rw.to);
  }
  code = code.replace(/(?<![\w$.])await import\(/g, 'await __zkctlImport(');
  const otherImports = code.match(/(?<![\w$.'"`])import\(/g);
  manifest[name] = { version: pjson.version, bundle, files };
  if (otherImports) {
    process.stderr.write(`bundle-vendor: ${bundle} has a dynamic import( other than "await import(": no code cache for it\n`);
  } else {
    code = `var __zkctlImport = typeof __zkctl_import === "function" ? __zkctl_import : (s) => import(s);\n${code}`;
    // the build id pairs the bundle with its code cache
    const build = createHash('sha256').update(code).digest('hex').slice(0, 16);
    code += `\n//# zkctl-vendor-build ${build}\n`;
    Object.assign(manifest[name], { cache: `${bundle}.v8cache`, build });
  }
  writeFileSync(join(outDir, bundle), code);
}
writeFileSync(join(outDir, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
}

/*
 * Code caches (see src/cli/vendor.ts): run zkctl as it is ordinarily run, with
 * ZKCTL_VENDOR_CACHE_TRAIN=1, so that each run writes the code cache of the bundles it loaded
 * (the functions it compiled). The runs touch no ensemble and no user file: private XDG dirs, a
 * contexts file for `context ls` (yaml, cli-table3), and a `get` against a port nobody listens
 * on, which fails after its short --timeout (@oclif/core, node-zookeeper-client: the last run
 * writes oclif's cache, so it is the one of an ordinary one-shot command). A failed training
 * leaves a bundle without a cache, which only costs start-up time.
 */
const bin = join(root, 'bin', 'zkctl.js');
if (train && existsSync(bin) && existsSync(join(root, 'oclif.manifest.json'))) {
  const home = mkdtempSync(join(tmpdir(), 'zkctl-train-'));
  try {
    const port = await new Promise((res, rej) => {
      const srv = createServer().listen(0, '127.0.0.1', () => {
        const p = srv.address().port;
        srv.close(() => res(p));
      });
      srv.on('error', rej);
    });
    const cfgDir = join(home, 'config', 'zkctl');
    mkdirSync(cfgDir, { recursive: true });
    writeFileSync(join(cfgDir, 'config.yaml'), `contexts:\n  train:\n    server: 127.0.0.1:${port}\n    timeout: 300ms\ncurrent-context: train\n`);
    const env = { ...process.env, ZKCTL_VENDOR_CACHE_TRAIN: '1', XDG_CONFIG_HOME: join(home, 'config'), XDG_STATE_HOME: join(home, 'state'), XDG_DATA_HOME: join(home, 'data'), XDG_CACHE_HOME: join(home, 'cache'), HOME: home };
    delete env.ZKCTL_SERVER;
    delete env.ZKCTL_NO_VENDOR_BUNDLES;
    delete env.ZKCTL_NO_VENDOR_CACHE;
    delete env.NODE_OPTIONS; // V8 rejects a cache made with other V8 flags than the run's: train as `zkctl` runs plain
    for (const args of [['context', 'ls', '-o', 'yaml'], ['context', 'ls', '-o', 'table'], ['get', '/zookeeper/config']]) {
      spawnSync(process.execPath, [bin, ...args], { env, stdio: 'ignore', timeout: 30_000 });
    }
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
  const missing = Object.values(manifest).filter((p) => !existsSync(join(outDir, p.cache))).map((p) => p.bundle);
  if (missing.length) process.stderr.write(`bundle-vendor: no code cache for ${missing.join(', ')} (slower start-up)\n`);
}
