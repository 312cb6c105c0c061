/** cp and diff through the real binary: within an ensemble and across two (--to-server). */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Session } from '../../src/core/session.js';
import { chrootSession, type ChrootSession, mkdirp } from '../helpers/session.js';
import { startFaultEnsemble, type FaultEnsemble } from '../helpers/zk.js';
import { assertSameTree, buildTree, cli, ok, snapshot, superAuth } from './util.js';

describe('cp and diff', { concurrency: 2 }, () => {
  let c: ChrootSession;
  let s: Session;
  let zk: ReturnType<typeof cli>;
  before(async () => {
    c = await chrootSession('cpdiff');
    await c.session.close();
    s = await Session.connect({ connectString: c.server, timeoutMs: 10_000, auth: [{ scheme: 'digest', credential: superAuth().slice('digest:'.length) }] });
    zk = cli(c, superAuth());
  });
  after(async () => s.close());

  it('cp copies a subtree byte for byte (data, ACLs); diff then says equal (exit 0)', async () => {
    await buildTree(s, '/a');
    const r = ok(await zk(['cp', '/a', '/a-copy']));
    assert.match(r.stdout, /copy \/a into \/a-copy: 5\d to create \(in 1 transaction\)/);
    assertSameTree(await snapshot(s, '/a'), await snapshot(s, '/a-copy'));
    const d = ok(await zk(['diff', '/a', '/a-copy']));
    assert.equal(d.stdout, '');
    assert.match(d.stderr, /are equal \(5\d nodes\)/);
  });

  it('cp refuses a DST inside SRC (exit 2) and a non-empty DST (exit 4); --overwrite and --dry-run work', async () => {
    await s.create('/b');
    await s.create('/b/x', Buffer.from('1'));
    assert.equal((await zk(['cp', '/b', '/b/inside'])).code, 2);
    assert.equal((await zk(['cp', '/b/x', '/b'])).code, 2);
    await s.create('/b2');
    await s.create('/b2/y', Buffer.from('2'));
    const r = await zk(['cp', '/b', '/b2']);
    assert.equal(r.code, 4, r.stderr);
    const dry = ok(await zk(['cp', '/b', '/b2', '--overwrite', '--dry-run']));
    assert.match(dry.stdout, /^create\t\/b2\/x/m);
    assert.match(dry.stdout, /^delete\t\/b2\/y/m);
    assert.ok(await s.exists('/b2/y'));
    ok(await zk(['cp', '/b', '/b2', '--overwrite']));
    assertSameTree(await snapshot(s, '/b'), await snapshot(s, '/b2'));
  });

  it('diff reports nodes only in A (-), only in B (+), data and ACL changes (~), exit 12; -o json', async () => {
    await s.create('/d1', Buffer.from('root'));
    await s.create('/d1/same', Buffer.from('s'));
    await s.create('/d1/gone', Buffer.from('g'));
    await s.create('/d1/gone/sub');
    await s.create('/d1/data', Buffer.from('old'));
    await s.create('/d1/acl', Buffer.from('a'));
    await s.create('/d2', Buffer.from('root'));
    await s.create('/d2/same', Buffer.from('s'));
    await s.create('/d2/new', Buffer.from('n'));
    await s.create('/d2/data', Buffer.from('new'));
    await s.create('/d2/acl', Buffer.from('a'), { acl: [{ perms: 1, id: { scheme: 'world', id: 'anyone' } }] });
    const r = await zk(['diff', '/d1', '/d2']);
    assert.equal(r.code, 12, r.stderr);
    assert.equal(
      r.stdout,
      ['~ acl: acl world:anyone:cdrwa -> world:anyone:r', '~ data: data "old" -> "new"', '- gone', '- gone/sub', '+ new', ''].join('\n'),
    );
    assert.match(r.stderr, /\/d1 and \/d2 differ: 2 only in A, 1 only in B, 2 changed, 2 equal/);
    const j = await zk(['diff', '/d1', '/d2', '-o', 'json']);
    assert.equal(j.code, 12);
    const o = JSON.parse(j.stdout) as { equal: boolean; differences: Array<{ kind: string; path: string; what: string[] }> };
    assert.equal(o.equal, false);
    assert.deepEqual(
      o.differences.map((x) => `${x.kind}:${x.path}:${x.what.join('+')}`),
      ['changed:acl:acl', 'changed:data:data', 'only-a:gone:', 'only-a:gone/sub:', 'only-b:new:'],
    );
    const ign = await zk(['diff', '/d1', '/d2', '--ignore-acl', '--ignore-data']);
    assert.equal(ign.code, 12);
    assert.ok(!ign.stdout.includes('~'));
    assert.equal((await zk(['diff', '/d1', '/nope'])).code, 3);
  });

  describe('across ensembles', () => {
    let other: FaultEnsemble;
    let os: Session;
    before(async () => {
      other = await startFaultEnsemble(1);
      os = await Session.connect({ connectString: other.connectString, timeoutMs: 10_000 });
    });
    after(async () => {
      await os?.close();
      await other?.cleanup();
    });

    it('cp --to-server copies to another ensemble; diff --to-server compares across them', async () => {
      await s.create('/x', Buffer.from('x'));
      await s.create('/x/bin', Buffer.from([0, 1, 2, 255]));
      await s.create('/x/t', Buffer.from('text\n'), { acl: [{ perms: 31, id: { scheme: 'world', id: 'anyone' } }, { perms: 1, id: { scheme: 'ip', id: '10.0.0.0/8' } }] });
      await mkdirp(os, '/dr');
      ok(await zk(['cp', '/x', '/dr/x', '--to-server', other.connectString]));
      assertSameTree(await snapshot(s, '/x'), await snapshot(os, '/dr/x'));
      ok(await zk(['diff', '/x', '/dr/x', '--to-server', other.connectString]));
      // Under a chroot on the other side, too.
      ok(await zk(['diff', '/x', '/x', '--to-server', `${other.connectString}/dr`]));
      await os.set('/dr/x/t', Buffer.from('changed'));
      const d = await zk(['diff', '/x', '/dr/x', '--to-server', other.connectString]);
      assert.equal(d.code, 12);
      assert.equal(d.stdout, '~ t: data "text\\n" -> "changed"\n');
      assert.match(d.stderr, new RegExp(`/dr/x on ${other.connectString.replace(/\./g, '\\.')}`));
      // The source's --auth is not sent to the other ensemble.
      const e = await zk(['cp', '/x', '/dr/x', '--to-server', other.connectString]);
      assert.equal(e.code, 4);
    });
  });
});
