import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ensurePath } from '../../src/core/nodes.js';
import { Perm } from '../../src/core/session.js';
import { chrootSession, type ChrootSession } from '../helpers/session.js';

describe('ensurePath', () => {
  let c: ChrootSession;
  before(async () => {
    c = await chrootSession('nodes');
  });
  after(async () => c.close());

  it('creates every missing node, keeps existing ones and their data', async () => {
    await c.session.create('/a', Buffer.from('keep'));
    await ensurePath(c.session, '/a/b/c/d');
    assert.equal((await c.session.get('/a')).data.toString(), 'keep');
    assert.ok(await c.session.exists('/a/b/c/d'));
    await ensurePath(c.session, '/a/b/c/d'); // idempotent
  });

  it('parentsOnly stops short of the node itself; containers are reaped when empty', async () => {
    await ensurePath(c.session, '/p/q/leaf', { parentsOnly: true, mode: 'container' });
    assert.ok(await c.session.exists('/p/q'));
    assert.equal(await c.session.exists('/p/q/leaf'), null);
    await c.session.create('/p/q/leaf');
    await c.session.delete('/p/q/leaf');
    const t0 = Date.now();
    while ((await c.session.exists('/p')) && Date.now() - t0 < 15_000) await new Promise((r) => setTimeout(r, 200));
    assert.equal(await c.session.exists('/p'), null, 'empty container ancestors reaped');
  });

  it('reports the first real failure', async () => {
    await c.session.create('/eph', Buffer.alloc(0), { mode: 'ephemeral' });
    await assert.rejects(ensurePath(c.session, '/eph/x/y'), /ephemeral/);
  });

  it('works below an existing ancestor whose parent denies CREATE (check-first, and pipelined falling back to it, as Curator mkdirs does)', async () => {
    // /shut/open exists; /shut then denies CREATE (the server checks that before it answers NODE_EXISTS).
    await ensurePath(c.session, '/shut/open');
    await c.session.setACL('/shut', [{ perms: Perm.ALL & ~Perm.CREATE, id: { scheme: 'world', id: 'anyone' } }]);
    // Pipelined alone is refused there (the creates of /shut/open answer NO_AUTH); the fallback walks it check-first.
    await assert.rejects(c.session.create('/shut/open', Buffer.alloc(0)), (e: unknown) => (e as { exitCode?: number }).exitCode === 7);
    await ensurePath(c.session, '/shut/open/p/q');
    assert.ok(await c.session.exists('/shut/open/p/q'));
    await assert.rejects(ensurePath(c.session, '/shut/other'), (e: unknown) => (e as { exitCode?: number }).exitCode === 7, 'a create really needed is still refused');
    await ensurePath(c.session, '/shut/open/a/b', { existing: 'check-first' });
    assert.ok(await c.session.exists('/shut/open/a/b'));
    await ensurePath(c.session, '/shut/open/x/leaf', { existing: 'check-first', parentsOnly: true, mode: 'container' });
    assert.ok(await c.session.exists('/shut/open/x'));
    assert.equal(await c.session.exists('/shut/open/x/leaf'), null);
    // Nothing missing below the shut node: still refused where a create is really needed.
    await assert.rejects(ensurePath(c.session, '/shut/other', { existing: 'check-first' }), (e: unknown) => (e as { exitCode?: number }).exitCode === 7);
  });
});
