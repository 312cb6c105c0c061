/**
 * The znode commands through the real binary (exit codes, stdout), each suite
 * in its own chroot; setup and checks through a core session on that chroot.
 * create, get (formats, binary, -w), set (CAS), stat.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Session } from '../../src/core/session.js';
import { chrootSession, type ChrootSession } from '../helpers/session.js';
import { repoRoot } from '../helpers/zk.js';
import { cli, ok, startCli, tmp, until, watched } from './util.js';

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

  it('get --format hex on a terminal is a dump as xxd (the shell\'s get -x); a pipe keeps the flat string', async () => {
    await s.create('/hexd', Buffer.from('hello world\n\u0000\u0001\u001bABCDEFGH'));
    const bin = `"${process.execPath}" "${join(repoRoot, 'bin', 'zkctl.js')}"`;
    // script(1) gives the command a real pseudo-terminal; the terminal turns \n into \r\n.
    const r = spawnSync('script', ['-q', '-e', '-c', `${bin} get /hexd --format hex -s ${c.server}`, '/dev/null'], { encoding: 'utf8', timeout: 60_000, env: { ...process.env, NO_COLOR: '1' } });
    assert.equal(r.status, 0, r.stderr);
    const lines = r.stdout.replace(/\r\n/g, '\n').split('\n').filter((l) => l.startsWith('000000'));
    assert.deepEqual(lines, ['00000000: 6865 6c6c 6f20 776f 726c 640a 0001 1b41  hello world....A', '00000010: 4243 4445 4647 48                        BCDEFGH']);
    assert.equal(ok(await zk(['get', '/hexd', '--format', 'hex'])).stdout, '68656c6c6f20776f726c640a00011b4142434445464748\n');
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
    ok(await zk(['create', '/locked', '--acl', 'world:anyone:r', 'payload', '--acl', 'digest-password:ops:pw:cdrwa']));
    assert.equal((await s.get('/locked')).data.toString(), 'payload');
    const { acl } = await s.getACL('/locked');
    assert.deepEqual(acl.map((a) => `${a.id.scheme}:${a.id.id.split(':')[0]}:${a.perms}`), ['world:anyone:1', 'digest:ops:31']);
    assert.equal((await zk(['set', '/locked', 'x'])).code, 7);
    ok(await zk(['set', '/locked', 'x', '--auth', 'digest:ops:pw']));
  });

  it('create -e --hold keeps the node until Ctrl-C, then exits 0', async () => {
    const run = startCli(['create', '-e', '/held', '--hold', '-s', c.server]);
    await until('ephemeral node appears', async () => (await s.exists('/held')) !== null);
    run.child.kill('SIGINT');
    const r = await run.done;
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, '/held\n');
    await until('ephemeral node goes', async () => (await s.exists('/held')) === null, 5000);
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

  it('prints the new data after the next change', async () => {
    const run = startCli(['get', '/w1', '-w', '--for', '30s', '-s', c.server]);
    await until('watch set', () => watched(`${c.chroot}/w1`));
    await s.set('/w1', Buffer.from('new'));
    const r = await run.done;
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'new');
  });

  it('exit 3 when the node is deleted while waiting', async () => {
    const run = startCli(['get', '/w2', '-w', '-s', c.server]);
    await until('watch set', () => watched(`${c.chroot}/w2`));
    await s.delete('/w2');
    const r = await run.done;
    assert.equal(r.code, 3);
    assert.match(r.stderr, /deleted while waiting/);
  });

  it('--for bounds the wait: exit 8', async () => {
    const r = await zk(['get', '/w3', '-w', '--for', '500ms']);
    assert.equal(r.code, 8);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /no change/);
  });

  it('Ctrl-C exits 130 cleanly', async () => {
    const run = startCli(['get', '/w4', '-w', '-s', c.server]);
    await until('watch set', () => watched(`${c.chroot}/w4`));
    run.child.kill('SIGINT');
    const r = await run.done;
    assert.equal(r.code, 130);
    assert.equal(r.signal, null, 'should exit by itself, not die of the signal');
    assert.match(r.stderr, /^zkctl: interrupted\n$/);
  });
});

