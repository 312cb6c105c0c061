/**
 * `bench dispatch` checks every flag before anything starts (issue 22): bad thresholds, a slow
 * backend that does not exist, a zero duration, no strategy at all are refused with exit 2, at
 * once, without connecting (an unreachable server proves it) and without starting a backend.
 * A given --service with an instance whose id the bench's backends use (b1, b2...) is refused
 * (registering would replace it); by default each run has a service of its own.
 * A fault after the end of a run (--kill 3@5s with 1.5 s runs) and a --report path in a missing
 * directory are refused before anything runs.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { makeInstance, writeInstance } from '../../src/core/recipes/services.js';
import { chrootSession, type ChrootSession } from '../helpers/session.js';
import { runCli } from '../helpers/zk.js';

describe('bench dispatch: flags checked before the run', () => {
  let cs: ChrootSession;
  before(async () => {
    cs = await chrootSession('bench-flags');
  });
  after(async () => {
    await cs?.close();
  });

  for (const [what, args, re] of [
    ['--max-imbalance abc', ['--max-imbalance', 'abc'], /--max-imbalance abc: must be a number/],
    ['--max-imbalance 0.5', ['--max-imbalance', '0.5'], /--max-imbalance 0\.5: must be a number ≥ 1/],
    ['--max-p99 bogus', ['--max-p99', 'bogus'], /--max-p99/],
    ['--slow 99:20ms', ['--backends', '3', '--slow', '99:20ms'], /--slow 99:20ms: no such backend \(1\.\.3\)/],
    ['--slow b0:1ms', ['--slow', 'b0:1ms'], /no such backend/],
    ['--kill 99@1s', ['--backends', '3', '--kill', '99@1s'], /--kill 99@1s: no such backend/],
    ['--duration 0', ['--duration', '0'], /--duration must be positive, not "0"/],
    ['--duration 0s', ['--duration', '0s'], /--duration must be positive, not "0s"/],
    ['--strategies ,', ['--strategies', ','], /--strategies ",": no strategy named/],
    ['--strategies " "', ['--strategies', ' '], /no strategy named/],
    ['--epsilon x', ['--epsilon', 'x'], /--epsilon x: must be a positive number/],
    ['--kill 3@5s (default 1.5 s runs)', ['--kill', '3@5s'], /--kill 3@5s: after the end of each run \(1\.5s\): it would never happen/],
    ['--add @3s --duration 2s', ['--add', '@3s', '--duration', '2s'], /--add @3s: after the end of each run \(2s\)/],
    ['--kill none --kill 2@1s', ['--kill', 'none', '--kill', '2@1s'], /--kill none cannot be combined/],
    ['--report in a missing directory', ['--report', '/nonexistent-zkctl-dir/x.html'], /cannot write \/nonexistent-zkctl-dir\/x\.html: no such file or directory/],
  ] as Array<[string, string[], RegExp]>) {
    it(`refuses ${what} (exit 2, before connecting)`, async () => {
      const r = await runCli(['bench', 'dispatch', '-s', '127.0.0.1:1', '--timeout', '20s', ...args]);
      assert.equal(r.code, 2, `${what}: exit ${r.code}\n${r.stderr}`);
      assert.match(r.stderr, re);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      assert.equal(r.stdout, '');
      // Refused before trying the (unreachable) server: no 20 s connect timeout was spent.
      assert.ok(r.ms < 15_000, `took ${r.ms} ms`);
    });
  }

  it('refuses a --service holding an instance with an id the bench uses (registering would replace it)', async () => {
    await writeInstance(cs.session, makeInstance({ name: 'busy', id: 'b1', address: '127.0.0.1', port: 47999 }));
    const r = await runCli(['bench', 'dispatch', '-s', cs.server, '--service', 'busy', '--backends', '1', '--requests', '10', '--strategies', 'random']);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /--service busy already has instance b1, an id this run's backends use/);
    // Untouched: still the one instance, not replaced by a bench backend.
    const { data } = await cs.session.get('/services/busy/b1');
    assert.equal(JSON.parse(data.toString()).port, 47999);
  });
});
