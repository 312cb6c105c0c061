import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConnectString } from '../../src/core/connect-string.js';
import { UsageError, ZkctlError } from '../../src/core/errors.js';
import {
  connectString,
  makeSpec,
  memberPorts,
  parseConf,
  parseMntr,
  parseSrvr,
  parseZxid,
  NotServingError,
  NotWhitelistedError,
  renderDynamicConfig,
  renderZooCfg,
  superDigest,
  summarize,
  findJava,
  findZooKeeper,
  installFromHome,
  type MemberStatus,
} from '../../src/ensemble/index.js';

describe('spec and ports', () => {
  test('defaults', () => {
    const s = makeSpec({}, new Date(0));
    assert.equal(s.name, 'local');
    assert.equal(s.size, 3);
    assert.equal(s.basePort, 2181);
    assert.equal(s.tickTime, 2000);
    assert.equal(connectString(s), '127.0.0.1:2181,127.0.0.1:2182,127.0.0.1:2183');
  });

  test('member ports: client base+i-1, quorum +10000, election +20000', () => {
    const s = makeSpec({ basePort: 3000, size: 5 });
    assert.deepEqual(memberPorts(s, 1), { id: 1, clientPort: 3000, quorumPort: 13000, electionPort: 23000 });
    assert.deepEqual(memberPorts(s, 5), { id: 5, clientPort: 3004, quorumPort: 13004, electionPort: 23004 });
    assert.equal(memberPorts(makeSpec({ adminPort: 8080 }), 2).adminPort, 8081);
  });

  test('validation', () => {
    assert.throws(() => makeSpec({ size: 0 }), UsageError);
    assert.throws(() => makeSpec({ size: 10 }), UsageError);
    assert.throws(() => makeSpec({ basePort: 80 }), UsageError);
    assert.throws(() => makeSpec({ basePort: 45534, size: 3 }), /base port must be/); // election port would pass 65535
    assert.doesNotThrow(() => makeSpec({ basePort: 45533, size: 3 }));
    assert.throws(() => makeSpec({ name: '../etc' }), /invalid ensemble name/);
    assert.throws(() => makeSpec({ tickTime: 1.5 }), UsageError);
  });
});

describe('rendering', () => {
  const spec = makeSpec({ basePort: 2181, size: 3, tickTime: 500 });
  test('dynamic config: participants bound to 127.0.0.1 with client address', () => {
    assert.equal(
      renderDynamicConfig(spec),
      'server.1=127.0.0.1:12181:22181:participant;127.0.0.1:2181\n' +
        'server.2=127.0.0.1:12182:22182:participant;127.0.0.1:2182\n' +
        'server.3=127.0.0.1:12183:22183:participant;127.0.0.1:2183\n',
    );
  });

  test('zoo.cfg', () => {
    const cfg = renderZooCfg(spec, 2, { dataDir: '/d/2/data', dynamicConfigFile: '/d/2/zoo.cfg.dynamic' }, 'super:abc=');
    const kv = Object.fromEntries(
      cfg
        .split('\n')
        .filter((l) => l && !l.startsWith('#'))
        .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
    );
    assert.equal(kv['tickTime'], '500');
    assert.equal(kv['dataDir'], '/d/2/data');
    assert.equal(kv['dynamicConfigFile'], '/d/2/zoo.cfg.dynamic');
    assert.equal(kv['reconfigEnabled'], 'true');
    assert.equal(kv['standaloneEnabled'], 'false');
    assert.equal(kv['4lw.commands.whitelist'], '*');
    assert.equal(kv['admin.enableServer'], 'false');
    assert.equal(kv['DigestAuthenticationProvider.superDigest'], 'super:abc=');
    assert.equal(kv['clientPort'], undefined, 'client address comes from the dynamic file');
  });

  test('zoo.cfg with an admin port', () => {
    const s = makeSpec({ adminPort: 9000 });
    const cfg = renderZooCfg(s, 3, { dataDir: '/x', dynamicConfigFile: '/y' }, 'super:x');
    assert.match(cfg, /^admin\.enableServer=true$/m);
    assert.match(cfg, /^admin\.serverAddress=127\.0\.0\.1$/m);
    assert.match(cfg, /^admin\.serverPort=9002$/m);
  });

  test('super digest is base64(sha1("super:" + password))', () => {
    // Same as: printf 'super:secretpw123' | openssl dgst -sha1 -binary | base64
    assert.equal(superDigest('secretpw123'), 'super:T8xKkpq4SdGQTk8YnJxJKfXSQXI=');
  });
});

