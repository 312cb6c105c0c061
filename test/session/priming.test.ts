/**
 * The session layer against the shared ensemble: priming once per handshake (issue #20.6),
 * the xid wraps (20.7), a malformed reply drops the connection (20.10), one-shot watchers
 * hear that their session closed or expired (20.11).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ExitCode, ZkctlError } from '../../src/core/errors.js';
import { OpCode } from '../../src/core/protocol/records.js';
import { body } from '../../src/core/protocol/transport.js';
import { Session, type WatchEvent } from '../../src/core/session.js';
import { killSession } from '../helpers/expire.js';
import { TcpProxy } from '../helpers/proxy.js';
import { testServer } from '../helpers/zk.js';
import { waitForState, until } from '../helpers/session.js';

/** The xids of the frames a client sent after its ConnectRequest. */
function xidsAfterConnect(bytes: Buffer): number[] {
  const out: number[] = [];
  let off = 0;
  let first = true;
  while (bytes.length - off >= 8) {
    const len = bytes.readInt32BE(off);
    if (bytes.length - off - 4 < len) break;
    if (!first) out.push(bytes.readInt32BE(off + 4));
    first = false;
    off += 4 + len;
  }
  return out;
}

describe('session protocol details', () => {
  const member = testServer().split('/')[0]!.split(',')[0]!;
  let proxy: TcpProxy;
  before(async () => {
    proxy = await TcpProxy.start(member);
  });
  after(async () => {
    await proxy.close();
  });

  it('auth and watch re-registration go out once per successful handshake, however many attempts failed before', async () => {
    proxy.forward();
    const s = await Session.connect({ connectString: proxy.address, timeoutMs: 1000, sessionTimeoutMs: 30_000, auth: [{ scheme: 'digest', credential: 'u:p' }] });
    try {
      const unwatch = await s.addWatch('/', () => undefined);
      await s.exists('/zkctl-priming-none', () => undefined);
      const suspended = waitForState(s, 'suspended', 10_000);
      proxy.silence();
      proxy.cut();
      await suspended;
      const before = proxy.accepted;
      // Several attempts whose handshake never comes back (the proxy accepts and stays silent).
      await until('3 failed attempts', () => proxy.accepted >= before + 3, 15_000);
      const back = waitForState(s, 'reconnected', 15_000);
      proxy.forward();
      await back;
      await s.get('/'); // a request after the priming, on the same connection
      const xids = xidsAfterConnect(proxy.clientBytes());
      assert.equal(xids.filter((x) => x === -4).length, 1, `auth packets: ${xids.join(',')}`);
      assert.equal(xids.filter((x) => x === -8).length, 1, `set-watches packets: ${xids.join(',')}`);
      // auth, then watches, then requests
      assert.ok(xids.indexOf(-4) < xids.indexOf(-8) && xids.indexOf(-8) < xids.findIndex((x) => x > 0), xids.join(','));
      await unwatch();
    } finally {
      await s.close();
    }
  });

  it('the request xid wraps to 1 after 2^31-1, and close still works', async () => {
    const s = await Session.connect({ connectString: testServer(), timeoutMs: 10_000 });
    try {
      const t = (s as unknown as { transport: { nextXid: number; cm?: { xid: number } } }).transport;
      t.nextXid = 0x7ffffffe;
      if (t.cm) t.cm.xid = 0x7ffffffe; // the wire client's counter, before the transport owned the loop
      for (let i = 0; i < 4; i++) await s.exists('/');
      assert.ok(t.nextXid < 10, `next xid ${t.nextXid}`);
    } finally {
      await s.close();
    }
  });

  it('a reply that cannot be read is reported as malformed and the connection is replaced', async () => {
    const s = await Session.connect({ connectString: testServer(), timeoutMs: 10_000 });
    try {
      const back = waitForState(s, 'reconnected', 20_000);
      // sync's reply is one string: reading a stat after it runs past the frame.
      const err = await s.raw(OpCode.sync, body((w) => w.string('/')), (r) => [r.string(), r.long(), r.long(), r.long()], 'sync /').then(
        () => assert.fail('parsed'),
        (e: unknown) => e as Error,
      );
      assert.ok(err instanceof ZkctlError && err.exitCode === ExitCode.CONNECTION, String(err));
      assert.match(err.message, /malformed reply/);
      assert.doesNotMatch(err.message, /marshalling/);
      await back;
      await s.exists('/');
    } finally {
      await s.close();
    }
  });

  it('one-shot watchers hear that their session was closed', async () => {
    const s = await Session.connect({ connectString: testServer(), timeoutMs: 10_000 });
    const seen: WatchEvent[] = [];
    await s.exists(`/zkctl-never-${process.pid}`, (ev) => seen.push(ev));
    await s.close();
    assert.deepEqual(seen, [{ type: 'sessionClosed', path: `/zkctl-never-${process.pid}` }]);
  });

  it('one-shot watchers hear that their session expired', async () => {
    const s = await Session.connect({ connectString: member, timeoutMs: 10_000, sessionTimeoutMs: 20_000 });
    try {
      const seen: WatchEvent[] = [];
      await s.getChildren('/', (ev) => seen.push(ev));
      const lost = waitForState(s, 'lost', 20_000);
      // From ANOTHER member (as the other expiry tests do): a takeover on the member the session is
      // connected to closes the owner's connection at once, and an owner that reconnects before the
      // close is processed takes its session back (seen once: 'reconnected', never 'lost').
      const other = testServer().split('/')[0]!.split(',')[1] ?? member;
      await killSession(other, s.sessionId);
      await lost;
      await until('the expiry event', () => seen.length > 0, 5000);
      assert.deepEqual(seen, [{ type: 'sessionExpired', path: '/' }]);
    } finally {
      await s.close();
    }
  });
});
