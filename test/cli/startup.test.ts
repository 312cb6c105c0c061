/**
 * Start-up: what a command loads. The launcher serves @oclif/core, yaml
 * and cli-table3 from the start-up bundles in dist/vendor (src/cli/vendor.ts), compiled with the
 * code caches the build trained, with the same output as loading them from node_modules; yaml and
 * cli-table3 load only when used (not even for the contexts file zkctl writes); oclif's core
 * plugins load only for invocations that may need them (src/cli/fast-path.ts); nothing builds
 * ICU's collator (src/cli/collate.ts) or, for UTC zones, its date formatter.
 * (Timings are measured by `npm run bench:startup`, never here.)
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, describe, it } from 'node:test';
import { compareIds } from '../../src/cli/collate.js';
import { parseContextsText, setContext } from '../../src/cli/context.js';
import { importOclif, oclifLoadOptions } from '../../src/cli/fast-path.js';
import { UTC_ZONES, localZoneName } from '../../src/output/znode.js';
import { seedVendorModules } from '../../src/cli/vendor.js';
import { repoRoot, runCli, testServer } from '../helpers/zk.js';

const execFileP = promisify(execFile);
const tmp = mkdtempSync(join(process.env.ZKCTL_TEST_TMP ?? tmpdir(), 'startup-'));

/**
 * Preload for the CLI: records every file compiled as CommonJS or as a vm.Script (the bundles with
 * a code cache; for those, whether V8 accepted the cache) and every file read with fs/promises
 * (as oclif reads package.json files and manifests).
 */
const preload = join(tmp, 'record-compiled.cjs');
writeFileSync(
  preload,
  `const Module = require('node:module');
const vm = require('node:vm');
const fsp = require('node:fs/promises');
const { writeFileSync } = require('node:fs');
const compiled = [];
const read = [];
const caches = {};
const compile = Module.prototype._compile;
Module.prototype._compile = function (content, filename) {
  compiled.push(filename);
  return compile.apply(this, arguments);
};
let localeCompares = 0;
const localeCompare = String.prototype.localeCompare;
String.prototype.localeCompare = function () {
  localeCompares++;
  return localeCompare.apply(this, arguments);
};
let dateFormats = 0;
const DateTimeFormat = Intl.DateTimeFormat;
Intl.DateTimeFormat = function (...args) {
  dateFormats++;
  return new DateTimeFormat(...args);
};
const Script = vm.Script;
vm.Script = class extends Script {
  constructor(code, options) {
    super(code, options);
    compiled.push(options.filename);
    if (options.cachedData) caches[options.filename] = this.cachedDataRejected ? 'rejected' : 'accepted';
  }
};
const readFile = fsp.readFile;
fsp.readFile = function (path, ...rest) {
  read.push(String(path));
  return readFile.call(this, path, ...rest);
};
process.on('exit', () => writeFileSync(process.env.ZKCTL_TEST_COMPILED_OUT, JSON.stringify({ compiled, read, caches, localeCompares, dateFormats })));
`,
);

let runs = 0;
/** Run the CLI and return its result with the CommonJS files it compiled and the files oclif read (paths relative to the repo). */
async function runRecorded(args: string[], env: Record<string, string | undefined> = {}) {
  const out = join(tmp, `compiled-${++runs}.json`);
  const r = await runCli(args, { env: { ...env, NODE_OPTIONS: `--require=${preload}`, ZKCTL_TEST_COMPILED_OUT: out } });
  const rel = (f: string) => (f.startsWith(repoRoot) ? f.slice(repoRoot.length) : f);
  const { compiled, read, caches, localeCompares, dateFormats } = JSON.parse(readFileSync(out, 'utf8')) as {
    compiled: string[];
    read: string[];
    caches: Record<string, string>;
    localeCompares: number;
    dateFormats: number;
  };
  return { ...r, localeCompares, dateFormats, compiled: compiled.map(rel), read: read.map(rel), caches: Object.fromEntries(Object.entries(caches).map(([f, v]) => [rel(f), v])) };
}

const corePluginFiles = (read: string[]) => read.filter((f) => /node_modules\/@oclif\/plugin-[a-z-]+\/(package|oclif\.manifest)\.json$/.test(f));

const fromNodeModules = (compiled: string[], pkg: string) => compiled.filter((f) => f.includes(`node_modules/${pkg}/`));

