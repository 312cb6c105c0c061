/**
 * Issue 10.21: a create under a container parent must survive the server reaping
 * the parent between making it and the create (health's probe failed in CI:
 * "write/read probe failed: /.zkctl-health/...: no such node"). The reap is forced:
 * another session deletes the parent at that very moment (createWithParents'
 * test hook), so the test does not depend on the server's container timer.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { isZkCode, ZkCode } from '../../src/core/errors.js';
import { createWithParents } from '../../src/core/nodes.js';
import { Session } from '../../src/core/session.js';
import { writeReadProbe } from '../../src/ensemble/health.js';
import { chrootSession, type ChrootSession } from '../helpers/session.js';

describe('creates under a container parent that is reaped meanwhile', () => {
  let c: ChrootSession;
  let other: Session;
  before(async () => {
    c = await chrootSession('containers');
    // a second session inside the same chroot plays the server's container reaper
    other = await Session.connect({ connectString: c.server, timeoutMs: 10_000 });
  });
  after(async () => {
    await other?.close();
    await c?.close();
  });

  /** Delete `path` from the other session (already gone is fine: the server reaped it first). */
  const reap = async (s: Session, path: string): Promise<boolean> => {
    try {
      await s.delete(path);
      return true;
    } catch (e) {
      if (isZkCode(e, ZkCode.NO_NODE)) return false;
      throw e;
    }
  };

  it('the health probe succeeds although its parent is deleted between ensurePath and the create, three times', async () => {
    let reaped = 0;
    const r = await writeReadProbe({
      connectString: c.server,
      timeoutMs: 10_000,
      probePath: '/health',
      afterParents: async (attempt) => {
        if (attempt <= 3 && (await reap(other, '/health'))) reaped++;
      },
    });
    assert.equal(r.ok, true, r.error);
    assert.equal(reaped, 3, 'the parent was deleted under the probe three times');
  });

  it('createWithParents makes reaped container ancestors again (nested, ephemeral sequential child)', async () => {
    let calls = 0;
    const r = await createWithParents(c.session, '/a/b/c/n-', Buffer.from('x'), { mode: 'ephemeral', sequential: true }, {
      afterParents: async (attempt) => {
        calls++;
        if (attempt === 1) assert.equal(await reap(other, '/a/b/c'), true);
        if (attempt === 2) {
          await reap(other, '/a/b/c');
          await reap(other, '/a/b');
        }
      },
    });
    assert.match(r.path, /^\/a\/b\/c\/n-\d{10}$/);
    assert.equal(calls, 3);
    const st = await c.session.exists('/a/b');
    assert.ok(st, '/a/b exists');
    await c.session.delete(r.path);
  });

  it('gives up after `attempts` and says NO_NODE', async () => {
    await assert.rejects(
      createWithParents(c.session, '/g/n', Buffer.alloc(0), {}, { attempts: 3, afterParents: async () => void (await reap(other, '/g')) }),
      (e: unknown) => isZkCode(e, ZkCode.NO_NODE),
    );
  });
});
