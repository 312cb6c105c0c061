#!/usr/bin/env node
/**
 * Tree benchmark (`npm run bench:tree`): builds a tree of --nodes znodes (default 100 000,
 * created with pipelined requests) and times, in the same run, side by side:
 *
 *   zkctl export ROOT -f x.yaml     every node's data + ACL + stat, written as a backup (YAML)
 *   zkctl export ROOT -f x.json     the same, JSON
 *   zkctl find ROOT                 every node's path (stat only)
 *   kazoo serial walk, full         Python kazoo 2.x (/usr/bin/python3): get_children + get + get_acls, one request at a time
 *   kazoo serial walk, paths        get_children only (what find needs)
 *
 * each as its own process under /usr/bin/time -v (wall time from here, peak RSS from time),
 * checking that every one saw all the nodes. Ratios: export vs the full kazoo walk, find vs
 * the paths-only walk. Goals: >= 3x faster than the serial walk, peak RSS <= 200 MB.
 *
 * Usage: node scripts/bench-tree.mjs [-s host:port[,...]] [--nodes 100000] [--members 1]
 *          [--window 1000] [--keep] [--json]
 *   Without -s, a private ensemble of --members servers is started (project ensemble code,
 *   free ports from 27000) and removed at the end. With -s, the tree goes under
 *   /zkctl-bench-tree-<random> there and is deleted at the end (unless --keep).
 * Needs `npm run build` first. Exit 12 when a goal is missed.
 */
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const argv = process.argv.slice(2);
const opt = (name, def) => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : def;
};
const server0 = opt('-s', opt('--server', undefined));
const nodes = Number(opt('--nodes', '100000'));
const members = Number(opt('--members', '1'));
const window = Number(opt('--window', '1000'));
const keep = argv.includes('--keep');
const asJson = argv.includes('--json');
const log = (m) => process.stderr.write(`[bench:tree] ${m}\n`);
const dist = (p) => pathToFileURL(join(root, 'dist', p)).href;
if (!existsSync(join(root, 'dist', 'core', 'session.js'))) {
  log('dist/ is missing: run `npm run build` first');
  process.exit(1);
}
const { Session } = await import(dist('core/session.js'));
const { deleteTree } = await import(dist('core/tree.js'));
const python = '/usr/bin/python3';
const timeBin = existsSync('/usr/bin/time') ? '/usr/bin/time' : undefined;

const tmp = mkdtempSync(join(tmpdir(), 'zkctl-bench-tree-'));
let ensemble;
let server = server0;
const cleanups = [];
async function cleanup() {
  for (const f of cleanups.reverse()) {
    try {
      await f();
    } catch (e) {
      log(`cleanup: ${e.message}`);
    }
  }
  rmSync(tmp, { recursive: true, force: true });
}
process.on('SIGINT', () => {
  cleanup().finally(() => process.exit(130));
});

/* ---------------------------------------------------------------- */

/** Shape: /ROOT/dNN/eNN/nNNN with fan-outs chosen so the total is `count` (parents included). */
function shape(count) {
  const d = Math.max(1, Math.round(Math.cbrt(count / 10)));
  const e = 10;
  const leaves = Math.max(1, Math.floor((count - 1 - d - d * e) / (d * e)));
  return { d, e, leaves };
}

async function build(s, top, count) {
  const { d, e, leaves } = shape(count);
  const paths = [top];
  for (let i = 0; i < d; i++) {
    paths.push(`${top}/d${i}`);
    for (let j = 0; j < e; j++) {
      paths.push(`${top}/d${i}/e${j}`);
      for (let k = 0; k < leaves; k++) paths.push(`${top}/d${i}/e${j}/n${k}`);
    }
  }
  // Top up to exactly `count`.
  for (let k = 0; paths.length < count; k++) paths.push(`${top}/d0/x${k}`);
  const t0 = Date.now();
  let next = 0;
  let done = 0;
  let failed;
  await new Promise((resolveAll) => {
    const pump = () => {
      while (next < paths.length && next - done < 2000 && !failed) {
        const p = paths[next++];
        // ZooKeeper applies one session's requests in order: children may be sent before their parent's reply.
        s.create(p, Buffer.from(`value of ${p.slice(top.length)}`.padEnd(32, '.'))).then(
          () => {
            done++;
            if (done === paths.length) resolveAll();
            else pump();
          },
          (err) => {
            failed ??= err;
            resolveAll();
          },
        );
      }
    };
    pump();
  });
  if (failed) throw failed;
  return { count: paths.length, ms: Date.now() - t0 };
}

