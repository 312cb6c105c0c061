/**
 * The connection life cycle under real faults (issue #20, #10 items 13-14): a private
 * 3-member ensemble, client ports rejected or black-holed with nftables, established
 * connections killed with `ss -K`, members SIGSTOPped and SIGKILLed.
 *
 * What the user sees is asserted: a write reported failed is absent afterwards, an --auth
 * read issued during an outage returns the data, watches over > 1 MB of paths report a
 * change after their member is killed, every member gets a try within one --timeout.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { digestId } from '../../src/core/acl.js';
import { ExitCode, ZkctlError } from '../../src/core/errors.js';
import { Perm } from '../../src/core/protocol/records.js';
import { Session, type WatchEvent } from '../../src/core/session.js';
import { cliStartAllowanceMs, runCli, startFaultEnsemble, type FaultEnsemble } from '../helpers/zk.js';
import { killConnections, nftAvailable, NftTable } from './nft.js';
import { waitForState, until } from '../helpers/session.js';

const isConnErr = (e: unknown): boolean => e instanceof ZkctlError && e.exitCode === ExitCode.CONNECTION;
type Internals = { transport: { describeServers(): string; nextXid: number } };

const skip = await nftAvailable();

describe('session life cycle under real faults', { skip }, () => {
  let fe: FaultEnsemble;
  let nft: NftTable;
  const port = (id: number): number => fe.ensemble.ports(id).clientPort;
  const addr = (id: number): string => `127.0.0.1:${port(id)}`;
  const all = (): string => [1, 2, 3].map(addr).join(',');
  let admin: Session;
  const base = `/lifecycle-${process.pid}`;

  before(async () => {
    fe = await startFaultEnsemble(3);
    nft = await NftTable.create();
    admin = await Session.connect({ connectString: all(), timeoutMs: 15_000 });
    await admin.create(base);
  });
  after(async () => {
    await nft?.destroy();
    await admin?.close();
    await fe?.cleanup();
  });

  /** Cut `s` off its only member (connects refused, the connection killed); resolves once it noticed. */
  async function cutOff(s: Session, id: number): Promise<void> {
    const suspended = waitForState(s, 'suspended', 15_000);
    await nft.reject(port(id));
    await killConnections(port(id));
    await suspended;
  }

  it('a request reported failed while cut off is never applied after the reconnect (no lost update, no extra sequential node)', async () => {
    const dir = `${base}/lost-update`;
    await admin.create(dir);
    await admin.create(`${dir}/seq`);
    await admin.create(`${dir}/v`, Buffer.from('v0'));
    const s = await Session.connect({ connectString: addr(1), timeoutMs: 10_000, sessionTimeoutMs: 30_000 });
    try {
      await s.sync(dir);
      await cutOff(s, 1);
      s.timeoutMs = 1500;
      const results = await Promise.allSettled([
        s.create(`${dir}/x`, Buffer.from('late')),
        s.set(`${dir}/v`, Buffer.from('stale')),
        s.create(`${dir}/seq/n-`, Buffer.alloc(0), { sequential: true }),
      ]);
      for (const r of results) assert.ok(r.status === 'rejected' && isConnErr(r.reason), `expected exit 8, got ${JSON.stringify(r)}`);
      // Another client writes after zkctl said "failed".
      await admin.set(`${dir}/v`, Buffer.from('fresh'));
      s.timeoutMs = 10_000;
      const back = waitForState(s, 'reconnected', 30_000);
      await nft.heal();
      await back;
      await s.sync(dir);
      assert.equal(await s.exists(`${dir}/x`), null, 'a create reported failed was applied');
      assert.equal((await s.get(`${dir}/v`)).data.toString(), 'fresh', 'a set reported failed overwrote a newer value');
      assert.deepEqual((await s.getChildren(`${dir}/seq`)).children, [], 'a sequential create reported failed was applied');
    } finally {
      await nft.heal();
      await s.close();
    }
  });

  it('a read issued during an outage goes out after the auth replay (--auth data readable)', async () => {
    const path = `${base}/secret`;
    await admin.create(path, Buffer.from('hush'), { acl: [{ perms: Perm.ALL, id: { scheme: 'digest', id: digestId('alice', 'pw') } }] });
    const s = await Session.connect({ connectString: addr(1), timeoutMs: 20_000, sessionTimeoutMs: 30_000, auth: [{ scheme: 'digest', credential: 'alice:pw' }] });
    try {
      await cutOff(s, 1);
      const read = s.get(path);
      // Let at least one reconnect attempt fail while the read waits in the queue.
      await until('a refused reconnect attempt', () => /refused|ECONNREFUSED/.test((s as unknown as Internals).transport.describeServers()), 10_000);
      await nft.heal();
      assert.equal((await read).data.toString(), 'hush');
    } finally {
      await nft.heal();
      await s.close();
    }
  });

  it('waiting for the connection with whenConnected(ms) never closes the session', async () => {
    const s = await Session.connect({ connectString: addr(1), timeoutMs: 10_000, sessionTimeoutMs: 30_000 });
    try {
      const id = s.sessionId;
      await cutOff(s, 1);
      await assert.rejects(s.whenConnected(300), isConnErr);
      assert.notEqual(s.state, 'closed');
      const back = waitForState(s, 'reconnected', 30_000);
      await nft.heal();
      await back;
      assert.equal(s.sessionId, id);
      await s.get('/');
    } finally {
      await nft.heal();
      await s.close();
    }
  });

  it('ls / succeeds 8 times of 8 with one member black-holed (every member gets a try within the default --timeout)', async () => {
    await nft.drop(port(1));
    try {
      for (let i = 0; i < 8; i++) {
        const r = await runCli(['ls', '/', '-s', all()], { timeoutMs: 30_000 });
        assert.equal(r.code, 0, `run ${i + 1}: ${r.stderr}`);
      }
    } finally {
      await nft.heal();
    }
  });

  it('the connect error names each member tried and why it failed', async () => {
    await nft.drop(port(1));
    await nft.reject(port(2));
    const pid3 = fe.ensemble.pidOf(3)!;
    process.kill(pid3, 'SIGSTOP');
    try {
      const t0 = Date.now();
      const err = await Session.connect({ connectString: all(), timeoutMs: 10_000 }).then(
        () => assert.fail('connected'),
        (e: unknown) => e as Error,
      );
      assert.ok(isConnErr(err), String(err));
      assert.ok(Date.now() - t0 < 11_500, `took ${Date.now() - t0} ms`);
      assert.match(err.message, new RegExp(`${addr(1)} \\(no TCP answer in 3\\.3s\\)`));
      assert.match(err.message, new RegExp(`${addr(2)} \\(refused\\)`));
      assert.match(err.message, new RegExp(`${addr(3)} \\(accepted TCP but no handshake reply in 3\\.3s\\)`));
    } finally {
      process.kill(pid3, 'SIGCONT');
      await nft.heal();
    }
  });

  it('lock --timeout 3s against an unreachable server gives up within the 3 s', async () => {
    await nft.drop(port(1));
    try {
      const allowance = await cliStartAllowanceMs();
      const t0 = Date.now();
      const r = await runCli(['lock', '/l', '--timeout', '3s', '-s', addr(1), '--', 'true'], { timeoutMs: 30_000 });
      const took = Date.now() - t0;
      assert.equal(r.code, ExitCode.CONNECTION, r.stderr);
      assert.match(r.stderr, /cannot reach ZooKeeper within 3s/);
      assert.ok(took < 3000 + 1000 + allowance, `took ${took} ms (start-up allowance ${allowance} ms)`);
    } finally {
      await nft.heal();
    }
  });

  it('a stalled member: a request ends at its deadline and closing does not wait on top of it', async () => {
    const s = await Session.connect({ connectString: addr(2), timeoutMs: 10_000, sessionTimeoutMs: 30_000 });
    const pid = fe.ensemble.pidOf(2)!;
    process.kill(pid, 'SIGSTOP');
    try {
      s.timeoutMs = 2000;
      const t0 = Date.now();
      await assert.rejects(s.get('/'), (e: unknown) => isConnErr(e) && /no reply within 2s/.test((e as Error).message));
      const t1 = Date.now();
      await s.close();
      const t2 = Date.now();
      assert.ok(t1 - t0 < 2000 + 700, `request took ${t1 - t0} ms`);
      assert.ok(t2 - t1 < 700, `close took ${t2 - t1} ms after the deadline`);
    } finally {
      process.kill(pid, 'SIGCONT');
      await s.close();
    }
  });

  it('watches over more than 1 MB of paths come back after their member is SIGKILLed (batched re-registration)', async () => {
    const dir = `${base}/w`;
    await admin.create(dir);
    const n = 5600;
    const paths = Array.from({ length: n }, (_, i) => `${dir}/${String(i).padStart(6, '0')}-${'p'.repeat(193)}`);
    for (let i = 0; i < n; i += 400) {
      await admin.multi(paths.slice(i, i + 400).map((path) => ({ op: 'create' as const, path })));
    }
    const bytes = paths.reduce((a, p) => a + Buffer.byteLength(p) + 4, 0);
    assert.ok(bytes > 1024 * 1024, `only ${bytes} bytes of paths`);
    const s = await Session.connect({ connectString: all(), timeoutMs: 20_000, sessionTimeoutMs: 30_000 });
    let killed: number | undefined;
    try {
      await s.sync(dir);
      const oneShot: WatchEvent[] = [];
      const persistent: WatchEvent[] = [];
      // One-shot data watches and persistent watches, each over every path (> 1 MB each).
      await Promise.all(paths.map((p) => s.exists(p, (ev) => oneShot.push(ev))));
      await Promise.all(paths.map((p) => s.addWatch(p, (ev) => persistent.push(ev))));
      let reconnects = 0;
      s.on('reconnected', () => reconnects++);
      const back = waitForState(s, 'reconnected', 40_000);
      const server = s.server!;
      killed = [1, 2, 3].find((id) => addr(id) === server)!;
      await fe.ensemble.kill(killed);
      await back;
      await admin.set(paths[0]!, Buffer.from('a'));
      await admin.set(paths[n - 1]!, Buffer.from('b'));
      await until('the one-shot watch on the first path', () => oneShot.some((e) => e.path === paths[0] && e.type === 'dataChanged'), 20_000);
      await until('the persistent watch on the last path', () => persistent.some((e) => e.path === paths[n - 1] && e.type === 'dataChanged'), 20_000);
      assert.ok(reconnects <= 2, `${reconnects} reconnects (a re-registration livelock?)`);
    } finally {
      await s.close();
      if (killed !== undefined) await fe.ensemble.start(killed, { wait: true, timeoutMs: 60_000 });
    }
  });

  // ZooKeeper 3.5+ creates a session on a read-only member only as a local session
  // (ReadOnlyRequestProcessor refuses a global createSession with NOTREADONLY), so member 3 needs
  // localSessionsEnabled=true in its zoo.cfg besides -Dreadonlymode.enabled=true.
  const LOCAL_SESSIONS = 'localSessionsEnabled=true\nlocalSessionsUpgradingEnabled=true\n';
  const setLocalSessions = (on: boolean): void => {
    const cfg = fe.ensemble.configPath(3);
    const kept = readFileSync(cfg, 'utf8')
      .split('\n')
      .filter((l) => !l.startsWith('localSessions'))
      .join('\n');
    writeFileSync(cfg, on ? kept + LOCAL_SESSIONS : kept);
  };

  // The last two leave only member 3 running.
  it('a read-only member (cut off from the quorum) serves reads to --read-only and names itself when a write is refused', async () => {
    await admin.close();
    const path = `${base}/ro`;
    const seed = await Session.connect({ connectString: all(), timeoutMs: 15_000 });
    try {
      await seed.create(path, Buffer.from('seen from the read-only member'));
    } finally {
      await seed.close();
    }
    await fe.ensemble.stop(3);
    setLocalSessions(true);
    await fe.ensemble.start(3, { wait: true, timeoutMs: 60_000, jvmFlags: ['-Dreadonlymode.enabled=true'] });
    // Member 3 has the node before the others go (it may lag right after its restart).
    await until('member 3 has the node', async () => (await runCli(['get', path, '-s', addr(3), '--timeout', '3s'])).stdout.includes('seen from'), 60_000);
    await fe.ensemble.kill(1);
    await fe.ensemble.kill(2);
    // Member 3 notices the lost quorum and turns read-only: until then it refuses connections.
    let r = await runCli(['get', path, '-s', addr(3), '--timeout', '3s', '--read-only']);
    const end = Date.now() + 60_000;
    while (r.code !== 0 && Date.now() < end) r = await runCli(['get', path, '-s', addr(3), '--timeout', '3s', '--read-only']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), 'seen from the read-only member');
    // The session says it is read-only.
    const s = await Session.connect({ connectString: addr(3), timeoutMs: 15_000, readOnly: true });
    try {
      assert.equal(s.readOnly, true);
      assert.ok((await s.getChildren(base)).children.includes('ro'));
    } finally {
      await s.close();
    }
    // A write is refused with a one-line error naming the read-only member, exit 8 (no quorum reachable).
    const w = await runCli(['set', path, 'changed', '-s', addr(3), '--timeout', '3s', '--read-only']);
    assert.equal(w.code, ExitCode.CONNECTION, w.stderr);
    assert.match(w.stderr, /the member is read-only \(cut off from its quorum\): it serves reads only, writes are refused/);
    assert.equal(w.stderr.trim().split('\n').length, 1, w.stderr);
    const again = await runCli(['get', path, '-s', addr(3), '--timeout', '3s', '--read-only']);
    assert.equal(again.stdout.trim(), 'seen from the read-only member', again.stderr);
  });

  it('a read-only member without local sessions is named as such when it refuses a session, with the setting it needs', async () => {
    await admin.close();
    await fe.ensemble.stop(3);
    setLocalSessions(false);
    await fe.ensemble.start(3, { wait: true, timeoutMs: 60_000, jvmFlags: ['-Dreadonlymode.enabled=true'] });
    await fe.ensemble.kill(1);
    await fe.ensemble.kill(2);
    // --read-only asks for canBeReadOnly; without localSessionsEnabled ZooKeeper 3.8 refuses to
    // create the session (NOTREADONLY): the error must say it was a read-only member, and why.
    const end = Date.now() + 60_000;
    let r = await runCli(['get', '/', '-s', addr(3), '--timeout', '3s', '--read-only']);
    while (!/read-only member/.test(r.stderr) && Date.now() < end) r = await runCli(['get', '/', '-s', addr(3), '--timeout', '3s', '--read-only']);
    assert.equal(r.code, ExitCode.CONNECTION, r.stderr);
    assert.match(r.stderr, /127\.0\.0\.1:\d+ \(read-only member: it refused to create a new session \(ZooKeeper 3\.5\+ creates them only with localSessionsEnabled=true in its zoo\.cfg\)\)/);
    const plain = await runCli(['get', '/', '-s', addr(3), '--timeout', '3s']);
    assert.equal(plain.code, ExitCode.CONNECTION, plain.stderr);
    assert.match(plain.stderr, /closed the connection during the handshake \(a member without a quorum, or a read-only one, does that: see --read-only\)/);
  });
});
