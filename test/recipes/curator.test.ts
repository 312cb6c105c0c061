/**
 * Interop with the REAL Apache Curator 5.4 recipes (Debian's libcurator-recipes-java):
 * InterProcessMutex against `zkctl lock` (default curator format), LeaderLatch against
 * `zkctl elect --format curator-latch`, LeaderSelector against `--format curator-selector`.
 * The Curator side is test/recipes/CuratorPeer.java, compiled once with javac and driven
 * through stdin (queries, EOF = release/close) and stdout (one line per event or answer).
 * Skipped only when the Curator jars or javac are missing (.ci/run installs them).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { NODE_NAME_PATTERNS } from '../../src/core/recipes/contenders.js';
import { chrootSession, type ChrootSession } from '../helpers/session.js';
import { runCli } from '../helpers/zk.js';
import { compileCuratorPeer, curatorCommand, curatorSkip, startPeer, type PeerProcess } from './peers.js';
import { children, sleep, spawnCli, until, waitFor, type Running } from './util.js';

const skip = curatorSkip;

/** Exactly what the formats are: `_c_<uuid 36>-lock-<10 digits>`, `_c_<uuid 36>-latch-<10 digits>`. */
const LOCK_NODE = /^_c_[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}-lock-\d{10}$/;
const LATCH_NODE = /^_c_[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}-latch-\d{10}$/;

interface Peer extends PeerProcess {
  /** Send a query line and return the answer (the text after `<prefix> `). */
  ask(query: string): Promise<string>;
}

const ANSWER_PREFIX: Record<string, string> = { participants: 'participants', ids: 'ids', leader: 'leader-id', has: 'has' };

const last = (p: string): string => p.split('/').pop()!;

/** zkctl `lock ls` / `elect ls` rows. */
interface Row {
  role: string;
  format: string;
  id: string;
  node: string;
}

/**
 * `zkctl lock ls` / `elect ls` once it lists `count` contenders: a new process may talk to a server
 * that has not applied another client's last change yet (ZooKeeper orders each client's view, not
 * views across clients), so give it a moment to catch up.
 */
async function ls(topic: 'lock' | 'elect', server: string, path: string, count: number): Promise<Row[]> {
  let rows: Row[] = [];
  await waitFor(async () => {
    const r = await runCli([topic, 'ls', '-s', server, path, '-o', 'json']);
    assert.equal(r.code, 0, r.stderr);
    rows = JSON.parse(r.stdout) as Row[];
    return rows.length === count;
  }, `${topic} ls ${path} to list ${count} contenders`, 10_000);
  return rows;
}

