/**
 * `zkctl config ...` through the real binary: bad input (exit 2, nothing written), diff exit codes,
 * racing CLI publishers, get round trip, history, rollback, watch with a reload hook, Ctrl-C.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { configEquals, encodeJson, parseConfigYaml } from '../../src/core/config/document.js';
import { publishConfig, readConfig } from '../../src/core/recipes/config-publish.js';
import { chrootSession, type ChrootSession } from '../helpers/session.js';
import { repoRoot, runCli } from '../helpers/zk.js';

let cs: ChrootSession;
let dir: string;

const APP = `name: myapp
db:
  host: db.example.com
  port: 5432
  ratio: 1.0
  pool: {min: 2, max: 10}
"80": http
features: [a, b, {x: 1}]
empty: {}
zip: "02134"
`;

function file(name: string, text: string | Buffer): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

/** zkctl with the test chroot as server. */
function zk(args: string[], opts: Parameters<typeof runCli>[1] = {}): ReturnType<typeof runCli> {
  return runCli([...args, '-s', cs.server], { timeoutMs: 60_000, ...opts });
}

before(async () => {
  cs = await chrootSession('config-cli');
  dir = mkdtempSync(join(process.env.ZKCTL_TEST_TMP ?? tmpdir(), 'config-cli-'));
});
after(async () => {
  await cs?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('bad input: exit 2, one line, nothing written', () => {
  const cases: Array<[string, string | Buffer, RegExp]> = [
    ['syntax.yaml', 'a: [1, 2\nb: 3\n', /syntax\.yaml:2:1: invalid YAML/],
    ['loop.yaml', 'a: &x [1, *x]\n', /loop\.yaml:1:\d+: .*loop/],
    ['intkey.yaml', 'ports:\n  80: http\n', /intkey\.yaml:2:3: key 80 at ports is not a string/],
    ['binary.yaml', 'a: !!binary aGVsbG8=\n', /binary\.yaml:1:\d+: tag !!binary/],
    ['slash.yaml', 'api/v1: 1\n', /cannot become a znode/],
    ['reserved.yaml', '.zkctl-history: 1\n', /reserved/],
    ['inf.yaml', 'a: .inf\n', /cannot be stored/],
    ['empty.yaml', '', /empty/],
    ['list.yaml', '- 1\n', /must be a mapping/],
    ['dup.yaml', 'a: 1\na: 2\n', /dup\.yaml:2:1: .*unique/],
    ['notutf8.yaml', Buffer.from([0x61, 0x3a, 0x20, 0xff, 0xfe, 0x0a]), /not UTF-8/],
    ['big.yaml', `blob: "${'x'.repeat(1_100_000)}"\n`, /1048575 bytes \(jute\.maxbuffer\); nothing was written/],
  ];
  for (const [name, text, re] of cases) {
    test(name, async () => {
      const f = file(name, text);
      const r = await zk(['config', 'publish', `/bad/${name.replace('.yaml', '')}`, f]);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, re);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      assert.equal(r.stdout, '');
      await cs.session.sync('/');
      assert.equal(await cs.session.exists('/bad'), null, 'nothing may be written');
    });
  }

  test('a bad document does not touch an existing publish', async () => {
    await publishConfig(cs.session, '/bad-existing', parseConfigYaml('a: 1\n'));
    const before = (await cs.session.exists('/bad-existing'))!;
    const r = await zk(['config', 'publish', '/bad-existing', file('x.yaml', 'a: 2\nb: !!binary aGk=\n'), '--prune']);
    assert.equal(r.code, 2);
    const afterStat = (await cs.session.exists('/bad-existing'))!;
    assert.equal(afterStat.mzxid, before.mzxid);
    assert.equal(encodeJson((await readConfig(cs.session, '/bad-existing')).document), '{"a":1}');
  });

  test('bad paths and a missing file', async () => {
    assert.equal((await zk(['config', 'publish', 'relative', file('ok.yaml', 'a: 1\n')])).code, 2);
    assert.equal((await zk(['config', 'publish', '/', file('ok.yaml', 'a: 1\n')])).code, 2);
    assert.equal((await zk(['config', 'publish', '/m', join(dir, 'missing.yaml')])).code, 2);
    assert.equal((await zk(['config', 'get', '/nope'])).code, 3);
  });
});

describe('publish, get, diff, history, rollback', () => {
  test('publish shows the plan; get returns the document (YAML and JSON)', async () => {
    const f = file('app.yaml', APP);
    const dry = await zk(['config', 'publish', '/cli/app', f, '--dry-run']);
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(dry.stdout, /^\+ db\/port: 5432$/m);
    assert.match(dry.stdout, /dry run: would publish version 1/);
    await cs.session.sync('/');
    assert.equal(await cs.session.exists('/cli/app'), null);
    const pub = await zk(['config', 'publish', '/cli/app', f, '-m', 'first']);
    assert.equal(pub.code, 0, pub.stderr);
    assert.match(pub.stdout, /^\+ "?80"?: "http"$/m);
    assert.match(pub.stdout, /published version 1 to \/cli\/app/);
    const y = await zk(['config', 'get', '/cli/app']);
    assert.equal(y.code, 0, y.stderr);
    assert.ok(configEquals(parseConfigYaml(y.stdout), parseConfigYaml(APP)), y.stdout);
    const j = await zk(['config', 'get', '/cli/app', '-o', 'json']);
    assert.ok(configEquals(parseConfigYaml(j.stdout), parseConfigYaml(APP)), j.stdout);
    assert.match(j.stdout, /"ratio": 1\.0/);
    const meta = await zk(['config', 'get', '/cli/app', '--json']);
    const o = JSON.parse(meta.stdout) as { version: number; message: string; document: Record<string, unknown> };
    assert.equal(o.version, 1);
    assert.equal(o.message, 'first');
    assert.deepEqual(Object.keys(o.document).length, 6);
    // publish -o json: the plan as an object
    const f2 = file('app2.yaml', APP.replace('port: 5432', 'port: 5433'));
    const pj = await zk(['config', 'publish', '/cli/app', f2, '-o', 'json']);
    const plan = JSON.parse(pj.stdout) as { version: number; changes: Array<{ op: string; key: string; old: unknown; new: unknown }> };
    assert.equal(plan.version, 2);
    assert.deepEqual(plan.changes, [{ op: 'change', key: 'db/port', old: 5432, new: 5433 }]);
  });

  test('diff: 0 when equal, 12 when they differ, 2 for a bad file', async () => {
    const f = file('d.yaml', 'a: 1\nb: {c: 2}\n');
    await zk(['config', 'publish', '/cli/diff', f]);
    const same = await zk(['config', 'diff', '/cli/diff', f]);
    assert.equal(same.code, 0, same.stderr);
    assert.equal(same.stdout, '');
    const other = await zk(['config', 'diff', '/cli/diff', file('d2.yaml', 'a: 1\nb: {c: 3}\nnew: x\n')]);
    assert.equal(other.code, 12, other.stderr);
    assert.match(other.stdout, /^~ b\/c: 2 -> 3$/m);
    assert.match(other.stdout, /^\+ new: "x"$/m);
    const order = await zk(['config', 'diff', '/cli/diff', file('d3.yaml', 'b: {c: 2}\na: 1\n')]);
    assert.equal(order.code, 12);
    assert.equal((await zk(['config', 'diff', '/cli/diff', file('d3.yaml', 'b: {c: 2}\na: 1\n'), '--ignore-order'])).code, 0);
    assert.equal((await zk(['config', 'diff', '/cli/diff', file('d4.yaml', 'a: 1\n')])).code, 12);
    assert.equal((await zk(['config', 'diff', '/cli/diff', file('d4.yaml', 'a: 1\n'), '--ignore-extra'])).code, 0);
    assert.equal((await zk(['config', 'diff', '/cli/diff', file('bad.yaml', 'a: [\n')])).code, 2);
    const json = await zk(['config', 'diff', '/cli/diff', file('d2.yaml', 'a: 1\nb: {c: 3}\n'), '-o', 'json']);
    assert.equal(json.code, 12);
    assert.equal((JSON.parse(json.stdout) as { equal: boolean }).equal, false);
  });

  test('history and rollback', async () => {
    for (let i = 1; i <= 3; i++) {
      const r = await zk(['config', 'publish', '/cli/hist', file(`h${i}.yaml`, `v: ${i}\n`), '-m', `m${i}`]);
      assert.equal(r.code, 0, r.stderr);
    }
    const h = await zk(['config', 'history', '/cli/hist', '-o', 'json']);
    const rows = JSON.parse(h.stdout) as Array<{ version: number; current: boolean; message: string }>;
    assert.deepEqual(rows.map((r) => [r.version, r.current, r.message]), [[1, false, 'm1'], [2, false, 'm2'], [3, true, 'm3']]);
    const rb = await zk(['config', 'rollback', '/cli/hist', '--to', '1']);
    assert.equal(rb.code, 0, rb.stderr);
    assert.match(rb.stdout, /^~ v: 3 -> 1$/m);
    assert.match(rb.stdout, /version 4/);
    assert.equal(encodeJson((await readConfig(cs.session, '/cli/hist')).document), '{"v":1}');
    const old = await zk(['config', 'get', '/cli/hist', '--version', '2']);
    assert.equal(old.stdout, 'v: 2\n');
    assert.equal((await zk(['config', 'rollback', '/cli/hist', '--to', '99'])).code, 3);
    assert.equal((await zk(['config', 'rollback', '/cli/hist', '--to', '2', '--expect-version', '3'])).code, 5);
  });

  test('racing CLI publishers with --expect-version: exactly one exits 0, the others 5', async () => {
    await zk(['config', 'publish', '/cli/race', file('r0.yaml', 'who: nobody\n')]);
    const files = Array.from({ length: 5 }, (_, i) => file(`r${i + 1}.yaml`, `who: p${i}\nonly${i}: true\n`));
    const results = await Promise.all(files.map((f) => zk(['config', 'publish', '/cli/race', f, '--prune', '--expect-version', '1'])));
    const codes = results.map((r) => r.code).sort();
    assert.deepEqual(codes, [0, 5, 5, 5, 5], results.map((r) => r.stderr).join(''));
    const winner = results.findIndex((r) => r.code === 0);
    const live = await readConfig(cs.session, '/cli/race');
    assert.equal(live.version, 2);
    assert.equal(encodeJson(live.document), `{"who":"p${winner}","only${winner}":true}`);
  });
});

describe('watch', () => {
  test('--exec runs the hook with the document and ZKCTL_CONFIG_VERSION; --count ends it', async () => {
    const p = '/cli/watch';
    await publishConfig(cs.session, p, parseConfigYaml('n: 0\n'));
    const out = join(dir, 'hook.log');
    const hook = `{ echo "version=$ZKCTL_CONFIG_VERSION auth=\${ZKCTL_AUTH:-none}"; cat; } >> '${out}'`;
    const watch = zk(['config', 'watch', p, '--exec', hook, '--count', '3', '-o', 'json'], { env: { ZKCTL_AUTH: 'digest:u:secret' } });
    // Publish once the watcher reported the initial version (poll the hook log).
    const waitFor = async (pred: () => boolean, what: string): Promise<void> => {
      for (let i = 0; i < 300 && !pred(); i++) await new Promise((r) => setTimeout(r, 100));
      assert.ok(pred(), what);
    };
    await waitFor(() => existsSync(out) && readFileSync(out, 'utf8').includes('version=1'), 'initial hook run');
    await publishConfig(cs.session, p, parseConfigYaml('n: 1\n'));
    await waitFor(() => readFileSync(out, 'utf8').includes('version=2'), 'second hook run');
    await publishConfig(cs.session, p, parseConfigYaml('n: 2\nm: x\n'));
    const r = await watch;
    assert.equal(r.code, 0, r.stderr);
    const events = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { event: string; version: number; initial: boolean; document: Record<string, unknown> });
    assert.deepEqual(events.map((e) => [e.event, e.version, e.initial]), [['version', 1, true], ['version', 2, false], ['version', 3, false]]);
    assert.deepEqual(events[2]!.document, { n: 2, m: 'x' });
    const log = readFileSync(out, 'utf8');
    assert.equal(log, 'version=1 auth=none\nn: 0\nversion=2 auth=none\nn: 1\nversion=3 auth=none\nn: 2\nm: x\n');
  });

  test('Ctrl-C ends the watch cleanly with 130; --for ends it with 0', async () => {
    await publishConfig(cs.session, '/cli/watch2', parseConfigYaml('a: 1\n'));
    // Interrupt once the initial version is printed (no sleeping on a guess).
    const child = spawn(process.execPath, [join(repoRoot, 'bin', 'zkctl.js'), 'config', 'watch', '/cli/watch2', '--diff', '-s', cs.server], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | null>((resolve) => {
      const killer = setTimeout(() => child.kill('SIGKILL'), 60_000);
      child.stdout.on('data', (d: Buffer) => {
        stdout += d.toString();
        if (stdout.includes('a: 1\n')) child.kill('SIGINT');
      });
      child.on('close', (c) => {
        clearTimeout(killer);
        resolve(c);
      });
    });
    assert.equal(code, 130, stderr);
    assert.equal(stderr, '');
    assert.match(stdout, /^--- # version 1 .*\(initial\)\na: 1\n$/);
    const f = await zk(['config', 'watch', '/cli/watch2', '--for', '1s', '-o', 'json']);
    assert.equal(f.code, 0, f.stderr);
    assert.equal(f.stdout.trim().split('\n').length, 1);
  });
});
