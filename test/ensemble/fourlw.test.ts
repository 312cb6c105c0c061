/** Four-letter words and status against the run's real ensemble. */
import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { statSync, readFileSync } from 'node:fs';
import { ConnectionError, TimeoutError, ZkError } from '../../src/core/errors.js';
import { Session } from '../../src/core/session.js';
import { parseConnectString } from '../../src/core/connect-string.js';
import { conf, cons, ensembleStatus, fourLetterWord, mntr, ruok, srvr, stat } from '../../src/ensemble/index.js';
import { testEnsemble, testServer, uniqueChroot } from '../helpers/zk.js';

const members = () => parseConnectString(testServer()).servers;

describe('four-letter words against a real server', () => {
  test('ruok', async () => {
    const m = members()[0]!;
    assert.equal(await ruok(m.host, m.port), true);
  });

  test('srvr on every member: one leader, the rest followers', async () => {
    const infos = await Promise.all(members().map((m) => srvr(m.host, m.port)));
    assert.equal(infos.filter((i) => i.mode === 'leader').length, 1);
    assert.equal(infos.filter((i) => i.mode === 'follower').length, infos.length - 1);
    for (const i of infos) {
      assert.match(i.version, /^3\./);
      assert.match(i.zxid, /^0x[0-9a-f]+$/);
      assert.equal(typeof i.zxidValue, 'bigint');
      assert.equal(i.epoch, Number(i.zxidValue >> 32n));
      assert.ok(Number.isFinite(i.latency.avg));
      assert.ok(i.connections >= 1, 'our own connection counts');
      assert.ok(i.nodeCount >= 4);
    }
  });

  test('mntr and conf', async () => {
    const m = members()[1]!;
    const x = await mntr(m.host, m.port);
    assert.ok(['leader', 'follower'].includes(x.mode));
    assert.ok(x.znodeCount >= 4);
    assert.ok(x.packetsReceived >= 0 && x.packetsSent >= 0);
    assert.ok(Number.isInteger(x.watchCount));
    const c = await conf(m.host, m.port);
    assert.equal(c.serverId, 2);
    assert.equal(Object.keys(c.members).length, 3);
  });

  test('stat and cons see a client connection', async () => {
    const m = members()[0]!;
    const s = await Session.connect({ connectString: `${m.host}:${m.port}`, timeoutMs: 10_000 });
    try {
      const st = await stat(m.host, m.port);
      assert.ok((st.clients ?? []).length >= 2, 'the session plus the stat connection');
      const lines = await cons(m.host, m.port);
      assert.ok(lines.some((l) => /sid=0x/.test(l)));
    } finally {
      await s.close();
    }
  });

  test('a refused connection is a ConnectionError', async () => {
    const srv = createServer();
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
    const port = (srv.address() as { port: number }).port;
    await new Promise<void>((r) => srv.close(() => r()));
    await assert.rejects(fourLetterWord('127.0.0.1', port, 'srvr', { timeoutMs: 2000 }), ConnectionError);
  });

  test('a silent server hits the deadline', async () => {
    const sockets: Socket[] = [];
    const srv: Server = createServer((s) => sockets.push(s));
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
    const port = (srv.address() as { port: number }).port;
    const t0 = Date.now();
    try {
      await assert.rejects(fourLetterWord('127.0.0.1', port, 'srvr', { timeoutMs: 300 }), TimeoutError);
      const ms = Date.now() - t0;
      assert.ok(ms >= 290 && ms < 2000, `took ${ms} ms`);
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => srv.close(() => r()));
    }
  });
});

describe('ensemble status from a connect string', () => {
  test('the test ensemble has a quorum with one leader', async () => {
    const st = await ensembleStatus(testServer());
    assert.equal(st.members.length, 3);
    assert.equal(st.leaders, 1);
    assert.equal(st.quorum, true);
    assert.equal(st.votingSize, 3);
    assert.deepEqual(
      st.members.map((m) => m.id),
      [1, 2, 3],
    );
    assert.ok(st.leader && st.leader.syncedFollowers === 2);
  });

  test('a member that does not answer is down', async () => {
    const srv = createServer();
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
    const port = (srv.address() as { port: number }).port;
    await new Promise<void>((r) => srv.close(() => r()));
    const st = await ensembleStatus(`${testServer()},127.0.0.1:${port}/some/chroot`, { timeoutMs: 1000 });
    assert.equal(st.members.length, 4);
    assert.equal(st.members[3]!.mode, 'down');
    assert.ok(st.members[3]!.error);
    assert.equal(st.quorum, true);
  });
});

describe('the super user', () => {
  const ens = testEnsemble();
  const chroot = uniqueChroot('super');

  test('secret file is private and not on any command line', () => {
    assert.equal(statSync(ens.superSecretPath).mode & 0o777, 0o600);
    const pw = ens.superPassword();
    assert.ok(pw.length >= 24);
    for (const m of ens.members()) {
      assert.ok(m.pid, `member ${m.id} runs`);
      const cmdline = readFileSync(`/proc/${m.pid}/cmdline`, 'utf8');
      assert.ok(!cmdline.includes(pw), 'password not on the command line');
      assert.ok(!cmdline.includes('superDigest'), 'digest not on the command line');
    }
  });

  test('super can read and delete a node whose ACL denies everyone else', async () => {
    const anon = await Session.connect({ connectString: testServer(), timeoutMs: 10_000 });
    const sup = await Session.connect({ connectString: testServer(), timeoutMs: 10_000, auth: [{ scheme: 'digest', credential: ens.superAuth() }] });
    after(async () => {
      await anon.close();
      await sup.close();
    });
    await anon.create('/zkctl-test').catch((e: unknown) => {
      if (!(e instanceof ZkError && e.codeName === 'NODE_EXISTS')) throw e;
    });
    await anon.create(chroot);
    // Only a digest identity nobody has may do anything with the node and its children.
    const locked = [{ perms: 31, id: { scheme: 'digest', id: 'nobody:AAAAAAAAAAAAAAAAAAAAAAAAAAA=' } }];
    await anon.create(`${chroot}/locked`, Buffer.from('secret'), { acl: locked });
    await sup.create(`${chroot}/locked/child`, Buffer.from('c'));
    await assert.rejects(anon.get(`${chroot}/locked`), (e: unknown) => e instanceof ZkError && e.codeName === 'NO_AUTH');
    await assert.rejects(anon.delete(`${chroot}/locked/child`), (e: unknown) => e instanceof ZkError && e.codeName === 'NO_AUTH');
    assert.equal((await sup.get(`${chroot}/locked`)).data.toString(), 'secret');
    await sup.delete(`${chroot}/locked/child`);
    await sup.delete(`${chroot}/locked`);
    assert.equal(await anon.exists(`${chroot}/locked`), null);
    await anon.delete(chroot);
  });
});
