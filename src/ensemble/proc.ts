/**
 * Process and port helpers for local supervision (Linux /proc based, best-effort elsewhere).
 */
import { execFile } from 'node:child_process';
import { closeSync, openSync, readdirSync, readFileSync, readlinkSync, unlinkSync, writeSync } from 'node:fs';
import { createServer } from 'node:net';
import { ZkctlError } from '../core/errors.js';

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Is the pid alive? A process whose threads are all zombies counts as dead (it only waits to
 * be reaped). Checking every thread matters: the JVM's main thread can be a zombie while other
 * threads still run and hold the process's sockets.
 */
export function isPidAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (e) {
    // EPERM: exists but belongs to someone else.
    if ((e as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  let tasks: string[];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    // No /proc (not Linux): trust kill(0). On Linux the process vanished meanwhile.
    return process.platform !== 'linux';
  }
  for (const t of tasks) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${t}/stat`, 'utf8');
      const i = stat.lastIndexOf(')');
      const state = stat.slice(i + 2, i + 3);
      if (state !== 'Z' && state !== 'X') return true;
    } catch {
      /* thread exited meanwhile */
    }
  }
  return false;
}

/** The argv of a process, or undefined when unknown. */
export function readCmdline(pid: number): string[] | undefined {
  try {
    const raw = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    if (!raw) return undefined;
    return raw.replace(/\0$/, '').split('\0');
  } catch {
    return undefined;
  }
}

/** Short printable command line (first arg basename + main class / args), for messages. */
export function describeCmdline(argv: string[] | undefined, max = 120): string {
  if (!argv || argv.length === 0) return 'unknown command';
  const parts = argv.filter((a, i) => !(i > 0 && argv[i - 1] === '-cp') && !(i > 0 && argv[i - 1] === '-classpath') && a !== '-cp' && a !== '-classpath' && !a.startsWith('-X') && !a.startsWith('-D'));
  const s = parts.join(' ');
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}

/** Resolve when something can listen on host:port (i.e. it is free). */
export function isPortFree(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', () => resolve(false));
    srv.listen({ port, host, exclusive: true }, () => srv.close(() => resolve(true)));
  });
}

export interface PortHolder {
  pid: number;
  /** Short command line. */
  command: string;
  argv?: string[];
}

function listeningInodes(port: number): Set<string> {
  const inodes = new Set<string>();
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  for (const f of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = readFileSync(f, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      // sl local rem st tx:rx tr:tm retr uid timeout inode
      if (cols.length < 10) continue;
      const local = cols[1] ?? '';
      if (cols[3] !== '0A') continue; // LISTEN
      if (local.slice(local.lastIndexOf(':') + 1) !== hexPort) continue;
      if (cols[9] && cols[9] !== '0') inodes.add(cols[9]);
    }
  }
  return inodes;
}

function pidForInodes(inodes: Set<string>): number | undefined {
  if (inodes.size === 0) return undefined;
  const wanted = new Set([...inodes].map((i) => `socket:[${i}]`));
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((d) => /^\d+$/.test(d));
  } catch {
    return undefined;
  }
  for (const pid of pids) {
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        if (wanted.has(readlinkSync(`/proc/${pid}/fd/${fd}`))) return Number(pid);
      } catch {
        /* fd closed meanwhile */
      }
    }
  }
  return undefined;
}

function ssHolder(port: number, timeoutMs: number): Promise<number | undefined> {
  return new Promise((resolve) => {
    execFile('ss', ['-ltnpH', `sport = :${port}`], { timeout: timeoutMs }, (err, stdout) => {
      if (err) return resolve(undefined);
      const m = /pid=(\d+)/.exec(stdout);
      resolve(m ? Number(m[1]) : undefined);
    });
  });
}

/** Who listens on a TCP port (best-effort: /proc, then `ss -ltnp`). */
export async function findPortHolder(port: number, timeoutMs = 2000): Promise<PortHolder | undefined> {
  let pid = pidForInodes(listeningInodes(port));
  if (pid === undefined) pid = await ssHolder(port, timeoutMs);
  if (pid === undefined) return undefined;
  const argv = readCmdline(pid);
  return { pid, command: describeCmdline(argv), ...(argv ? { argv } : {}) };
}

/** A port needed by an ensemble member is already taken. */
export class PortInUseError extends ZkctlError {
  readonly port: number;
  readonly holder?: PortHolder;
  constructor(port: number, what: string, holder?: PortHolder, hint?: string) {
    const who = holder ? `pid ${holder.pid} (${holder.command})` : 'another process';
    super(`port ${port} (${what}) is already in use by ${who}`, undefined, { hint: hint ?? 'stop that process or choose another --base-port' });
    this.port = port;
    if (holder) this.holder = holder;
  }
}

/** Poll until cond() is true or the deadline passes; returns whether cond became true. */
export async function waitUntil(cond: () => boolean | Promise<boolean>, timeoutMs: number, intervalMs = 100): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (await cond()) return true;
    if (Date.now() >= end) return false;
    await sleep(Math.min(intervalMs, Math.max(0, end - Date.now())));
  }
}

/**
 * Run `fn` holding a lock file (created O_EXCL, holding our pid) across
 * processes. A lock whose pid is dead is stale and taken over (also our own
 * pid with `ownPidIsStale`, for callers that serialize in-process themselves).
 * Waits at most `timeoutMs`, then throws `busy(holderPid)`.
 */
export async function withPidLock<T>(
  lock: string,
  opts: { timeoutMs: number; busy: (holder: number) => Error; ownPidIsStale?: boolean },
  fn: () => Promise<T>,
): Promise<T> {
  const end = Date.now() + opts.timeoutMs;
  for (;;) {
    try {
      const fd = openSync(lock, 'wx', 0o600);
      writeSync(fd, String(process.pid));
      closeSync(fd);
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      let holder = 0;
      try {
        holder = Number(readFileSync(lock, 'utf8').trim());
      } catch {
        /* removed meanwhile */
      }
      if (!holder || !isPidAlive(holder) || (opts.ownPidIsStale && holder === process.pid)) {
        try {
          unlinkSync(lock);
        } catch {
          /* raced with another remover */
        }
        continue;
      }
      if (Date.now() >= end) throw opts.busy(holder);
      await sleep(100);
    }
  }
  try {
    return await fn();
  } finally {
    try {
      unlinkSync(lock);
    } catch {
      /* already gone (purged) */
    }
  }
}
