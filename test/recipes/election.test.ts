/** `zkctl elect`, `elect watch`, `elect ls`: real processes on the shared ensemble. */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { NODE_NAME_PATTERNS } from '../../src/core/recipes/contenders.js';
import { Election, LeaderObserver, type LeaderChange } from '../../src/core/recipes/election.js';
import { isPidAlive } from '../../src/ensemble/proc.js';
import { chrootSession, type ChrootSession } from '../helpers/session.js';
import { runCli } from '../helpers/zk.js';
import { children, scratchDir, spawnCli, waitFor, type Running } from './util.js';

function lines(file: string): string[] {
  return existsSync(file) ? readFileSync(file, 'utf8').trim().split('\n').filter(Boolean) : [];
}

describe('election', () => {
  let cs: ChrootSession;
  before(async () => {
    cs = await chrootSession('elect');
  });
  after(async () => {
    await cs.close();
  });

  it('writes each format exactly (latch, selector, kazoo) and elect ls lists candidates in order', async () => {
    const procs: Running[] = [];
    try {
      const formats = ['curator-latch', 'curator-selector', 'kazoo'] as const;
      for (const [i, f] of formats.entries()) {
        procs.push(spawnCli(['elect', '-s', cs.server, `/fmt-${f}`, '--id', `c${i}`, '--format', f]));
      }
      for (const p of procs) await waitFor(() => p.stdout().includes('/fmt-'), 'leader node printed');
      const expect = { 'curator-latch': NODE_NAME_PATTERNS['curator-latch'], 'curator-selector': NODE_NAME_PATTERNS.curator, kazoo: NODE_NAME_PATTERNS.kazoo };
      for (const [i, f] of formats.entries()) {
        const node = procs[i]!.stdout().trim();
        assert.match(node.split('/').pop()!, expect[f], `${f}: ${node}`);
        assert.equal((await cs.session.get(node)).data.toString(), `c${i}`);
      }
      // a second candidate on the latch path
      const second = spawnCli(['elect', '-s', cs.server, '/fmt-curator-latch', '--id', 'second']);
      procs.push(second);
      await waitFor(async () => (await children(cs.session, '/fmt-curator-latch')).length === 2, 'second candidate');
      const ls = await runCli(['elect', 'ls', '-s', cs.server, '/fmt-curator-latch', '-o', 'json']);
      assert.equal(ls.code, 0, ls.stderr);
      assert.deepEqual(
        (JSON.parse(ls.stdout) as Array<{ role: string; id: string; format: string }>).map((r) => [r.role, r.id, r.format]),
        [
          ['leader', 'c0', 'curator-latch'],
          ['candidate', 'second', 'curator-latch'],
        ],
      );
      for (const p of procs) p.child.kill('SIGINT');
      for (const p of procs) assert.equal((await p.exited).code, 130, p.stderr());
      for (const f of formats) assert.deepEqual(await children(cs.session, `/fmt-${f}`), []);
    } finally {
      for (const p of procs) p.child.kill('SIGKILL');
    }
  });

  it('leadership passes on when the leader is killed or resigns; elect watch reports each change', async () => {
    const dir = scratchDir('elect');
    const log = join(dir, 'log');
    const cmd = (id: string): string[] => ['sh', '-c', `echo "$$ start ${id} $(date +%s%3N)" >> ${log}; trap 'echo "$$ end ${id} $(date +%s%3N)" >> ${log}; exit 0' TERM; while :; do sleep 0.05; done`];
    const watch = spawnCli(['elect', 'watch', '-s', cs.server, '/svc', '-o', 'json', '--count', '5']);
    const cands: Record<string, Running> = {};
    try {
      await waitFor(() => watch.stdout().includes('"initial":true'), 'elect watch to report the initial state');
      for (const id of ['A', 'B', 'C']) {
        cands[id] = spawnCli(['elect', '-s', cs.server, '/svc', '--id', id, '--session-timeout', '4s', '--', ...cmd(id)]);
        await waitFor(async () => (await children(cs.session, '/svc')).length === Object.keys(cands).length, `${id} to queue`);
      }
      await waitFor(() => lines(log).some((l) => l.includes('start A')), 'A to lead');
      const aPid = Number(lines(log).find((l) => l.includes('start A'))!.split(' ')[0]);

      // A's zkctl dies hard: its CMD is killed with it, and B leads once A's session expires.
      cands.A!.child.kill('SIGKILL');
      await cands.A!.exited;
      await waitFor(() => !isPidAlive(aPid), "A's CMD to die", 5000, 50);
      await waitFor(() => lines(log).some((l) => l.includes('start B')), 'B to lead', 30_000);

      // B resigns (SIGTERM): its CMD ends first, then C leads at once.
      cands.B!.child.kill('SIGTERM');
      assert.equal((await cands.B!.exited).code, 0, cands.B!.stderr());
      await waitFor(() => lines(log).some((l) => l.includes('start C')), 'C to lead');
      cands.C!.child.kill('SIGTERM');
      assert.equal((await cands.C!.exited).code, 0);

      const w = await watch.exited;
      assert.equal(w.code, 0, watch.stderr());
      const events = watch
        .stdout()
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { id: string | null; node: string | null; since: string; initial: boolean });
      assert.deepEqual(
        events.map((e) => e.id),
        [null, 'A', 'B', 'C', null],
      );
      assert.equal(events[0]!.initial, true);
      for (const e of events.slice(1, 4)) assert.match(e.node!, NODE_NAME_PATTERNS['curator-latch']);
      const sinces = events.map((e) => Date.parse(e.since));
      assert.deepEqual([...sinces].sort((a, b) => a - b), sinces);

      // CMD order: A (killed), B start/end, then C: never two at once.
      const order = lines(log).map((l) => l.split(' ').slice(1, 3).join(' '));
      assert.deepEqual(order, ['start A', 'start B', 'end B', 'start C', 'end C']);
      assert.deepEqual(await children(cs.session, '/svc'), []);
    } finally {
      watch.child.kill('SIGKILL');
      for (const p of Object.values(cands)) p.child.kill('SIGKILL');
    }
  });

  it('library: campaign, resign, and LeaderObserver follows the leader', async () => {
    const obs = new LeaderObserver(cs.session, '/lib');
    const seen: LeaderChange[] = [];
    obs.on('change', (c) => seen.push(c));
    await obs.start();
    const a = new Election(cs.session, '/lib', { id: 'a', format: 'kazoo' });
    const b = new Election(cs.session, '/lib', { id: 'b', format: 'kazoo' });
    const la = await a.campaign();
    assert.equal(la.id, 'a');
    // An observer reports the states it sees; one that changes twice before its refresh is seen once
    // (coalesced). Let it see each leader before the next change, as the assertion below expects.
    const observed = (id: string | null) => waitFor(() => (seen.at(-1)?.leader?.id ?? null) === id && seen.length > 0, `the observer to see leader ${id}`);
    await observed('a');
    const pb = b.campaign();
    await waitFor(async () => (await a.candidates()).length === 2, 'b to queue');
    assert.equal((await b.leader())?.id, 'a');
    await a.resign();
    assert.equal((await pb).id, 'b');
    await observed('b');
    await b.resign();
    await waitFor(() => seen.length === 4, 'four changes');
    obs.close();
    assert.deepEqual(
      seen.map((c) => c.leader?.id ?? null),
      [null, 'a', 'b', null],
    );
  });
});
