/**
 * The session layer against the real 3.8 ensemble: basic ops through a chroot,
 * every 3.5+ operation the wire client lacked, unknown reply codes, pipelining.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ConnectionError, ExitCode, ZkCode, ZkError } from '../../src/core/errors.js';
import { JuteWriter } from '../../src/core/protocol/jute.js';
import { Session, WatcherType, type WatchEvent } from '../../src/core/session.js';
import { chrootSession, type ChrootSession } from '../helpers/session.js';
import { testServer, testSuperAuth } from '../helpers/zk.js';


function until(cond: () => boolean, ms = 5000): Promise<void> {
  const t0 = Date.now();
  return new Promise((resolve, reject) => {
    const tick = (): void => {
      if (cond()) resolve();
      else if (Date.now() - t0 > ms) reject(new Error(`condition not met in ${ms} ms`));
      else setTimeout(tick, 20);
    };
    tick();
  });
}

describe('session: basic operations through a chroot', () => {
  let c: ChrootSession;
  before(async () => {
    c = await chrootSession('session-basic');
  });
  after(async () => c.close());

  it('creates, reads, updates with CAS and deletes', async () => {
    const s = c.session;
    const created = await s.create('/a', Buffer.from('one'));
    assert.equal(created.path, '/a');
    assert.equal(created.stat.version, 0);
    assert.equal(typeof created.stat.czxid, 'bigint');
    const got = await s.get('/a');
    assert.equal(got.data.toString(), 'one');
    const st = await s.set('/a', Buffer.from('two'), 0);
    assert.equal(st.version, 1);
    await assert.rejects(s.set('/a', Buffer.from('three'), 0), (e: unknown) => e instanceof ZkError && e.code === ZkCode.BAD_VERSION && e.exitCode === ExitCode.BAD_VERSION);
    await s.create('/a/b');
    await assert.rejects(s.delete('/a'), (e: unknown) => e instanceof ZkError && e.exitCode === ExitCode.NOT_EMPTY);
    assert.deepEqual((await s.getChildren('/a')).children, ['b']);
    await s.delete('/a/b');
    await s.delete('/a', 1);
    assert.equal(await s.exists('/a'), null);
    await assert.rejects(s.get('/a'), (e: unknown) => e instanceof ZkError && e.exitCode === ExitCode.NO_NODE && /\/a/.test(e.message));
  });

  it('applies the chroot: the node lives under it on the server', async () => {
    await c.session.create('/inside', Buffer.from('x'));
    const root = await Session.connect({ connectString: testServer() });
    try {
      const { data } = await root.get(`${c.chroot}/inside`);
      assert.equal(data.toString(), 'x');
    } finally {
      await root.close();
    }
  });

  it('sequential nodes get their real name back', async () => {
    await c.session.create('/seq');
    const a = await c.session.create('/seq/n-', Buffer.alloc(0), { sequential: true });
    const b = await c.session.create('/seq/n-', Buffer.alloc(0), { sequential: true, mode: 'ephemeral' });
    assert.match(a.path, /^\/seq\/n-\d{10}$/);
    assert.match(b.path, /^\/seq\/n-\d{10}$/);
    assert.ok(b.path > a.path);
    assert.equal(b.stat.ephemeralOwner, c.session.sessionId);
  });

  it('multi is atomic and names the failing op', async () => {
    const s = c.session;
    await s.create('/m');
    const res = await s.multi([
      { op: 'check', path: '/m', version: 0 },
      { op: 'create', path: '/m/x', data: Buffer.from('1') },
      { op: 'set', path: '/m', data: Buffer.from('v') },
    ]);
    assert.deepEqual(res.map((r) => r.op), ['check', 'create', 'set']);
    await assert.rejects(
      s.multi([
        { op: 'create', path: '/m/y' },
        { op: 'check', path: '/m', version: 0 },
      ]),
      (e: unknown) => e instanceof ZkError && e.code === ZkCode.BAD_VERSION && (e as ZkError & { opIndex: number }).opIndex === 1,
    );
    assert.equal(await s.exists('/m/y'), null, 'nothing of the failed transaction was applied');
  });

  it('one-shot watches fire once with the event type', async () => {
    const s = c.session;
    await s.create('/w', Buffer.from('0'));
    const events: WatchEvent[] = [];
    await s.get('/w', (e) => events.push(e));
    await s.getChildren('/w', (e) => events.push(e));
    await s.set('/w', Buffer.from('1'));
    await s.create('/w/c');
    await until(() => events.length >= 2);
    assert.deepEqual(events.map((e) => e.type).sort(), ['childrenChanged', 'dataChanged']);
    assert.ok(events.every((e) => e.path === '/w'));
    const nope: WatchEvent[] = [];
    assert.equal(await s.exists('/w-new', (e) => nope.push(e)), null);
    await s.create('/w-new');
    await until(() => nope.length === 1);
    assert.equal(nope[0]?.type, 'created');
  });
});

describe('session: ZooKeeper 3.5+ operations added at runtime', () => {
  let c: ChrootSession;
  before(async () => {
    c = await chrootSession('session-35');
  });
  after(async () => c.close());

  it('sync (9) returns the path', async () => {
    await c.session.create('/s');
    assert.equal(await c.session.sync('/s'), '/s');
  });

  it('create2 (15) returns the stat of the new node', async () => {
    const r = await c.session.create('/c2', Buffer.from('abc'));
    assert.equal(r.stat.dataLength, 3);
    assert.equal(r.stat.version, 0);
    const st = await c.session.exists('/c2');
    assert.equal(st?.czxid, r.stat.czxid);
  });

  it('createContainer (19) makes a real container node: the server reaps it once its last child goes', async () => {
    // Clients see ephemeralOwner 0 for containers and TTL nodes, so the proof is behaviour.
    // The local ensemble runs the container manager every second.
    await c.session.create('/plain');
    await c.session.create('/cont', Buffer.alloc(0), { mode: 'container' });
    await c.session.create('/cont/child');
    await c.session.delete('/cont/child');
    const t0 = Date.now();
    while ((await c.session.exists('/cont')) && Date.now() - t0 < 15_000) await new Promise((r) => setTimeout(r, 200));
    assert.equal(await c.session.exists('/cont'), null, 'container reaped');
    assert.ok(await c.session.exists('/plain'), 'a persistent node is not reaped');
  });

  it('createTTL (21) makes a TTL node: gone after its TTL', async () => {
    const r = await c.session.create('/ttl', Buffer.alloc(0), { mode: 'ttl', ttlMs: 500 });
    assert.equal(r.path, '/ttl');
    const t0 = Date.now();
    while ((await c.session.exists('/ttl')) && Date.now() - t0 < 15_000) await new Promise((r) => setTimeout(r, 200));
    assert.equal(await c.session.exists('/ttl'), null, 'TTL node expired');
    const seq = await c.session.create('/ttls-', Buffer.alloc(0), { mode: 'ttl', ttlMs: 60_000, sequential: true });
    assert.match(seq.path, /^\/ttls-\d{10}$/);
  });

  it('getEphemerals (103) lists this session\'s ephemerals, chroot stripped', async () => {
    await c.session.create('/eph');
    await c.session.create('/eph/e1', Buffer.alloc(0), { mode: 'ephemeral' });
    await c.session.create('/eph/e2', Buffer.alloc(0), { mode: 'ephemeral' });
    const list = await c.session.getEphemerals('/eph');
    assert.deepEqual(list.sort(), ['/eph/e1', '/eph/e2']);
  });

  it('getAllChildrenNumber (104) counts all descendants', async () => {
    await c.session.create('/cnt');
    await c.session.create('/cnt/a');
    await c.session.create('/cnt/a/b');
    await c.session.create('/cnt/c');
    assert.equal(await c.session.getAllChildrenNumber('/cnt'), 3);
  });

  it('checkWatches (17) and removeWatches (18); NO_WATCHER (-121), a code the wire client does not know, does not crash', async () => {
    const s = c.session;
    await s.create('/cw');
    assert.equal(await s.checkWatches('/cw', WatcherType.data), false);
    await s.get('/cw', () => undefined);
    assert.equal(await s.checkWatches('/cw', WatcherType.data), true);
    await s.removeWatches('/cw', WatcherType.data);
    assert.equal(await s.checkWatches('/cw', WatcherType.data), false);
    await assert.rejects(s.removeWatches('/cw', WatcherType.data), (e: unknown) => e instanceof ZkError && e.code === ZkCode.NO_WATCHER);
    // still usable
    assert.ok(await s.exists('/cw'));
  });

  it('addWatch (106) persistent: every change, no re-arming', async () => {
    const s = c.session;
    await s.create('/pw', Buffer.from('0'));
    const events: WatchEvent[] = [];
    const off = await s.addWatch('/pw', (e) => events.push(e));
    for (let i = 1; i <= 5; i++) await s.set('/pw', Buffer.from(String(i)));
    await s.create('/pw/child');
    await until(() => events.length >= 6);
    assert.deepEqual(
      events.map((e) => e.type),
      ['dataChanged', 'dataChanged', 'dataChanged', 'dataChanged', 'dataChanged', 'childrenChanged'],
    );
    await off();
    await s.set('/pw', Buffer.from('after'));
    await s.sync('/pw');
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(events.length, 6, 'no events after unsubscribing');
  });

  it('addWatch (106) persistent recursive: events from the whole subtree', async () => {
    const s = c.session;
    await s.create('/rw');
    const events: WatchEvent[] = [];
    const off = await s.addWatch('/rw', (e) => events.push(e), { recursive: true });
    await s.create('/rw/a');
    await s.create('/rw/a/b', Buffer.from('1'));
    await s.set('/rw/a/b', Buffer.from('2'));
    await s.delete('/rw/a/b');
    await until(() => events.length >= 4);
    assert.deepEqual(
      events.map((e) => `${e.type} ${e.path}`),
      ['created /rw/a', 'created /rw/a/b', 'dataChanged /rw/a/b', 'deleted /rw/a/b'],
    );
    await off();
  });

  it('setWatches2 (105): persistent watches are re-registered on the new connection after a reconnect', async () => {
    // Watches live on the server's connection object: without setWatches2 on
    // reconnect, no event would arrive below. (The server does not replay
    // changes made while disconnected for persistent watches; the watch recipe
    // resyncs those itself.)
    const s = c.session;
    await s.create('/sw', Buffer.from('0'));
    const events: WatchEvent[] = [];
    await s.addWatch('/sw', (e) => events.push(e), { recursive: true });
    const reconnected = new Promise<void>((resolve) => s.once('reconnected', () => resolve()));
    s.dropConnection();
    await reconnected;
    const other = await Session.connect({ connectString: c.server });
    try {
      await other.set('/sw', Buffer.from('after-reconnect'));
      await other.create('/sw/child');
    } finally {
      await other.close();
    }
    await until(() => events.length >= 2, 10_000);
    assert.deepEqual(
      events.map((e) => `${e.type} ${e.path}`),
      ['dataChanged /sw', 'created /sw/child'],
    );
  });

  it('whoAmI (107) reports the authenticated identities', async () => {
    const s = await Session.connect({ connectString: c.server, auth: [{ scheme: 'digest', credential: 'alice:secret' }] });
    try {
      const ids = await s.whoAmI();
      assert.ok(ids.some((i) => i.scheme === 'digest' && i.id === 'alice'), JSON.stringify(ids));
      assert.ok(ids.some((i) => i.scheme === 'ip'));
    } finally {
      await s.close();
    }
  });

  it('reconfig (16): needs super; a stale config version is a BAD_VERSION; the same membership commits a new version', async () => {
    const plain = await Session.connect({ connectString: testServer() });
    try {
      await assert.rejects(plain.reconfig({ leaving: '99' }), (e: unknown) => e instanceof ZkError && e.code === ZkCode.NO_AUTH);
    } finally {
      await plain.close();
    }
    const su = await Session.connect({ connectString: testServer(), auth: [{ scheme: 'digest', credential: testSuperAuth() }] });
    try {
      const cur = await su.get('/zookeeper/config');
      const text = cur.data.toString();
      const version = BigInt(`0x${/^version=([0-9a-f]+)$/m.exec(text)?.[1] ?? '0'}`);
      const members = text.split('\n').filter((l) => l.startsWith('server.')).join(',');
      await assert.rejects(su.reconfig({ members, fromConfigVersion: version + 1000n }), (e: unknown) => e instanceof ZkError && e.code === ZkCode.BAD_VERSION);
      const res = await su.reconfig({ members, fromConfigVersion: version });
      const after = res.data.toString();
      assert.match(after, /^server\.1=/m);
      const newVersion = BigInt(`0x${/^version=([0-9a-f]+)$/m.exec(after)?.[1] ?? '0'}`);
      assert.ok(newVersion > version, `config version moved from ${version} to ${newVersion}`);
    } finally {
      await su.close();
    }
  });
});

describe('session: robustness', () => {
  let c: ChrootSession;
  before(async () => {
    c = await chrootSession('session-robust');
  });
  after(async () => c.close());

  it('20,000 pipelined reads in flight at once', async () => {
    await c.session.create('/p', Buffer.from('payload'));
    const all = await Promise.all(Array.from({ length: 20_000 }, () => c.session.get('/p')));
    assert.equal(all.length, 20_000);
    assert.ok(all.every((r) => r.data.toString() === 'payload'));
  });

  it('an op code the server does not know does not crash the process; the session recovers', async () => {
    const w = new JuteWriter();
    w.string('/');
    await assert.rejects(c.session.raw(999, w.frame().subarray(4), null), (e: unknown) => e instanceof ZkError || e instanceof ConnectionError);
    // The server may drop the connection over it; the session must come back by itself.
    let ok = false;
    for (let i = 0; i < 50 && !ok; i++) {
      ok = await c.session.exists('/').then(() => true, () => false);
      if (!ok) await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(ok, 'session usable again');
  });

  it('connection refused: exit code 8 within the deadline, naming the server', async () => {
    const t0 = Date.now();
    await assert.rejects(Session.connect({ connectString: '127.0.0.1:1', timeoutMs: 1500 }), (e: unknown) => {
      assert.ok(e instanceof ConnectionError);
      assert.equal(e.exitCode, ExitCode.CONNECTION);
      assert.match(e.message, /127\.0\.0\.1:1/);
      return true;
    });
    assert.ok(Date.now() - t0 < 2500);
  });
});
