/** The leader timeline state machine, fed with made-up polls (no servers). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EnsembleTimeline } from '../../src/ensemble/timeline.js';
import type { MemberMode, MemberStatus } from '../../src/ensemble/status.js';

const A = '127.0.0.1:1';
const B = '127.0.0.1:2';
const C = '127.0.0.1:3';

function m(address: string, id: number, mode: MemberMode, zxid?: bigint, error?: string): MemberStatus {
  const port = Number(address.split(':')[1]);
  const s: MemberStatus = { host: '127.0.0.1', port, address, id, mode, ms: 1, votingMembers: 3 };
  if (zxid !== undefined) {
    s.zxidValue = zxid;
    s.zxid = `0x${zxid.toString(16)}`;
    s.epoch = Number(zxid >> 32n);
  }
  if (error) s.error = error;
  return s;
}
const z = (epoch: number, n: number): bigint => (BigInt(epoch) << 32n) + BigInt(n);
const refused = 'connection refused';

describe('ensemble timeline', () => {
  it('a killed leader gives member-down, quorum-lost, then exactly one leader-change and quorum-regained', () => {
    const tl = new EnsembleTimeline();
    let t = 0;
    const step = (ms: MemberStatus[]) => tl.update(ms, (t += 250));
    const initial = step([m(A, 1, 'leader', z(1, 10)), m(B, 2, 'follower', z(1, 10)), m(C, 3, 'follower', z(1, 9))]);
    assert.equal(initial.length, 1);
    assert.equal(initial[0]!.type, 'initial');
    assert.equal(initial[0]!.leader, A);
    assert.equal(initial[0]!.leaderId, 1);
    assert.equal(initial[0]!.epoch, 1);
    assert.equal(initial[0]!.quorum, true);
    assert.equal(initial[0]!.state?.length, 3);

    const down = step([m(A, 1, 'down', undefined, refused), m(B, 2, 'not-serving'), m(C, 3, 'not-serving')]);
    assert.deepEqual(down.map((e) => e.type), ['member-down', 'quorum-lost']);
    assert.equal(down[0]!.member, A);
    assert.equal(down[0]!.lastLeader, A);
    assert.equal(down[1]!.quorum, false);

    // still electing: nothing new
    assert.deepEqual(step([m(A, 1, 'down', undefined, refused), m(B, 2, 'not-serving'), m(C, 3, 'not-serving')]), []);

    const elected = step([m(A, 1, 'down', undefined, refused), m(B, 2, 'follower', z(2, 0)), m(C, 3, 'leader', z(2, 0))]);
    assert.deepEqual(elected.map((e) => e.type), ['leader-change', 'quorum-regained']);
    const lc = elected[0]!;
    assert.equal(lc.oldLeader, A);
    assert.equal(lc.oldLeaderId, 1);
    assert.equal(lc.leader, C);
    assert.equal(lc.leaderId, 3);
    assert.equal(lc.oldEpoch, 1);
    assert.equal(lc.epoch, 2);
    assert.equal(lc.zxid, '0x200000000');
    assert.equal(lc.downMs, 500);
    assert.equal(elected[1]!.downMs, 500);

    const back = step([m(A, 1, 'not-serving'), m(B, 2, 'follower', z(2, 5)), m(C, 3, 'leader', z(2, 5))]);
    assert.deepEqual(back.map((e) => e.type), ['member-up']);
    assert.equal(back[0]!.mode, 'not-serving');
    assert.deepEqual(step([m(A, 1, 'follower', z(2, 5)), m(B, 2, 'follower', z(2, 5)), m(C, 3, 'leader', z(2, 5))]), []);
  });

  it('one missed answer is not a crash; two are', () => {
    const tl = new EnsembleTimeline();
    tl.update([m(A, 1, 'leader', z(1, 1)), m(B, 2, 'follower', z(1, 1)), m(C, 3, 'follower', z(1, 1))], 0);
    const slow = 'no reply within 500 ms';
    assert.deepEqual(tl.update([m(A, 1, 'leader', z(1, 1)), m(B, 2, 'down', undefined, slow), m(C, 3, 'follower', z(1, 1))], 250), []);
    assert.deepEqual(tl.update([m(A, 1, 'leader', z(1, 1)), m(B, 2, 'follower', z(1, 1)), m(C, 3, 'follower', z(1, 1))], 500), []);
    tl.update([m(A, 1, 'leader', z(1, 1)), m(B, 2, 'down', undefined, slow), m(C, 3, 'follower', z(1, 1))], 750);
    const ev = tl.update([m(A, 1, 'leader', z(1, 1)), m(B, 2, 'down', undefined, slow), m(C, 3, 'follower', z(1, 1))], 1000);
    assert.deepEqual(ev.map((e) => e.type), ['member-down']);
    assert.equal(ev[0]!.leader, A, 'the leader is still there');
  });

  it('a leader that briefly does not answer is not a leader change', () => {
    const tl = new EnsembleTimeline();
    tl.update([m(A, 1, 'leader', z(1, 1)), m(B, 2, 'follower', z(1, 1)), m(C, 3, 'follower', z(1, 1))], 0);
    tl.update([m(A, 1, 'down', undefined, 'no reply'), m(B, 2, 'follower', z(1, 2)), m(C, 3, 'follower', z(1, 2))], 250);
    const ev = tl.update([m(A, 1, 'leader', z(1, 3)), m(B, 2, 'follower', z(1, 3)), m(C, 3, 'follower', z(1, 3))], 500);
    assert.ok(!ev.some((e) => e.type === 'leader-change'), JSON.stringify(ev));
  });

  it('the same leader winning a new epoch is a leader change (re-elected)', () => {
    const tl = new EnsembleTimeline();
    tl.update([m(A, 1, 'leader', z(1, 1)), m(B, 2, 'follower', z(1, 1)), m(C, 3, 'follower', z(1, 1))], 0);
    tl.update([m(A, 1, 'not-serving'), m(B, 2, 'not-serving'), m(C, 3, 'not-serving')], 250);
    const ev = tl.update([m(A, 1, 'leader', z(2, 0)), m(B, 2, 'follower', z(2, 0)), m(C, 3, 'follower', z(2, 0))], 500);
    const lc = ev.find((e) => e.type === 'leader-change')!;
    assert.equal(lc.reelected, true);
    assert.equal(lc.oldEpoch, 1);
    assert.equal(lc.epoch, 2);
  });

  it('a follower behind by more than the threshold for long enough lags, then catches up', () => {
    const tl = new EnsembleTimeline({ lagThreshold: 100, lagForMs: 1000 });
    const poll = (t: number, cz: bigint) => tl.update([m(A, 1, 'leader', z(1, 5000)), m(B, 2, 'follower', z(1, 5000)), m(C, 3, 'follower', cz)], t);
    poll(0, z(1, 5000));
    assert.deepEqual(poll(250, z(1, 4000)), []);
    assert.deepEqual(poll(750, z(1, 4100)), []);
    const lag = poll(1250, z(1, 4200));
    assert.deepEqual(lag.map((e) => e.type), ['follower-lag']);
    assert.equal(lag[0]!.member, C);
    assert.equal(lag[0]!.lag, 800);
    assert.deepEqual(poll(1500, z(1, 4300)), [], 'reported once');
    const ok = poll(1750, z(1, 4950));
    assert.deepEqual(ok.map((e) => e.type), ['follower-caught-up']);
    // a short blip is not lag
    assert.deepEqual(poll(2000, z(1, 10)), []);
    assert.deepEqual(poll(2250, z(1, 5000)), []);
  });
  it('after an election with no write yet, followers on the previous epoch\'s last zxid are in sync; real lag is still lag', () => {
    const tl = new EnsembleTimeline({ lagThreshold: 0, lagForMs: 500 });
    const poll = (t: number, a: bigint, b: bigint, c: bigint) => tl.update([m(A, 1, 'leader', a), m(B, 2, 'follower', b), m(C, 3, 'follower', c)], t);
    poll(0, z(1, 5000), z(1, 5000), z(1, 5000));
    // A's epoch 2 has no writes: srvr shows 0x200000000 on it, the followers stay at 0x100001388.
    for (let t = 250; t <= 5000; t += 250) assert.deepEqual(poll(t, z(2, 0), z(1, 5000), z(1, 5000)).filter((e) => e.type.startsWith('follower')), [], `at ${t} ms`);
    // C misses the first three writes of epoch 2 (B has them): 3 behind.
    poll(5250, z(2, 3), z(2, 3), z(1, 5000));
    const lag = poll(5750, z(2, 3), z(2, 3), z(1, 5000));
    assert.deepEqual(lag.map((e) => e.type), ['follower-lag']);
    assert.equal(lag[0]!.member, C);
    assert.equal(lag[0]!.lag, 3);
    assert.deepEqual(poll(6000, z(2, 3), z(2, 3), z(2, 3)).map((e) => e.type), ['follower-caught-up']);
  });

  it('a follower behind in the previous epoch when the leader has not written yet lags by what it misses of that epoch', () => {
    const tl = new EnsembleTimeline({ lagThreshold: 100, lagForMs: 0 });
    tl.update([m(A, 1, 'leader', z(1, 5000)), m(B, 2, 'follower', z(1, 5000)), m(C, 3, 'follower', z(1, 5000))], 0);
    const e = tl.update([m(A, 1, 'leader', z(2, 0)), m(B, 2, 'follower', z(1, 5000)), m(C, 3, 'follower', z(1, 4000))], 250);
    const lag = e.filter((x) => x.type === 'follower-lag');
    assert.equal(lag.length, 1);
    assert.equal(lag[0]!.member, C);
    assert.equal(lag[0]!.lag, 1000);
    assert.equal(lag[0]!.noWritesSinceElection, true);
    // Two epochs behind: an unknown number of transactions.
    const t2 = new EnsembleTimeline({ lagThreshold: 100, lagForMs: 0 });
    t2.update([m(A, 1, 'leader', z(3, 7)), m(B, 2, 'follower', z(3, 7)), m(C, 3, 'follower', z(2, 9))], 0);
    const e2 = t2.update([m(A, 1, 'leader', z(3, 7)), m(B, 2, 'follower', z(3, 7)), m(C, 3, 'follower', z(1, 9))], 250);
    assert.equal(e2.find((x) => x.type === 'follower-lag')?.lag, null);
  });
});
