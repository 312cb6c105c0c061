/** Helpers for the znode CLI tests. */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fourLetterWord } from '../../src/core/fourlw.js';
import type { ChrootSession } from '../helpers/session.js';
import { type CliResult, repoRoot, runCli, type RunCliOptions, testServer } from '../helpers/zk.js';

export const tmp = (): string => mkdtempSync(join(process.env.ZKCTL_TEST_TMP ?? tmpdir(), 'zkcli-'));

export function cli(c: ChrootSession) {
  return (args: string[], opts?: RunCliOptions): Promise<CliResult> => runCli([...args, '-s', c.server], opts);
}

/** Start the binary and keep hold of it (to signal it when the test is ready). */
export function startCli(args: string[]): { child: ChildProcess; done: Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }> } {
  const child = spawn(process.execPath, [join(repoRoot, 'bin', 'zkctl.js'), ...args], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>((resolve) =>
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr })),
  );
  const killer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  void done.then(() => clearTimeout(killer));
  return { child, done };
}

export async function until(what: string, cond: () => Promise<boolean>, ms = 20_000): Promise<void> {
  const t0 = Date.now();
  while (!(await cond())) {
    if (Date.now() - t0 > ms) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Does some member of the test ensemble hold a data watch on this server path? (4lw wchp) */
export async function watched(serverPath: string): Promise<boolean> {
  const hosts = testServer().split('/')[0].split(',');
  for (const h of hosts) {
    const i = h.lastIndexOf(':');
    const out = await fourLetterWord(h.slice(0, i), Number(h.slice(i + 1)), 'wchp', { timeoutMs: 2000 }).catch(() => '');
    if (out.split('\n').some((l) => l.trim() === serverPath)) return true;
  }
  return false;
}

export function ok(r: CliResult): CliResult {
  assert.equal(r.code, 0, `exit ${r.code}: ${r.stderr}`);
  return r;
}