describe('four-letter word parsing', () => {
  const leaderSrvr = [
    'Zookeeper version: 3.8.0-${mvngit.commit.id}, built on 2024-12-29 17:54 UTC',
    'Latency min/avg/max: 0/0.5/3',
    'Received: 17',
    'Sent: 16',
    'Connections: 2',
    'Outstanding: 0',
    'Zxid: 0x30000000a',
    'Mode: leader',
    'Node count: 7',
    'Proposal sizes last/min/max: 48/36/92',
    '',
  ].join('\n');

  test('srvr (leader)', () => {
    const s = parseSrvr(leaderSrvr);
    assert.equal(s.mode, 'leader');
    assert.equal(s.zxid, '0x30000000a');
    assert.equal(s.zxidValue, 0x30000000an);
    assert.equal(s.epoch, 3);
    assert.equal(s.counter, 10);
    assert.deepEqual(s.latency, { min: 0, avg: 0.5, max: 3 });
    assert.equal(s.received, 17);
    assert.equal(s.sent, 16);
    assert.equal(s.connections, 2);
    assert.equal(s.outstanding, 0);
    assert.equal(s.nodeCount, 7);
    assert.deepEqual(s.proposalSizes, { last: 48, min: 36, max: 92 });
    assert.match(s.version, /^3\.8\.0/);
  });

  test('stat lists clients', () => {
    const text = leaderSrvr.replace('Latency', 'Clients:\n /127.0.0.1:5000[1](queued=0,recved=1,sent=1)\n /127.0.0.1:5001[0](queued=0,recved=1,sent=0)\n\nLatency');
    const s = parseSrvr(text);
    assert.equal(s.clients?.length, 2);
    assert.equal(s.mode, 'leader');
  });

  test('not serving / not whitelisted', () => {
    assert.throws(() => parseSrvr('This ZooKeeper instance is not currently serving requests\n'), NotServingError);
    assert.throws(() => parseMntr('mntr is not executed because it is not in the whitelist.\n'), NotWhitelistedError);
    assert.throws(() => parseSrvr('garbage'), ZkctlError);
  });

  test('zxid', () => {
    const z = parseZxid('0x100000000');
    assert.equal(z.epoch, 1);
    assert.equal(z.counter, 0);
    assert.equal(parseZxid('0xffffffff00000001').epoch, 0xffffffff);
    assert.throws(() => parseZxid('12'), ZkctlError);
  });

  test('mntr', () => {
    const m = parseMntr(
      [
        'zk_version\t3.8.0-abc, built on 2024-12-29 17:54 UTC',
        'zk_server_state\tfollower',
        'zk_avg_latency\t0.25',
        'zk_max_latency\t4',
        'zk_min_latency\t0',
        'zk_packets_received\t120',
        'zk_packets_sent\t119',
        'zk_num_alive_connections\t3',
        'zk_outstanding_requests\t0',
        'zk_znode_count\t12',
        'zk_watch_count\t5',
        'zk_ephemerals_count\t2',
        'zk_approximate_data_size\t300',
        'zk_open_file_descriptor_count\t80',
        'zk_max_file_descriptor_count\t1048576',
        'zk_uptime\t5000',
        '',
      ].join('\n'),
    );
    assert.equal(m.mode, 'follower');
    assert.deepEqual(m.latency, { min: 0, avg: 0.25, max: 4 });
    assert.equal(m.packetsReceived, 120);
    assert.equal(m.packetsSent, 119);
    assert.equal(m.connections, 3);
    assert.equal(m.znodeCount, 12);
    assert.equal(m.watchCount, 5);
    assert.equal(m.ephemeralsCount, 2);
    assert.equal(m.uptimeMs, 5000);
    assert.equal(m.followers, undefined);
    assert.equal(m.raw['zk_open_file_descriptor_count'], '80');
  });

  test('conf', () => {
    const c = parseConf(
      'clientPort=2181\nsecureClientPort=-1\ndataDir=/d/version-2\ntickTime=2000\nminSessionTimeout=4000\nmaxSessionTimeout=40000\nserverId=2\n' +
        'membership: \nserver.1=127.0.0.1:12181:22181:participant;127.0.0.1:2181\nserver.2=127.0.0.1:12182:22182:participant;127.0.0.1:2182\nversion=100000000',
    );
    assert.equal(c.serverId, 2);
    assert.equal(c.clientPort, 2181);
    assert.equal(c.tickTime, 2000);
    assert.equal(c.maxSessionTimeout, 40000);
    assert.equal(c.configVersion, '100000000');
    assert.deepEqual(Object.keys(c.members), ['1', '2']);
  });

  test('connect strings', () => {
    assert.deepEqual(parseConnectString('a:1,b:2/chroot/x').servers, [
      { host: 'a', port: 1 },
      { host: 'b', port: 2 },
    ]);
    assert.deepEqual(parseConnectString('zk').servers, [{ host: 'zk', port: 2181 }]);
    assert.deepEqual(parseConnectString('[::1]:2182').servers, [{ host: '::1', port: 2182 }]);
    assert.throws(() => parseConnectString('a:99999'), UsageError);
    assert.throws(() => parseConnectString('/chroot'), UsageError);
  });

  test('summary: quorum needs exactly one leader and a majority', () => {
    const m = (mode: MemberStatus['mode']): MemberStatus => ({ host: 'h', port: 1, address: 'h:1', mode, ms: 0 });
    assert.equal(summarize([m('leader'), m('follower'), m('down')]).quorum, true);
    assert.equal(summarize([m('leader'), m('down'), m('down')]).quorum, false);
    assert.equal(summarize([m('not-serving'), m('not-serving'), m('down')]).quorum, false);
    assert.equal(summarize([m('leader'), m('follower'), m('follower')]).leader?.mode, 'leader');
    assert.equal(summarize([m('leader'), m('follower')], 5).quorum, false);
  });
});

