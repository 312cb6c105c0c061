/**
 * `lock -- CMD`, `elect -- CMD` and `create -e --hold` when the session REALLY expires on the
 * server while they hold (the partition path, where fencing stops CMD before the server can
 * expire the session, is test/recipes/fencing.test.ts).
 *
 * Here the holder's session is closed on the server (test/helpers/expire.ts) while the holder
 * is briefly cut off (proxy silenced), so what it learns, when the proxy forwards again, comes
 * from the server: SESSION_EXPIRED on reconnect. Its node is gone at once and the waiter goes
 * ahead at once: a session closed from outside cannot be fenced (no client learns of it before
 * the server acts). What must hold: the holder stops CMD with SIGKILL as soon as it is told,
 * CMD and its process group are gone, zkctl exits 11 (create --hold: 9) with one line saying
 * the session expired, and nothing hangs.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { isPidAlive } from '../../src/ensemble/proc.js';
import { killSession } from '../helpers/expire.js';
import { TcpProxy } from '../helpers/proxy.js';
import { chrootSession, type ChrootSession } from '../helpers/session.js';
import { testServer } from '../helpers/zk.js';
import { children, groupMembers, scratchDir, spawnCli, waitFor } from './util.js';

/** "<tag> <epoch ms> [pid]" lines written by the CMDs. */
function stamps(file: string): Map<string, { ms: number; pid: number }> {
  const m = new Map<string, { ms: number; pid: number }>();
  if (!existsSync(file)) return m;
  for (const line of readFileSync(file, 'utf8').trim().split('\n')) {
    const [tag, ms, pid] = line.split(' ');
    if (tag && ms) m.set(tag, { ms: Number(ms), pid: Number(pid) });
  }
  return m;
}

const holderCmd = (file: string): string[] => [
  'sh',
  '-c',
  `echo "start $(date +%s%3N) $$" >> ${file}; trap 'echo "end $(date +%s%3N) $$" >> ${file}; exit 143' TERM; while :; do sleep 0.05; done`,
];
const waiterCmd = (file: string): string[] => ['sh', '-c', `echo "start $(date +%s%3N) $$" >> ${file}`];