describe('interop with real Apache Curator 5.4 (InterProcessMutex, LeaderLatch, LeaderSelector)', { skip }, () => {
  let cs: ChrootSession;
  let classDir: string;
  const running: Array<() => void> = [];

  before(async () => {
    cs = await chrootSession('curator');
    classDir = await compileCuratorPeer();
  });
  after(async () => {
    for (const kill of running) kill();
    await cs.close();
  });

  function curator(mode: string, path: string, ...rest: string[]): Peer {
    const p = startPeer(...curatorCommand(classDir, [cs.server, mode, path, ...rest]), running);
    return {
      ...p,
      ask: async (query) => {
        const prefix = `${ANSWER_PREFIX[query]} `;
        const mark = p.out().length;
        p.proc.stdin!.write(`${query}\n`);
        let line: string | undefined;
        await until(() => (line = p.out().slice(mark).split('\n').find((l) => l.startsWith(prefix))) !== undefined, `Curator to answer "${query}"`, p.err, 15_000);
        return line!.slice(prefix.length);
      },
    };
  }

  function zk(args: string[]): Running {
    const r = spawnCli([args[0]!, '-s', cs.server, ...args.slice(1)]);
    running.push(() => r.child.kill('SIGKILL'));
    return r;
  }

  /** Children of `path` as committed now (the other clients may use other servers). */
  const kids = (path: string): Promise<string[]> => children(cs.session, path);

  /** The node a Curator peer printed after `acquired ` / `leader `. */
  const printed = (p: Peer, word: 'acquired' | 'leader'): string | undefined => new RegExp(`^${word} (_c_\\S+)$`, 'm').exec(p.out())?.[1];
  const json = (s: string): string[] => JSON.parse(s) as string[];
  /** Give a process that must NOT act the time to do it wrongly. */
  const settle = (): Promise<void> => sleep(400);

  it('InterProcessMutex and `zkctl lock` exclude each other both ways; names match on both sides', async () => {
    // Curator holds: zkctl --try exits 10, a zkctl waiter queues and gets the lock once Curator releases.
    const c = curator('mutex-hold', '/cur/m1');
    await until(() => printed(c, 'acquired') !== undefined, 'Curator to acquire', () => c.err());
    const cNode = printed(c, 'acquired')!;
    assert.match(cNode, LOCK_NODE);
    assert.match(cNode, NODE_NAME_PATTERNS.curator, "zkctl's own pattern for the format accepts Curator's name");
    const t = await runCli(['lock', '-s', cs.server, '/cur/m1', '--try', '--', 'true']);
    assert.equal(t.code, 10, t.stderr);
    assert.deepEqual(await kids('/cur/m1'), [cNode], '--try left nothing behind');
    const rows = await ls('lock', cs.server, '/cur/m1', 1);
    assert.deepEqual(rows.map((r) => [r.role, r.format, r.node]), [['holder', 'curator', cNode]]);
    assert.match(rows[0]!.id, /^[0-9a-f.:]+$/i, "Curator's default node data is an IP address");

    const w = zk(['lock', '/cur/m1', '--id', 'zk-waiter', '--', 'sh', '-c', 'echo "$ZKCTL_LOCK_NODE"']);
    await until(async () => (await children(cs.session, '/cur/m1')).length === 2, 'zkctl to queue behind Curator', () => w.stderr());
    const both = json(await c.ask('participants'));
    assert.equal(both[0], cNode, "Curator's holder is first in Curator's own order");
    assert.match(both[1]!, NODE_NAME_PATTERNS.curator);
    const rows2 = await ls('lock', cs.server, '/cur/m1', 2);
    assert.deepEqual(rows2.map((r) => [r.role, r.node]), [['holder', both[0]], ['waiter', both[1]]], "zkctl's order is Curator's");
    assert.equal(rows2[1]!.id, 'zk-waiter');
    await settle();
    assert.equal(w.stdout(), '', 'zkctl ran while Curator held the lock');
    assert.equal(await c.finish(), 0, c.err());
    const wr = await w.exited;
    assert.equal(wr.code, 0, w.stderr());
    assert.equal(last(w.stdout().trim()), both[1]);
    assert.match(last(w.stdout().trim()), LOCK_NODE);

    // zkctl holds: Curator's acquire(0) and acquire(1 s) fail and leave no node; a waiting Curator gets it after zkctl.
    const z = zk(['lock', '/zk/m2', '--id', 'zk-holder']);
    await until(() => z.stdout().includes('/zk/m2/'), 'zkctl to acquire', () => z.stderr());
    const zNode = last(z.stdout().trim());
    assert.match(zNode, LOCK_NODE);
    const tryIt = curator('mutex-try', '/zk/m2');
    assert.equal(await tryIt.finish(), 0, tryIt.err());
    assert.equal(tryIt.out().trim().split('\n')[0], 'busy');
    const timed = curator('mutex-wait', '/zk/m2', '1000');
    assert.equal(await timed.finish(), 0, timed.err());
    assert.equal(timed.out().trim().split('\n')[0], 'timeout');
    assert.deepEqual(await kids('/zk/m2'), [zNode], "Curator's failed attempts left nothing behind");
    const cw = curator('mutex-wait', '/zk/m2', '30000');
    await until(async () => (await children(cs.session, '/zk/m2')).length === 2, 'Curator to queue behind zkctl', () => cw.err());
    await settle();
    assert.equal(printed(cw, 'acquired'), undefined, 'Curator acquired while zkctl held the lock');
    z.child.kill('SIGTERM');
    assert.equal((await z.exited).code, 130, z.stderr());
    await until(() => printed(cw, 'acquired') !== undefined, 'Curator to acquire after zkctl released', () => cw.err());
    assert.match(printed(cw, 'acquired')!, LOCK_NODE);
    assert.deepEqual(json(await cw.ask('participants')), [printed(cw, 'acquired')]);
    assert.equal(await cw.finish(), 0, cw.err());

    // Both sides make the parents containers (Curator: creatingParentContainersIfNeeded): the server removes
    // them, level by level, once they are empty (the test ensemble checks containers every second).
    const gone = async (p: string): Promise<boolean> => (await cs.session.exists(p)) === null;
    await waitFor(async () => (await gone('/cur')) && (await gone('/zk')), 'the emptied container parents /cur/m1 (made by Curator) and /zk/m2 (made by zkctl) to be removed', 20_000);
  });

  it('FIFO across clients: Curator and zkctl waiters acquire in queue order', async () => {
    // Queue: Curator holder, zkctl, Curator, zkctl; each watches the one ahead of it (zkctl->Curator, Curator->zkctl).
    const c0 = curator('mutex-hold', '/fifo');
    await until(() => printed(c0, 'acquired') !== undefined, 'Curator to acquire', () => c0.err());
    const z1 = zk(['lock', '/fifo', '--id', 'z1']);
    await until(async () => (await children(cs.session, '/fifo')).length === 2, 'z1 to queue', () => z1.stderr());
    const c2 = curator('mutex-wait', '/fifo', '40000');
    await until(async () => (await children(cs.session, '/fifo')).length === 3, 'c2 to queue', () => c2.err());
    const z3 = zk(['lock', '/fifo', '--id', 'z3']);
    await until(async () => (await children(cs.session, '/fifo')).length === 4, 'z3 to queue', () => z3.stderr());

    const queue = json(await c0.ask('participants'));
    assert.equal(queue.length, 4);
    const rows = await ls('lock', cs.server, '/fifo', 4);
    assert.deepEqual(rows.map((r) => r.node), queue, 'zkctl and Curator agree on the order');
    assert.deepEqual([rows[1]!.id, rows[3]!.id], ['z1', 'z3']);

    const held = (): string[] => [
      ...(z1.stdout().includes('/fifo/') ? ['z1'] : []),
      ...(printed(c2, 'acquired') ? ['c2'] : []),
      ...(z3.stdout().includes('/fifo/') ? ['z3'] : []),
    ];
    await settle();
    assert.deepEqual(held(), []);
    assert.equal(await c0.finish(), 0, c0.err());
    await waitFor(() => held().length > 0, 'the next in line to acquire');
    await settle();
    assert.deepEqual(held(), ['z1']);
    assert.equal(last(z1.stdout().trim()), queue[1]);

    z1.child.kill('SIGTERM');
    assert.equal((await z1.exited).code, 130);
    await until(() => held().includes('c2'), 'Curator to acquire after z1', () => c2.err());
    await settle();
    assert.deepEqual(held(), ['z1', 'c2']);
    assert.equal(printed(c2, 'acquired'), queue[2]);

    assert.equal(await c2.finish(), 0, c2.err());
    await until(() => held().includes('z3'), 'z3 to acquire after Curator', () => z3.stderr());
    assert.equal(last(z3.stdout().trim()), queue[3]);
    z3.child.kill('SIGTERM');
    assert.equal((await z3.exited).code, 130);
    assert.deepEqual(await kids('/fifo'), []);
  });

  /**
   * One election scenario for both Curator recipes: Curator leads, zkctl and a second Curator
   * candidate queue; leadership passes Curator -> zkctl -> Curator, one leader at a time.
   */
  async function election(mode: 'latch' | 'selector', path: string): Promise<void> {
    const format = mode === 'latch' ? 'curator-latch' : 'curator-selector';
    const rowFormat = mode === 'latch' ? 'curator-latch' : 'curator';
    const nodeRe = mode === 'latch' ? LATCH_NODE : LOCK_NODE;
    const c1 = curator(mode, path, 'cur-1');
    await until(() => printed(c1, 'leader') !== undefined, `Curator ${mode} to lead`, () => c1.err());
    const c1Node = printed(c1, 'leader')!;
    assert.match(c1Node, nodeRe);
    assert.match(c1Node, NODE_NAME_PATTERNS[mode === 'latch' ? 'curator-latch' : 'curator']);
    const z = zk(['elect', path, '--id', 'zk-1', '--format', format]);
    await until(async () => (await children(cs.session, path)).length === 2, 'zkctl to campaign', () => z.stderr());
    const c2 = curator(mode, path, 'cur-2');
    await until(async () => (await children(cs.session, path)).length === 3, 'the second Curator candidate to campaign', () => c2.err());

    const rows = await ls('elect', cs.server, path, 3);
    assert.deepEqual(rows.map((r) => [r.role, r.id, r.format]), [
      ['leader', 'cur-1', rowFormat],
      ['candidate', 'zk-1', rowFormat],
      ['candidate', 'cur-2', rowFormat],
    ]);
    assert.equal(rows[0]!.node, c1Node);
    for (const r of rows) assert.match(r.node, nodeRe);
    assert.deepEqual(json(await c2.ask('participants')), rows.map((r) => r.node), "Curator's order is zkctl's");
    assert.deepEqual(json(await c2.ask('ids')), ['cur-1', 'zk-1', 'cur-2']);
    assert.equal(await c2.ask('leader'), 'cur-1');
    assert.equal(await c1.ask('has'), 'true');
    assert.equal(await c2.ask('has'), 'false');
    await settle();
    assert.equal(z.stdout(), '', 'zkctl led while Curator did');

    // The Curator leader closes: zkctl leads (and only zkctl); Curator names zkctl's id as the leader.
    assert.equal(await c1.finish(), 0, c1.err());
    await until(() => z.stdout().includes(`${path}/`), 'zkctl to lead after Curator closed', () => z.stderr());
    assert.equal(last(z.stdout().trim()), rows[1]!.node);
    assert.equal(await c2.ask('leader'), 'zk-1');
    assert.deepEqual(json(await c2.ask('ids')), ['zk-1', 'cur-2']);
    await settle();
    assert.equal(await c2.ask('has'), 'false');
    assert.equal(printed(c2, 'leader'), undefined, 'Curator led while zkctl did');

    // zkctl resigns (SIGTERM): the Curator candidate leads.
    z.child.kill('SIGTERM');
    assert.equal((await z.exited).code, 130, z.stderr());
    await until(() => printed(c2, 'leader') !== undefined, 'Curator to lead after zkctl resigned', () => c2.err());
    assert.equal(printed(c2, 'leader'), rows[2]!.node);
    assert.equal(await c2.ask('leader'), 'cur-2');
    assert.deepEqual((await ls('elect', cs.server, path, 1)).map((r) => [r.role, r.id]), [['leader', 'cur-2']]);
    assert.equal(await c2.finish(), 0, c2.err());
    assert.deepEqual(await kids(path), []);
  }

  it('LeaderLatch and `zkctl elect --format curator-latch`: one leader at a time, leadership passes both ways', async () => {
    await election('latch', '/latch');
  });

  it('LeaderSelector and `zkctl elect --format curator-selector`: one leader at a time, leadership passes both ways', async () => {
    await election('selector', '/selector');
  });
});
