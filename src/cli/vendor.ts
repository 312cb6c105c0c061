/**
 * Start-up bundles: scripts/bundle-vendor.mjs bundles @oclif/core, node-zookeeper-client, yaml
 * and cli-table3 (each ~20-150 small CommonJS files with their dependencies) into one file per
 * package in dist/vendor/. `seedVendorModules` enters their entry files in Node's module cache
 * (`require.cache`, which `import` of a CommonJS file also consults) under the installed files'
 * own paths, each evaluated on first use. Whoever then imports '@oclif/core' from this
 * installation (zkctl, the core plugins, user plugins sharing its copy) gets the bundled module:
 * one copy, loaded from one file.
 *
 * A package is left to the usual loading when the manifest or bundle is missing, when its
 * installed version is not the bundled one, or when one of its entry files is already loaded.
 * ZKCTL_NO_VENDOR_BUNDLES=1 turns it all off (to compare, or to rule the bundles out).
 */
import { readFileSync } from 'node:fs';
import Module, { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

interface VendorPackage {
  version: string;
  bundle: string;
  files: string[];
}

const require = createRequire(import.meta.url);

/** Seed the module cache from the bundles in `dir`; returns the names of the packages seeded. */
export function seedVendorModules(dir: string = fileURLToPath(new URL('../vendor/', import.meta.url)), env: NodeJS.ProcessEnv = process.env): string[] {
  if (env.ZKCTL_NO_VENDOR_BUNDLES && env.ZKCTL_NO_VENDOR_BUNDLES !== '0') return [];
  let manifest: Record<string, VendorPackage>;
  try {
    manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as Record<string, VendorPackage>;
  } catch {
    return [];
  }
  const seeded: string[] = [];
  for (const [name, pkg] of Object.entries(manifest)) {
    let pkgRoot: string;
    try {
      const pjsonPath = require.resolve(`${name}/package.json`);
      if ((JSON.parse(readFileSync(pjsonPath, 'utf8')) as { version?: string }).version !== pkg.version) continue;
      pkgRoot = dirname(pjsonPath);
    } catch {
      continue;
    }
    const filenames = pkg.files.map((f) => join(pkgRoot, f));
    if (filenames.some((f) => require.cache[f])) continue;
    let loaders: Record<string, () => unknown> | undefined;
    const bundlePath = join(dir, pkg.bundle);
    pkg.files.forEach((file, i) =>
      seed(filenames[i], () => {
        loaders ??= require(bundlePath) as Record<string, () => unknown>;
        return loaders[file]();
      }),
    );
    seeded.push(name);
  }
  return seeded;
}

/** A loaded module at `filename` whose exports come from `load()` on first access. */
function seed(filename: string, load: () => unknown): void {
  const m = new Module(filename);
  m.filename = filename;
  m.paths = [];
  m.loaded = true;
  let exports: unknown;
  let done = false;
  Object.defineProperty(m, 'exports', {
    configurable: true,
    enumerable: true,
    get: () => {
      if (!done) {
        exports = load();
        done = true;
      }
      return exports;
    },
    set: (value: unknown) => {
      exports = value;
      done = true;
    },
  });
  require.cache[filename] = m;
}
