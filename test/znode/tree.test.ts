/**
 * The pipelined walker and deleteTree (core, called directly) against the real server.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ExitCode, ZkCode, ZkError } from '../../src/core/errors.js';
import { Session } from '../../src/core/session.js';
import { deleteTree, duTree, globToRegExp, walk, type NodeInfo } from '../../src/core/tree.js';
import { chrootSession, type ChrootSession } from '../helpers/session.js';

/** Build a tree from a spec: { name: subtree | data-string }. Pipelined creates. */
async function build(s: Session, root: string, spec: Record<string, unknown>): Promise<void> {
  const ops: Array<Promise<unknown>> = [];
  const rec = (parent: string, sp: Record<string, unknown>): void => {
    for (const [name, v] of Object.entries(sp)) {
      const p = parent === '/' ? `/${name}` : `${parent}/${name}`;
      ops.push(s.create(p, Buffer.from(typeof v === 'string' ? v : '')));
      if (v && typeof v === 'object') rec(p, v as Record<string, unknown>);
    }
  };
  await s.create(root).catch(() => undefined);
  rec(root, spec);
  await Promise.all(ops);
}

/** Reference listing: sequential, sorted, pre-order. */
async function reference(s: Session, root: string): Promise<string[]> {
  const out: string[] = [root];
  const { children } = await s.getChildren(root);
  for (const c of children.sort()) out.push(...(await reference(s, root === '/' ? `/${c}` : `${root}/${c}`)));
  return out;
}

async function collect(it: AsyncIterable<NodeInfo>): Promise<NodeInfo[]> {
  const out: NodeInfo[] = [];
  for await (const n of it) out.push(n);
  return out;
}

/** A wide-then-deep tree: `width` children, each with 3 children with 2 children each. */
function wideSpec(width: number): Record<string, unknown> {
  const spec: Record<string, unknown> = {};
  for (let i = 0; i < width; i++) {
    const kids: Record<string, unknown> = {};
    for (let j = 0; j < 3; j++) kids[`c${j}`] = { g0: 'x', g1: 'yy' };
    spec[`k${String(i).padStart(3, '0')}`] = kids;
  }
  return spec;
}

