#!/usr/bin/env node
/**
 * zkctl's test runner (`npm test`, after `tsc -p tsconfig.test.json` compiled src + test to build-test/).
 *
 * 1. Starts ONE real 3-member ZooKeeper ensemble for the whole run, through the project's own
 *    ensemble code (build-test/src/ensemble), in a temp dir, on free ports.
 * 2. Exports to the tests:
 *      ZKCTL_TEST_SERVER        connect string of that ensemble
 *      ZKCTL_TEST_ENSEMBLE_DIR  its directory (super password in super.secret)
 *      ZKCTL_TEST_TMP           a scratch dir removed at the end (fault ensembles go there)
 *    and isolates them from the user's files: XDG_STATE_HOME and XDG_CONFIG_HOME point into the
 *    temp dir; ZKCTL_SERVER / ZKCTL_AUTH / ZKCTL_CONTEXT are unset.
 * 3. Runs `node --test` over build-test/test/**\/*.test.js (files listed here: Node 20 does not glob),
 *    streaming its output, and exits with its exit code.
 * 4. Always tears the ensemble (and any ensemble a test left running) down, also on Ctrl-C.
 *
 * Usage: node scripts/run-tests.mjs [FILTER...] [-- NODE_TEST_OPTIONS...]
 *   FILTER: a path prefix or substring of test files, e.g. test/ensemble or test/ensemble/fourlw.test.ts
 *   Options starting with "--" (e.g. --test-name-pattern=leader) go to node --test.
 * Environment: ZKCTL_TEST_CONCURRENCY (default 3), ZKCTL_TEST_BASE_PORT (default 11810, so that quorum and election ports (+10000, +20000) stay below the kernel's ephemeral range; ports a default 2181 ensemble derives are skipped),
 *   ZKCTL_TEST_KEEP=1 (leave the temp dir, ensembles' data and logs included, for inspection), ZKCTL_TEST_RUN_TIMEOUT (ms, default 1 200 000).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const buildDir = join(root, 'build-test');
const log = (msg) => process.stderr.write(`[run-tests] ${msg}\n`);

// ---------------------------------------------------------------------------------------------
// Arguments

const filters = [];
const nodeTestArgs = [];
for (const a of process.argv.slice(2)) {
  if (a === '--') continue;
  if (a.startsWith('-')) nodeTestArgs.push(a);
  else filters.push(a);
}

function listTests(dir) {
  const out = [];
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return out;
  }
  for (const e of entries) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...listTests(p));
    else if (e.isFile() && e.name.endsWith('.test.js')) out.push(p);
  }
  return out.sort();
}

/** test/ensemble, ./test/x.test.ts, build-test/test/x.test.js -> "test/..." form, .ts -> .js */
function normalizeFilter(f) {
  let s = f.replace(/\\/g, '/').replace(/^\.\//, '');
  if (s.startsWith('/')) s = relative(root, s).split(sep).join('/');
  s = s.replace(/^build-test\//, '');
  s = s.replace(/\.ts$/, '.js');
  return s.replace(/\/$/, '');
}

const all = listTests(join(buildDir, 'test'));
if (all.length === 0) {
  log(`no compiled tests under ${relative(root, buildDir)}/test: run \`npm run build:test\` first`);
  process.exit(1);
}
const wanted = filters.map(normalizeFilter);
const files = all.filter((abs) => {
  if (wanted.length === 0) return true;
  const rel = relative(buildDir, abs).split(sep).join('/');
  return wanted.some((w) => rel === w || rel.startsWith(`${w}/`) || rel.startsWith(w) || rel.includes(w));
});
if (files.length === 0) {
  log(`no test file matches ${filters.join(' ')}`);
  process.exit(1);
}

// ---------------------------------------------------------------------------------------------
// The shared ensemble

const ensembleLib = join(buildDir, 'src', 'ensemble', 'index.js');
if (!existsSync(ensembleLib)) {
  log(`missing ${relative(root, ensembleLib)}: run \`npm run build:test\` first`);
  process.exit(1);
}
const E = await import(pathToFileURL(ensembleLib).href);

const tmp = mkdtempSync(join(tmpdir(), 'zkctl-test-'));
const childEnv = { ...process.env };
for (const k of ['ZKCTL_SERVER', 'ZKCTL_AUTH', 'ZKCTL_CONTEXT', 'ZKCTL_TEST_SERVER', 'ZKCTL_TEST_ENSEMBLE_DIR']) delete childEnv[k];
childEnv.XDG_STATE_HOME = join(tmp, 'state');
childEnv.XDG_CONFIG_HOME = join(tmp, 'config');
childEnv.ZKCTL_TEST_TMP = tmp;
const libEnv = { ...childEnv };

let ensemble;
let child;
let teardownDone = false;
let interrupted = false;

async function teardown() {
  if (teardownDone) return;
  teardownDone = true;
  // The shared ensemble plus anything tests registered (fault ensembles) under this run's state dir.
  const dirs = new Set();
  if (ensemble) dirs.add(ensemble.dir);
  try {
    for (const s of E.list({ env: libEnv })) dirs.add(s.dir);
  } catch {
    /* nothing registered */
  }
  await Promise.all(
    [...dirs].map(async (d) => {
      try {
        await E.load(d, { env: libEnv }).down({ purge: process.env.ZKCTL_TEST_KEEP !== '1', timeoutMs: 10_000 });
      } catch (e) {
        log(`teardown of ${d} failed: ${e.message}`);
      }
    }),
  );
  if (process.env.ZKCTL_TEST_KEEP === '1') log(`kept ${tmp}`);
  else rmSync(tmp, { recursive: true, force: true });
}

function onSignal(sig) {
  if (interrupted) {
    // Second Ctrl-C: do not wait for anything any more.
    log(`${sig} again: tearing down now`);
    if (child && child.exitCode === null) child.kill('SIGKILL');
    teardownDone = false;
    teardown().finally(() => process.exit(130));
    return;
  }
  interrupted = true;
  log(`${sig}: stopping tests and tearing the ensemble down`);
  // The main flow tears down once the test child (or the ensemble start, which has a deadline) returns.
  if (child && child.exitCode === null) child.kill(sig);
}
process.on('SIGINT', () => onSignal('SIGINT'));
process.on('SIGTERM', () => onSignal('SIGTERM'));

let code = 1;
try {
  const start = Number(process.env.ZKCTL_TEST_BASE_PORT ?? 11810);
  const t0 = Date.now();
  for (let attempt = 0; ; attempt++) {
    const basePort = await E.freeBasePort({ start: start + attempt * 30, size: 3 });
    try {
      ensemble = await E.up({ name: 'test', size: 3, basePort, dir: join(tmp, 'ensemble'), env: libEnv, waitMs: 60_000 });
      break;
    } catch (e) {
      // Another process grabbed a port between the probe and the start: try further up.
      if (e instanceof E.PortInUseError && attempt < 5) continue;
      throw e;
    }
  }
  log(`ensemble up in ${((Date.now() - t0) / 1000).toFixed(2)}s: ${ensemble.connectString} (leader ${ensemble.status.leader?.id}) in ${ensemble.dir}`);
  if (interrupted) throw new Error('interrupted');

  childEnv.ZKCTL_TEST_SERVER = ensemble.connectString;
  childEnv.ZKCTL_TEST_ENSEMBLE_DIR = ensemble.dir;
  const concurrency = process.env.ZKCTL_TEST_CONCURRENCY ?? '3';
  // TAP as before, plus a summary (failures, slowest suites) at the very end for truncated CI logs.
  const reporters = nodeTestArgs.some((a) => a.startsWith('--test-reporter'))
    ? []
    : ['--test-reporter=tap', '--test-reporter-destination=stdout', `--test-reporter=${join(root, 'scripts', 'test-summary-reporter.mjs')}`, '--test-reporter-destination=stdout'];
  const args = ['--test', `--test-concurrency=${concurrency}`, ...reporters, ...nodeTestArgs, ...files.map((f) => relative(root, f))];
  log(`node ${args.length > 8 ? [...args.slice(0, 3 + reporters.length + nodeTestArgs.length), `(${files.length} files)`].join(' ') : args.join(' ')}`);
  const runTimeout = Number(process.env.ZKCTL_TEST_RUN_TIMEOUT ?? 1_200_000);
  code = await new Promise((resolveCode) => {
    child = spawn(process.execPath, args, { cwd: root, env: childEnv, stdio: 'inherit' });
    const timer = setTimeout(() => {
      log(`the run exceeded ${runTimeout} ms: killing it`);
      child.kill('SIGKILL');
    }, runTimeout);
    child.on('exit', (c, s) => {
      clearTimeout(timer);
      resolveCode(c ?? (s === 'SIGINT' || s === 'SIGTERM' ? 130 : 1));
    });
    child.on('error', (e) => {
      clearTimeout(timer);
      log(`cannot run node --test: ${e.message}`);
      resolveCode(1);
    });
  });
  if (interrupted) code = 130;
} catch (e) {
  log(`${interrupted ? 'interrupted' : 'failed'}: ${e?.message ?? e}${e?.hint ? ` (${e.hint})` : ''}`);
  code = interrupted ? 130 : 1;
} finally {
  const t1 = Date.now();
  await teardown();
  log(`teardown in ${((Date.now() - t1) / 1000).toFixed(2)}s; exit ${code}`);
}
process.exit(code);