describe('holders whose session expires on the server', () => {
  let cs: ChrootSession;
  let proxy: TcpProxy;
  const members = testServer().split(',');
  before(async () => {
    cs = await chrootSession('hold-expiry');
    proxy = await TcpProxy.start(members[0]!);
  });
  after(async () => {
    await proxy?.close();
    await cs?.close();
  });

  /** Close session `owner` on the server while the proxied client cannot reconnect; then let it. */
  async function expireOnServer(owner: bigint, node: string): Promise<{ killedAt: number; forwardedAt: number }> {
    proxy.silence();
    const killedAt = Date.now();
    await killSession(members[1]!, owner);
    await waitFor(async () => (await cs.session.exists(node)) === null, `${node} removed with the session`, 10_000, 20);
    proxy.forward();
    return { killedAt, forwardedAt: Date.now() };
  }

  for (const kind of ['lock', 'elect'] as const) {
    it(`${kind} -- CMD: told SESSION_EXPIRED by the server, CMD is killed at once and zkctl exits 11`, async (t) => {
      proxy.forward();
      const dir = scratchDir(`expire-${kind}`);
      const hf = join(dir, 'holder');
      const wf = join(dir, 'waiter');
      const path = `/${kind}-expiry`;
      const id = (name: string): string[] => (kind === 'elect' ? ['--id', name] : []);
      // T = 10 s: fencing by silence (SIGTERM at T/2) stays out of the way of the expiry.
      const holder = spawnCli([kind, '-s', `${proxy.address}${cs.chroot}`, path, ...id('holder'), '--session-timeout', '10s', '--grace', '1s', '--', ...holderCmd(hf)]);
      let waiter: ReturnType<typeof spawnCli> | undefined;
      let cmdPid = 0;
      try {
        await waitFor(() => stamps(hf).has('start'), 'holder CMD to start');
        cmdPid = stamps(hf).get('start')!.pid;
        waiter = spawnCli([kind, '-s', cs.server, path, ...id('waiter'), '--', ...waiterCmd(wf)]);
        await waitFor(async () => (await children(cs.session, path)).length === 2, 'waiter to queue');
        const names = (await children(cs.session, path)).sort((a, b) => Number(a.slice(-10)) - Number(b.slice(-10)));
        const holderNode = `${path}/${names[0]}`;
        const owner = (await cs.session.exists(holderNode))!.ephemeralOwner;

        const { killedAt, forwardedAt } = await expireOnServer(owner, holderNode);
        const h = await holder.exited;
        assert.equal(h.code, 11, `holder exit ${h.code}: ${holder.stderr()}`);
        const err = holder.stderr();
        assert.match(err, /session expired/, err);
        assert.match(err, /SIGKILL/, err);
        assert.doesNotMatch(err, /no contact/, 'stopped because the server said so, not by the silence clock');
        assert.equal(stamps(hf).has('end'), false, 'CMD got SIGKILL, not SIGTERM');
        await waitFor(() => !isPidAlive(cmdPid) && groupMembers(cmdPid).length === 0, `CMD pid ${cmdPid} and its group to be gone`, 5000, 50);
        assert.equal(err.trim().split('\n').filter((l) => l.startsWith('zkctl:')).length <= 2, true, err);
        assert.doesNotMatch(err, /^\s+at /m, 'no stack trace');

        const w = await waiter.exited;
        assert.equal(w.code, 0, waiter.stderr());
        const next = stamps(wf).get('start');
        assert.ok(next, 'the waiter ran');
        assert.ok(next.ms >= killedAt, 'the waiter ran only after the session was closed');
        t.diagnostic(
          `${kind}: holder exited ${h.at - forwardedAt} ms after it could reconnect; the waiter ran ${next.ms - killedAt} ms after the session was closed ` +
            `(${next.ms < h.at ? 'before' : 'after'} the holder exited: a session closed from outside cannot be fenced)`,
        );
        t.diagnostic(`${kind} holder stderr: ${err.trim()}`);
      } finally {
        holder.child.kill('SIGKILL');
        waiter?.child.kill('SIGKILL');
        proxy.forward();
        for (const target of cmdPid > 0 ? [-cmdPid, cmdPid] : []) {
          try {
            process.kill(target, 'SIGKILL');
          } catch {
            /* gone */
          }
        }
      }
    });
  }

  it('create -e --hold cut off for a whole session timeout: "presumed lost", not "expired" (the server never said so)', async () => {
    proxy.forward();
    const c = spawnCli(['create', '-e', '-s', `${proxy.address}${cs.chroot}`, '/held-silent', 'x', '--hold']);
    try {
      await waitFor(async () => c.stdout().trim() !== '', 'zkctl to print the created path');
      proxy.silence();
      const r = await c.exited;
      assert.equal(r.code, 9, c.stderr());
      assert.match(c.stderr(), /session presumed lost \(no reply from the ensemble for \d+\.\ds; the servers may still hold it until they expire the session\)/, c.stderr());
      assert.doesNotMatch(c.stderr(), /ephemeral node is gone/);
    } finally {
      c.child.kill('SIGKILL');
      proxy.forward();
    }
  });

  it('create -e --hold: the node goes with the session; zkctl says so and exits 9', async (t) => {
    proxy.forward();
    const c = spawnCli(['create', '-e', '-s', `${proxy.address}${cs.chroot}`, '/held', 'x', '--hold']);
    try {
      await waitFor(async () => (await cs.session.exists('/held')) !== null, '/held created');
      // The node can be seen before zkctl has read the create's reply and printed it (seen once).
      await waitFor(async () => c.stdout().trim() !== '', 'zkctl to print the created path');
      assert.equal(c.stdout().trim(), '/held');
      const owner = (await cs.session.exists('/held'))!.ephemeralOwner;
      const { forwardedAt } = await expireOnServer(owner, '/held');
      const r = await c.exited;
      assert.equal(r.code, 9, c.stderr());
      const lines = c.stderr().trim().split('\n');
      assert.equal(lines.length, 1, c.stderr());
      assert.match(lines[0]!, /^zkctl: .*session expired/, c.stderr());
      assert.ok(r.at - forwardedAt < 15_000, `exited ${r.at - forwardedAt} ms after it could reconnect`);
      t.diagnostic(`create --hold: exit 9 ${r.at - forwardedAt} ms after it could reconnect; stderr: ${lines[0]}`);
    } finally {
      c.child.kill('SIGKILL');
      proxy.forward();
    }
  });
});