describe('walk', () => {
  let c: ChrootSession;
  let s: Session;
  before(async () => {
    c = await chrootSession('znode-walk');
    s = c.session;
    await build(s, '/w', wideSpec(60)); // 1 + 60 * (1 + 3 * 3) = 601 nodes
    await build(s, '/small', { b: { d: 'dd', c: 'c' }, a: 'aaa', e: {} });
  });
  after(async () => c.close());

  it('delivers every node in depth-first pre-order with sorted children, whatever the window', async () => {
    const ref = await reference(s, '/w');
    assert.equal(ref.length, 601);
    for (const window of [1, 7, 100, 1000]) {
      const w = walk(s, '/w', { window });
      const got = (await collect(w)).map((n) => n.path);
      assert.deepEqual(got, ref, `window ${window}`);
      assert.ok(w.stats.maxInFlight <= Math.max(window, 1), `in flight ${w.stats.maxInFlight} > window ${window}`);
      assert.equal(w.stats.nodes, 601);
    }
  });

  it('post-order puts every node after its descendants and ends with the root', async () => {
    const got = (await collect(walk(s, '/w', { order: 'post', window: 50 }))).map((n) => n.path);
    assert.equal(got.length, 601);
    assert.equal(got[got.length - 1], '/w');
    const pos = new Map(got.map((p, i) => [p, i]));
    for (const p of got) {
      if (p === '/w') continue;
      const parent = p.slice(0, p.lastIndexOf('/'));
      assert.ok(pos.get(p)! < pos.get(parent)!, `${p} after its parent`);
    }
    assert.deepEqual([...got].sort(), (await reference(s, '/w')).sort());
  });

  it('gives depth, name, last, stat, children, data and ACL', async () => {
    const nodes = await collect(walk(s, '/small', { withData: true, withAcl: true }));
    assert.deepEqual(
      nodes.map((n) => [n.path, n.depth, n.last]),
      [
        ['/small', 0, true],
        ['/small/a', 1, false],
        ['/small/b', 1, false],
        ['/small/b/c', 2, false],
        ['/small/b/d', 2, true],
        ['/small/e', 1, true],
      ],
    );
    const a = nodes[1];
    assert.equal(a.name, 'a');
    assert.equal(a.data!.toString(), 'aaa');
    assert.equal(a.stat.dataLength, 3);
    assert.deepEqual(a.acl, [{ perms: 31, id: { scheme: 'world', id: 'anyone' } }]);
    assert.deepEqual(nodes[2].children, ['c', 'd']);
    assert.deepEqual(nodes[0].children, ['a', 'b', 'e']);
  });

  it('stops at the depth limit (no children listed there) and can leave the root out', async () => {
    const nodes = await collect(walk(s, '/small', { depth: 1, includeRoot: false }));
    assert.deepEqual(nodes.map((n) => n.path), ['/small/a', '/small/b', '/small/e']);
    assert.equal(nodes[1].children, undefined);
    assert.equal(nodes[1].stat.numChildren, 2);
    const none = await collect(walk(s, '/small', { depth: 0 }));
    assert.deepEqual(none.map((n) => n.path), ['/small']);
  });

  it('prunes subtrees', async () => {
    const nodes = await collect(walk(s, '/small', { prune: (p) => p === '/small/b' }));
    assert.deepEqual(nodes.map((n) => n.path), ['/small', '/small/a', '/small/e']);
    assert.equal(nodes[2].last, true);
  });

  it('keeps memory bounded with a slow consumer and still pipelines with a small buffer', async () => {
    const w = walk(s, '/w', { window: 20, maxBuffered: 40 });
    let n = 0;
    for await (const _ of w) {
      if (++n % 50 === 0) await new Promise((r) => setTimeout(r, 5));
    }
    assert.equal(n, 601);
    assert.ok(w.stats.peakBuffered <= 40, `peak ${w.stats.peakBuffered}`);
    assert.ok(w.stats.maxInFlight > 1 && w.stats.maxInFlight <= 20);
    // re-fetches stay a small fraction
    assert.ok(w.stats.requests < 601 * 1.5, `requests ${w.stats.requests}`);
  });

  it('keeps the bytes of buffered replies (data, child lists) under maxBufferedBytes', async () => {
    const w = walk(s, '/w', { window: 50, withData: true, maxBufferedBytes: 8000 });
    const got: string[] = [];
    for await (const n of w) {
      got.push(n.path);
      if (got.length % 100 === 0) await new Promise((r) => setTimeout(r, 5));
    }
    assert.deepEqual(got, await reference(s, '/w'));
    assert.ok(w.stats.peakBufferedBytes <= 8000, `peak ${w.stats.peakBufferedBytes} bytes`);
    assert.ok(w.stats.evictions > 0, 'the budget should have forced evictions');
  });

  it('a missing root is NO_NODE (exit 3); a bad root is a usage error', async () => {
    await assert.rejects(collect(walk(s, '/nope')), (e: unknown) => e instanceof ZkError && e.code === ZkCode.NO_NODE && e.exitCode === ExitCode.NO_NODE);
    assert.throws(() => walk(s, 'relative'), (e: unknown) => (e as { exitCode?: number }).exitCode === ExitCode.USAGE);
  });

  it('skips nodes deleted during the walk', async () => {
    await build(s, '/vanish', { a: { x: '' }, b: { y: '' }, c: { z: '' } });
    const seen: string[] = [];
    // window 1, buffer 1: nothing is read ahead of the next node
    const w = walk(s, '/vanish', { window: 1, maxBuffered: 1 });
    for await (const n of w) {
      seen.push(n.path);
      if (n.path === '/vanish/a/x') {
        await s.delete('/vanish/c/z');
        await s.delete('/vanish/c');
      }
    }
    assert.deepEqual(seen, ['/vanish', '/vanish/a', '/vanish/a/x', '/vanish/b', '/vanish/b/y']);
    assert.equal(w.stats.skipped, 1);
  });

  it('can be left early (break) without hanging', async () => {
    let n = 0;
    for await (const _ of walk(s, '/w', { window: 100 })) if (++n === 10) break;
    assert.equal(n, 10);
  });

  it('ends with InterruptedError (exit 130) when aborted', async () => {
    const ac = new AbortController();
    let n = 0;
    await assert.rejects(
      (async () => {
        for await (const _ of walk(s, '/w', { signal: ac.signal, window: 10 })) if (++n === 5) ac.abort();
      })(),
      (e: unknown) => (e as { exitCode?: number }).exitCode === ExitCode.INTERRUPTED,
    );
  });

  it('du sums bytes and nodes per subtree, largest first', async () => {
    const rows = await duTree(s, '/small');
    assert.deepEqual(
      rows.map((r) => [r.path, r.bytes, r.nodes]),
      [
        ['/small', 6, 6],
        ['/small/b', 3, 3],
        ['/small/a', 3, 1],
        ['/small/e', 0, 1],
      ],
    );
    const deep = await duTree(s, '/w', { depth: 0 });
    assert.deepEqual(deep.map((r) => [r.path, r.bytes, r.nodes]), [['/w', 60 * 3 * 3, 601]]);
  });

  it('glob matching', () => {
    assert.ok(globToRegExp('q-*').test('q-0000000001'));
    assert.ok(!globToRegExp('q-*').test('xq-1'));
    assert.ok(globToRegExp('lock-??').test('lock-01'));
    assert.ok(globToRegExp('[ab]*.json').test('b.json'));
    assert.ok(!globToRegExp('[!ab]*').test('a1'));
    assert.ok(globToRegExp('a.b').test('a.b') && !globToRegExp('a.b').test('axb'));
  });

  it('glob bracket expressions and escapes, as fnmatch', () => {
    const m = (glob: string, name: string): boolean => globToRegExp(glob).test(name);
    // ']' first in a set is one of its characters
    assert.ok(m('[]x]', ']') && m('[]x]', 'x') && !m('[]x]', 'y') && !m('[]x]', ']x]'));
    assert.ok(!m('[!]x]', ']') && !m('[!]x]', 'x') && m('[!]x]', 'y'));
    assert.ok(m('[]-a]', '^') && !m('[]-a]', 'b'), ']-a is a range');
    // negation with ! or ^; a set never matches '/'
    assert.ok(m('[^ab]c', 'xc') && !m('[^ab]c', 'ac'));
    assert.ok(!m('[!a]', '/') && !m('[/]', '/') && !m('?', '/') && !m('*', 'a/b'));
    // ranges; '-' first or last is literal; a reversed range matches nothing (and does not throw)
    assert.ok(m('[a-c]', 'b') && !m('[a-c]', 'd'));
    assert.ok(m('[-a]', '-') && m('[a-]', '-') && !m('[a-]', 'b'));
    assert.ok(!m('[z-a]', 'm') && !m('[z-a]', 'z') && m('[z-ab]', 'b'));
    // characters that mean something in a RegExp are plain inside a set
    assert.ok(m('[\\^]', '^') && m('[.]', '.') && !m('[.]', 'x') && m('[[]', '['));
    // an unterminated '[' is a literal '['
    assert.ok(m('[ab', '[ab') && !m('[ab', 'a') && m('a[', 'a[') && m('[]', '[]') && m('[!]', '[!]'));
    // '\' quotes the next character, in a set too; a trailing '\' is itself
    assert.ok(m('a\\*', 'a*') && !m('a\\*', 'ab'));
    assert.ok(m('\\?', '?') && !m('\\?', 'x') && m('\\[ab]', '[ab]'));
    assert.ok(m('[\\]]', ']') && m('[a\\-z]', '-') && !m('[a\\-z]', 'm'));
    assert.ok(m('a\\', 'a\\') && m('\\\\', '\\'));
  });
});

