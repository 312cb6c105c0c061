/** Service discovery: Curator's JSON format, registration held and removed (exit, signals, crash), cache, pick. */
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Session } from '../../src/core/session.js';
import { sessionHex } from '../../src/core/session-id.js';
import { createWithParents } from '../../src/core/nodes.js';
import { makeInstance, parseInstance, readInstances, serializeInstance, ServiceCache, ServiceRegistration, type CacheEvent } from '../../src/core/recipes/services.js';
import { chrootSession, type ChrootSession } from '../helpers/session.js';
import { repoRoot, runAsync, runCli } from '../helpers/zk.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor<T>(fn: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error('condition not met in time');
    await sleep(100);
  }
}

describe('Curator x-discovery JSON', () => {
  it('writes what Curator 5.4 writes, byte for byte (field order, nulls, no "enabled")', () => {
    const i = makeInstance({ name: 'web', id: '3b0e1d3c-8d1c-4c77-9d4e-0a1b2c3d4e5f', address: '127.0.0.1', port: 8080, registrationTimeUTC: 1795620998684 });
    assert.equal(
      serializeInstance(i).toString(),
      '{"name":"web","id":"3b0e1d3c-8d1c-4c77-9d4e-0a1b2c3d4e5f","address":"127.0.0.1","port":8080,"sslPort":null,"payload":null,"registrationTimeUTC":1795620998684,"serviceType":"DYNAMIC","uriSpec":null}',
    );
    const w = makeInstance({ name: 'web', id: 'a', address: '10.0.0.1', port: 1, weight: 3, registrationTimeUTC: 1 });
    assert.equal(serializeInstance(w).toString(), '{"name":"web","id":"a","address":"10.0.0.1","port":1,"sslPort":null,"payload":{"weight":3},"registrationTimeUTC":1,"serviceType":"DYNAMIC","uriSpec":null}');
    assert.equal(serializeInstance({ ...w, enabled: true }).toString().endsWith(',"uriSpec":null,"enabled":true}'), true);
  });

  it('reads Curator\'s instances with and without "enabled", ignoring unknown fields', () => {
    const curator = '{"name":"web","id":"c1","address":"127.0.0.1","port":47102,"sslPort":null,"payload":{"@class":"java.util.LinkedHashMap","weight":2},"registrationTimeUTC":1795622576138,"serviceType":"DYNAMIC","uriSpec":{"parts":[{"value":"scheme","variable":true}]},"enabled":false,"somethingNew":[1,2]}';
    const i = parseInstance(curator);
    assert.equal(i.id, 'c1');
    assert.equal(i.port, 47102);
    assert.equal(i.enabled, false);
    assert.deepEqual(i.payload, { '@class': 'java.util.LinkedHashMap', weight: 2 });
    assert.deepEqual(i.uriSpec, { parts: [{ value: 'scheme', variable: true }] });
    assert.equal(parseInstance('{"name":"x","id":"y","address":"h","port":1,"registrationTimeUTC":5,"serviceType":"STATIC"}').enabled, undefined);
    // What zkctl writes reads back identically (round trip is byte-exact).
    const again = serializeInstance(parseInstance(curator)).toString();
    assert.equal(again, curator.replace(',"somethingNew":[1,2]', ''));
    assert.throws(() => parseInstance('not json'));
  });
});

