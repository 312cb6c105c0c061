/**
 * Read-write locks: `zkctl lock --read / --write` among themselves, and against the REAL
 * Apache Curator 5.4 InterProcessReadWriteLock (test/recipes/CuratorPeer.java, modes read-* / write-*)
 * and kazoo 2.8 ReadLock / WriteLock (test/recipes/kazoo_peer.py, modes rlock-* / wlock-*).
 * Every "must not have acquired" check first waits until the waiter's node is in the queue, so the
 * waiter had its chance to get it wrong.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { blockerOf, newNodePrefix, parseContenderName, RW_NODE_NAME_PATTERNS, sortContenders } from '../../src/core/recipes/contenders.js';
import { fourLetterWord } from '../../src/core/fourlw.js';
import { chrootSession, type ChrootSession } from '../helpers/session.js';
import { repoRoot, runCli, testServer } from '../helpers/zk.js';
import { compileCuratorPeer, curatorCommand, curatorSkip, startPeer, type PeerProcess } from './peers.js';
import { children, scratchDir, sleep, spawnCli, waitFor, type Running } from './util.js';

const PYTHON = '/usr/bin/python3';
const KAZOO_PEER = join(repoRoot, 'test', 'recipes', 'kazoo_peer.py');
const haveKazoo = existsSync(PYTHON) && spawnSync(PYTHON, ['-c', 'import kazoo']).status === 0;

const C = RW_NODE_NAME_PATTERNS.curator;
const K = RW_NODE_NAME_PATTERNS.kazoo;
const last = (p: string): string => p.split('/').pop()!;

/** A Curator or kazoo peer: prints "acquired <node>", "busy" or "timeout"; stdin EOF releases. */
interface Peer extends PeerProcess {
  /** The node after "acquired ", once it printed that. */
  acquired(): string | undefined;
  /** Send a query line (Curator peer) and return the answer after `<query> `. */
  ask(query: string): Promise<string>;
}

function peer(cmd: string, args: string[], running: Array<() => void>): Peer {
  const p = startPeer(cmd, args, running);
  return {
    ...p,
    acquired: () => /^acquired (\S+)$/m.exec(p.out())?.[1],
    ask: async (query) => {
      const mark = p.out().length;
      p.proc.stdin!.write(`${query}\n`);
      let line: string | undefined;
      await waitFor(() => (line = p.out().slice(mark).split('\n').find((l) => l.startsWith(`${query} `))) !== undefined, `peer to answer ${query}: ${p.err()}`, 15_000);
      return line!.slice(query.length + 1);
    },
  };
}

/** Shared by the three suites: a chroot, zkctl processes, queue checks. */
function fixture(name: string) {
  const f = {
    cs: undefined as unknown as ChrootSession,
    running: [] as Array<() => void>,
    zk(args: string[]): Running {
      const r = spawnCli([args[0]!, '-s', f.cs.server, ...args.slice(1)]);
      f.running.push(() => r.child.kill('SIGKILL'));
      return r;
    },
    /** The children of `path` as committed now (the other clients may use other servers). */
    kids: (path: string): Promise<string[]> => children(f.cs.session, path),
    /** Wait until `path` has `n` children (a waiter has queued). */
    async queued(path: string, n: number, diag: () => string): Promise<void> {
      await waitFor(async () => (await f.kids(path)).length === n, `${n} nodes under ${path} (${diag().slice(-800)})`);
    },
    /** `lock ls -o json` rows as [role, mode, format]. */
    async ls(path: string): Promise<Array<[string, string, string, string]>> {
      const r = await runCli(['lock', 'ls', '-s', f.cs.server, path, '-o', 'json']);
      assert.equal(r.code, 0, r.stderr);
      return (JSON.parse(r.stdout) as Array<{ role: string; mode: string; format: string; node: string }>).map((x) => [x.role, x.mode, x.format, x.node]);
    },
    /** zkctl holding (no CMD) prints its node on stdout. */
    holds: (r: Running, path: string): boolean => r.stdout().includes(`${path}/`),
    async release(r: Running): Promise<void> {
      r.child.kill('SIGINT');
      assert.equal((await r.exited).code, 130, r.stderr());
    },
  };
  before(async () => {
    f.cs = await chrootSession(name);
  });
  after(async () => {
    for (const k of f.running) k();
    await f.cs.close();
  });
  return f;
}

