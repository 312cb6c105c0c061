/**
 * The znode event stream (core) against the shared ensemble, in a chroot of its own:
 * each event type, recursive watches, one-shot watches, resync after a dropped connection.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { watchZnode, type WatchNotice, type ZnodeEvent, type ZnodeWatch } from '../../src/core/recipes/watchers.js';
import { Session } from '../../src/core/session.js';
import { chrootSession, type ChrootSession } from '../helpers/session.js';
import { eventually, hex } from './util.js';

interface Collector {
  events: ZnodeEvent[];
  notices: WatchNotice[];
  onEvent: (e: ZnodeEvent) => void;
  onNotice: (n: WatchNotice) => void;
  /** Wait until `n` events (in total) arrived. */
  count(n: number, ms?: number): Promise<ZnodeEvent[]>;
}

function collector(): Collector {
  const c: Collector = {
    events: [],
    notices: [],
    onEvent: (e) => void c.events.push(e),
    onNotice: (n) => void c.notices.push(n),
    count: (n, ms = 10_000) => eventually(`${n} events (have ${c.events.map((e) => `${e.type} ${e.path}`).join(', ')})`, () => (c.events.length >= n ? c.events.slice(0, n) : undefined), ms),
  };
  return c;
}

for (const mechanism of ['persistent', 'one-shot'] as const) {
  describe(`watch (${mechanism}): one node`, () => {
    let c: ChrootSession;
    let other: Session;
    let w: ZnodeWatch | undefined;
    before(async () => {
      c = await chrootSession(`watch-${mechanism}`);
      other = await Session.connect({ connectString: c.server });
    });
    after(async () => {
      await w?.stop();
      await other?.close();
      await c?.close();
    });

    it('reports created, data-changed, children-changed and deleted with zxid and version', async () => {
      const col = collector();
      w = await watchZnode(c.session, '/n', { data: true, mechanism, onEvent: col.onEvent, onNotice: col.onNotice });
      assert.equal(w.mechanism, mechanism);
      assert.equal(w.fellBack, false);

      const created = await other.create('/n', Buffer.from('one'));
      let [e] = (await col.count(1)).slice(-1);
      assert.equal(e!.type, 'created');
      assert.equal(e!.path, '/n');
      assert.equal(e!.zxid, created.stat.czxid);
      assert.equal(e!.version, 0);
      assert.equal(e!.data?.toString(), 'one');

      const st = await other.set('/n', Buffer.from('two'));
      [e] = (await col.count(2)).slice(-1);
      assert.equal(e!.type, 'data-changed');
      assert.equal(e!.zxid, st.mzxid);
      assert.equal(e!.version, 1);
      assert.equal(e!.data?.toString(), 'two');

      const child = await other.create('/n/kid');
      [e] = (await col.count(3)).slice(-1);
      assert.equal(e!.type, 'children-changed');
      assert.equal(e!.path, '/n');
      assert.equal(e!.zxid, child.stat.czxid); // pzxid of /n
      assert.deepEqual(e!.added, ['kid']);
      assert.deepEqual(e!.removed, []);
      assert.deepEqual(e!.children, ['kid']);

      await other.delete('/n/kid');
      [e] = (await col.count(4)).slice(-1);
      assert.equal(e!.type, 'children-changed');
      assert.deepEqual(e!.removed, ['kid']);
      assert.deepEqual(e!.children, []);

      await other.delete('/n');
      [e] = (await col.count(5)).slice(-1);
      assert.equal(e!.type, 'deleted');
      assert.equal(e!.path, '/n');
      assert.equal(e!.zxid, undefined);

      // And back again: the watch outlives the node.
      const again = await other.create('/n', Buffer.from('three'));
      [e] = (await col.count(6)).slice(-1);
      assert.equal(e!.type, 'created');
      assert.equal(e!.zxid, again.stat.czxid);
      assert.equal(col.notices.length, 0);
      assert.ok(col.events.every((x) => !x.resync));
      await w.stop();
      w = undefined;
      // Stopped: nothing more is delivered.
      await other.set('/n', Buffer.from('four'));
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(col.events.length, 6);
    });

    it('reports every change under a recursive watch, in order', async () => {
      await other.create('/tree');
      const col = collector();
      w = await watchZnode(c.session, '/tree', { recursive: true, mechanism, onEvent: col.onEvent });
      const a = await other.create('/tree/a', Buffer.from('x'));
      await col.count(1);
      const b = await other.create('/tree/a/b');
      await col.count(2);
      const sb = await other.set('/tree/a/b', Buffer.from('y'));
      await col.count(3);
      await other.delete('/tree/a/b');
      await col.count(4);
      await other.delete('/tree/a');
      const got = await col.count(5);
      assert.deepEqual(
        got.map((e) => `${e.type} ${e.path}`),
        ['created /tree/a', 'created /tree/a/b', 'data-changed /tree/a/b', 'deleted /tree/a/b', 'deleted /tree/a'],
      );
      assert.equal(got[0]!.zxid, a.stat.czxid);
      assert.equal(got[1]!.zxid, b.stat.czxid);
      assert.equal(got[2]!.zxid, sb.mzxid);
      assert.equal(got[2]!.version, 1);
      await w.stop();
      w = undefined;
    });
  });
}

