/**
 * Issue 22: only usable instances are handed out (pick, watch, cache, dispatcher skip the rest
 * with a warning), bad registrations are refused, garbage over a live instance is a leave,
 * one-shot weighted picks honour the weights, a replaced registration notices and comes back,
 * `ls` shows "-" for a missing registration time, the granted session timeout is reported.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Dispatcher } from '../../src/core/dispatch/index.js';
import { instanceProblem, makeInstance, ServiceCache, ServiceRegistration, type CacheEvent, type ServiceInstance, type SkippedRecord } from '../../src/core/recipes/services.js';
import { Session } from '../../src/core/session.js';
import { chrootSession, mkdirp, type ChrootSession } from '../helpers/session.js';
import { runCli } from '../helpers/zk.js';
import { spawnCli, until, type Running } from '../recipes/util.js';

/** A record as some other writer could leave it (raw JSON fields, no validation). */
function raw(id: string, fields: Record<string, unknown>): Buffer {
  return Buffer.from(JSON.stringify({ name: 'x', id, address: '127.0.0.1', port: 8000, sslPort: null, payload: null, registrationTimeUTC: 1795620998684, serviceType: 'DYNAMIC', uriSpec: null, ...fields }));
}

const BAD: Array<[string, Record<string, unknown>]> = [
  ['p70000', { port: 70000 }],
  ['pfrac', { port: 80.5 }],
  ['phuge', { port: 1e300 }],
  ['pzero', { port: 0 }],
  ['pnull', { port: null }],
  ['aspace', { address: ' ' }],
  ['anewline', { address: '10.0.0.1\nevil' }],
  ['aempty', { address: '' }],
  ['atab', { address: 'a\tb' }],
];

