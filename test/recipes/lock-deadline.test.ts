/**
 * A waiter's --timeout holds whatever its link does (issue #21): cut off (silent drop) while
 * waiting, `zkctl lock|elect PATH --timeout D` exits 10 ("not acquired in time") about D after it
 * started, not a request timeout, a cleanup delay or a session timeout later.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { NotAcquiredError } from '../../src/core/errors.js';
import { Lock } from '../../src/core/recipes/lock.js';
import { Session } from '../../src/core/session.js';
import { TcpProxy } from '../helpers/proxy.js';
import { chrootSession, type ChrootSession } from '../helpers/session.js';
import { testServer } from '../helpers/zk.js';
import { children, spawnCli, waitFor } from './util.js';

/** Does this client chunk hold a create2 request (op 15)? Looks at every frame: a ping may share the chunk. */
function hasCreate(d: Buffer): boolean {
  for (let off = 0; off + 12 <= d.length; off += 4 + d.readInt32BE(off)) {
    if (d.readInt32BE(off + 8) === 15) return true;
    if (d.readInt32BE(off) <= 0) return false;
  }
  return false;
}

describe('waiting with --timeout while cut off', () => {
  let cs: ChrootSession;
  let proxy: TcpProxy;
  before(async () => {
    cs = await chrootSession('lock-deadline');
    // The waiter talks to one member through the proxy (and to nothing else); the holder directly.
    proxy = await TcpProxy.start(testServer().split(',')[0]!);
  });
  after(async () => {
    await proxy.close();
    await cs.close();
  });

  // lock and elect share Lock.acquire; both are run since their commands differ.
  for (const kind of ['lock', 'elect'] as const) {
    it(`${kind}: a silenced waiter exits 10 at its deadline, not a session timeout later`, async () => {
      proxy.forward();
      const path = `/${kind}-deadline`;
      const id = (name: string): string[] => (kind === 'elect' ? ['--id', name] : []);
      const holder = spawnCli([kind, '-s', cs.server, path, ...id('holder'), '--', 'sh', '-c', 'while :; do sleep 0.05; done']);
      try {
        await waitFor(async () => (await children(cs.session, path)).length === 1, 'holder to queue');
        const D = 5000;
        // Session timeout 20 s: before the fix the waiter overshot by a request timeout (10 s) or a
        // connection drop (2/3 of it, 13 s); a 2.5 s bound past D tells the two apart under load.
        const waiter = spawnCli([kind, '-s', `${proxy.address}${cs.chroot}`, path, ...id('waiter'), '--timeout', `${D / 1000}s`, '--session-timeout', '20s', '--', 'true']);
        let exitedEarly = false;
        void waiter.exited.then(() => (exitedEarly = true));
        // The waiter's deadline runs from before its node exists: measure from when the node is seen.
        await waitFor(async () => exitedEarly || (await children(cs.session, path)).length === 2, 'waiter to queue', 30_000, 50);
        const queuedAt = Date.now();
        assert.ok(!exitedEarly, `waiter ended before queueing: ${waiter.stderr()}`);
        proxy.silence();
        assert.ok(!exitedEarly, 'the waiter must still be waiting when its link goes silent');
        const r = await waiter.exited;
        const took = r.at - queuedAt;
        assert.equal(r.code, 10, waiter.stderr());
        assert.match(waiter.stderr(), /not acquired in time/);
        assert.ok(took < D + 2500, `waiter exited ${took} ms after queueing (deadline ${D} ms)`);
        process.stderr.write(`# ${kind}: silenced waiter exited ${r.code} ${took} ms after queueing (--timeout ${D} ms)\n`);
      } finally {
        proxy.forward();
        holder.child.kill('SIGTERM');
        await holder.exited;
      }
    });
  }

  it('library: a create whose reply comes too late leaves no node in the queue of a live session', async () => {
    proxy.forward();
    const path = '/late-create';
    const holder = new Lock(cs.session, path);
    await holder.acquire();
    const s = await Session.connect({ connectString: `${proxy.address}${cs.chroot}`, timeoutMs: 10_000, sessionTimeoutMs: 20_000 });
    try {
      const accepted = proxy.accepted;
      // The create (create2, op 15) reaches the server; its reply is lost and the connection reset 200 ms later,
      // after the waiter's 150 ms deadline: it gives up not knowing whether its node exists.
      proxy.loseReplyTo(hasCreate);
      const waiter = new Lock(s, path);
      await assert.rejects(waiter.acquire({ timeoutMs: 150 }), NotAcquiredError);
      await waitFor(() => proxy.accepted > accepted, 'the connection with the lost reply to be reset and the session to reconnect');
      await waitFor(async () => (await children(cs.session, path)).length === 1, 'the late node to be removed', 30_000);
      assert.ok(s.state !== 'lost' && s.state !== 'closed', `the waiter's session is alive (${s.state})`);
      assert.deepEqual(await children(cs.session, path), [holder.node!.slice(path.length + 1)]);
    } finally {
      await s.close();
      await holder.release();
    }
  });
});
