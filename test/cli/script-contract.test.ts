/**
 * What scripts rely on (issue #11, "Scripts"): one name per field in every JSON
 * output, exit codes of rm -f / grep / set, config's PATH argument, and the
 * small commands scripts reach for. Through the real binary, on a real ensemble.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Session } from '../../src/core/session.js';
import { STAT_JSON_FIELDS } from '../../src/output/znode.js';
import { chrootSession, type ChrootSession } from '../helpers/session.js';
import { repoRoot, runCli, testServer } from '../helpers/zk.js';
import { cli, ok, tmp } from '../znode/util.js';

/** Names that once meant a stat field somewhere and must not come back. */
const ALIASES = ['version', 'czxid', 'mzxid', 'pzxid', 'aversion', 'owner', 'created', 'mtimeISO', 'dataSize', 'children_count'];
const STAT = new Set<string>(STAT_JSON_FIELDS);

/** Every key of an object (and of a nested `stat`) that names a stat field must be one of `stat -o json`'s. */
function checkNames(what: string, o: Record<string, unknown>, expectStat: string[]): void {
  const keys = Object.keys(o);
  for (const a of ALIASES) assert.ok(!keys.includes(a), `${what}: "${a}" is another name for a stat field (${keys.join(',')})`);
  for (const k of expectStat) assert.ok(keys.includes(k), `${what}: no "${k}" (${keys.join(',')})`);
  for (const k of expectStat) assert.ok(STAT.has(k), `${k} is a stat name`);
  // Same value types as `stat -o json`.
  for (const k of keys.filter((x) => STAT.has(x))) {
    const want = /Zxid$|^ephemeralOwner$|Iso$/.test(k) ? 'string' : 'number';
    assert.equal(typeof o[k], want, `${what}: ${k} is a ${want} as in stat -o json (got ${JSON.stringify(o[k])})`);
  }
}

describe('JSON output: one name per stat field', { concurrency: 1 }, () => {
  let c: ChrootSession;
  let s: Session;
  let zk: ReturnType<typeof cli>;
  let owner: Session;
  before(async () => {
    c = await chrootSession('json-names');
    s = c.session;
    zk = cli(c);
    await s.create('/app', Buffer.from('root'));
    await s.create('/app/a', Buffer.from('x'));
    await s.create('/lk');
    owner = await Session.connect({ connectString: c.server, timeoutMs: 10_000 });
    await owner.create(`/lk/_c_${randomUUID()}-lock-0000000001`, Buffer.from('me'), { mode: 'ephemeral' });
  });
  after(async () => {
    await owner.close();
    await c.close();
  });

  it('stat, get, ls -l, find -l, create, set, tree, ephemerals and lock ls use the names of stat -o json', async () => {
    const st = JSON.parse(ok(await zk(['stat', '/app', '-o', 'json'])).stdout) as Record<string, unknown>;
    assert.deepEqual(Object.keys(st).filter((k) => k !== 'path'), [...STAT_JSON_FIELDS], 'stat -o json is the stat object');
    const full = [...STAT_JSON_FIELDS];

    const g = JSON.parse(ok(await zk(['get', '/app', '-o', 'json'])).stdout) as { stat: Record<string, unknown> };
    assert.deepEqual(Object.keys(g.stat), full, 'get -o json: the same stat object');

    const ls = JSON.parse(ok(await zk(['ls', '-l', '/app', '-o', 'json'])).stdout) as Array<Record<string, unknown>>;
    checkNames('ls -l', ls[0]!, full);
    assert.deepEqual(ls[0], JSON.parse(ok(await zk(['stat', '/app/a', '-o', 'json'])).stdout), 'an ls -l row is what stat -o json says');

    const f = JSON.parse(ok(await zk(['find', '/app', '-l', '-o', 'json'])).stdout) as Array<Record<string, unknown>>;
    checkNames('find -l', f[0]!, full);

    const cr = JSON.parse(ok(await zk(['create', '/app/b', 'y', '-o', 'json'])).stdout) as { stat: Record<string, unknown> };
    assert.deepEqual(Object.keys(cr.stat), full, 'create -o json');
    const se = JSON.parse(ok(await zk(['set', '/app/b', 'z', '-o', 'json'])).stdout) as { stat: Record<string, unknown> };
    assert.deepEqual(Object.keys(se.stat), full, 'set -o json');

    const t = JSON.parse(ok(await zk(['tree', '/app', '-o', 'json'])).stdout) as Array<Record<string, unknown>>;
    checkNames('tree', t[0]!, ['dataLength', 'numChildren', 'ephemeralOwner']);
    assert.equal(t[0]!.ephemeralOwner, st.ephemeralOwner, 'tree: ephemeralOwner as stat writes it (0x0)');

    const e = JSON.parse(ok(await zk(['ephemerals', '/', '-o', 'json'])).stdout) as Array<Record<string, unknown>>;
    checkNames('ephemerals', e[0]!, ['ephemeralOwner', 'ctime', 'dataLength']);

    const l = JSON.parse(ok(await zk(['lock', 'ls', '/lk', '-o', 'json'])).stdout) as Array<Record<string, unknown>>;
    checkNames('lock ls', l[0]!, ['cZxid', 'ctime', 'ctimeIso']);
    const nodeStat = JSON.parse(ok(await zk(['stat', `/lk/${String(l[0]!.node)}`, '-o', 'json'])).stdout) as Record<string, unknown>;
    assert.equal(l[0]!.cZxid, nodeStat.cZxid);
  });
});