/** Give a process that must NOT act the time to do it wrongly. */
const settle = (): Promise<void> => sleep(500);

/**
 * Data watches by path over the whole ensemble (`wchp` on every server: each server knows the
 * watches of the sessions connected to it): full path -> session ids (0x...).
 */
async function watchesByPath(): Promise<Map<string, Set<string>>> {
  const out = new Map<string, Set<string>>();
  const servers = testServer().replace(/\/.*$/, '').split(',');
  for (const s of servers) {
    const i = s.lastIndexOf(':');
    const text = await fourLetterWord(s.slice(0, i), Number(s.slice(i + 1)), 'wchp');
    let path: string | undefined;
    for (const line of text.split('\n')) {
      if (line.startsWith('/')) path = line.trim();
      else if (path && /^\s+0x[0-9a-f]+/i.test(line)) {
        const set = out.get(path) ?? new Set<string>();
        set.add(`0x${BigInt(line.trim()).toString(16)}`);
        out.set(path, set);
      }
    }
  }
  return out;
}

describe('read-write contender rules', () => {
  it('names: Curator __READ__/__WRIT__, kazoo __rlock__/__lock__, with their modes', () => {
    for (const [format, mode, re] of [
      ['curator', 'read', C.read],
      ['curator', 'write', C.write],
      ['kazoo', 'read', K.read],
      ['kazoo', 'write', K.write],
    ] as const) {
      const name = `${newNodePrefix(format, mode)}0000000042`;
      assert.match(name, re);
      const p = parseContenderName(name)!;
      assert.deepEqual([p.format, p.mode, p.seq], [format, mode, 42], name);
    }
    assert.equal(parseContenderName('_c_838af487-dbaf-4c22-a962-acad77e88a49-lock-0000000003')!.mode, 'write', 'a mutex node is exclusive');
    assert.equal(newNodePrefix('kazoo', 'write').endsWith('__lock__'), true, "kazoo's WriteLock uses Lock's name");
    assert.throws(() => newNodePrefix('curator-latch', 'read'));
  });

  it('a reader is blocked by the closest exclusive node ahead, a writer by the node just ahead', () => {
    const names = [
      '_c_838af487-dbaf-4c22-a962-acad77e88a49-__READ__0000000001',
      '6846f5d6ed3a4056ab9fbf181b599509__rlock__0000000002',
      '_c_838af487-dbaf-4c22-a962-acad77e88a49-__WRIT__0000000003',
      '_c_938af487-dbaf-4c22-a962-acad77e88a49-__READ__0000000004',
      '6846f5d6ed3a4056ab9fbf181b599509__lock__0000000005',
      '_c_a38af487-dbaf-4c22-a962-acad77e88a49-__READ__0000000006',
      '_c_b38af487-dbaf-4c22-a962-acad77e88a49-lock-0000000007',
      '_c_c38af487-dbaf-4c22-a962-acad77e88a49-__READ__0000000008',
    ];
    const sorted = sortContenders([...names].reverse());
    assert.deepEqual(
      sorted.map((_, i) => blockerOf(sorted, i)),
      [undefined, undefined, 1, 2, 3, 4, 5, 6],
    );
    const readers = sortContenders(names.filter((n) => n.includes('READ') || n.includes('rlock')));
    assert.deepEqual(readers.map((_, i) => blockerOf(readers, i)), [undefined, undefined, undefined, undefined, undefined], 'readers alone all hold');
  });
});