describe('start-up: modules a command loads', () => {
  it('get: @oclif/core comes from the bundles; yaml, cli-table3 and semver are not loaded', async () => {
    const r = await runRecorded(['get', '/zookeeper/config', '-s', testServer()]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /server\.\d+=/);
    assert.ok(r.compiled.includes('dist/vendor/oclif-core.cjs'), r.compiled.join('\n'));
    for (const pkg of ['@oclif/core', 'yaml', 'cli-table3', 'semver']) {
      assert.deepEqual(fromNodeModules(r.compiled, pkg), [], `${pkg} loaded from node_modules`);
    }
    assert.ok(!r.compiled.some((f) => /dist\/vendor\/(yaml|cli-table3)\.cjs$/.test(f)), r.compiled.join('\n'));
    // compiled with the code caches the build trained, which V8 accepted
    assert.deepEqual(r.caches, { 'dist/vendor/oclif-core.cjs': 'accepted' });
    // no ICU collator: oclif's sort of the commands uses compareIds (src/cli/collate.ts)
    assert.equal(r.localeCompares, 0);
    const plain = await runRecorded(['get', '/zookeeper/config', '-s', testServer()], { ZKCTL_NO_VENDOR_BUNDLES: '1' });
    assert.ok(plain.localeCompares > 0, 'unbundled oclif sorts with localeCompare (else this check proves nothing)');
  });

  it('a command of zkctl\'s own does not load the core plugins; help and the plugins\' own commands do', async () => {
    const get = await runRecorded(['get', '/zookeeper/config', '-s', testServer()]);
    assert.equal(get.code, 0, get.stderr);
    assert.deepEqual(corePluginFiles(get.read), []);
    for (const args of [['autocomplete', '--help'], ['get', '--help'], ['help', 'get']]) {
      const r = await runRecorded(args);
      assert.equal(r.code, 0, r.stderr);
      // two core plugins (help, autocomplete; no plugin manager since issue 11): package.json + manifest each
      assert.equal(corePluginFiles(r.read).length, 4, `${args.join(' ')}: ${r.read.join('\n')}`);
    }
  });

  it('yaml and cli-table3 come from the bundles when used, with the same output as without them', async () => {
    for (const args of [
      ['get', '/zookeeper/quota', '-o', 'yaml', '-s', testServer()], // static, unlike /zookeeper/config
      ['stat', '/zookeeper', '-o', 'table', '-s', testServer()],
      ['ls', '/zookeeper', '-o', 'table', '-s', testServer()],
    ]) {
      const bundled = await runRecorded(args);
      const plain = await runRecorded(args, { ZKCTL_NO_VENDOR_BUNDLES: '1' });
      const uncached = await runRecorded(args, { ZKCTL_NO_VENDOR_CACHE: '1' });
      assert.equal(bundled.code, 0, bundled.stderr);
      assert.equal(bundled.stdout, plain.stdout, args.join(' '));
      assert.equal(bundled.stderr, plain.stderr, args.join(' '));
      assert.deepEqual([uncached.code, uncached.stdout, uncached.stderr], [bundled.code, bundled.stdout, bundled.stderr], args.join(' '));
      assert.deepEqual(uncached.caches, {});
      assert.ok(uncached.compiled.includes('dist/vendor/oclif-core.cjs'));
      assert.deepEqual(fromNodeModules(bundled.compiled, '@oclif/core'), []);
      assert.ok(fromNodeModules(plain.compiled, '@oclif/core').length > 0, 'ZKCTL_NO_VENDOR_BUNDLES=1 loads @oclif/core from node_modules');
      if (args.includes('yaml')) assert.ok(bundled.compiled.includes('dist/vendor/yaml.cjs'));
    }
  });

  it('help, usage errors and the core plugins behave the same with and without the bundles', async () => {
    for (const args of [['--help'], ['help', 'get'], ['ls', '--help'], ['autocomplete', '--help'], ['nosuchcommand'], ['get'], ['ensemble'], ['ensemble', 'nosuch']]) {
      const bundled = await runCli(args);
      const plain = await runCli(args, { env: { ZKCTL_NO_VENDOR_BUNDLES: '1' } });
      const uncached = await runCli(args, { env: { ZKCTL_NO_VENDOR_CACHE: '1' } });
      assert.deepEqual([bundled.code, bundled.stdout, bundled.stderr], [plain.code, plain.stdout, plain.stderr], args.join(' '));
      assert.deepEqual([bundled.code, bundled.stdout, bundled.stderr], [uncached.code, uncached.stdout, uncached.stderr], args.join(' '));
    }
  });
});

