/**
 * Fencing under a partition: the holder's connection is silenced by a TCP proxy
 * (sockets stay open, bytes are dropped), so neither side sees an error. The
 * holder must stop its CMD (exit 11) before the server expires its session and
 * the waiter gets the lock. Also: zkctl killed with SIGKILL must not leave its
 * CMD running.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { isPidAlive } from '../../src/ensemble/proc.js';
import { TcpProxy } from '../helpers/proxy.js';
import { chrootSession, type ChrootSession } from '../helpers/session.js';
import { testServer } from '../helpers/zk.js';
import { children, groupMembers, scratchDir, spawnCli, waitFor } from './util.js';

/** `ps` lines (pid, ppid, pgid, sid, state, command) whose command contains one of `needles`. */
function processes(needles: string[]): string {
  try {
    const out = execFileSync('ps', ['-eo', 'pid,ppid,pgid,sid,stat,args'], { encoding: 'utf8' });
    const lines = out.split('\n');
    return [lines[0], ...lines.slice(1).filter((l) => needles.some((n) => l.includes(n)))].join('\n');
  } catch (e) {
    return `(ps failed: ${(e as Error).message})`;
  }
}

/** "<tag> <epoch ms>" lines written by the CMDs. */
function stamps(file: string): Map<string, number> {
  const m = new Map<string, number>();
  if (!existsSync(file)) return m;
  for (const line of readFileSync(file, 'utf8').trim().split('\n')) {
    const [tag, ms] = line.split(' ');
    if (tag && ms) m.set(tag, Number(ms));
  }
  return m;
}

/** A CMD that logs its start, and its end when SIGTERMed, then loops. */
const holderCmd = (file: string): string[] => [
  'sh',
  '-c',
  `echo "start $(date +%s%3N)" >> ${file}; trap 'echo "end $(date +%s%3N)" >> ${file}; exit 143' TERM; while :; do sleep 0.05; done`,
];
const waiterCmd = (file: string): string[] => ['sh', '-c', `echo "start $(date +%s%3N)" >> ${file}`];

describe('fencing (partitioned holder)', () => {
  let cs: ChrootSession;
  let proxy: TcpProxy;
  before(async () => {
    cs = await chrootSession('fencing');
    // The holder talks to one member through the proxy; the waiter to the whole ensemble directly.
    proxy = await TcpProxy.start(testServer().split(',')[0]!);
  });
  after(async () => {
    await proxy.close();
    await cs.close();
  });

  for (const kind of ['lock', 'elect'] as const) {
    it(`${kind}: a silenced holder's CMD is stopped (exit 11) before the waiter runs`, async () => {
      proxy.forward();
      const dir = scratchDir(`fence-${kind}`);
      const hf = join(dir, 'holder');
      const wf = join(dir, 'waiter');
      const path = `/${kind}-fenced`;
      const id = (name: string): string[] => (kind === 'elect' ? ['--id', name] : []);
      const holder = spawnCli([kind, '-s', `${proxy.address}${cs.chroot}`, path, ...id('holder'), '--session-timeout', '4s', '--grace', '1s', '--', ...holderCmd(hf)]);
      let waiter: ReturnType<typeof spawnCli> | undefined;
      try {
        await waitFor(() => stamps(hf).has('start'), 'holder CMD to start');
        waiter = spawnCli([kind, '-s', cs.server, path, ...id('waiter'), '--', ...waiterCmd(wf)]);
        await waitFor(async () => (await children(cs.session, path)).length === 2, 'waiter to queue').catch(async (e: Error) => {
          throw new Error(`${e.message}; nodes: ${(await children(cs.session, path)).join(', ')}; waiter: ${waiter?.stderr()}; holder: ${holder.stderr()}`);
        });
        const silencedAt = Date.now();
        proxy.silence();
        const h = await holder.exited;
        const w = await waiter.exited;
        assert.equal(h.code, 11, `holder exit: ${holder.stderr()}`);
        assert.match(holder.stderr(), /lost/);
        assert.equal(w.code, 0, waiter.stderr());
        const end = stamps(hf).get('end');
        const next = stamps(wf).get('start');
        assert.ok(end !== undefined, `holder CMD got no SIGTERM: ${readFileSync(hf, 'utf8')}`);
        assert.ok(next !== undefined, 'waiter CMD did not run');
        assert.ok(end < next, `overlap: holder CMD ended at ${end}, waiter CMD started at ${next}`);
        // Informative: the margins seen (not asserted tightly: the machine is shared).
        process.stderr.write(`# ${kind}: CMD stopped ${end - silencedAt} ms after the partition, waiter ran ${next - silencedAt} ms after it (gap ${next - end} ms)\n`);
        assert.ok(end - silencedAt < 4000, `CMD stopped only ${end - silencedAt} ms after the partition (session timeout 4 s)`);
      } finally {
        holder.child.kill('SIGKILL');
        waiter?.child.kill('SIGKILL');
        proxy.forward();
      }
    });
  }

  it('zkctl killed with SIGKILL: its CMD is killed too (no orphan outliving the lock)', async () => {
    const dir = scratchDir('orphan');
    const pidFile = join(dir, 'pid');
    // A distinctive sleep so that the processes of this test can be found in `ps`.
    const marker = `sleep ${300 + (process.pid % 97)}`;
    const z = spawnCli(['lock', '-s', cs.server, '/orphan', '--session-timeout', '4s', '--', 'sh', '-c', `echo $$ > ${pidFile}; ${marker}`]);
    let pid = 0;
    try {
      await waitFor(() => existsSync(pidFile) && readFileSync(pidFile, 'utf8').trim().length > 0, 'CMD to start');
      pid = Number(readFileSync(pidFile, 'utf8').trim());
      assert.ok(isPidAlive(pid));
      const before = processes([marker, 'zkctl-reaper', 'zkctl.js']);
      z.child.kill('SIGKILL');
      await z.exited;
      try {
        // The CMD and what it started (its process group: the sleep) must all be gone.
        await waitFor(() => !isPidAlive(pid) && groupMembers(pid).length === 0, `CMD pid ${pid} and its process group to die`, 5000, 50);
      } catch (e) {
        // Say what was running, so that a failure on another machine can be understood.
        throw new Error(`${(e as Error).message}\nbefore the SIGKILL (zkctl pid ${z.child.pid}):\n${before}\nafter:\n${processes([marker, 'zkctl-reaper'])}`);
      }
    } finally {
      z.child.kill('SIGKILL');
      // Never leave the CMD behind (it would hold this test's pipes open).
      for (const target of pid > 0 ? [-pid, pid] : []) {
        try {
          process.kill(target, 'SIGKILL');
        } catch {
          /* gone */
        }
      }
    }
  });
});
