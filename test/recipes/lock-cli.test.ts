/** `zkctl lock` and `zkctl lock ls` as an operator sees them: the real binary, real processes. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { NODE_NAME_PATTERNS } from '../../src/core/recipes/contenders.js';
import { chrootSession, type ChrootSession } from '../helpers/session.js';
import { runCli } from '../helpers/zk.js';
import { assertNoOverlap, children, counterScript, readCounter, readIntervals, scratchDir, spawnCli, waitFor } from './util.js';

describe('zkctl lock (CLI)', () => {
  let cs: ChrootSession;
  before(async () => {
    cs = await chrootSession('lock-cli');
  });
  after(async () => {
    await cs.close();
  });
  const S = (): string[] => ['-s', cs.server];

  it('runs CMD with the lock in its environment and passes its exit status through', async () => {
    const r = await runCli(['lock', ...S(), '/env', '--id', 'me', '--', 'sh', '-c', 'echo "$ZKCTL_LOCK_PATH|$ZKCTL_LOCK_NODE|$ZKCTL_FENCING_TOKEN"; exit 7']);
    assert.equal(r.code, 7, r.stderr);
    const [path, node, token] = r.stdout.trim().split('|');
    assert.equal(path, '/env');
    assert.match(node!.replace('/env/', ''), NODE_NAME_PATTERNS.curator);
    assert.match(token!, /^\d+$/);
    assert.deepEqual(await children(cs.session, '/env'), []);
  });

  it('--try and --timeout exit 10 and leave no contender behind; lock ls shows the holder', async () => {
    const holder = spawnCli(['lock', ...S(), '/busy', '--id', 'the-holder']);
    try {
      await waitFor(() => holder.stdout().includes('/busy/'), 'holder to print its node');
      const node = holder.stdout().trim();
      assert.match(node.replace('/busy/', ''), NODE_NAME_PATTERNS.curator);

      const t = await runCli(['lock', ...S(), '/busy', '--try', '--', 'true']);
      assert.equal(t.code, 10, t.stderr);
      assert.match(t.stderr, /held/);
      const w = await runCli(['lock', ...S(), '/busy', '--timeout', '1s', '--format', 'kazoo', '--', 'true']);
      assert.equal(w.code, 10, w.stderr);
      assert.deepEqual(await children(cs.session, '/busy'), [node.replace('/busy/', '')]);

      const ls = await runCli(['lock', 'ls', ...S(), '/busy', '-o', 'json']);
      assert.equal(ls.code, 0, ls.stderr);
      const rows = JSON.parse(ls.stdout) as Array<{ role: string; id: string; format: string; session: string; client: string | null }>;
      assert.equal(rows.length, 1);
      assert.equal(rows[0]!.role, 'holder');
      assert.equal(rows[0]!.id, 'the-holder');
      assert.equal(rows[0]!.format, 'curator');
      assert.match(rows[0]!.session, /^0x[0-9a-f]+$/);
      assert.match(rows[0]!.client ?? '', /^127\.0\.0\.1:\d+$/);

      // a waiter interrupted while waiting: exit 130, its node removed
      const intr = spawnCli(['lock', ...S(), '/busy', '--', 'true']);
      await waitFor(async () => (await children(cs.session, '/busy')).length === 2, 'waiter to queue');
      intr.child.kill('SIGINT');
      assert.equal((await intr.exited).code, 130, intr.stderr());
      assert.deepEqual(await children(cs.session, '/busy'), [node.replace('/busy/', '')]);

      holder.child.kill('SIGINT');
      const ex = await holder.exited;
      assert.equal(ex.code, 130);
      assert.deepEqual(await children(cs.session, '/busy'), []);
    } finally {
      holder.child.kill('SIGKILL');
    }
  });

  it('hands the lock to waiters in FIFO order', async () => {
    const dir = scratchDir('fifo');
    const out = join(dir, 'order');
    const holder = spawnCli(['lock', ...S(), '/fifo']);
    const waiters: ReturnType<typeof spawnCli>[] = [];
    try {
      await waitFor(() => holder.stdout().includes('/fifo/'), 'holder');
      for (let i = 1; i <= 4; i++) {
        waiters.push(spawnCli(['lock', ...S(), '/fifo', '--id', `w${i}`, '--', 'sh', '-c', `echo w${i} >> ${out}`]));
        // each waiter queues before the next one starts
        await waitFor(async () => (await children(cs.session, '/fifo')).length === i + 1, `waiter ${i} to queue`);
      }
      const ls = await runCli(['lock', 'ls', ...S(), '/fifo', '-o', 'json']);
      assert.deepEqual(
        (JSON.parse(ls.stdout) as Array<{ role: string; id: string }>).map((r) => `${r.role}:${r.id}`).slice(1),
        ['waiter:w1', 'waiter:w2', 'waiter:w3', 'waiter:w4'],
      );
      holder.child.kill('SIGTERM');
      for (const w of waiters) assert.equal((await w.exited).code, 0, w.stderr());
      assert.equal(readFileSync(out, 'utf8'), 'w1\nw2\nw3\nw4\n');
      assert.equal((await holder.exited).code, 130);
    } finally {
      for (const p of [holder, ...waiters]) p.child.kill('SIGKILL');
    }
  });

  it('forwards SIGTERM to CMD, releases, and exits 130 (or CMD\'s own status)', async () => {
    const a = spawnCli(['lock', ...S(), '/sig', '--', 'sh', '-c', 'echo started; sleep 30']);
    const b = spawnCli(['lock', ...S(), '/sig2', '--', 'sh', '-c', 'trap "echo bye; exit 3" TERM; echo started; while :; do sleep 0.1; done']);
    try {
      await waitFor(() => a.stdout().includes('started') && b.stdout().includes('started'), 'CMDs to start');
      a.child.kill('SIGTERM');
      b.child.kill('SIGTERM');
      assert.equal((await a.exited).code, 130, a.stderr());
      assert.equal((await b.exited).code, 3, b.stderr());
      assert.match(b.stdout(), /bye/);
      assert.deepEqual(await children(cs.session, '/sig'), []);
      assert.deepEqual(await children(cs.session, '/sig2'), []);
    } finally {
      a.child.kill('SIGKILL');
      b.child.kill('SIGKILL');
    }
  });

  // The suite runs 5 x 10; the full 5 x 50 run: ZKCTL_MUTEX_INCREMENTS=50 npm test -- test/recipes/lock-cli
  const perWorker = Number(process.env.ZKCTL_MUTEX_INCREMENTS ?? 10);
  it(`mutual exclusion: 5 processes x ${perWorker} read-sleep-write increments, exact count, no overlap`, async () => {
    const dir = scratchDir('mutex');
    const script = counterScript(dir);
    const workers = 5;
    const t0 = Date.now();
    const worker = async (w: number): Promise<void> => {
      for (let i = 0; i < perWorker; i++) {
        const r = await runCli(['lock', ...S(), '/counter', '--id', `w${w}`, '--', script, dir], { timeoutMs: 120_000 });
        assert.equal(r.code, 0, `worker ${w} run ${i}: ${r.stderr}`);
      }
    };
    await Promise.all(Array.from({ length: workers }, (_, w) => worker(w)));
    assert.equal(readCounter(dir), workers * perWorker);
    const intervals = readIntervals(dir);
    assert.equal(intervals.length, workers * perWorker);
    assertNoOverlap(intervals);
    assert.deepEqual(await children(cs.session, '/counter'), []);
    const gaps = intervals.slice(1).map((b, i) => Number(b.start - intervals[i]!.end) / 1e6);
    process.stderr.write(
      `# mutex: ${intervals.length} runs in ${((Date.now() - t0) / 1000).toFixed(1)} s; hand-over gap min ${Math.min(...gaps).toFixed(1)} ms, median ${gaps.sort((a, b) => a - b)[Math.floor(gaps.length / 2)]!.toFixed(1)} ms\n`,
    );
  });
});