describe('config: the path is an argument everywhere', { concurrency: 1 }, () => {
  let c: ChrootSession;
  let zk: ReturnType<typeof cli>;
  let dir: string;
  before(async () => {
    c = await chrootSession('config-args');
    zk = cli(c);
    dir = tmp();
  });
  after(async () => c.close());

  it('publish/diff PATH FILE; the old FILE --path PATH works with one deprecation line; mistakes are exit 2 with a hint', async () => {
    const f = join(dir, 'app.yaml');
    writeFileSync(f, 'a: 1\n');
    const pub = ok(await zk(['config', 'publish', '/cfg', f, '-o', 'json']));
    assert.equal(pub.stderr, '');
    assert.equal(JSON.parse(pub.stdout).version, 1);
    const d = await zk(['config', 'diff', '/cfg', f]);
    assert.equal(d.code, 0, d.stderr);

    writeFileSync(f, 'a: 2\n');
    for (const flag of ['--path', '-p']) {
      const old = await zk(['config', 'diff', f, flag, '/cfg']);
      assert.equal(old.code, 12, old.stderr);
      const warn = old.stderr.split('\n').filter((l) => /deprecated/.test(l));
      assert.equal(warn.length, 1, old.stderr);
      assert.match(warn[0]!, /^zkctl: warning: --path is deprecated; give the path as the first argument: zkctl config diff PATH FILE$/);
    }
    const oldPub = await zk(['config', 'publish', f, '--path', '/cfg']);
    assert.equal(oldPub.code, 0, oldPub.stderr);
    assert.match(oldPub.stderr, /--path is deprecated/);
    assert.equal(JSON.parse(ok(await zk(['config', 'get', '/cfg', '--json'])).stdout).version, 2);

    const reversed = await zk(['config', 'publish', 'app.yaml', '/cfg']);
    assert.equal(reversed.code, 2);
    assert.match(reversed.stderr, /the path comes first: zkctl config publish \/cfg app\.yaml/);
    const alone = await zk(['config', 'publish', '/cfg']);
    assert.equal(alone.code, 2);
    assert.match(alone.stderr, /missing FILE/);
    assert.equal((await zk(['config', 'diff', f, '/cfg', '--path', '/cfg'])).code, 2);
  });
});

