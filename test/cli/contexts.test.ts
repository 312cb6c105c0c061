/**
 * The contexts file (issue 10.4, 10.5, 10.16, 21): a current-context that names nothing usable is
 * exit 2 naming the file and the context (never a silent 127.0.0.1:2181); concurrent writers all
 * land (read-modify-write under a lock that dies with its holder); the file's home falls back when
 * HOME is missing or read-only, and errors name the directory.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { configPath, loadConfig } from '../../src/cli/context.js';
import { lockFileSync, processStartTime } from '../../src/core/file-lock.js';
import { cliStartAllowanceMs, runCli, testServer } from '../helpers/zk.js';

const isRoot = process.getuid?.() === 0;

function home(name: string): { dir: string; file: string; env: Record<string, string | undefined> } {
  const dir = mkdtempSync(join(process.env.ZKCTL_TEST_TMP ?? tmpdir(), `${name}-`));
  mkdirSync(join(dir, 'zkctl'));
  return { dir, file: join(dir, 'zkctl', 'config.yaml'), env: { XDG_CONFIG_HOME: dir, ZKCTL_SERVER: undefined, ZKCTL_AUTH: undefined } };
}

describe('contexts file: a current context that names nothing usable is exit 2', () => {
  const cases: Array<[string, string, RegExp]> = [
    ['a missing name', 'current-context: gone\ncontexts:\n  a:\n    server: 127.0.0.1:1\n', /current-context "gone" names no context/],
    ['a null entry', 'current-context: a\ncontexts:\n  a:\n', /context "a" is empty or not a mapping/],
    ['contexts written as a list', 'current-context: a\ncontexts:\n  - a\n', /contexts must be a mapping .*not a list/],
    ['a number as server', 'current-context: a\ncontexts:\n  a:\n    server: 12345\n', /context "a": server must be a string .*not the number 12345/],
    ['a list as server', 'current-context: a\ncontexts:\n  a:\n    server: [x]\n', /context "a": server must be a string/],
    ['a current-context that is not a name', 'current-context: [a]\ncontexts:\n  a:\n    server: 127.0.0.1:1\n', /current-context must be a context name/],
  ];
  for (const [what, text, re] of cases) {
    it(`${what}: exit 2 naming the file, no connection to 127.0.0.1:2181`, async () => {
      const h = home('ctx-bad');
      writeFileSync(h.file, text);
      const r = await runCli(['get', '/zookeeper/config', '--timeout', '2s'], { env: h.env });
      assert.equal(r.code, 2, r.stderr);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      assert.ok(r.stderr.includes(h.file), r.stderr);
      assert.match(r.stderr, re);
      assert.equal(r.stdout, '');
    });
  }

  it('a broken context can still be listed and removed', async () => {
    const h = home('ctx-fix');
    writeFileSync(h.file, 'current-context: a\ncontexts:\n  a:\n    server: 12345\n  b:\n    server: 127.0.0.1:1\n');
    const ls = await runCli(['context', 'ls', '-o', 'json'], { env: h.env });
    assert.equal(ls.code, 0, ls.stderr);
    assert.deepEqual((JSON.parse(ls.stdout) as Array<{ name: string }>).map((r) => r.name), ['a', 'b']);
    assert.equal((await runCli(['context', 'rm', 'a'], { env: h.env })).code, 0);
    assert.equal((await runCli(['context', 'use', 'b'], { env: h.env })).code, 0);
    assert.deepEqual(Object.keys(loadConfig(h.file).contexts), ['b']);
  });
});

describe('contexts file: concurrent writers all land', () => {
  it('12 concurrent `context set dN` leave 12 contexts, the file 0600, no lock or temporary file behind', async () => {
    const h = home('ctx-race');
    const runs = await Promise.all(Array.from({ length: 12 }, (_, i) => runCli(['context', 'set', `d${i + 1}`, '--server', `127.0.0.1:${3000 + i}`], { env: h.env, timeoutMs: 60_000 })));
    for (const r of runs) assert.equal(r.code, 0, r.stderr);
    const cfg = loadConfig(h.file);
    assert.deepEqual(Object.keys(cfg.contexts).sort(), Array.from({ length: 12 }, (_, i) => `d${i + 1}`).sort());
    for (let i = 0; i < 12; i++) assert.equal(cfg.contexts[`d${i + 1}`].server, `127.0.0.1:${3000 + i}`);
    assert.equal(statSync(h.file).mode & 0o777, 0o600);
    assert.deepEqual(execFileSync('ls', ['-A', join(h.dir, 'zkctl')], { encoding: 'utf8' }).trim().split('\n'), ['config.yaml']);
  });

  it('a lock left by a dead process is broken at once; a live holder is waited for', async () => {
    const h = home('ctx-lock');
    const lock = `${h.file}.lock`;
    // A holder that is gone: a pid that exited (with its start time), and a pid reused by another process.
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
    writeFileSync(lock, `${dead.stdout} 12345\n`);
    const allowance = await cliStartAllowanceMs();
    const r1 = await runCli(['context', 'set', 'a', '--server', '127.0.0.1:1'], { env: h.env, timeoutMs: 8_000 });
    assert.equal(r1.code, 0, r1.stderr);
    assert.ok(r1.ms < Math.max(5_000, 1_000 + allowance), `took ${r1.ms} ms (start-up allowance ${allowance} ms)`);
    writeFileSync(lock, `${process.pid} 1\n`); // our pid, but not our start time: reused
    const r2 = await runCli(['context', 'set', 'b', '--server', '127.0.0.1:2'], { env: h.env, timeoutMs: 8_000 });
    assert.equal(r2.code, 0, r2.stderr);
    assert.ok(!existsSync(lock));
    // A live holder (this process): the writer waits for it and then lands.
    const held = lockFileSync(lock);
    assert.match(readFileSync(lock, 'utf8'), new RegExp(`^${process.pid} ${processStartTime(process.pid)}\\n$`));
    const pending = runCli(['context', 'set', 'c', '--server', '127.0.0.1:3'], { env: h.env, timeoutMs: 20_000 });
    await new Promise((res) => setTimeout(res, 1500));
    assert.ok(!('c' in loadConfig(h.file).contexts), 'wrote while the lock was held');
    held.release();
    const r3 = await pending;
    assert.equal(r3.code, 0, r3.stderr);
    assert.deepEqual(Object.keys(loadConfig(h.file).contexts).sort(), ['a', 'b', 'c']);
  });
});

describe('contexts file: where it lives when HOME is missing or read-only', () => {
  it('configPath: XDG_CONFIG_HOME, else HOME/.config, else a private temp directory', () => {
    assert.equal(configPath({ XDG_CONFIG_HOME: '/x', HOME: '/h' }), '/x/zkctl/config.yaml');
    const h = mkdtempSync(join(tmpdir(), 'ctx-home-'));
    assert.equal(configPath({ HOME: h }), join(h, '.config', 'zkctl', 'config.yaml'));
    assert.equal(configPath({ XDG_CONFIG_HOME: 'relative', HOME: h }), join(h, '.config', 'zkctl', 'config.yaml'));
    // HOME empty (no home known): the temp fallback, per user
    assert.match(configPath({ HOME: '' }), new RegExp(`zkctl-${process.getuid?.() ?? 'user'}/config/zkctl/config\\.yaml$`));
  });

  it('a read-only HOME: contexts go to the temp fallback and are found there again', { skip: !isRoot && 'needs root to mount a read-only tmpfs' }, async () => {
    const ro = mkdtempSync(join(process.env.ZKCTL_TEST_TMP ?? tmpdir(), 'ro-home-'));
    const tmp = mkdtempSync(join(process.env.ZKCTL_TEST_TMP ?? tmpdir(), 'ro-tmp-'));
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k,ro', 'tmpfs', ro]);
    try {
      const env = { HOME: ro, TMPDIR: tmp, XDG_CONFIG_HOME: undefined, ZKCTL_SERVER: undefined };
      const set = await runCli(['context', 'set', 'here', '--server', testServer()], { env });
      assert.equal(set.code, 0, set.stderr);
      assert.match(set.stderr, /note: .*contexts are kept in/);
      assert.ok(existsSync(join(tmp, `zkctl-${process.getuid?.()}`, 'config', 'zkctl', 'config.yaml')));
      const get = await runCli(['get', '/zookeeper/config'], { env });
      assert.equal(get.code, 0, get.stderr);
    } finally {
      spawnSync('umount', ['-l', ro]);
    }
  });

  it('a contexts file in a read-only directory: exit 1 naming the directory and XDG_CONFIG_HOME', { skip: !isRoot && 'needs root to mount' }, async () => {
    const h = home('ctx-ro');
    writeFileSync(h.file, 'contexts: {}\n');
    execFileSync('mount', ['--bind', h.dir, h.dir]);
    try {
      execFileSync('mount', ['-o', 'remount,ro,bind', h.dir]);
      const r = await runCli(['context', 'set', 'x', '--server', '127.0.0.1:1'], { env: h.env });
      assert.equal(r.code, 1, r.stderr);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      assert.match(r.stderr, new RegExp(`cannot write the contexts file ${h.file}: read-only file system \\(EROFS\\).*${join(h.dir, 'zkctl')} must be writable; or set XDG_CONFIG_HOME`));
    } finally {
      spawnSync('umount', ['-l', h.dir]);
    }
  });
});
