/**
 * A raw `zkctl reconfig` on a local ensemble keeps the ensemble's own records in step (roster in
 * membership.json, the context's server list), so `ensemble status` and `ensemble down` agree
 * with the real membership; `ensemble status` warns when the records drifted (a reconfig zkctl
 * did not make) and `ensemble sync` brings them back. A private 3-member ensemble; the tests of
 * the second describe run in order.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as yamlParse, stringify as yamlStringify } from 'yaml';
import { Session } from '../../src/core/session.js';
import { parseDynamicConfig, readDynamicConfig, reconfigure } from '../../src/core/config/dynamic.js';
import { isPidAlive, isPortFree, memberPorts, LOCAL_HOST } from '../../src/ensemble/index.js';
import { rosterFromConfig } from '../../src/ensemble/roster.js';
import { diffRoster, describeChanges } from '../../src/ensemble/sync.js';
import { expectOk, isolatedCli, startFaultEnsemble, type CliResult, type FaultEnsemble } from '../helpers/zk.js';

describe('roster from a configuration (no server)', () => {
  test('ours: this host, the ports of the id, files in the ensemble dir; anything else is external', () => {
    const dir = mkdtempSync(join(process.env.ZKCTL_TEST_TMP ?? tmpdir(), 'roster-cfg-'));
    for (const id of [1, 2, 3]) {
      mkdirSync(join(dir, 'members', String(id)), { recursive: true });
      writeFileSync(join(dir, 'members', String(id), 'zoo.cfg'), '');
    }
    const spec = { basePort: 24100 };
    const cfg = parseDynamicConfig(
      [
        'server.1=127.0.0.1:34100:44100:participant;127.0.0.1:24100',
        'server.2=localhost:34101:44101:observer;0.0.0.0:24101',
        'server.3=127.0.0.1:34102:44102:participant;127.0.0.1:25000', // another client port
        'server.4=127.0.0.1:34103:44103:participant;127.0.0.1:24103', // layout, but no files here
        'server.7=10.0.0.7:2888:3888:observer;2181',
        'version=100000004',
      ].join('\n'),
    );
    const rec = rosterFromConfig(dir, spec, cfg);
    assert.deepEqual(rec.members, [
      { id: 1, role: 'participant' },
      { id: 2, role: 'observer' },
    ]);
    assert.deepEqual(
      rec.external.map((x) => [x.id, x.role, x.address]),
      [
        [3, 'participant', '127.0.0.1:25000'],
        [4, 'participant', '127.0.0.1:24103'],
        [7, 'observer', '10.0.0.7:2181'],
      ],
    );
    assert.equal(rec.external[2]?.server, 'server.7=10.0.0.7:2888:3888:observer;2181');

    const changes = diffRoster({ members: [{ id: 1, role: 'participant' }, { id: 2, role: 'participant' }, { id: 3, role: 'participant' }, { id: 5, role: 'participant' }], external: [] }, rec);
    assert.deepEqual(
      changes.map((c) => [c.id, c.change]),
      [
        [2, 'changed'],
        [3, 'changed'],
        [4, 'added'],
        [5, 'removed'],
        [7, 'added'],
      ],
    );
    assert.equal(
      describeChanges(changes),
      'member 2 now observer (was participant); member 3 now external; member 4 added (participant, external); member 5 removed; member 7 added (observer, external)',
    );
    assert.deepEqual(diffRoster(rec, rec), []);
  });
});

const { configHome, zk } = isolatedCli('raw-sync', 120_000);
const ok = expectOk;

interface StatusJson {
  quorum: boolean;
  serving: number;
  size: number;
  connectString: string;
  members: Array<{ id: number; role?: string; mode: string; pid?: number; external?: boolean }>;
  drift?: { version: string; changes: Array<{ id: number; change: string; role: string; pid?: number }> };
  formerRunning?: Array<{ id: number; pid: number }>;
}

interface LocalJson {
  ensemble: string;
  updated: boolean;
  changes: Array<{ id: number; change: string; role: string; external?: boolean; pid?: number }>;
  contexts: string[];
  connectString: string;
  formerRunning: Array<{ id: number; pid: number }>;
  error?: string;
}

function contextServer(name: string): string | undefined {
  const cfg = yamlParse(readFileSync(join(configHome, 'zkctl', 'config.yaml'), 'utf8')) as { contexts: Record<string, { server: string }> };
  return cfg.contexts[name]?.server;
}

function recorded(): { members: Array<{ id: number; role: string }>; external?: Array<{ id: number; role: string }> } {
  return JSON.parse(readFileSync(join(fe.dir, 'membership.json'), 'utf8')) as ReturnType<typeof recorded>;
}

let fe: FaultEnsemble;
const addr = (id: number): string => `${LOCAL_HOST}:${memberPorts(fe.ensemble.spec, id).clientPort}`;
const spec = (id: number, role = 'participant'): string => {
  const p = memberPorts(fe.ensemble.spec, id);
  return `server.${id}=${LOCAL_HOST}:${p.quorumPort}:${p.electionPort}:${role};${LOCAL_HOST}:${p.clientPort}`;
};
const auth = (): string => `digest:${fe.ensemble.superAuth()}`;
const pids = new Map<number, number>();

async function status(): Promise<{ json: StatusJson; stderr: string }> {
  await fe.ensemble.waitForQuorum(60_000);
  const r = ok(await zk(['ensemble', 'status', '-o', 'json']));
  return { json: JSON.parse(r.stdout) as StatusJson, stderr: r.stderr };
}

/** The leader now and the followers (a removed follower changes no leadership: no client connection is dropped). */
async function roles(): Promise<{ leader: number; followers: number[] }> {
  const st = await fe.ensemble.waitForQuorum(60_000);
  const leader = st.leader!.id;
  return { leader, followers: st.members.filter((m) => m.mode === 'follower').map((m) => m.id) };
}
const ids = (xs: number[]): number[] => [...xs].sort((x, y) => x - y);
const others = (...drop: number[]): number[] => [1, 2, 3].filter((id) => !drop.includes(id));
const sleep = (ms: number): Promise<void> => new Promise((res) => setTimeout(res, ms));