describe('watch: reconnects', () => {
  let c: ChrootSession;
  let other: Session;
  before(async () => {
    c = await chrootSession('watch-reconnect', { renew: true });
    other = await Session.connect({ connectString: c.server });
  });
  after(async () => {
    await other?.close();
    await c?.close();
  });

  it('reports a dropped connection, re-registers, and keeps streaming', async () => {
    await other.create('/r', Buffer.from('0'));
    const col = collector();
    const w = await watchZnode(c.session, '/r', { recursive: true, data: true, onEvent: col.onEvent, onNotice: col.onNotice });
    try {
      await other.set('/r', Buffer.from('1'));
      await col.count(1);
      c.session.dropConnection();
      const n = await eventually('reconnected', () => col.notices.find((x) => x.type === 'reconnected'));
      assert.deepEqual(
        col.notices.map((x) => x.type),
        ['disconnected', 'reconnected'],
      );
      assert.equal(n.newSession, false);
      assert.ok(n.missed === 'none' || n.missed === 'net-only');
      await other.create('/r/after', Buffer.from('a'));
      const e = await eventually('created after reconnect', () => col.events.find((x) => x.type === 'created' && x.path === '/r/after'));
      assert.equal(e.data?.toString(), 'a');
    } finally {
      await w.stop();
    }
  });

  it('reports what changed while the connection was down (resync)', async () => {
    await other.create('/q', Buffer.from('0'));
    await other.create('/q/x', Buffer.from('0'));
    const col = collector();
    const w = await watchZnode(c.session, '/q', { recursive: true, data: true, onEvent: col.onEvent, onNotice: col.onNotice });
    try {
      // The changes race the reconnect: made before the watch is re-registered, the resync
      // reports them; made after, notifications do. Either way each is reported exactly once.
      c.session.dropConnection();
      const sx = await other.set('/q/x', Buffer.from('1'));
      const y = await other.create('/q/y', Buffer.from('new'));
      await eventually('reconnected', () => col.notices.find((x) => x.type === 'reconnected'));
      const ex = await eventually('x changed', () => col.events.find((e) => e.path === '/q/x' && e.type === 'data-changed'));
      const ey = await eventually('y created', () => col.events.find((e) => e.path === '/q/y' && e.type === 'created'));
      assert.equal(ex.zxid, sx.mzxid);
      assert.equal(ex.data?.toString(), '1');
      assert.equal(ey.zxid, y.stat.czxid);
      // Each change reported once, live or by the resync.
      assert.equal(col.events.filter((e) => e.path === '/q/x').length, 1);
      assert.equal(col.events.filter((e) => e.path === '/q/y').length, 1);
      const n = col.notices.find((x) => x.type === 'reconnected')!;
      if (col.events.some((e) => e.resync)) assert.equal(n.missed, 'net-only');
      assert.equal(hex(ex.zxid!), hex(sx.mzxid));
    } finally {
      await w.stop();
    }
  });
});
