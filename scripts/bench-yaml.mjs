#!/usr/bin/env node
/**
 * YAML input benchmark (`npm run bench:yaml`): the time `config publish` spends
 * parsing and planning a flat mapping of --keys keys (default 200 000, about 4.4 MB),
 * and, in the same run, two anchors on the same machine under the same load:
 *
 *   parse        parseConfigYaml (yaml parse + duplicate-key check + conversion), what publish and diff run
 *   plan         planPublish against a real ensemble (reads the live state, builds and measures the
 *                transaction; a dry run, with ZKCTL_JUTE_MAXBUFFER raised so the ~22 MB transaction is not refused)
 *   raw yaml     yaml's parseDocument with uniqueKeys: false (the library alone, no check)
 *   JSON.parse   of the same data as JSON
 *
 * Ratios: parse / raw yaml, and (parse + plan) / JSON.parse. Goal: parse + plan of
 * 200k keys under 3 s here (issue 10.8: the library's own duplicate check made it
 * quadratic, 40k keys 37 s). Also checks that a duplicate key at the very end is
 * still refused. Exit 12 when the goal is missed.
 *
 * Usage: node scripts/bench-yaml.mjs [--keys 200000] [-s host:port] [--goal-ms 3000] [--json]
 *   Without -s a private 1-member ensemble is started (project ensemble code, free ports
 *   from 27100) and removed at the end; with -s the plan is made under a fresh path there
 *   (a dry run: nothing is written). Needs `npm run build` first.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const argv = process.argv.slice(2);
const opt = (name, def) => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : def;
};
const keys = Number(opt('--keys', '200000'));
const goalMs = Number(opt('--goal-ms', '3000'));
const asJson = argv.includes('--json');
let server = opt('-s', opt('--server', undefined));
const log = (m) => process.stderr.write(`bench-yaml: ${m}\n`);
const dist = (p) => pathToFileURL(join(root, 'dist', p)).href;

if (!existsSync(join(root, 'dist', 'core', 'config', 'document.js'))) {
  log('dist/ is missing: run `npm run build` first');
  process.exit(1);
}
const { parseConfigYaml } = await import(dist('core/config/document.js'));
const { planPublish } = await import(dist('core/recipes/config-publish.js'));
const { Session } = await import(dist('core/session.js'));
const { formatBackup, parseBackup } = await import(dist('core/backup.js'));
const Y = createRequire(import.meta.url)('yaml');

const time = (fn) => {
  const t0 = performance.now();
  const v = fn();
  return [performance.now() - t0, v];
};
const timeAsync = async (fn) => {
  const t0 = performance.now();
  const v = await fn();
  return [performance.now() - t0, v];
};

let text = '';
const obj = {};
for (let i = 0; i < keys; i++) {
  text += `key${i}: value number ${i}\n`;
  obj[`key${i}`] = `value number ${i}`;
}
const json = JSON.stringify(obj);
log(`${keys} keys, ${(text.length / 1e6).toFixed(1)} MB of YAML; load average ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);

const tmp = mkdtempSync(join(tmpdir(), 'zkctl-bench-yaml-'));
const cleanups = [() => rmSync(tmp, { recursive: true, force: true })];
let code = 0;
try {
  if (!server) {
    const E = await import(dist('ensemble/index.js'));
    const basePort = await E.freeBasePort({ start: 27100, size: 1 });
    log(`starting a 1-member ensemble on port ${basePort} ...`);
    const env = { ...process.env, XDG_STATE_HOME: join(tmp, 'state'), XDG_CONFIG_HOME: join(tmp, 'config') };
    const ens = await E.up({ name: 'bench-yaml', size: 1, basePort, dir: join(tmp, 'ensemble'), env, waitMs: 90_000 });
    server = ens.connectString;
    cleanups.unshift(() => E.load(ens.dir, { env }).down({ purge: true, timeoutMs: 15_000 }));
  }
  const [jsonMs] = time(() => JSON.parse(json));
  const [rawMs, raw] = time(() => Y.parseDocument(text, { uniqueKeys: false, intAsBigInt: true, schema: 'core', version: '1.2' }));
  if (raw.errors.length) throw new Error(`raw parse failed: ${raw.errors[0].message}`);
  const [parseMs, doc] = time(() => parseConfigYaml(text, 'bench.yaml'));
  if (doc.size !== keys) throw new Error(`parsed ${doc.size} keys, expected ${keys}`);
  // Connected only now: the parses above hold the event loop for seconds (no pings).
  const s = await Session.connect({ connectString: server, timeoutMs: 30_000 });
  cleanups.unshift(() => s.close());
  const path = `/zkctl-bench-yaml-${randomBytes(3).toString('hex')}`;
  // A dry run, as against a server with a large jute.maxbuffer: 200k keys make a ~22 MB transaction,
  // over ZooKeeper's default 1 MB limit (planPublish would refuse it after planning it all).
  process.env.ZKCTL_JUTE_MAXBUFFER = String(1 << 30);
  const [planMs, plan] = await timeAsync(() => planPublish(s, path, doc, { dryRun: true, keep: 0 }));
  const ops = plan.ops.length;
  // duplicates are still caught, at the very end of a big mapping
  let dupCaught = false;
  try {
    parseConfigYaml(`${text}key0: again\n`, 'bench.yaml');
  } catch (e) {
    dupCaught = /Map keys must be unique/.test(e.message) && /bench\.yaml:\d+:1:/.test(e.message);
  }
  const total = parseMs + planMs;
  // Backups: a 100k-node YAML backup (the export format), parsed by the fast path; anchor: the same backup as JSON.
  const OPEN = [{ perms: 31, id: { scheme: 'world', id: 'anyone' } }];
  const nodes = [{ path: '.', type: 'persistent', acl: OPEN, data: Buffer.alloc(0) }];
  for (let i = 0; i < 100; i++) nodes.push({ path: `d${i}`, type: 'persistent', acl: OPEN, data: Buffer.from(`dir ${i}`) });
  for (let i = 0; nodes.length < 100_000; i++) nodes.push({ path: `d${i % 100}/n${i}`, type: 'persistent', acl: OPEN, data: Buffer.from(`value ${i}`) });
  const backupHeader = { format: 'zkctl-backup', version: 1, root: '/' };
  const backupYaml = formatBackup({ header: backupHeader, nodes }, 'yaml');
  const backupJson = formatBackup({ header: backupHeader, nodes }, 'json');
  const [backupYamlMs, by] = time(() => parseBackup(backupYaml, 'bench.yaml'));
  const [backupJsonMs, bj] = time(() => parseBackup(backupJson, 'bench.json'));
  if (by.nodes.length !== 100_000 || bj.nodes.length !== 100_000) throw new Error('backup parse lost nodes');
  const report = {
    keys,
    bytes: text.length,
    loadavg: loadavg(),
    ms: { parse: Math.round(parseMs), plan: Math.round(planMs), total: Math.round(total), rawYaml: Math.round(rawMs), jsonParse: Math.round(jsonMs) },
    ratio: { parseVsRawYaml: +(parseMs / rawMs).toFixed(2), totalVsJsonParse: +(total / jsonMs).toFixed(1) },
    planOps: ops,
    backup: { nodes: 100_000, yamlMs: Math.round(backupYamlMs), jsonMs: Math.round(backupJsonMs), yamlVsJson: +(backupYamlMs / backupJsonMs).toFixed(1) },
    duplicateCaught: dupCaught,
    goalMs,
    ok: total < goalMs && dupCaught,
  };
  if (asJson) process.stdout.write(`${JSON.stringify(report)}\n`);
  else {
    process.stdout.write(
      `yaml benchmark: ${keys} keys (${(text.length / 1e6).toFixed(1)} MB), load average ${report.loadavg.map((x) => x.toFixed(2)).join(' ')}\n` +
        `  parse (parseConfigYaml)      ${report.ms.parse} ms\n` +
        `  plan (planPublish, dry run)  ${report.ms.plan} ms   (${ops} ops)\n` +
        `  parse + plan                 ${report.ms.total} ms   goal < ${goalMs} ms: ${total < goalMs ? 'ok' : 'MISSED'}\n` +
        `  anchor: raw yaml parse       ${report.ms.rawYaml} ms   parse / raw = ${report.ratio.parseVsRawYaml}x\n` +
        `  anchor: JSON.parse           ${report.ms.jsonParse} ms   (parse + plan) / JSON.parse = ${report.ratio.totalVsJsonParse}x\n` +
        `  duplicate key at the end refused: ${dupCaught ? 'yes' : 'NO'}\n` +
        `  backup, 100k nodes: YAML ${report.backup.yamlMs} ms, same backup as JSON ${report.backup.jsonMs} ms (anchor): YAML / JSON = ${report.backup.yamlVsJson}x\n`,
    );
  }
  if (!report.ok) code = 12;
} catch (e) {
  log(`failed: ${e.stack ?? e}`);
  code = 1;
} finally {
  for (const f of cleanups) {
    try {
      await f();
    } catch {
      /* best effort */
    }
  }
}
process.exit(code);