/** The member removed by the first raw reconfig (and re-added by the second). */
let a = 0;

before(async () => {
  fe = await startFaultEnsemble(3);
  // Wait until every member's pid is known (pidOf gave undefined once right after the start, under a
  // fresh-clone CI run: to be looked into; the test needs the pids, not that moment's answer).
  const end = Date.now() + 30_000;
  while (![1, 2, 3].every((id) => fe.ensemble.pidOf(id) !== undefined) && Date.now() < end) await sleep(100);
  for (const id of [1, 2, 3]) pids.set(id, fe.ensemble.pidOf(id)!);
});
after(async () => {
  await fe?.cleanup();
});

describe('raw reconfig on a local ensemble', () => {
  test('--remove through the context: roster and context follow, status agrees, the removed member still runs', async () => {
    ok(await zk(['ensemble', 'up', '--dir', fe.dir, '-o', 'json']));
    assert.equal(contextServer(fe.name), [1, 2, 3].map(addr).join(','));
    const { leader, followers } = await roles();
    a = followers[0]!;
    // The context reaches the ensemble through the leader only (not through the member removed).
    const cfgPath = join(configHome, 'zkctl', 'config.yaml');
    const cfg = yamlParse(readFileSync(cfgPath, 'utf8')) as { contexts: Record<string, { server: string }> };
    cfg.contexts[fe.name]!.server = addr(leader);
    writeFileSync(cfgPath, yamlStringify(cfg));

    const r = ok(await zk(['reconfig', '--auth', auth(), '--remove', String(a), '-o', 'json']));
    const local = (JSON.parse(r.stdout) as { local?: LocalJson }).local;
    assert.ok(local, r.stdout);
    assert.equal(local.ensemble, fe.name);
    assert.equal(local.updated, true);
    assert.deepEqual(local.changes, [{ id: a, change: 'removed', role: 'participant', pid: pids.get(a) }]);
    assert.deepEqual(local.contexts, [fe.name]);
    assert.deepEqual(local.formerRunning, [{ id: a, pid: pids.get(a) }]);
    assert.match(r.stderr, new RegExp(`updated local ensemble '.*' to config version [0-9a-f]+: member ${a} removed \\(still running`));
    assert.equal(r.stderr.includes(fe.ensemble.superPassword()), false, 'the password never shows');

    assert.deepEqual(
      recorded().members,
      others(a).map((id) => ({ id, role: 'participant' })),
    );
    assert.equal(contextServer(fe.name), others(a).map(addr).join(','), 'the context lists the members');
    assert.ok(isPidAlive(pids.get(a)!), 'zkctl reconfig does not stop the removed member');

    const { json, stderr } = await status();
    assert.deepEqual(
      json.members.map((m) => m.id),
      others(a),
    );
    assert.equal(json.quorum, true);
    assert.equal(json.size, 2);
    assert.equal(json.connectString, others(a).map(addr).join(','));
    assert.equal(json.drift, undefined, stderr);
    assert.doesNotMatch(stderr, /warning/);
    assert.deepEqual(json.formerRunning, [{ id: a, pid: pids.get(a) }]);
  });

  test('--add re-adds the participant (given -s), recorded under the membership lock: our member again, in the context', async () => {
    const { leader } = await roles();
    // Hold the lock `ensemble add/remove` use (a live pid: ours): the reconfig commits, but the
    // roster is only written once the lock is free.
    const lock = join(fe.dir, '.membership.lock');
    writeFileSync(lock, String(process.pid), { flag: 'wx' });
    let released = false;
    const release = (): void => {
      if (!released) rmSync(lock, { force: true });
      released = true;
    };
    let r: CliResult;
    try {
      const running = zk(['reconfig', '-s', addr(leader), '--auth', auth(), '--add', spec(a), '-o', 'json']);
      const s = await Session.connect({ connectString: addr(leader), timeoutMs: 15_000 });
      try {
        const end = Date.now() + 60_000;
        while (!(await readDynamicConfig(s)).servers.some((x) => x.id === a)) {
          assert.ok(Date.now() < end, 'the reconfig did not commit');
          await sleep(100);
        }
      } finally {
        await s.close();
      }
      await sleep(500);
      assert.deepEqual(
        recorded().members.map((m) => m.id),
        others(a),
        'not written while another membership change holds the lock',
      );
      release();
      r = ok(await running);
    } finally {
      release();
    }
    const local = (JSON.parse(r.stdout) as { local?: LocalJson }).local;
    assert.ok(local, r.stdout);
    assert.deepEqual(local.changes, [{ id: a, change: 'added', role: 'participant' }]);
    assert.deepEqual(local.formerRunning, []);
    assert.deepEqual(
      recorded().members.map((m) => m.id),
      [1, 2, 3],
    );
    assert.equal(contextServer(fe.name), [1, 2, 3].map(addr).join(','));
    const { json } = await status();
    assert.deepEqual(
      json.members.map((m) => [m.id, m.pid]),
      [1, 2, 3].map((id) => [id, pids.get(id)]),
    );
    assert.equal(json.serving, 3);
    assert.equal(json.formerRunning, undefined);
  });

  test('--add of a server zkctl did not start: recorded as external, shown by status, not in the context', async () => {
    // Ports nothing listens on: the observer is in the configuration but does not run.
    const ports: number[] = [];
    for (let p = fe.ensemble.spec.basePort + 500; p < fe.ensemble.spec.basePort + 600 && ports.length < 3; p++) {
      if (await isPortFree(p, '127.0.0.2')) ports.push(p);
    }
    assert.equal(ports.length, 3);
    const port = ports[2]!;
    const ext = `server.9=127.0.0.2:${ports[0]}:${ports[1]}:observer;127.0.0.2:${port}`;
    const { leader } = await roles();
    const r = ok(await zk(['reconfig', '-s', addr(leader), '--auth', auth(), '--add', ext, '-o', 'json']));
    const local = (JSON.parse(r.stdout) as { local?: LocalJson }).local;
    assert.deepEqual(local?.changes, [{ id: 9, change: 'added', role: 'observer', external: true }]);
    assert.match(r.stderr, /member 9 added \(observer, external\)/);
    assert.deepEqual(recorded().external?.map((x) => [x.id, x.role]), [[9, 'observer']]);
    assert.equal(contextServer(fe.name), [1, 2, 3].map(addr).join(','), 'external servers are not in the context');

    const { json, stderr } = await status();
    const m9 = json.members.find((m) => m.id === 9);
    assert.ok(m9, JSON.stringify(json.members));
    assert.equal(m9.external, true);
    assert.equal(m9.pid, undefined);
    assert.equal(m9.mode, 'down');
    assert.equal(m9.role, 'observer');
    assert.equal(json.quorum, true);
    assert.equal(json.size, 3, 'an observer does not vote');
    assert.equal(json.drift, undefined, stderr);
    // The plain table says "external" where a pid would be.
    const plain = ok(await zk(['ensemble', 'status', '-o', 'plain']));
    assert.match(plain.stdout, /^9\t127\.0\.0\.2:\d+\tdown\t.*\texternal$/m);
  });

  test('a reconfig zkctl did not make: status warns (one line, drift in JSON), ensemble sync records it', async () => {
    // Remove a follower and the external observer behind zkctl's back (a plain client, through the leader).
    const { leader, followers } = await roles();
    const b = followers.find((id) => id !== a) ?? followers[0]!;
    let version = '';
    for (let attempt = 0; !version; attempt++) {
      const s = await Session.connect({ connectString: addr(leader), timeoutMs: 15_000, auth: [{ scheme: 'digest', credential: fe.ensemble.superAuth() }] });
      try {
        const cur = await readDynamicConfig(s);
        if (!cur.servers.some((x) => x.id === b || x.id === 9)) version = cur.versionHex; // applied, the reply was lost
        else version = (await reconfigure(s, { remove: [b, 9], fromVersion: cur.version })).versionHex;
      } catch (e) {
        if (attempt >= 3) throw e;
        await sleep(500);
      } finally {
        await s.close();
      }
    }
    await fe.ensemble.waitForQuorum(60_000, { all: false });
    const rest = others(b);

    const st = ok(await zk(['ensemble', 'status', '-o', 'json']));
    const j = JSON.parse(st.stdout) as StatusJson;
    assert.ok(j.drift, st.stdout);
    assert.equal(j.drift.version, version);
    assert.deepEqual(
      j.drift.changes.map((c) => [c.id, c.change]),
      [
        [b, 'removed'],
        [9, 'removed'],
      ],
    );
    const warnings = st.stderr.split('\n').filter((l) => /warning/.test(l));
    assert.equal(warnings.length, 1, st.stderr);
    assert.match(warnings[0]!, new RegExp(`differs from ZooKeeper's configuration \\(version [0-9a-f]+\\): member ${b} removed \\(still running, pid \\d+\\); member 9 removed.*zkctl ensemble sync`));
    // Nothing was written by status.
    assert.deepEqual(
      recorded().members.map((m) => m.id),
      [1, 2, 3],
    );

    const sync = ok(await zk(['ensemble', 'sync', '-o', 'json']));
    const sj = JSON.parse(sync.stdout) as LocalJson & { version: string; members: Array<{ id: number }> };
    assert.equal(sj.updated, true);
    assert.equal(sj.version, version);
    assert.deepEqual(
      sj.members.map((m) => m.id),
      rest,
    );
    assert.deepEqual(sj.contexts, [fe.name]);
    assert.deepEqual(sj.formerRunning, [{ id: b, pid: pids.get(b) }]);
    assert.equal(contextServer(fe.name), rest.map(addr).join(','));
    assert.equal(recorded().external, undefined);

    const after = await status();
    assert.equal(after.json.drift, undefined, after.stderr);
    assert.doesNotMatch(after.stderr, /warning/);
    assert.deepEqual(
      after.json.members.map((m) => m.id),
      rest,
    );
    // A second sync changes nothing.
    const again = JSON.parse(ok(await zk(['ensemble', 'sync', '-o', 'json'])).stdout) as LocalJson;
    assert.equal(again.updated, false);
    assert.deepEqual(again.changes, []);
    assert.ok(isPidAlive(pids.get(b)!), `member ${b} (removed) still runs before down`);
  });

  test('ensemble down --purge stops every process, the removed member too', async () => {
    const r = ok(await zk(['ensemble', 'down', '--purge', '--dir', fe.dir, '-o', 'json']));
    const j = JSON.parse(r.stdout) as { stopped: number[]; purged: boolean };
    assert.deepEqual(ids(j.stopped), [1, 2, 3]);
    assert.equal(j.purged, true);
    for (const [id, pid] of pids) assert.equal(isPidAlive(pid), false, `member ${id} (pid ${pid})`);
    for (const id of [1, 2, 3]) assert.ok(await isPortFree(memberPorts(fe.ensemble.spec, id).clientPort, LOCAL_HOST), `port of member ${id}`);
  });
});
