/**
 * Lock revocation, interoperating with the REAL Apache Curator 5.4 (Debian's
 * libcurator-recipes-java): InterProcessMutex.makeRevocable on one side, Revoker.attemptRevoke
 * on the other; `zkctl lock revoke` and `zkctl lock --revocable` on ours. The Curator side is
 * test/recipes/CuratorPeer.java (modes mutex-revocable and revoke), compiled once with javac.
 * Skipped only when the Curator jars or javac are missing (.ci/run installs them).
 */
import assert from 'node:assert/strict';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { REVOKE_MESSAGE } from '../../src/core/recipes/revoke.js';
import { chrootSession, type ChrootSession } from '../helpers/session.js';
import { runCli } from '../helpers/zk.js';
import { compileCuratorPeer, curatorCommand, curatorSkip, startPeer, type PeerProcess } from './peers.js';
import { children, scratchDir, sleep, spawnCli, until, type Running } from './util.js';

const skip = curatorSkip;

type Peer = PeerProcess;

interface Row {
  role: string;
  id: string;
  node: string;
  revokeRequested?: boolean;
}

interface Asked {
  node: string;
  holder: boolean;
  id: string;
}

const last = (p: string): string => p.split('/').pop()!;

/** `p`, or a failure after `ms` (a process that never exits must fail the test, not hang it). */
async function within<T>(p: Promise<T>, what: string, diag: () => string, ms = 30_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}\n${diag().slice(-1500)}`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** Per-test deadline (node:test cancels the test after it). */
const T = { timeout: 120_000 };

describe('lock revocation, with real Apache Curator 5.4 (makeRevocable, Revoker)', { skip }, () => {
  let cs: ChrootSession;
  let classDir: string;
  let dir: string;
  const running: Array<() => void> = [];

  before(async () => {
    cs = await chrootSession('revoke');
    classDir = await compileCuratorPeer();
    dir = scratchDir('revoke');
  });
  after(async () => {
    for (const kill of running) kill();
    await cs.close();
  });

  const curator = (mode: string, path: string): Peer => startPeer(...curatorCommand(classDir, [cs.server, mode, path]), running);

  function zk(args: string[]): Running {
    const r = spawnCli([args[0]!, '-s', cs.server, ...args.slice(1)]);
    running.push(() => r.child.kill('SIGKILL'));
    return r;
  }

  async function lockLs(path: string): Promise<Row[]> {
    await cs.session.sync(path);
    const r = await runCli(['lock', 'ls', '-s', cs.server, path, '-o', 'json']);
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout) as Row[];
  }

  /** A CMD that notes its start and a SIGTERM in `<dir>/<name>.log`, and otherwise runs for 10 minutes. */
  function cmdScript(name: string): { script: string; log: () => string } {
    const script = join(dir, `${name}.sh`);
    const log = join(dir, `${name}.log`);
    writeFileSync(script, `#!/bin/sh\ntrap 'echo term >> "${log}"; exit 0' TERM\necho started >> "${log}"\nwhile :; do sleep 0.1; done\n`);
    chmodSync(script, 0o755);
    return { script, log: () => (existsSync(log) ? readFileSync(log, 'utf8') : '') };
  }

  const settle = (): Promise<void> => sleep(1500);

  it('`zkctl lock revoke` makes a revocable Curator holder release; the queued zkctl waiter then gets the lock', T, async () => {
    const c = curator('mutex-revocable', '/a');
    await until(() => /^acquired /m.test(c.out()), 'Curator to acquire', () => c.err());
    const cNode = /^acquired (\S+)$/m.exec(c.out())![1]!;
    const w = zk(['lock', '/a', '--id', 'zk-waiter', '--', 'sh', '-c', 'echo "$ZKCTL_LOCK_NODE"']);
    await until(async () => (await children(cs.session, '/a')).length === 2, 'zkctl to queue behind Curator', () => w.stderr());
    await settle();
    assert.equal(w.stdout(), '', 'zkctl ran while Curator held the lock');
    assert.ok(!c.out().includes('revoke-requested'), 'nobody asked yet');

    const r = await runCli(['lock', 'revoke', '-s', cs.server, '/a', '-o', 'json']);
    assert.equal(r.code, 0, r.stderr);
    const asked = JSON.parse(r.stdout) as Asked[];
    assert.equal(asked.length, 1);
    assert.equal(last(asked[0]!.node), cNode, 'the holder was asked, not the waiter');
    assert.equal(asked[0]!.holder, true);
    assert.equal(asked[0]!.id, '', 'the data it carried: a revocable Curator mutex writes empty node data (LockInternals.attemptLock), not its IP');

    await until(() => c.out().includes('revoke-requested\nreleased'), 'Curator to hear the revocation and release', () => c.err());
    assert.equal(await within(c.finish(), 'Curator to exit', () => c.err()), 0, c.err());
    const wr = await within(w.exited, 'zkctl waiter to exit', () => w.stderr());
    assert.equal(wr.code, 0, w.stderr());
    assert.match(last(w.stdout().trim()), /-lock-\d{10}$/);
    assert.notEqual(last(w.stdout().trim()), cNode);
  });

  it("Curator's Revoker on a `zkctl lock --revocable` holder stops CMD, releases and exits 11", T, async () => {
    const { script, log } = cmdScript('b');
    const z = zk(['lock', '/b', '--revocable', '--grace', '5s', '--', script]);
    await until(() => log().includes('started'), 'zkctl to acquire and start CMD', () => z.stderr());
    const [node] = await children(cs.session, '/b');
    assert.ok(node, 'the holder node');
    const rv = curator('revoke', `/b/${node}`);
    assert.equal(await within(rv.exited, 'Curator Revoker to exit', () => rv.err()), 0, rv.err());
    assert.match(rv.out(), /^revoke-sent$/m);
    const zr = await within(z.exited, 'zkctl holder to exit', () => z.stderr());
    assert.equal(zr.code, 11, z.stderr());
    assert.match(z.stderr().trim().split('\n').at(-1)!, /^zkctl: lock \/b revoked: .* was stopped with SIGTERM$/, 'one line saying it was revoked');
    assert.equal(log(), 'started\nterm\n', 'CMD got SIGTERM');
    assert.deepEqual(await children(cs.session, '/b'), [], 'the lock node is gone');
  });

  it('`zkctl lock --revocable` without CMD releases and exits 11 on `zkctl lock revoke`; a request made while waiting counts on acquiring', T, async () => {
    const z = zk(['lock', '/d', '--revocable', '--id', 'zk-d']);
    await until(() => z.stdout().includes('/d/'), 'zkctl to acquire', () => z.stderr());
    // A revocable waiter asked by name while it waits: it releases as soon as it acquires.
    const w = zk(['lock', '/d', '--revocable', '--id', 'zk-w']);
    await until(async () => (await children(cs.session, '/d')).length === 2, 'the waiter to queue', () => w.stderr());
    const rows = await lockLs('/d');
    const rw = await runCli(['lock', 'revoke', '-s', cs.server, '/d', '--node', rows[1]!.node, '-o', 'json']);
    assert.equal(rw.code, 0, rw.stderr);
    assert.deepEqual((JSON.parse(rw.stdout) as Asked[]).map((a) => [last(a.node), a.holder, a.id]), [[rows[1]!.node, false, 'zk-w']]);
    await settle();
    assert.equal(w.stdout(), '', 'the waiter does not hold yet');

    const r = await runCli(['lock', 'revoke', '-s', cs.server, '/d']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /zk-d/);
    const zr = await within(z.exited, 'zkctl holder to exit', () => z.stderr());
    assert.equal(zr.code, 11, z.stderr());
    assert.match(z.stderr(), /lock \/d revoked: .*released/);
    const wr = await within(w.exited, 'zkctl waiter to exit', () => w.stderr());
    assert.equal(wr.code, 11, w.stderr());
    assert.match(w.stdout(), /\/d\//, 'the waiter acquired before releasing');
    assert.deepEqual(await children(cs.session, '/d'), []);
  });

  it('a zkctl holder without --revocable ignores revocation (zkctl and Curator Revoker) and keeps running; lock ls still works', T, async () => {
    const { script, log } = cmdScript('c');
    const z = zk(['lock', '/c', '--id', 'keeper', '--', script]);
    await until(() => log().includes('started'), 'zkctl to acquire and start CMD', () => z.stderr());
    const r = await runCli(['lock', 'revoke', '-s', cs.server, '/c', '-o', 'json']);
    assert.equal(r.code, 0, r.stderr);
    const asked = JSON.parse(r.stdout) as Asked[];
    assert.deepEqual(asked.map((a) => [a.holder, a.id]), [[true, 'keeper']]);
    const rv = curator('revoke', asked[0]!.node);
    assert.equal(await within(rv.exited, 'Curator Revoker to exit', () => rv.err()), 0, rv.err());
    await settle();
    assert.equal(z.child.exitCode, null, `zkctl is still running: ${z.stderr()}`);
    assert.equal(log(), 'started\n', 'CMD was not signalled');
    const node = last(asked[0]!.node);
    assert.deepEqual(await children(cs.session, '/c'), [node]);
    assert.deepEqual((await cs.session.get(`/c/${node}`)).data, REVOKE_MESSAGE, 'Curator-compatible bytes');
    const rows = await lockLs('/c');
    assert.deepEqual(rows.map((x) => [x.role, x.node, x.id, x.revokeRequested]), [['holder', node, '__REVOKE__', true]]);
    // Asked again: it says so.
    const again = await runCli(['lock', 'revoke', '-s', cs.server, '/c', '-o', 'json']);
    assert.equal(again.code, 0, again.stderr);
    assert.equal((JSON.parse(again.stdout) as Array<{ alreadyRequested: boolean }>)[0]!.alreadyRequested, true);

    z.child.kill('SIGTERM');
    const zr = await within(z.exited, 'zkctl holder to exit', () => z.stderr());
    assert.equal(zr.code, 0, `CMD's own status after the forwarded SIGTERM: ${z.stderr()}`);
    assert.equal(log(), 'started\nterm\n');
    assert.deepEqual(await children(cs.session, '/c'), []);
  });

  it('`lock revoke` on a free lock, a missing path or an unknown --node exits 3 and writes nothing', T, async () => {
    const missing = await runCli(['lock', 'revoke', '-s', cs.server, '/nothing-here']);
    assert.equal(missing.code, 3, missing.stderr);
    assert.match(missing.stderr, /has no holder/);
    assert.equal(missing.stderr.trim().split('\n').length, 1);
    await cs.session.create('/free');
    const free = await runCli(['lock', 'revoke', '-s', cs.server, '/free']);
    assert.equal(free.code, 3, free.stderr);
    const z = zk(['lock', '/e', '--id', 'e1']);
    await until(() => z.stdout().includes('/e/'), 'zkctl to acquire', () => z.stderr());
    const bad = await runCli(['lock', 'revoke', '-s', cs.server, '/e', '--node', '_c_00000000-0000-4000-8000-000000000000-lock-0000000099']);
    assert.equal(bad.code, 3, bad.stderr);
    assert.deepEqual((await lockLs('/e')).map((x) => x.id), ['e1'], 'the holder was not asked');
    z.child.kill('SIGTERM');
    assert.equal((await within(z.exited, 'zkctl holder to exit', () => z.stderr())).code, 130);
  });
});
