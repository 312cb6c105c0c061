/**
 * `zkctl wait PATH --exists|--gone|--children N|--data V` and `zkctl services wait NAME --count N [--probe]`
 * on the real ensemble (issue 24, CI): exit 0 when met, exit 10 with JSON of what was seen when not in
 * time, 130 on Ctrl-C. Each condition is met by a change made while zkctl waits (watch-driven: a
 * handful of checks, not a poll).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { createServer, type Server } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { makeInstance, ServiceRegistration } from '../../src/core/recipes/services.js';
import { freeBasePort } from '../../src/ensemble/index.js';
import { TcpProxy } from '../helpers/proxy.js';
import { chrootSession, type ChrootSession } from '../helpers/session.js';
import { repoRoot, runCli, testPortStart, testServer, type CliResult } from '../helpers/zk.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface Report {
  met: boolean;
  checks: number;
  interrupted?: boolean;
  seen: { exists?: boolean; children?: number; data?: string; version?: number; registered?: number; answering?: number; instances?: Array<{ answering?: boolean }> } | null;
}

/** Wait (at most 40 s) until the client on the proxy's newest connection has sent `text` (its first check is out). */
async function sentThrough(proxy: TcpProxy, text: string): Promise<void> {
  const end = Date.now() + 40_000;
  while (!proxy.clientBytes().includes(text) && Date.now() < end) await sleep(50);
  assert.ok(proxy.clientBytes().includes(text), `zkctl never asked for ${text} through the proxy`);
}

