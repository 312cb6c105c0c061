/**
 * `zkctl watch` across a REAL session expiry: the watch's session is closed on the server
 * (test/helpers/expire.ts) while its connection is cut off (TCP proxy silenced), and changes are
 * made meanwhile. When the proxy forwards again the server answers SESSION_EXPIRED: the stream
 * must say `session-expired`, go on in a new session (`reconnected` with newSession: true),
 * report what changed meanwhile as resync events, and keep streaming live events.
 * Without a renewing session (the library, `renew: false`) the stream ends with exit code 9.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ExitCode, SessionExpiredError } from '../../src/core/errors.js';
import { sessionClients } from '../../src/core/recipes/owners.js';
import { watchZnode, type WatchNotice } from '../../src/core/recipes/watchers.js';
import { Session } from '../../src/core/session.js';
import { killSession } from '../helpers/expire.js';
import { TcpProxy } from '../helpers/proxy.js';
import { chrootSession, type ChrootSession } from '../helpers/session.js';
import { testServer } from '../helpers/zk.js';
import { CliStream, eventually, mkdirp, probeUntilLive } from './util.js';

describe('watch across a session expiry', () => {
  let cs: ChrootSession;
  let proxy: TcpProxy;
  const members = testServer().split(',');
  before(async () => {
    cs = await chrootSession('watch-expiry');
    proxy = await TcpProxy.start(members[0]!);
  });
  after(async () => {
    await proxy?.close();
    await cs?.close();
  });

  /** The session of the (one) client connected through the proxy, from the member's `cons`. */
  async function proxiedSession(): Promise<bigint> {
    const ports = proxy.upstreamPorts();
    assert.equal(ports.length, 1, `one connection through the proxy (${ports.join(', ')})`);
    const clients = await sessionClients([members[0]!]);
    const sid = [...clients].find(([, addr]) => addr.endsWith(`:${ports[0]}`))?.[0];
    assert.ok(sid, `the proxied connection (port ${ports[0]}) in cons: ${JSON.stringify([...clients])}`);
    return BigInt(sid);
  }

  it('zkctl watch: reports session-expired, goes on in a new session, resyncs what changed meanwhile', async () => {
    proxy.forward();
    await mkdirp(cs.session, '/w/a');
    const w = new CliStream(['watch', '/w', '-r', '--data', '-o', 'json', '-s', `${proxy.address}${cs.chroot}`]);
    try {
      const from = await probeUntilLive(w, cs.session, '/w');
      const sid = await proxiedSession();
      proxy.silence();
      await killSession(members[1]!, sid);
      // Changes no watch of the old session can report.
      const a = await cs.session.set('/w/a', Buffer.from('while-expired'));
      const b = await cs.session.create('/w/b', Buffer.from('new'));
      proxy.forward();

      const exp = await w.waitForJson('session-expired', (o) => o.type === 'session-expired', from, 30_000);
      assert.equal(exp.o.missed, 'unknown');
      const rec = await w.waitForJson('reconnected', (o) => o.type === 'reconnected', exp.i, 30_000);
      assert.equal(rec.o.newSession, true, JSON.stringify(rec.o));
      assert.equal(rec.o.missed, 'net-only');
      assert.equal(rec.o.changes, 2, JSON.stringify(w.json().slice(rec.i)));
      const ra = await w.waitForJson('resync of /w/a', (o) => o.path === '/w/a' && o.resync === true, rec.i);
      const rb = await w.waitForJson('resync of /w/b', (o) => o.path === '/w/b' && o.resync === true, rec.i);
      assert.equal(ra.o.type, 'data-changed');
      assert.equal(ra.o.data, 'while-expired');
      assert.equal(ra.o.zxid, `0x${a.mzxid.toString(16)}`);
      assert.equal(rb.o.type, 'created');
      assert.equal(rb.o.data, 'new');
      assert.equal(rb.o.zxid, `0x${b.stat.czxid.toString(16)}`);
      assert.notEqual(await proxiedSession(), sid, 'a new session');
      // Live again, in the new session.
      await cs.session.set('/w/b', Buffer.from('live'));
      await w.waitForJson('a live event after the expiry', (o) => o.path === '/w/b' && o.type === 'data-changed' && o.data === 'live' && !o.resync, rb.i);
      assert.match(w.stderr, /session expired: events may have been missed; starting a new session/);
      assert.match(w.stderr, /reconnected .*\(in a new session\); 2 change\(s\) while disconnected/);
      assert.equal(w.child.exitCode, null, 'still streaming');
      w.kill('SIGINT');
      assert.equal((await w.exited).code, 130);
    } finally {
      w.kill('SIGKILL');
      proxy.forward();
    }
  });

  it('library, without renew: the stream ends with SessionExpiredError (exit 9) after a session-expired notice', async () => {
    proxy.forward();
    await mkdirp(cs.session, '/x');
    const s = await Session.connect({ connectString: `${proxy.address}${cs.chroot}`, timeoutMs: 5000 });
    try {
      const notices: WatchNotice[] = [];
      const w = await watchZnode(s, '/x', { recursive: true, onEvent: () => undefined, onNotice: (n) => void notices.push(n) });
      proxy.silence();
      await killSession(members[1]!, s.sessionId);
      proxy.forward();
      await assert.rejects(w.done, (e: unknown) => e instanceof SessionExpiredError && e.exitCode === ExitCode.SESSION_EXPIRED);
      await eventually('session-expired notice', () => notices.find((n) => n.type === 'session-expired'));
      assert.equal(s.state, 'lost');
    } finally {
      await s.close();
      proxy.forward();
    }
  });
});