describe('finding ZooKeeper and Java', () => {
  test('missing ZooKeeper names the install command', () => {
    const empty = mkdtempSync(join(tmpdir(), 'zkctl-nozk-'));
    try {
      assert.throws(
        () => findZooKeeper({ env: { PATH: '/usr/bin' }, debianJavaDir: empty }),
        (e: Error) => e instanceof ZkctlError && /apt-get install -y zookeeper/.test(e.message),
      );
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });

  test('missing Java names the install command', () => {
    const empty = mkdtempSync(join(tmpdir(), 'zkctl-nojava-'));
    try {
      assert.throws(
        () => findJava({ PATH: empty, JAVA_HOME: empty }, null),
        (e: Error) => e instanceof ZkctlError && /apt-get install -y openjdk-17-jre-headless/.test(e.message),
      );
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });

  test('a release directory (lib/*.jar) is accepted; a wrong one is a usage error', () => {
    const home = mkdtempSync(join(tmpdir(), 'zkctl-home-'));
    try {
      assert.throws(() => installFromHome(home, '/usr/bin/java'), UsageError);
      mkdirSync(join(home, 'lib'));
      for (const j of ['zookeeper-3.8.4.jar', 'zookeeper-jute-3.8.4.jar', 'logback-classic-1.2.13.jar', 'logback-core-1.2.13.jar', 'slf4j-api-1.7.30.jar']) {
        writeFileSync(join(home, 'lib', j), '');
      }
      const inst = installFromHome(home, '/usr/bin/java');
      assert.equal(inst.version, '3.8.4');
      assert.equal(inst.logging, 'logback');
      assert.equal(inst.source, 'zk-home');
      assert.equal(inst.classpath.length, 5);
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  });

  test('Debian layout gets an slf4j binding', () => {
    const inst = findZooKeeper({ env: { PATH: process.env.PATH ?? '' } });
    assert.equal(inst.source, 'debian');
    assert.ok(inst.classpath[0]?.endsWith('/zookeeper.jar'));
    assert.equal(inst.logging, 'log4j');
    assert.match(inst.version ?? '', /^3\./);
  });
});
