/**
 * After `ensemble remove` / `ensemble add`, the rest of the CLI follows the membership: a removed
 * member (a hole below the highest id) is not listed, not started and not counted for the quorum;
 * an added member (also an observer) is in the context's server list, in status, and stopped by
 * `ensemble down --purge`. A private 3-member ensemble, the tests of this file run in order.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as yamlParse } from 'yaml';
import { isPidAlive, isPortFree, memberPorts, LOCAL_HOST } from '../../src/ensemble/index.js';
import { expectOk, isolatedCli, startFaultEnsemble, type FaultEnsemble } from '../helpers/zk.js';

const { configHome, zk } = isolatedCli('roster-cli', 180_000);
const ok = expectOk;

interface StatusJson {
  quorum: boolean;
  serving: number;
  size: number;
  connectString: string;
  members: Array<{ id: number; role?: string; mode: string; pid?: number }>;
}

function contextServer(name: string): string | undefined {
  const cfg = yamlParse(readFileSync(join(configHome, 'zkctl', 'config.yaml'), 'utf8')) as { contexts: Record<string, { server: string }> };
  return cfg.contexts[name]?.server;
}

let fe: FaultEnsemble;
const addr = (id: number): string => `${LOCAL_HOST}:${memberPorts(fe.ensemble.spec, id).clientPort}`;

before(async () => {
  // Member 4's ports must be free too (it is added below).
  for (let i = 0; ; i++) {
    fe = await startFaultEnsemble(3);
    const p = memberPorts(fe.ensemble.spec, 4);
    const free = (await Promise.all([p.clientPort, p.quorumPort, p.electionPort].map((x) => isPortFree(x, LOCAL_HOST)))).every(Boolean);
    if (free || i >= 3) break;
    await fe.cleanup();
  }
});
after(async () => {
  await fe?.cleanup();
});

describe('the ensemble library follows membership changes', () => {
  test('up writes the context; remove 2 (not the highest): status lists 1 and 3 only, quorum, exit 0', async () => {
    const up = ok(await zk(['ensemble', 'up', '--dir', fe.dir, '-o', 'json']));
    assert.equal((JSON.parse(up.stdout) as { alreadyRunning: boolean }).alreadyRunning, true);
    assert.equal(contextServer(fe.name), [1, 2, 3].map(addr).join(','));
    const pid2 = fe.ensemble.pidOf(2);
    assert.ok(pid2);

    const rm = ok(await zk(['ensemble', 'remove', '2', '--dir', fe.dir, '-o', 'json']));
    assert.equal((JSON.parse(rm.stdout) as { id: number }).id, 2);
    assert.equal(isPidAlive(pid2), false, 'member 2 was stopped');
    assert.ok(existsSync(join(fe.dir, 'members', '2')), 'a hole keeps its files');
    assert.equal(contextServer(fe.name), [1, 3].map(addr).join(','), 'the context follows');

    // Through the current context (no --dir): the ensemble-dir it points at.
    const st = ok(await zk(['ensemble', 'status', '-o', 'json']));
    const s = JSON.parse(st.stdout) as StatusJson;
    assert.deepEqual(
      s.members.map((m) => m.id),
      [1, 3],
    );
    assert.ok(s.members.every((m) => m.mode === 'leader' || m.mode === 'follower'), st.stdout);
    assert.equal(s.quorum, true);
    assert.equal(s.size, 2);
    assert.equal(s.serving, 2);
    assert.equal(s.connectString, [1, 3].map(addr).join(','));
    assert.equal(fe.ensemble.isRunning(2), false);
  });

  test('up on it starts nothing and reports it running', async () => {
    const r = ok(await zk(['ensemble', 'up', '--dir', fe.dir, '-o', 'json']));
    const j = JSON.parse(r.stdout) as StatusJson & { alreadyRunning: boolean; started: number[] };
    assert.equal(j.alreadyRunning, true);
    assert.deepEqual(j.started, []);
    assert.deepEqual(
      j.members.map((m) => m.id),
      [1, 3],
    );
    assert.equal(j.quorum, true);
    assert.equal(fe.ensemble.isRunning(2), false, 'the removed member stays stopped');
    assert.ok(await isPortFree(memberPorts(fe.ensemble.spec, 2).clientPort, LOCAL_HOST));
    // Starting it by hand is refused: it is no longer a member.
    const start = await zk(['ensemble', 'start', '2', '--dir', fe.dir]);
    assert.equal(start.code, 2, start.stderr);
    assert.match(start.stderr, /no longer a member/);
  });

  test('add fills the hole, add --observer adds 4: the context lists them; observers do not vote', async () => {
    const a = ok(await zk(['ensemble', 'add', '--dir', fe.dir, '-o', 'json']));
    assert.equal((JSON.parse(a.stdout) as { id: number }).id, 2);
    assert.equal(contextServer(fe.name), [1, 2, 3].map(addr).join(','));

    const o = ok(await zk(['ensemble', 'add', '--observer', '--dir', fe.dir, '-o', 'json']));
    const added = JSON.parse(o.stdout) as { id: number; role: string };
    assert.deepEqual([added.id, added.role], [4, 'observer']);
    assert.equal(contextServer(fe.name), [1, 2, 3, 4].map(addr).join(','), 'the context lists the new member');

    const st = ok(await zk(['ensemble', 'status', '-o', 'json']));
    const s = JSON.parse(st.stdout) as StatusJson;
    assert.deepEqual(
      s.members.map((m) => [m.id, m.role]),
      [
        [1, 'participant'],
        [2, 'participant'],
        [3, 'participant'],
        [4, 'observer'],
      ],
    );
    assert.equal(s.members.find((m) => m.id === 4)?.mode, 'observer');
    assert.equal(s.size, 3, 'voting members');
    assert.equal(s.serving, 4);
    assert.equal(s.quorum, true);
  });

  test('down --purge stops every member, the added ones too, and removes the context', async () => {
    const pids = fe.ensemble.members().map((m) => m.pid);
    assert.equal(pids.length, 4);
    assert.ok(pids.every((p) => p !== undefined));
    const r = ok(await zk(['ensemble', 'down', '--purge', '--dir', fe.dir, '-o', 'json']));
    const j = JSON.parse(r.stdout) as { stopped: number[]; purged: boolean; removedContexts: string[] };
    assert.deepEqual(j.stopped, [1, 2, 3, 4]);
    assert.equal(j.purged, true);
    assert.deepEqual(j.removedContexts, [fe.name]);
    for (const p of pids) assert.equal(isPidAlive(p!), false);
    for (const id of [1, 2, 3, 4]) assert.ok(await isPortFree(memberPorts(fe.ensemble.spec, id).clientPort, LOCAL_HOST), `port of member ${id}`);
    assert.equal(existsSync(fe.dir), false);
  });
});
