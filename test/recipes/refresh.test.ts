/**
 * The coalesced refresh loop (src/core/recipes/refresh.ts) on its own, against the real test
 * ensemble: bursts of watch events make few runs and the last state is always read; a failed
 * read is tried again without a reconnect; stop() leaves no timer, no session listener, and a
 * watch that fires afterwards runs nothing. Plus the rule its owners now share (issue 12): the
 * LeaderObserver retries a failed read as the ServiceCache always did.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { digestId } from '../../src/core/acl.js';
import { isZkCode, ZkCode } from '../../src/core/errors.js';
import { Perm } from '../../src/core/protocol/records.js';
import { LeaderObserver, type LeaderChange } from '../../src/core/recipes/election.js';
import { RefreshLoop } from '../../src/core/recipes/refresh.js';
import { Session } from '../../src/core/session.js';
import { chrootSession, type ChrootSession, until } from '../helpers/session.js';

describe('refresh loop', () => {
  let cs: ChrootSession;
  let writer: Session;
  before(async () => {
    cs = await chrootSession('refresh');
    writer = await Session.connect({ connectString: cs.server, timeoutMs: 10_000 });
  });
  after(async () => {
    await writer?.close();
    await cs?.close();
  });

  it('merges a burst of watch events and asks into one more run, and reads the last state', async () => {
    const s = cs.session;
    await s.create('/burst');
    let gate: Promise<void> | undefined;
    let seen = -1;
    const watcher = (): void => loop.schedule();
    const loop = new RefreshLoop(s, async () => {
      if (gate) await gate;
      seen = (await s.getChildren('/burst', watcher)).children.length;
    });
    try {
      await loop.start();
      assert.equal(loop.runs, 1);
      assert.equal(seen, 0);
      // Hold the next run while N changes land (each would fire the watch) and N more asks come.
      const N = 40;
      let open!: () => void;
      gate = new Promise<void>((r) => (open = r));
      loop.schedule();
      assert.ok(loop.isRunning);
      await Promise.all(Array.from({ length: N }, (_, i) => writer.create(`/burst/n${i}`)));
      for (let i = 0; i < N; i++) loop.schedule();
      gate = undefined;
      open();
      await loop.settled();
      // The held run, and ONE more for everything asked while it ran.
      assert.equal(loop.runs, 3, `runs: ${loop.runs}`);
      assert.equal(seen, N);

      // Unheld: bursts of pipelined changes; whatever the interleaving, the last state is read.
      for (let round = 1; round <= 3; round++) {
        const before = loop.runs;
        await Promise.all(Array.from({ length: N }, (_, i) => writer.create(`/burst/r${round}-${i}`)));
        await until(`round ${round}: all ${N * (round + 1)} children seen`, () => seen === N * (round + 1));
        await loop.settled();
        assert.ok(loop.runs - before <= N, `round ${round}: ${loop.runs - before} runs for ${N} changes`);
      }
    } finally {
      loop.stop();
    }
  });

  it('tries a failed run again after a pause (no reconnect, no watch needed), and reports each failure', async () => {
    const s = cs.session;
    const errors: unknown[] = [];
    let data: string | undefined;
    const loop = new RefreshLoop(
      s,
      async () => {
        data = (await s.get('/later')).data.toString();
      },
      { retry: { baseMs: 20, maxMs: 200 }, onError: (e) => errors.push(e) },
    );
    try {
      await loop.start();
      assert.equal(data, undefined);
      assert.equal(errors.length, 1);
      assert.ok(isZkCode(errors[0], ZkCode.NO_NODE));
      assert.ok(loop.isWaiting, 'a retry is pending');
      await until('two more failures', () => errors.length >= 3);
      assert.ok(loop.failures >= 3);
      await writer.create('/later', Buffer.from('here'));
      await until('the retry read the node', () => data === 'here');
      await loop.settled();
      assert.equal(loop.failures, 0);
      assert.ok(!loop.isWaiting, 'no retry after a run that succeeded');
    } finally {
      loop.stop();
    }
  });

  it('stop() leaves no timer and no session listener; a watch that fires afterwards runs nothing', async () => {
    const s = cs.session;
    await s.create('/stopped');
    const listeners = (): number[] => (['connected', 'reconnected', 'lost'] as const).map((ev) => s.listenerCount(ev));
    const baseline = listeners();
    let failNext = false;
    const loop = new RefreshLoop(
      s,
      async () => {
        await s.getChildren('/stopped', () => loop.schedule());
        if (failNext) throw new Error('failed on purpose');
      },
      { on: ['connected', 'reconnected', 'lost'], retry: { baseMs: 60_000, maxMs: 60_000 }, onError: () => undefined },
    );
    await loop.start();
    assert.deepEqual(
      listeners(),
      baseline.map((n) => n + 1),
    );
    // A failed run leaves a retry pending (a minute: it must be stop() that clears it).
    failNext = true;
    await loop.run();
    assert.ok(loop.isWaiting);
    assert.ok(await s.checkWatches('/stopped'), 'the run armed its watch');
    const runs = loop.runs;
    loop.stop();
    assert.ok(!loop.isWaiting, 'no timer after stop()');
    assert.deepEqual(listeners(), baseline, 'no session listener after stop()');
    loop.schedule();
    assert.ok(!loop.isRunning);
    // The one-shot watch the last run armed fires once, runs nothing, and is gone from the server.
    await writer.create('/stopped/x');
    await until('the watch fired', async () => !(await s.checkWatches('/stopped')));
    assert.equal(loop.runs, runs);
    assert.ok(!loop.isRunning && !loop.isWaiting);
    assert.equal(await loop.settled(0), true);
  });

  it('LeaderObserver: a failed read is tried again while the session is usable (as ServiceCache does), not only at the next reconnect', async () => {
    const admin = await Session.connect({ connectString: cs.server, timeoutMs: 10_000, auth: [{ scheme: 'digest', credential: 'refresh-admin:pw' }] });
    const observer = new LeaderObserver(cs.session, '/elect');
    observer.retryMaxMs = 200;
    const changes: LeaderChange[] = [];
    const errors: Error[] = [];
    observer.on('change', (c) => changes.push(c));
    observer.on('error', (e) => errors.push(e));
    try {
      await admin.create('/elect');
      await observer.start();
      assert.equal(changes.length, 1);
      assert.equal(changes[0]!.leader, null);
      // A candidate (Curator LeaderLatch format) only the admin may read: the observer's watch
      // fires, it lists the node, and reading it fails (NO_AUTH).
      const node = (
        await admin.create(`/elect/_c_${randomUUID()}-latch-`, Buffer.from('the-leader'), {
          mode: 'ephemeral',
          sequential: true,
          acl: [{ perms: Perm.ALL, id: { scheme: 'digest', id: digestId('refresh-admin', 'pw') } }],
        })
      ).path;
      await until('the observer failed to read', () => errors.length > 0);
      assert.ok(errors.every((e) => isZkCode(e, ZkCode.NO_AUTH)), errors.map((e) => e.message).join('; '));
      assert.equal(changes.length, 1);
      // Readable again (setACL fires no watch) and no reconnect comes: only the retry can see the leader.
      await admin.setACL(node, [{ perms: Perm.ALL, id: { scheme: 'world', id: 'anyone' } }]);
      await until('the observer saw the leader', () => observer.leader?.id === 'the-leader');
      assert.equal(changes.at(-1)!.leader?.id, 'the-leader');
    } finally {
      observer.close();
      await admin.close();
    }
  });
});
