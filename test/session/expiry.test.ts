/**
 * The session layer when the SERVER expires (closes) the session: requests waiting for the
 * connection fail with SessionExpiredError (exit 9) as soon as the server says so, not at their
 * deadline with a timeout (exit 8); with `renew`, a new session follows. The same when the client
 * itself declares the session lost after a session timeout without server contact.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ExitCode, SessionExpiredError } from '../../src/core/errors.js';
import { Session } from '../../src/core/session.js';
import { killSession, sessionPassword } from '../helpers/expire.js';
import { TcpProxy } from '../helpers/proxy.js';
import { testServer } from '../helpers/zk.js';
import { waitForState } from '../helpers/session.js';

describe('session expired by the server', () => {
  const members = testServer().split(',');
  let proxy: TcpProxy;
  before(async () => {
    proxy = await TcpProxy.start(members[0]!);
  });
  after(async () => {
    await proxy?.close();
  });

  it('the password helper matches the server (java.util.Random seeded with id ^ 0xB3415C00)', () => {
    // Reference values computed with the JDK: new Random(id ^ 0xB3415C00L).nextBytes(byte[16]).
    assert.equal(sessionPassword(0n).toString('hex'), 'f22acd4a97e69d6d20a49bb638eadb38');
    assert.equal(sessionPassword(0x100000a5b3c0001n).toString('hex'), '19ad9e03bb7fd9bd4980a4933066532b');
    assert.equal(sessionPassword(0xffffffffffffffffn).toString('hex'), '20f62cb5648dc2d771471c8a2486a9ee');
  });

  it('declared lost by the client (no server contact for the session timeout): a waiting request fails with session expired too', async () => {
    proxy.forward();
    const s = await Session.connect({ connectString: proxy.address, timeoutMs: 15_000, sessionTimeoutMs: 4000 });
    try {
      const suspended = waitForState(s, 'suspended', 10_000);
      const lost = waitForState(s, 'lost', 15_000);
      proxy.silence();
      await suspended; // the ping watchdog gave up on the silent connection
      const pending = s.get('/').then(
        () => undefined,
        (e: unknown) => e,
      );
      await lost;
      const err = await pending;
      assert.ok(err instanceof SessionExpiredError && err.exitCode === ExitCode.SESSION_EXPIRED, `got ${String(err)}`);
    } finally {
      await s.close();
      proxy.forward();
    }
  });

  for (const renew of [false, true]) {
    it(`a request waiting for the connection fails with session expired at once${renew ? ' (renew: then a new session)' : ''}`, async () => {
      proxy.forward();
      const s = await Session.connect({ connectString: proxy.address, timeoutMs: 8000, sessionTimeoutMs: 20_000, renew });
      try {
        const id = s.sessionId;
        const suspended = waitForState(s, 'suspended', 10_000);
        proxy.silence();
        await killSession(members[1]!, id);
        await suspended; // the server closed our connection (the proxy passes the close on)
        const t0 = Date.now();
        const lost = waitForState(s, 'lost', 10_000);
        const pending = s.get('/').then(
          () => undefined,
          (e: unknown) => e,
        );
        proxy.forward();
        await lost;
        const err = await pending;
        const ms = Date.now() - t0;
        assert.ok(err instanceof SessionExpiredError && err.exitCode === ExitCode.SESSION_EXPIRED, `got ${String(err)} after ${ms} ms`);
        assert.ok(ms < 8000 - 1000, `failed after ${ms} ms: at the expiry, not at the request deadline (8 s)`);
        if (renew) {
          await waitForState(s, 'reconnected', 10_000);
          assert.notEqual(s.sessionId, id);
          assert.ok(await s.exists('/'));
        } else {
          await assert.rejects(s.get('/'), SessionExpiredError);
        }
      } finally {
        await s.close();
        proxy.forward();
      }
    });
  }
});
