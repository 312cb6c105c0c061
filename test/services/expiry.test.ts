/**
 * `zkctl services register` across a REAL session expiry (decided by the server, not simulated):
 *
 * - partition: the registrar talks to one member through a TCP proxy that is silenced (sockets
 *   open, bytes dropped) for longer than the session timeout, so the server expires the session
 *   and deletes the instance node; when the proxy forwards again, the process (still running)
 *   starts a new session and registers the instance again;
 * - kill: the session is taken over and closed on the server (test/helpers/expire.ts), so the
 *   registrar is told SESSION_EXPIRED by the server itself when it reconnects.
 *
 * In both: the node comes back with the same id and byte-identical Curator JSON (only the
 * znode's owner session differs), stderr says what happened, and `services watch` / `ls` see
 * the instance leave and return. How long it was absent is printed as a diagnostic.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it, type TestContext } from 'node:test';
import { makeInstance, ServiceCache, ServiceRegistration, writeInstance, type CacheEvent } from '../../src/core/recipes/services.js';
import { OPEN_ACL_UNSAFE, Perm, Session, type Stat } from '../../src/core/session.js';
import { killSession } from '../helpers/expire.js';
import { TcpProxy } from '../helpers/proxy.js';
import { chrootSession, type ChrootSession } from '../helpers/session.js';
import { runCli, testServer } from '../helpers/zk.js';
import { sleep, spawnCli, waitFor, type Running } from '../recipes/util.js';

/** Poll `path` every 20 ms; remember when it disappeared and when it was back. */
function follow(s: Session, path: string): { gone?: number; back?: Stat & { at: number }; stop(): Promise<void> } {
  const st: { gone?: number; back?: Stat & { at: number }; stop(): Promise<void> } = { stop: async () => undefined };
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      try {
        const x = await s.exists(path);
        if (!x && st.gone === undefined) st.gone = Date.now();
        if (x && st.gone !== undefined && !st.back) st.back = { ...x, at: Date.now() };
      } catch {
        /* the observer's own hiccup: try again */
      }
      await sleep(20);
    }
  })();
  st.stop = async () => {
    stopped = true;
    await loop;
  };
  return st;
}

