/**
 * The streams' end rules (core/stream.ts, under src/cli/stream.ts): --count counts events taken,
 * the first end wins, an interrupt (the shell's Ctrl-C, the CLI's SIGINT/SIGTERM) ends with
 * 'interrupted'. No timing: --for is covered by the commands' own tests.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { interruptedStatus } from '../../src/cli/stream.js';
import { StreamControl } from '../../src/core/stream.js';
import { runHook } from '../../src/core/proc.js';

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

describe('the hook runner (runHook): stopping a hook stops all of it', () => {
  /** Ended: no such process, or a zombie waiting to be reaped. */
  const gone = (pid: number): boolean => {
    try {
      return readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /s, '').startsWith('Z');
    } catch {
      return true;
    }
  };
  const startHook = async (script: (pidFile: string) => string, graceMs?: number) => {
    const dir = mkdtempSync(join(tmpdir(), 'zkctl-hook-'));
    const pidFile = join(dir, 'pid');
    const ac = new AbortController();
    const result = runHook(script(pidFile), { env: {}, signal: ac.signal, graceMs });
    const deadline = Date.now() + 10_000;
    while (!existsSync(pidFile) || readFileSync(pidFile, 'utf8').trim() === '') {
      assert.ok(Date.now() < deadline, 'the hook did not start within 10 s');
      await new Promise((r) => setTimeout(r, 20));
    }
    const pid = Number(readFileSync(pidFile, 'utf8').trim());
    return { ac, result, pid, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
  };

  it("a hook's own children stop with it (the shell alone was signalled: its sleep ran on)", async () => {
    const h = await startHook((f) => `sleep 33 & echo $! > '${f}'; wait`);
    try {
      assert.equal(gone(h.pid), false);
      h.ac.abort();
      const r = await h.result;
      assert.equal(r.ok, false);
      assert.ok(gone(h.pid), `the hook's child ${h.pid} is still running after the hook was stopped`);
    } finally {
      if (!gone(h.pid)) process.kill(h.pid, 'SIGKILL');
      h.cleanup();
    }
  });

  it('a hook that ignores SIGTERM is killed after the grace period, children included', async () => {
    const h = await startHook((f) => `trap '' TERM; sleep 33 & echo $! > '${f}'; wait; wait`, 300);
    try {
      h.ac.abort();
      const r = await h.result;
      assert.equal(r.ok, false);
      assert.ok(gone(h.pid), `the hook's child ${h.pid} survived SIGKILL`);
    } finally {
      if (!gone(h.pid)) process.kill(h.pid, 'SIGKILL');
      h.cleanup();
    }
  });
});