describe('zkctl lock --read / --write', () => {
  const f = fixture('rwlock');

  it('readers share; a writer queued behind readers gets the lock only after all of them release; a reader behind a writer waits', async () => {
    const r1 = f.zk(['lock', '/q', '--read', '--id', 'r1']);
    await waitFor(() => f.holds(r1, '/q'), `r1 to acquire (${r1.stderr()})`);
    const r2 = f.zk(['lock', '/q', '--read', '--id', 'r2']);
    await waitFor(() => f.holds(r2, '/q'), `r2 to acquire alongside r1 (${r2.stderr()})`);
    assert.match(last(r1.stdout().trim()), C.read);
    const t = await runCli(['lock', '-s', f.cs.server, '/q', '--write', '--try', '--', 'true']);
    assert.equal(t.code, 10, t.stderr);
    const tr = await runCli(['lock', '-s', f.cs.server, '/q', '--read', '--try', '-o', 'json', '--', 'true']);
    assert.equal(tr.code, 0, `a reader with only readers ahead gets the lock at once: ${tr.stderr}`);
    assert.equal((await f.kids('/q')).length, 2, '--try left nothing behind');

    const w = f.zk(['lock', '/q', '--write', '--id', 'w']);
    await f.queued('/q', 3, () => w.stderr());
    const r3 = f.zk(['lock', '/q', '--read', '--id', 'r3']);
    await f.queued('/q', 4, () => r3.stderr());
    const rows = await f.ls('/q');
    assert.deepEqual(
      rows.map((r) => r.slice(0, 3)),
      [
        ['holder', 'read', 'curator'],
        ['holder', 'read', 'curator'],
        ['waiter', 'write', 'curator'],
        ['waiter', 'read', 'curator'],
      ],
    );
    assert.match(rows[2]![3], C.write);
    await settle();
    assert.ok(!f.holds(w, '/q'), 'the writer acquired while readers held the lock');
    assert.ok(!f.holds(r3, '/q'), 'a reader queued behind a writer acquired');

    await f.release(r1);
    await settle();
    assert.ok(!f.holds(w, '/q'), 'the writer acquired while r2 still held the lock');
    await f.release(r2);
    await waitFor(() => f.holds(w, '/q'), `the writer to acquire after both readers (${w.stderr()})`);
    await settle();
    assert.ok(!f.holds(r3, '/q'), 'r3 acquired while the writer held the lock');
    await f.release(w);
    await waitFor(() => f.holds(r3, '/q'), `r3 to acquire after the writer (${r3.stderr()})`);
    await f.release(r3);
    assert.deepEqual(await f.kids('/q'), []);
  });

  it('each waiter watches only the node that blocks it (no herd)', async () => {
    // Queue: r1 r2 (hold) w1 (waits for r2) r3 r4 (wait for w1) w2 (waits for r4).
    const names = ['r1', 'r2', 'w1', 'r3', 'r4', 'w2'];
    const procs = [];
    for (const [i, n] of names.entries()) {
      const p = f.zk(['lock', '/h', n.startsWith('r') ? '--read' : '--write', '--id', n]);
      procs.push(p);
      await f.queued('/h', i + 1, () => p.stderr());
    }
    const rows = (await runCli(['lock', 'ls', '-s', f.cs.server, '/h', '-o', 'json'])).stdout;
    const list = JSON.parse(rows) as Array<{ id: string; node: string; session: string; role: string }>;
    assert.deepEqual(list.map((r) => `${r.id}:${r.role}`), ['r1:holder', 'r2:holder', 'w1:waiter', 'r3:waiter', 'r4:waiter', 'w2:waiter']);
    const session = new Map(list.map((r) => [r.session, r.id]));
    // Who watches each node, apart from its owner (a holder watches its own node to notice losing it).
    const expected = { r1: [], r2: ['w1'], w1: ['r3', 'r4'], r3: [], r4: ['w2'], w2: [] };
    let seen: Record<string, string[]> = {};
    try {
      await waitFor(async () => {
        const w = await watchesByPath();
        seen = Object.fromEntries(
          list.map((r) => [r.id, [...(w.get(`${f.cs.chroot}/h/${r.node}`) ?? [])].map((s) => session.get(s) ?? s).filter((id) => id !== r.id).sort()]),
        );
        return JSON.stringify(seen) === JSON.stringify(expected);
      }, 'the expected watches', 15_000);
    } finally {
      assert.deepEqual(seen, expected);
      for (const p of procs) p.child.kill('SIGINT');
      for (const p of procs) await p.exited;
    }
  });

  it('--json result and ZKCTL_LOCK_MODE; --timeout exits 10; a reader loses its lock (node deleted) -> CMD killed, exit 11', async () => {
    const dir = scratchDir('rw');
    const out = join(dir, 'env');
    const j = await runCli(['lock', '-s', f.cs.server, '/j', '--read', '--json', '--', 'sh', '-c', `echo "$ZKCTL_LOCK_MODE $ZKCTL_FENCING_TOKEN" > ${out}`]);
    assert.equal(j.code, 0, j.stderr);
    const res = JSON.parse(j.stdout) as { mode: string; node: string; fencingToken: string | number; status: number };
    assert.equal(res.mode, 'read');
    assert.equal(res.status, 0);
    assert.match(last(res.node), C.read);
    assert.equal(readFileSync(out, 'utf8').trim(), `read ${res.fencingToken}`);

    const w = f.zk(['lock', '/j', '--write', '--format', 'kazoo']);
    await waitFor(() => f.holds(w, '/j'), `writer to acquire (${w.stderr()})`);
    assert.match(last(w.stdout().trim()), K.write);
    const t = await runCli(['lock', '-s', f.cs.server, '/j', '--read', '--timeout', '1s', '--', 'true']);
    assert.equal(t.code, 10, t.stderr);
    assert.equal((await f.kids('/j')).length, 1, '--timeout left nothing behind');
    await f.release(w);

    const r = f.zk(['lock', '/j', '--read', '--format', 'kazoo', '--', 'sh', '-c', 'echo "$ZKCTL_LOCK_NODE"; exec sleep 60']);
    await waitFor(() => f.holds(r, '/j'), `reader to run CMD (${r.stderr()})`);
    const node = r.stdout().trim();
    assert.match(last(node), K.read);
    await f.cs.session.delete(node);
    const e = await r.exited;
    assert.equal(e.code, 11, r.stderr());
    assert.match(r.stderr(), /lost/);
  });
});

