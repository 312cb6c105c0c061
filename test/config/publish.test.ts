/**
 * Configuration publishing through the library, on the shared ensemble (each test in its own chroot):
 * round trips, the one-transaction guarantee against racing publishers, watchers that never see a
 * partial publish, history and rollback, the request-size limit.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { CREATOR_ALL_ACL, Perm, Session } from '../../src/core/session.js';
import { type ConfigMap, configEquals, encodeJson, fromPlain, parseConfigYaml, toYaml } from '../../src/core/config/document.js';
import {
  ConfigTooLargeError,
  HISTORY_NODE,
  MAX_REQUEST_BYTES,
  VersionConflictError,
  applyPublish,
  configHistory,
  parseRecord,
  planPublish,
  publishConfig,
  readConfig,
  readHistoryEntry,
  rollbackConfig,
  watchConfig,
  type ConfigWatchEvent,
} from '../../src/core/recipes/config-publish.js';
import { chrootSession, type ChrootSession } from '../helpers/session.js';

const NESTED = `name: myapp
db:
  primary: {host: db1, port: 5432, tls: {enabled: true, ciphers: [a, b]}}
  replicas: [{host: db2, port: 5432}, {host: db3, port: 5433}]
  ratio: 0.5
  retries: 3
"80": http
zeta: 1.0
alpha: "02134"
empty: {}
nothing: null
big: 123456789012345678901234567890
text: |
  two
  lines
`;

let cs: ChrootSession;
let s: Session;

before(async () => {
  cs = await chrootSession('config-publish');
  s = cs.session;
});
after(async () => {
  await cs?.close();
});

function doc(yaml: string): ConfigMap {
  return parseConfigYaml(yaml);
}

describe('publish and read back', () => {
  test('nested document: publish then read gives an equal document, key order kept', async () => {
    const d = doc(NESTED);
    const r = await publishConfig(s, '/rt/app', d, { message: 'first', publisher: 'test' });
    assert.equal(r.changed, true);
    assert.equal(r.version, 1);
    assert.equal(r.previousVersion, 0);
    const live = await readConfig(s, '/rt/app');
    assert.equal(live.version, 1);
    assert.equal(live.drift, false);
    assert.ok(configEquals(live.document, d), `got ${encodeJson(live.document)}`);
    assert.deepEqual([...live.document.keys()], [...d.keys()]);
    // The YAML written back parses to the same document.
    assert.ok(configEquals(parseConfigYaml(toYaml(live.document)), d));
    // The znodes hold what the mapping says.
    assert.equal((await s.get('/rt/app/db/primary/port')).data.toString(), '5432');
    assert.equal((await s.get('/rt/app/zeta')).data.toString(), '1.0');
    assert.equal((await s.get('/rt/app/alpha')).data.toString(), '"02134"');
    assert.equal((await s.get('/rt/app/db/replicas')).data.toString(), '[{"host":"db2","port":5432},{"host":"db3","port":5433}]');
    assert.equal((await s.get('/rt/app/db')).data.length, 0);
    const rec = parseRecord((await s.get('/rt/app')).data);
    assert.ok(rec && rec !== 'foreign');
    assert.equal(rec.version, 1);
    assert.equal(rec.message, 'first');
    assert.equal(rec.publisher, 'test');
    assert.deepEqual((rec.layout as Record<string, string[]>)[''], [...d.keys()]);
    // Publishing the same document again writes nothing.
    const statBefore = (await s.exists('/rt/app'))!;
    const again = await publishConfig(s, '/rt/app', d);
    assert.equal(again.changed, false);
    assert.equal(again.version, 1);
    assert.equal((await s.exists('/rt/app'))!.mzxid, statBefore.mzxid);
  });

  test('changes: set, add, remove with --prune, keep without; type changes both ways', async () => {
    const p = '/rt/changes';
    await publishConfig(s, p, doc('a: 1\nb: {x: 1, y: 2}\nc: [1]\nd: keep-me\n'));
    const r2 = await publishConfig(s, p, doc('a: 2\nb: leaf-now\nc: {k: v}\n'));
    assert.equal(r2.version, 2);
    let live = await readConfig(s, p);
    assert.equal(encodeJson(live.document), '{"a":2,"b":"leaf-now","c":{"k":"v"},"d":"keep-me"}');
    assert.equal((await s.getChildren(`${p}/b`)).children.length, 0);
    const r3 = await publishConfig(s, p, doc('a: 2\nb: leaf-now\nc: {k: v}\n'), { prune: true });
    assert.equal(r3.version, 3);
    assert.deepEqual(r3.changes.map((c) => `${c.op} ${c.key}`), ['remove d']);
    live = await readConfig(s, p);
    assert.equal(encodeJson(live.document), '{"a":2,"b":"leaf-now","c":{"k":"v"}}');
    assert.equal(await s.exists(`${p}/d`), null);
  });

  test('dry run writes nothing; expect-version guards', async () => {
    const p = '/rt/dry';
    const dry = await publishConfig(s, p, doc('a: 1\n'), { dryRun: true });
    assert.equal(dry.dryRun, true);
    assert.equal(dry.nextVersion, 1);
    assert.equal(await s.exists(p), null);
    await assert.rejects(publishConfig(s, p, doc('a: 1\n'), { expectVersion: 3 }), (e: unknown) => e instanceof VersionConflictError && e.exitCode === 5);
    assert.equal(await s.exists(p), null);
    await publishConfig(s, p, doc('a: 1\n'), { expectVersion: 0 });
    await assert.rejects(publishConfig(s, p, doc('a: 2\n'), { expectVersion: 0 }), VersionConflictError);
    await publishConfig(s, p, doc('a: 2\n'), { expectVersion: 1 });
    assert.equal((await readConfig(s, p)).version, 2);
  });

  test('new nodes get the ACL of the path', async () => {
    const authed = await Session.connect({ connectString: cs.server, timeoutMs: 10_000, auth: [{ scheme: 'digest', credential: 'cfg-owner:pw' }] });
    try {
      await authed.create('/acl-app', Buffer.alloc(0), { acl: CREATOR_ALL_ACL });
      const pAcl = (await authed.getACL('/acl-app')).acl;
      await publishConfig(authed, '/acl-app', doc('a: {b: 1}\n'));
      assert.deepEqual((await authed.getACL('/acl-app/a/b')).acl, pAcl);
      assert.deepEqual((await authed.getACL('/acl-app/a')).acl, pAcl);
      await s.sync('/acl-app');
      await assert.rejects(s.get('/acl-app/a/b'), (e: unknown) => (e as { exitCode?: number }).exitCode === 7);
      assert.equal(encodeJson((await readConfig(authed, '/acl-app')).document), '{"a":{"b":1}}');
    } finally {
      await authed.close();
    }
  });

  test('publishes below an existing ancestor whose parent denies CREATE (missing ancestors made check-first)', async () => {
    await s.create('/shut');
    await s.create('/shut/team');
    await s.setACL('/shut', [{ perms: Perm.ALL & ~Perm.CREATE, id: { scheme: 'world', id: 'anyone' } }]);
    await publishConfig(s, '/shut/team/svc/cfg', doc('a: 1\n'));
    assert.equal(encodeJson((await readConfig(s, '/shut/team/svc/cfg')).document), '{"a":1}');
  });

  test('refuses to overwrite a node that holds foreign data', async () => {
    await s.create('/rt/foreign', Buffer.from('not a record'));
    await assert.rejects(publishConfig(s, '/rt/foreign', doc('a: 1\n')), (e: unknown) => (e as { exitCode?: number }).exitCode === 2);
    assert.equal((await s.get('/rt/foreign')).data.toString(), 'not a record');
  });
});

describe('racing publishers', () => {
  test('5 publishers from the same version: exactly one commits, the tree is the winner\'s document', async () => {
    const p = '/race/app';
    await publishConfig(s, p, doc('base: 0\nshared: {v: 0}\n'));
    const sessions = await Promise.all(Array.from({ length: 5 }, () => Session.connect({ connectString: cs.server, timeoutMs: 10_000 })));
    try {
      const docs = sessions.map((_, i) => doc(`base: ${i + 1}\nshared: {v: ${i + 1}, by: p${i}}\nonly${i}: [${i}]\n`));
      // Every publisher plans against version 1 before any commits: the version check in the
      // transaction is all that separates them.
      const plans = await Promise.all(sessions.map((ss, i) => planPublish(ss, p, docs[i]!, { prune: true, message: `p${i}` })));
      for (const pl of plans) assert.equal(pl.result.previousVersion, 1);
      const outcomes = await Promise.allSettled(sessions.map((ss, i) => applyPublish(ss, plans[i]!)));
      const won = outcomes.map((o, i) => ({ o, i })).filter((x) => x.o.status === 'fulfilled');
      assert.equal(won.length, 1, `exactly one publisher must win: ${outcomes.map((o) => o.status).join(',')}`);
      for (const o of outcomes) if (o.status === 'rejected') assert.ok(o.reason instanceof VersionConflictError && o.reason.exitCode === 5, String(o.reason));
      const w = won[0]!.i;
      const live = await readConfig(s, p);
      assert.equal(live.version, 2);
      assert.ok(configEquals(live.document, docs[w]!), `tree ${encodeJson(live.document)} != winner ${encodeJson(docs[w]!)}`);
      assert.equal(live.record?.message, `p${w}`);
      // Nothing of the losers was written.
      const { children } = await s.getChildren(p);
      assert.deepEqual(children.filter((c) => c.startsWith('only')), [`only${w}`]);
      assert.equal((await configHistory(s, p)).length, 2);
    } finally {
      await Promise.all(sessions.map((ss) => ss.close()));
    }
  });

  test('5 concurrent first publishes (the path does not exist yet): exactly one creates it', async () => {
    const p = '/race/fresh/app';
    const sessions = await Promise.all(Array.from({ length: 5 }, () => Session.connect({ connectString: cs.server, timeoutMs: 10_000 })));
    try {
      const docs = sessions.map((_, i) => doc(`who: ${i}\n`));
      const plans = await Promise.all(sessions.map((ss, i) => planPublish(ss, p, docs[i]!)));
      const outcomes = await Promise.allSettled(sessions.map((ss, i) => applyPublish(ss, plans[i]!)));
      const won = outcomes.filter((o) => o.status === 'fulfilled');
      assert.equal(won.length, 1, outcomes.map((o) => (o.status === 'rejected' ? String(o.reason) : 'won')).join('; '));
      for (const o of outcomes) if (o.status === 'rejected') assert.ok(o.reason instanceof VersionConflictError, String(o.reason));
      const live = await readConfig(s, p);
      assert.equal(live.version, 1);
      assert.ok(docs.some((d) => configEquals(d, live.document)));
    } finally {
      await Promise.all(sessions.map((ss) => ss.close()));
    }
  });
});

describe('watching', () => {
  test('a watcher never observes a partial publish and sees every version in order', async () => {
    const p = '/watch/app';
    const N = 25;
    // Version k's document: every value says k, and the set of keys depends on k, so a half
    // applied publish would show mixed values or a wrong key set.
    const docFor = (k: number): ConfigMap =>
      fromPlain({
        gen: k,
        a: { x: k, y: k, deep: { z: k } },
        list: [k, k, { k }],
        ...(k % 2 === 0 ? { even: { v: k } } : { odd: k }),
        ...(k % 3 === 0 ? { three: { a: k, b: { c: k } } } : {}),
      }) as ConfigMap;
    await publishConfig(s, p, docFor(0), { prune: true, keep: 50 });
    const watcherSession = await Session.connect({ connectString: cs.server, timeoutMs: 10_000 });
    const readerSession = await Session.connect({ connectString: cs.server, timeoutMs: 10_000 });
    const ac = new AbortController();
    const seen: number[] = [];
    const problems: string[] = [];
    let initialSeen!: () => void;
    const ready = new Promise<void>((r) => (initialSeen = r));
    const watching = watchConfig(watcherSession, p, {
      signal: ac.signal,
      onEvent: (e: ConfigWatchEvent) => {
        if (e.kind !== 'version') {
          problems.push(`unexpected ${e.kind} event`);
          return;
        }
        const k = Number(e.document.get('gen'));
        if (!configEquals(e.document, docFor(k))) problems.push(`version ${e.version}: partial/unexpected document ${encodeJson(e.document)}`);
        if (e.version !== k + 1) problems.push(`version ${e.version} holds generation ${k}`);
        seen.push(e.version);
        if (e.initial) initialSeen();
        if (e.version === N + 1) ac.abort();
      },
    });
    // A second observer: plain consistent reads in a loop while publishes run.
    let reads = 0;
    let stopReading = false;
    const reading = (async () => {
      while (!stopReading) {
        const live = await readConfig(readerSession, p);
        const k = Number(live.document.get('gen'));
        if (!configEquals(live.document, docFor(k)) || live.version !== k + 1) problems.push(`read of version ${live.version}: ${encodeJson(live.document)}`);
        reads++;
      }
    })();
    try {
      await ready;
      for (let k = 1; k <= N; k++) await publishConfig(s, p, docFor(k), { prune: true, keep: 50 });
      const deadline = setTimeout(() => ac.abort(), 60_000);
      await watching;
      clearTimeout(deadline);
      stopReading = true;
      await reading;
    } finally {
      ac.abort();
      stopReading = true;
      await watcherSession.close();
      await readerSession.close();
    }
    assert.deepEqual(problems, []);
    assert.deepEqual(seen, Array.from({ length: N + 1 }, (_, i) => i + 1), 'every version, in order, once');
    assert.ok(reads > 0);
  });
});

describe('history and rollback', () => {
  test('history keeps the last N versions with time, message, publisher', async () => {
    const p = '/hist/app';
    for (let i = 1; i <= 5; i++) await publishConfig(s, p, doc(`v: ${i}\n`), { keep: 3, message: `m${i}`, publisher: 'tester' });
    const h = await configHistory(s, p);
    assert.deepEqual(h.map((e) => e.version), [3, 4, 5]);
    assert.deepEqual(h.map((e) => e.message), ['m3', 'm4', 'm5']);
    assert.ok(h.every((e) => e.publisher === 'tester' && !Number.isNaN(Date.parse(e.time))));
    assert.equal(encodeJson(h[0]!.document), '{"v":3}');
    assert.deepEqual((await s.getChildren(`${p}/${HISTORY_NODE}`)).children.sort(), ['0000000003', '0000000004', '0000000005']);
    await assert.rejects(readHistoryEntry(s, p, 1), (e: unknown) => (e as { exitCode?: number }).exitCode === 3);
    // keep 0: no history at all from now on
    await publishConfig(s, p, doc('v: 6\n'), { keep: 0 });
    assert.deepEqual(await configHistory(s, p), []);
  });

  test('rollback publishes the old document exactly, as a new version', async () => {
    const p = '/hist/rb';
    const d1 = doc('a: 1\nb: {c: [1, 2]}\n');
    await publishConfig(s, p, d1);
    await publishConfig(s, p, doc('a: 2\nextra: x\n'));
    const r = await rollbackConfig(s, p, 1);
    assert.equal(r.version, 3);
    const live = await readConfig(s, p);
    assert.ok(configEquals(live.document, d1), encodeJson(live.document));
    assert.equal(live.record?.rollbackOf, 1);
    assert.equal(live.record?.message, 'rollback to version 1');
    const h = await configHistory(s, p);
    assert.deepEqual(h.map((e) => e.version), [1, 2, 3]);
    assert.equal(h[2]!.rollbackOf, 1);
    await assert.rejects(rollbackConfig(s, p, 9), (e: unknown) => (e as { exitCode?: number }).exitCode === 3);
    await assert.rejects(rollbackConfig(s, p, 2, { expectVersion: 2 }), VersionConflictError);
    assert.equal((await readConfig(s, p)).version, 3);
  });
});

describe('request size limit', () => {
  test('a publish over jute.maxbuffer is refused before anything is written; one just under it commits', async () => {
    const p = '/size/app';
    const over = fromPlain({ blob: 'x'.repeat(MAX_REQUEST_BYTES) }) as ConfigMap;
    await assert.rejects(publishConfig(s, p, over), (e: unknown) => e instanceof ConfigTooLargeError && e.exitCode === 2 && /1048575/.test(e.message));
    assert.equal(await s.exists(p), null);
    assert.equal(await s.exists('/size'), null, 'not even the ancestors were created');
    // Fill a document up to the limit exactly (keep 0: no history copy in the transaction).
    const probe = await publishConfig(s, p, fromPlain({ blob: '' }) as ConfigMap, { dryRun: true, keep: 0 });
    const exact = fromPlain({ blob: 'y'.repeat(MAX_REQUEST_BYTES - probe.requestBytes) }) as ConfigMap;
    const r = await publishConfig(s, p, exact, { keep: 0 });
    assert.equal(r.requestBytes, MAX_REQUEST_BYTES);
    assert.equal(r.version, 1);
    const tooBig = fromPlain({ blob: 'y'.repeat(MAX_REQUEST_BYTES - probe.requestBytes + 1) }) as ConfigMap;
    await assert.rejects(publishConfig(s, p, tooBig, { keep: 0 }), ConfigTooLargeError);
    assert.equal((await readConfig(s, p)).version, 1);
  });
});
