/**
 * `bench dispatch` (issue 11): what a default run shows and what it never loses.
 * - With no fault flag a duration run kills one backend (failover shown), and says so on stderr.
 * - Instances under a named --service that the run did not start are ignored (a note on stderr),
 *   not measured, and left alone.
 * - A fault that falls after a request-count run's end is reported on stderr.
 * - Results are printed before the --report file is written: a report that fails (/dev/full:
 *   ENOSPC, found only when writing) loses nothing.
 * - Plain output (a pipe) starts with a "# " header naming the columns; --no-headers drops it;
 *   VS DIRECT = REQ/S ÷ DIRECT REQ/S, both shown.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { makeInstance, writeInstance } from '../../src/core/recipes/services.js';
import { noScript, zkctlLine } from '../helpers/pty.js';
import { chrootSession, type ChrootSession } from '../helpers/session.js';
import { runCli } from '../helpers/zk.js';

type Out = { config: { service: string }; results: Array<{ strategy: string; failed: number; throughput: number; directThroughput: number | null; vsDirect: number | null; kills: Array<{ id: string }>; backends: Array<{ id: string }> }> };

describe('bench dispatch: defaults, foreign instances, late faults, results kept', () => {
  let cs: ChrootSession;
  const port = (): string => String(47200 + Math.floor(Math.random() * 60) * 10);
  before(async () => {
    cs = await chrootSession('bench-defaults');
  });
  after(async () => {
    await cs?.close();
  });

  it('a duration run with no fault flag kills one backend and says so; its service is removed afterwards', async () => {
    const r = await runCli(['bench', 'dispatch', '-s', cs.server, '--backends', '3', '--strategies', 'p2c', '--duration', '800ms', '--concurrency', '8', '--port-base', port(), '--json'], { timeoutMs: 90_000 });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /note: no fault given: backend b2 is killed at 200ms into each run \(--kill none for none\)/);
    const out = JSON.parse(r.stdout) as Out;
    const p2c = out.results.find((x) => x.strategy === 'p2c')!;
    assert.deepEqual(p2c.kills.map((k) => k.id), ['b2']);
    assert.ok(p2c.directThroughput !== null && p2c.directThroughput > 0);
    assert.equal(p2c.vsDirect, Math.round((p2c.throughput / p2c.directThroughput) * 1000) / 1000, 'VS DIRECT follows from REQ/S and DIRECT REQ/S');
    // The run's own service: removed at the end (or, if a killed backend's session is still open, a container ZooKeeper reaps).
    const sp = `/services/${out.config.service}`;
    const st = await cs.session.exists(sp);
    if (st) assert.ok(st.numChildren <= 1, 'only a killed backend may be left, until its session expires');
  });

  it('on a terminal: the table, the per-backend shares and a line under them explaining VS DIRECT', { skip: noScript }, async () => {
    const cmd = zkctlLine(['bench', 'dispatch', '-s', cs.server, '--backends', '2', '--strategies', 'p2c', '--requests', '200', '--concurrency', '4', '--kill', 'none', '--port-base', port()]);
    const r = spawnSync('script', ['-qfec', cmd, '/dev/null'], { encoding: 'utf8', timeout: 90_000, env: { ...process.env, NO_COLOR: '1' } });
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /STRATEGY +REQ\/S +DIRECT REQ\/S +VS DIRECT/);
    assert.match(r.stdout, /SHARE %/);
    assert.match(r.stdout, /VS DIRECT = REQ\/S ÷ DIRECT REQ\/S: the strategy's throughput over that of a direct run/);
  });

  it('instances under --service that the run did not start are ignored with a note, not measured, left alone', async () => {
    await writeInstance(cs.session, makeInstance({ name: 'shared', id: 'cur-dead', address: '127.0.0.1', port: 1 }));
    const r = await runCli(['bench', 'dispatch', '-s', cs.server, '--service', 'shared', '--backends', '2', '--strategies', 'p2c', '--requests', '300', '--concurrency', '4', '--port-base', port(), '--json', '--max-failed', '0'], { timeoutMs: 90_000 });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /note: 1 instance under --service shared not started by this run \(cur-dead\): ignored, not measured/);
    const out = JSON.parse(r.stdout) as Out;
    for (const x of out.results) assert.deepEqual(x.backends.map((b) => b.id).sort(), ['b1', 'b2']);
    assert.ok(await cs.session.exists('/services/shared/cur-dead'), 'the foreign instance is left alone');
  });

  it('a fault after a request-count run has ended is reported on stderr', async () => {
    const r = await runCli(['bench', 'dispatch', '-s', cs.server, '--backends', '2', '--strategies', 'p2c', '--requests', '100', '--concurrency', '4', '--kill', '1@20s', '--port-base', port(), '--no-direct'], { timeoutMs: 90_000 });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /--kill b1@20s never happened in the p2c run: it ended after \d+ ms/);
  });

  it('results are printed before the report is written: a failing report (ENOSPC) loses nothing', { skip: existsSync('/dev/full') ? false : 'no /dev/full' }, async () => {
    const r = await runCli(['bench', 'dispatch', '-s', cs.server, '--backends', '2', '--strategies', 'p2c', '--requests', '100', '--concurrency', '4', '--kill', 'none', '--port-base', port(), '--report', '/dev/full'], { timeoutMs: 90_000 });
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /cannot write \/dev\/full: no space left on device \(ENOSPC\)/);
    // Plain output (a pipe): a "# " header line naming the columns first; --kill none: no default kill.
    const lines = r.stdout.trim().split('\n');
    assert.match(lines[0], /^# STRATEGY\tREQ\/S\tDIRECT REQ\/S\tVS DIRECT\tP50 MS/);
    assert.deepEqual(lines.slice(1).map((l) => l.split('\t')[0]), ['direct', 'p2c']);
    assert.doesNotMatch(r.stderr, /killed/);
  });

  it('--no-headers: plain rows only', async () => {
    const r = await runCli(['bench', 'dispatch', '-s', cs.server, '--backends', '2', '--strategies', 'round-robin', '--requests', '100', '--concurrency', '4', '--port-base', port(), '--no-headers'], { timeoutMs: 90_000 });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.stdout.trim().split('\n').map((l) => l.split('\t')[0]), ['direct', 'round-robin']);
  });

  it('bench ops: plain output has the same "# " header line; --no-headers drops it', async () => {
    const args = ['bench', 'ops', '-s', cs.server, '--phases', 'get', '--count', '20', '--window', '1', '--no-warmup'];
    let r = await runCli(args, { timeoutMs: 60_000 });
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trim().split('\n');
    assert.match(lines[0], /^# PHASE\tWINDOW\tSESSIONS\tOPS\tOPS\/S/);
    assert.match(lines[1], /^get\t1\t1\t20\t/);
    r = await runCli([...args, '--no-headers'], { timeoutMs: 60_000 });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^get\t1\t1\t20\t/);
  });
});