/** Run a command as its own process; wall ms (from here), peak RSS MB (/usr/bin/time -v), stdout. */
function run(label, cmd, args, opts = {}) {
  return new Promise((resolveRun, reject) => {
    const tf = join(tmp, `time-${randomBytes(3).toString('hex')}`);
    const full = timeBin ? [timeBin, ['-v', '-o', tf, cmd, ...args]] : [cmd, args];
    const t0 = process.hrtime.bigint();
    const child = spawn(full[0], full[1], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...(opts.env ?? {}) } });
    let out = '';
    let lines = 0;
    let err = '';
    child.stdout.on('data', (b) => {
      if (opts.countLines) {
        for (const c of b) if (c === 10) lines++;
      } else out += b;
    });
    child.stderr.on('data', (b) => (err += b));
    child.on('error', reject);
    child.on('close', (code) => {
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      if (code !== 0) return reject(new Error(`${label} exited ${code}: ${err.trim().split('\n').slice(-3).join(' | ')}`));
      let rssMb;
      if (timeBin && existsSync(tf)) {
        const m = /Maximum resident set size \(kbytes\): (\d+)/.exec(readFileSync(tf, 'utf8'));
        if (m) rssMb = Number(m[1]) / 1024;
      }
      resolveRun({ label, ms, rssMb, out, lines });
    });
  });
}

const KAZOO_WALK = `
import sys, time
from kazoo.client import KazooClient
server, root, mode = sys.argv[1], sys.argv[2], sys.argv[3]
zk = KazooClient(hosts=server, timeout=30)
zk.start(timeout=30)
count = 0
nbytes = 0
stack = [root]
while stack:
    p = stack.pop()
    kids = zk.get_children(p)
    if mode == 'full':
        data, stat = zk.get(p)
        acl, _ = zk.get_acls(p)
        nbytes += len(data or b'')
    count += 1
    for k in sorted(kids, reverse=True):
        stack.append(p + '/' + k if p != '/' else '/' + k)
zk.stop()
print(count, nbytes)
`;

/* ---------------------------------------------------------------- */

