/** Helpers for the lock/election tests: long-running CLI processes, CMD scripts, overlap checks. */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Session } from '../../src/core/session.js';
import { SessionExpiredError } from '../../src/core/errors.js';
import { repoRoot } from '../helpers/zk.js';

export interface Running {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Exit code (128+n for signal n) and the time it exited. */
  exited: Promise<{ code: number; at: number }>;
}

/** Start `node bin/zkctl.js ...args` and keep a handle (for signals and timing). */
export function spawnCli(args: string[], opts: { env?: Record<string, string> } = {}): Running {
  const child = spawn(process.execPath, [join(repoRoot, 'bin', 'zkctl.js'), ...args], {
    cwd: repoRoot,
    env: { ...process.env, ...opts.env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout!.on('data', (d: Buffer) => out.push(d));
  child.stderr!.on('data', (d: Buffer) => err.push(d));
  child.stdin!.end();
  const exited = new Promise<{ code: number; at: number }>((resolve) => {
    child.on('exit', (code, signal) => {
      const at = Date.now();
      // A CMD that outlived zkctl (a bug a test may be showing) still holds these pipes: stop
      // reading them soon, so it cannot keep the test process alive until it ends.
      setTimeout(() => {
        child.stdout?.destroy();
        child.stderr?.destroy();
      }, 2000).unref();
      const sig: Record<string, number> = { SIGINT: 2, SIGKILL: 9, SIGTERM: 15 };
      resolve({ code: code ?? 128 + (signal ? (sig[signal] ?? 0) : 0), at });
    });
  });
  return { child, stdout: () => Buffer.concat(out).toString('utf8'), stderr: () => Buffer.concat(err).toString('utf8'), exited };
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Poll until `cond` holds (generous deadlines: the machine is shared). */
export async function waitFor(cond: () => boolean | Promise<boolean>, what: string, timeoutMs = 30_000, everyMs = 100): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (await cond()) return;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

/** waitFor, with `diag()` (stderr of the processes involved, read when it fails) in the error. */
export async function until(cond: () => boolean | Promise<boolean>, what: string, diag: () => string, timeoutMs?: number): Promise<void> {
  try {
    await waitFor(cond, what, timeoutMs);
  } catch (e) {
    throw new Error(`${(e as Error).message}\n${diag().slice(-1500)}`);
  }
}

/**
 * Children of `path` as committed now (empty when it does not exist, or on a passing connection
 * loss: callers poll). An expired or closed checking session is thrown: it used to read as "no
 * children" and turned into a 30 s wait that named the wrong cause.
 */
export async function children(s: Session, path: string): Promise<string[]> {
  try {
    // sync first: the checking session's server may lag behind the one another session wrote through.
    await s.sync(path);
    return (await s.getChildren(path)).children;
  } catch (e) {
    if (e instanceof SessionExpiredError || s.state === 'closed' || s.state === 'lost') throw e;
    return [];
  }
}

export function scratchDir(name: string): string {
  return mkdtempSync(join(process.env.ZKCTL_TEST_TMP ?? tmpdir(), `${name}-`));
}

/**
 * A read-sleep-write increment of `<dir>/counter`, logging one line per run to
 * `<dir>/log`: "<start ns> <end ns> <fencing token> <pid>". Returns the script path.
 */
export function counterScript(dir: string, sleepSec = '0.02'): string {
  const p = join(dir, 'incr.sh');
  writeFileSync(
    p,
    `#!/bin/sh
d="$1"
s=$(date +%s%N)
n=$(cat "$d/counter")
sleep ${sleepSec}
echo $((n + 1)) > "$d/counter"
e=$(date +%s%N)
echo "$s $e $ZKCTL_FENCING_TOKEN $$" >> "$d/log"
`,
  );
  chmodSync(p, 0o755);
  writeFileSync(join(dir, 'counter'), '0\n');
  return p;
}

export interface Interval {
  start: bigint;
  end: bigint;
  token: bigint;
  pid: number;
}

export function readIntervals(dir: string): Interval[] {
  const f = join(dir, 'log');
  if (!existsSync(f)) return [];
  return readFileSync(f, 'utf8')
    .trim()
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => {
      const [s, e, t, pid] = l.split(' ');
      return { start: BigInt(s!), end: BigInt(e!), token: BigInt(t!), pid: Number(pid) };
    })
    .sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
}

/** No two intervals overlap, and fencing tokens grow strictly in time order. */
export function assertNoOverlap(list: Interval[]): void {
  for (let i = 1; i < list.length; i++) {
    const a = list[i - 1]!;
    const b = list[i]!;
    assert.ok(b.start > a.end, `CMD runs overlap: pid ${a.pid} [${a.start}, ${a.end}] and pid ${b.pid} starting at ${b.start}`);
    assert.ok(b.token > a.token, `fencing token did not grow: ${a.token} then ${b.token}`);
  }
}

export function readCounter(dir: string): number {
  return Number(readFileSync(join(dir, 'counter'), 'utf8').trim());
}

/** Live (non-zombie) processes of process group `pgid`, from /proc. */
export function groupMembers(pgid: number): number[] {
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(f[2]) === pgid && f[0] !== 'Z' && f[0] !== 'X') out.push(Number(d));
    } catch {
      /* gone meanwhile */
    }
  }
  return out;
}