describe('read-write locks with real Apache Curator 5.4 (InterProcessReadWriteLock)', { skip: curatorSkip }, () => {
  const f = fixture('rw-curator');
  let classDir: string;
  before(async () => {
    classDir = await compileCuratorPeer();
  });
  const curator = (mode: string, path: string, ...rest: string[]): Peer => peer(...curatorCommand(classDir, [f.cs.server, mode, path, ...rest]), f.running);
  const once = async (mode: string, path: string, ...rest: string[]): Promise<string> => {
    const p = curator(mode, path, ...rest);
    assert.equal(await p.finish(), 0, p.err());
    return p.out().trim().split('\n')[0]!.split(' ')[0]!;
  };

  it('a Curator read lock and zkctl --read hold together; both see the same readers; writers on either side are kept out', async () => {
    const c = curator('read-hold', '/cr');
    await waitFor(() => c.acquired() !== undefined, `Curator to take the read lock (${c.err()})`);
    assert.match(c.acquired()!, C.read, "Curator's read node matches zkctl's pattern");
    const z = f.zk(['lock', '/cr', '--read', '--id', 'zk-reader']);
    await waitFor(() => f.holds(z, '/cr'), `zkctl --read to acquire while Curator reads (${z.stderr()})`);
    const zNode = last(z.stdout().trim());
    assert.match(zNode, C.read);
    assert.equal(await c.ask('has'), 'true');
    assert.deepEqual(JSON.parse(await c.ask('participants')), [c.acquired(), zNode], "Curator's readers, in Curator's order");
    assert.deepEqual(await f.ls('/cr'), [
      ['holder', 'read', 'curator', c.acquired()],
      ['holder', 'read', 'curator', zNode],
    ]);
    // a Curator reader gets in too; writers on either side do not, and leave nothing behind
    assert.equal(await once('read-try', '/cr'), 'acquired');
    assert.equal(await once('write-try', '/cr'), 'busy');
    const t = await runCli(['lock', '-s', f.cs.server, '/cr', '--write', '--try', '--', 'true']);
    assert.equal(t.code, 10, t.stderr);
    assert.equal((await f.kids('/cr')).length, 2);

    // A Curator writer queued behind both readers gets the lock only once both are gone.
    const cw = curator('write-wait', '/cr', '60000');
    await f.queued('/cr', 3, () => cw.err());
    await settle();
    assert.equal(cw.acquired(), undefined, 'the Curator writer acquired while readers held the lock');
    assert.equal(await c.finish(), 0, c.err());
    await settle();
    assert.equal(cw.acquired(), undefined, 'the Curator writer acquired while zkctl still read');
    await f.release(z);
    await waitFor(() => cw.acquired() !== undefined, `the Curator writer to acquire after the readers (${cw.err()})`);
    assert.match(cw.acquired()!, C.write);
    assert.deepEqual(await f.ls('/cr'), [['holder', 'write', 'curator', cw.acquired()]]);
    assert.equal(await cw.finish(), 0, cw.err());
  });

  it('a Curator write lock blocks zkctl --read and --write; zkctl readers then the writer get it in queue order', async () => {
    const cw = curator('write-hold', '/cw');
    await waitFor(() => cw.acquired() !== undefined, `Curator to take the write lock (${cw.err()})`);
    for (const m of ['--read', '--write']) {
      const t = await runCli(['lock', '-s', f.cs.server, '/cw', m, '--try', '--', 'true']);
      assert.equal(t.code, 10, `${m}: ${t.stderr}`);
    }
    const zr = f.zk(['lock', '/cw', '--read']);
    await f.queued('/cw', 2, () => zr.stderr());
    const zw = f.zk(['lock', '/cw', '--write']);
    await f.queued('/cw', 3, () => zw.stderr());
    await settle();
    assert.ok(!f.holds(zr, '/cw') && !f.holds(zw, '/cw'), 'zkctl acquired while Curator held the write lock');
    assert.deepEqual(
      (await f.ls('/cw')).map((r) => r.slice(0, 2)),
      [
        ['holder', 'write'],
        ['waiter', 'read'],
        ['waiter', 'write'],
      ],
    );
    assert.equal(await cw.finish(), 0, cw.err());
    await waitFor(() => f.holds(zr, '/cw'), `zkctl --read to acquire after Curator's writer (${zr.stderr()})`);
    await settle();
    assert.ok(!f.holds(zw, '/cw'), 'zkctl --write acquired while a reader held the lock');
    await f.release(zr);
    await waitFor(() => f.holds(zw, '/cw'), `zkctl --write to acquire (${zw.stderr()})`);
    await f.release(zw);
  });

  it('zkctl --write blocks Curator readers and writers; a waiting Curator reader gets it when zkctl releases', async () => {
    const zw = f.zk(['lock', '/zw', '--write']);
    await waitFor(() => f.holds(zw, '/zw'), `zkctl --write to acquire (${zw.stderr()})`);
    assert.match(last(zw.stdout().trim()), C.write);
    assert.equal(await once('read-try', '/zw'), 'busy');
    assert.equal(await once('write-try', '/zw'), 'busy');
    assert.equal(await once('read-wait', '/zw', '1000'), 'timeout');
    assert.equal((await f.kids('/zw')).length, 1, "Curator's failed attempts left nothing behind");
    const cr = curator('read-wait', '/zw', '60000');
    await f.queued('/zw', 2, () => cr.err());
    await settle();
    assert.equal(cr.acquired(), undefined, 'Curator read while zkctl held the write lock');
    await f.release(zw);
    await waitFor(() => cr.acquired() !== undefined, `the Curator reader to acquire (${cr.err()})`);
    assert.equal(await cr.finish(), 0, cr.err());
    assert.deepEqual(await f.kids('/zw'), []);
  });
});

