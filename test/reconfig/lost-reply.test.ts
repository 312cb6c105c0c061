/**
 * A reconfig whose reply is lost: removing the LEADER makes it step down once the change
 * commits, every follower re-elects and drops its clients, so the client asking often loses
 * its connection before the reply arrives. `reconfigure` must then look at what is committed
 * and report success (the change took effect), not "connection lost". The first test makes
 * the loss certain with a TCP proxy that passes the request on and drops the reply.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Session } from '../../src/core/session.js';
import { readDynamicConfig, reconfigure } from '../../src/core/config/dynamic.js';
import { memberPorts, LOCAL_HOST } from '../../src/ensemble/index.js';
import { TcpProxy } from '../helpers/proxy.js';
import { startFaultEnsemble, type FaultEnsemble } from '../helpers/zk.js';

/** ZooKeeper's request frame: length, xid, op code (16 = reconfig). */
const isReconfigRequest = (d: Buffer): boolean => d.length >= 12 && d.readInt32BE(8) === 16;

let fe: FaultEnsemble;
before(async () => {
  fe = await startFaultEnsemble(3);
});
after(async () => {
  await fe?.cleanup();
});

describe('reconfig with a lost reply', () => {
  test('the reply is dropped by a proxy: the committed change is reported, not "connection lost"', async () => {
    const ens = fe.ensemble;
    const leader = (await ens.status()).leader?.id;
    const [via, victim] = ens.ids.filter((i) => i !== leader);
    assert.ok(via && victim, 'two followers');
    const proxy = await TcpProxy.start(`${LOCAL_HOST}:${memberPorts(ens.spec, via).clientPort}`);
    const s = await Session.connect({ connectString: proxy.address, timeoutMs: 20_000, auth: [{ scheme: 'digest', credential: ens.superAuth() }] });
    try {
      const before = await readDynamicConfig(s);
      proxy.loseReplyTo(isReconfigRequest);
      const after = await reconfigure(s, { remove: [victim], fromVersion: before.version });
      assert.equal(proxy.accepted, 2, 'the session reconnected once (the first connection was reset after the lost reply)');
      assert.deepEqual(
        after.servers.map((x) => x.id).sort(),
        before.servers.map((x) => x.id).filter((i) => i !== victim).sort(),
      );
      assert.notEqual(after.version, before.version);
      // Asking again for the same change from the old version is refused (exit 5): it was committed once.
      await assert.rejects(reconfigure(s, { remove: [victim], fromVersion: before.version }), (e: Error & { code?: number }) => /version|BAD_VERSION/i.test(`${e.message} ${e.code}`));
    } finally {
      await s.close();
      await proxy.close();
    }
    // Put the member back for the next test.
    const back = await Session.connect({ connectString: ens.connectString, timeoutMs: 20_000, auth: [{ scheme: 'digest', credential: ens.superAuth() }] });
    try {
      const cfg = await readDynamicConfig(back);
      const p = memberPorts(ens.spec, victim);
      await reconfigure(back, { add: [`server.${victim}=${LOCAL_HOST}:${p.quorumPort}:${p.electionPort}:participant;${LOCAL_HOST}:${p.clientPort}`], fromVersion: cfg.version });
    } finally {
      await back.close();
    }
  });

  test('removing the leader through a follower: the change is reported committed, the session goes on', async (t) => {
    const ens = fe.ensemble;
    const st = await ens.status();
    const leader = st.leader?.id;
    assert.ok(leader, 'the ensemble has a leader');
    const follower = ens.ids.find((i) => i !== leader)!;
    const address = `${LOCAL_HOST}:${memberPorts(ens.spec, follower).clientPort}`;
    // Only the follower in the connect string, so the session comes back to it after the election.
    const s = await Session.connect({ connectString: address, timeoutMs: 20_000, auth: [{ scheme: 'digest', credential: ens.superAuth() }] });
    let suspended = 0;
    s.on('state', (x: string) => {
      if (x === 'suspended') suspended++;
    });
    try {
      const before = await readDynamicConfig(s);
      const after = await reconfigure(s, { remove: [leader], fromVersion: before.version });
      t.diagnostic(`removed leader ${leader} via follower ${follower}: connection dropped ${suspended} time(s) during the change`);
      assert.deepEqual(
        after.servers.map((x) => x.id).sort(),
        before.servers.map((x) => x.id).filter((i) => i !== leader).sort(),
      );
      assert.notEqual(after.version, before.version);
      // The session still works and reads the same committed configuration.
      const now = await readDynamicConfig(s);
      assert.equal(now.version, after.version);
    } finally {
      await s.close();
    }
  });
});
