/**
 * Members die while 5 processes contend for a lock (a private 3-member ensemble):
 * the leader is killed, brought back, then a follower is killed. Sessions move to
 * the surviving members; no two CMDs overlap, every process finishes, the count is exact.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { runCli, startFaultEnsemble, type FaultEnsemble } from '../helpers/zk.js';
import { assertNoOverlap, counterScript, readCounter, readIntervals, scratchDir, waitFor } from './util.js';

describe('lock under member failures', () => {
  let fe: FaultEnsemble;
  before(async () => {
    fe = await startFaultEnsemble(3);
  });
  after(async () => {
    await fe?.cleanup();
  });

  it('5 contenders, leader killed and restarted, then a follower killed: no overlap, everyone finishes', async () => {
    const dir = scratchDir('fault-mutex');
    const script = counterScript(dir, '0.1');
    const perWorker = 8;
    const workers = 5;
    const failures: string[] = [];
    const worker = async (w: number): Promise<void> => {
      for (let i = 0; i < perWorker; i++) {
        const r = await runCli(['lock', '-s', fe.connectString, '/m', '--id', `w${w}`, '--', script, dir], { timeoutMs: 120_000 });
        if (r.code !== 0) failures.push(`worker ${w} run ${i}: exit ${r.code}: ${r.stderr.trim()}`);
      }
    };
    const all = Promise.all(Array.from({ length: workers }, (_, w) => worker(w)));

    const total = workers * perWorker;
    await waitFor(() => readCounter(dir) >= 5, 'first increments', 60_000);
    const killed = await fe.ensemble.kill('leader');
    process.stderr.write(`# killed leader (member ${killed.id}) at count ${readCounter(dir)}\n`);
    await waitFor(() => readCounter(dir) >= 15, 'progress without the old leader', 90_000);
    await fe.ensemble.start(killed.id, { wait: true });
    const follower = (await fe.ensemble.status()).members.find((m) => m.running && m.mode === 'follower');
    assert.ok(follower, 'a follower to kill');
    await waitFor(() => readCounter(dir) >= 25, 'progress after the restart', 90_000);
    await fe.ensemble.kill(follower.id);
    process.stderr.write(`# killed follower (member ${follower.id}) at count ${readCounter(dir)}\n`);

    await all;
    assert.deepEqual(failures, []);
    assert.equal(readCounter(dir), total);
    const intervals = readIntervals(dir);
    assert.equal(intervals.length, total);
    assertNoOverlap(intervals);
  });
});
