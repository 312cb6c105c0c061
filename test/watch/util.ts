/** Helpers for the watch tests: a CLI stream read line by line, polling, JSON lines. */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import type { Session } from '../../src/core/session.js';
import { isZkCode, ZkCode } from '../../src/core/errors.js';
import { repoRoot } from '../helpers/zk.js';

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A running `zkctl` whose stdout is read line by line while it runs. */
export class CliStream {
  readonly child: ChildProcess;
  readonly lines: string[] = [];
  stderr = '';
  readonly exited: Promise<{ code: number; signal: NodeJS.Signals | null }>;
  private partial = '';
  private waiters: Array<() => void> = [];

  constructor(args: string[], env: Record<string, string | undefined> = {}) {
    const e: NodeJS.ProcessEnv = { ...process.env };
    for (const [k, v] of Object.entries(env)) {
      if (v === undefined) delete e[k];
      else e[k] = v;
    }
    this.child = spawn(process.execPath, [join(repoRoot, 'bin', 'zkctl.js'), ...args], { cwd: repoRoot, env: e, stdio: ['pipe', 'pipe', 'pipe'] });
    this.child.stdin!.end();
    this.child.stdout!.on('data', (d: Buffer) => {
      const text = this.partial + d.toString('utf8');
      const parts = text.split('\n');
      this.partial = parts.pop() ?? '';
      this.lines.push(...parts);
      this.wake();
    });
    this.child.stderr!.on('data', (d: Buffer) => {
      this.stderr += d.toString('utf8');
      this.wake();
    });
    this.exited = new Promise((resolve) => {
      this.child.on('close', (code, signal) => {
        if (this.partial) this.lines.push(this.partial);
        this.partial = '';
        this.wake();
        const n: Record<string, number> = { SIGINT: 2, SIGKILL: 9, SIGTERM: 15 };
        resolve({ code: code ?? 128 + (signal ? (n[signal] ?? 0) : 0), signal });
      });
    });
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  /** JSON objects of the stdout lines so far (non-JSON lines skipped). */
  json(): Array<Record<string, unknown>> {
    const out: Array<Record<string, unknown>> = [];
    for (const l of this.lines) {
      if (!l.startsWith('{')) continue;
      try {
        out.push(JSON.parse(l) as Record<string, unknown>);
      } catch {
        /* not a JSON line */
      }
    }
    return out;
  }

  /** Wait until `pred` holds for the output so far (re-checked on every new output). */
  async waitFor<T>(what: string, pred: () => T | undefined | false, timeoutMs = 20_000): Promise<T> {
    const end = Date.now() + timeoutMs;
    let exited = false;
    void this.exited.then(() => (exited = true));
    for (;;) {
      const v = pred();
      if (v !== undefined && v !== false) return v;
      if (exited) throw new Error(`zkctl exited before ${what}\nstdout:\n${this.lines.join('\n')}\nstderr:\n${this.stderr}`);
      const left = end - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what}\nstdout:\n${this.lines.join('\n')}\nstderr:\n${this.stderr}`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, Math.min(left, 250));
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
  }

  /** Wait for a JSON line matching `pred` (searching from index `from`); returns it and its index. */
  async waitForJson(what: string, pred: (o: Record<string, unknown>) => boolean, from = 0, timeoutMs = 20_000): Promise<{ o: Record<string, unknown>; i: number }> {
    return this.waitFor(what, () => {
      const all = this.json();
      for (let i = from; i < all.length; i++) if (pred(all[i]!)) return { o: all[i]!, i };
      return undefined;
    }, timeoutMs);
  }

  kill(sig: NodeJS.Signals = 'SIGINT'): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(sig);
  }
}

/**
 * Make sure a `zkctl watch` stream is live: set `path` to a probe value again
 * and again until the stream reports a data change of it. Returns the index of
 * the first JSON line after the probes (nothing else may change `path` meanwhile).
 */
export async function probeUntilLive(w: CliStream, s: Session, path: string, timeoutMs = 30_000): Promise<number> {
  const end = Date.now() + timeoutMs;
  const isProbe = (o: Record<string, unknown>): boolean => o.type === 'data-changed' && o.path === path;
  for (let i = 0; ; i++) {
    await s.set(path, Buffer.from(`probe-${i}`));
    try {
      await w.waitForJson(`probe ${i}`, isProbe, 0, 300);
      // Let probes still in flight arrive, then start after the last one.
      await sleep(300);
      const all = w.json();
      let last = -1;
      all.forEach((o, j) => {
        if (isProbe(o)) last = j;
      });
      return last + 1;
    } catch (e) {
      if (Date.now() > end) throw e;
    }
  }
}

/** Create every missing node of `path`. */
export async function mkdirp(s: Session, path: string): Promise<void> {
  let cur = '';
  for (const part of path.split('/').slice(1)) {
    cur += `/${part}`;
    await s.create(cur).catch((e: unknown) => {
      if (!isZkCode(e, ZkCode.NODE_EXISTS)) throw e;
    });
  }
}

export const hex = (z: bigint): string => `0x${z.toString(16)}`;

/** Poll `fn` until it returns something other than undefined. */
export async function eventually<T>(what: string, fn: () => T | undefined | Promise<T | undefined>, timeoutMs = 20_000, intervalMs = 50): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(intervalMs);
  }
}
