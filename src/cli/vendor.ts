/**
 * Start-up bundles: scripts/bundle-vendor.mjs bundles @oclif/core, yaml
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
 *
 * Code caches: compiling a bundle's functions costs more than running them once. The build
 * (scripts/bundle-vendor.mjs) runs zkctl a few times with ZKCTL_VENDOR_CACHE_TRAIN=1, which
 * makes each process write V8's code cache of every bundle it loaded when it exits
 * (`vm.Script#createCachedData`: the bytecode of every function compiled so far) next to the
 * bundle; a normal run compiles the bundle with that cache. The manifest pairs a cache with its
 * bundle by a build id that the bundle's last line repeats; V8 itself rejects a cache made by
 * another V8 version or with other V8 flags (the bundle is then compiled as without a cache).
 * A script compiled with `vm` has no `import()` of its own (Node 20 offers only an experimental
 * one that warns on stderr), so the build rewrites a bundle's `await import(` into
 * `await __zkctlImport(`, which is the `import` of this module when the bundle is loaded here
 * (oclif imports absolute file URLs only: where the import is written does not matter) and the
 * bundle's own `import` when it is `require`d. A bundle without a cache in the manifest is
 * `require`d, as is every bundle with ZKCTL_NO_VENDOR_CACHE=1; a missing cache file, or one for
 * another build or that V8 rejects, means compiling without it.
 */
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import Module, { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import vm from 'node:vm';

interface VendorPackage {
  version: string;
  bundle: string;
  files: string[];
  /** V8 code cache file (written by the training runs), paired with the bundle by `build` */
  cache?: string;
  /** build id, also the bundle's last line: `//# zkctl-vendor-build <id>` */
  build?: string;
}

/** What loading a bundle did (for tests and `DEBUG`-style inspection): per bundle file name. */
export const bundleLoads: Record<string, 'require' | 'cache-accepted' | 'cache-rejected' | 'no-cache' | 'train'> = {};

const on = (v: string | undefined) => !!v && v !== '0';

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
    pkg.files.forEach((file, i) =>
      seed(filenames[i], () => {
        loaders ??= loadBundle(dir, pkg, env);
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

const trained: Array<{ path: string; script: vm.Script }> = [];

/**
 * Load a bundle: with its code cache when there is one for this build (see the top), else with
 * `require`. Either way the bundle is a CommonJS module under its own path, as `require` makes it.
 */
function loadBundle(dir: string, pkg: VendorPackage, env: NodeJS.ProcessEnv): Record<string, () => unknown> {
  const path = join(dir, pkg.bundle);
  const name = pkg.bundle;
  const train = on(env.ZKCTL_VENDOR_CACHE_TRAIN);
  if (!pkg.cache || !pkg.build || (on(env.ZKCTL_NO_VENDOR_CACHE) && !train) || require.cache[path]) {
    bundleLoads[name] = 'require';
    return require(path) as Record<string, () => unknown>;
  }
  const source = readFileSync(path, 'utf8');
  let cachedData: Buffer | undefined;
  if (!train && source.endsWith(`\n//# zkctl-vendor-build ${pkg.build}\n`)) {
    try {
      cachedData = readFileSync(join(dir, pkg.cache));
    } catch {
      /* no cache: compile */
    }
  }
  const script = new vm.Script(`(function (exports, require, module, __filename, __dirname, __zkctl_import) {${source}\n})`, { filename: path, cachedData });
  bundleLoads[name] = train ? 'train' : !cachedData ? 'no-cache' : script.cachedDataRejected ? 'cache-rejected' : 'cache-accepted';
  const m = new Module(path);
  m.filename = path;
  m.paths = (Module as unknown as { _nodeModulePaths(from: string): string[] })._nodeModulePaths(dir);
  require.cache[path] = m;
  try {
    const wrapper = script.runInThisContext() as (...args: unknown[]) => void;
    wrapper.call(m.exports, m.exports, createRequire(path), m, path, dir, (specifier: string) => import(specifier));
  } catch (e) {
    delete require.cache[path];
    throw e;
  }
  m.loaded = true;
  if (train) {
    if (trained.length === 0) process.on('exit', writeCaches);
    trained.push({ path: join(dir, pkg.cache), script });
  }
  return m.exports as Record<string, () => unknown>;
}

/** Training run (ZKCTL_VENDOR_CACHE_TRAIN=1): at exit, write the code cache of each bundle loaded. */
function writeCaches(): void {
  for (const { path, script } of trained) {
    const tmp = `${path}.${process.pid}.tmp`;
    try {
      writeFileSync(tmp, script.createCachedData());
      renameSync(tmp, path);
    } catch (e) {
      // best effort (e.g. a read-only installation): the bundle then simply has no cache
      process.stderr.write(`zkctl: cannot write ${path}: ${(e as Error).message}\n`);
    }
  }
}
