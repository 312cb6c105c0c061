/**
 * The znode commands through the real binary (exit codes, stdout), each suite
 * in its own chroot; setup and checks through a core session on that chroot.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Session } from '../../src/core/session.js';
import { chrootSession, type ChrootSession } from '../helpers/session.js';
import { type CliResult, repoRoot, runCli, type RunCliOptions } from '../helpers/zk.js';

const tmp = (): string => mkdtempSync(join(process.env.ZKCTL_TEST_TMP ?? tmpdir(), 'zkcli-'));

function cli(c: ChrootSession) {
  return (args: string[], opts?: RunCliOptions): Promise<CliResult> => runCli([...args, '-s', c.server], opts);
}

function ok(r: CliResult): CliResult {
  assert.equal(r.code, 0, `exit ${r.code}: ${r.stderr}`);
  return r;
}

describe('cli: create, get, set, stat', { concurrency: 4 }, () => {
  let c: ChrootSession;
  let s: Session;
  let zk: ReturnType<typeof cli>;
  before(async () => {
    c = await chrootSession('znode-cli-rw');
    s = c.session;
    zk = cli(c);
  });
  after(async () => c.close());

  it('create prints the path; get writes the bytes as stored (no newline in a pipe)', async () => {
    assert.equal(ok(await zk(['create', '/a', 'hello'])).stdout, '/a\n');
    const g = ok(await zk(['get', '/a']));
    assert.equal(g.stdout, 'hello');
    assert.equal((await s.get('/a')).data.toString(), 'hello');
  });

  it('binary round trip: create --file random bytes, get > file, same bytes', async () => {
    const dir = tmp();
    const src = join(dir, 'in.bin');
    const dst = join(dir, 'out.bin');
    const bytes = randomBytes(300_000);
    bytes[0] = 0;
    bytes[1] = 0x0a;
    bytes[bytes.length - 1] = 0xff;
    writeFileSync(src, bytes);
    ok(await zk(['create', '/bin', '--file', src]));
    const fd = openSync(dst, 'w');
    const code = await new Promise<number | null>((resolve) => {
      const child = spawn(process.execPath, [join(repoRoot, 'bin', 'zkctl.js'), 'get', '/bin', '-s', c.server], { stdio: ['ignore', fd, 'ignore'] });
      child.on('close', resolve);
    });
    closeSync(fd);
    assert.equal(code, 0);
    assert.ok(readFileSync(dst).equals(bytes), 'bytes differ');
    // and through stdin
    ok(await zk(['set', '/bin', '-'], { input: bytes.subarray(0, 1000) }));
    assert.ok((await s.get('/bin')).data.equals(bytes.subarray(0, 1000)));
  });

  it('get --format: hex, base64, json/yaml pretty-print; invalid JSON is exit 2', async () => {
    await s.create('/j', Buffer.from('{"pool":{"size":10}}'));
    assert.equal(ok(await zk(['get', '/j', '--format', 'json'])).stdout, '{\n  "pool": {\n    "size": 10\n  }\n}\n');
    assert.equal(ok(await zk(['get', '/j', '--format', 'yaml'])).stdout, 'pool:\n  size: 10\n');
    assert.equal(ok(await zk(['get', '/j', '--format', 'hex'])).stdout, `${Buffer.from('{"pool":{"size":10}}').toString('hex')}\n`);
    await s.create('/notjson', Buffer.from('pool=10'));
    const bad = await zk(['get', '/notjson', '--format', 'json']);
    assert.equal(bad.code, 2);
    assert.equal(bad.stdout, '');
    assert.match(bad.stderr, /not valid JSON/);
    assert.equal(bad.stderr.trim().split('\n').length, 1);
  });

  it('get -o json: data (utf8 or base64) and stat', async () => {
    await s.create('/gj', Buffer.from([0xff, 0x00, 0x01]));
    const j = JSON.parse(ok(await zk(['get', '/gj', '-o', 'json'])).stdout);
    assert.equal(j.encoding, 'base64');
    assert.equal(j.data, Buffer.from([0xff, 0x00, 0x01]).toString('base64'));
    assert.equal(j.stat.dataLength, 3);
    const t = JSON.parse(ok(await zk(['get', '/j', '--json'])).stdout);
    assert.deepEqual([t.encoding, t.data], ['utf8', '{"pool":{"size":10}}']);
  });

  it('get of a missing node is exit 3', async () => {
    const r = await zk(['get', '/missing']);
    assert.equal(r.code, 3);
    assert.match(r.stderr, /no such node/);
  });

  it('stat: zkCli layout and JSON', async () => {
    await s.create('/st', Buffer.from('abc'));
    await s.set('/st', Buffer.from('abcd'));
    const out = ok(await zk(['stat', '/st'])).stdout;
    const lines = out.trim().split('\n');
    assert.deepEqual(
      lines.map((l) => l.split(' = ')[0]),
      ['cZxid', 'ctime', 'mZxid', 'mtime', 'pZxid', 'cversion', 'dataVersion', 'aclVersion', 'ephemeralOwner', 'dataLength', 'numChildren'],
    );
    assert.match(out, /^cZxid = 0x[0-9a-f]+$/m);
    assert.match(out, /^ctime = (Sun|Mon|Tue|Wed|Thu|Fri|Sat) [A-Z][a-z]{2} \d\d \d\d:\d\d:\d\d \S+ \d{4}$/m);
    assert.match(out, /^dataVersion = 1$/m);
    assert.match(out, /^ephemeralOwner = 0x0$/m);
    assert.match(out, /^dataLength = 4$/m);
    const j = JSON.parse(ok(await zk(['stat', '/st', '--json'])).stdout);
    assert.equal(j.dataVersion, 1);
    assert.equal(j.dataLength, 4);
    assert.equal(j.path, '/st');
  });

  it('set with -v is compare-and-set: exit 5 on conflict, data unchanged', async () => {
    await s.create('/cas', Buffer.from('v0'));
    ok(await zk(['set', '/cas', 'v1', '-v', '0']));
    const r = await zk(['set', '/cas', 'v2', '-v', '0']);
    assert.equal(r.code, 5);
    assert.match(r.stderr, /version conflict/);
    const { data, stat } = await s.get('/cas');
    assert.equal(data.toString(), 'v1');
    assert.equal(stat.version, 1);
    const j = JSON.parse(ok(await zk(['set', '/cas', 'v2', '-v', '1', '--json'])).stdout);
    assert.equal(j.stat.dataVersion, 2);
  });

  it('create -S gets the real sequential name; -p creates parents', async () => {
    await s.create('/q');
    const a = ok(await zk(['create', '-S', '/q/job-', 'x'])).stdout.trim();
    const b = ok(await zk(['create', '-S', '/q/job-'])).stdout.trim();
    assert.match(a, /^\/q\/job-\d{10}$/);
    assert.ok(b > a);
    assert.notEqual(await s.exists(a), null);
    const noParent = await zk(['create', '/x/y/z']);
    assert.equal(noParent.code, 3);
    assert.match(noParent.stderr, /-p/);
    assert.equal(ok(await zk(['create', '-p', '/x/y/z', 'deep'])).stdout, '/x/y/z\n');
    assert.equal((await s.get('/x/y/z')).data.toString(), 'deep');
    assert.equal((await zk(['create', '/x/y/z'])).code, 4);
  });

  it('create -e: ephemeral, gone when zkctl exits; -c container; -t TTL; --acl', async () => {
    assert.equal(ok(await zk(['create', '-e', '/eph'])).stdout, '/eph\n');
    assert.equal(await s.exists('/eph'), null);
    ok(await zk(['create', '-c', '/cont']));
    assert.notEqual(await s.exists('/cont'), null);
    ok(await zk(['create', '-t', '1h', '/ttl']));
    assert.notEqual(await s.exists('/ttl'), null);
    ok(await zk(['create', '/locked', '--acl', 'world:anyone:r', '--acl', 'digest-password:ops:pw:cdrwa']));
    const { acl } = await s.getACL('/locked');
    assert.deepEqual(acl.map((a) => `${a.id.scheme}:${a.id.id.split(':')[0]}:${a.perms}`), ['world:anyone:1', 'digest:ops:31']);
    assert.equal((await zk(['set', '/locked', 'x'])).code, 7);
    ok(await zk(['set', '/locked', 'x', '--auth', 'digest:ops:pw']));
  });

  it('create -e --hold keeps the node until Ctrl-C, then exits 0', async () => {
    const run = zk(['create', '-e', '/held', '--hold'], { signal: 'SIGINT', signalAfterMs: 2500 });
    let seen = false;
    for (let i = 0; i < 40 && !seen; i++) {
      await new Promise((r) => setTimeout(r, 100));
      seen = (await s.exists('/held')) !== null;
    }
    assert.ok(seen, 'ephemeral node never appeared');
    const r = await run;
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, '/held\n');
  });
});

describe('cli: get -w', { concurrency: 3 }, () => {
  let c: ChrootSession;
  let s: Session;
  let zk: ReturnType<typeof cli>;
  before(async () => {
    c = await chrootSession('znode-cli-watch');
    s = c.session;
    zk = cli(c);
    await s.create('/w1', Buffer.from('old'));
    await s.create('/w2', Buffer.from('old'));
    await s.create('/w3', Buffer.from('old'));
    await s.create('/w4', Buffer.from('old'));
  });
  after(async () => c.close());

  /** Change the node once the CLI's watch is set (it checks with its own session, so poll for the watcher). */
  async function afterWatch(path: string, act: () => Promise<unknown>): Promise<void> {
    // the CLI needs a moment to start and connect; changes before its read would be missed by design
    await new Promise((r) => setTimeout(r, 2500));
    await act();
    void path;
  }

  it('prints the new data after the next change', async () => {
    const run = zk(['get', '/w1', '-w', '--for', '20s']);
    await afterWatch('/w1', () => s.set('/w1', Buffer.from('new')));
    const r = await run;
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'new');
  });

  it('exit 3 when the node is deleted while waiting', async () => {
    const run = zk(['get', '/w2', '-w']);
    await afterWatch('/w2', () => s.delete('/w2'));
    const r = await run;
    assert.equal(r.code, 3);
    assert.match(r.stderr, /deleted/);
  });

  it('--for bounds the wait: exit 8', async () => {
    const r = await zk(['get', '/w3', '-w', '--for', '500ms']);
    assert.equal(r.code, 8);
    assert.equal(r.stdout, '');
  });

  it('Ctrl-C exits 130 cleanly', async () => {
    const r = await zk(['get', '/w4', '-w'], { signal: 'SIGINT', signalAfterMs: 2000 });
    assert.equal(r.code, 130);
    assert.equal(r.signal, null, 'should exit by itself, not die of the signal');
    assert.match(r.stderr, /interrupted/);
  });
});

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
    const before = await s.getAllChildrenNumber('/');
    for (const args of [['rm', '-r', '/'], ['rm', '/'], ['rm', '-r', '/zookeeper'], ['rm', '/zookeeper/quota']]) {
      // without the chroot: the real /zookeeper
      const r = await runCli([...args, '-s', c.server.slice(0, c.server.indexOf('/'))]);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr} ${r.stdout}`);
      assert.match(r.stderr, /refusing/);
    }
    const inChroot = await zk(['rm', '-r', '/']);
    assert.equal(inChroot.code, 2, `${inChroot.stderr} ${inChroot.stdout}`);
    assert.equal(await s.getAllChildrenNumber('/'), before);
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
