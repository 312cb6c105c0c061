#!/usr/bin/env node
/**
 * Start-up benchmark (`npm run bench:startup`): median wall time, from one run, of
 *   node -e 0                          (anchor: bare node)
 *   zkctl --version
 *   zkctl get /zookeeper/config        (against the ensemble: -s / ZKCTL_SERVER / current context)
 *   zkCli.sh get /zookeeper/config     (anchor: the official CLI)
 * and the ratios. Goals: zkctl --version <= 2.0x bare node; zkctl get <= 0.35x zkCli.sh.
 * The runs are interleaved (one of each command per round, zkCli.sh in every few rounds), so a
 * machine whose load changes during the run slows every row alike and the ratios stay fair.
 *
 * Usage: node scripts/bench-startup.mjs [-s host:port,...] [--runs 15] [--zkcli-runs 5] [--json]
 * Exit 12 when a goal is missed (so CI can gate on it if it wants).
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const argv = process.argv.slice(2);
const opt = (name, def) => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : def;
};
const runs = Number(opt('--runs', '15'));
const zkcliRuns = Number(opt('--zkcli-runs', '5'));
const json = argv.includes('--json');

const { resolveConnection } = await import(pathToFileURL(join(root, 'dist', 'cli', 'context.js')).href);
const server = resolveConnection({ server: opt('-s', opt('--server', undefined)) }).server;
const zkCli = [process.env.ZOOKEEPER_HOME && join(process.env.ZOOKEEPER_HOME, 'bin', 'zkCli.sh'), '/usr/share/zookeeper/bin/zkCli.sh'].find(
  (p) => p && existsSync(p),
);
const bin = join(root, 'bin', 'zkctl.js');

function time(cmd, args, env = {}) {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { encoding: 'utf8', env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'], timeout: 60_000 });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}: ${(r.stderr || r.stdout).trim().split('\n').pop()}`);
  return { ms, out: r.stdout };
}
function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}
const loadBefore = loadavg()[0];
const benches = [
  { label: 'node -e 0', runs, cmd: process.execPath, args: ['-e', '0'] },
  { label: 'zkctl --version', runs, cmd: process.execPath, args: [bin, '--version'] },
  { label: 'zkctl get /zookeeper/config', runs, cmd: process.execPath, args: [bin, 'get', '/zookeeper/config', '-s', server] },
];
if (zkCli) {
  const out = time(zkCli, ['-server', server, 'get', '/zookeeper/config']).out;
  if (!/server\.\d+=|version=/.test(out)) process.stderr.write(`warning: zkCli.sh output did not look like the config:\n${out.slice(0, 300)}\n`);
  benches.push({ label: 'zkCli.sh get /zookeeper/config', runs: zkcliRuns, cmd: zkCli, args: ['-server', server, 'get', '/zookeeper/config'], env: { JVMFLAGS: process.env.JVMFLAGS ?? '' } });
}
for (const b of benches) {
  time(b.cmd, b.args, b.env); // warm the page cache
  b.xs = [];
}
// Interleaved rounds: a bench with fewer runs than the rounds takes part in evenly spaced rounds.
const rounds = Math.max(...benches.map((b) => b.runs));
for (let i = 0; i < rounds; i++) {
  for (const b of benches) {
    if (b.xs.length < b.runs && Math.floor(((i + 1) * b.runs) / rounds) > b.xs.length) b.xs.push(time(b.cmd, b.args, b.env).ms);
  }
}
const rows = benches.map(({ label, xs }) => ({
  label,
  runs: xs.length,
  medianMs: +median(xs).toFixed(1),
  minMs: +Math.min(...xs).toFixed(1),
  maxMs: +Math.max(...xs).toFixed(1),
}));
const cli = zkCli ? rows[3] : undefined;
const byLabel = Object.fromEntries(rows.map((r) => [r.label, r.medianMs]));
const goals = [
  { goal: 'zkctl --version <= 2.0x node -e 0', ratio: byLabel['zkctl --version'] / byLabel['node -e 0'], limit: 2.0 },
];
if (cli) goals.push({ goal: 'zkctl get <= 0.35x zkCli.sh get', ratio: byLabel['zkctl get /zookeeper/config'] / cli.medianMs, limit: 0.35 });
for (const g of goals) {
  g.ratio = +g.ratio.toFixed(3);
  g.met = g.ratio <= g.limit;
}
const load = { before: +loadBefore.toFixed(2), after: +loadavg()[0].toFixed(2) };
const report = { server, machine: { cpus: cpus().length, model: cpus()[0]?.model, node: process.version }, load, rows, goals };
if (json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
else {
  process.stdout.write(`start-up benchmark against ${server} (${report.machine.cpus} cpus, node ${process.version}, load average ${load.before} -> ${load.after})\n\n`);
  process.stdout.write(`${'command'.padEnd(34)} ${'median'.padStart(9)} ${'min'.padStart(9)} ${'max'.padStart(9)}  runs\n`);
  for (const r of rows) process.stdout.write(`${r.label.padEnd(34)} ${`${r.medianMs}ms`.padStart(9)} ${`${r.minMs}ms`.padStart(9)} ${`${r.maxMs}ms`.padStart(9)}  ${r.runs}\n`);
  process.stdout.write('\n');
  for (const g of goals) process.stdout.write(`${g.met ? 'MET ' : 'MISS'}  ${g.goal}: ${g.ratio}x\n`);
  if (!zkCli) process.stdout.write('zkCli.sh not found (apt-get install -y zookeeper): the get ratio was not measured\n');
}
process.exit(goals.every((g) => g.met) ? 0 : 12);
