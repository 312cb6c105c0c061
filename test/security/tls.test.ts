/**
 * TLS against a real secured ensemble (issue 13): `ensemble up --tls` (1 member, started once for
 * the file through the CLI, private XDG dirs), the commands over TLS through the context it wrote,
 * each failure's message and exit code, PKCS#12 and --client-config, and a Java client (Debian's
 * zookeeper.jar, ZooKeeperMain -client-configuration) reading what zkctl wrote over TLS.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as yamlParse } from 'yaml';
import { freeBasePort, load } from '../../src/ensemble/index.js';
import { SECURE_PORT_OFFSET } from '../../src/ensemble/config.js';
import { parseJavaProperties } from '../../src/core/security/client-config.js';
import { ExitCode } from '../../src/core/errors.js';
import { expectOk, isolatedCli, runCli, testPortStart, type CliResult } from '../helpers/zk.js';

const { scratch, env, configHome, zk } = isolatedCli('tls', 60_000, { ownState: true });
const tag = randomBytes(3).toString('hex');
const name = `tls-${tag}`;
const dir = join(scratch, name);
const tlsDir = join(dir, 'tls');
let plainAddr = '';
let secureAddr = '';
const other = join(scratch, 'other');

function openssl(args: string[]): void {
  execFileSync('openssl', args, { stdio: 'ignore' });
}

/** The CLI's one error line (no stack, one line). */
function oneLine(r: CliResult): string {
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 1, r.stderr);
  return lines[0]!;
}

