/**
 * The znode commands through the real binary (exit codes, stdout), each suite
 * in its own chroot; setup and checks through a core session on that chroot.
 * ls, tree, find, grep, du, count, ephemerals, whoami, sync; unreadable nodes.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Session } from '../../src/core/session.js';
import { chrootSession, type ChrootSession } from '../helpers/session.js';
import { cli, ok } from './util.js';

describe('cli: listing and searching', { concurrency: 4 }, () => {
  let c: ChrootSession;
  let s: Session;
  let zk: ReturnType<typeof cli>;
  let owner: Session;
  before(async () => {
    c = await chrootSession('znode-cli-list');
    s = c.session;
    zk = cli(c);
    await s.create('/app', Buffer.from('root'));
    await s.create('/app/config', Buffer.from('{"db":"10.0.0.5"}'));
    await s.create('/app/config/db.json', Buffer.from('host: 10.0.0.5\nport: 5432'));
    await s.create('/app/config/web.json', Buffer.from('x'.repeat(2000)));
    await s.create('/app/locks');
    await s.create('/app/bin', Buffer.from([0xff, 0xfe, 0x31, 0x30]));
    owner = await Session.connect({ connectString: c.server, timeoutMs: 10_000 });
    await owner.create('/app/locks/lock-0000000001', Buffer.from('me'), { mode: 'ephemeral' });
  });
  after(async () => {
    await owner.close();
    await c.close();
  });

  it('ls: sorted child names; -R full paths; -l stat columns; JSON', async () => {
    assert.equal(ok(await zk(['ls', '/app'])).stdout, 'bin\nconfig\nlocks\n');
    assert.equal(
      ok(await zk(['ls', '-R', '/app'])).stdout,
      ['/app', '/app/bin', '/app/config', '/app/config/db.json', '/app/config/web.json', '/app/locks', '/app/locks/lock-0000000001', ''].join('\n'),
    );
    const long = ok(await zk(['ls', '-l', '/app/config'])).stdout.trim().split('\n').map((l) => l.split('\t'));
    assert.deepEqual(long.map((f) => [f[0], f[1], f[2], f[3], f[5]]), [
      ['0', '25', '0', '', 'db.json'],
      ['0', '2000', '0', '', 'web.json'],
    ]);
    assert.match(long[0][4], /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);
    const locks = ok(await zk(['ls', '-l', '/app/locks'])).stdout.split('\t');
    assert.equal(locks[3], owner.sessionIdHex);
    assert.deepEqual(JSON.parse(ok(await zk(['ls', '/app', '-o', 'json'])).stdout), ['bin', 'config', 'locks']);
    const lj = JSON.parse(ok(await zk(['ls', '-lR', '/app/locks', '--json'])).stdout);
    assert.equal(lj.length, 2);
    assert.equal(lj[1].ephemeralOwner, owner.sessionIdHex);
    assert.equal((await zk(['ls', '/none'])).code, 3);
  });

  it('tree: box drawing, ephemeral marked, --depth, --sizes', async () => {
    const t = ok(await zk(['tree', '/app'])).stdout;
    assert.equal(
      t,
      [
        '/app',
        '├── bin',
        '├── config',
        '│   ├── db.json',
        '│   └── web.json',
        '└── locks',
        `    └── lock-0000000001 (ephemeral ${owner.sessionIdHex})`,
        '',
      ].join('\n'),
    );
    const d = ok(await zk(['tree', '/app', '--depth', '1'])).stdout;
    assert.match(d, /^├── config {2}\[\+2 children\]$/m);
    assert.doesNotMatch(d, /db\.json/);
    const z = ok(await zk(['tree', '/app/config', '--sizes'])).stdout;
    assert.match(z, /^\/app\/config {2}\[17 B, 2 children\]$/m);
    assert.match(z, /^└── web\.json {2}\[2 KiB, 0 children\]$/m);
  });

  it('find: --name, --regex, --ephemeral, --min-size', async () => {
    assert.equal(ok(await zk(['find', '/app', '--name', '*.json'])).stdout, '/app/config/db.json\n/app/config/web.json\n');
    assert.equal(ok(await zk(['find', '/app', '--regex', '^/app/[a-c][^/]*$'])).stdout, '/app/bin\n/app/config\n');
    assert.equal(ok(await zk(['find', '/', '--ephemeral'])).stdout, '/app/locks/lock-0000000001\n');
    assert.equal(ok(await zk(['find', '/app', '--min-size', '1k'])).stdout, '/app/config/web.json\n');
    assert.equal(ok(await zk(['find', '/app', '--name', 'nothing'])).stdout, '');
    assert.deepEqual(JSON.parse(ok(await zk(['find', '/app', '--name', 'l*', '-o', 'json'])).stdout), ['/app/locks', '/app/locks/lock-0000000001']);
  });

  it('grep: matching lines with line numbers, -l, -i, binary data', async () => {
    assert.equal(ok(await zk(['grep', '/app', '10\\.0\\.0\\.5'])).stdout, '/app/config:1:{"db":"10.0.0.5"}\n/app/config/db.json:1:host: 10.0.0.5\n');
    assert.equal(ok(await zk(['grep', '/app', 'PORT', '-i', '-l'])).stdout, '/app/config/db.json\n');
    assert.equal(ok(await zk(['grep', '/app', '10', '-F', '-d', '1'])).stdout, '/app/bin: binary data matches\n/app/config:1:{"db":"10.0.0.5"}\n');
    const j = JSON.parse(ok(await zk(['grep', '/app', 'port', '-o', 'json'])).stdout);
    assert.deepEqual(j, [{ path: '/app/config/db.json', line: 2, text: 'port: 5432' }]);
  });

  it('du: bytes and nodes per subtree, largest first; count', async () => {
    const rows = ok(await zk(['du', '/app'])).stdout.trim().split('\n').map((l) => l.split('\t'));
    assert.deepEqual(rows, [
      ['2052', '7', '/app'],
      ['2042', '3', '/app/config'],
      ['4', '1', '/app/bin'],
      ['2', '2', '/app/locks'],
    ]);
    assert.equal(ok(await zk(['count', '/app'])).stdout, '6\n');
    assert.deepEqual(JSON.parse(ok(await zk(['count', '/app', '--json'])).stdout), { path: '/app', count: 6 });
  });

  it('ephemerals: walks and shows the owner session; --owner filters', async () => {
    const out = ok(await zk(['ephemerals', '/'])).stdout.trim().split('\n').map((l) => l.split('\t'));
    assert.equal(out.length, 1);
    assert.equal(out[0][0], owner.sessionIdHex);
    assert.equal(out[0][3], '/app/locks/lock-0000000001');
    assert.equal(ok(await zk(['ephemerals', '/', '--owner', '0x1'])).stdout, '');
    assert.equal((await zk(['ephemerals', '/', '--owner', 'zz'])).code, 2);
  });

  it('whoami and sync', async () => {
    const who = ok(await zk(['whoami'])).stdout;
    assert.match(who, /^ip\t127\.0\.0\.1$/m);
    const auth = ok(await zk(['whoami', '--auth', 'digest:ops:pw', '-o', 'json'])).stdout;
    assert.ok(JSON.parse(auth).some((i: { scheme: string; id: string }) => i.scheme === 'digest' && i.id === 'ops'));
    ok(await zk(['sync', '/app']));
    assert.equal(JSON.parse(ok(await zk(['sync', '/app', '--json'])).stdout).path, '/app');
  });
});

describe('cli: unreadable nodes', () => {
  it('walks skip unreadable nodes with a note and exit 7', async () => {
    const c = await chrootSession('znode-cli-noauth');
    try {
      const s = c.session;
      await s.create('/app2');
      await s.create('/app2/secret', Buffer.alloc(0), { acl: [{ perms: 31, id: { scheme: 'digest', id: 'ops:bK2vrtycP3OyZ7p+aGPDYWwk0ZA=' } }] });
      await s.create('/app2/open');
      const r = await cli(c)(['find', '/app2']);
      assert.equal(r.code, 7);
      assert.equal(r.stdout, '/app2\n/app2/open\n');
      assert.match(r.stderr, /\/app2\/secret: not authorized/);
      assert.equal(ok(await cli(c)(['find', '/app2', '--auth', 'digest:ops:pw'])).stdout, '/app2\n/app2/open\n/app2/secret\n');
    } finally {
      await c.close();
    }
  });
});

