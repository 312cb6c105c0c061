/**
 * A one-way partition: what the client sends is lost, what the server sends still arrives. With a
 * stream of watch notifications coming in, a client that counts any incoming byte as "the server
 * is there" never notices, and the server expires its session. zkctl's session counts only replies
 * (and pings it sends itself when nothing else is answered), so it leaves the connection within
 * 2/3 of the session timeout and resumes the SAME session elsewhere, before the server expires it.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Session } from '../../src/core/session.js';
import { TcpProxy } from '../helpers/proxy.js';
import { chrootSession, type ChrootSession } from '../helpers/session.js';

describe('session under a one-way partition', () => {
  let cs: ChrootSession;
  let proxy: TcpProxy;
  before(async () => {
    cs = await chrootSession('one-way');
    proxy = await TcpProxy.start(cs.server.replace(/\/.*$/, '').split(',')[0]!);
  });
  after(async () => {
    await proxy.close();
    await cs.close();
  });

  it('notifications still arriving do not hide that the server no longer hears us', async (t) => {
    await cs.session.create('/hot', Buffer.from('0'));
    const s = await Session.connect({ connectString: `${proxy.address}${cs.chroot}`, sessionTimeoutMs: 6000, timeoutMs: 5000 });
    let writer: NodeJS.Timeout | undefined;
    try {
      const id = s.sessionId;
      const negotiated = s.negotiatedTimeoutMs;
      let events = 0;
      await s.addWatch('/hot', () => events++);
      const states: string[] = [];
      s.on('state', (x: string) => states.push(x));
      // Another session changes the node every 100 ms: a steady stream of notifications.
      let n = 0;
      writer = setInterval(() => void cs.session.set('/hot', Buffer.from(String(++n))).catch(() => undefined), 100);
      await new Promise((r) => setTimeout(r, 500));
      const before = events;
      assert.ok(before > 0, 'notifications arrive');
      const t0 = Date.now();
      proxy.muteClients();
      // Wait until the session is back on a fresh connection (new connections are not muted).
      const deadline = t0 + negotiated + 5000;
      while (!(states.includes('suspended') && states.at(-1) === 'reconnected') && Date.now() < deadline) {
        assert.ok(!states.includes('lost'), `session lost: ${states.join(' -> ')}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      t.diagnostic(`states after the one-way partition: ${states.join(' -> ')} in ${Date.now() - t0} ms (session timeout ${negotiated} ms); ${events - before} notifications meanwhile`);
      assert.deepEqual(states.slice(-2), ['suspended', 'reconnected'], `states: ${states.join(' -> ')}`);
      assert.equal(s.sessionId, id, 'the same session, not a new one');
      assert.equal(proxy.accepted, 2, 'one reconnect');
      // And it still works.
      await s.sync('/hot');
      assert.ok((await s.get('/hot')).data.length > 0);
    } finally {
      if (writer) clearInterval(writer);
      await s.close();
    }
  });
});
