#!/usr/bin/env node
/**
 * `npm run bench:ops`: zkctl against the official Java client, same ensemble, same run.
 *
 * 1. The ensemble: $ZKCTL_SERVER (or the first argument); otherwise a fresh local 3-member
 *    ensemble started with zkctl's own ensemble library in a temp dir (torn down at the end).
 * 2. Compiles ../shared/reference/ZkJavaBench.java into /tmp/zkjb (javac, Debian's zookeeper.jar).
 * 3. For get and set (1 session, 1000 in flight, 50 000 ops): runs `zkctl bench ops` and the Java
 *    client alternately, ROUNDS times (default 2; ZKCTL_BENCH_ROUNDS), and prints every figure,
 *    the best of each side and the ratio zkctl/java (goal >= 0.9).
 * Needs a build (`npm run build`, which the npm script runs first).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const javaSrc = resolve(root, '..', 'shared', 'reference', 'ZkJavaBench.java');
const zkJar = '/usr/share/java/zookeeper.jar';
const classDir = '/tmp/zkjb';
const TOTAL = Number(process.env.ZKCTL_BENCH_OPS ?? 50000);
const WINDOW = Number(process.env.ZKCTL_BENCH_WINDOW ?? 1000);
const ROUNDS = Number(process.env.ZKCTL_BENCH_ROUNDS ?? 2);
const log = (m) => process.stderr.write(`[bench:ops] ${m}\n`);

if (!existsSync(javaSrc)) {
  log(`missing ${javaSrc}`);
  process.exit(1);
}
const javaClass = join(classDir, 'ZkJavaBench.class');
if (!existsSync(javaClass) || statSync(javaClass).mtimeMs < statSync(javaSrc).mtimeMs) {
  log('javac ZkJavaBench.java');
  execFileSync('javac', ['-d', classDir, '-cp', zkJar, javaSrc], { stdio: 'inherit' });
}

let hosts = process.env.ZKCTL_SERVER || process.argv[2];
let ensemble;
let tmp;
if (!hosts) {
  const E = await import(pathToFileURL(join(root, 'dist', 'ensemble', 'index.js')).href);
  tmp = mkdtempSync(join(tmpdir(), 'zkctl-bench-ops-'));
  const env = { ...process.env, XDG_STATE_HOME: join(tmp, 'state') };
  const basePort = await E.freeBasePort({ start: 27800, size: 3 });
  log(`starting a local 3-member ensemble on ${basePort}..`);
  ensemble = await E.up({ name: 'bench-ops', size: 3, basePort, dir: join(tmp, 'ensemble'), env, waitMs: 60_000 });
  hosts = ensemble.connectString;
}
log(`ensemble ${hosts}`);

function zkctl(op) {
  const r = spawnSync(process.execPath, [join(root, 'bin', 'zkctl.js'), 'bench', 'ops', '-s', hosts, '--phases', op, '--count', String(TOTAL), '--window', String(WINDOW), '--sessions', '1', '--json'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`zkctl bench ops failed (${r.status}): ${r.stderr}`);
  const row = JSON.parse(r.stdout).rows[0];
  return { opsPerSec: row.opsPerSec, cpuUsPerOp: row.cpuUsPerOp, p99Ms: row.p99Ms, errors: row.errors };
}

function java(op) {
  const r = spawnSync('java', ['-cp', `${zkJar}:${classDir}`, 'ZkJavaBench', hosts, op, String(TOTAL), String(WINDOW), '1'], { encoding: 'utf8' });
  const m = /ops\/s=(\d+)/.exec(r.stdout);
  if (!m) throw new Error(`java bench failed (${r.status}): ${r.stdout}${r.stderr}`);
  const e = /errors=(\d+)/.exec(r.stdout);
  return { opsPerSec: Number(m[1]), errors: e ? Number(e[1]) : 0 };
}

let code = 0;
try {
  const summary = [];
  for (const op of ['get', 'set']) {
    const z = [];
    const j = [];
    for (let round = 0; round < ROUNDS; round++) {
      const a = zkctl(op);
      const b = java(op);
      z.push(a.opsPerSec);
      j.push(b.opsPerSec);
      console.log(`${op} round ${round + 1}: zkctl ${a.opsPerSec} ops/s (cpu ${a.cpuUsPerOp} µs/op, p99 ${a.p99Ms} ms, errors ${a.errors})   java ${b.opsPerSec} ops/s (errors ${b.errors})   ratio ${(a.opsPerSec / b.opsPerSec).toFixed(2)}`);
    }
    const bz = Math.max(...z);
    const bj = Math.max(...j);
    summary.push({ op, zkctl: bz, java: bj, ratio: bz / bj });
  }
  console.log(`\npipelined, 1 session, ${WINDOW} in flight, ${TOTAL} ops (best of ${ROUNDS}):`);
  for (const s of summary) console.log(`  ${s.op.padEnd(4)} zkctl ${String(s.zkctl).padStart(7)} ops/s   java ${String(s.java).padStart(7)} ops/s   zkctl/java ${s.ratio.toFixed(2)}${s.ratio >= 0.9 ? '' : '   (goal >= 0.90 missed)'}`);
} catch (e) {
  log(e.message);
  code = 1;
} finally {
  if (ensemble) {
    const E = await import(pathToFileURL(join(root, 'dist', 'ensemble', 'index.js')).href);
    await E.load(ensemble.dir, { env: { ...process.env, XDG_STATE_HOME: join(tmp, 'state') } }).down({ purge: true }).catch(() => undefined);
    rmSync(tmp, { recursive: true, force: true });
  }
}
process.exit(code);