function jsonLines(text: string): Array<Record<string, unknown>> {
  return text
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

const hex = (id: bigint): string => `0x${id.toString(16)}`;

describe('services register across a real session expiry', () => {
  let cs: ChrootSession;
  let proxy: TcpProxy;
  const members = testServer().split(',');
  const running: Running[] = [];
  before(async () => {
    cs = await chrootSession('svc-expiry');
    proxy = await TcpProxy.start(members[0]!);
  });
  after(async () => {
    for (const r of running) r.child.kill('SIGKILL');
    await proxy?.close();
    await cs?.close();
  });

  /** Start a registrar (through the proxy) and a `services watch` (direct); wait for the node. */
  async function start(id: string, port: number): Promise<{ reg: Running; watch: Running; path: string; data: Buffer; stat: Stat }> {
    const path = `/services/web/${id}`;
    const watch = spawnCli(['services', 'watch', 'web', '-s', cs.server, '-o', 'json']);
    running.push(watch);
    await waitFor(() => watch.stdout().length > 0 || cs.session.exists('/services').then(() => true), 'services watch up', 10_000);
    const reg = spawnCli([
      'services', 'register', 'web', '--port', String(port), '--id', id, '--weight', '2', '--payload', '{"zone":"z1","tags":["a","b"]}',
      '--session-timeout', '4s', '-s', `${proxy.address}${cs.chroot}`, '-o', 'json',
    ]);
    running.push(reg);
    await waitFor(async () => (await cs.session.exists(path)) !== null, `${path} registered`);
    const { data, stat } = await cs.session.get(path);
    await waitFor(() => jsonLines(watch.stdout()).some((o) => o.event === 'join' && o.id === id), 'the watch sees the join');
    return { reg, watch, path, data, stat };
  }

  /** After the expiry: node back, identical, in a new session; the processes said so. */
  async function checkBack(
    t: TestContext,
    how: string,
    r: { reg: Running; watch: Running; path: string; data: Buffer; stat: Stat },
    f: ReturnType<typeof follow>,
    t0: number,
    healedAt: number,
  ): Promise<void> {
    await waitFor(() => f.back !== undefined, `${r.path} registered again`, 30_000, 50);
    const now = await cs.session.get(r.path);
    assert.ok(now.data.equals(r.data), `byte-identical JSON:\n before ${r.data.toString()}\n after  ${now.data.toString()}`);
    assert.notEqual(now.stat.ephemeralOwner, r.stat.ephemeralOwner, 'owned by a new session');
    assert.notEqual(now.stat.ephemeralOwner, 0n, 'still ephemeral');
    assert.ok(now.stat.czxid > r.stat.czxid, 'a new node');
    t.diagnostic(
      `${how}: instance absent for ${f.back!.at - f.gone!} ms (gone ${f.gone! - t0} ms after the fault began; back ${f.back!.at - healedAt} ms after the network healed)`,
    );

    // The registrar keeps running and says what happened, on stderr (people) and stdout (-o json events).
    assert.equal(r.reg.child.exitCode, null, 'the registrar is still running');
    await waitFor(() => /re-?registered/.test(r.reg.stderr()), 'a note on stderr about the re-registration', 10_000);
    const err = r.reg.stderr();
    // "expired (the server said so)", or "presumed lost" when zkctl gave up first after a session timeout of silence.
    assert.match(err, /session .*(expired|presumed lost)/i, err);
    assert.ok(err.includes(`session ${hex(r.stat.ephemeralOwner)} expired`) || err.includes(`session ${hex(r.stat.ephemeralOwner)} presumed lost`), err);
    assert.ok(err.includes(`re-registered ${r.path} in a new session ${hex(now.stat.ephemeralOwner)}`), err);
    t.diagnostic(`${how}: registrar stderr: ${err.trim().replace(/\n/g, ' | ')}`);
    const ev = jsonLines(r.reg.stdout()).map((o) => o.event);
    assert.deepEqual(ev, ['registered', 'lost', 'reregistered'], r.reg.stdout());
    const rereg = jsonLines(r.reg.stdout()).find((o) => o.event === 'reregistered')!;
    assert.equal(rereg.session, hex(now.stat.ephemeralOwner));

    // services watch saw it leave (old session) and join again (new session); ls shows the new owner.
    await waitFor(
      () => jsonLines(r.watch.stdout()).some((o) => o.event === 'join' && o.id === r.path.split('/').pop() && o.session === hex(now.stat.ephemeralOwner)),
      'the watch sees the instance return',
      10_000,
    ).catch((e: Error) => {
      throw new Error(`${e.message}\nwatch stdout:\n${r.watch.stdout()}\nwatch stderr:\n${r.watch.stderr()}`);
    });
    const wl = jsonLines(r.watch.stdout()).filter((o) => o.id === r.path.split('/').pop());
    assert.deepEqual(wl.map((o) => o.event), ['join', 'leave', 'join'], r.watch.stdout());
    assert.equal(wl[1]!.session, hex(r.stat.ephemeralOwner));
    const ls = await runCli(['services', 'ls', 'web', '-s', cs.server, '-o', 'json']);
    assert.equal(ls.code, 0, ls.stderr);
    const rows = JSON.parse(ls.stdout) as Array<{ id: string; session: string; port: number; weight: number; payload: unknown }>;
    const row = rows.find((x) => x.id === r.path.split('/').pop())!;
    assert.equal(row.session, hex(now.stat.ephemeralOwner));
    assert.equal(row.weight, 2);
    assert.deepEqual(row.payload, { zone: 'z1', tags: ['a', 'b'], weight: 2 });

    // And it still unregisters cleanly.
    r.reg.child.kill('SIGTERM');
    assert.equal((await r.reg.exited).code, 143, r.reg.stderr()); // SIGTERM: the signal's code
    assert.equal(await cs.session.exists(r.path), null);
    r.watch.child.kill('SIGINT');
    await r.watch.exited;
  }

  it('partitioned longer than the session timeout: expired by the server, re-registered identically in a new session', async (t) => {
    proxy.forward();
    const r = await start('part-1', 47811);
    const f = follow(cs.session, r.path);
    try {
      const t0 = Date.now();
      proxy.silence();
      // The server, not the client, removes the node: it can only go once the session timed out there.
      await waitFor(() => f.gone !== undefined, `${r.path} removed by the server`, 30_000, 50);
      // (The server counts from the client's last ping, up to T/3 before the partition began.)
      assert.ok(f.gone! - t0 >= 4000 - 4000 / 3 - 200, `gone after ${f.gone! - t0} ms: not before the session timeout (4 s) from the last ping`);
      assert.equal(r.reg.child.exitCode, null, 'the registrar keeps running while partitioned');
      await sleep(500);
      assert.equal(f.back, undefined, 'nothing can register while partitioned');
      proxy.forward();
      await checkBack(t, 'partition', r, f, t0, Date.now());
    } finally {
      await f.stop();
      proxy.forward();
    }
  });

  it('partition heals between the client declaring its session lost and the server expiring it: the stale node is replaced, and survives the old session', async (t) => {
    proxy.forward();
    const r = await start('race-1', 47813);
    const f = follow(cs.session, r.path);
    try {
      const t0 = Date.now();
      proxy.silence();
      // The client gives up after the session timeout without contact; the server expires the
      // session up to a tick (2 s) later. Heal the network in between.
      await waitFor(() => jsonLines(r.reg.stdout()).some((o) => o.event === 'lost'), 'the registrar to declare its session lost', 30_000, 20);
      const lostAt = Date.now();
      const staleAtLoss = await cs.session.exists(r.path);
      proxy.forward();
      await waitFor(async () => {
        const st = await cs.session.exists(r.path);
        return st !== null && st.ephemeralOwner !== r.stat.ephemeralOwner;
      }, `${r.path} owned by a new session`, 30_000, 20);
      // Past the old session's expiry on the server: the new node must still be there.
      await sleep(4000 + 2000 + 1000 - (Date.now() - lostAt));
      const now = await cs.session.get(r.path);
      assert.notEqual(now.stat.ephemeralOwner, r.stat.ephemeralOwner);
      assert.ok(now.data.equals(r.data), 'byte-identical JSON');
      assert.equal(r.reg.child.exitCode, null);
      assert.deepEqual(jsonLines(r.reg.stdout()).map((o) => o.event), ['registered', 'lost', 'reregistered'], r.reg.stdout());
      t.diagnostic(
        `race: lost ${lostAt - t0} ms after the partition; the old node was ${staleAtLoss ? 'still there (replaced by the new session)' : 'already gone'} at that moment; ` +
          (f.gone !== undefined ? `absent for ${(f.back?.at ?? Date.now()) - f.gone} ms` : 'never seen absent by a 20 ms poll'),
      );
      r.reg.child.kill('SIGTERM');
      assert.equal((await r.reg.exited).code, 143, r.reg.stderr()); // SIGTERM: the signal's code
      assert.equal(await cs.session.exists(r.path), null);
      r.watch.child.kill('SIGINT');
      await r.watch.exited;
    } finally {
      await f.stop();
      proxy.forward();
    }
  });

  it('session closed on the server: the registrar is told SESSION_EXPIRED on reconnect and registers again', async (t) => {
    proxy.forward();
    const r = await start('kill-1', 47812);
    const f = follow(cs.session, r.path);
    try {
      // Hold the registrar's reconnects off while the session is closed, so that the server,
      // not the client's own clock, is what tells it the session is gone.
      proxy.silence();
      const t0 = Date.now();
      await killSession(members[1]!, r.stat.ephemeralOwner);
      await waitFor(() => f.gone !== undefined, `${r.path} removed with the session`, 10_000, 20);
      proxy.forward();
      await checkBack(t, 'server-closed session', r, f, t0, Date.now());
      assert.doesNotMatch(r.reg.stderr(), /no contact/i, 'told by the server, not by its own clock');
    } finally {
      await f.stop();
      proxy.forward();
    }
  });

  it('library: a re-registration the server refuses is retried while the session is up (not only on the next reconnect)', async () => {
    const reg = new ServiceRegistration(cs.session, makeInstance({ name: 'retry', id: 'r1', address: '127.0.0.1', port: 47814 }));
    const errors: Error[] = [];
    reg.on('error', (e: Error) => errors.push(e));
    await reg.register();
    const other = await Session.connect({ connectString: cs.server });
    try {
      // Keep the service node (a container) from being reaped while the instance is gone: the
      // server deletes empty containers every second, ACL or not, and the registrar would then
      // simply re-create it (no refusal to see).
      await other.create('/services/retry/keep', Buffer.alloc(0));
      // For a while nobody may create under the service node (read, delete and admin, to give
      // the rights back: no create); then the node goes. The registration's watch on its node
      // notices at once (no reconnect needed) and its attempts are refused.
      await other.setACL('/services/retry', [{ perms: Perm.READ | Perm.DELETE | Perm.ADMIN, id: { scheme: 'world', id: 'anyone' } }]);
      const back = new Promise<Stat>((resolve) => reg.once('reregistered', resolve));
      await other.delete('/services/retry/r1');
      await waitFor(() => errors.length >= 2, 'two refused attempts', 15_000, 20);
      assert.match(errors[0]!.message, /not authori[sz]ed|NO_?AUTH/i, errors[0]!.message);
      await other.setACL('/services/retry', OPEN_ACL_UNSAFE);
      const st = await back; // no reconnect happened meanwhile
      assert.equal(st.ephemeralOwner, cs.session.sessionId);
      assert.ok(await cs.session.exists('/services/retry/r1'));
    } finally {
      await other.setACL('/services/retry', OPEN_ACL_UNSAFE).catch(() => undefined);
      await other.delete('/services/retry/keep').catch(() => undefined);
      await other.close();
      await reg.unregister();
    }
    assert.equal(await cs.session.exists('/services/retry/r1'), null);
  });

  it('library: ServiceCache (services watch) sees every re-registration, also when the empty container parent is reaped meanwhile', async (t) => {
    // The window in which a registration is gone is when the service's container node can be
    // reaped (every second on the test ensemble) and re-created by the registrar; the cache's
    // read of the re-created node and the notification of the instance's return then come
    // back to back (often in one TCP chunk). Each round must be seen.
    const other = await Session.connect({ connectString: cs.server });
    const cache = new ServiceCache(cs.session, 'again');
    const joins = new Set<bigint>();
    const log: string[] = [];
    cache.on('event', (e: CacheEvent) => {
      log.push(`${Date.now() % 100000} ${e.type} 0x${e.stat.czxid.toString(16)}`);
      if (e.type === 'join') joins.add(e.stat.czxid);
    });
    cache.on('error', (e: Error) => log.push(`${Date.now() % 100000} error ${e.message}`));
    const why = (e: Error): never => {
      throw new Error(`${e.message}; cache events: ${log.slice(-6).join(', ')}; size ${cache.size}`);
    };
    try {
      await cache.start();
      const inst = makeInstance({ name: 'again', id: 'a1', address: '127.0.0.1', port: 47815 });
      for (let i = 0; i < 15; i++) {
        const st = await writeInstance(other, inst);
        await waitFor(() => joins.has(st.czxid), `round ${i}: the cache to see the instance again (czxid 0x${st.czxid.toString(16)})`, 5000, 20).catch(why);
        await other.delete('/services/again/a1');
        await waitFor(() => cache.size === 0, `round ${i}: the cache to see the instance leave`, 5000, 20).catch(why);
        await sleep(400 + (i % 5) * 200);
      }
      t.diagnostic(`15 leave/return rounds seen`);
    } finally {
      cache.close();
      await other.close();
    }
  });
});