describe('services: register without --, ls ENABLED', { concurrency: 1 }, () => {
  let c: ChrootSession;
  let zk: ReturnType<typeof cli>;
  before(async () => {
    c = await chrootSession('services-contract');
    zk = cli(c);
    await c.session.create('/services');
    await c.session.create('/services/web');
    const inst = { name: 'web', id: 'w1', address: '127.0.0.1', port: 8080, sslPort: null, payload: null, registrationTimeUTC: Date.now(), serviceType: 'DYNAMIC', uriSpec: null };
    await c.session.create('/services/web/w1', Buffer.from(JSON.stringify(inst)));
    await c.session.create('/services/web/w2', Buffer.from(JSON.stringify({ ...inst, id: 'w2', enabled: true })));
    await c.session.create('/services/web/w3', Buffer.from(JSON.stringify({ ...inst, id: 'w3', enabled: false })));
  });
  after(async () => c.close());

  it('register web --port 8080 ./server (no --) is exit 2: put the command after --; nothing registered', async () => {
    const r = await zk(['services', 'register', 'api', '--port', '8080', './server'], { timeoutMs: 30_000 });
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /put the command after --/);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.equal(await c.session.exists('/services/api'), null);
  });

  it('ls: the ENABLED column says what the JSON says', async () => {
    const json = JSON.parse(ok(await zk(['services', 'ls', 'web', '-o', 'json'])).stdout) as Array<{ id: string; enabled: boolean }>;
    assert.deepEqual(json.map((x) => [x.id, x.enabled]).sort(), [['w1', true], ['w2', true], ['w3', false]]);
    const plain = ok(await zk(['services', 'ls', 'web'])).stdout.trim().split('\n').map((l) => l.split('\t'));
    assert.deepEqual(plain.map((f) => [f[1], f[7]]).sort(), [['w1', 'true'], ['w2', 'true'], ['w3', 'false']]);
    const table = ok(await zk(['services', 'ls', 'web', '-o', 'table'])).stdout.split('\n');
    assert.match(table[0]!, /ENABLED/);
    for (const l of table.slice(1).filter((x) => x.trim())) assert.match(l, /\s(true|false)$/, l);
  });
});

describe('rm -f, grep exit 1, set needs data', { concurrency: 1 }, () => {
  let c: ChrootSession;
  let s: Session;
  let zk: ReturnType<typeof cli>;
  before(async () => {
    c = await chrootSession('rm-grep-set');
    s = c.session;
    zk = cli(c);
    await s.create('/d', Buffer.from('hello\nworld'));
    await s.create('/d/kid', Buffer.from('x'));
  });
  after(async () => c.close());

  it('rm -f: a missing node is exit 0; other errors still fail', async () => {
    assert.equal((await zk(['rm', '/gone'])).code, 3);
    const f = ok(await zk(['rm', '-f', '/gone', '-o', 'json']));
    assert.deepEqual(JSON.parse(f.stdout), { path: '/gone', deleted: 0, dryRun: false });
    ok(await zk(['rm', '-f', '-r', '/gone/deeper']));
    ok(await zk(['rm', '--force', '/gone', '-v', '3']));
    assert.equal((await zk(['rm', '-f', '/d'])).code, 6, 'not empty is still an error');
    assert.equal((await zk(['rm', '-f', '/d/kid', '-v', '7'])).code, 5, 'a version conflict is still an error');
    assert.equal((await zk(['rm', '-f', '/'])).code, 2);
    ok(await zk(['rm', '-f', '/d/kid']));
    assert.equal(await s.exists('/d/kid'), null);
  });

  it('grep: exit 1 when nothing matches (as grep(1)), 0 when something does', async () => {
    assert.equal((await zk(['grep', '/d', 'nothing-like-this'])).stdout, '');
    assert.equal((await zk(['grep', '/d', 'nothing-like-this'])).code, 1);
    const j = await zk(['grep', '/d', 'nothing-like-this', '-o', 'json']);
    assert.deepEqual([j.code, JSON.parse(j.stdout)], [1, []]);
    assert.equal((await zk(['grep', '/d', 'wor', '-l'])).code, 0);
    assert.equal((await zk(['grep', '/none', 'x'])).code, 3);
  });

  it("set: no data is exit 2 (node untouched, stdin not read); '' and --empty empty it; - and --file read", async () => {
    await s.create('/v', Buffer.from('keep'));
    const r = await zk(['set', '/v'], { input: 'from stdin' });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^zkctl: no data given \(give DATA, '' or --empty/);
    assert.equal(r.stderr.trim().split('\n').length, 1);
    assert.equal((await s.get('/v')).data.toString(), 'keep');
    // No argument is ever taken from piped stdin (oclif would, trimmed): ls without PATH lists /.
    assert.equal(ok(await zk(['ls'], { input: '/d\n' })).stdout.split('\n').includes('d'), true);
    ok(await zk(['set', '/v', '-'], { input: 'from stdin' }));
    assert.equal((await s.get('/v')).data.toString(), 'from stdin');
    const file = join(tmp(), 'data');
    writeFileSync(file, 'from file');
    ok(await zk(['set', '/v', '--file', file]));
    assert.equal((await s.get('/v')).data.toString(), 'from file');
    ok(await zk(['set', '/v', '']));
    assert.equal((await s.get('/v')).data.length, 0);
    ok(await zk(['set', '/v', 'x']));
    ok(await zk(['set', '/v', '--empty']));
    assert.equal((await s.get('/v')).data.length, 0);
    assert.equal((await zk(['set', '/v', 'x', '--empty'])).code, 2);
  });
});