describe('usable instances only', () => {
  let cs: ChrootSession;
  const running: Running[] = [];
  before(async () => {
    cs = await chrootSession('svc-validity');
  });
  after(async () => {
    for (const r of running) r.child.kill('SIGKILL');
    await cs?.close();
  });

  it('instanceProblem: integer ports 1-65535, an address without blanks or control characters', () => {
    const i = (address: unknown, port: unknown): Pick<ServiceInstance, 'address' | 'port'> => ({ address: address as string, port: port as number });
    assert.equal(instanceProblem(i('10.0.0.1', 80)), undefined);
    assert.equal(instanceProblem(i('web-1.example', 65535)), undefined);
    assert.equal(instanceProblem(i('::1', 1)), undefined);
    for (const [a, p] of [['10.0.0.1', 70000], ['10.0.0.1', 80.5], ['10.0.0.1', 1e300], ['10.0.0.1', 0], ['10.0.0.1', null], [' ', 80], ['', 80], [null, 80], ['10.0.0.1\nevil', 80], ['a\u0000b', 80], ['a\u2028b', 80], ['a b', 80]] as const) {
      assert.ok(instanceProblem(i(a, p)), `${JSON.stringify(a)}:${p} must be refused`);
    }
    // The message never carries a raw control character (it is printed on one line).
    assert.doesNotMatch(instanceProblem(i('10.0.0.1\nevil', 80))!, /\n/);
  });

  it('pick skips unusable records with a warning and only ever prints the usable one', async () => {
    const sp = '/services/mixed';
    await mkdirp(cs.session, sp);
    for (const [id, f] of BAD) await cs.session.create(`${sp}/${id}`, raw(id, f));
    await cs.session.create(`${sp}/garbage`, Buffer.from('{not json'));
    await cs.session.create(`${sp}/good`, raw('good', { port: 8004 }));
    for (const strategy of ['random', 'round-robin', 'weighted-round-robin', 'p2c']) {
      const r = await runCli(['services', 'pick', 'mixed', '--strategy', strategy, '-s', cs.server]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, '127.0.0.1:8004\n', `${strategy}: ${JSON.stringify(r.stdout)}`);
      for (const [id] of BAD) assert.match(r.stderr, new RegExp(`${sp}/${id}: skipped: `), `${strategy}: no warning for ${id}`);
      assert.match(r.stderr, new RegExp(`${sp}/garbage: not a service instance`), 'unreadable record not reported');
      assert.equal(r.stderr.split('\n').filter(Boolean).length, BAD.length + 1, r.stderr);
    }
    // Nothing usable: exit 3, still saying why.
    await cs.session.delete(`${sp}/good`);
    const none = await runCli(['services', 'pick', 'mixed', '-s', cs.server]);
    assert.equal(none.code, 3, none.stderr);
    assert.equal(none.stdout, '');
    assert.match(none.stderr, /p70000: skipped/);
  });

  it('the dispatcher leaves unusable instances out and says so once', () => {
    const d = new Dispatcher({ strategy: 'round-robin', send: async () => undefined });
    const skipped: string[] = [];
    d.on('skipped', (r: { id: string }) => skipped.push(r.id));
    const mk = (id: string, f: Record<string, unknown>): ServiceInstance => ({ ...makeInstance({ name: 'x', id, address: '127.0.0.1', port: 8000 }), ...f }) as ServiceInstance;
    const list = [...BAD.map(([id, f]) => mk(id, f)), mk('good', {})];
    d.setMembers(list);
    d.setMembers(list);
    assert.deepEqual(d.endpoints().map((e) => e.id), ['good']);
    assert.deepEqual(skipped.sort(), BAD.map(([id]) => id).sort());
    for (let k = 0; k < 50; k++) assert.equal(d.pick()?.id, 'good');
  });

  it('register refuses an address with a newline or blanks, an empty address and port 0 (exit 2, nothing written)', async () => {
    for (const args of [['--address', '10.0.0.1\nevil', '--port', '8004'], ['--address', '', '--port', '8004'], ['--address', ' ', '--port', '8004'], ['--address', 'a b', '--port', '8004'], ['--port', '0'], ['--port', '70000']]) {
      const r = await runCli(['services', 'register', 'refused', ...args, '-s', cs.server, '--', 'true']);
      assert.equal(r.code, 2, `${JSON.stringify(args)}: ${r.stderr}`);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      assert.doesNotMatch(r.stderr, /\n\s+at /);
    }
    assert.equal(await cs.session.exists('/services/refused'), null);
  });

  it('cache and watch: unreadable and unusable records are skipped with a warning; garbage over a live instance is a leave', async () => {
    const sp = '/services/garb';
    await mkdirp(cs.session, sp);
    await cs.session.create(`${sp}/ok1`, raw('ok1', { port: 9001 }));
    await cs.session.create(`${sp}/bad1`, raw('bad1', { port: 70000 }));
    const watch = spawnCli(['services', 'watch', 'garb', '-s', cs.server, '-o', 'json']);
    running.push(watch);
    const s2 = await Session.connect({ connectString: cs.server });
    try {
      const cache = new ServiceCache(s2, 'garb');
      const events: CacheEvent[] = [];
      const skipped: SkippedRecord[] = [];
      cache.on('event', (e: CacheEvent) => events.push(e));
      cache.on('skipped', (r: SkippedRecord) => skipped.push(r));
      await cache.start();
      assert.deepEqual(cache.instances().map((r) => r.instance.id), ['ok1']);
      assert.deepEqual(skipped.map((r) => r.id), ['bad1']);
      await until(() => /"initial":true/.test(watch.stdout()) && /bad1: skipped: port 70000/.test(watch.stderr()), 'watch up, bad1 reported', () => watch.stderr());
      // Garbage over the live instance: it leaves (with a reason), the dispatcher stops using it.
      await cs.session.set(`${sp}/ok1`, Buffer.from('\u0000garbage'));
      await until(() => events.some((e) => e.type === 'leave' && e.instance.id === 'ok1'), 'leave of ok1 in the cache', () => JSON.stringify(events));
      assert.equal(cache.size, 0);
      const leave = events.find((e) => e.type === 'leave')! as Extract<CacheEvent, { type: 'leave' }>;
      assert.match(leave.reason ?? '', /not a service instance/);
      // (The reason quotes the data, escaped: it is printed on one line.)
      assert.doesNotMatch(leave.reason ?? '', /[\u0000-\u001f]/);
      await until(
        () => watch.stdout().split('\n').some((l) => l.includes('"event":"leave"') && l.includes('ok1') && l.includes('"reason"')) && /ok1: skipped: not a service instance/.test(watch.stderr()),
        'watch prints the leave and a warning',
        () => `${watch.stdout()}\n${watch.stderr()}`,
      );
      // Repaired: it joins again.
      await cs.session.set(`${sp}/ok1`, raw('ok1', { port: 9001 }));
      await until(() => cache.size === 1, 'ok1 back in the cache', () => JSON.stringify(events));
      // Each bad version is said once (no warning per re-read).
      assert.equal(skipped.filter((r) => r.id === 'bad1').length, 1);
      cache.close();
    } finally {
      await s2.close();
      watch.child.kill('SIGINT');
      await watch.exited;
    }
  });

  it('a one-shot weighted-round-robin pick honours the weights (weights 1,1,1,1,4: the heavy one about half the time)', () => {
    const list = ['a', 'b', 'c', 'd', 'heavy'].map((id) => makeInstance({ name: 'w', id, address: '127.0.0.1', port: 9000, weight: id === 'heavy' ? 4 : 1 }));
    let heavy = 0;
    const N = 4000;
    for (let seed = 1; seed <= N; seed++) {
      const d = new Dispatcher({ strategy: 'weighted-round-robin', seed, send: async () => undefined });
      d.setMembers(list);
      if (d.pick()!.id === 'heavy') heavy++;
    }
    // Expected 0.5; the standard deviation over 4000 picks is 0.008: 0.42-0.58 is 10 of them.
    assert.ok(heavy / N > 0.42 && heavy / N < 0.58, `heavy share ${heavy / N}`);
    // A long-running one still gives the exact proportions.
    const d = new Dispatcher({ strategy: 'weighted-round-robin', seed: 3, send: async () => undefined });
    d.setMembers(list);
    let h = 0;
    for (let k = 0; k < 800; k++) if (d.pick()!.id === 'heavy') h++;
    assert.ok(Math.abs(h - 400) <= 4, `heavy ${h} of 800`);
  });

  it('a held registration replaced by another registrant of its id says so and comes back when that one leaves', async () => {
    const reg = spawnCli(['services', 'register', 'rep', '--id', 'i1', '--port', '8100', '-s', cs.server, '-o', 'json']);
    running.push(reg);
    const path = '/services/rep/i1';
    await until(async () => (await cs.session.exists(path)) !== null, 'first registration', () => reg.stderr());
    const first = (await cs.session.exists(path))!;
    // Another registrant of the same id (its own session), as Curator or zkctl would do it: delete and re-create.
    const other = await Session.connect({ connectString: cs.server });
    try {
      const r2 = new ServiceRegistration(other, makeInstance({ name: 'rep', id: 'i1', address: '127.0.0.1', port: 8200 }));
      await r2.register();
      await until(() => /was replaced by another registrant of id i1 \(session 0x/.test(reg.stderr()), 'the first registrant notices', () => reg.stderr());
      assert.match(reg.stdout(), /"event":"replaced"/);
      // It does not fight: the other one keeps the node while it holds it.
      await cs.session.sync(path);
      assert.equal((await cs.session.exists(path))!.ephemeralOwner, other.sessionId);
      await r2.unregister();
      await until(
        async () => {
          await cs.session.sync(path);
          const st = await cs.session.exists(path);
          return st !== null && st.ephemeralOwner === first.ephemeralOwner;
        },
        'the first registrant registers again',
        () => reg.stderr(),
      );
      // (The node can be seen before zkctl has printed the event: seen once.)
      await until(() => /"event":"reregistered"/.test(reg.stdout()), 'the reregistered event', () => reg.stdout());
      assert.match(reg.stdout(), /"event":"reregistered"/);
      const { data } = await cs.session.get(path);
      assert.equal(JSON.parse(data.toString()).port, 8100);
    } finally {
      await other.close();
      reg.child.kill('SIGINT');
      await reg.exited;
    }
  });

  it('ls shows AGE "-" for a record without a registration time; register reports the granted session timeout', async () => {
    const sp = '/services/notime';
    await mkdirp(cs.session, sp);
    await cs.session.create(`${sp}/n1`, Buffer.from('{"name":"notime","id":"n1","address":"127.0.0.1","port":8001}'));
    const t = await runCli(['services', 'ls', 'notime', '-s', cs.server, '-o', 'table']);
    assert.equal(t.code, 0, t.stderr);
    const row = t.stdout.split('\n').find((l) => l.includes('n1'))!;
    assert.match(row, /\s-\s/, row);
    assert.doesNotMatch(t.stdout, /\d+h\d+m/);
    const j = await runCli(['services', 'ls', 'notime', '-s', cs.server, '-o', 'json']);
    const rows = JSON.parse(j.stdout) as Array<{ registeredAt: unknown; ageMs: unknown }>;
    assert.equal(rows[0].registeredAt, null);
    assert.equal(rows[0].ageMs, null);
    for (const asked of ['1ms', '100h']) {
      const r = await runCli(['services', 'register', 'sto', '--port', '8300', '--session-timeout', asked, '-s', cs.server, '-o', 'json', '--', 'true']);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, new RegExp(`the server granted a session timeout of \\S+, not ${asked}`), r.stderr);
      const ev = JSON.parse(r.stdout.split('\n')[0]) as { sessionTimeoutMs: number };
      assert.ok(ev.sessionTimeoutMs > 0 && ev.sessionTimeoutMs <= 10 * 60_000, String(ev.sessionTimeoutMs));
    }
  });
});
