/**
 * Local ensemble lifecycle against real servers: one private (fault) ensemble shared by the
 * tests of this file, which run in order.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, statSync, writeFileSync, readFileSync, unlinkSync } from 'node:fs';
import { createServer } from 'node:net';
import { UsageError } from '../../src/core/errors.js';
import { freeBasePort, isPidAlive, isServing, list, load, PortInUseError, up } from '../../src/ensemble/index.js';
import { startFaultEnsemble, type FaultEnsemble } from '../helpers/zk.js';

describe('local ensemble lifecycle', () => {
  let fe: FaultEnsemble;

  before(async () => {
    fe = await startFaultEnsemble(3);
  });
  after(async () => {
    await fe?.cleanup();
  });

  test('up: a quorum with one leader and two followers, described', async () => {
    assert.equal(fe.alreadyRunning, false);
    assert.equal(fe.created, true);
    assert.deepEqual(fe.started, [1, 2, 3]);
    assert.equal(fe.members.length, 3);
    assert.equal(fe.connectString, fe.members.map((m) => `127.0.0.1:${m.clientPort}`).join(','));
    for (const m of fe.members) {
      assert.equal(m.quorumPort, m.clientPort + 10000);
      assert.equal(m.electionPort, m.clientPort + 20000);
      assert.ok(m.pid && m.running);
      assert.ok(existsSync(m.logPath));
    }
    const st = await fe.ensemble.status();
    assert.equal(st.leaders, 1);
    assert.equal(st.members.filter((m) => m.mode === 'follower').length, 2);
    assert.equal(st.quorum, true);
    assert.ok(st.members.every((m) => m.pid !== undefined && typeof m.zxid === 'string'));
    assert.equal(statSync(fe.dir).mode & 0o777, 0o700);
    assert.equal(statSync(fe.superSecretPath).mode & 0o777, 0o600);
  });

  test('server logs go to the member log file at INFO', () => {
    const text = readFileSync(fe.ensemble.logPath(1), 'utf8');
    assert.match(text, / - INFO  \[/);
    assert.match(text, /QuorumPeerConfig/);
  });

  test('up again is idempotent', async () => {
    const r = await up({ dir: fe.dir, waitMs: 10_000 });
    assert.equal(r.alreadyRunning, true);
    assert.deepEqual(r.started, []);
    assert.deepEqual(
      r.members.map((m) => m.pid),
      fe.members.map((m) => m.pid),
    );
  });

  test('up with a conflicting spec is a usage error', async () => {
    await assert.rejects(up({ dir: fe.dir, size: 5 }), (e: unknown) => e instanceof UsageError && /already exists with size 3/.test(e.message));
  });

  test('list and load find it', () => {
    const s = list().find((x) => x.dir === fe.dir);
    assert.ok(s, 'listed');
    assert.equal(s.running, 3);
    assert.equal(load(fe.name).dir, fe.dir);
    assert.equal(load(fe.dir).name, fe.name);
    assert.throws(() => load('no-such-ensemble-xyz'), UsageError);
  });

  test('a port in use: the error names the port and who holds it', async () => {
    // An ensemble whose member 1 would use the fault ensemble's member 2 client port.
    const err = await up({ name: 'clash', basePort: fe.basePort + 1, size: 1, dir: `${fe.dir}-clash`, waitMs: 5000 }).then(
      () => assert.fail('up should fail'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof PortInUseError, String(err));
    assert.equal(err.port, fe.basePort + 1);
    assert.match(err.message, new RegExp(`port ${fe.basePort + 1} \\(client port of member 1\\)`));
    assert.equal(err.holder?.pid, fe.members[1]!.pid);
    assert.match(err.message, /QuorumPeerMain/);
    assert.equal(existsSync(`${fe.dir}-clash`), false, 'nothing left behind');
  });

  test('a port held by something else entirely', async () => {
    const srv = createServer();
    // A base whose ports are all free now (these lie in the ephemeral range: a fixed one can be taken by a connection).
    const port = await freeBasePort({ start: fe.basePort + 100, size: 1 });
    await new Promise<void>((r) => srv.listen(port + 20000, '127.0.0.1', () => r()));
    try {
      await assert.rejects(up({ name: 'clash2', basePort: port, size: 1, dir: `${fe.dir}-clash2`, waitMs: 5000 }), (e: unknown) => {
        assert.ok(e instanceof PortInUseError);
        assert.match(e.message, new RegExp(`port ${port + 20000} \\(election port of member 1\\) is already in use by pid ${process.pid}`));
        return true;
      });
    } finally {
      await new Promise<void>((r) => srv.close(() => r()));
    }
  });

  test('kill the leader: a new leader is elected; the killed member rejoins as follower', async () => {
    const e = fe.ensemble;
    const old = await e.resolveMember('leader');
    const oldEpoch = (await e.status()).leader!.epoch!;
    const k = await e.kill('leader');
    assert.equal(k.id, old);
    assert.equal(k.signal, 'SIGKILL');
    assert.equal(e.isRunning(old), false);
    const t0 = Date.now();
    const st = await e.waitForQuorum(30_000);
    const electedMs = Date.now() - t0;
    assert.ok(st.leader, 'a leader');
    assert.notEqual(st.leader.id, old);
    assert.equal(st.members.find((m) => m.id === old)!.mode, 'down');
    assert.ok(st.leader.epoch! > oldEpoch, `epoch ${st.leader.epoch} > ${oldEpoch}`);
    assert.ok(electedMs < 30_000);

    const r = await e.start(old);
    assert.equal(r.wasRunning, false);
    assert.equal(r.status?.mode, 'follower');
    const after = await e.status();
    assert.equal(after.leader?.id, st.leader.id, 'the new leader keeps leading');
    assert.equal(after.serving, 3);
  });

  test('stop (SIGTERM) and restart a follower', async () => {
    const e = fe.ensemble;
    const leader = await e.resolveMember('leader');
    const follower = e.ids.find((id) => id !== leader)!;
    const s = await e.stop(follower);
    assert.equal(s.wasRunning, true);
    assert.equal(s.signal, 'SIGTERM');
    assert.equal((await e.status()).members.find((m) => m.id === follower)!.mode, 'down');
    const again = await e.stop(follower);
    assert.equal(again.wasRunning, false);
    const r = await e.restart(follower);
    assert.ok(r.status && isServing(r.status.mode));
    assert.equal((await e.waitForMember(follower, 10_000)).mode, 'follower');
  });

  test('a stale pid file (dead pid, or a reused pid that is not our server) counts as down', async () => {
    const e = fe.ensemble;
    const leader = await e.resolveMember('leader');
    const id = e.ids.find((x) => x !== leader)!;
    await e.stop(id);
    const sleeper = spawn('sleep', ['30'], { stdio: 'ignore' });
    try {
      writeFileSync(e.pidPath(id), `${sleeper.pid}\n`);
      assert.equal(e.isRunning(id), false);
      assert.equal((await e.status()).members.find((m) => m.id === id)!.mode, 'down');
      writeFileSync(e.pidPath(id), '2147483646\n');
      assert.equal(e.isRunning(id), false);
      // up starts exactly the member that is down.
      const r = await up({ dir: fe.dir, waitMs: 60_000 });
      assert.equal(r.alreadyRunning, false);
      assert.deepEqual(r.started, [id]);
      assert.equal(r.status.serving, 3);
    } finally {
      sleeper.kill();
    }
  });

  test('a running member whose pid file was lost is adopted, not started twice', async () => {
    const e = fe.ensemble;
    const pid = e.pidOf(2)!;
    assert.ok(pid);
    unlinkSync(e.pidPath(2));
    // Found by its command line (status and down see it too), and up records its pid again.
    assert.equal(e.isRunning(2), true);
    assert.equal(e.pidOf(2), pid);
    const r = await up({ dir: fe.dir, waitMs: 10_000 });
    assert.equal(r.alreadyRunning, true);
    assert.deepEqual(r.started, []);
    assert.equal(e.pidOf(2), pid);
    assert.equal(Number(readFileSync(e.pidPath(2), 'utf8').split('\n')[0]), pid, 'pid file written again');
  });

  test('bad member ids', async () => {
    await assert.rejects(fe.ensemble.stop(4), UsageError);
    await assert.rejects(fe.ensemble.stop('x'), UsageError);
    assert.throws(() => fe.ensemble.logPath(0), UsageError);
  });

  test('down stops every member; --purge removes the directory', async () => {
    const e = fe.ensemble;
    const pids = e.members().map((m) => m.pid!);
    const d = await e.down();
    assert.deepEqual(d.stopped, [1, 2, 3]);
    assert.equal(d.purged, false);
    assert.ok(existsSync(fe.dir));
    for (const pid of pids) assert.equal(isPidAlive(pid), false);
    assert.equal(list().find((x) => x.dir === fe.dir)?.running, 0);
    const p = await e.down({ purge: true });
    assert.deepEqual(p.stopped, []);
    assert.equal(p.purged, true);
    assert.equal(existsSync(fe.dir), false);
    assert.equal(
      list().some((x) => x.dir === fe.dir),
      false,
    );
  });
});