describe('deleteTree', () => {
  let c: ChrootSession;
  let s: Session;
  before(async () => {
    c = await chrootSession('znode-deltree');
    s = c.session;
  });
  after(async () => c.close());

  it('deletes a subtree bottom-up and returns the count; dry run deletes nothing', async () => {
    await build(s, '/d', wideSpec(30)); // 301 nodes
    assert.equal(await deleteTree(s, '/d', { dryRun: true }), 301);
    assert.equal(await s.getAllChildrenNumber('/d'), 300);
    let progress = 0;
    assert.equal(await deleteTree(s, '/d', { window: 64, onProgress: (n) => (progress = n) }), 301);
    assert.equal(progress, 301);
    assert.equal(await s.exists('/d'), null);
  });

  it('checks the version first (exit 5) and deletes nothing on a mismatch', async () => {
    await build(s, '/v', { a: { b: '' } });
    await assert.rejects(deleteTree(s, '/v', { version: 3 }), (e: unknown) => e instanceof ZkError && e.exitCode === ExitCode.BAD_VERSION);
    assert.equal(await s.getAllChildrenNumber('/v'), 2);
    assert.equal(await deleteTree(s, '/v', { version: 0 }), 3);
  });

  it('refuses / and /zookeeper; a missing root is exit 3', async () => {
    await assert.rejects(deleteTree(s, '/'), (e: unknown) => (e as { exitCode?: number }).exitCode === ExitCode.USAGE);
    await assert.rejects(deleteTree(s, '/nope'), (e: unknown) => (e as { exitCode?: number }).exitCode === ExitCode.NO_NODE);
  });

  it('deletes ephemeral nodes of other sessions too', async () => {
    await build(s, '/e', { a: {} });
    const other = await Session.connect({ connectString: c.server, timeoutMs: 10_000 });
    try {
      await other.create('/e/a/eph', Buffer.alloc(0), { mode: 'ephemeral' });
      assert.equal(await deleteTree(s, '/e'), 3);
      assert.equal(await s.exists('/e'), null);
    } finally {
      await other.close();
    }
  });
});