describe('lock ls modes as ZKCTL_LOCK_MODE; free locks; elect default id', { concurrency: 1 }, () => {
  let c: ChrootSession;
  let zk: ReturnType<typeof cli>;
  let owner: Session;
  before(async () => {
    c = await chrootSession('lock-modes');
    zk = cli(c);
    owner = await Session.connect({ connectString: c.server, timeoutMs: 10_000 });
  });
  after(async () => {
    await owner.close();
    await c.close();
  });

  it('a plain lock is "exclusive" in ZKCTL_LOCK_MODE and in lock ls; read-write nodes are read/write', async () => {
    const zkctl = `${JSON.stringify(process.execPath)} bin/zkctl.js`;
    const r = ok(await runCli(['lock', '/lm', '-s', c.server, '--', 'sh', '-c', `echo "$ZKCTL_LOCK_MODE"; ${zkctl} lock ls /lm -s ${c.server} -o json`]));
    const [mode, ...json] = r.stdout.split('\n');
    assert.equal(mode, 'exclusive');
    assert.deepEqual((JSON.parse(json.join('\n')) as Array<{ mode: string }>).map((x) => x.mode), ['exclusive']);
    await owner.create('/rw');
    const u = (): string => randomUUID();
    await owner.create(`/rw/_c_${u()}-__READ__0000000001`, Buffer.from('r'), { mode: 'ephemeral' });
    await owner.create(`/rw/_c_${u()}-__WRIT__0000000002`, Buffer.from('w'), { mode: 'ephemeral' });
    await owner.create(`/rw/_c_${u()}-lock-0000000003`, Buffer.from('m'), { mode: 'ephemeral' });
    await owner.create(`/rw/${u().replace(/-/g, '')}__lock__0000000004`, Buffer.from('k'), { mode: 'ephemeral' });
    await owner.create(`/rw/${u().replace(/-/g, '')}__rlock__0000000005`, Buffer.from('kr'), { mode: 'ephemeral' });
    const rows = JSON.parse(ok(await zk(['lock', 'ls', '/rw', '-o', 'json'])).stdout) as Array<{ id: string; mode: string }>;
    assert.deepEqual(rows.map((x) => [x.id, x.mode]), [['r', 'read'], ['w', 'write'], ['m', 'exclusive'], ['k', 'exclusive'], ['kr', 'read']]);
  });

  it('lock ls on a free lock: "not held" in a table, nothing in plain, [] in JSON; exit 0', async () => {
    await owner.create('/free');
    for (const p of ['/free', '/never-created']) {
      assert.equal(ok(await zk(['lock', 'ls', p, '-o', 'table'])).stdout, `${p}: not held (nobody holds or waits)\n`);
      assert.equal(ok(await zk(['lock', 'ls', p])).stdout, '');
      assert.deepEqual(JSON.parse(ok(await zk(['lock', 'ls', p, '-o', 'json'])).stdout), []);
    }
  });

  it('elect needs no --id: the default is the one lock uses', async () => {
    const r = ok(await runCli(['elect', '/el', '-s', c.server, '--', 'sh', '-c', 'echo "$ZKCTL_LEADER_ID"']));
    const l = ok(await runCli(['lock', '/lk2', '-s', c.server, '--', 'sh', '-c', 'echo "$ZKCTL_LOCK_NODE"']));
    assert.match(r.stdout.trim(), /^\d+\.\d+\.\d+\.\d+$/);
    assert.ok(l.stdout.trim().length > 0);
    const held = ok(await runCli(['lock', '/lk3', '-s', c.server, '--', 'sh', '-c', `${JSON.stringify(process.execPath)} bin/zkctl.js lock ls /lk3 -s ${c.server} -o json`]));
    assert.equal((JSON.parse(held.stdout) as Array<{ id: string }>)[0]!.id, r.stdout.trim());
  });
});