let code = 0;
try {
  if (!server) {
    const E = await import(dist('ensemble/index.js'));
    const basePort = await E.freeBasePort({ start: 27000, size: members });
    log(`starting a ${members}-member ensemble on ports from ${basePort} ...`);
    const env = { ...process.env, XDG_STATE_HOME: join(tmp, 'state'), XDG_CONFIG_HOME: join(tmp, 'config') };
    ensemble = await E.up({ name: 'bench-tree', size: members, basePort, dir: join(tmp, 'ensemble'), env, waitMs: 90_000 });
    server = ensemble.connectString;
    cleanups.push(() => E.load(ensemble.dir, { env }).down({ purge: true, timeoutMs: 15_000 }));
  }
  const top = `/zkctl-bench-tree-${randomBytes(3).toString('hex')}`;
  const s = await Session.connect({ connectString: server, timeoutMs: 30_000 });
  cleanups.push(() => s.close());
  log(`building ${nodes} znodes under ${top} on ${server} ...`);
  const b = await build(s, top, nodes);
  log(`built ${b.count} znodes in ${(b.ms / 1000).toFixed(1)} s (${Math.round(b.count / (b.ms / 1000))} creates/s, pipelined)`);
  if (!keep) cleanups.push(() => deleteTree(s, top, { window: 2000 }).then((n) => log(`deleted ${n} znodes`)));
  await s.sync(top);

  const zkctl = [process.execPath, join(root, 'bin', 'zkctl.js')];
  const env = { XDG_STATE_HOME: join(tmp, 'state'), XDG_CONFIG_HOME: join(tmp, 'config') };
  const py = join(tmp, 'walk.py');
  writeFileSync(py, KAZOO_WALK);
  const results = {};
  const yamlFile = join(tmp, 'x.yaml');
  const jsonFile = join(tmp, 'x.json');

  // Interleaved, each once: warm-up of the server's caches happens during the build.
  const steps = [
    ['zkctl export (yaml)', () => run('zkctl export (yaml)', zkctl[0], [zkctl[1], 'export', top, '-f', yamlFile, '-s', server, '--window', String(window)], { env })],
    ['kazoo walk, full', () => run('kazoo walk, full', python, [py, server, top, 'full'])],
    ['zkctl find', () => run('zkctl find', zkctl[0], [zkctl[1], 'find', top, '-s', server, '--window', String(window)], { env, countLines: true })],
    ['kazoo walk, paths', () => run('kazoo walk, paths', python, [py, server, top, 'paths'])],
    ['zkctl export (json)', () => run('zkctl export (json)', zkctl[0], [zkctl[1], 'export', top, '-f', jsonFile, '-s', server, '--window', String(window)], { env })],
  ];
  for (const [name, f] of steps) {
    log(`running ${name} ...`);
    results[name] = await f();
    log(`  ${(results[name].ms / 1000).toFixed(2)} s, peak RSS ${results[name].rssMb?.toFixed(0) ?? '?'} MB`);
  }
  // Everyone must have seen every node.
  const seen = {
    'zkctl export (yaml)': Number(/exported (\d+) nodes/.exec(results['zkctl export (yaml)'].out)?.[1]),
    'zkctl export (json)': Number(/exported (\d+) nodes/.exec(results['zkctl export (json)'].out)?.[1]),
    'zkctl find': results['zkctl find'].lines,
    'kazoo walk, full': Number(results['kazoo walk, full'].out.trim().split(' ')[0]),
    'kazoo walk, paths': Number(results['kazoo walk, paths'].out.trim().split(' ')[0]),
  };
  for (const [k, v] of Object.entries(seen)) {
    if (v !== b.count) {
      log(`${k} saw ${v} nodes, expected ${b.count}`);
      code = 1;
    }
  }
  const ratio = (a, base) => results[base].ms / results[a].ms;
  const rows = [
    { name: 'zkctl export (yaml)', base: 'kazoo walk, full' },
    { name: 'zkctl export (json)', base: 'kazoo walk, full' },
    { name: 'zkctl find', base: 'kazoo walk, paths' },
    { name: 'kazoo walk, full' },
    { name: 'kazoo walk, paths' },
  ].map((r) => ({
    name: r.name,
    seconds: +(results[r.name].ms / 1000).toFixed(2),
    nodesPerSecond: Math.round(b.count / (results[r.name].ms / 1000)),
    peakRssMb: results[r.name].rssMb !== undefined ? +results[r.name].rssMb.toFixed(1) : null,
    vs: r.base ?? null,
    speedup: r.base ? +ratio(r.name, r.base).toFixed(2) : null,
  }));
  const goals = rows
    .filter((r) => r.name.startsWith('zkctl'))
    .map((r) => ({ name: r.name, speedupOk: r.speedup >= 3, rssOk: r.peakRssMb === null || r.peakRssMb <= 200 }));
  const missed = goals.filter((g) => !g.speedupOk || !g.rssOk);
  if (missed.length > 0 && code === 0) code = 12;
  const fileSizes = { yaml: statSync(yamlFile).size, json: statSync(jsonFile).size };
  const report = {
    nodes: b.count,
    server,
    members: ensemble ? members : undefined,
    window,
    machine: { cpus: cpus().length, model: cpus()[0]?.model, memGb: +(totalmem() / 2 ** 30).toFixed(1), node: process.version },
    buildSeconds: +(b.ms / 1000).toFixed(2),
    backupBytes: fileSizes,
    rows,
    goals: { speedup: '>= 3x the serial kazoo walk', peakRss: '<= 200 MB', missed: missed.map((g) => g.name) },
  };
  if (asJson) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  else {
    const w = Math.max(...rows.map((r) => r.name.length));
    let t = `\ntree benchmark: ${b.count} znodes on ${server}${ensemble ? ` (${members}-member local ensemble)` : ''}; ${report.machine.cpus} CPUs (${report.machine.model}), node ${process.version}\n`;
    t += `build (pipelined creates): ${report.buildSeconds} s\n\n`;
    t += `${'run'.padEnd(w)}  ${'time'.padStart(8)}  ${'nodes/s'.padStart(8)}  ${'peak RSS'.padStart(9)}  speed-up\n`;
    for (const r of rows) {
      t += `${r.name.padEnd(w)}  ${`${r.seconds.toFixed(2)} s`.padStart(8)}  ${String(r.nodesPerSecond).padStart(8)}  ${(r.peakRssMb === null ? 'n/a' : `${r.peakRssMb.toFixed(0)} MB`).padStart(9)}  ${r.speedup === null ? '' : `${r.speedup.toFixed(2)}x vs ${r.vs}`}\n`;
    }
    t += `\nbackup files: yaml ${(fileSizes.yaml / 1e6).toFixed(1)} MB, json ${(fileSizes.json / 1e6).toFixed(1)} MB\n`;
    t += `goals (>= 3x the serial walk, peak RSS <= 200 MB): ${missed.length === 0 ? 'met' : `MISSED by ${missed.map((g) => g.name).join(', ')}`}\n`;
    process.stdout.write(t);
  }
} catch (e) {
  log(`failed: ${e?.message ?? e}`);
  code = 1;
} finally {
  await cleanup();
}
process.exit(code);
