/**
 * Dynamic reconfiguration on a private 3-member ensemble: grow it to 4 (`zkctl ensemble add`),
 * shrink it back to 3 (`zkctl ensemble remove`), with the data intact on every member and a
 * client session that keeps being served throughout; `zkctl reconfig` compare-and-set and auth;
 * the quorum guard.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Session } from '../../src/core/session.js';
import { parseConfigYaml, encodeJson } from '../../src/core/config/document.js';
import { participants, readDynamicConfig } from '../../src/core/config/dynamic.js';
import { publishConfig, readConfig } from '../../src/core/recipes/config-publish.js';
import { isPortFree, memberPorts, LOCAL_HOST } from '../../src/ensemble/index.js';
import { removedMembers } from '../../src/ensemble/membership.js';
import { runCli, startFaultEnsemble, type FaultEnsemble } from '../helpers/zk.js';

let fe: FaultEnsemble;

/** A 3-member fault ensemble whose member-4 ports are free too. */
async function ensembleWithRoom(): Promise<FaultEnsemble> {
  for (let i = 0; ; i++) {
    const e = await startFaultEnsemble(3);
    const p = memberPorts(e.ensemble.spec, 4);
    const free = (await Promise.all([p.clientPort, p.quorumPort, p.electionPort].map((x) => isPortFree(x, LOCAL_HOST)))).every(Boolean);
    if (free || i >= 3) return e;
    await e.cleanup();
  }
}

function cli(args: string[]): ReturnType<typeof runCli> {
  return runCli(args, { timeoutMs: 180_000, env: { ZKCTL_SERVER: undefined, ZKCTL_AUTH: undefined } });
}

/** Read every /data child through a session to ONE member (after a sync). */
async function dataOn(address: string): Promise<string[]> {
  const s = await Session.connect({ connectString: address, timeoutMs: 15_000 });
  try {
    await s.sync('/data');
    const { children } = await s.getChildren('/data');
    const out: string[] = [];
    for (const c of children.sort()) out.push(`${c}=${(await s.get(`/data/${c}`)).data.toString()}`);
    return out;
  } finally {
    await s.close();
  }
}

before(async () => {
  fe = await ensembleWithRoom();
});
after(async () => {
  await fe?.cleanup();
});

