/**
 * SASL DIGEST-MD5 against a real ZooKeeper that requires it: one private 1-member ensemble started
 * by `zkctl ensemble up --sasl` itself (JAAS Server section, enforce.auth). Every command family
 * works over SASL, the exchange is redone after a reconnect (the server refuses any request
 * before it), a wrong password or no SASL is exit 7 with its message and never hangs, secrets stay
 * out of every output, --jaas reads Java's Client section, and kazoo reads what zkctl wrote.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ExitCode } from '../../src/core/errors.js';
import { Session } from '../../src/core/session.js';
import { DigestMd5Client, parseDirectives } from '../../src/core/security/sasl.js';
import { parseJaas } from '../../src/core/security/jaas.js';
import { freeBasePort, load, type LocalEnsemble } from '../../src/ensemble/index.js';
import { runCli, testPortStart, testServer, type CliResult } from '../helpers/zk.js';
import { waitForState } from '../helpers/session.js';
import { CliStream, probeUntilLive } from '../watch/util.js';

const USER = 'bob';
const PASSWORD = `S4sl-${Math.random().toString(36).slice(2)}`;

describe('DIGEST-MD5 client (RFC 2831)', () => {
  it('computes the RFC 2831 example response and checks rspauth', () => {
    const c = new DigestMd5Client({ user: 'chris', password: 'secret' }, { protocol: 'imap', serverName: 'elwood.innosoft.com', cnonce: 'OA6MHXh6VqTrRk' });
    assert.equal(c.first().length, 0);
    const r = parseDirectives(c.respond(Buffer.from('realm="elwood.innosoft.com",nonce="OA6MG9tEQGm2hh",qop="auth",algorithm=md5-sess,charset=utf-8')).toString());
    assert.equal(r.get('response'), 'd388dad90d4bbd760a152321f2143af7');
    assert.equal(r.get('digest-uri'), 'imap/elwood.innosoft.com');
    assert.throws(() => new DigestMd5Client({ user: 'chris', password: 'secret' }, { cnonce: 'x' }).respond(Buffer.alloc(0)), /offers no SASL/);
    c.respond(Buffer.from('rspauth=ea40f60335c427b5527b84dbabcdfffd'));
    assert.equal(c.complete, true);
  });

  it('a wrong rspauth (a server that does not know the password) is refused', () => {
    const c = new DigestMd5Client({ user: 'u', password: 'p' });
    c.respond(Buffer.from('realm="zk-sasl-md5",nonce="n",charset=utf-8,algorithm=md5-sess'));
    assert.throws(() => c.respond(Buffer.from('rspauth=00000000000000000000000000000000')), /wrong rspauth/);
  });

  it('reads JAAS files: sections, quoted values, comments', () => {
    const j = parseJaas('// c\nServer { org.a.B required user_x="p;w"; };\n/* x */ Client {\n  org.apache.zookeeper.server.auth.DigestLoginModule required\n  username="bob" password="a\\"b";\n};\n');
    assert.deepEqual([...j.keys()], ['Server', 'Client']);
    assert.deepEqual(j.get('Client')![0]!.options, { username: 'bob', password: 'a"b' });
    assert.equal(j.get('Server')![0]!.options.user_x, 'p;w');
  });
});