describe('start-up: contexts file without yaml', () => {
  const Y = createRequire(import.meta.url)('yaml') as typeof import('yaml');
  const same = (text: string) => {
    let expected: unknown;
    try {
      expected = Y.parse(text);
    } catch {
      assert.equal(parseContextsText(text), undefined, `yaml rejects, the fast reader must leave it to yaml: ${JSON.stringify(text)}`);
      return undefined;
    }
    const fast = parseContextsText(text);
    if (fast !== undefined) assert.deepEqual(fast, expected, JSON.stringify(text));
    return fast;
  };

  it('reads what zkctl writes as yaml does', () => {
    const path = join(mkdtempSync(join(tmp, 'contexts-')), 'config.yaml');
    setContext('local', { server: '127.0.0.1:2181,127.0.0.1:2182,127.0.0.1:2183', 'ensemble-dir': '/root/.local/state/zkctl/ensembles/local' }, { path, makeCurrent: true });
    assert.ok(same(readFileSync(path, 'utf8')), 'the usual file is read without yaml');
    setContext('prod', { server: 'zk1.example.com:2181,zk2.example.com:2181/app', auth: 'digest:ops:s3cret', timeout: '5s' }, { path });
    setContext('one', { server: '127.0.0.1:2181' }, { path, makeCurrent: true });
    assert.ok(same(readFileSync(path, 'utf8')));
    // values yaml must quote or would not read as strings: still the same result (through yaml)
    for (const server of ['10', '1e3', 'true', 'null', '0x1f', 'a: b', 'x #y', '/a b', '[::1]:2181', "it's", '"q"', '-x', '', ' lead', 'tab\there', 'ünï:1']) {
      setContext('odd', { server, timeout: '10' }, { path });
      same(readFileSync(path, 'utf8'));
    }
  });

  it('leaves anything else to yaml, with the same result', () => {
    const docs = [
      '',
      'contexts: {}\n',
      'contexts:\n',
      'contexts:\n  a:\n',
      'contexts:\n  a:\n    server: h:1\ncurrent-context: a',
      '# comment\ncontexts:\n  a:\n    server: h:1\n',
      'contexts:\n  a:\n    server: h:1 # comment\n',
      'contexts:\n  a:\n    server: h:1\n  a:\n    server: h:2\n',
      'contexts:\n  a:\n    server: h:1\n    server: h:2\n',
      'contexts:\n  a:\n    server: h:1\ncontexts:\n  b:\n    server: h:2\n',
      'contexts:\r\n  a:\r\n    server: h:1\r\n',
      'contexts:\n  a: {server: h:1}\n',
      'contexts:\n  "a b":\n    server: h:1\n',
      'contexts:\n  a:\n    server: "h:1"\n',
      'contexts:\n  a:\n    server: h:1\n    timeout: 10\n',
      'contexts:\n  a:\n      server: h:1\n',
      'contexts:\n\ta:\n    server: h:1\n',
      '---\ncontexts:\n  a:\n    server: h:1\n',
      'current-context: a\n',
      'current-context: 1\ncontexts:\n  a:\n    server: h:1\n',
      'contexts:\n  1:\n    server: h:1\n',
      'contexts:\n  a:\n    server: h:1\n    ensemble-dir: /x/y z\n',
      'contexts:\n  a:\n    server: h:1,h:2/c\n    auth: digest:u:p@ss=1\n',
    ];
    for (const text of docs) same(text);
    assert.ok(same('contexts:\n  a:\n    server: h:1,h:2/c\n    auth: digest:u:p@ss=1\n'));
  });

  it('get with the current context loads no yaml', async () => {
    const home = mkdtempSync(join(tmp, 'xdg-'));
    setContext('t', { server: testServer(), timeout: '10s' }, { path: join(home, 'zkctl', 'config.yaml'), makeCurrent: true });
    const r = await runRecorded(['get', '/zookeeper/config'], { XDG_CONFIG_HOME: home, ZKCTL_SERVER: undefined });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /server\.\d+=/);
    assert.ok(!r.compiled.some((f) => /yaml/.test(f)), r.compiled.join('\n'));
  });
});

describe('start-up: time zone names without ICU', () => {
  it('the zones taken as "UTC" are "UTC" to Intl, in winter and summer', () => {
    for (const timeZone of UTC_ZONES) {
      for (const d of [new Date('2026-01-15T12:00:00Z'), new Date('2026-07-15T12:00:00Z')]) {
        const name = new Intl.DateTimeFormat('en-US', { timeZone, timeZoneName: 'short' }).formatToParts(d).find((p) => p.type === 'timeZoneName')?.value;
        assert.equal(name, 'UTC', timeZone);
      }
    }
    assert.equal(localZoneName({ TZ: 'Etc/UTC' }), 'Etc/UTC');
    assert.equal(localZoneName({ TZ: 'Europe/London' }), 'Europe/London');
  });

  it('stat in a UTC zone builds no date formatter; in another zone it does, with the zone\'s name', async () => {
    const utc = await runRecorded(['stat', '/zookeeper', '-s', testServer()], { TZ: 'Etc/UTC' });
    assert.equal(utc.code, 0, utc.stderr);
    assert.match(utc.stdout, /^mtime = \w{3} \w{3} \d\d \d\d:\d\d:\d\d UTC \d{4}$/m);
    assert.equal(utc.dateFormats, 0);
    const ny = await runRecorded(['stat', '/zookeeper', '-s', testServer()], { TZ: 'America/New_York' });
    assert.equal(ny.code, 0, ny.stderr);
    assert.match(ny.stdout, /^mtime = \w{3} \w{3} \d\d \d\d:\d\d:\d\d E[SD]T \d{4}$/m);
    assert.ok(ny.dateFormats > 0);
  });
});

