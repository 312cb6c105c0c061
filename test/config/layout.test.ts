/**
 * The two config layouts (issue 11, "claims that must be exactly true"):
 * - nodes (default): one znode per key; document: the whole document in PATH's own data.
 * - The layout is recorded on ZooKeeper: later publishes, get, watch, diff, history and rollback
 *   find it without a flag; naming the other layout converts, in one transaction.
 * - The document layout's one-znode bound is enforced before anything is written (exit 2, naming
 *   the size and --layout nodes).
 * - Interop: a kazoo TreeCache (node-by-node cache) watching a document-layout config across rapid
 *   publishes only ever sees whole versions. (The nodes layout is run too and its mixed states are
 *   reported, not asserted: whether a cache catches one is a matter of timing.)
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { configEquals, fromPlain, parseConfigYaml, type ConfigMap } from '../../src/core/config/document.js';
import {
  ConfigTooLargeError,
  HISTORY_NODE,
  configHistory,
  publishConfig,
  readConfig,
  rollbackConfig,
  watchConfig,
  type ConfigWatchEvent,
} from '../../src/core/recipes/config-publish.js';
import { chrootSession, type ChrootSession } from '../helpers/session.js';
import { repoRoot, runCli } from '../helpers/zk.js';

const APP = `name: myapp
db: {host: db1, port: 5432, ratio: 0.5, tls: {enabled: true}}
"80": http
big: 123456789012345678901234567890
zeta: 1.0
list: [1, {x: y}]
`;

let cs: ChrootSession;
let dir: string;

before(async () => {
  cs = await chrootSession('config-layout');
  dir = mkdtempSync(join(process.env.ZKCTL_TEST_TMP ?? tmpdir(), 'config-layout-'));
});
after(async () => {
  await cs?.close();
  rmSync(dir, { recursive: true, force: true });
});

const doc = (y: string): ConfigMap => parseConfigYaml(y);
const children = async (p: string): Promise<string[]> => (await cs.session.getChildren(p)).children.sort();

describe('document layout (library)', () => {
  test('publishes the whole document into PATH\'s data, no key znodes; reads it back equal (order, types)', async () => {
    const r = await publishConfig(cs.session, '/doc1', doc(APP), { layout: 'document' });
    assert.equal(r.version, 1);
    assert.equal(r.layout, 'document');
    assert.deepEqual(await children('/doc1'), [HISTORY_NODE]);
    const rec = JSON.parse((await cs.session.get('/doc1')).data.toString('utf8')) as Record<string, unknown>;
    assert.equal(rec.layout, 'document');
    assert.equal(rec.version, 1);
    assert.equal((rec.document as Record<string, unknown>).name, 'myapp');
    const live = await readConfig(cs.session, '/doc1');
    assert.equal(live.layout, 'document');
    assert.equal(live.drift, false);
    assert.ok(configEquals(live.document, doc(APP)));
    assert.deepEqual([...live.document.keys()], ['name', 'db', '80', 'big', 'zeta', 'list']);
  });

  test('later publishes keep the recorded layout without being told; equal document: no new version', async () => {
    const r = await publishConfig(cs.session, '/doc1', doc(`${APP}extra: 2\n`));
    assert.equal(r.layout, 'document');
    assert.equal(r.version, 2);
    assert.deepEqual(await children('/doc1'), [HISTORY_NODE]);
    const same = await publishConfig(cs.session, '/doc1', doc(`${APP}extra: 2\n`));
    assert.equal(same.changed, false);
    // Without --prune live keys are kept; with it they go.
    const kept = await publishConfig(cs.session, '/doc1', doc('name: other\n'));
    assert.equal((await readConfig(cs.session, '/doc1')).document.get('extra'), 2n);
    assert.equal(kept.version, 3);
    await publishConfig(cs.session, '/doc1', doc('name: other\n'), { prune: true });
    assert.deepEqual([...(await readConfig(cs.session, '/doc1')).document.keys()], ['name']);
  });

  test('history and rollback work on the document layout', async () => {
    const h = await configHistory(cs.session, '/doc1');
    assert.deepEqual(h.map((e) => e.version), [1, 2, 3, 4]);
    const r = await rollbackConfig(cs.session, '/doc1', 1);
    assert.equal(r.version, 5);
    assert.equal(r.layout, 'document');
    const live = await readConfig(cs.session, '/doc1');
    assert.ok(configEquals(live.document, doc(APP)));
    assert.equal(live.record?.rollbackOf, 1);
    assert.deepEqual(await children('/doc1'), [HISTORY_NODE]);
  });

  test('converting: nodes -> document removes the key znodes and document -> nodes makes them, each in one publish', async () => {
    await publishConfig(cs.session, '/conv', doc(APP));
    assert.ok((await children('/conv')).includes('db'));
    const toDoc = await publishConfig(cs.session, '/conv', doc(APP), { layout: 'document' });
    assert.equal(toDoc.changed, true, 'a layout change is a new version even with the same document');
    assert.equal(toDoc.layoutChangedFrom, 'nodes');
    assert.equal(toDoc.version, 2);
    assert.deepEqual(await children('/conv'), [HISTORY_NODE]);
    assert.ok(configEquals((await readConfig(cs.session, '/conv')).document, doc(APP)));
    const back = await publishConfig(cs.session, '/conv', doc('name: x\n'), { layout: 'nodes' });
    assert.equal(back.layoutChangedFrom, 'document');
    // Without --prune the document's other keys are kept: they become znodes too.
    assert.deepEqual(await children('/conv'), [HISTORY_NODE, '80', 'big', 'db', 'list', 'name', 'zeta'].sort());
    const live = await readConfig(cs.session, '/conv');
    assert.equal(live.layout, 'nodes');
    assert.equal(live.drift, false);
    assert.equal(live.document.get('name'), 'x');
    assert.deepEqual([...live.document.keys()], ['name', 'db', '80', 'big', 'zeta', 'list']);
  });

  test('watchConfig reports whole versions of a document-layout config', async () => {
    await publishConfig(cs.session, '/wdoc', fromPlain({ a: 0, b: 0 }) as ConfigMap, { layout: 'document' });
    const seen: ConfigWatchEvent[] = [];
    const ac = new AbortController();
    const w = watchConfig(cs.session, '/wdoc', {
      signal: ac.signal,
      onEvent: (e) => {
        seen.push(e);
        if (e.kind === 'version' && e.version === 4) ac.abort();
      },
    });
    for (let i = 1; i <= 3; i++) await publishConfig(cs.session, '/wdoc', fromPlain({ a: i, b: i }) as ConfigMap);
    await w;
    const versions = seen.filter((e) => e.kind === 'version') as Array<Extract<ConfigWatchEvent, { kind: 'version' }>>;
    assert.equal(versions[versions.length - 1].version, 4);
    for (const e of versions) assert.equal(e.document.get('a'), e.document.get('b'));
  });

  test('a document over one znode is refused before anything is written, naming the size and --layout nodes', async () => {
    const big = new Map<string, string>();
    for (let i = 0; i < 1100; i++) big.set(`k${i}`, 'x'.repeat(1000));
    await assert.rejects(publishConfig(cs.session, '/toobig', big as ConfigMap, { layout: 'document', keep: 0 }), (e: Error) => {
      assert.ok(e instanceof ConfigTooLargeError);
      assert.match(e.message, /document layout .* would be 1\.\d\d MiB \(\d+ bytes\).*jute\.maxbuffer 1048575/);
      assert.match(String((e as { hint?: string }).hint), /--layout nodes/);
      return true;
    });
    assert.equal(await cs.session.exists('/toobig'), null);
  });
});

describe('layouts through the CLI', () => {
  const zk = (args: string[], opts: Parameters<typeof runCli>[1] = {}): ReturnType<typeof runCli> => runCli([...args, '-s', cs.server], { timeoutMs: 60_000, ...opts });

  test('publish --layout document; get/diff/history/rollback/watch find the layout themselves', async () => {
    const f = join(dir, 'app.yaml');
    writeFileSync(f, APP);
    let r = await zk(['config', 'publish', f, '--path', '/cli', '--layout', 'document']);
    assert.equal(r.code, 0, r.stderr);
    r = await zk(['config', 'get', '/cli', '--json']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).layout, 'document');
    writeFileSync(f, `${APP}more: true\n`);
    r = await zk(['config', 'diff', f, '--path', '/cli']);
    assert.equal(r.code, 12, r.stderr);
    assert.match(r.stdout, /\+ more: true/);
    r = await zk(['config', 'publish', f, '--path', '/cli', '-o', 'json']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).layout, 'document');
    assert.deepEqual(await children('/cli'), [HISTORY_NODE]);
    r = await zk(['config', 'history', '/cli', '-o', 'json']);
    assert.deepEqual((JSON.parse(r.stdout) as Array<{ version: number }>).map((x) => x.version), [1, 2]);
    r = await zk(['config', 'rollback', '/cli', '--to', '1']);
    assert.equal(r.code, 0, r.stderr);
    r = await zk(['config', 'watch', '/cli', '--count', '1', '-o', 'json']);
    assert.equal(r.code, 0, r.stderr);
    const ev = JSON.parse(r.stdout.trim()) as { version: number; document: Record<string, unknown> };
    assert.equal(ev.version, 3);
    assert.equal('more' in ev.document, false);
    // Converting back is explicit and says so.
    r = await zk(['config', 'publish', f, '--path', '/cli', '--layout', 'nodes']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /converted from the document layout to the nodes layout/);
    assert.ok((await children('/cli')).includes('db'));
  });

  test('too large for one znode: exit 2, one line naming the size, nothing written', async () => {
    const f = join(dir, 'big.yaml');
    writeFileSync(f, Array.from({ length: 40 }, (_, i) => `k${i}: ${'y'.repeat(100)}\n`).join(''));
    const r = await zk(['config', 'publish', f, '--path', '/clibig', '--layout', 'document'], { env: { ZKCTL_JUTE_MAXBUFFER: '4096' } });
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /would be [\d.]+ KiB \(\d+ bytes\)/);
    assert.match(r.stderr, /--layout nodes/);
    assert.equal(await cs.session.exists('/clibig'), null);
  });
});

describe('interop: kazoo TreeCache, a node-by-node cache', () => {
  const hasKazoo = spawnSync('/usr/bin/python3', ['-c', 'import kazoo.recipe.cache'], { stdio: 'ignore' }).status === 0;

  /** Start the TreeCache on `path`, publish versions 2..final rapidly, return what the cache saw. */
  async function observe(path: string, layout: 'nodes' | 'document', final: number): Promise<{ states: Array<{ version: number; doc: Record<string, unknown> }>; final: boolean }> {
    const keys = 10;
    const version = (v: number): ConfigMap => fromPlain(Object.fromEntries(Array.from({ length: keys }, (_, i) => [`k${i}`, v]))) as ConfigMap;
    await publishConfig(cs.session, path, version(1), { layout, keep: 2 });
    const py = spawn('/usr/bin/python3', [join(repoRoot, 'test', 'config', 'kazoo_treecache.py'), cs.server, path, String(final), '60'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    py.stdout.on('data', (d: Buffer) => (out += d.toString()));
    py.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const exited = new Promise<number | null>((r) => py.on('close', (c) => r(c)));
    try {
      const deadline = Date.now() + 30_000;
      while (!out.includes('ready\n')) {
        if (Date.now() > deadline) throw new Error(`TreeCache not ready: ${err}`);
        if (py.exitCode !== null) throw new Error(`kazoo peer exited ${py.exitCode}: ${err}`);
        await new Promise((r) => setTimeout(r, 20));
      }
      // Rapid publishes: each its own transaction, one after the other, no pause.
      for (let v = 2; v <= final; v++) await publishConfig(cs.session, path, version(v), { keep: 2 });
      const code = await exited;
      assert.equal(code, 0, err);
    } finally {
      py.kill('SIGKILL');
    }
    return JSON.parse(out.split('\n').filter(Boolean).pop()!) as { states: Array<{ version: number; doc: Record<string, unknown> }>; final: boolean };
  }

  const mixed = (s: { version: number; doc: Record<string, unknown> }): boolean => {
    const vals = Object.values(s.doc);
    return vals.length !== 10 || vals.some((x) => x !== s.version);
  };

  test('document layout: across 10 rapid publishes every state the TreeCache holds is one whole version', { skip: hasKazoo ? false : 'kazoo missing (apt-get install python3-kazoo)' }, async (t) => {
    const seen = await observe('/tc-doc', 'document', 11);
    assert.ok(seen.final, 'the cache saw the last version');
    assert.ok(seen.states.length > 0);
    const bad = seen.states.filter(mixed);
    assert.deepEqual(bad, [], `mixed states seen: ${JSON.stringify(bad.slice(0, 3))}`);
    t.diagnostic(`document layout: ${seen.states.length} states seen, 0 mixed`);
  });

  test('nodes layout, for comparison (mixed states reported, not asserted: timing decides)', { skip: hasKazoo ? false : 'kazoo missing' }, async (t) => {
    const seen = await observe('/tc-nodes', 'nodes', 11);
    assert.ok(seen.final, 'the cache saw the last version');
    t.diagnostic(`nodes layout: ${seen.states.length} states seen, ${seen.states.filter(mixed).length} mixed`);
  });
});
