/** Selection logic of every strategy, the retry budget and failover: deterministic (seeded), no ZooKeeper. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Dispatcher, Endpoint, RetryBudget, createStrategy, hash32, seededRng, STRATEGIES, type StrategyHost, type StrategyName } from '../../src/core/dispatch/index.js';
import { makeInstance } from '../../src/core/recipes/services.js';

function endpoints(n: number, weights: number[] = []): Endpoint[] {
  return Array.from({ length: n }, (_, i) => new Endpoint({ id: `e${i}`, address: '127.0.0.1', port: 1000 + i, weight: weights[i] ?? 1 }));
}

function host(seed = 1, outstanding = (): number => 0): StrategyHost {
  return { rng: seededRng(seed), totalOutstanding: outstanding, now: () => 1000 };
}

function picks(name: StrategyName, eps: Endpoint[], count: number, seed = 1, key?: (i: number) => string): string[] {
  const s = createStrategy(name, host(seed));
  s.update(eps);
  return Array.from({ length: count }, (_, i) => s.pick(key?.(i), undefined)!.id);
}

describe('strategies', () => {
  it('are deterministic for a seed (and differ across seeds where random)', () => {
    for (const name of STRATEGIES) {
      const a = picks(name, endpoints(5), 200, 7, (i) => `k${i % 13}`);
      const b = picks(name, endpoints(5), 200, 7, (i) => `k${i % 13}`);
      assert.deepEqual(a, b, name);
    }
    assert.notDeepEqual(picks('random', endpoints(5), 50, 1), picks('random', endpoints(5), 50, 2));
  });

  it('random spreads uniformly (chi-square sanity)', () => {
    const counts = new Map<string, number>();
    for (const id of picks('random', endpoints(10), 20000)) counts.set(id, (counts.get(id) ?? 0) + 1);
    for (const c of counts.values()) assert.ok(c > 1700 && c < 2300, String(c));
  });

  it('round-robin goes in turn', () => {
    const p = picks('round-robin', endpoints(4), 12);
    for (let i = 4; i < 12; i++) assert.equal(p[i], p[i - 4]);
    assert.equal(new Set(p.slice(0, 4)).size, 4);
  });

  it('weighted-round-robin is exact and smooth (nginx)', () => {
    const p = picks('weighted-round-robin', endpoints(3, [5, 1, 1]), 7);
    assert.deepEqual(p, ['e0', 'e0', 'e1', 'e0', 'e2', 'e0', 'e0']);
    const many = picks('weighted-round-robin', endpoints(3, [3, 2, 1]), 6000);
    assert.equal(many.filter((x) => x === 'e0').length, 3000);
    assert.equal(many.filter((x) => x === 'e1').length, 2000);
  });

  it('least-outstanding takes the least loaded, ties at random', () => {
    const eps = endpoints(4);
    eps[0].outstanding = 3;
    eps[1].outstanding = 1;
    eps[2].outstanding = 2;
    eps[3].outstanding = 1;
    const p = picks('least-outstanding', eps, 200);
    assert.ok(p.every((x) => x === 'e1' || x === 'e3'));
    assert.ok(p.includes('e1') && p.includes('e3'));
  });

  it('p2c takes the less loaded of two distinct random choices', () => {
    const eps = endpoints(3);
    eps[0].outstanding = 10;
    eps[1].outstanding = 5;
    eps[2].outstanding = 0;
    const p = picks('p2c', eps, 300);
    assert.ok(!p.includes('e0'), 'the most loaded is never the lesser of two');
    // e1 is only chosen when paired with e0: about a third of the time.
    const e1 = p.filter((x) => x === 'e1').length;
    assert.ok(e1 > 50 && e1 < 150, String(e1));
  });

  it('peak-ewma avoids a slow instance at once and forgives it slowly', () => {
    const eps = endpoints(2);
    eps[0].observeLatency(2, 1000, 10_000);
    eps[1].observeLatency(2, 1000, 10_000);
    eps[1].observeLatency(50, 1000, 10_000); // a peak replaces the estimate
    assert.equal(eps[1].ewmaMs, 50);
    const p = picks('peak-ewma', eps, 100);
    assert.ok(p.every((x) => x === 'e0'));
    eps[1].observeLatency(2, 6000, 10_000); // decays towards 2 ms with τ = 10 s
    assert.ok(eps[1].ewmaMs < 50 && eps[1].ewmaMs > 20, String(eps[1].ewmaMs));
    // Load counts: e0 with 30 in flight costs 2*(31) > 50*(1).
    eps[0].outstanding = 30;
    eps[1].ewmaMs = 50;
    assert.ok(picks('peak-ewma', eps, 20).every((x) => x === 'e1'));
  });

  it('consistent-hash maps a key to the same instance and moves few keys on a leave', () => {
    const eps = endpoints(10);
    const s = createStrategy('consistent-hash', host(1, () => 0));
    s.update(eps);
    const before = new Map<string, string>();
    for (let i = 0; i < 2000; i++) before.set(`user-${i}`, s.pick(`user-${i}`, undefined)!.id);
    for (let i = 0; i < 2000; i++) assert.equal(s.pick(`user-${i}`, undefined)!.id, before.get(`user-${i}`));
    s.update(eps.filter((e) => e.id !== 'e3'));
    let moved = 0;
    for (const [k, id] of before) if (id !== 'e3' && s.pick(k, undefined)!.id !== id) moved++;
    assert.equal(moved, 0, 'keys of the other instances stay where they were');
  });

  it('consistent-hash with bounded loads keeps every load ≤ ⌈(1+ε)·(m+1)/n⌉ (Mirrokni et al.)', () => {
    const eps = endpoints(10);
    let total = 0;
    const eps0 = 0.25;
    const s = createStrategy('consistent-hash', host(1, () => total), { epsilon: eps0 });
    s.update(eps);
    // 1000 requests all in flight at once, with a skewed key set (a few hot keys).
    for (let m = 0; m < 1000; m++) {
      const key = m % 3 === 0 ? 'hot' : `k${hash32(String(m)) % 50}`;
      const e = s.pick(key, undefined)!;
      const cap = Math.ceil(((1 + eps0) * (total + 1)) / eps.length);
      assert.ok(e.outstanding < cap, `load ${e.outstanding} at cap ${cap}`);
      e.outstanding++;
      total++;
    }
    const max = Math.max(...eps.map((e) => e.outstanding));
    assert.ok(max <= Math.ceil((1 + eps0) * 100), String(max));
  });

  it('sticky keeps a key on its instance until it leaves the rotation', () => {
    const eps = endpoints(5);
    const s = createStrategy('sticky', host(3));
    s.update(eps);
    const first = s.pick('session-1', undefined)!;
    for (let i = 0; i < 50; i++) assert.equal(s.pick('session-1', undefined), first);
    s.update(eps.filter((e) => e !== first));
    const second = s.pick('session-1', undefined)!;
    assert.notEqual(second, first);
    for (let i = 0; i < 20; i++) assert.equal(s.pick('session-1', undefined), second);
  });

  it('never pick an excluded instance', () => {
    const eps = endpoints(4);
    for (const name of STRATEGIES) {
      const s = createStrategy(name, host(5));
      s.update(eps);
      const ex = new Set([eps[0], eps[1], eps[2]]);
      for (let i = 0; i < 30; i++) assert.equal(s.pick(`k${i}`, ex), eps[3], name);
      assert.equal(s.pick('k', new Set(eps)), undefined, name);
    }
  });
});

describe('retry budget', () => {
  it('allows the reserve plus a percentage of requests, within the window', () => {
    let now = 0;
    const b = new RetryBudget({ percent: 0.1, minPerSec: 1, ttlMs: 10_000 }, () => now);
    let ok = 0;
    for (let i = 0; i < 100; i++) b.deposit();
    while (b.tryWithdraw()) ok++;
    assert.equal(ok, 10 + 10); // reserve 1/s * 10 s + 10 % of 100
    now = 25_000; // everything expired: only the reserve again
    ok = 0;
    while (b.tryWithdraw()) ok++;
    assert.equal(ok, 10);
  });
});

describe('dispatcher failover (fake transport)', () => {
  const instances = (n: number) => Array.from({ length: n }, (_, i) => makeInstance({ name: 's', id: `i${i}`, address: '127.0.0.1', port: 2000 + i }));

  it('retries a refused request elsewhere, ejects at once, re-admits after a probe', async () => {
    let down = 'i1';
    let probeOk = false;
    const d = new Dispatcher<number, string>({
      strategy: 'round-robin',
      seed: 1,
      send: async (ep) => {
        if (ep.id === down) throw Object.assign(new Error('refused'), { code: 'ECONNREFUSED' });
        return ep.id;
      },
      probe: async () => {
        if (!probeOk) throw new Error('still down');
      },
      probeIntervalMs: 5,
      maxProbeIntervalMs: 10,
    });
    const ejected: string[] = [];
    d.on('eject', (ep: Endpoint) => ejected.push(ep.id));
    d.setMembers(instances(3));
    const got: string[] = [];
    for (let i = 0; i < 30; i++) got.push(await d.dispatch(i));
    assert.ok(!got.includes('i1'));
    assert.deepEqual(ejected, ['i1']);
    const st = d.stats();
    assert.equal(st.failed, 0);
    assert.equal(st.retries, 1, 'one request hit i1, then it was out of rotation');
    assert.equal(st.endpoints.find((e) => e.id === 'i1')!.sent, 1);
    down = '';
    probeOk = true;
    await new Promise((r) => setTimeout(r, 60));
    assert.equal(d.stats().readmissions, 1);
    const again: string[] = [];
    for (let i = 0; i < 6; i++) again.push(await d.dispatch(i));
    assert.ok(again.includes('i1'));
    d.close();
  });

  it('gives up after maxAttempts and when the budget is spent; no instance -> exit code 3', async () => {
    const d = new Dispatcher<number, void>({ strategy: 'random', seed: 1, maxAttempts: 2, retryBudget: { percent: 0, minPerSec: 0.1, ttlMs: 10_000 }, send: async () => { throw new Error('boom'); }, probe: async () => { throw new Error('down'); } });
    d.setMembers(instances(3));
    await assert.rejects(d.dispatch(1), /boom/);
    await assert.rejects(d.dispatch(2), /boom/);
    const st = d.stats();
    assert.equal(st.retries, 1, 'the reserve allowed one retry');
    assert.equal(st.budgetExhausted, 1);
    d.setMembers([]);
    await assert.rejects(d.dispatch(3), (e: Error & { exitCode?: number }) => e.exitCode === 3);
    d.close();
  });

  it('leaves out disabled instances and follows weights from the payload', () => {
    const d = new Dispatcher({ strategy: 'weighted-round-robin', seed: 1, send: async () => undefined });
    d.setMembers([
      makeInstance({ name: 's', id: 'a', address: '127.0.0.1', port: 1, weight: 3 }),
      makeInstance({ name: 's', id: 'b', address: '127.0.0.1', port: 2 }),
      { ...makeInstance({ name: 's', id: 'c', address: '127.0.0.1', port: 3 }), enabled: false },
    ]);
    const ids = Array.from({ length: 8 }, () => d.pick()!.id);
    assert.equal(ids.filter((x) => x === 'a').length, 6);
    assert.ok(!ids.includes('c'));
    d.close();
  });
});