describe('start-up: compareIds', () => {
  const sign = (n: number) => Math.sign(n);
  it('orders as localeCompare does: every pair of zkctl\'s command ids, of short strings of its alphabet, and of others', () => {
    const manifest = JSON.parse(readFileSync(join(repoRoot, 'oclif.manifest.json'), 'utf8')) as { commands: Record<string, unknown> };
    const alphabet = [...'_-:.0123456789abcdefghijklmnopqrstuvwxyz'];
    const words = ['', ...alphabet, ...alphabet.flatMap((x) => ['a', ':', '-', '9', 'z'].map((y) => x + y))];
    const others = ['A', 'Get', 'get', 'gét', 'ge t', 'g\u0000et', 'ge\u0301t', 'ensemble:drill', 'ensemble-drill', 'ensemble.drill', 'ensemble_drill', 'x/y', 'ä', 'ß', '日本'];
    const all = [...Object.keys(manifest.commands), ...words, ...others];
    let pairs = 0;
    for (const a of all) {
      for (const b of all) {
        assert.equal(sign(compareIds(a, b)), sign(a.localeCompare(b)), `${JSON.stringify(a)} vs ${JSON.stringify(b)}`);
        pairs++;
      }
    }
    assert.ok(pairs > 40_000);
  });
});

describe('start-up: oclifLoadOptions', () => {
  const bin = new URL('bin/zkctl.js', `file://${repoRoot}`).href;
  it('loads zkctl without the core plugins only for its own commands and topics, without --help', () => {
    for (const argv of [['get', '/x'], ['ensemble'], ['ensemble', 'up', '--size', '3'], ['get', '/x', '--', '--help'], ['context', 'ls']]) {
      const o = oclifLoadOptions(argv, bin) as { root: string; pjson: { name: string; oclif: { plugins: string[] } } };
      assert.equal(typeof o, 'object', argv.join(' '));
      assert.equal(o.root, repoRoot.replace(/\/$/, ''));
      assert.equal(o.pjson.name, 'zkctl');
      assert.deepEqual(o.pjson.oclif.plugins, []);
    }
    for (const argv of [[], ['--help'], ['help'], ['help', 'get'], ['get', '--help'], ['get', '-h'], ['plugins'], ['plugins', 'install', 'x'], ['autocomplete'], ['nosuchcommand'], ['ensemble:up'], ['../dist/cli/base'], ['--version', 'x']]) {
      assert.equal(oclifLoadOptions(argv, bin), bin, argv.join(' '));
    }
  });
});

