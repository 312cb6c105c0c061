/** The lock recipe as a library, against the shared real ensemble. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ConnectionError, ExitCode, NotAcquiredError } from '../../src/core/errors.js';
import { NODE_NAME_PATTERNS } from '../../src/core/recipes/contenders.js';
import { Lock } from '../../src/core/recipes/lock.js';
import { Session } from '../../src/core/session.js';
import { chrootSession, type ChrootSession } from '../helpers/session.js';
import { children, sleep } from './util.js';

describe('Lock (library)', () => {
  let cs: ChrootSession;
  const extra: Session[] = [];
  const session = async (): Promise<Session> => {
    const s = await Session.connect({ connectString: cs.server, timeoutMs: 10_000 });
    extra.push(s);
    return s;
  };

  before(async () => {
    cs = await chrootSession('lock-lib');
  });
  after(async () => {
    await Promise.all(extra.map((s) => s.close()));
    await cs.close();
  });

  it('acquires in Curator format (containers for parents), releases, and the fencing token grows', async () => {
    const a = new Lock(cs.session, '/deep/a/lock', { id: 'holder-1' });
    const h1 = await a.acquire();
    const name = h1.node.split('/').pop()!;
    assert.match(name, NODE_NAME_PATTERNS.curator);
    assert.equal((await cs.session.get(h1.node)).data.toString(), 'holder-1');
    const parent = await cs.session.exists('/deep/a/lock');
    assert.ok(parent);
    assert.equal(parent.ephemeralOwner, 0n);
    await a.release();
    assert.deepEqual(await children(cs.session, '/deep/a/lock'), []);

    const b = new Lock(cs.session, '/deep/a/lock', { format: 'kazoo', id: 'holder-2' });
    const h2 = await b.acquire();
    assert.match(h2.node.split('/').pop()!, NODE_NAME_PATTERNS.kazoo);
    assert.ok(h2.fencingToken > h1.fencingToken, `${h2.fencingToken} > ${h1.fencingToken}`);
    await b.release();
  });

  it('is FIFO across formats, each waiter behind the one before it', async () => {
    const s2 = await session();
    const s3 = await session();
    const holder = new Lock(cs.session, '/fifo', { id: 'h' });
    await holder.acquire();
    const order: string[] = [];
    const w1 = new Lock(s2, '/fifo', { id: 'w1', format: 'kazoo' });
    const p1 = w1.acquire().then(async () => {
      order.push('w1');
      await sleep(50);
      await w1.release();
    });
    await new Promise((r) => w1.once('waiting', r));
    const w2 = new Lock(s3, '/fifo', { id: 'w2' });
    const waiting2 = new Promise<{ predecessor: string }>((r) => w2.once('waiting', r));
    const p2 = w2.acquire().then(async () => {
      order.push('w2');
      await w2.release();
    });
    // w2 watches w1's node, not the holder's.
    assert.equal((await waiting2).predecessor, w1.node);
    const ls = await holder.contenders();
    assert.deepEqual(
      ls.map((c) => c.id),
      ['h', 'w1', 'w2'],
    );
    await holder.release();
    await Promise.all([p1, p2]);
    assert.deepEqual(order, ['w1', 'w2']);
  });

  it('try and timeout fail with exit 10 and leave no contender node', async () => {
    const s2 = await session();
    const holder = new Lock(cs.session, '/busy');
    await holder.acquire();
    const t = new Lock(s2, '/busy');
    await assert.rejects(t.acquire({ try: true }), (e: unknown) => e instanceof NotAcquiredError && e.exitCode === ExitCode.NOT_ACQUIRED);
    const t0 = Date.now();
    await assert.rejects(t.acquire({ timeoutMs: 500 }), NotAcquiredError);
    assert.ok(Date.now() - t0 >= 450);
    assert.equal((await children(cs.session, '/busy')).length, 1);
    await holder.release();
    // and works afterwards
    await t.acquire({ try: true });
    await t.release();
    assert.deepEqual(await children(cs.session, '/busy'), []);
  });

  it('finds its own node by prefix after a connection loss during create (no double entry)', async () => {
    const s2 = await session();
    const l = new Lock(s2, '/lossy', { id: 'lossy' });
    // The server creates the node but the reply is "lost": the connection drops.
    const realCreate = s2.create.bind(s2);
    let calls = 0;
    (s2 as unknown as { create: typeof s2.create }).create = async (path, data, opts) => {
      const r = await realCreate(path, data, opts);
      if (opts?.sequential && calls++ === 0) {
        s2.dropConnection();
        throw new ConnectionError(`create ${path}: connection lost`);
      }
      return r;
    };
    const created: string[] = [];
    l.on('created', (c) => created.push(c.node));
    const h = await l.acquire({ timeoutMs: 20_000 });
    assert.equal(calls, 1, 'create was not retried');
    const kids = await children(cs.session, '/lossy');
    assert.equal(kids.length, 1, `contenders: ${kids.join(', ')}`);
    assert.equal(h.node, `/lossy/${kids[0]}`);
    assert.deepEqual(created, [h.node]);
    await l.release();
    assert.deepEqual(await children(cs.session, '/lossy'), []);
  });

  it('run() releases even when the work throws', async () => {
    const l = new Lock(cs.session, '/run');
    await assert.rejects(
      l.run(async () => {
        throw new Error('boom');
      }),
      /boom/,
    );
    assert.deepEqual(await children(cs.session, '/run'), []);
    assert.equal(l.state, 'released');
  });

  it('reports lost when its node is deleted under it', async () => {
    const l = new Lock(cs.session, '/stolen');
    const h = await l.acquire();
    const lost = new Promise<{ reason: string }>((r) => l.once('lost', r));
    await cs.session.delete(h.node);
    const info = await lost; // the holder polls its node every T/6 (5 s at T = 30 s)
    assert.match(info.reason, /deleted/);
    await l.release();
  });
});
