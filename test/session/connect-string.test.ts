/**
 * One connect-string parser (src/core/connect-string.ts), IPv6 included, used by every command:
 * issue #20.8 and #10.18.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { chrootOf, hostsOf, parseConnectString, parseHostPort } from '../../src/core/connect-string.js';
import { formatServerSpec, parseServerSpec } from '../../src/core/config/dynamic.js';
import { parseCons, sessionClients } from '../../src/core/recipes/owners.js';
import { ExitCode, UsageError } from '../../src/core/errors.js';
import { Session } from '../../src/core/session.js';
import { TcpProxy } from '../helpers/proxy.js';
import { runCli, testServer } from '../helpers/zk.js';

const usage = (re: RegExp) => (e: unknown) => e instanceof UsageError && re.test(e.message);

describe('connect strings', () => {
  it('parses names, IPv4, bracketed IPv6 (with and without a port) and a chroot', () => {
    assert.deepEqual(parseConnectString('zk1:2181,10.0.0.2:2182,[::1]:3181,[fe80::1%eth0],zk5/app/x'), {
      servers: [
        { host: 'zk1', port: 2181 },
        { host: '10.0.0.2', port: 2182 },
        { host: '::1', port: 3181 },
        { host: 'fe80::1%eth0', port: 2181 },
        { host: 'zk5', port: 2181 },
      ],
      chroot: '/app/x',
      hosts: 'zk1:2181,10.0.0.2:2182,[::1]:3181,[fe80::1%eth0]:2181,zk5:2181',
    });
    assert.equal(chrootOf('[::1]:3181/'), '');
    assert.equal(hostsOf('[::1]:3181/a'), '[::1]:3181');
  });

  it('refuses bad strings with a usage error naming the problem', () => {
    assert.throws(() => parseConnectString('h:2181 /x'), usage(/contains a space/));
    assert.throws(() => parseConnectString('h:2181/../x'), usage(/invalid chroot "\/\.\.\/x".*relative segment/));
    assert.throws(() => parseConnectString('h:2181/a//'), usage(/invalid chroot/));
    // one trailing slash is dropped, as in every path (issue 11)
    assert.equal(parseConnectString('h:2181/a/').chroot, '/a');
    assert.throws(() => parseConnectString('::1:2181'), usage(/must be in brackets/));
    assert.throws(() => parseConnectString('[::1'), usage(/invalid IPv6 address/));
    assert.throws(() => parseConnectString('[::1]:99999'), usage(/invalid port "99999"/));
    assert.throws(() => parseConnectString('h1,,h2'), usage(/empty server address/));
    assert.throws(() => parseConnectString('/app'), usage(/no server/));
    assert.throws(() => parseConnectString(''), usage(/empty server string/));
    assert.throws(() => parseConnectString(12345 as unknown as string), usage(/not a string/));
  });

  it('one address: parseHostPort, and the client address of a dynamic-config server spec (IPv6 in brackets only)', () => {
    assert.deepEqual(parseHostPort('[::1]:2181'), { host: '::1', port: 2181 });
    assert.deepEqual(parseHostPort('[::1]'), { host: '::1', port: 2181 });
    assert.deepEqual(parseHostPort('zk1:2182'), { host: 'zk1', port: 2182 });
    assert.deepEqual(parseHostPort('zk1'), { host: 'zk1', port: 2181 });
    assert.throws(() => parseHostPort('::1:2181'), usage(/must be in brackets/));
    assert.throws(() => parseHostPort('::1'), usage(/must be in brackets/));
    const spec = (client: string) => parseServerSpec(`server.4=127.0.0.1:2888:3888:participant;${client}`);
    assert.deepEqual([spec('[::1]:2181').clientHost, spec('[::1]:2181').clientPort], ['::1', 2181]);
    assert.deepEqual([spec('0.0.0.0:2182').clientHost, spec('0.0.0.0:2182').clientPort], ['0.0.0.0', 2182]);
    assert.deepEqual([spec('2183').clientHost, spec('2183').clientPort], [undefined, 2183]);
    // Bracketless IPv6 was split at its last colon: "::1" read as host ":" port 1. ZooKeeper refuses it too.
    assert.throws(() => spec('::1'), usage(/invalid client address .*must be in brackets/));
    assert.throws(() => spec('::1:2181'), usage(/invalid client address .*must be in brackets/));
    assert.throws(() => spec('[::1]'), usage(/invalid client address .*no client port/));
    assert.equal(formatServerSpec(spec('[::1]:2181')), 'server.4=127.0.0.1:2888:3888:participant;[::1]:2181');
  });

  it('session owners from `cons`: the servers are parsed by the same parser ([::1]:PORT; bracketless is skipped, never thrown)', async () => {
    assert.deepEqual([...parseCons([' /127.0.0.1:50412[1](queued=0,recved=9,sent=9,sid=0xff0000a1b2c30001,lop=PING)'])], [['0xff0000a1b2c30001', '127.0.0.1:50412']]);
    assert.equal((await sessionClients(['::1:1', 'h:99999'], 500)).size, 0);
  });

  describe('against the test ensemble over IPv6', () => {
    let v6: TcpProxy | undefined;
    let skip: string | undefined;
    before(async () => {
      try {
        v6 = await TcpProxy.start(testServer().split('/')[0]!.split(',')[0]!, 0, '::1');
      } catch (e) {
        skip = `no IPv6 loopback here: ${(e as Error).message}`;
      }
    });
    after(async () => {
      await v6?.close();
    });

    it('the session connects to [::1]:PORT', async (t) => {
      if (skip) return t.skip(skip);
      const s = await Session.connect({ connectString: `[::1]:${v6!.port}`, timeoutMs: 10_000 });
      try {
        assert.equal(s.server, `[::1]:${v6!.port}`);
        await s.exists('/');
      } finally {
        await s.close();
      }
    });

    it('zkctl ls / --server [::1]:PORT works', async (t) => {
      if (skip) return t.skip(skip);
      const r = await runCli(['ls', '/', '--server', `[::1]:${v6!.port}`]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /zookeeper/);
    });
  });

  for (const [server, re] of [
    ['127.0.0.1:2181/../x', /invalid chroot "\/\.\.\/x"/],
    ['127.0.0.1:2181 /x', /contains a space/],
    ['[::1:2181', /invalid IPv6 address/],
    ['::1:2181', /must be in brackets/],
  ] as const) {
    it(`zkctl ls / --server '${server}' exits 2 naming the problem`, async () => {
      const r = await runCli(['ls', '/', '--server', server]);
      assert.equal(r.code, ExitCode.USAGE, r.stderr);
      assert.match(r.stderr, re);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    });
  }
});