// The cases use paths and services of their own and a proxy each: independent, so they run side by side.
describe('zkctl wait / services wait', { concurrency: 4 }, () => {
  let cs: ChrootSession;
  const env = { ZKCTL_SERVER: undefined, ZKCTL_AUTH: undefined, NO_COLOR: '1' };
  const zk = (args: string[], opts: { signal?: NodeJS.Signals; signalAfterMs?: number } = {}): Promise<CliResult> =>
    runCli([...args, '-s', cs.server], { env, timeoutMs: 60_000, ...opts });

  /** Start `zkctl ...`, then `change()` once zkctl has had time to start waiting; the result. */
  async function whileWaiting(args: string[], change: () => Promise<void>): Promise<CliResult> {
    const run = zk(args);
    await sleep(1500);
    await change();
    return run;
  }

  before(async () => {
    cs = await chrootSession('wait');
  });
  after(async () => {
    await cs?.close();
  });

  it('--exists: not in time is exit 10 with JSON of what was seen; met when the node is created meanwhile', async () => {
    const no = await zk(['wait', '/a', '--exists', '--timeout', '3s', '-o', 'json']);
    assert.equal(no.code, 10, no.stderr);
    const r = JSON.parse(no.stdout) as Report;
    assert.equal(r.met, false);
    assert.deepEqual(r.seen, { exists: false });
    assert.match(no.stderr, /^zkctl: \/a did not appear within 3s: last seen no such node\n$/);
    const yes = await whileWaiting(['wait', '/a', '--exists', '--timeout', '40s', '-o', 'json'], async () => {
      await cs.session.create('/a');
    });
    assert.equal(yes.code, 0, yes.stderr);
    const y = JSON.parse(yes.stdout) as Report;
    assert.equal(y.met, true);
    assert.equal(y.seen?.exists, true);
    assert.ok(y.checks <= 3, `${y.checks} checks: watch-driven, not polling`);
  });

  it('--gone: not in time (exit 10); met when the node is deleted meanwhile', async () => {
    await cs.session.create('/g');
    const no = await zk(['wait', '/g', '--gone', '--timeout', '3s', '-o', 'json']);
    assert.equal(no.code, 10, no.stderr);
    assert.equal((JSON.parse(no.stdout) as Report).seen?.exists, true);
    const yes = await whileWaiting(['wait', '/g', '--gone', '--timeout', '40s'], async () => {
      await cs.session.delete('/g');
    });
    assert.equal(yes.code, 0, yes.stderr);
    assert.equal(yes.stdout, '');
  });

  it('--children N: not in time (exit 10, the count seen); met when children are added meanwhile', async () => {
    await cs.session.create('/c');
    await cs.session.create('/c/1');
    const no = await zk(['wait', '/c', '--children', '3', '--timeout', '3s', '-o', 'json']);
    assert.equal(no.code, 10, no.stderr);
    assert.equal((JSON.parse(no.stdout) as Report).seen?.children, 1);
    const yes = await whileWaiting(['wait', '/c', '--children', '3', '--timeout', '40s', '-o', 'json'], async () => {
      await cs.session.create('/c/2');
      await cs.session.create('/c/3');
    });
    assert.equal(yes.code, 0, yes.stderr);
    const y = JSON.parse(yes.stdout) as Report;
    assert.equal(y.seen?.children, 3);
    assert.ok(y.checks <= 4, `${y.checks} checks`);
  });

  it('--data V: not in time (exit 10, the data seen); met when the value is set meanwhile (also on a node created later)', async () => {
    await cs.session.create('/d', Buffer.from('starting'));
    const no = await zk(['wait', '/d', '--data', 'ready', '--timeout', '3s', '-o', 'json']);
    assert.equal(no.code, 10, no.stderr);
    assert.equal((JSON.parse(no.stdout) as Report).seen?.data, 'starting');
    assert.match(no.stderr, /did not hold "ready" within 3s: last seen exists \(version 0\), data "starting"/);
    const yes = await whileWaiting(['wait', '/d', '--data', 'ready', '--timeout', '40s', '-o', 'json'], async () => {
      await cs.session.set('/d', Buffer.from('almost'));
      await cs.session.set('/d', Buffer.from('ready'));
    });
    assert.equal(yes.code, 0, yes.stderr);
    assert.equal((JSON.parse(yes.stdout) as Report).seen?.data, 'ready');
    const later = await whileWaiting(['wait', '/d2', '--data', 'x', '--timeout', '40s'], async () => {
      await cs.session.create('/d2', Buffer.from('x'));
    });
    assert.equal(later.code, 0, later.stderr);
  });

  it('cut off: ends at its deadline with exit 10; met across a partition once it heals', async () => {
    const proxy = await TcpProxy.start(testServer().split(',')[0]!);
    try {
      const via = (args: string[]): Promise<CliResult> => runCli([...args, '-s', `${proxy.address}${cs.chroot}`], { env, timeoutMs: 60_000 });
      // zkctl is connected and waiting once its check of /p has gone through the proxy on an open
      // connection (forward() closes the silenced ones: an open one is the current run's).
      const checked = async (): Promise<void> => {
        const asked = (): boolean => proxy.connections > 0 && proxy.clientBytes().includes(`${cs.chroot}/p`);
        const end = Date.now() + 40_000;
        while (!asked() && Date.now() < end) await sleep(100);
        assert.ok(asked(), 'zkctl never asked for /p');
      };
      // Cut off for good: the wait still ends at its deadline, saying it was not connected.
      const cut = via(['wait', '/p', '--exists', '--timeout', '8s', '-o', 'json']);
      await checked();
      proxy.silence();
      const r = await cut;
      assert.equal(r.code, 10, r.stderr);
      const report = JSON.parse(r.stdout) as Report & { elapsedMs: number };
      assert.equal(report.met, false);
      // At its deadline, by zkctl's own clock (the wall clock also counts node's start-up, seconds on a loaded machine).
      assert.ok(report.elapsedMs >= 7500 && report.elapsedMs < 8000 + 2000, `elapsedMs ${report.elapsedMs} (wall ${r.ms} ms)`);
      proxy.forward();
      // The node is created while zkctl is cut off: found once the connection is back.
      const healed = via(['wait', '/p', '--exists', '--timeout', '40s', '-o', 'json']);
      await checked();
      proxy.silence();
      await cs.session.create('/p');
      await sleep(1000);
      proxy.forward();
      const h = await healed;
      assert.equal(h.code, 0, h.stderr);
      assert.equal((JSON.parse(h.stdout) as Report).seen?.exists, true);
    } finally {
      proxy.forward();
      await proxy.close();
    }
  });

  it('Ctrl-C ends a wait with exit 130 (the report says interrupted)', async () => {
    // Through a proxy, to see when zkctl has sent its first check (then its handler is in place).
    const proxy = await TcpProxy.start(testServer().split(',')[0]!);
    try {
      const child = spawn(process.execPath, [join(repoRoot, 'bin', 'zkctl.js'), 'wait', '/never', '--exists', '--timeout', '60s', '-o', 'json', '-s', `${proxy.address}${cs.chroot}`], {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, ZKCTL_SERVER: '', NO_COLOR: '1' },
      });
      let out = '';
      let err = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.on('data', (d: Buffer) => (err += d.toString()));
      const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) => child.once('close', (code, signal) => res({ code, signal })));
      await sentThrough(proxy, '/never');
      child.kill('SIGINT');
      const r = await exit;
      assert.equal(r.signal, null, 'zkctl was killed by the signal instead of handling it');
      assert.equal(r.code, 130, err);
      assert.equal((JSON.parse(out) as Report).interrupted, true);
    } finally {
      await proxy.close();
    }
  });

  it('services wait --count N: not in time (exit 10, registered seen); met when instances register meanwhile', async () => {
    const regs: ServiceRegistration[] = [];
    try {
      const add = async (id: string, port: number): Promise<void> => {
        const reg = new ServiceRegistration(cs.session, makeInstance({ name: 'api', id, address: '127.0.0.1', port }));
        await reg.register();
        regs.push(reg);
      };
      await add('i1', 1);
      const no = await zk(['services', 'wait', 'api', '--count', '2', '--timeout', '3s', '-o', 'json']);
      assert.equal(no.code, 10, no.stderr);
      assert.equal((JSON.parse(no.stdout) as Report).seen?.registered, 1);
      const yes = await whileWaiting(['services', 'wait', 'api', '--count', '2', '--timeout', '40s', '-o', 'json'], () => add('i2', 2));
      assert.equal(yes.code, 0, yes.stderr);
      assert.equal((JSON.parse(yes.stdout) as Report).seen?.registered, 2);
    } finally {
      for (const r of regs) await r.unregister().catch(() => undefined);
    }
  });

  it('services wait --probe: registered but refusing is not met (exit 10); met once the port answers', async () => {
    const port = await freeBasePort({ start: testPortStart(), size: 1 });
    const reg = new ServiceRegistration(cs.session, makeInstance({ name: 'probed', id: 'p1', address: '127.0.0.1', port }));
    await reg.register();
    let srv: Server | undefined;
    try {
      const no = await zk(['services', 'wait', 'probed', '--probe', '--timeout', '3s', '-o', 'json']);
      assert.equal(no.code, 10, no.stderr);
      const n = JSON.parse(no.stdout) as Report;
      assert.equal(n.seen?.registered, 1);
      assert.equal(n.seen?.answering, 0);
      assert.match(no.stderr, /ECONNREFUSED/);
      const yes = await whileWaiting(['services', 'wait', 'probed', '--probe', '--timeout', '40s', '-o', 'json'], async () => {
        srv = createServer((s) => s.destroy());
        await new Promise<void>((res) => srv!.listen(port, '127.0.0.1', () => res()));
      });
      assert.equal(yes.code, 0, yes.stderr);
      assert.equal((JSON.parse(yes.stdout) as Report).seen?.answering, 1);
    } finally {
      srv?.close();
      await reg.unregister().catch(() => undefined);
    }
  });
});
