/**
 * Process and port helpers for local supervision (Linux /proc based, best-effort elsewhere).
 */
import { execFile } from 'node:child_process';
import { closeSync, existsSync, openSync, readdirSync, readFileSync, readlinkSync, unlinkSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { connect, createServer } from 'node:net';
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

/** Fields of /proc/PID/stat after the command name (index 0 = state), or undefined. */
function statFields(pid: number): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).trim().split(/\s+/);
  } catch {
    return undefined;
  }
}

/**
 * When the process started (clock ticks since boot, /proc/PID/stat field 22), as a string; with
 * the pid it names one process for good (a reused pid has another start time). Undefined off Linux.
 */
export function processStartTime(pid: number): string | undefined {
  return statFields(pid)?.[19];
}

/** The process group of a pid (/proc/PID/stat field 5), or undefined. */
export function processGroup(pid: number): number | undefined {
  const g = Number(statFields(pid)?.[2]);
  return Number.isInteger(g) && g > 0 ? g : undefined;
}

/** Is the process stopped (SIGSTOP / SIGTSTP: state T or t)? */
export function isStopped(pid: number): boolean {
  const st = statFields(pid)?.[0];
  return st === 'T' || st === 't';
}

/** Every live process whose argv satisfies `match` (scans /proc; empty off Linux). */
export function findProcesses(match: (argv: string[]) => boolean): number[] {
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((d) => /^\d+$/.test(d));
  } catch {
    return [];
  }
  const out: number[] = [];
  for (const d of pids) {
    const pid = Number(d);
    const argv = readCmdline(pid);
    if (argv && match(argv) && isPidAlive(pid)) out.push(pid);
  }
  return out.sort((a, b) => a - b);
}

/** Short printable command line (first arg basename + main class / args), for messages. */
export function describeCmdline(argv: string[] | undefined, max = 120): string {
  if (!argv || argv.length === 0) return 'unknown command';
  const parts = argv.filter((a, i) => !(i > 0 && argv[i - 1] === '-cp') && !(i > 0 && argv[i - 1] === '-classpath') && a !== '-cp' && a !== '-classpath' && !a.startsWith('-X') && !a.startsWith('-D'));
  // One line: an argument with line breaks or control characters would break the message.
  const s = parts.join(' ').replace(/[\x00-\x1f\x7f]+/g, ' ');
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}

/**
 * Is `port` free for a server to listen on? Read from /proc/net/tcp{,6} (the reader isListening
 * uses), on any local address: nothing listens on it and no process's connection uses it as its
 * local end (an outgoing connection bound without SO_REUSEADDR blocks a server's bind). TIME_WAIT
 * and orphaned connections left by a stopped server (no owning process: inode 0) do not count:
 * servers bind with SO_REUSEADDR. Never binds the port: a probe that binds it could take it from
 * under a server that is binding it at that moment. Off Linux (no /proc), a bind to `host` tells.
 */
export async function isPortFree(port: number, host = '127.0.0.1'): Promise<boolean> {
  if (existsSync('/proc/net/tcp')) return !socketsOnPort(port).some((s) => s.state === '0A' || (s.inode !== '0' && s.state !== '06'));
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
  /** The port is held by a connection of this process (its local end), not by a listener. */
  connection?: true;
}

interface PortSocket {
  inode: string;
  /** /proc/net/tcp state: 0A listen, 06 TIME_WAIT, 01 established, ... */
  state: string;
}

/** TCP sockets whose local port is `port` (IPv4 and IPv6). */
function socketsOnPort(port: number): PortSocket[] {
  const out: PortSocket[] = [];
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
      if (local.slice(local.lastIndexOf(':') + 1) !== hexPort) continue;
      out.push({ inode: cols[9] ?? '0', state: cols[3] ?? '' });
    }
  }
  return out;
}

/**
 * Is something listening on `port`? Read from /proc/net/tcp{,6}, without touching the port: a probe
 * that binds it (isPortFree) could take it from under a server that is binding it at that moment.
 * Off Linux (no /proc), a TCP connect to `host` tells.
 */