describe('services on ZooKeeper', () => {
  let cs: ChrootSession;
  before(async () => {
    cs = await chrootSession('services');
  });
  after(async () => {
    await cs?.close();
  });

  it('services ls: the owner session as unsigned 64-bit hex (sessionHex), as every other command prints it', async () => {
    // A session id with the high bit set (server id >= 128) is negative as signed: services ls/watch
    // printed "0x-..." for it. (A TTL node's stat carries no owner: the server reports 0.)
    assert.equal(sessionHex(-1n), '0xffffffffffffffff');
    assert.equal(sessionHex(-0xfffffffff6d840n), '0xff000000000927c0');
    assert.equal(sessionHex(0x100000b3770000an), '0x100000b3770000a');
    const reg = new ServiceRegistration(cs.session, makeInstance({ name: 'hexsvc', id: 'h1', address: '127.0.0.1', port: 9300 }));
    await reg.register();
    try {
      const r = await runCli(['services', 'ls', 'hexsvc', '-s', cs.server, '-o', 'json']);
      assert.equal(r.code, 0, r.stderr);
      const rows = JSON.parse(r.stdout) as Array<{ id: string; session: string }>;
      assert.deepEqual(rows.map((x) => [x.id, x.session]), [['h1', sessionHex(cs.session.sessionId)]]);
    } finally {
      await reg.unregister();
    }
  });

  it('registers an ephemeral instance, re-registers a missing node after a reconnect, unregisters', async () => {
    const reg = new ServiceRegistration(cs.session, makeInstance({ name: 'api', id: 'r1', address: '127.0.0.1', port: 9000 }));
    await reg.register();
    const st = await cs.session.exists('/services/api/r1');
    assert.equal(st!.ephemeralOwner, cs.session.sessionId);
    // Same id again: deleted and re-created (as Curator); the first registration notices and
    // does not fight it.
    const replaced = new Promise((r) => reg.once('replaced', r));
    const reg2 = new ServiceRegistration(cs.session, makeInstance({ name: 'api', id: 'r1', address: '127.0.0.1', port: 9001 }));
    await reg2.register();
    await replaced;
    const { instances } = await readInstances(cs.session, 'api');
    assert.equal(instances.length, 1);
    assert.equal(instances[0].instance.port, 9001);
    // The replaced one leaves the other's node alone.
    await reg.unregister();
    assert.ok(await cs.session.exists('/services/api/r1'));
    // After a session loss the node is gone; the registration writes it again.
    const re = new Promise((r) => reg2.once('reregistered', r));
    await cs.session.delete('/services/api/r1');
    cs.session.emit('reconnected');
    await re;
    assert.equal(JSON.parse((await cs.session.get('/services/api/r1')).data.toString()).port, 9001);
    await reg2.unregister();
    assert.equal(await cs.session.exists('/services/api/r1'), null);
  });

  it('a takeover by delete, pause, create (as Curator under load) is not fought: the other\'s create lands, zkctl says replaced', async () => {
    const other = await Session.connect({ connectString: cs.server });
    const reg = new ServiceRegistration(cs.session, makeInstance({ name: 'slowtake', id: 't1', address: '127.0.0.1', port: 9100 }));
    try {
      await reg.register();
      const replaced = new Promise((r) => reg.once('replaced', r));
      const rereg: unknown[] = [];
      reg.on('reregistered', (s) => rereg.push(s));
      // The other registrant deletes zkctl's node, and creates its own a moment later (Curator's
      // delete and create are two round trips; under load far apart). Without a grace zkctl writes
      // its node back in between and this create fails with NODE_EXISTS.
      await other.sync('/services/slowtake/t1'); // (other may be on a member that has not seen the create yet)
      await other.delete('/services/slowtake/t1');
      await sleep(300);
      // (With parents, as Curator does: the server may reap the emptied container parent during the pause.)
      await createWithParents(other, '/services/slowtake/t1', serializeInstance(makeInstance({ name: 'slowtake', id: 't1', address: '127.0.0.1', port: 9101 })), { mode: 'ephemeral' });
      await replaced;
      assert.equal(rereg.length, 0, 'zkctl wrote its node back during the takeover');
      // The other leaves: zkctl registers again.
      const back = new Promise((r) => reg.once('reregistered', r));
      await other.delete('/services/slowtake/t1');
      await back;
      assert.equal(JSON.parse((await cs.session.get('/services/slowtake/t1')).data.toString()).port, 9100);
    } finally {
      await reg.unregister();
      await other.close();
    }
  });

  it('ServiceCache reports joins, updates and leaves', async () => {
    const other = await Session.connect({ connectString: cs.server });
    const cache = new ServiceCache(cs.session, 'cache');
    const events: CacheEvent[] = [];
    cache.on('event', (e: CacheEvent) => events.push(e));
    await cache.start();
    assert.equal(cache.size, 0);
    const r = new ServiceRegistration(other, makeInstance({ name: 'cache', id: 'x', address: '127.0.0.1', port: 1 }));
    await r.register();
    await waitFor(async () => (cache.size === 1 ? true : undefined));
    await other.set('/services/cache/x', serializeInstance(makeInstance({ name: 'cache', id: 'x', address: '127.0.0.1', port: 2 })));
    await waitFor(async () => (events.some((e) => e.type === 'update') ? true : undefined));
    await other.close(); // the session ends: its ephemeral node goes at once
    await waitFor(async () => (cache.size === 0 ? true : undefined));
    assert.deepEqual(events.map((e) => e.type), ['join', 'update', 'leave']);
    cache.close();
  });

  it('CLI: held while CMD runs, removed when it exits, exit status passed through; ls and pick', async () => {
    const run = runCli(['services', 'register', 'web', '--port', '47991', '--id', 'w1', '--weight', '2', '-s', cs.server, '--', process.execPath, '-e', 'setTimeout(() => process.exit(7), 2500)'], { timeoutMs: 30_000 });
    const row = await waitFor(async () => {
      const r = await runCli(['services', 'ls', 'web', '-s', cs.server, '-o', 'json']);
      const rows = JSON.parse(r.stdout || '[]') as Array<{ id: string; port: number; weight: number; session: string }>;
      return rows.length ? rows[0] : undefined;
    });
    assert.equal(row.id, 'w1');
    assert.equal(row.port, 47991);
    assert.equal(row.weight, 2);
    assert.match(row.session, /^0x[0-9a-f]+$/);
    const pick = await runCli(['services', 'pick', 'web', '-s', cs.server]);
    assert.equal(pick.stdout.trim(), '127.0.0.1:47991');
    const res = await run;
    assert.equal(res.code, 7, res.stderr);
    assert.equal(await cs.session.exists('/services/web/w1'), null);
    const none = await runCli(['services', 'pick', 'web', '-s', cs.server]);
    assert.equal(none.code, 3);
  });

  it('CLI: SIGTERM unregisters at once (exit 143, the signal\'s code); a SIGKILLed holder is removed by session expiry', async () => {
    const term = runCli(['services', 'register', 'sig', '--port', '47992', '--id', 't', '-s', cs.server], { signal: 'SIGTERM', signalAfterMs: 2500 });
    await waitFor(async () => ((await cs.session.exists('/services/sig/t')) ? true : undefined));
    const r = await term;
    assert.equal(r.code, 143, r.stderr);
    assert.equal(await cs.session.exists('/services/sig/t'), null);

    const child = spawn(process.execPath, [join(repoRoot, 'bin', 'zkctl.js'), 'services', 'register', 'sig', '--port', '47993', '--id', 'k', '--session-timeout', '4s', '-s', cs.server], { stdio: 'ignore' });
    await waitFor(async () => ((await cs.session.exists('/services/sig/k')) ? true : undefined));
    child.kill('SIGKILL');
    // Gone after the session timeout (4 s, as granted by the server), not at once.
    await waitFor(async () => ((await cs.session.exists('/services/sig/k')) === null ? true : undefined), 30_000);
  });

  const javaCp = ['curator-framework', 'curator-client', 'curator-x-discovery', 'zookeeper', 'zookeeper-jute', 'jackson-databind', 'jackson-core', 'jackson-annotations', 'guava', 'slf4j-api'].map((j) => `/usr/share/java/${j}.jar`);
  const haveCurator = javaCp.every((j) => existsSync(j)) && (() => { try { execFileSync('javac', ['-version'], { stdio: 'ignore' }); return true; } catch { return false; } })();
  it('interoperates with the real Curator 5.4 ServiceDiscovery both ways', { skip: haveCurator ? false : 'Curator jars (apt-get install libcurator-discovery-java) or javac missing' }, async () => {
    const dir = mkdtempSync(join(process.env.ZKCTL_TEST_TMP ?? tmpdir(), 'curator-'));
    const src = join(fileURLToPath(new URL('../../../test/services/CuratorInterop.java', import.meta.url)));
    const javac = await runAsync('javac', ['-d', dir, '-cp', javaCp.join(':'), src]);
    assert.equal(javac.status, 0, javac.stderr);
    const cp = `${dir}:${javaCp.join(':')}`;
    // Curator registers; zkctl reads it.
    const java = spawn('java', ['-cp', cp, 'CuratorInterop', cs.server, '/services', 'register', 'mixed', 'cur1', '47994', '6'], { stdio: ['ignore', 'pipe', 'ignore'] });
    await new Promise<void>((resolve) => java.stdout!.on('data', (d: Buffer) => d.toString().includes('registered') && resolve()));
    const reg = new ServiceRegistration(cs.session, makeInstance({ name: 'mixed', id: 'zk1', address: '127.0.0.1', port: 47995, weight: 5 }));
    await reg.register();
    const { instances } = await readInstances(cs.session, 'mixed');
    const cur = instances.find((i) => i.instance.id === 'cur1')!;
    assert.equal(cur.instance.port, 47994);
    assert.deepEqual(cur.instance.payload, { '@class': 'java.util.LinkedHashMap', weight: 2 });
    // Curator reads zkctl's instance (and its weight in the payload).
    const list = await runAsync('java', ['-cp', cp, 'CuratorInterop', cs.server, '/services', 'list', 'mixed']);
    assert.equal(list.status, 0, list.stderr);
    const out = list.stdout;
    assert.match(out, /^zk1 127\.0\.0\.1 47995 weight=5 enabled=true$/m);
    assert.match(out, /^cur1 127\.0\.0\.1 47994 weight=2 enabled=true$/m);
    await reg.unregister();
    java.kill();
  });

  // Curator takes a node over by delete-then-create (and loops while its create finds a node): zkctl waits a
  // grace before writing a deleted node back, so it does not slip in between and fight (a race seen in CI).
  it('a zkctl registration taken over by Curator (same id) says so and comes back when Curator leaves', { skip: haveCurator ? false : 'Curator jars or javac missing' }, async () => {
    const dir = mkdtempSync(join(process.env.ZKCTL_TEST_TMP ?? tmpdir(), 'curator-'));
    const src = join(fileURLToPath(new URL('../../../test/services/CuratorInterop.java', import.meta.url)));
    const javac = await runAsync('javac', ['-d', dir, '-cp', javaCp.join(':'), src]);
    assert.equal(javac.status, 0, javac.stderr);
    const cp = `${dir}:${javaCp.join(':')}`;
    const zk = spawn(process.execPath, [join(repoRoot, 'bin', 'zkctl.js'), 'services', 'register', 'takeover', '--id', 'shared', '--port', '47990', '-s', cs.server, '-o', 'json'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let zkErr = '';
    let zkOut = '';
    zk.stderr!.on('data', (d: Buffer) => (zkErr += d.toString()));
    zk.stdout!.on('data', (d: Buffer) => (zkOut += d.toString()));
    const path = '/services/takeover/shared';
    const port = async (): Promise<number | undefined> => {
      await cs.session.sync(path);
      try {
        return (JSON.parse((await cs.session.get(path)).data.toString()) as { port: number }).port;
      } catch {
        return undefined; // not there (between a delete and a create)
      }
    };
    try {
      await waitFor(async () => ((await port()) === 47990 ? true : undefined), 60_000);
      // Curator registers the same id (it deletes the node and writes its own), holds it 4 s, then closes.
      const java = spawn('java', ['-cp', cp, 'CuratorInterop', cs.server, '/services', 'register', 'takeover', 'shared', '47991', '4'], { stdio: ['ignore', 'pipe', 'ignore'] });
      await new Promise<void>((resolve) => java.stdout!.on('data', (d: Buffer) => d.toString().includes('registered') && resolve()));
      await waitFor(async () => (/was replaced by another registrant of id shared/.test(zkErr) ? true : undefined), 20_000).catch(() => assert.fail(`zkctl did not notice: ${zkErr}`));
      assert.equal(await port(), 47991, 'zkctl fought Curator for the node');
      await new Promise<void>((resolve) => java.once('exit', () => resolve()));
      await waitFor(async () => ((await port()) === 47990 ? true : undefined), 30_000).catch(() => assert.fail(`zkctl did not register again: ${zkErr}`));
      assert.match(zkOut, /"event":"replaced"/);
      assert.match(zkOut, /"event":"reregistered"/);
    } finally {
      zk.kill('SIGINT');
      await new Promise((r) => zk.once('exit', r));
    }
  });
});
