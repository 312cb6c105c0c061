/**
 * The streams' end rules (core/stream.ts, under src/cli/stream.ts): --count counts events taken,
 * the first end wins, an interrupt (the shell's Ctrl-C, the CLI's SIGINT/SIGTERM) ends with
 * 'interrupted'. No timing: --for is covered by the commands' own tests.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { interruptedStatus } from '../../src/cli/stream.js';
import { StreamControl } from '../../src/core/stream.js';

describe('stream scaffolding', () => {
  it('--count: events past the count are dropped, the stream ends once the last one is handled', async () => {
    const s = new StreamControl({ count: 2 });
    assert.equal(s.take(), true);
    s.settle();
    assert.equal(s.reason, undefined);
    assert.equal(s.take(), true);
    assert.equal(s.signal.aborted, false, 'not ended before the event is handled (its hook runs)');
    s.settle();
    assert.equal(await s.ended, 'count');
    assert.equal(s.signal.aborted, true);
    assert.equal(s.take(), false);
    assert.equal(s.events, 2);
  });

  it('an interrupt ends it as interrupted; the first end wins', async () => {
    const ac = new AbortController();
    const s = new StreamControl<'leader-change'>({ signal: ac.signal });
    ac.abort();
    assert.equal(await s.ended, 'interrupted');
    s.end('leader-change');
    assert.equal(s.reason, 'interrupted');
    assert.equal(s.take(), false, 'nothing is taken after the end');
    const pre = new AbortController();
    pre.abort();
    assert.equal(new StreamControl({ signal: pre.signal }).reason, 'interrupted', 'already aborted: ended at once');
    const t = new StreamControl<'leader-change'>({ forMs: 3_600_000 });
    t.end('leader-change');
    assert.equal(await t.ended, 'leader-change');
  });

  it('exit status of an interrupted run: 130, or the signal\'s own where the command says so', () => {
    assert.equal(interruptedStatus('SIGTERM'), 130);
    assert.equal(interruptedStatus('SIGINT', true), 130);
    assert.equal(interruptedStatus('SIGTERM', true), 143);
    assert.equal(interruptedStatus('SIGHUP', true), 129);
  });
});