export async function isListening(port: number, host = '127.0.0.1'): Promise<boolean> {
  if (existsSync('/proc/net/tcp')) return listeningInodes(port).size > 0;
  return new Promise((resolve) => {
    const s = connect({ port, host });
    const done = (v: boolean): void => {
      s.destroy();
      resolve(v);
    };
    s.setTimeout(1000, () => done(false));
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}

function listeningInodes(port: number): Set<string> {
  return new Set(
    socketsOnPort(port)
      .filter((s) => s.state === '0A' && s.inode !== '0')
      .map((s) => s.inode),
  );
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

/** Who listens on a TCP port (best-effort: /proc, then `ss -ltnp`); else whose connection uses it as its local port. */
export async function findPortHolder(port: number, timeoutMs = 2000): Promise<PortHolder | undefined> {
  let pid = pidForInodes(listeningInodes(port));
  if (pid === undefined) pid = await ssHolder(port, timeoutMs);
  let connection = false;
  if (pid === undefined) {
    const conns = socketsOnPort(port).filter((s) => s.state !== '0A' && s.inode !== '0');
    pid = pidForInodes(new Set(conns.map((s) => s.inode)));
    connection = pid !== undefined;
  }
  if (pid === undefined) return undefined;
  const argv = readCmdline(pid);
  return { pid, command: describeCmdline(argv), ...(argv ? { argv } : {}), ...(connection ? { connection: true as const } : {}) };
}

/** Is a socket in TIME_WAIT on this local port (a connection just closed; the kernel frees it within a minute)? */
export function inTimeWait(port: number): boolean {
  return socketsOnPort(port).some((s) => s.state === '06');
}

/** The kernel's ephemeral port range (net.ipv4.ip_local_port_range), or undefined off Linux. */
export function ephemeralPortRange(): [number, number] | undefined {
  try {
    const [lo, hi] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    return lo && hi ? [lo, hi] : undefined;
  } catch {
    return undefined;
  }
}

/** A port needed by an ensemble member is already taken. */
export class PortInUseError extends ZkctlError {
  readonly port: number;
  readonly holder?: PortHolder;
  constructor(port: number, what: string, holder?: PortHolder, hint?: string, opts: { timeWait?: boolean } = {}) {
    const who = holder
      ? holder.connection
        ? `a connection of pid ${holder.pid} (${holder.command}), not a listener`
        : `pid ${holder.pid} (${holder.command})`
      : opts.timeWait
        ? 'a connection that just closed (TIME_WAIT)'
        : 'another process';
    const range = ephemeralPortRange();
    const eph = range && port >= range[0] && port <= range[1] ? `; port ${port} is in the kernel's ephemeral port range ${range[0]}-${range[1]}, where outgoing connections take ports at random: a base port below ${range[0] - 20000} avoids that` : '';
    const base = !holder && opts.timeWait ? 'retry shortly (the kernel frees it within a minute), or choose another base port' : (hint ?? 'stop that process or choose another --base-port');
    super(`port ${port} (${what}) is already in use by ${who}`, undefined, {
      hint: base + eph,
      details: {
        port,
        use: what,
        holder: holder ? { pid: holder.pid, command: holder.command, ...(holder.connection ? { connection: true } : {}) } : opts.timeWait ? { timeWait: true } : null,
      },
    });
    this.port = port;
    if (holder) this.holder = holder;
  }
}

/**
 * Stop processes this process spawned detached (each leads its own process group): SIGTERM to
 * each group, SIGKILL to what is left after graceMs. Resolves with the pids that had to be killed.
 */
export async function stopSpawnedGroups(pids: number[], graceMs = 5000): Promise<number[]> {
  const groupSignal = (pid: number, sig: NodeJS.Signals): void => {
    try {
      process.kill(processGroup(pid) === pid ? -pid : pid, sig);
    } catch {
      /* gone */
    }
  };
  for (const pid of pids) groupSignal(pid, 'SIGTERM');
  const end = Date.now() + graceMs;
  while (pids.some(isPidAlive) && Date.now() < end) await sleep(50);
  const left = pids.filter(isPidAlive);
  for (const pid of left) groupSignal(pid, 'SIGKILL');
  return left;
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

/** What a lock file records about its holder: "PID START-TIME" (older zkctl wrote the pid alone). */
function lockRecord(): string {
  return `${process.pid} ${processStartTime(process.pid) ?? ''}`.trim() + '\n';
}

/** Does a process run node / zkctl (a lock holder can be nothing else)? */
function looksLikeZkctl(argv: string[]): boolean {
  return /node|zkctl/i.test(basename(argv[0] ?? '')) || argv.some((a) => /zkctl/i.test(a));
}

/**
 * Is the holder a lock file names still the process that took it? Its pid must be alive, its
 * start time the recorded one (a reused pid has another), and its command line node / zkctl.
 */
export function lockHolderAlive(record: string): boolean {
  const [pidText, start] = record.trim().split(/\s+/);
  const pid = Number(pidText);
  if (!Number.isInteger(pid) || pid <= 0 || !isPidAlive(pid)) return false;
  if (start && processStartTime(pid) !== undefined && processStartTime(pid) !== start) return false;
  const argv = readCmdline(pid);
  return argv ? looksLikeZkctl(argv) : process.platform !== 'linux';
}

/**
 * Run `fn` holding a lock file (created O_EXCL, holding our pid and start time) across
 * processes. A lock whose holder is gone is stale and taken over: a dead pid, a pid reused by
 * another process (other start time, or not a node/zkctl process), also our own pid with
 * `ownPidIsStale`, for callers that serialize in-process themselves.
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
      writeSync(fd, lockRecord());
      closeSync(fd);
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      let record = '';
      try {
        record = readFileSync(lock, 'utf8');
      } catch {
        /* removed meanwhile */
      }
      const holder = Number(record.trim().split(/\s+/)[0]);
      if (!holder || !lockHolderAlive(record) || (opts.ownPidIsStale && holder === process.pid)) {
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

// ---------------------------------------------------------------------------------------------
// The locks of local ensembles

/** The lock file in an ensemble directory (withEnsembleLock). */
export const ENSEMBLE_LOCK_FILE = '.lock';

/** In-process serialization per directory (the file lock below serializes processes). */
const inProcess = new Map<string, Promise<unknown>>();

/** Serialize create / start / destroy of one ensemble directory, in this process and across processes. */
export async function withEnsembleLock<T>(dir: string, timeoutMs: number, fn: () => Promise<T>): Promise<T> {
  const prev = inProcess.get(dir) ?? Promise.resolve();
  const run = prev.catch(() => undefined).then(() => withFileLock(dir, timeoutMs, fn));
  inProcess.set(dir, run);
  try {
    return await run;
  } finally {
    if (inProcess.get(dir) === run) inProcess.delete(dir);
  }
}

/** How long startMembers keeps the port lock while new members bind their ports. */
export const PORT_BIND_WAIT_MS = 15_000;

/**
 * One machine-wide lock (in the temp dir) around "check the ports are free, start the servers,
 * wait until they hold them": two zkctl processes starting ensembles on overlapping ports at the
 * same moment would otherwise both find the ports free and start a mix of each other's members.
 */
export async function withPortLock<T>(fn: () => Promise<T>): Promise<T> {
  const lock = join(tmpdir(), 'zkctl-ports.lock');
  return withPidLock(
    lock,
    {
      timeoutMs: 120_000,
      busy: (holder) => new ZkctlError(`another zkctl (pid ${holder}) has been starting ZooKeeper servers for 2 minutes`, undefined, { hint: `wait for it, or remove ${lock} if that process is gone` }),
    },
    fn,
  );
}

async function withFileLock<T>(dir: string, timeoutMs: number, fn: () => Promise<T>): Promise<T> {
  const lock = join(dir, ENSEMBLE_LOCK_FILE);
  return withPidLock(
    lock,
    {
      timeoutMs,
      // Our own pid is stale here: this process serializes itself above.
      ownPidIsStale: true,
      busy: (holder) => new ZkctlError(`ensemble directory ${dir} is busy (locked by zkctl pid ${holder})`, undefined, { hint: `wait for it, or remove ${lock} if that process is gone` }),
    },
    fn,
  );
}
