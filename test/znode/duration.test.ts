/**
 * Durations: one parser with one rule (positive unless 0 means something, at most
 * MAX_DURATION_MS), and setTimer, which chains Node timers so a delay past
 * 2^31-1 ms waits instead of firing at once (issue 10, items 6 and 20).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MAX_DURATION_MS, MAX_TIMER_MS, parseDuration, setTimer, sleepMs } from '../../src/core/duration.js';
import { UsageError } from '../../src/core/errors.js';

describe('parseDuration', () => {
  it('reads units, and refuses 0 unless the flag allows it', () => {
    assert.equal(parseDuration('500ms'), 500);
    assert.equal(parseDuration('1.5m'), 90_000);
    assert.equal(parseDuration('597h'), 597 * 3_600_000);
    assert.equal(parseDuration('0', '--grace', { zero: true }), 0);
    for (const z of ['0', '0s', '0ms', '0.0001ms']) {
      assert.throws(() => parseDuration(z, '--for'), (e: Error) => e instanceof UsageError && /--for must be positive/.test(e.message), z);
    }
  });

  it('refuses durations longer than MAX_DURATION_MS with a UsageError (never wraps)', () => {
    assert.equal(parseDuration(`${MAX_DURATION_MS}ms`), MAX_DURATION_MS);
    assert.throws(() => parseDuration('9999999999h', '--timeout'), (e: Error) => e instanceof UsageError && /--timeout "9999999999h" is too long/.test(e.message));
    assert.throws(() => parseDuration(`${'9'.repeat(400)}h`, '--for'), (e: Error) => e instanceof UsageError && /too long/.test(e.message));
  });
});

describe('setTimer', () => {
  it('a delay past 2^31-1 ms does not fire at once (Node alone fires it after 1 ms)', async () => {
    let fired = false;
    const t = setTimer(() => (fired = true), MAX_TIMER_MS + 1000);
    try {
      await sleepMs(300);
      assert.equal(fired, false);
    } finally {
      t.clear();
    }
  });

  it('chains links: with 20 ms links, a 250 ms timer fires once, not before 250 ms', async () => {
    const t0 = performance.now();
    let calls = 0;
    const at = await new Promise<number>((resolve) => {
      setTimer(() => {
        calls++;
        resolve(performance.now() - t0);
      }, 250, 20);
    });
    assert.ok(at >= 249, `fired after ${at} ms`);
    await sleepMs(50);
    assert.equal(calls, 1);
  });

  it('clear() stops a chained timer between links', async () => {
    let fired = false;
    // 20 ms links of a 10 s timer: cleared after several links, far from its end even if this
    // machine stalls (a 120 ms timer fired before a 50 ms sleep ended once under load).
    const t = setTimer(() => (fired = true), 10_000, 20);
    await sleepMs(100);
    t.clear();
    await sleepMs(150);
    assert.equal(fired, false);
  });

  it('sleepMs ends early when its signal aborts', async () => {
    const ac = new AbortController();
    const t0 = performance.now();
    setTimeout(() => ac.abort(), 30);
    await sleepMs(MAX_TIMER_MS * 2, ac.signal);
    assert.ok(performance.now() - t0 < 10_000);
  });
});
