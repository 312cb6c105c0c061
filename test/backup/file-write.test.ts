/**
 * `export -f FILE` and the one file writer behind every file zkctl writes (core/file-write.ts),
 * issue 10.2, 10.3, 10.17: never replace what is not a regular file (devices and FIFOs are
 * written in place, symlinks followed, directories refused with exit 2 before any work); a full
 * file system is one line naming ENOSPC and the file, exit 1, no partial file left, and Ctrl-C
 * always works.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { resolveWriteTarget, writeFileSafeSync } from '../../src/core/file-write.js';
import { chrootSession, type ChrootSession } from '../helpers/session.js';
import { cli, ok, tmp } from './util.js';

const isRoot = process.getuid?.() === 0;
const partials = (dir: string): string[] => readdirSync(dir).filter((f) => f.includes('.partial-'));

describe('export -f: what is at the path decides how it is written', () => {
  let cs: ChrootSession;
  let zk: ReturnType<typeof cli>;
  let dir: string;
  before(async () => {
    cs = await chrootSession('filewrite');
    zk = cli(cs);
    dir = tmp();
    await cs.session.create('/app');
    // About 1.2 MB of backup: more than a pipe buffer and more than the tiny file system below.
    await Promise.all(Array.from({ length: 300 }, (_, i) => cs.session.create(`/app/n${i}`, Buffer.alloc(4000, 'x'))));
  });
  after(async () => {
    await cs?.close();
  });

  it('a directory is refused with exit 2 before any work (nothing connects, no FILE.partial-PID)', async () => {
    const d = join(dir, 'adir');
    mkdirSync(d);
    // An unreachable server: exit 2 (not 8) shows the path was checked before connecting.
    const { runCli } = await import('../helpers/zk.js');
    const r = await runCli(['export', '/app', '-f', d, '-s', '127.0.0.1:1', '--timeout', '2s']);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, new RegExp(`^zkctl: ${d} is a directory`));
    assert.deepEqual(partials(dir), []);
    assert.ok(statSync(d).isDirectory());
  });

  it('a symlink is followed: its target is replaced, the link stays; a dangling link creates its target', async () => {
    const target = join(dir, 'real.yaml');
    writeFileSync(target, 'old');
    const link = join(dir, 'link.yaml');
    symlinkSync(target, link);
    ok(await zk(['export', '/app', '-f', link]));
    assert.ok(lstatSync(link).isSymbolicLink());
    assert.equal(readlinkSync(link), target);
    assert.match(readFileSync(target, 'utf8'), /^format: zkctl-backup$/m);
    const dangling = join(dir, 'dangling.yaml');
    symlinkSync(join(dir, 'new-target.yaml'), dangling);
    ok(await zk(['export', '/app', '-f', dangling]));
    assert.ok(lstatSync(dangling).isSymbolicLink());
    assert.match(readFileSync(join(dir, 'new-target.yaml'), 'utf8'), /^format: zkctl-backup$/m);
    assert.deepEqual(partials(dir), []);
  });

  it('a FIFO is written in place (the reader gets the whole backup) and stays a FIFO', async () => {
    const fifo = join(dir, 'pipe');
    execFileSync('mkfifo', [fifo]);
    const reader = spawn('sh', ['-c', 'sleep 0.5; wc -c < "$0"', fifo], { stdio: ['ignore', 'pipe', 'inherit'] });
    let count = '';
    reader.stdout.on('data', (d: Buffer) => (count += d.toString()));
    const readerDone = new Promise((r) => reader.on('close', r));
    // The reader's wait has a deadline too: a FIFO replaced by a regular file would leave it waiting for a writer forever.
    const deadline = setTimeout(() => reader.kill('SIGKILL'), 30_000);
    const r = await zk(['export', '/app', '-f', fifo, '-o', 'json']);
    await readerDone;
    clearTimeout(deadline);
    ok(r);
    const summary = JSON.parse(r.stdout) as { nodes: number };
    assert.equal(summary.nodes, 301);
    assert.ok(Number(count) > 1_200_000, `reader got ${count} bytes`);
    assert.ok(lstatSync(fifo).isFIFO());
  });

  it('a FIFO nobody reads: Ctrl-C ends the export at once (exit 130), nothing left behind', async () => {
    const fifo = join(dir, 'pipe-unread');
    execFileSync('mkfifo', [fifo]);
    const r = await zk(['export', '/app', '-f', fifo], { signal: 'SIGINT', signalAfterMs: 2500, timeoutMs: 20_000 });
    assert.equal(r.code, 130, r.stderr);
    assert.ok(!r.timedOut);
    assert.ok(lstatSync(fifo).isFIFO());
    assert.deepEqual(partials(dir), []);
  });

  it('a character device is written in place, never replaced (as root: a device node of our own, /dev/null\'s numbers)', { skip: !isRoot && 'needs root for mknod' }, async () => {
    const dev = join(dir, 'null-device');
    execFileSync('mknod', [dev, 'c', '1', '3']);
    const before = statSync(dev);
    ok(await zk(['export', '/app', '-f', dev]));
    const now = lstatSync(dev);
    assert.ok(now.isCharacterDevice(), 'the device node was replaced');
    assert.equal(now.ino, before.ino);
    assert.equal(now.rdev, before.rdev);
    assert.deepEqual(partials(dir), []);
    // /dev/full: the device's ENOSPC is one line naming it, exit 1, and it stays a device.
    const full = join(dir, 'full-device');
    execFileSync('mknod', [full, 'c', '1', '7']);
    const r = await zk(['export', '/app', '-f', full]);
    assert.equal(r.code, 1, r.stderr);
    assert.equal(r.stderr.trim(), `zkctl: cannot write ${full}: no space left on device (ENOSPC)`);
    assert.ok(lstatSync(full).isCharacterDevice());
  });

  it('a full file system: one line naming ENOSPC and the file, exit 1, no partial file, in bounded time', { skip: !isRoot && 'needs root to mount a tmpfs' }, async () => {
    const small = join(dir, 'small');
    mkdirSync(small);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=512k', 'tmpfs', small]);
    try {
      const file = join(small, 'b.yaml');
      const r = await zk(['export', '/app', '-f', file], { timeoutMs: 30_000 });
      assert.ok(!r.timedOut, 'export hung on a full file system');
      assert.equal(r.code, 1, r.stderr);
      assert.equal(r.stderr.trim(), `zkctl: cannot write ${file}: no space left on device (ENOSPC)`);
      assert.deepEqual(readdirSync(small), [], 'the partial file was left behind');
      // An existing file there is left as it was.
      writeFileSync(join(small, 'keep.yaml'), 'previous backup');
      const r2 = await zk(['export', '/app', '-f', join(small, 'keep.yaml')], { timeoutMs: 30_000 });
      assert.equal(r2.code, 1, r2.stderr);
      assert.equal(readFileSync(join(small, 'keep.yaml'), 'utf8'), 'previous backup');
      assert.deepEqual(readdirSync(small), ['keep.yaml']);
    } finally {
      spawnSync('umount', ['-l', small]);
    }
  });

  it('a regular file is replaced whole, mode 0600, and the directory keeps no partial file', async () => {
    const f = join(dir, 'plain.yaml');
    writeFileSync(f, 'old', { mode: 0o644 });
    ok(await zk(['export', '/app', '-f', f]));
    assert.equal(statSync(f).mode & 0o777, 0o600);
    assert.match(readFileSync(f, 'utf8'), /count: 301\n$/);
    assert.deepEqual(partials(dir), []);
  });
});

describe('core/file-write: the one writer', () => {
  it('refuses a directory, a socket and a missing directory (exit 2); names the file', () => {
    const dir = tmp();
    assert.throws(() => resolveWriteTarget(dir), (e: Error & { exitCode?: number }) => e.exitCode === 2 && e.message.includes('is a directory'));
    assert.throws(() => resolveWriteTarget(join(dir, 'no', 'such', 'x')), (e: Error & { exitCode?: number }) => e.exitCode === 2 && e.message.includes(join(dir, 'no', 'such')));
    const r = spawnSync(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(join(dir, 'sock'))}, () => process.exit(0))`]);
    assert.equal(r.status, 0);
    assert.throws(() => resolveWriteTarget(join(dir, 'sock')), (e: Error & { exitCode?: number }) => e.exitCode === 2 && /socket/.test(e.message));
  });

  it('writes /dev/null in place (as any command writing a file would): it is still the device afterwards', () => {
    const before = statSync('/dev/null');
    writeFileSafeSync('/dev/null', 'x'.repeat(100_000));
    const now = lstatSync('/dev/null');
    assert.ok(now.isCharacterDevice());
    assert.equal(now.ino, before.ino);
  });

  it('bench dispatch --report to a directory is refused before the run (exit 2)', async () => {
    const { runCli } = await import('../helpers/zk.js');
    const r = await runCli(['bench', 'dispatch', '--report', tmp(), '-s', '127.0.0.1:1', '--timeout', '2s']);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /is a directory/);
  });

  it('keeps a replaced file\'s mode unless the file is private; leaves no temporary file', () => {
    const dir = tmp();
    const f = join(dir, 'report.html');
    writeFileSync(f, 'old', { mode: 0o640 });
    writeFileSafeSync(f, 'new');
    assert.equal(statSync(f).mode & 0o777, 0o640);
    assert.equal(readFileSync(f, 'utf8'), 'new');
    writeFileSafeSync(f, 'secret', { private: true });
    assert.equal(statSync(f).mode & 0o777, 0o600);
    assert.deepEqual(readdirSync(dir), ['report.html']);
    assert.ok(!existsSync(`${f}.lock`));
  });
});