describe('local ensemble membership', () => {
  test('grow 3 -> 4 -> 3: committed configs, data intact on every member, the client keeps being served', async () => {
    const ens = fe.ensemble;
    const client = await Session.connect({ connectString: ens.connectString, timeoutMs: 15_000 });
    try {
      await client.create('/data');
      const expected: string[] = [];
      for (let i = 0; i < 20; i++) {
        await client.create(`/data/n${String(i).padStart(2, '0')}`, Buffer.from(`v${i}`));
        expected.push(`n${String(i).padStart(2, '0')}=v${i}`);
      }
      const appDoc = parseConfigYaml('svc: {port: 8080, hosts: [a, b]}\n');
      await publishConfig(client, '/config/app', appDoc);

      // ---- grow to 4
      const add = await cli(['ensemble', 'add', '--dir', ens.dir, '-o', 'json']);
      assert.equal(add.code, 0, add.stderr);
      const added = JSON.parse(add.stdout) as { id: number; role: string; before: string; after: string; members: Array<{ id: number; role: string; mode: string }> };
      assert.equal(added.id, 4);
      assert.equal(added.role, 'participant');
      assert.notEqual(added.after, added.before);
      assert.deepEqual(added.members.map((m) => [m.id, m.role]), [[1, 'participant'], [2, 'participant'], [3, 'participant'], [4, 'participant']]);
      assert.ok(added.members.every((m) => m.mode === 'leader' || m.mode === 'follower'), add.stdout);
      const spec4 = JSON.parse(readFileSync(join(ens.dir, 'ensemble.json'), 'utf8')) as { size: number };
      assert.equal(spec4.size, 4);

      // The committed configuration, as any client reads it.
      const cfg4 = await readDynamicConfig(client);
      assert.equal(cfg4.versionHex, added.after);
      assert.equal(participants(cfg4).length, 4);
      const shown = await cli(['ensemble', 'config', '-s', ens.connectString, '-o', 'json']);
      assert.equal(shown.code, 0, shown.stderr);
      assert.equal((JSON.parse(shown.stdout) as { version: string; participants: number }).participants, 4);

      // Member 4 has all the data; the old client still writes.
      const port4 = memberPorts(ens.spec, 4).clientPort;
      assert.deepEqual(await dataOn(`${LOCAL_HOST}:${port4}`), expected);
      await client.create('/data/after-add', Buffer.from('x'));
      expected.push('after-add=x');
      // A write through member 4 is seen everywhere.
      const via4 = await Session.connect({ connectString: `${LOCAL_HOST}:${port4}`, timeoutMs: 15_000 });
      await via4.create('/data/via-4', Buffer.from('y'));
      await via4.close();
      expected.push('via-4=y');

      // ---- shrink back to 3
      const rm = await cli(['ensemble', 'remove', '4', '--dir', ens.dir, '-o', 'json']);
      assert.equal(rm.code, 0, rm.stderr);
      const removed = JSON.parse(rm.stdout) as { id: number; stopped: boolean; after: string; members: Array<{ id: number; mode: string }> };
      assert.equal(removed.id, 4);
      assert.equal(removed.stopped, true);
      assert.deepEqual(removed.members.map((m) => m.id), [1, 2, 3]);
      const cfg3 = await readDynamicConfig(client);
      assert.equal(cfg3.versionHex, removed.after);
      assert.deepEqual(cfg3.servers.map((s) => s.id), [1, 2, 3]);
      const spec3 = JSON.parse(readFileSync(join(ens.dir, 'ensemble.json'), 'utf8')) as { size: number };
      assert.equal(spec3.size, 3);
      assert.equal(existsSync(join(ens.dir, 'members', '4')), false);
      assert.ok(await isPortFree(port4, LOCAL_HOST), 'member 4 was stopped');

      // The client is still served; every remaining member has everything.
      await client.create('/data/after-remove', Buffer.from('z'));
      expected.push('after-remove=z');
      expected.sort();
      for (const id of [1, 2, 3]) assert.deepEqual(await dataOn(`${LOCAL_HOST}:${memberPorts(ens.spec, id).clientPort}`), expected, `member ${id}`);
      assert.equal(encodeJson((await readConfig(client, '/config/app')).document), encodeJson(appDoc));
    } finally {
      await client.close();
    }
  });

  test('zkctl reconfig: exit 7 without auth, exit 5 when the config version moved', async () => {
    const ens = fe.ensemble;
    const auth = `digest:${ens.superAuth()}`;
    const noAuth = await cli(['reconfig', '-s', ens.connectString, '--remove', '3']);
    assert.equal(noAuth.code, 7, noAuth.stderr);
    const probe = await Session.connect({ connectString: ens.connectString, timeoutMs: 15_000 });
    const current = await readDynamicConfig(probe).finally(() => probe.close());
    const stale = await cli(['reconfig', '-s', ens.connectString, '--auth', auth, '--remove', '3', '--from-version', (current.version - 1n).toString(16)]);
    assert.equal(stale.code, 5, stale.stderr);
    assert.equal(stale.stderr.includes(ens.superPassword()), false, 'the password never shows');
    const bad = await cli(['reconfig', '-s', ens.connectString, '--auth', auth, '--add', 'server.5=nohostports']);
    assert.equal(bad.code, 2);
    const s = await Session.connect({ connectString: ens.connectString, timeoutMs: 15_000 });
    try {
      assert.deepEqual((await readDynamicConfig(s)).servers.map((x) => x.id), [1, 2, 3], 'nothing changed');
    } finally {
      await s.close();
    }
  });

  test('refuses a removal that would leave no majority of live voting members', async () => {
    const ens = fe.ensemble;
    await ens.stop(3);
    try {
      const r = await cli(['ensemble', 'remove', '2', '--dir', ens.dir]);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, /would leave 1 of 2 voting members serving/);
      assert.deepEqual(removedMembers(ens), []);
      const s = await Session.connect({ connectString: ens.connectString, timeoutMs: 15_000 });
      try {
        assert.deepEqual((await readDynamicConfig(s)).servers.map((x) => x.id), [1, 2, 3]);
      } finally {
        await s.close();
      }
      assert.ok(ens.isRunning(2));
    } finally {
      await ens.start(3, { wait: true, timeoutMs: 60_000 });
    }
  });
});
