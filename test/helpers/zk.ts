/**
 * Test helpers. `npm test` (scripts/run-tests.mjs) starts ONE real ensemble per run and exports
 * ZKCTL_TEST_SERVER / ZKCTL_TEST_ENSEMBLE_DIR; each test works in its own chroot. Fault tests
 * start their own small ensemble with startFaultEnsemble().
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freeBasePort, load, PortInUseError, up, type LocalEnsemble, type UpResult } from '../../src/ensemble/index.js';

/** The repository root (build-test/test/helpers -> ../../..). */
export const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));

/**
 * A random place to start freeBasePort() for a test ensemble of up to 9 members, chosen so that its client
 * (base), quorum (base + 10000) and election (base + 20000) ports all lie BELOW the kernel's ephemeral port
 * range (net.ipv4.ip_local_port_range, 32768 by default). Ports inside that range can be taken at any moment by
 * an outgoing connection of any process (a client connecting to another ensemble), which made a member exit at
 * start-up with "Address already in use" under load. Falls back to the old range when the ephemeral range
 * starts too low to leave room.
 */
export function testPortStart(): number {
  let low = 32768;
  try {
    low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]) || low;
  } catch {
    /* not Linux: keep the default */
  }
  const min = 10_000;
  const max = low - 20_000 - 10;
  if (max - min < 200) return 24_000 + Math.floor(Math.random() * 2000) * 10;
  return min + Math.floor(Math.random() * Math.floor((max - min) / 10)) * 10;
}

/** Connect string of the run's shared ensemble. */
export function testServer(): string {
  const s = process.env.ZKCTL_TEST_SERVER;
  if (!s) {
    throw new Error('ZKCTL_TEST_SERVER is not set: run the tests with `npm test` (scripts/run-tests.mjs starts the test ensemble)');
  }
  return s;
}

/** Directory of the run's shared ensemble. */
export function testEnsembleDir(): string {
  const d = process.env.ZKCTL_TEST_ENSEMBLE_DIR;
  if (!d) throw new Error('ZKCTL_TEST_ENSEMBLE_DIR is not set: run the tests with `npm test`');
  return d;
}

/** The shared ensemble as a LocalEnsemble (to read its super password, member pids, ...). */
export function testEnsemble(): LocalEnsemble {
  return load(testEnsembleDir());
}

/** `super:<password>` of the shared ensemble: pass as digest credential (or `--auth digest:${...}`). */
export function testSuperAuth(): string {
  return testEnsemble().superAuth();
}

/** A unique chroot for one test: /zkctl-test/<name>-<random>. */
export function uniqueChroot(name: string): string {
  const safe = name.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^-+|-+$/g, '') || 'test';
  return `/zkctl-test/${safe}-${randomBytes(4).toString('hex')}`;
}

/** The shared ensemble's connect string with a chroot appended. */
export function chrootConnect(chroot: string): string {
  return `${testServer()}${chroot}`;
}

export interface FaultEnsemble extends UpResult {
  ensemble: LocalEnsemble;
  /** Stop every member and remove the directory (idempotent). */
  cleanup(): Promise<void>;
}

/**
 * Start a private ensemble on free ports (for tests that kill, stop and restart members).
 * Its directory lives under ZKCTL_TEST_TMP (removed by the runner), and the runner also tears
 * it down if the test forgets to.
 */
export async function startFaultEnsemble(size = 3, opts: { tickTime?: number; name?: string; waitMs?: number } = {}): Promise<FaultEnsemble> {
  const parent = process.env.ZKCTL_TEST_TMP ?? tmpdir();
  const dir = mkdtempSync(join(parent, 'fault-'));
  rmSync(dir, { recursive: true, force: true }); // up() wants a new or empty dir; mkdtemp just picked a unique name
  const name = opts.name ?? `fault-${randomBytes(3).toString('hex')}`;
  let lastErr: unknown;
  for (let attempt = 0; attempt < 6; attempt++) {
    // Spread the probes of concurrently running test files over the port range.
    const basePort = await freeBasePort({ start: testPortStart(), size });
    try {
      const r = await up({ name, size, basePort, dir, ...(opts.tickTime ? { tickTime: opts.tickTime } : {}), waitMs: opts.waitMs ?? 60_000 });
      const ensemble = load(dir);
      let cleaned = false;
      return {
        ...r,
        ensemble,
        cleanup: async () => {
          if (cleaned) return;
          cleaned = true;
          await ensemble.down({ purge: process.env.ZKCTL_TEST_KEEP !== '1' }); // ZKCTL_TEST_KEEP=1: the members' logs stay for a post-mortem
        },
      };
    } catch (e) {
      lastErr = e;
      if (!(e instanceof PortInUseError)) throw e;
    }
  }
  throw lastErr;
}