describe('version, context current', { concurrency: 1 }, () => {
  it('version: the client and every member (srvr); a member that does not answer is unreachable; none answering is exit 8', async () => {
    const server = testServer();
    const j = JSON.parse(ok(await runCli(['version', '-s', server, '-o', 'json'])).stdout) as { client: { version: string }; servers: Array<{ address: string; reachable: boolean; version: string | null; mode: string }> };
    assert.match(j.client.version, /^\d+\.\d+\.\d+/);
    assert.equal(j.servers.length, server.split('/')[0]!.split(',').length);
    for (const sv of j.servers) assert.deepEqual([sv.reachable, /^3\.\d+\.\d+/.test(sv.version ?? '')], [true, true], JSON.stringify(sv));
    const some = ok(await runCli(['version', '-s', `${server.split('/')[0]},127.0.0.1:1`]));
    assert.match(some.stdout, /^client\tzkctl \d/m);
    assert.match(some.stdout, /^127\.0\.0\.1:1\tunreachable\t/m);
    const none = await runCli(['version', '-s', '127.0.0.1:1']);
    assert.equal(none.code, 8);
    assert.match(none.stdout, /^client\tzkctl/m);
    assert.equal(ok(await runCli(['version', '--client', '-s', '127.0.0.1:1'])).stdout.split('\n').length, 2);
  });

  it('context current: the name; exit 1 with a hint when there is none', async () => {
    const home = tmp();
    const env = { XDG_CONFIG_HOME: home, ZKCTL_SERVER: undefined };
    const none = await runCli(['context', 'current'], { env });
    assert.equal(none.code, 1);
    assert.match(none.stderr, /^zkctl: no current context .*zkctl context use NAME/);
    ok(await runCli(['context', 'set', 'dev', '--server', '127.0.0.1:1'], { env }));
    assert.equal(ok(await runCli(['context', 'current'], { env })).stdout, 'dev\n');
    assert.deepEqual(JSON.parse(ok(await runCli(['context', 'current', '-o', 'json'], { env })).stdout), { current: 'dev', server: '127.0.0.1:1' });
  });
});