describe('start-up: seedVendorModules', () => {
  const require = createRequire(import.meta.url);
  // cli-table3 as the guinea pig: this test file loads it nowhere else.
  const tableEntry = require.resolve('cli-table3');
  const tableVersion = (require('cli-table3/package.json') as { version: string }).version;

  function vendorDir(version: string): string {
    const dir = mkdtempSync(join(tmp, 'vendor-'));
    writeFileSync(join(dir, 'manifest.json'), JSON.stringify({ 'cli-table3': { version, bundle: 'table.cjs', files: ['index.js'] } }));
    writeFileSync(join(dir, 'table.cjs'), `exports['index.js'] = () => ({ fromBundle: true });\n`);
    return dir;
  }

  after(() => {
    delete require.cache[tableEntry];
  });

  it('does nothing without a manifest, when turned off, or when the installed version differs', () => {
    assert.deepEqual(seedVendorModules(join(tmp, 'no-such-dir')), []);
    assert.deepEqual(seedVendorModules(vendorDir(tableVersion), { ZKCTL_NO_VENDOR_BUNDLES: '1' }), []);
    assert.deepEqual(seedVendorModules(vendorDir('0.0.0-other')), []);
    assert.equal(require.cache[tableEntry], undefined);
  });

  /** A bundle set up for a code cache as scripts/bundle-vendor.mjs makes one: its dynamic import goes through __zkctlImport. */
  function cachedVendorDir(build: string, trailer = build): string {
    const dir = mkdtempSync(join(tmp, 'vendor-cache-'));
    writeFileSync(join(dir, 'manifest.json'), JSON.stringify({ 'cli-table3': { version: tableVersion, bundle: 'table.cjs', files: ['index.js'], cache: 'table.cjs.v8cache', build } }));
    writeFileSync(
      join(dir, 'table.cjs'),
      `var __zkctlImport = typeof __zkctl_import === "function" ? __zkctl_import : (s) => import(s);\n` +
        `exports['index.js'] = () => ({ fromBundle: true, file: __filename, osCpus: () => __zkctlImport('node:os').then((m) => typeof m.cpus) });\n` +
        `//# zkctl-vendor-build ${trailer}\n`,
    );
    return dir;
  }
  /** Load cli-table3 through seedVendorModules(dir, env) in a fresh node; what it loaded and how. */
  async function loadInChild(dir: string, env: Record<string, string> = {}): Promise<{ value: { fromBundle: boolean; file: string; osCpus: string }; how: string }> {
    const vendorUrl = new URL('../../src/cli/vendor.js', import.meta.url).href;
    const script = `const v = await import(${JSON.stringify(vendorUrl)});
const { createRequire } = await import('node:module');
v.seedVendorModules(${JSON.stringify(dir)}, process.env);
const m = createRequire(${JSON.stringify(vendorUrl)})('cli-table3');
const value = { fromBundle: m.fromBundle, file: m.file, osCpus: await m.osCpus() };
console.log(JSON.stringify({ value, how: v.bundleLoads['table.cjs'] }));`;
    const { stdout } = await execFileP(process.execPath, ['--input-type=module', '-e', script], { env: { ...process.env, ...env }, timeout: 30_000 });
    return JSON.parse(stdout) as { value: { fromBundle: boolean; file: string; osCpus: string }; how: string };
  }

  it('code cache: a training run writes it, later runs compile with it; the bundle works the same (dynamic import too) with, without and with a bad cache', async () => {
    const dir = cachedVendorDir('b1');
    const expected = { fromBundle: true, file: join(dir, 'table.cjs'), osCpus: 'function' };
    assert.deepEqual(await loadInChild(dir), { value: expected, how: 'no-cache' });
    assert.deepEqual(await loadInChild(dir, { ZKCTL_VENDOR_CACHE_TRAIN: '1' }), { value: expected, how: 'train' });
    assert.ok(statSync(join(dir, 'table.cjs.v8cache')).size > 0);
    assert.deepEqual(await loadInChild(dir), { value: expected, how: 'cache-accepted' });
    assert.deepEqual(await loadInChild(dir, { ZKCTL_NO_VENDOR_CACHE: '1' }), { value: expected, how: 'require' });
    // a cache V8 does not accept (here: garbage) is ignored
    writeFileSync(join(dir, 'table.cjs.v8cache'), 'not a code cache');
    assert.deepEqual(await loadInChild(dir), { value: expected, how: 'cache-rejected' });
  });

  it('code cache: one made for another build of the bundle is not used', async () => {
    const dir = cachedVendorDir('b2');
    await loadInChild(dir, { ZKCTL_VENDOR_CACHE_TRAIN: '1' });
    const other = cachedVendorDir('b2', 'b3'); // the bundle's last line names another build than the manifest
    copyFileSync(join(dir, 'table.cjs.v8cache'), join(other, 'table.cjs.v8cache'));
    assert.equal((await loadInChild(other)).how, 'no-cache');
    assert.equal((await loadInChild(dir)).how, 'cache-accepted');
  });

  it('serves require() and import of the package from the bundle, evaluated on first use', async () => {
    assert.deepEqual(seedVendorModules(vendorDir(tableVersion)), ['cli-table3']);
    assert.deepEqual(require('cli-table3'), { fromBundle: true });
    const imported = (await import('cli-table3')) as { default: unknown };
    assert.deepEqual(imported.default, { fromBundle: true });
    // an entry already in the cache is kept: one copy per process
    assert.deepEqual(seedVendorModules(vendorDir(tableVersion)), []);
  });
});

describe('start-up: importOclif', () => {
  it('leaves OCLIF_DISABLE_ENGINE_WARNING as it found it', async () => {
    const before = process.env.OCLIF_DISABLE_ENGINE_WARNING;
    const core = await importOclif();
    assert.equal(typeof core.execute, 'function');
    assert.equal(process.env.OCLIF_DISABLE_ENGINE_WARNING, before);
  });
});
