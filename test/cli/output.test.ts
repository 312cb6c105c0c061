/**
 * stdout as scripts depend on it (issues 22.1 and 10.9): every byte reaches a slow reader before
 * zkctl exits; a reader that never reads does not hang zkctl forever; a write error on stdout is
 * one line and exit 1, never a stack trace; a backup cut short by its reader is never exit 0.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { makeInstance, serializeInstance } from '../../src/core/recipes/services.js';
import { chrootSession, type ChrootSession } from '../helpers/session.js';
import { repoRoot, runCli } from '../helpers/zk.js';

const zkctl = join(repoRoot, 'bin', 'zkctl.js');

/** Run `zkctl ARGS | READER` under bash; returns what the reader printed and zkctl's exit status. */
function pipeline(args: string[], reader: string, opts: { env?: Record<string, string>; timeoutMs?: number } = {}): Promise<{ out: string; code: number; stderr: string; ms: number }> {
  const t0 = Date.now();
  return new Promise((resolve, reject) => {
    const script = `"$0" "$1" "\${@:2}" | ${reader}; echo " rc=\${PIPESTATUS[0]}"`;
    const child = spawn('bash', ['-c', script, process.execPath, zkctl, ...args], { env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
    child.on('error', reject);
    child.on('close', () => {
      clearTimeout(timer);
      const m = / rc=(\d+)\s*$/.exec(out);
      resolve({ out: out.replace(/ rc=\d+\s*$/, '').trim(), code: m ? Number(m[1]) : -1, stderr, ms: Date.now() - t0 });
    });
  });
}

describe('stdout: every byte reaches a slow reader, exit 0', { concurrency: 3 }, () => {
  let cs: ChrootSession;
  let scratch: string;
  before(async () => {
    cs = await chrootSession('slowreader');
    scratch = mkdtempSync(join(process.env.ZKCTL_TEST_TMP ?? tmpdir(), 'slowreader-'));
    const s = cs.session;
    // A node of 900 KB, a tree whose listings exceed 64 KB, 1,200 service instances (about 300 KB of JSON),
    // registered long ago: their ageMs keeps its number of digits between two runs (byte counts are compared).
    await s.create('/big', Buffer.alloc(900_000, 'b'));
    await s.create('/tree');
    const names = Array.from({ length: 1500 }, (_, i) => `node-with-a-rather-long-name-for-the-listings-${String(i).padStart(5, '0')}`);
    await Promise.all(names.map((n) => s.create(`/tree/${n}`, Buffer.from(`value ${n}`))));
    await s.create('/services');
    await s.create('/services/web');
    await Promise.all(
      Array.from({ length: 1200 }, (_, i) => {
        const inst = makeInstance({ name: 'web', id: `instance-${String(i).padStart(5, '0')}`, address: `10.0.${i >> 8}.${i & 255}`, port: 8000 + (i % 1000), payload: { zone: 'zone-a', note: 'x'.repeat(40) }, registrationTimeUTC: 1_000_000_000_000 });
        return s.create(`/services/web/${inst.id}`, serializeInstance(inst));
      }),
    );
    // A config document of about 150 KB.
    const doc = Array.from({ length: 1500 }, (_, i) => `key${String(i).padStart(5, '0')}: "${'v'.repeat(80)}"`).join('\n');
    writeFileSync(join(scratch, 'doc.yaml'), `${doc}\n`);
    const pub = await runCli(['config', 'publish', '/cfg', join(scratch, 'doc.yaml'), '-s', cs.server], { timeoutMs: 120_000 });
    assert.equal(pub.code, 0, pub.stderr);
  });
  after(async () => {
    await cs?.close();
  });

  const commands: string[][] = [
    ['get', '/big'],
    ['ls', '-R', '/tree'],
    ['ls', '-R', '/tree', '-o', 'json'],
    ['tree', '/tree'],
    ['find', '/tree', '-o', 'json'],
    ['export', '/tree'],
    ['services', 'ls', 'web', '-o', 'json'],
    ['config', 'get', '/cfg'],
    ['config', 'get', '/cfg', '--json'],
  ];
  for (const args of commands) {
    it(`${args.join(' ')}: a reader starting 1.5 s late gets every byte`, async () => {
      const all = [...args, '-s', cs.server];
      const direct = await runCli(all, { timeoutMs: 60_000 });
      assert.equal(direct.code, 0, direct.stderr);
      const bytes = Buffer.byteLength(direct.stdout);
      assert.ok(bytes > 65_536, `${args.join(' ')} printed only ${bytes} bytes: not a test of the pipe buffer`);
      const slow = await pipeline(all, '(sleep 1.5; wc -c)');
      assert.equal(slow.code, 0, slow.stderr);
      assert.equal(Number(slow.out), bytes, `${args.join(' ')}: the slow reader got ${slow.out} of ${bytes} bytes`);
    });
  }

  it('a reader that never reads does not hang zkctl: exit 1 after the stall deadline, saying what was lost', async () => {
    const r = await pipeline(['services', 'ls', 'web', '-o', 'json', '-s', cs.server], '(sleep 12; echo slept)', { env: { ZKCTL_OUTPUT_STALL_TIMEOUT: '1s' } });
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /^zkctl: stdout: its reader took nothing for 1s; \d+ bytes not delivered/m);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  });

  it('a streaming command into a reader that never reads ends too (exit 1)', async () => {
    const r = await pipeline(['export', '/tree', '-s', cs.server], '(sleep 12; echo slept)', { env: { ZKCTL_OUTPUT_STALL_TIMEOUT: '1s' } });
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /took nothing for 1s/);
  });

  it('a write error on stdout (> /dev/full) is one line naming ENOSPC, exit 1, for every kind of command', async () => {
    const cases: string[][] = [
      ['get', '/big', '-o', 'json'],
      ['get', '/big'],
      ['ls', '/tree'],
      ['ls', '-R', '/tree', '-o', 'json'],
      ['stat', '/big'],
      ['tree', '/tree'],
      ['create', '/made-while-stdout-is-full', 'x'],
      ['config', 'get', '/cfg'],
      ['export', '/tree'],
      ['services', 'ls', 'web', '-o', 'json'],
      ['ls', '/tree', '--json'],
      ['context', 'ls'],
      ['--help'],
    ];
    for (const args of cases) {
      const full = await new Promise<{ code: number; stderr: string }>((resolve, reject) => {
        const argv = args[0] === '--help' ? args : [...args, '-s', cs.server];
        const child = spawn('bash', ['-c', '"$0" "$1" "${@:2}" > /dev/full', process.execPath, zkctl, ...argv], { stdio: ['ignore', 'ignore', 'pipe'] });
        let stderr = '';
        child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
        child.on('error', reject);
        child.on('close', (code) => resolve({ code: code ?? -1, stderr }));
      });
      assert.equal(full.code, 1, `${args.join(' ')}: exit ${full.code}: ${full.stderr}`);
      assert.equal(full.stderr.trim().split('\n').length, 1, `${args.join(' ')}: ${full.stderr}`);
      assert.match(full.stderr, /^zkctl: cannot write (stdout|the backup to stdout): no space left on device \(ENOSPC\)$/m, args.join(' '));
      assert.doesNotMatch(full.stderr, /\bat \w|node:internal/, args.join(' '));
    }
  });

  it('export | head -c 100: the backup was cut short, so exit 1 (never 0); ls | head stays a quiet exit 0', async () => {
    const cut = await pipeline(['export', '/tree', '-s', cs.server], 'head -c 100 > /dev/null');
    assert.equal(cut.code, 1, cut.stderr);
    assert.match(cut.stderr, /^zkctl: the backup to stdout was cut short: the reader closed the pipe \(EPIPE\)$/m);
    const ls = await pipeline(['ls', '-R', '/tree', '-s', cs.server], 'head -n 2 > /dev/null');
    assert.equal(ls.code, 0, ls.stderr);
    assert.equal(ls.stderr, '');
  });
});
