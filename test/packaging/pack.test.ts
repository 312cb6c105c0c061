/**
 * The npm package (issue 11): `npm pack && npm i -g ./zkctl-*.tgz` installs the man pages (package.json
 * "man"), pulls in no plugin manager (no @oclif/plugin-plugins, hence no yarn or npm), and ships no source
 * maps. The install itself runs into a temporary prefix, offline (from npm's cache); it is skipped when
 * the cache lacks a dependency (a machine that never installed them).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { repoRoot } from '../helpers/zk.js';

const run = promisify(execFile);
const npm = (args: string[], cwd = repoRoot) => run('npm', args, { cwd, maxBuffer: 64 << 20, env: { ...process.env, npm_config_update_notifier: 'false' } });

interface PackJson {
  size: number;
  unpackedSize: number;
  files: Array<{ path: string; size: number }>;
}

describe('npm package', () => {
  const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as {
    man?: string[];
    dependencies: Record<string, string>;
    oclif: { plugins: string[] };
  };
  const scratch = mkdtempSync(join(process.env.ZKCTL_TEST_TMP ?? tmpdir(), 'pack-'));
  after(() => rmSync(scratch, { recursive: true, force: true }));

  it('package.json: a "man" field listing every man page; no plugin manager', () => {
    const pages = readdirSync(join(repoRoot, 'man')).filter((f) => /\.\d$/.test(f)).sort();
    assert.deepEqual((pkg.man ?? []).map((m) => m.replace(/^\.\/man\//, '')).sort(), pages, 'package.json "man" must list exactly man/*.1 (after adding a man page, add it there)');
    assert.ok(pages.includes('zkctl.1'));
    assert.equal(pkg.dependencies['@oclif/plugin-plugins'], undefined);
    assert.ok(!pkg.oclif.plugins.includes('@oclif/plugin-plugins'));
    const lock = JSON.parse(readFileSync(join(repoRoot, 'package-lock.json'), 'utf8')) as { packages: Record<string, { dev?: boolean }> };
    const prodYarnOrNpm = Object.entries(lock.packages).filter(([p, v]) => /(^|\/)node_modules\/(yarn|npm)$/.test(p) && !v.dev);
    assert.deepEqual(prodYarnOrNpm, [], 'a runtime dependency pulls in yarn or npm');
  });

  it('the tarball: man pages, launcher, manifest; no source maps; small', async () => {
    const { stdout } = await npm(['pack', '--dry-run', '--json', '--ignore-scripts']);
    const [p] = JSON.parse(stdout) as PackJson[];
    const files = new Set(p.files.map((f) => f.path));
    for (const m of pkg.man ?? []) assert.ok(files.has(m.replace(/^\.\//, '')), `${m} is not in the tarball`);
    for (const f of ['bin/zkctl.js', 'dist/cli/argv.js', 'dist/index.d.ts', 'oclif.manifest.json', 'README.md']) assert.ok(files.has(f), `${f} is not in the tarball`);
    assert.deepEqual([...files].filter((f) => f.endsWith('.map')), []);
    assert.deepEqual([...files].filter((f) => /^(src|test|build-test|scripts|node_modules)\//.test(f)), []);
    assert.ok(p.unpackedSize < 6 * 1024 * 1024, `unpacked ${p.unpackedSize} bytes`);
  });

  it('npm i -g of the tarball (temp prefix, offline) installs the man pages and no yarn', async (t) => {
    const { stdout } = await npm(['pack', '--json', '--ignore-scripts', '--pack-destination', scratch]);
    const tgz = join(scratch, (JSON.parse(stdout) as Array<{ filename: string }>)[0].filename);
    const prefix = join(scratch, 'prefix');
    try {
      await npm(['i', '-g', '--prefix', prefix, '--offline', '--ignore-scripts', '--no-audit', '--no-fund', tgz], scratch);
    } catch (e) {
      const msg = String((e as { stderr?: string }).stderr ?? e);
      if (/ENOTCACHED/.test(msg)) return t.skip('a dependency is not in npm\'s cache (offline install)');
      throw e;
    }
    for (const m of pkg.man ?? []) assert.ok(existsSync(join(prefix, 'share', 'man', 'man1', m.split('/').pop()!)), `${m} not installed`);
    const mods = join(prefix, 'lib', 'node_modules', 'zkctl', 'node_modules');
    assert.ok(!existsSync(join(mods, 'yarn')), 'yarn was installed');
    assert.ok(!existsSync(join(mods, '@oclif', 'plugin-plugins')), '@oclif/plugin-plugins was installed');
    const r = await run(join(prefix, 'bin', 'zkctl'), ['--version']);
    assert.match(r.stdout, /^zkctl\/\d/);
  });
});
