/**
 * A short `bench dispatch` run in the suite: real backend processes, one SIGKILLed mid-run.
 * Checks that the JSON has every field and that failover loses no request (no timing asserts).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { chrootSession, type ChrootSession } from '../helpers/session.js';
import { runCli } from '../helpers/zk.js';

describe('bench dispatch (short run)', () => {
  let cs: ChrootSession;
  before(async () => {
    cs = await chrootSession('bench-dispatch');
  });
  after(async () => {
    await cs?.close();
  });

  it('kills a backend mid-run: zero failed requests with retries, ejected, leaves ZooKeeper; JSON complete', async () => {
    const portBase = 47200 + Math.floor(Math.random() * 60) * 10;
    const r = await runCli(
      ['bench', 'dispatch', '-s', cs.server, '--backends', '3', '--strategies', 'random,p2c', '--requests', '3000', '--concurrency', '16', '--service-time', '2ms',
        '--kill', '2@300ms', '--add', '@400ms', '--session-timeout', '4s', '--port-base', String(portBase), '--json', '--max-failed', '0'],
      { timeoutMs: 90_000 },
    );
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { config: Record<string, unknown>; results: Array<Record<string, unknown>> };
    for (const k of ['service', 'backends', 'requests', 'concurrency', 'serviceMs', 'kills', 'adds', 'sessionTimeoutMs', 'seed', 'epsilon']) assert.ok(k in out.config, k);
    // A service of its own for each run: two benches at once never share backends.
    assert.match(String(out.config.service), /^zkctl-bench-\d+-[0-9a-f]{6}$/);
    assert.deepEqual(out.results.map((x) => x.strategy), ['direct', 'random', 'p2c']);
    const fields = ['throughput', 'vsDirect', 'latency', 'backends', 'imbalance', 'slowShare', 'failed', 'retries', 'kills', 'adds', 'leaderKill', 'cdf', 'timeline', 'events', 'durationMs', 'ok'];
    for (const x of out.results) for (const f of fields) assert.ok(f in x, `${String(x.strategy)}: ${f}`);
    for (const x of out.results.slice(1) as Array<{ strategy: string; failed: number; ok: number; kills: Array<{ id: string; ejectedAfterMs: number | null; lastSendAfterMs: number; zkLeaveAfterMs: number | null }>; latency: { p50Ms: number; p99Ms: number; p999Ms: number }; backends: Array<{ id: string; share: number }>; adds: Array<{ joinAfterMs: number | null }> }>) {
      assert.equal(x.failed, 0, `${x.strategy}: failed requests`);
      assert.equal(x.ok, 3000);
      assert.equal(x.kills.length, 1);
      assert.equal(x.kills[0].id, 'b2');
      assert.notEqual(x.kills[0].ejectedAfterMs, null, `${x.strategy}: b2 was never ejected`);
      assert.notEqual(x.kills[0].zkLeaveAfterMs, null, `${x.strategy}: b2 never left ZooKeeper`);
      assert.ok(x.latency.p50Ms > 0 && x.latency.p99Ms >= x.latency.p50Ms && x.latency.p999Ms >= x.latency.p99Ms);
      assert.ok(x.backends.some((b) => b.id === 'b4'), 'the added backend is accounted for');
    }
  });
});
