/**
 * Session layer under injected network faults (a TCP proxy in front of real members):
 * the ping watchdog moves off a silent connection, requests keep their deadlines,
 * the session is declared lost on the client side after the session timeout
 * without server contact, and `renew` starts a new session afterwards.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ExitCode, SessionExpiredError, ZkctlError } from '../../src/core/errors.js';
import { Session } from '../../src/core/session.js';
import { TcpProxy } from '../helpers/proxy.js';
import { testServer } from '../helpers/zk.js';
import { waitForState } from '../helpers/session.js';

describe('session under network faults', () => {
  const members = testServer().split(',');
  let a: TcpProxy;
  let b: TcpProxy;
  const byAddress = new Map<string, TcpProxy>();
  before(async () => {
    a = await TcpProxy.start(members[0]!);
    b = await TcpProxy.start(members[1]!);
    byAddress.set(a.address, a).set(b.address, b);
  });
  after(async () => {
    await a.close();
    await b.close();
  });

  it('a silenced connection is detected by the ping watchdog and the session moves to the other server', async () => {
    a.forward();
    b.forward();
    const s = await Session.connect({ connectString: `${a.address},${b.address}`, sessionTimeoutMs: 6000, timeoutMs: 3000 });
    try {
      const id = s.sessionId;
      await s.create(`/zkctl-fault-${process.pid}-${Date.now()}`, Buffer.alloc(0), { mode: 'ephemeral' });
      const first = s.server!;
      const proxy = byAddress.get(first)!;
      const suspended = waitForState(s, 'suspended', 15_000);
      const reconnected = waitForState(s, 'reconnected', 20_000);
      proxy.silence();
      // A request in flight on the silent connection ends at its deadline (or with the reconnect), never hangs.
      const t0 = Date.now();
      await assert.rejects(s.get('/'), (e: unknown) => e instanceof ZkctlError && e.exitCode === ExitCode.CONNECTION);
      assert.ok(Date.now() - t0 < 3000 + 1000);
      const tSusp = await suspended;
      assert.ok(tSusp <= 6000 * (2 / 3) + 2000, `suspended after ${tSusp} ms (read timeout is 2/3 of 6 s)`);
      await reconnected;
      assert.notEqual(s.server, first, 'moved to the other server');
      assert.equal(s.sessionId, id, 'same session');
      assert.ok(await s.exists('/'));
    } finally {
      await s.close();
      a.forward();
      b.forward();
    }
  });

  it('with every server silent, the session is declared lost on the client after the session timeout; renew starts a new one', async () => {
    a.forward();
    b.forward();
    const s = await Session.connect({ connectString: `${a.address},${b.address}`, sessionTimeoutMs: 4000, timeoutMs: 2000, renew: true });
    try {
      const id = s.sessionId;
      const negotiated = s.negotiatedTimeoutMs;
      const lost = waitForState(s, 'lost', negotiated + 8000);
      const t0 = Date.now();
      a.silence();
      b.silence();
      const tLost = await lost;
      assert.ok(tLost >= negotiated - 500, `lost after ${tLost} ms, not before the session timeout (${negotiated} ms)`);
      assert.ok(Date.now() - t0 <= negotiated + 3000, `lost within the session timeout + 3 s (${Date.now() - t0} ms)`);
      // The network heals: with renew, a new session comes up.
      const back = waitForState(s, 'reconnected', 20_000);
      a.forward();
      b.forward();
      await back;
      assert.notEqual(s.sessionId, id, 'a new session after the loss');
      assert.ok(await s.exists('/'));
    } finally {
      await s.close();
      a.forward();
      b.forward();
    }
  });

  it('without renew, requests after the loss fail with session expired (exit 9)', async () => {
    a.forward();
    b.forward();
    const s = await Session.connect({ connectString: `${a.address}`, sessionTimeoutMs: 4000, timeoutMs: 2000 });
    try {
      const lost = waitForState(s, 'lost', s.negotiatedTimeoutMs + 8000);
      a.silence();
      await lost;
      await assert.rejects(s.get('/'), (e: unknown) => e instanceof SessionExpiredError && e.exitCode === ExitCode.SESSION_EXPIRED);
    } finally {
      await s.close();
      a.forward();
    }
  });
});