describe('znode path completion', { concurrency: 1 }, () => {
  let c: ChrootSession;
  before(async () => {
    c = await chrootSession('complete');
    for (const p of ['/app', '/apple', '/apps', '/apps/x', '/bin']) await c.session.create(p);
  });
  after(async () => c.close());

  it('__complete-path: children of the parent matching the prefix; silent and quick when nothing answers', async () => {
    assert.equal(ok(await runCli(['__complete-path', '-s', c.server, '--', '/ap'])).stdout, '/app\n/apple\n/apps\n');
    assert.equal(ok(await runCli(['__complete-path', '-s', c.server, '--', '/apps/'])).stdout, '/apps/x\n');
    assert.equal(ok(await runCli(['__complete-path', '-s', c.server, '--', '/nothing/here'])).stdout, '');
    const t0 = Date.now();
    const down = await runCli(['__complete-path', '-s', '127.0.0.1:1', '--', '/a']);
    assert.deepEqual([down.code, down.stdout, down.stderr], [0, '', '']);
    assert.ok(Date.now() - t0 < 15_000);
  });

  it('bash: source <(zkctl completion bash) completes zkctl get /a<TAB> and command names', async () => {
    const bin = `${process.execPath} ${repoRoot}bin/zkctl.js`;
    const script = [
      `source <(${bin} completion bash)`,
      `zkctl() { ${bin} "$@"; }`,
      `COMP_WORDS=(zkctl get -s '${c.server}' /ap); COMP_CWORD=4; _zkctl_complete; printf '%s\\n' "\${COMPREPLY[@]}"`,
      `COMP_WORDS=(zkctl conf); COMP_CWORD=1; _zkctl_complete; printf '%s\\n' "\${COMPREPLY[@]}"`,
      `COMP_WORDS=(zkctl config pu); COMP_CWORD=2; _zkctl_complete; printf '%s\\n' "\${COMPREPLY[@]}"`,
    ].join('\n');
    const out = execFileSync('bash', ['-c', script], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(out, '/app\n/apple\n/apps\nconfig\npublish\n');
    const zsh = ok(await runCli(['completion', 'zsh'])).stdout;
    assert.match(zsh, /^#compdef zkctl/);
    assert.match(zsh, /__complete-path/);
  });
});

describe('-o wide', { concurrency: 1 }, () => {
  let c: ChrootSession;
  let zk: ReturnType<typeof cli>;
  let owner: Session;
  before(async () => {
    c = await chrootSession('wide');
    zk = cli(c);
    await c.session.create('/n', Buffer.from('x'));
    await c.session.create('/services');
    await c.session.create('/services/web');
    const inst = { name: 'web', id: 'w1', address: '127.0.0.1', port: 8080, sslPort: null, payload: { zone: 'eu' }, registrationTimeUTC: Date.now(), serviceType: 'DYNAMIC', uriSpec: null };
    await c.session.create('/services/web/w1', Buffer.from(JSON.stringify(inst)));
    owner = await Session.connect({ connectString: c.server, timeoutMs: 10_000 });
    await c.session.create('/lk');
    await owner.create(`/lk/_c_${randomUUID()}-lock-0000000001`, Buffer.from('me'), { mode: 'ephemeral' });
  });
  after(async () => {
    await owner.close();
    await c.close();
  });

  it('ls -l, services ls, lock ls: -o wide adds the columns the table leaves out', async () => {
    const head = async (args: string[]): Promise<string> => ok(await zk(args)).stdout.split('\n')[0]!;
    for (const [args, extra] of [
      [['ls', '-l', '/'], /CZXID\s+MZXID\s+PZXID\s+CVERSION\s+ACLVERSION\s+CTIME/],
      [['services', 'ls'], /REGISTERED\s+PAYLOAD/],
      [['lock', 'ls', '/lk'], /SEQ\s+CZXID\s+CREATED/],
    ] as Array<[string[], RegExp]>) {
      assert.doesNotMatch(await head([...args, '-o', 'table']), extra);
      assert.match(await head([...args, '-o', 'wide']), extra);
    }
    assert.match(ok(await zk(['services', 'ls', '-o', 'wide'])).stdout, /\{"zone":"eu"\}/);
  });
});
