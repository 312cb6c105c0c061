/**
 * A whole-ensemble outage, 5 times in a row (issue 22.4): every member SIGSTOPped for longer
 * than the backends' session timeout, during a round-robin run through the dispatcher with the
 * bench's own closed loop and real backend processes (the bench's fleet). The backends' sessions
 * expire, their nodes go, they register again in new sessions; each time the dispatcher (its
 * cache on a long session) and a second cache (on a short renewing session, which expires too)
 * must see every backend again (the very node ZooKeeper holds, by czxid) within a short gap.
 *
 * What broke before: a request that failed without I/O (no instance) was retried at once, so
 * the closed loop ran on promise jobs alone and no ZooKeeper notification was ever read again:
 * the backends "never came back" until the run ended.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { closedLoop } from '../../src/bench/dispatch.js';
import { Fleet } from '../../src/bench/fleet.js';
import { BackendConnection } from '../../src/bench/protocol.js';
import { Dispatcher, type Endpoint } from '../../src/core/dispatch/index.js';
import { makeInstance, ServiceCache, writeInstance } from '../../src/core/recipes/services.js';
import { Session } from '../../src/core/session.js';
import { startFaultEnsemble, type FaultEnsemble } from '../helpers/zk.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function registerRaw(s: Session, svc: string, id: string): Promise<void> {
  await writeInstance(s, makeInstance({ name: svc, id, address: '127.0.0.1', port: 9999 }));
}

describe('dispatcher across whole-ensemble outages', () => {
  let fe: FaultEnsemble | undefined;
  let fleet: Fleet | undefined;
  const sessions: Session[] = [];
  const paused = new Set<number>();
  before(async () => {
    // tickTime 500: session timeouts of 1-10 s, so a pause past the backends' 2 s stays short.
    fe = await startFaultEnsemble(3, { tickTime: 500 });
  });
  after(async () => {
    for (const p of paused) {
      try {
        process.kill(p, 'SIGCONT');
      } catch {
        /* gone */
      }
    }
    await fleet?.stopAll().catch(() => undefined);
    for (const s of sessions) await s.close().catch(() => undefined);
    await fe?.cleanup();
  });

  it('a read that fails during an outage neither crashes a cache without an error listener nor stops it', async () => {
    const ens = fe!;
    const svc = `fail-${process.pid}`;
    const rejections: unknown[] = [];
    const onRejection = (e: unknown): void => void rejections.push(e);
    process.on('unhandledRejection', onRejection);
    // Requests time out after 1 s; the connection (10 s session: silent for 6.7 s before a
    // reconnect) survives the pause (at most 5 s), so no reconnect comes to the rescue.
    const s = await Session.connect({ connectString: ens.connectString, timeoutMs: 1000, sessionTimeoutMs: 10_000 });
    sessions.push(s);
    const w = await Session.connect({ connectString: ens.connectString, timeoutMs: 15_000 });
    sessions.push(w);
    const cache = new ServiceCache(s, svc);
    try {
      await cache.start();
      const pids = [1, 2, 3].map((i) => ens.ensemble.pidOf(i)!);
      for (const p of pids) {
        process.kill(p, 'SIGSTOP');
        paused.add(p);
      }
      const reads0 = cache.reads;
      cache.refresh(); // fails: no reply within 1 s
      // Tried again while the connection is still up (no reconnect comes within 6.7 s).
      const untilRetry = Date.now() + 5000;
      while (cache.reads < reads0 + 2 && Date.now() < untilRetry) await sleep(50);
      const retried = cache.reads - reads0;
      for (const p of pids) {
        process.kill(p, 'SIGCONT');
        paused.delete(p);
      }
      assert.ok(retried >= 2, `the failed read was not tried again (${retried} reads in 5 s)`);
      // Still following: an instance written now is seen.
      // (The ensemble may still be electing a leader after the pause: the write is tried again.)
      for (const end = Date.now() + 30_000; ; ) {
        try {
          await registerRaw(w, svc, 'late');
          break;
        } catch (e) {
          if (Date.now() > end) throw e;
          await sleep(200);
        }
      }
      const until = Date.now() + 20_000;
      while (cache.size < 1) {
        assert.ok(Date.now() < until, 'the cache stopped following the service');
        await sleep(50);
      }
      assert.deepEqual(rejections, [], 'an unhandled rejection (an error event nobody listens to)');
    } finally {
      cache.close();
      process.removeListener('unhandledRejection', onRejection);
    }
  });

  it('sees every backend again after each of 5 outages longer than their session timeout', async () => {
    const ens = fe!;
    const cs = ens.connectString;
    const svc = `outage-${process.pid}`;
    const path = `/services/${svc}`;
    const connect = async (o: { sessionTimeoutMs: number; renew?: boolean }): Promise<Session> => {
      const s = await Session.connect({ connectString: cs, timeoutMs: 15_000, ...o });
      sessions.push(s);
      return s;
    };
    // The backends: real processes (the bench's), 2 s sessions, renewing, registering again.
    fleet = new Fleet({ connectString: cs, basePath: '/services', service: svc, sessionTimeoutMs: 2000, portBase: 46100 + Math.floor(Math.random() * 80) * 10 });
    const ids = ['b1', 'b2', 'b3', 'b4'];
    await Promise.all(ids.map((id) => fleet!.start({ id, serviceMs: 1, concurrency: 8 })));

    // The dispatcher: its cache on a long session (10 s: outlives the pauses).
    const dispS = await connect({ sessionTimeoutMs: 10_000, renew: true });
    const cache = new ServiceCache(dispS, svc);
    const conns = new Map<number, BackendConnection>();
    const d = new Dispatcher<undefined, void>({
      strategy: 'round-robin',
      seed: 7,
      send: (ep: Endpoint) => {
        let c = conns.get(ep.port);
        if (!c) conns.set(ep.port, (c = new BackendConnection(ep.address, ep.port)));
        return c.send();
      },
    });
    d.follow(cache, true);
    await cache.start();
    // A second cache on a short renewing session: it expires during each pause (a new session).
    const shortS = await connect({ sessionTimeoutMs: 2000, renew: true });
    const cache2 = new ServiceCache(shortS, svc);
    await cache2.start();
    // The truth, read by a session that outlives everything.
    const obs = await connect({ sessionTimeoutMs: 10_000 });

    const deadline = Date.now() + 30_000;
    while (d.size < 4 || cache2.size < 4) {
      assert.ok(Date.now() < deadline, `backends never all seen: dispatcher ${d.size}, cache2 ${cache2.size}`);
      await sleep(50);
    }

    let ok = 0;
    let failed = 0;
    let stop = false;
    // (A deadline too: with the defect, the loop held the event loop until its deadline.)
    const loop = closedLoop(
      16,
      undefined,
      performance.now() + 240_000,
      () => d.dispatch(undefined),
      () => ok++,
      () => failed++,
      () => stop,
    );
    const pids = [1, 2, 3].map((i) => ens.ensemble.pidOf(i)!);
    const gaps: number[] = [];
    const failedPerRound: number[] = [];
    try {
      for (let round = 1; round <= 5; round++) {
        const ok0 = ok;
        const untilOk = Date.now() + 20_000;
        while (ok - ok0 < 200) {
          assert.ok(Date.now() < untilOk, `round ${round}: requests do not flow before the pause (ok ${ok}, failed ${failed})`);
          await sleep(20);
        }
        await obs.sync(path);
        await obs.exists(path);
        const zBefore = obs.lastZxid;
        const f0 = failed;
        for (const p of pids) {
          process.kill(p, 'SIGSTOP');
          paused.add(p);
        }
        await sleep(4000); // twice the backends' session timeout
        for (const p of pids) {
          process.kill(p, 'SIGCONT');
          paused.delete(p);
        }
        // Every backend registered again: its node re-created after the pause.
        let truth: Map<string, bigint> | undefined;
        const untilTruth = Date.now() + 60_000;
        while (!truth) {
          assert.ok(Date.now() < untilTruth, `round ${round}: the backends did not register again`);
          try {
            await obs.sync(path);
            const kids = (await obs.getChildren(path)).children.sort();
            const st = await Promise.all(kids.map((k) => obs.exists(`${path}/${k}`)));
            if (kids.join(',') === ids.join(',') && st.every((x) => x && x.czxid > zBefore)) truth = new Map(kids.map((k, i) => [k, st[i]!.czxid]));
          } catch {
            /* the ensemble is still recovering */
          }
          if (!truth) await sleep(50);
        }
        const t = Date.now();
        const seen = (c: ServiceCache): boolean => {
          const m = new Map(c.instances().map((r) => [r.instance.id, r.stat.czxid]));
          return [...truth!].every(([id, z]) => m.get(id) === z);
        };
        const caughtUp = (): boolean => seen(cache) && seen(cache2) && d.size === 4 && d.endpoints().every((e) => ids.includes(e.id));
        while (!caughtUp() && Date.now() - t < 5000) await sleep(20);
        gaps.push(Date.now() - t);
        failedPerRound.push(failed - f0);
        assert.ok(
          caughtUp(),
          `round ${round}: 5 s after every backend registered again, dispatcher has [${d.endpoints().map((e) => e.id).join(',')}], ` +
            `its cache ${seen(cache) ? 'is current' : 'is stale'}, the renewing cache ${seen(cache2) ? 'is current' : 'is stale'} (${cache2.size})`,
        );
        // And requests flow again.
        const ok1 = ok;
        const untilFlow = Date.now() + 10_000;
        while (ok - ok1 < 100) {
          assert.ok(Date.now() < untilFlow, `round ${round}: requests do not flow after the outage`);
          await sleep(20);
        }
      }
    } finally {
      stop = true;
      await loop;
      d.close();
      cache2.close();
      for (const c of conns.values()) c.close();
    }
    console.log(`# outage rounds: caught up ${gaps.map((g) => `${g} ms`).join(', ')} after the backends re-registered; failed requests per outage ${failedPerRound.join(', ')} (total ${failed} of ${ok + failed})`);
  });
});
