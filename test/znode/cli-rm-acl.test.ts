/**
 * The znode commands through the real binary (exit codes, stdout), each suite
 * in its own chroot; setup and checks through a core session on that chroot.
 * rm (-r, -v, refusals) and acl get/set.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Session } from '../../src/core/session.js';
import { chrootSession, type ChrootSession } from '../helpers/session.js';
import { runCli } from '../helpers/zk.js';
import { cli, ok } from './util.js';

describe('cli: rm and acl', { concurrency: 4 }, () => {
  let c: ChrootSession;
  let s: Session;
  let zk: ReturnType<typeof cli>;
  before(async () => {
    c = await chrootSession('znode-cli-rm');
    s = c.session;
    zk = cli(c);
  });
  after(async () => c.close());

  async function mk(root: string, width: number): Promise<number> {
    await s.create(root);
    const ops: Array<Promise<unknown>> = [];
    for (let i = 0; i < width; i++) {
      ops.push(s.create(`${root}/n${i}`));
      ops.push(s.create(`${root}/n${i}/leaf`));
    }
    await Promise.all(ops);
    return 1 + 2 * width;
  }

  it('rm -r deletes bottom-up and reports the count; --dry-run counts only', async () => {
    const n = await mk('/r', 150);
    const dry = ok(await zk(['rm', '-r', '/r', '--dry-run']));
    assert.equal(dry.stdout, `would delete ${n} nodes (/r)\n`);
    assert.equal(await s.getAllChildrenNumber('/r'), n - 1);
    const r = ok(await zk(['rm', '-r', '/r', '--window', '50']));
    assert.equal(r.stdout, `deleted ${n} nodes (/r)\n`);
    assert.equal(await s.exists('/r'), null);
    await mk('/rj', 2);
    assert.deepEqual(JSON.parse(ok(await zk(['rm', '-r', '/rj', '--json'])).stdout), { path: '/rj', deleted: 5, dryRun: false });
  });

  it('rm without -r: exit 6 on children; -v checks the version (exit 5)', async () => {
    await mk('/ne', 1);
    const r = await zk(['rm', '/ne']);
    assert.equal(r.code, 6);
    assert.notEqual(await s.exists('/ne'), null);
    await s.create('/v', Buffer.from('a'));
    await s.set('/v', Buffer.from('b'));
    assert.equal((await zk(['rm', '/v', '-v', '0'])).code, 5);
    assert.notEqual(await s.exists('/v'), null);
    assert.equal(ok(await zk(['rm', '/v', '-v', '1'])).stdout, '');
    assert.equal(await s.exists('/v'), null);
    await mk('/rv', 1);
    assert.equal((await zk(['rm', '-r', '/rv', '-v', '9'])).code, 5);
    assert.equal(await s.getAllChildrenNumber('/rv'), 2);
  });

  it('rm refuses / and /zookeeper (exit 2) and deletes nothing', async () => {
    await mk('/keep', 2);
    for (const args of [['rm', '-r', '/'], ['rm', '/'], ['rm', '-r', '/zookeeper'], ['rm', '/zookeeper/quota']]) {
      // without the chroot: the real /zookeeper
      const r = await runCli([...args, '-s', c.server.slice(0, c.server.indexOf('/'))]);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr} ${r.stdout}`);
      assert.match(r.stderr, /refusing/);
    }
    const inChroot = await zk(['rm', '-r', '/']);
    assert.equal(inChroot.code, 2, `${inChroot.stderr} ${inChroot.stdout}`);
    assert.equal(await s.getAllChildrenNumber('/keep'), 4);
  });

  it('acl get / acl set: round trip, -v, -R', async () => {
    await mk('/acl', 3);
    assert.equal(ok(await zk(['acl', 'get', '/acl'])).stdout, 'world:anyone:cdrwa\n');
    ok(await zk(['acl', 'set', '/acl', 'world:anyone:r,digest-password:ops:pw:cdrwa', '-v', '0']));
    const listed = ok(await zk(['acl', 'get', '/acl', '--auth', 'digest:ops:pw'])).stdout.trim().split('\n');
    assert.deepEqual(listed, ['world:anyone:r', 'digest:ops:bK2vrtycP3OyZ7p+aGPDYWwk0ZA=:cdrwa']);
    const j = JSON.parse(ok(await zk(['acl', 'get', '/acl', '-o', 'json'])).stdout);
    assert.equal(j.aclVersion, 1);
    const conflict = await zk(['acl', 'set', '/acl', 'world:anyone:cdrwa', '-v', '0', '--auth', 'digest:ops:pw']);
    assert.equal(conflict.code, 5);
    assert.equal((await zk(['acl', 'set', '/acl', 'world:anyone:cdrwa'])).code, 7);
    ok(await zk(['acl', 'set', '/acl', ...listed, 'ip:127.0.0.1:cdrwa', '--auth', 'digest:ops:pw']));
    assert.equal((await s.getACL('/acl')).acl.length, 3);
    const rec = ok(await zk(['acl', 'set', '-R', '/acl/n1', 'world:anyone:rw']));
    assert.equal(rec.stdout, 'updated the ACL of 2 nodes (/acl/n1)\n');
    assert.equal((await s.getACL('/acl/n1/leaf')).acl[0].perms, 3);
    assert.equal((await s.getACL('/acl/n0/leaf')).acl[0].perms, 31);
  });
});
