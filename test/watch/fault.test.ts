/**
 * Watching through failures, on a private 3-member ensemble (tests run in order):
 * - `zkctl watch` keeps streaming when the leader is killed (every client is disconnected);
 * - a watch whose server freezes reconnects elsewhere and reports what changed meanwhile;
 * - `zkctl ensemble watch` reports one leader change naming the new leader (--fail-on-change: 12);
 * - `zkctl ensemble drill failover` runs two rounds and finds nothing lost;
 * - `zkctl ensemble watch` and a follower that really falls behind (SIGSTOP while writes go on).
 *
 * Why a SIGSTOPped follower is reported down and its lag is seen only sometimes (ZooKeeper's doing,
 * not zkctl's): a stopped JVM answers nothing, `srvr` included, so after two unanswered polls it is
 * member-down, never follower-lag, however far behind it falls. The leader keeps it in the quorum
 * while it is stopped for less than syncLimit x tickTime (10 s here) and queues the proposals in its
 * socket. On SIGCONT the follower answers the `srvr` poll queued while it was stopped and applies
 * the backlog at the same moment: the first answer may carry the old zxid (then zkctl reports
 * follower-lag by the zxid difference, and follower-caught-up a poll or two later; seen here: 2600
 * transactions, caught up 220 ms later) or the caught-up one (then no lag is ever visible). Stopped
 * longer than syncLimit x tickTime, the leader drops it and it resyncs (DIFF/SNAP) before it serves
 * again: no lag visible either. So the test asserts what always holds (down while stopped, never
 * lagging while down, back, in step with the leader at the end) and, when the lag was seen, that it
 * is the zxid difference and is followed by caught-up.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { watchZnode, type WatchNotice, type ZnodeEvent } from '../../src/core/recipes/watchers.js';
import { Session } from '../../src/core/session.js';
import { runCli, startFaultEnsemble, type FaultEnsemble } from '../helpers/zk.js';
import { CliStream, eventually, mkdirp, probeUntilLive, sleep } from './util.js';

describe('watching through failures (fault ensemble)', () => {
  let fe: FaultEnsemble;
  let s: Session;

  before(async () => {
    fe = await startFaultEnsemble(3);
    s = await Session.connect({ connectString: fe.connectString, timeoutMs: 10_000, renew: true });
  });
  after(async () => {
    await s?.close();
    await fe?.cleanup();
  });

  /** Start every member that is down and wait for all to serve. */
  async function heal(): Promise<void> {
    for (const id of fe.ensemble.ids) if (!fe.ensemble.isRunning(id)) await fe.ensemble.start(id, { wait: true, timeoutMs: 60_000 });
    await fe.ensemble.waitForQuorum(60_000);
  }

  /** Keep setting `path` to 1, 2, 3... (retrying through failures) until stopped; returns the last value. */
  function writer(path: string, everyMs = 50): { stop: () => Promise<number> } {
    let stopped = false;
    let last = 0;
    const loop = (async () => {
      for (let i = 1; !stopped; i++) {
        for (;;) {
          try {
            await s.set(path, Buffer.from(String(i)));
            last = i;
            break;
          } catch {
            if (stopped) return;
            await sleep(20);
          }
        }
        await sleep(everyMs);
      }
    })();
    return {
      stop: async () => {
        stopped = true;
        await loop;
        return last;
      },
    };
  }

  it('zkctl watch keeps streaming when the leader is killed, and says it was disconnected', async () => {
    await mkdirp(s, '/kill/counter');
    const w = new CliStream(['watch', '/kill', '-r', '--data', '-o', 'json', '-s', fe.connectString]);
    try {
      const from = await probeUntilLive(w, s, '/kill');
      const wr = writer('/kill/counter');
      await w.waitForJson('counter events', (o) => o.path === '/kill/counter', from);
      const killed = await fe.ensemble.kill('leader');
      assert.ok(killed.wasRunning);
      const disc = await w.waitForJson('disconnected line', (o) => o.type === 'disconnected', from, 30_000);
      const rec = await w.waitForJson('reconnected line', (o) => o.type === 'reconnected', disc.i, 30_000);
      assert.equal(rec.o.newSession, false);
      assert.ok(['none', 'net-only'].includes(String(rec.o.missed)), JSON.stringify(rec.o));
      assert.equal(typeof rec.o.downMs, 'number');
      // Events keep coming after the reconnect.
      const after1 = await w.waitForJson('an event after reconnecting', (o) => o.path === '/kill/counter' && o.type === 'data-changed' && !o.resync, rec.i + 1, 30_000);
      assert.ok(after1);
      await sleep(500);
      const last = await wr.stop();
      // The last value written is reported (live or by a resync), and values never go back.
      await w.waitForJson(`the last value ${last}`, (o) => o.path === '/kill/counter' && o.data === String(last), from, 30_000);
      const values = w
        .json()
        .slice(from)
        .filter((o) => o.path === '/kill/counter' && typeof o.data === 'string')
        .map((o) => Number(o.data));
      assert.deepEqual([...values].sort((a, b) => a - b), values);
      assert.match(w.stderr, /disconnected from 127\.0\.0\.1:\d+/);
      assert.match(w.stderr, /reconnected/);
      w.kill('SIGINT');
      assert.equal((await w.exited).code, 130);
    } finally {
      w.kill('SIGKILL');
      await heal();
    }
  });

  it('a watch whose server freezes moves to another member and reports what changed meanwhile', async () => {
    await mkdirp(s, '/frozen/a');
    const ws = await Session.connect({ connectString: fe.connectString, timeoutMs: 3000, sessionTimeoutMs: 8000, renew: true });
    let stoppedPid: number | undefined;
    try {
      // Freeze a follower, not the leader (writes must go on).
      const leader = (await fe.ensemble.status()).leader!.id;
      const portOf = (id: number): number => fe.ensemble.ports(id).clientPort;
      for (let i = 0; i < 10 && ws.server === `127.0.0.1:${portOf(leader)}`; i++) {
        ws.dropConnection();
        await ws.whenConnected(10_000);
        await sleep(100);
      }
      const frozenId = fe.ensemble.ids.find((id) => ws.server === `127.0.0.1:${portOf(id)}`)!;
      assert.notEqual(frozenId, leader, 'the watch should sit on a follower');
      const events: ZnodeEvent[] = [];
      const notices: WatchNotice[] = [];
      const w = await watchZnode(ws, '/frozen', { recursive: true, data: true, onEvent: (e) => void events.push(e), onNotice: (n) => void notices.push(n) });
      try {
        await s.set('/frozen/a', Buffer.from('live'));
        await eventually('live event', () => events.find((e) => e.type === 'data-changed' && e.data?.toString() === 'live'));

        stoppedPid = fe.ensemble.pidOf(frozenId)!;
        process.kill(stoppedPid, 'SIGSTOP');
        // Changes through the other members while the watch's server is frozen: no notification can come.
        const others = fe.ensemble.ids.filter((id) => id !== frozenId).map((id) => `127.0.0.1:${portOf(id)}`).join(',');
        const o = await Session.connect({ connectString: others, timeoutMs: 10_000 });
        let sa;
        let cb;
        try {
          sa = await o.set('/frozen/a', Buffer.from('while-frozen'));
          cb = await o.create('/frozen/b', Buffer.from('new'));
        } finally {
          await o.close();
        }
        const rec = await eventually('reconnected elsewhere', () => notices.find((n) => n.type === 'reconnected'), 40_000, 100);
        assert.notEqual(rec.server, `127.0.0.1:${portOf(frozenId)}`);
        assert.equal(rec.missed, 'net-only');
        assert.equal(rec.changes, 2);
        assert.ok(notices.some((n) => n.type === 'disconnected'));
        const ra = events.find((e) => e.path === '/frozen/a' && e.resync)!;
        const rb = events.find((e) => e.path === '/frozen/b' && e.resync)!;
        assert.equal(ra.type, 'data-changed');
        assert.equal(ra.zxid, sa.mzxid);
        assert.equal(ra.data?.toString(), 'while-frozen');
        assert.equal(rb.type, 'created');
        assert.equal(rb.zxid, cb.stat.czxid);
        // and live events again (the frozen member thaws first: the test's own session may sit on it)
        process.kill(stoppedPid, 'SIGCONT');
        stoppedPid = undefined;
        await s.set('/frozen/b', Buffer.from('after'));
        await eventually('live event after the resync', () => events.find((e) => e.path === '/frozen/b' && e.type === 'data-changed' && !e.resync));
      } finally {
        await w.stop();
      }
    } finally {
      if (stoppedPid) process.kill(stoppedPid, 'SIGCONT');
      await ws.close();
      await heal();
    }
  });

  it('zkctl ensemble watch reports exactly one leader change naming the new leader; --fail-on-change exits 12', async () => {
    const w = new CliStream(['ensemble', 'watch', '-s', fe.connectString, '-o', 'json', '--interval', '200ms']);
    const strict = new CliStream(['ensemble', 'watch', '-s', fe.connectString, '--fail-on-change']);
    try {
      const initial = await w.waitForJson('initial', (o) => o.type === 'initial', 0, 30_000);
      await strict.waitFor('strict initial', () => strict.lines.some((l) => /initial/.test(l)), 30_000);
      const oldLeader = initial.o.leader as string;
      assert.ok(oldLeader);
      const st0 = await fe.ensemble.status();
      assert.equal(oldLeader, st0.leader!.address);
      await fe.ensemble.kill(st0.leader!.id);
      const newLeader = await eventually('a new leader', async () => (await fe.ensemble.status({ timeoutMs: 1000 })).leader?.address, 60_000, 200);
      await w.waitForJson('leader-change', (o) => o.type === 'leader-change', 0, 30_000);
      const strictEnd = await strict.exited;
      assert.equal(strictEnd.code, 12, strict.stderr);
      assert.match(strict.stderr, /leader changed: .* -> /);
      // No write since the election: followers still show the old epoch's last zxid and are in sync (issue 24).
      const idle = await runCli(['ensemble', 'watch', '-s', fe.connectString, '-o', 'json', '--for', '3s', '--interval', '200ms', '--lag-for', '400ms', '--lag-threshold', '0']);
      assert.equal(idle.code, 0, idle.stderr);
      const idleEvents = idle.stdout.trim().split('\n').map((l) => JSON.parse(l) as { type: string; zxid?: string; state?: Array<{ mode: string; zxid?: string }> });
      assert.deepEqual(idleEvents.filter((o) => o.type === 'follower-lag'), [], idle.stdout);
      const st = idleEvents[0]!.state ?? [];
      const leaderIdle = /0{8}$/.test(idleEvents[0]!.zxid ?? '');
      const oldEpochFollower = st.some((s) => s.mode === 'follower' && s.zxid && BigInt(s.zxid) >> 32n < BigInt(idleEvents[0]!.zxid ?? '0') >> 32n);
      // The case the check is about (a write since, e.g. a session expiring, would make it moot; say so).
      if (!(leaderIdle && oldEpochFollower)) process.stderr.write(`note: no idle old-epoch follower was seen: ${idle.stdout}\n`);
      await sleep(1500); // a few more polls: nothing else may claim a change
      w.kill('SIGINT');
      assert.equal((await w.exited).code, 130);
      const changes = w.json().filter((o) => o.type === 'leader-change');
      assert.equal(changes.length, 1, JSON.stringify(changes));
      assert.equal(changes[0]!.oldLeader, oldLeader);
      assert.equal(changes[0]!.leader, newLeader);
      assert.ok(Number(changes[0]!.epoch) > Number(initial.o.epoch));
      assert.match(String(changes[0]!.zxid), /^0x[0-9a-f]+$/);
      const types = w.json().map((o) => o.type);
      assert.ok(types.includes('member-down'), types.join(','));
      const down = w.json().find((o) => o.type === 'member-down')!;
      assert.equal(down.member, oldLeader);
    } finally {
      w.kill('SIGKILL');
      strict.kill('SIGKILL');
      await heal();
    }
  });

  it('zkctl ensemble drill failover: two rounds, nothing acknowledged lost', async () => {
    const r = await runCli(['ensemble', 'drill', 'failover', '--dir', fe.dir, '--rounds', '2', '--settle', '1s', '-o', 'json'], { timeoutMs: 240_000 });
    assert.equal(r.code, 0, r.stderr);
    const rep = JSON.parse(r.stdout) as {
      rounds: Array<{ killed: number; newLeader: number; electionMs: number; gapMs: number; catchUpMs: number | null }>;
      verification: { acknowledged: number; lost: number; reordered: number; mismatched: number };
      summary: { ok: boolean; rounds: number; gapP50Ms: number };
    };
    assert.equal(rep.rounds.length, 2);
    assert.equal(rep.summary.ok, true);
    assert.equal(rep.verification.lost, 0);
    assert.equal(rep.verification.reordered, 0);
    assert.equal(rep.verification.mismatched, 0);
    assert.ok(rep.verification.acknowledged > 0);
    for (const round of rep.rounds) {
      assert.notEqual(round.killed, round.newLeader);
      assert.ok(round.electionMs > 0 && round.gapMs > 0);
      assert.notEqual(round.catchUpMs, null);
    }
    // every member serves again afterwards
    const st = await fe.ensemble.waitForQuorum(60_000);
    assert.equal(st.members.filter((m) => m.mode === 'leader' || m.mode === 'follower').length, 3);
  });

  it('zkctl ensemble watch: a SIGSTOPped follower is down (not lagging), then back; lag by zxid when ZooKeeper shows it, then caught up', async () => {
    const st0 = await fe.ensemble.waitForQuorum(60_000);
    const follower = st0.members.find((m) => m.mode === 'follower')!;
    const others = st0.members.filter((m) => m.id !== follower.id).map((m) => m.address).join(',');
    const w = new CliStream(['ensemble', 'watch', '-s', fe.connectString, '-o', 'json', '--interval', '100ms', '--lag-threshold', '100', '--lag-for', '0']);
    const ws = await Session.connect({ connectString: others, timeoutMs: 10_000 });
    const pid = fe.ensemble.pidOf(follower.id)!;
    let stopped = false;
    const mine = (type: string) => (o: Record<string, unknown>) => o.type === type && o.member === follower.address;
    try {
      await w.waitForJson('initial', (o) => o.type === 'initial', 0, 30_000);
      await mkdirp(ws, '/lag');
      process.kill(pid, 'SIGSTOP');
      stopped = true;
      const down = await w.waitForJson('member-down', mine('member-down'), 0, 30_000);
      // Writes while it is stopped: at most 4 s of them (well inside syncLimit x tickTime = 10 s, so it stays in the quorum).
      const t0 = Date.now();
      let writes = 0;
      while (writes < 3000 && Date.now() - t0 < 4000) {
        await Promise.all(Array.from({ length: 100 }, () => ws.set('/lag', Buffer.from(String(writes++)))));
      }
      process.kill(pid, 'SIGCONT');
      stopped = false;
      const up = await w.waitForJson('member-up', mine('member-up'), down.i, 60_000);
      // In step again: its zxid is the leader's (no writes now), as srvr says.
      await eventually(
        'the follower in step with the leader',
        async () => {
          const st = await fe.ensemble.status({ timeoutMs: 2000 });
          const f = st.members.find((m) => m.id === follower.id);
          return f?.mode === 'follower' && st.leader && f.zxid === st.members.find((m) => m.id === st.leader!.id)?.zxid ? true : undefined;
        },
        60_000,
        200,
      );
      const events = w.json();
      // Never lagging while it answered nothing.
      assert.deepEqual(events.slice(down.i, up.i).filter(mine('follower-lag')), [], JSON.stringify(events.slice(down.i, up.i)));
      const lag = events.slice(up.i).find(mine('follower-lag'));
      if (lag) {
        assert.equal(lag.lag, Number(BigInt(String(lag.zxid)) - BigInt(String(lag.memberZxid))), JSON.stringify(lag));
        assert.ok(Number(lag.lag) > 100, JSON.stringify(lag));
        await w.waitForJson('follower-caught-up', mine('follower-caught-up'), up.i, 30_000);
      } else {
        // ZooKeeper applied the backlog before answering the first poll after SIGCONT (see the header).
        process.stderr.write(`note: ${writes} writes while stopped; the follower answered caught up (${String(up.o.memberZxid)}): no lag visible this time\n`);
      }
    } finally {
      if (stopped) process.kill(pid, 'SIGCONT');
      w.kill('SIGKILL');
      await ws.close();
    }
  });
});
