/**
 * The windowed request pipeline (src/core/pipeline.ts) on its own: pure, so a fake request (a
 * promise the test settles by hand) stands in for ZooKeeper. What acl, tree and config publish
 * do with it over a real session is tested in their own suites.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InterruptedError } from '../../src/core/errors.js';
import { pipeline, RequestWindow } from '../../src/core/pipeline.js';

/** Let every pending promise callback and I/O-free step run. */
const flush = (): Promise<void> => new Promise((r) => setImmediate(r));

/** A fake request per item: started in order, settled by the test. */
function fakeRequests<T>() {
  const started: T[] = [];
  const pending = new Map<T, { resolve: () => void; reject: (e: unknown) => void }>();
  let inFlight = 0;
  let maxInFlight = 0;
  const fn = (item: T): Promise<void> => {
    started.push(item);
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    return new Promise<void>((resolve, reject) => {
      pending.set(item, {
        resolve: () => {
          inFlight--;
          pending.delete(item);
          resolve();
        },
        reject: (e) => {
          inFlight--;
          pending.delete(item);
          reject(e);
        },
      });
    });
  };
  return {
    fn,
    started,
    pending,
    get inFlight() {
      return inFlight;
    },
    get maxInFlight() {
      return maxInFlight;
    },
    settle(item: T, e?: unknown) {
      const p = pending.get(item);
      assert.ok(p, `item ${String(item)} is not in flight`);
      if (e === undefined) p.resolve();
      else p.reject(e);
    },
  };
}

/** An async stream of 0..n-1 that counts how far it was pulled. */
function stream(n: number, opts: { failAt?: number } = {}) {
  const s = { pulled: 0 };
  const items = (async function* () {
    for (let i = 0; i < n; i++) {
      if (i === opts.failAt) throw new Error(`stream failed at ${i}`);
      s.pulled = i + 1;
      yield i;
    }
  })();
  return { items, s };
}

describe('pipeline', () => {
  it('keeps at most `window` requests in flight, pulls the stream only when a slot is free, and runs every item', async () => {
    const r = fakeRequests<number>();
    const { items, s } = stream(10);
    let done = false;
    const p = pipeline(items, r.fn, { window: 3 }).then(() => (done = true));
    await flush();
    assert.deepEqual(r.started, [0, 1, 2]);
    assert.equal(s.pulled, 4, 'one item read ahead, waiting for a slot');
    // Settle out of order: each settled request lets exactly one more start.
    r.settle(1);
    await flush();
    assert.deepEqual(r.started, [0, 1, 2, 3]);
    r.settle(0);
    r.settle(2);
    await flush();
    assert.deepEqual(r.started, [0, 1, 2, 3, 4, 5]);
    while (r.pending.size > 0) {
      for (const item of [...r.pending.keys()]) r.settle(item);
      await flush();
    }
    await p;
    assert.ok(done);
    assert.deepEqual(r.started, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    assert.equal(r.maxInFlight, 3);
  });

  it('on the first error starts nothing more, lets the requests in flight settle, then throws that error', async () => {
    const r = fakeRequests<number>();
    let settled = false;
    const p = pipeline([0, 1, 2, 3, 4, 5], r.fn, { window: 3 }).finally(() => (settled = true));
    p.catch(() => undefined);
    await flush();
    r.settle(1, new Error('first'));
    await flush();
    assert.deepEqual(r.started, [0, 1, 2], 'no new request after the error');
    assert.equal(settled, false, 'waits for the requests in flight');
    r.settle(0, new Error('second'));
    await flush();
    assert.equal(settled, false);
    r.settle(2);
    await assert.rejects(p, /first/);
    assert.equal(r.inFlight, 0);
  });

  it('an error from the stream ends it the same way (in flight settle first)', async () => {
    const r = fakeRequests<number>();
    const { items } = stream(10, { failAt: 2 });
    let settled = false;
    const p = pipeline(items, r.fn, { window: 5 }).finally(() => (settled = true));
    p.catch(() => undefined);
    await flush();
    assert.deepEqual(r.started, [0, 1]);
    assert.equal(settled, false);
    r.settle(0);
    r.settle(1);
    await assert.rejects(p, /stream failed at 2/);
  });

  it('a request function that throws at once counts as a failed request', async () => {
    await assert.rejects(
      pipeline(
        [1, 2, 3],
        (i) => {
          if (i === 2) throw new Error('sync throw');
          return Promise.resolve();
        },
        { window: 2 },
      ),
      /sync throw/,
    );
  });

  it('aborting starts nothing more and throws InterruptedError once the requests in flight settled', async () => {
    const r = fakeRequests<number>();
    const ac = new AbortController();
    const p = pipeline([0, 1, 2, 3, 4], r.fn, { window: 2, signal: ac.signal });
    p.catch(() => undefined);
    await flush();
    ac.abort();
    r.settle(0);
    await flush();
    assert.deepEqual(r.started, [0, 1]);
    r.settle(1);
    await assert.rejects(p, (e: unknown) => e instanceof InterruptedError);
    // Already aborted: nothing starts.
    const r2 = fakeRequests<number>();
    await assert.rejects(pipeline([0], r2.fn, { window: 2, signal: ac.signal }), InterruptedError);
    assert.deepEqual(r2.started, []);
  });

  it('an empty stream resolves at once', async () => {
    await pipeline([], () => Promise.reject(new Error('never called')), { window: 0 });
  });
});

describe('RequestWindow', () => {
  it('run() keeps at most `size` calls in flight, first come first served, results in the callers\' order', async () => {
    const r = fakeRequests<number>();
    const win = new RequestWindow(2);
    const all = Promise.all([0, 1, 2, 3, 4].map((i) => win.run(() => r.fn(i).then(() => i * 10))));
    await flush();
    assert.deepEqual(r.started, [0, 1]);
    assert.equal(win.inFlight, 2);
    r.settle(1);
    // A newcomer queues behind those waiting.
    const late = win.run(() => r.fn(99));
    await flush();
    assert.deepEqual(r.started, [0, 1, 2]);
    r.settle(0);
    r.settle(2);
    await flush();
    assert.deepEqual(r.started, [0, 1, 2, 3, 4]);
    r.settle(4);
    await flush();
    assert.deepEqual(r.started, [0, 1, 2, 3, 4, 99]);
    r.settle(3);
    r.settle(99);
    assert.deepEqual(await all, [0, 10, 20, 30, 40]);
    await late;
    await win.drained();
    assert.equal(win.inFlight, 0);
    assert.equal(r.maxInFlight, 2);
  });

  it('a slot given back goes to the first waiter: a newcomer in the same tick does not slip in', async () => {
    const win = new RequestWindow(2);
    await win.acquire();
    await win.acquire();
    const order: string[] = [];
    const waiter = win.acquire().then(() => order.push('waiter'));
    win.release();
    const newcomer = win.acquire().then(() => order.push('newcomer'));
    await flush();
    assert.deepEqual(order, ['waiter']);
    assert.equal(win.inFlight, 2);
    win.release();
    await Promise.all([waiter, newcomer]);
    assert.deepEqual(order, ['waiter', 'newcomer']);
    assert.equal(win.inFlight, 2);
    win.release();
    win.release();
    await win.drained();
    assert.equal(win.inFlight, 0);
  });

  it('a failed call gives its slot back and rejects only its own caller', async () => {
    const win = new RequestWindow(1);
    const a = win.run(() => Promise.reject(new Error('boom')));
    const b = win.run(() => Promise.resolve('ok'));
    await assert.rejects(a, /boom/);
    assert.equal(await b, 'ok');
    await win.drained();
  });
});