describe('TLS: ensemble up --tls and every command over TLS', { timeout: 600_000 }, () => {
  before(async () => {
    let r: CliResult | undefined;
    for (let attempt = 0; attempt < 5; attempt++) {
      const base = await freeBasePort({ start: testPortStart(), size: 1 });
      r = await zk(['ensemble', 'up', '--tls', '--name', name, '--dir', dir, '--size', '1', '--base-port', String(base), '-o', 'json'], 180_000);
      if (r.code === 0) {
        plainAddr = `127.0.0.1:${base}`;
        secureAddr = `127.0.0.1:${base + SECURE_PORT_OFFSET}`;
        break;
      }
      if (!/in use/.test(r.stderr)) break;
    }
    expectOk(r!);
    // A CA and a client certificate the ensemble does not trust.
    mkdirSync(other, { recursive: true });
    openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(other, 'ca.key'), '-out', join(other, 'ca.pem'), '-days', '2', '-subj', '/CN=other CA']);
    openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(other, 'client.key'), '-out', join(other, 'client.pem'), '-days', '2', '-subj', '/CN=stranger', '-addext', 'subjectAltName=IP:127.0.0.1']);
  });
  after(async () => {
    if (existsSync(join(dir, 'ensemble.json'))) await load(dir).down({ purge: true });
  });

  test('up --tls: the context connects over TLS with the client certificate; key files 0600; members on the Netty factory', () => {
    const cfg = yamlParse(readFileSync(join(configHome, 'zkctl', 'config.yaml'), 'utf8')) as { contexts: Record<string, { server: string; tls?: Record<string, string> }> };
    const ctx = cfg.contexts[name]!;
    assert.equal(ctx.server, secureAddr);
    assert.deepEqual(ctx.tls, { ca: join(tlsDir, 'ca.pem'), cert: join(tlsDir, 'client.pem'), key: join(tlsDir, 'client.pem') });
    assert.equal(statSync(tlsDir).mode & 0o777, 0o700);
    for (const f of ['ca.key', 'member-1.pem', 'client.pem', 'client.p12', 'client.p12.password']) assert.equal(statSync(join(tlsDir, f)).mode & 0o777, 0o600, f);
    // PKCS#8 keys (ZooKeeper's PEM keystore refuses PKCS#1), SAN localhost + 127.0.0.1.
    assert.match(readFileSync(join(tlsDir, 'member-1.pem'), 'utf8'), /^-----BEGIN PRIVATE KEY-----/);
    const san = execFileSync('openssl', ['x509', '-noout', '-ext', 'subjectAltName', '-in', join(tlsDir, 'member-1.pem')], { encoding: 'utf8' });
    assert.match(san, /DNS:localhost, IP Address:127\.0\.0\.1/);
    const zooCfg = readFileSync(join(dir, 'members', '1', 'zoo.cfg'), 'utf8');
    assert.match(zooCfg, new RegExp(`^secureClientPort=${secureAddr.split(':')[1]}$`, 'm'));
    assert.match(zooCfg, /^serverCnxnFactory=org\.apache\.zookeeper\.server\.NettyServerCnxnFactory$/m);
  });

  test('create, set, get, ls, watch, lock and whoami work over TLS', async () => {
    const path = `/tls-${tag}`;
    expectOk(await zk(['create', path, 'one']));
    expectOk(await zk(['set', path, 'two']));
    assert.equal(expectOk(await zk(['get', path])).stdout, 'two');
    assert.match(expectOk(await zk(['ls', '/'])).stdout, new RegExp(`^tls-${tag}$`, 'm'));
    // A watch over TLS sees a change made over TLS (started first; the change once it is watching).
    const watching = zk(['watch', path, '--count', '1', '-o', 'json']);
    const deadline = Date.now() + 30_000;
    let seen = false;
    for (let i = 0; !seen && Date.now() < deadline; i++) {
      expectOk(await zk(['set', path, `v${i}`]));
      seen = await Promise.race([watching.then(() => true), new Promise<boolean>((res) => setTimeout(() => res(false), 500))]);
    }
    const w = expectOk(await watching);
    assert.match(w.stdout, /"type":"data-changed"/);
    assert.equal(expectOk(await zk(['lock', `/locks-${tag}`, '--', 'echo', 'held'])).stdout.trim(), 'held');
    // The server sees the client certificate (X509AuthenticationProvider).
    assert.match(expectOk(await zk(['whoami'])).stdout, /x509\s+CN=zkctl client/);
  });

  test('health over TLS asks the members and probes over TLS, and says so', async () => {
    const r = expectOk(await zk(['health', '-o', 'json']));
    const rep = JSON.parse(r.stdout) as { state: string; via: string; probe: { ok: boolean } };
    assert.equal(rep.via, 'tls');
    assert.equal(rep.state, 'healthy');
    assert.ok(rep.probe.ok);
  });

  test('an untrusted server certificate: exit 7 at once, one line', async () => {
    // A verdict, not a wait: with --timeout far beyond the run's own deadline (90 s), it still ends.
    const r = await zk(['ls', '/', '--tls-ca', join(other, 'ca.pem'), '--timeout', '10m'], 90_000);
    assert.ok(!r.timedOut, 'a refused certificate waited out --timeout');
    assert.equal(r.code, ExitCode.NO_AUTH, r.stderr);
    assert.match(oneLine(r), /^zkctl: TLS to 127\.0\.0\.1:\d+ failed: server certificate is not trusted \(UNABLE_TO_VERIFY_LEAF_SIGNATURE\): give its CA with --tls-ca$/);
  });

  test('a host name the certificate does not carry: exit 7', async () => {
    const r = await zk(['ls', '/', '--tls-server-name', 'zk.example.com']);
    assert.equal(r.code, ExitCode.NO_AUTH, r.stderr);
    assert.match(oneLine(r), /server certificate does not match the host name \(Host: zk\.example\.com\. is not in the cert's altnames: DNS:localhost, IP Address:127\.0\.0\.1\)/);
    // localhost is in the certificate.
    expectOk(await zk(['ls', '/', '-s', `localhost:${secureAddr.split(':')[1]}`, '--tls-ca', join(tlsDir, 'ca.pem'), '--tls-cert', join(tlsDir, 'client.pem'), '--tls-key', join(tlsDir, 'client.pem')]));
  });

  test('no client certificate, or one from another CA: exit 7, the server refused it', async () => {
    const none = await zk(['ls', '/', '-s', secureAddr, '--tls-ca', join(tlsDir, 'ca.pem')]);
    assert.equal(none.code, ExitCode.NO_AUTH, none.stderr);
    assert.match(oneLine(none), /server refused the client certificate \(TLS alert bad_certificate\)/);
    const stranger = await zk(['ls', '/', '-s', secureAddr, '--tls-ca', join(tlsDir, 'ca.pem'), '--tls-cert', join(other, 'client.pem'), '--tls-key', join(other, 'client.key')]);
    assert.equal(stranger.code, ExitCode.NO_AUTH, stranger.stderr);
    assert.match(oneLine(stranger), /server refused the client certificate \(TLS alert certificate_unknown\): it does not trust the CA that signed it/);
  });

  test('plain TCP to the TLS port, and TLS to the plain port: exit 8 within --timeout, naming the mix-up', async () => {
    const plain = await zk(['ls', '/', '-s', secureAddr, '--timeout', '2s']);
    assert.equal(plain.code, ExitCode.CONNECTION, plain.stderr);
    assert.match(oneLine(plain), /a TLS port \(secureClientPort\) does that to plain TCP: see --tls/);
    const tls = await zk(['ls', '/', '-s', plainAddr, '--timeout', '2s', '--tls-ca', join(tlsDir, 'ca.pem'), '--tls-cert', join(tlsDir, 'client.pem'), '--tls-key', join(tlsDir, 'client.pem')]);
    assert.equal(tls.code, ExitCode.CONNECTION, tls.stderr);
    assert.match(oneLine(tls), /TLS handshake failed: the server closed the connection \(a plain-TCP client port does that to TLS/);
  });

  test('PKCS#12 client certificate with a password file; a wrong password is exit 2 and never printed', async () => {
    const pfx = ['-s', secureAddr, '--tls-ca', join(tlsDir, 'ca.pem'), '--tls-pfx', join(tlsDir, 'client.p12')];
    expectOk(await zk(['ls', '/', ...pfx, '--tls-pfx-password-file', join(tlsDir, 'client.p12.password')]));
    const wrong = join(scratch, 'wrong.password');
    const secret = `Wr0ng-${tag}`;
    writeFileSync(wrong, `${secret}\n`, { mode: 0o600 });
    const r = await zk(['ls', '/', ...pfx, '--tls-pfx-password-file', wrong]);
    assert.equal(r.code, ExitCode.USAGE, r.stderr);
    assert.match(oneLine(r), /client\.p12: wrong password or not a PKCS#12 file/);
    assert.ok(!r.stderr.includes(secret) && !r.stdout.includes(secret));
  });

  test('--client-config: the Java client configuration (PEM), a PKCS12 keystore with a keytool truststore; JKS gets the keytool command', async () => {
    expectOk(await zk(['ls', '/', '-s', secureAddr, '--client-config', join(tlsDir, 'client.properties')]));
    const pw = readFileSync(join(tlsDir, 'client.p12.password'), 'utf8').trim();
    const haveKeytool = spawnSync('keytool', ['-help'], { stdio: 'ignore' }).error === undefined;
    if (haveKeytool) {
      for (const type of ['pkcs12', 'jks']) {
        execFileSync('keytool', ['-importcert', '-noprompt', '-alias', 'ca', '-file', join(tlsDir, 'ca.pem'), '-keystore', join(scratch, `trust.${type === 'jks' ? 'jks' : 'p12'}`), '-storetype', type, '-storepass', 'trust-pw'], { stdio: 'ignore' });
      }
      const p12 = join(scratch, 'p12.properties');
      writeFileSync(p12, ['zookeeper.client.secure=true', `zookeeper.ssl.keyStore.location=${join(tlsDir, 'client.p12')}`, `zookeeper.ssl.keyStore.password=${pw}`, 'zookeeper.ssl.keyStore.type=PKCS12', 'zookeeper.ssl.trustStore.location=trust.p12', 'zookeeper.ssl.trustStore.password=trust-pw', ''].join('\n'));
      expectOk(await zk(['ls', '/', '-s', secureAddr, '--client-config', p12]));
      const jks = join(scratch, 'jks.properties');
      writeFileSync(jks, readFileSync(p12, 'utf8').replace('trust.p12', 'trust.jks'));
      const r = await zk(['ls', '/', '-s', secureAddr, '--client-config', jks]);
      assert.equal(r.code, ExitCode.USAGE, r.stderr);
      assert.match(oneLine(r), /trust\.jks is a JKS store, which zkctl cannot read: convert it to PKCS12 with `keytool -importkeystore -srckeystore trust\.jks -destkeystore trust\.p12 -deststoretype pkcs12`/);
      assert.ok(!r.stderr.includes(pw), 'the keystore password was printed');
    }
  });

  test('context set keeps TLS flags as the context\'s tls: (absolute paths); ZKCTL_TLS_* env works as the flags do', async () => {
    const sec = `sec-${tag}`;
    expectOk(await zk(['context', 'set', sec, '--server', secureAddr, '--tls-ca', join(tlsDir, 'ca.pem'), '--tls-pfx', join(tlsDir, 'client.p12'), '--tls-pfx-password-file', join(tlsDir, 'client.p12.password')]));
    const cfg = yamlParse(readFileSync(join(configHome, 'zkctl', 'config.yaml'), 'utf8')) as { contexts: Record<string, { tls?: Record<string, string> }> };
    assert.deepEqual(cfg.contexts[sec]!.tls, { ca: join(tlsDir, 'ca.pem'), pfx: join(tlsDir, 'client.p12'), 'pfx-password-file': join(tlsDir, 'client.p12.password') });
    expectOk(await zk(['ls', '/', '--context', sec]));
    const r = await runCli(['ls', '/', '-s', secureAddr], { env: { ...env, ZKCTL_TLS_CA: join(tlsDir, 'ca.pem'), ZKCTL_TLS_CERT: join(tlsDir, 'client.pem'), ZKCTL_TLS_KEY: join(tlsDir, 'client.pem') } });
    expectOk(r);
  });

  test('a Java client (zookeeper.jar, -client-configuration) reads over TLS what zkctl wrote over TLS', async (t) => {
    const j = '/usr/share/java';
    if (!existsSync(join(j, 'zookeeper.jar'))) return t.skip('no Debian zookeeper.jar');
    const path = `/java-${tag}`;
    expectOk(await zk(['create', path, `from zkctl ${tag}`]));
    const cp = ['zookeeper.jar', 'netty-codec.jar', 'netty-resolver.jar', 'netty-transport-native-unix-common.jar', 'slf4j-nop.jar'].map((f) => join(j, f)).join(':');
    const r = spawnSync('java', ['-cp', cp, 'org.apache.zookeeper.ZooKeeperMain', '-server', secureAddr, '-client-configuration', join(tlsDir, 'client.properties'), 'get', path], { encoding: 'utf8', timeout: 120_000 });
    assert.match(r.stdout, new RegExp(`^from zkctl ${tag}$`, 'm'), `${r.stdout}\n${r.stderr}`);
  });
});

describe('Java properties (client configuration) parsing', () => {
  test('separators, comments, escapes and continuations as java.util.Properties reads them', () => {
    const p = parseJavaProperties(['# comment', '! also', 'a=1', 'b : 2', 'c 3', '  d=with\\', '    continued', 'e=C:\\\\keys\\\\x.p12', 'f\\ g=h', 'u=\\u0041', 'empty='].join('\n'));
    assert.equal(p.get('a'), '1');
    assert.equal(p.get('b'), '2');
    assert.equal(p.get('c'), '3');
    assert.equal(p.get('d'), 'withcontinued');
    assert.equal(p.get('e'), 'C:\\keys\\x.p12');
    assert.equal(p.get('f g'), 'h');
    assert.equal(p.get('u'), 'A');
    assert.equal(p.get('empty'), '');
    assert.equal(p.size, 8);
  });
});