describe('read-write locks with real kazoo 2.8 (ReadLock / WriteLock)', { skip: haveKazoo ? false : 'kazoo not installed for /usr/bin/python3' }, () => {
  const f = fixture('rw-kazoo');
  const kazoo = (mode: string, path: string, ...rest: string[]): Peer => peer(PYTHON, [KAZOO_PEER, f.cs.server, mode, path, 'py', ...rest], f.running);
  const once = async (mode: string, path: string, ...rest: string[]): Promise<string> => {
    const p = kazoo(mode, path, ...rest);
    assert.equal(await p.finish(), 0, p.err());
    return p.out().trim().split(' ')[0]!;
  };

  it('a kazoo ReadLock and zkctl --read --format kazoo hold together; kazoo WriteLock and zkctl --write are kept out', async () => {
    const k = kazoo('rlock-hold', '/kr');
    await waitFor(() => k.acquired() !== undefined, `kazoo to take the read lock (${k.err()})`);
    assert.match(k.acquired()!, K.read);
    const z = f.zk(['lock', '/kr', '--read', '--format', 'kazoo']);
    await waitFor(() => f.holds(z, '/kr'), `zkctl --read to acquire while kazoo reads (${z.stderr()})`);
    assert.match(last(z.stdout().trim()), K.read);
    assert.deepEqual(
      (await f.ls('/kr')).map((r) => r.slice(0, 3)),
      [
        ['holder', 'read', 'kazoo'],
        ['holder', 'read', 'kazoo'],
      ],
    );
    assert.equal(await once('rlock-try', '/kr'), 'acquired');
    assert.equal(await once('wlock-try', '/kr'), 'busy');
    const t = await runCli(['lock', '-s', f.cs.server, '/kr', '--write', '--format', 'kazoo', '--try', '--', 'true']);
    assert.equal(t.code, 10, t.stderr);

    // A kazoo writer queued behind both readers gets the lock only once both are gone.
    const kw = kazoo('wlock-wait', '/kr', '60');
    await f.queued('/kr', 3, () => kw.err());
    await settle();
    assert.equal(kw.acquired(), undefined, 'the kazoo writer acquired while readers held the lock');
    assert.equal(await k.finish(), 0, k.err());
    await settle();
    assert.equal(kw.acquired(), undefined, 'the kazoo writer acquired while zkctl still read');
    await f.release(z);
    await waitFor(() => kw.acquired() !== undefined, `the kazoo writer to acquire (${kw.err()})`);
    assert.match(kw.acquired()!, K.write);
    assert.equal(await kw.finish(), 0, kw.err());
  });

  it('a kazoo WriteLock blocks zkctl --read and --write (kazoo format); they get it in order when it releases', async () => {
    const kw = kazoo('wlock-hold', '/kw');
    await waitFor(() => kw.acquired() !== undefined, `kazoo to take the write lock (${kw.err()})`);
    for (const m of ['--read', '--write']) {
      const t = await runCli(['lock', '-s', f.cs.server, '/kw', m, '--format', 'kazoo', '--try', '--', 'true']);
      assert.equal(t.code, 10, `${m}: ${t.stderr}`);
    }
    const zr = f.zk(['lock', '/kw', '--read', '--format', 'kazoo']);
    await f.queued('/kw', 2, () => zr.stderr());
    const zw = f.zk(['lock', '/kw', '--write', '--format', 'kazoo']);
    await f.queued('/kw', 3, () => zw.stderr());
    await settle();
    assert.ok(!f.holds(zr, '/kw') && !f.holds(zw, '/kw'), 'zkctl acquired while kazoo held the write lock');
    assert.equal(await kw.finish(), 0, kw.err());
    await waitFor(() => f.holds(zr, '/kw'), `zkctl --read to acquire (${zr.stderr()})`);
    await settle();
    assert.ok(!f.holds(zw, '/kw'), 'zkctl --write acquired while a reader held the lock');
    await f.release(zr);
    await waitFor(() => f.holds(zw, '/kw'), `zkctl --write to acquire (${zw.stderr()})`);
    await f.release(zw);
  });

  it('zkctl --write --format kazoo blocks kazoo ReadLock and WriteLock; a waiting kazoo reader gets it when zkctl releases', async () => {
    const zw = f.zk(['lock', '/zkw', '--write', '--format', 'kazoo']);
    await waitFor(() => f.holds(zw, '/zkw'), `zkctl --write to acquire (${zw.stderr()})`);
    assert.equal(await once('rlock-try', '/zkw'), 'busy');
    assert.equal(await once('wlock-try', '/zkw'), 'busy');
    assert.equal(await once('rlock-wait', '/zkw', '1'), 'timeout');
    const kr = kazoo('rlock-wait', '/zkw', '60');
    await f.queued('/zkw', 2, () => kr.err());
    await settle();
    assert.equal(kr.acquired(), undefined, 'kazoo read while zkctl held the write lock');
    await f.release(zw);
    await waitFor(() => kr.acquired() !== undefined, `the kazoo reader to acquire (${kr.err()})`);
    assert.equal(await kr.finish(), 0, kr.err());
    assert.deepEqual(await f.kids('/zkw'), []);
  });
});
