/**
 * export / import through the real binary on the shared ensemble, each suite in
 * its own chroot: lossless round trips, refusal, --merge / --overwrite,
 * --dry-run, malformed files, failures part-way (rolled back).
 */
import assert from 'node:assert/strict';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { applyPlan, formatBackup, ImportFailedError, parseBackup, planImport, readTree } from '../../src/core/backup.js';
import { ZkCode, ZkError } from '../../src/core/errors.js';
import { Session } from '../../src/core/session.js';
import { chrootSession, type ChrootSession } from '../helpers/session.js';
import { assertSameTree, buildTree, cli, digestId, ok, snapshot, superAuth, tmp } from './util.js';

describe('export / import', { concurrency: 3 }, () => {
  let c: ChrootSession;
  let s: Session; // super: sees and may do everything
  let zk: ReturnType<typeof cli>;
  before(async () => {
    c = await chrootSession('backup');
    await c.session.close();
    s = await Session.connect({ connectString: c.server, timeoutMs: 10_000, auth: [{ scheme: 'digest', credential: superAuth().slice('digest:'.length) }] });
    zk = cli(c, superAuth());
  });
  after(async () => s.close());

  for (const format of ['yaml', 'json']) {
    it(`round trip (${format}, --file) leaves the tree byte-identical: data, ACLs, ephemeral listed not re-created`, async () => {
      await buildTree(s, `/rt-${format}`);
      // An ephemeral node held by another session.
      const holder = await Session.connect({ connectString: c.server, timeoutMs: 10_000 });
      try {
        await holder.create(`/rt-${format}/lock`, Buffer.from('me'), { mode: 'ephemeral' });
        const file = join(tmp(), `b.${format}`);
        const e = ok(await zk(['export', `/rt-${format}`, '--file', file]));
        assert.match(e.stdout, /exported 5\d nodes \(1 ephemeral\)/);
        assert.equal(statSync(file).mode & 0o777, 0o600);
        const text = readFileSync(file, 'utf8');
        if (format === 'json') JSON.parse(text);
        else assert.match(text, /^format: zkctl-backup$/m);
        assert.match(text, /ephemeral/);
        const i = ok(await zk(['import', file, `/rt-${format}-copy`]));
        assert.match(i.stdout, /\b5\d to create.*1 ephemeral skipped.*\(in 1 transaction\)/);
        const src = await snapshot(s, `/rt-${format}`, { ephemeral: false });
        const dst = await snapshot(s, `/rt-${format}-copy`);
        assertSameTree(src, dst);
        assert.ok(!dst.has('lock'));
        assert.equal(dst.get('ro')?.acl, `world:anyone:r,digest:${digestId('bob', 'secret')}:cdrwa`);
      } finally {
        await holder.close();
      }
    });
  }

  it('round trip through stdout and stdin ("> file", "-"), also with -o json', async () => {
    await buildTree(s, '/pipe');
    const y = ok(await zk(['export', '/pipe']));
    assert.match(y.stdout, /^# zkctl backup/);
    ok(await zk(['import', '-', '/pipe-y'], { input: y.stdout }));
    assertSameTree(await snapshot(s, '/pipe'), await snapshot(s, '/pipe-y'));
    const j = ok(await zk(['export', '/pipe', '-o', 'json']));
    JSON.parse(j.stdout);
    ok(await zk(['import', '-', '/pipe-j'], { input: j.stdout }));
    assertSameTree(await snapshot(s, '/pipe'), await snapshot(s, '/pipe-j'));
  });

  it('a tree larger than one transaction: several transactions, still identical', async () => {
    await buildTree(s, '/big', { extraNodes: 1500 });
    const file = join(tmp(), 'big.yaml');
    ok(await zk(['export', '/big', '-f', file]));
    const r = ok(await zk(['import', file, '/big-copy', '--max-txn-bytes', '20000']));
    const m = /in (\d+) transactions/.exec(r.stdout);
    assert.ok(m && Number(m[1]) > 3, r.stdout);
    assertSameTree(await snapshot(s, '/big'), await snapshot(s, '/big-copy'));
  });

  it('refuses a non-empty target (exit 4) and writes nothing; an empty existing node is fine; a missing parent is exit 3', async () => {
    await buildTree(s, '/src1');
    const file = join(tmp(), 'src1.yaml');
    ok(await zk(['export', '/src1', '-f', file]));
    await s.create('/full', Buffer.from('x'));
    await s.create('/full/keep', Buffer.from('k'));
    const before = await snapshot(s, '/full');
    const r = await zk(['import', file, '/full']);
    assert.equal(r.code, 4, r.stderr);
    assert.match(r.stderr, /not empty.*--merge.*--overwrite/);
    assert.equal(r.stderr.trim().split('\n').length, 1);
    assertSameTree(before, await snapshot(s, '/full'));
    // data only, no children: still not empty
    await s.create('/dataonly', Buffer.from('x'));
    assert.equal((await zk(['import', file, '/dataonly'])).code, 4);
    // an existing empty node takes the root's data and ACL
    await s.create('/emptynode');
    ok(await zk(['import', file, '/emptynode']));
    assertSameTree(await snapshot(s, '/src1'), await snapshot(s, '/emptynode'));
    const m = await zk(['import', file, '/no/such/parent']);
    assert.equal(m.code, 3, m.stderr);
    assert.equal(await s.exists('/no'), null);
  });

  it('--merge adds what is missing and leaves existing nodes and extra nodes as they are', async () => {
    await s.create('/m');
    await s.create('/m/a', Buffer.from('A'));
    await s.create('/m/b', Buffer.from('B'));
    const file = join(tmp(), 'm.yaml');
    ok(await zk(['export', '/m', '-f', file]));
    await s.set('/m/a', Buffer.from('A changed'));
    await s.delete('/m/b');
    await s.create('/m/extra', Buffer.from('E'));
    const r = ok(await zk(['import', file, '/m', '--merge']));
    assert.match(r.stdout, /1 to create, 1 existing left as they are/);
    assert.equal((await s.get('/m/a')).data.toString(), 'A changed');
    assert.equal((await s.get('/m/b')).data.toString(), 'B');
    assert.equal((await s.get('/m/extra')).data.toString(), 'E');
  });

  it('--overwrite makes the target exactly the backup (data, ACLs, extra nodes deleted)', async () => {
    await buildTree(s, '/o');
    const file = join(tmp(), 'o.json');
    ok(await zk(['export', '/o', '-f', file]));
    const want = await snapshot(s, '/o');
    await s.set('/o/utf8', Buffer.from('changed'));
    await s.setACL('/o/empty', [{ perms: 1, id: { scheme: 'world', id: 'anyone' } }]);
    await s.delete('/o/deep/d0/d1/d2/d3/d4/d5/d6/d7/d8/d9/d10/d11/d12/d13/d14/d15/d16/d17/d18/d19/d20/d21/d22/d23/d24/d25/d26/d27/d28/d29/d30/d31/d32/d33/d34/d35/d36/d37/d38/d39');
    await s.create('/o/extra', Buffer.from('x'));
    await s.create('/o/extra/deeper', Buffer.from('y'));
    const r = ok(await zk(['import', file, '/o', '--overwrite']));
    assert.match(r.stdout, /1 to create, 1 data updates, 1 ACL changes, 2 to delete/);
    assertSameTree(want, await snapshot(s, '/o'));
    // Again: nothing to do.
    const again = ok(await zk(['import', file, '/o', '--overwrite']));
    assert.match(again.stdout, /0 to create.*nothing to write/);
  });

  it('--merge and --overwrite exclude each other (exit 2)', async () => {
    const r = await zk(['import', 'x.yaml', '/x', '--merge', '--overwrite']);
    assert.equal(r.code, 2);
  });

  it('--dry-run lists the changes and writes nothing', async () => {
    await s.create('/dr');
    await s.create('/dr/a', Buffer.from('A'));
    const file = join(tmp(), 'dr.yaml');
    ok(await zk(['export', '/dr', '-f', file]));
    const fresh = ok(await zk(['import', file, '/dr-new', '--dry-run']));
    assert.match(fresh.stdout, /^create\t\/dr-new\t/m);
    assert.match(fresh.stdout, /^create\t\/dr-new\/a\t/m);
    assert.equal(await s.exists('/dr-new'), null);
    await s.set('/dr/a', Buffer.from('B'));
    await s.create('/dr/x');
    const before = await snapshot(s, '/dr');
    const ow = ok(await zk(['import', file, '/dr', '--overwrite', '--dry-run', '-o', 'json']));
    const j = JSON.parse(ow.stdout) as { dryRun: boolean; counts: { update: number; delete: number }; changes: Array<{ action: string; path: string }> };
    assert.equal(j.dryRun, true);
    assert.equal(j.counts.update, 1);
    assert.equal(j.counts.delete, 1);
    assert.deepEqual(
      j.changes.map((x) => `${x.action} ${x.path}`),
      ['update /dr/a', 'delete /dr/x'],
    );
    assertSameTree(before, await snapshot(s, '/dr'));
  });

  const malformed: Array<[string, string, RegExp]> = [
    ['bad YAML', 'format: zkctl-backup\nversion: 1\nnodes:\n- path: .\n- path: a\n  data: "oops\ncount: 2\n', /bad\.yaml:\d+/],
    ['truncated (no count)', 'format: zkctl-backup\nversion: 1\nnodes:\n- path: .\n- path: a\n', /truncated/],
    ['unknown field', 'format: zkctl-backup\nversion: 1\nnodes:\n- path: .\n- path: a\n  acls: []\ncount: 2\n', /bad\.yaml:5: node "a": unknown field "acls"/],
    ['bad ACL late in the file', 'format: zkctl-backup\nversion: 1\nnodes:\n- path: .\n- path: a\n- path: b\n  acl: [world:anyone:xyz]\ncount: 3\n', /bad\.yaml:6: node "b": .*unknown permission/],
    ['not a backup', 'hello: world\n', /not a zkctl backup/],
    ['bad JSON', '{"format":"zkctl-backup","version":1,"nodes":[{"path":"."},{"path":"a"]}', /bad\.yaml:1:\d+: invalid JSON/],
  ];
  for (const [name, text, re] of malformed) {
    it(`a malformed file (${name}): one-line error with where, exit 2, nothing written`, async () => {
      const file = join(tmp(), 'bad.yaml');
      writeFileSync(file, text);
      const target = `/bad-${name.replace(/\W+/g, '-')}`;
      const r = await zk(['import', file, target]);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, re);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      assert.equal(await s.exists(target), null);
    });
  }
  it('a missing file is exit 2', async () => {
    const r = await zk(['import', '/nonexistent/file.yaml', '/x']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /no such file/);
  });

  it('a failure part-way through a multi-transaction import is rolled back: nothing half-imported (CLI, NO_AUTH)', async () => {
    // Without credentials, the children of the read-only node cannot be created:
    // with small transactions that failure comes after earlier transactions succeeded.
    await buildTree(s, '/fail', { extraNodes: 300 });
    const file = join(tmp(), 'fail.yaml');
    ok(await zk(['export', '/fail', '-f', file]));
    const b = parseBackup(readFileSync(file, 'utf8'));
    // Put the read-only subtree at the very end so earlier transactions apply first.
    const late = b.nodes.filter((n) => n.path === 'ro' || n.path.startsWith('ro/'));
    const rest = b.nodes.filter((n) => !(n.path === 'ro' || n.path.startsWith('ro/')));
    writeFileSync(file, formatBackup({ header: b.header, nodes: [...rest, ...late] }, 'yaml'));
    const anon = cli(c);
    const r = await anon(['import', file, '/fail-copy', '--max-txn-bytes', '4000']);
    assert.equal(r.code, 7, r.stderr);
    assert.match(r.stderr, /not authorized.*rolled back: nothing imported/);
    assert.equal(await s.exists('/fail-copy'), null);
  });

  it('a conflicting change between transactions fails the import (compare-and-set) and rolls back updates too', async () => {
    await buildTree(s, '/cas', { extraNodes: 200 });
    const backup = await readTree(s, '/cas');
    // Make the target differ everywhere so --overwrite updates many nodes.
    const target = '/cas-t';
    await s.create(target);
    for (const n of backup.nodes) if (n.path !== '.') await s.create(`${target}/${n.path}`, Buffer.from('old'), { acl: n.acl });
    const before = await snapshot(s, target);
    const plan = await planImport(s, backup, target, 'overwrite');
    assert.ok(plan.counts.update > 100);
    const other = await Session.connect({ connectString: c.server, timeoutMs: 10_000 });
    let txns = 0;
    try {
      await assert.rejects(
        applyPlan(s, plan, {
          maxTxnBytes: 3000,
          beforeTxn: async (i) => {
            txns++;
            // Another client changes a node a later transaction updates.
            if (i === 2) await other.set(`${target}/many1/n199`, Buffer.from('theirs'));
          },
        }),
        (e: unknown) => {
          assert.ok(e instanceof ImportFailedError, String(e));
          assert.equal(e.exitCode, 5);
          assert.match(e.message, /rolled back: nothing imported/);
          return true;
        },
      );
    } finally {
      await other.close();
    }
    assert.ok(txns > 3);
    const after = await snapshot(s, target);
    before.set('many1/n199', { ...before.get('many1/n199')!, data: Buffer.from('theirs').toString('hex') });
    assertSameTree(before, after);
  });

  it('an interrupted import (Ctrl-C: the signal) is rolled back, exit 130', async () => {
    await buildTree(s, '/intr', { extraNodes: 200 });
    const backup = await readTree(s, '/intr');
    const plan = await planImport(s, backup, '/intr-copy', 'create');
    const ac = new AbortController();
    await assert.rejects(
      applyPlan(s, plan, { maxTxnBytes: 3000, signal: ac.signal, beforeTxn: (i) => void (i === 3 && ac.abort()) }),
      (e: unknown) => e instanceof ImportFailedError && e.exitCode === 130,
    );
    assert.equal(await s.exists('/intr-copy'), null);
  });

  it('a connection lost during a transaction (outcome unknown) is found out and rolled back', async () => {
    await buildTree(s, '/lost', { extraNodes: 200 });
    const backup = await readTree(s, '/lost');
    const own = await Session.connect({ connectString: c.server, timeoutMs: 10_000, auth: [{ scheme: 'digest', credential: superAuth().slice('digest:'.length) }] });
    try {
      const plan = await planImport(own, backup, '/lost-copy', 'create');
      await assert.rejects(
        applyPlan(own, plan, {
          maxTxnBytes: 3000,
          // Drop the connection right after transaction 4 is sent, before its reply.
          beforeTxn: (i) => void (i === 4 && setImmediate(() => own.dropConnection())),
        }),
        (e: unknown) => {
          assert.ok(e instanceof ImportFailedError, String(e));
          assert.equal(e.exitCode, 8);
          assert.match(e.message, /rolled back: nothing imported/);
          return true;
        },
      );
    } finally {
      await own.close();
    }
    assert.equal(await s.exists('/lost-copy'), null);
  });

  it('export fails (exit 7) on a digest ACL the server redacts, unless --allow-redacted', async () => {
    await s.create('/red');
    await s.create('/red/x', Buffer.from('x'), { acl: [{ perms: 1, id: { scheme: 'world', id: 'anyone' } }, { perms: 31, id: { scheme: 'digest', id: digestId('bob', 'pw') } }] });
    const anon = cli(c);
    const r = await anon(['export', '/red']);
    assert.equal(r.code, 7, r.stderr);
    assert.match(r.stderr, /redacted/);
    const a = ok(await anon(['export', '/red', '--allow-redacted']));
    assert.match(a.stdout, /digest:bob:x:cdrwa/);
  });

  it('export of a missing node is exit 3; a failed export to --file leaves no file', async () => {
    const dir = tmp();
    const r = await zk(['export', '/nope', '-f', join(dir, 'x.yaml')]);
    assert.equal(r.code, 3);
    assert.throws(() => statSync(join(dir, 'x.yaml')));
  });

  it('creates container and TTL nodes named in the file (hand-written: clients cannot see these types)', async () => {
    const file = join(tmp(), 'types.yaml');
    writeFileSync(
      file,
      'format: zkctl-backup\nversion: 1\nnodes:\n- path: .\n- path: box\n  type: container\n- path: box/item\n- path: short\n  type: ttl\n  ttl: 1000\ncount: 4\n',
    );
    ok(await zk(['import', file, '/types']));
    assert.ok(await s.exists('/types/box'));
    // A container goes once its last child is deleted; a TTL node once its TTL passes unchanged.
    await s.delete('/types/box/item');
    const deadline = Date.now() + 30_000;
    let gone = { box: false, short: false };
    while (Date.now() < deadline && !(gone.box && gone.short)) {
      await new Promise((r) => setTimeout(r, 500));
      gone = { box: !(await s.exists('/types/box')), short: !(await s.exists('/types/short')) };
    }
    assert.deepEqual(gone, { box: true, short: true });
  });

  it('ZkError codes survive the rollback wrapper (NODE_EXISTS when the target appears meanwhile)', async () => {
    const backup = parseBackup('format: zkctl-backup\nversion: 1\nnodes:\n- path: .\n- path: a\ncount: 2\n');
    const plan = await planImport(s, backup, '/race', 'create');
    await s.create('/race');
    await assert.rejects(applyPlan(s, plan), (e: unknown) => e instanceof ZkError && e.code === ZkCode.NODE_EXISTS && e.exitCode === 4);
  });
});