/**
 * Run a program to its end without blocking the event loop (the test's sessions keep pinging):
 * never spawnSync/execFileSync while a session is open. Bounded (default 5 min, then SIGKILL).
 */
export function runAsync(cmd: string, args: string[], opts: { timeoutMs?: number } = {}): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 300_000);
    child.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.once('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
}

export interface CliResult {
  /** Exit code; 128+n when killed by signal n. */
  code: number;
  stdout: string;
  stderr: string;
  ms: number;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
}

export interface RunCliOptions {
  /** Deadline (default 30 s): the process is killed (SIGKILL) and timedOut is set. */
  timeoutMs?: number;
  /** Extra environment (merged over process.env; a value of undefined removes the key). */
  env?: Record<string, string | undefined>;
  /** Written to stdin (stdin is closed either way). */
  input?: string | Buffer;
  /** Send this signal after signalAfterMs (e.g. to test Ctrl-C handling). */
  signal?: NodeJS.Signals;
  signalAfterMs?: number;
}

const SIGNALS: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGKILL: 9, SIGTERM: 15 };

/** Run the real binary: `node bin/zkctl.js ...args` with cwd = repo root, stdout/stderr as pipes. */
export function runCli(args: string[], opts: RunCliOptions = {}): Promise<CliResult> {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const [k, v] of Object.entries(opts.env ?? {})) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const t0 = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(repoRoot, 'bin', 'zkctl.js'), ...args], { cwd: repoRoot, env, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timedOut = false;
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => err.push(d));
    child.stdin.on('error', () => undefined);
    child.stdin.end(opts.input ?? '');
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    const sigTimer = opts.signal ? setTimeout(() => child.kill(opts.signal), opts.signalAfterMs ?? 0) : undefined;
    child.on('error', (e) => {
      clearTimeout(timer);
      if (sigTimer) clearTimeout(sigTimer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (sigTimer) clearTimeout(sigTimer);
      resolve({
        code: code ?? (signal ? 128 + (SIGNALS[signal] ?? 0) : -1),
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
        ms: Date.now() - t0,
        signal,
        timedOut,
      });
    });
  });
}

/**
 * What starting zkctl costs right now (ms): the slower of two `zkctl --version` runs, doubled,
 * at least 1500. A test asserting that a command ends near its deadline adds this for the process
 * start and exit, which a loaded machine (parallel test files, other jobs) stretches by seconds.
 */
export async function cliStartAllowanceMs(): Promise<number> {
  const a = await runCli(['--version']);
  const b = await runCli(['--version']);
  return Math.max(1500, 2 * Math.max(a.ms, b.ms));
}

/** Assert exit 0, showing both streams when it is not. */
export function expectOk(r: CliResult): CliResult {
  assert.equal(r.code, 0, `exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  return r;
}

/**
 * A CLI runner with a config home (contexts) of its own under the test temp dir, and none of
 * ZKCTL_SERVER / ZKCTL_AUTH / ZKCTL_CONTEXT from the environment; no colour. With `ownState`,
 * a state home (the ensemble registry) of its own too. `zk(args, ms)` overrides the timeout.
 */
export function isolatedCli(
  name: string,
  timeoutMs = 120_000,
  opts: { ownState?: boolean } = {},
): { configHome: string; stateHome?: string; scratch: string; env: Record<string, string | undefined>; zk: (args: string[], ms?: number) => Promise<CliResult> } {
  const scratch = mkdtempSync(join(process.env.ZKCTL_TEST_TMP ?? tmpdir(), `${name}-`));
  const configHome = join(scratch, 'config');
  const stateHome = opts.ownState ? join(scratch, 'state') : undefined;
  const env = { XDG_CONFIG_HOME: configHome, ...(stateHome ? { XDG_STATE_HOME: stateHome } : {}), ZKCTL_SERVER: undefined, ZKCTL_AUTH: undefined, ZKCTL_CONTEXT: undefined, NO_COLOR: '1' };
  return { configHome, ...(stateHome ? { stateHome } : {}), scratch, env, zk: (args, ms = timeoutMs) => runCli(args, { env, timeoutMs: ms }) };
}
