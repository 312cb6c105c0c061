#!/usr/bin/env node
/**
 * Start-up bundles (run by `npm run build`, scripts/build.mjs, after tsc).
 *
 * Every zkctl command loads @oclif/core, which is ~150 small CommonJS files with its dependencies
 * (resolving, reading and wrapping each costs more than the code they run), and most load
 * node-zookeeper-client, yaml (when a contexts file exists) or cli-table3. This bundles each of
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
 * Usage: node scripts/bundle-vendor.mjs [OUT_DIR]
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
// Where to write (default dist/vendor; scripts/build.mjs passes its staging dir).
const outDir = resolve(root, process.argv[2] ?? join('dist', 'vendor'));
const require = createRequire(join(root, 'package.json'));

/** Package -> its entry files (relative to the package root) that zkctl or its plugins load. */
const PACKAGES = {
  '@oclif/core': (pjson) =>
    Object.values(pjson.exports)
      .filter((target) => typeof target === 'string' && target.endsWith('.js'))
      .map((target) => target.replace(/^\.\//, '')),
  'node-zookeeper-client': mainEntry,
  yaml: mainEntry,
  'cli-table3': mainEntry,
};
/**
 * Left out of the bundles (still loaded from node_modules if ever required): @oclif/core loads
 * semver only for its Node version check, which the launcher turns off, and typescript only for
 * ts-node development setups.
 */
const EXTERNAL = ['semver', 'typescript', 'ts-node'];

function mainEntry(_pjson, name, pkgRoot) {
  return [relative(pkgRoot, require.resolve(name)).split('\\').join('/')];
}

let esbuild;
try {
  esbuild = await import('esbuild');
} catch {
  rmSync(outDir, { recursive: true, force: true });
  process.stderr.write('bundle-vendor: esbuild is not installed; zkctl will load its dependencies unbundled (slower start-up)\n');
  process.exit(0);
}

rmSync(outDir, { recursive: true, force: true });
mkdirSync(outDir, { recursive: true });
const manifest = {};
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
  manifest[name] = { version: pjson.version, bundle, files };
}
writeFileSync(join(outDir, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