describe('SASL against a real ZooKeeper that requires it', () => {
  let scratch: string;
  let dir: string;
  let ens: LocalEnsemble;
  let server: string;
  let env: Record<string, string | undefined>;
  const zk = (args: string[], extra: Record<string, string | undefined> = {}): Promise<CliResult> => runCli(args, { env: { ...env, ...extra }, timeoutMs: 60_000 });
  /** Nothing zkctl prints may hold the password. */
  const noSecret = (r: CliResult): CliResult => {
    assert.ok(!r.stdout.includes(PASSWORD) && !r.stderr.includes(PASSWORD), `the password was printed:\n${r.stdout}\n${r.stderr}`);
    return r;
  };
  const ok = (r: CliResult): CliResult => {
    assert.equal(r.code, 0, `exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
    return noSecret(r);
  };

  before(async () => {
    scratch = mkdtempSync(join(process.env.ZKCTL_TEST_TMP ?? tmpdir(), 'sasl-'));
    dir = join(scratch, 'ens');
    env = {
      XDG_CONFIG_HOME: join(scratch, 'config'),
      XDG_STATE_HOME: join(scratch, 'state'),
      ZKCTL_SERVER: undefined,
      ZKCTL_AUTH: undefined,
      ZKCTL_CONTEXT: undefined,
      ZKCTL_SASL_PASSWORD: undefined,
      NO_COLOR: '1',
    };
    let r: CliResult | undefined;
    for (let attempt = 0; attempt < 4; attempt++) {
      const base = await freeBasePort({ start: testPortStart(), size: 1 });
      r = await zk(['ensemble', 'up', '--dir', dir, '--name', 'saslt', '--size', '1', '--base-port', String(base), '--sasl', `${USER}:${PASSWORD}`]);
      if (r.code === 0 || !/in use/.test(r.stderr)) break;
    }
    ok(r!);
    ens = load(dir);
    server = ens.connectString;
  });
  after(async () => {
    await ens?.down({ purge: true }).catch(() => undefined);
    rmSync(scratch, { recursive: true, force: true });
  });

  it('ensemble up --sasl: 0600 secrets, a context with the user and the password file (never the password)', () => {
    const cfg = readFileSync(join(env.XDG_CONFIG_HOME!, 'zkctl', 'config.yaml'), 'utf8');
    assert.match(cfg, /sasl:\n\s+user: bob\n\s+password-file: .*sasl\.secret/);
    assert.ok(!cfg.includes(PASSWORD));
    for (const f of ['sasl.secret', 'sasl-jaas.conf']) assert.equal(statSync(join(dir, f)).mode & 0o777, 0o600, f);
    assert.equal(readFileSync(join(dir, 'sasl.secret'), 'utf8').trim(), PASSWORD);
    assert.match(readFileSync(join(dir, 'members', '1', 'zoo.cfg'), 'utf8'), /enforce\.auth\.enabled=true/);
  });

  it('ls/get/create/set/watch/lock/whoami work over SASL (the context)', async () => {
    ok(await zk(['create', '/s', 'one']));
    ok(await zk(['set', '/s', 'two']));
    assert.equal(ok(await zk(['get', '/s'])).stdout, 'two');
    assert.match(ok(await zk(['ls', '/'])).stdout, /^s$/m);
    assert.match(ok(await zk(['whoami'])).stdout, /^sasl\tbob$/m);
    const lock = ok(await zk(['lock', '/locks/l', '--', 'sh', '-c', 'echo held; env | grep -c ZKCTL_SASL || true']));
    assert.match(lock.stdout, /held\n0/);
    // A watch over SASL sees changes made by another SASL client.
    const w = new CliStream(['watch', '/s', '-o', 'json'], env);
    const s = await Session.connect({ connectString: server, timeoutMs: 20_000, sasl: { user: USER, password: PASSWORD } });
    try {
      await probeUntilLive(w, s, '/s');
    } finally {
      w.kill('SIGKILL');
      await s.close();
    }
    assert.ok(!w.stderr.includes(PASSWORD));
  });

  it('flags and env: --sasl with --sasl-password-file, and $ZKCTL_SASL_PASSWORD (no context)', async () => {
    const pwFile = join(scratch, 'pw');
    writeFileSync(pwFile, `${PASSWORD}\n`, { mode: 0o600 });
    assert.match(ok(await zk(['whoami', '-s', server, '--sasl', USER, '--sasl-password-file', pwFile], { XDG_CONFIG_HOME: join(scratch, 'none') })).stdout, /^sasl\tbob$/m);
    assert.match(ok(await zk(['whoami', '-s', server, '--sasl', USER], { XDG_CONFIG_HOME: join(scratch, 'none'), ZKCTL_SASL_PASSWORD: PASSWORD })).stdout, /^sasl\tbob$/m);
    // A context made by hand keeps the password file's path, never the password.
    const cfgHome = join(scratch, 'byhand');
    ok(await zk(['context', 'set', 'k', '-s', server, '--sasl', USER, '--sasl-password-file', pwFile], { XDG_CONFIG_HOME: cfgHome }));
    assert.ok(!readFileSync(join(cfgHome, 'zkctl', 'config.yaml'), 'utf8').includes(PASSWORD));
    assert.match(ok(await zk(['whoami', '--context', 'k'], { XDG_CONFIG_HOME: cfgHome })).stdout, /^sasl\tbob$/m);
    assert.equal(JSON.parse(ok(await zk(['context', 'ls', '-o', 'json'], { XDG_CONFIG_HOME: cfgHome })).stdout)[0].sasl, USER);
    const half = await zk(['context', 'set', 'k2', '-s', server, '--sasl', USER], { XDG_CONFIG_HOME: cfgHome });
    assert.equal(half.code, ExitCode.USAGE, half.stderr);
    // --verbose logs the exchange, never the password.
    const v = ok(await zk(['get', '/s', '-s', server, '--sasl', USER, '--verbose'], { XDG_CONFIG_HOME: join(scratch, 'none'), ZKCTL_SASL_PASSWORD: PASSWORD }));
    assert.match(v.stderr, /SASL authentication complete/);
  });

  it('--jaas reads the Client section of a Java JAAS file; Kerberos is refused as out of scope (exit 2)', async () => {
    const jaas = join(scratch, 'client.jaas');
    writeFileSync(jaas, `Client {\n  org.apache.zookeeper.server.auth.DigestLoginModule required\n  username="${USER}"\n  password="${PASSWORD}";\n};\n`, { mode: 0o600 });
    assert.match(ok(await zk(['whoami', '-s', server, '--jaas', jaas], { XDG_CONFIG_HOME: join(scratch, 'none') })).stdout, /^sasl\tbob$/m);
    const krb = join(scratch, 'krb.jaas');
    writeFileSync(krb, 'Client {\n  com.sun.security.auth.module.Krb5LoginModule required useKeyTab=true;\n};\n');
    const r = await zk(['whoami', '-s', server, '--jaas', krb], { XDG_CONFIG_HOME: join(scratch, 'none') });
    assert.equal(r.code, ExitCode.USAGE, r.stderr);
    assert.match(r.stderr, /GSSAPI\/Kerberos is out of scope/);
  });

  it('a wrong password and no SASL at all: exit 7 with the cause in one line, no hang', async () => {
    const none = { XDG_CONFIG_HOME: join(scratch, 'none') };
    const wrong = noSecret(await zk(['ls', '/', '-s', server, '--sasl', USER, '--timeout', '30s'], { ...none, ZKCTL_SASL_PASSWORD: 'not-the-password' }));
    assert.equal(wrong.timedOut, false);
    assert.equal(wrong.code, ExitCode.NO_AUTH, wrong.stderr);
    assert.match(wrong.stderr, /^zkctl: SASL authentication as 'bob' failed at [^\n]*wrong user or password[^\n]*\n$/);
    assert.ok(!wrong.stderr.includes('not-the-password'));
    const plain = await zk(['ls', '/', '-s', server, '--timeout', '30s'], none);
    assert.equal(plain.timedOut, false);
    assert.equal(plain.code, ExitCode.NO_AUTH, plain.stderr);
    assert.match(plain.stderr, /^zkctl: [^\n]*requires SASL authentication and closed the session \(no SASL credentials were given\)[^\n]*\n$/);
    // The other way round: --sasl to a server without SASL (the run's shared ensemble).
    const noServerSasl = await zk(['ls', '/', '-s', testServer(), '--sasl', USER, '--timeout', '30s'], { ...none, ZKCTL_SASL_PASSWORD: PASSWORD });
    assert.equal(noServerSasl.code, ExitCode.NO_AUTH, noServerSasl.stderr);
    assert.match(noServerSasl.stderr, /offers no SASL/);
  });

  it('the exchange is redone on every reconnect: after a dropped connection and a member restart, the same session serves', async () => {
    const s = await Session.connect({ connectString: server, timeoutMs: 20_000, sasl: { user: USER, password: PASSWORD } });
    try {
      await s.create('/eph', Buffer.from('x'), { mode: 'ephemeral' });
      const id = s.sessionId;
      // The server refuses any request on a connection without SASL (-124): a request that succeeds after
      // the reconnect proves the exchange ran again, before it.
      let reconnected = waitForState(s, 'reconnected', 30_000);
      s.dropConnection();
      await reconnected;
      assert.equal((await s.get('/eph')).data.toString(), 'x');
      reconnected = waitForState(s, 'reconnected', 60_000);
      await ens.restart(1, { timeoutMs: 60_000 });
      await reconnected;
      assert.equal(s.sessionId, id);
      assert.deepEqual((await s.whoAmI()).find((i) => i.scheme === 'sasl'), { scheme: 'sasl', id: USER });
      assert.equal((await s.get('/eph')).data.toString(), 'x');
    } finally {
      await s.close();
    }
  });

  it('kazoo (SASL DIGEST-MD5, as a Java client would) reads what zkctl wrote', async () => {
    ok(await zk(['create', '/from-zkctl', 'written by zkctl']));
    const py = `import sys\nfrom kazoo.client import KazooClient\nzk = KazooClient(hosts=sys.argv[1], timeout=10, sasl_options={"mechanism": "DIGEST-MD5", "username": sys.argv[2], "password": sys.stdin.read()})\nzk.start(timeout=20)\nsys.stdout.write(zk.get("/from-zkctl")[0].decode())\nzk.stop()\n`;
    const r = await runProc('/usr/bin/python3', ['-c', py, server, USER], PASSWORD);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'written by zkctl');
  });
});

function runProc(cmd: string, args: string[], input: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const c = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    c.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    c.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const t = setTimeout(() => c.kill('SIGKILL'), 60_000);
    c.on('error', reject);
    c.on('close', (code) => {
      clearTimeout(t);
      resolve({ code: code ?? -1, stdout, stderr });
    });
    c.stdin.end(input);
  });
}
