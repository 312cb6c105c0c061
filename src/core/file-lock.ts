/**
 * A lock between zkctl processes for a read-modify-write of a file it keeps (the contexts file,
 * shell history, ...): the lock file `NAME.lock`, created O_EXCL, names its holder by pid and
 * the process's start time (field 22 of /proc/PID/stat), so a lock dies with its holder: a lock
 * whose pid is gone, or now belongs to another process (pid reuse), is stale and is broken.
 * Breaking is safe against a race with another breaker: the stale file is first renamed aside
 * and removed only if it is still the very file (device and inode) judged stale; a live lock
 * moved by mistake is put back.
 *
 * Every wait has a deadline (`timeoutMs`, default 10 s), then LockBusyError (exit 1) names the
 * lock file and its holder. No oclif, no printing.
 */
import { closeSync, linkSync, lstatSync, openSync, readFileSync, renameSync, rmSync, writeSync, type Stats } from 'node:fs';
import { ExitCode, ZkctlError } from './errors.js';

export class LockBusyError extends ZkctlError {
  constructor(lock: string, holder: string) {
    super(`${lock} is held by ${holder}`, ExitCode.FAILURE, { hint: 'another zkctl is updating the same file; retry, or remove the lock file if that process is not zkctl' });
  }
}

/** Start time of a process (clock ticks since boot, /proc/PID/stat field 22); undefined without /proc or for no such pid. */
export function processStartTime(pid: number): string | undefined {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const rest = s.slice(s.lastIndexOf(')') + 2).split(' ');
    // rest[0] is field 3 (state); field 22 is rest[19]
    if (rest[0] === 'Z' || rest[0] === 'X') return undefined;
    return rest[19];
  } catch {
    return undefined;
  }
}

function pidExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

const haveProc = ((): boolean => {
  try {
    lstatSync('/proc/self/stat');
    return true;
  } catch {
    return false;
  }
})();

/** Is the holder recorded in a lock file ("PID START") still that very process? */
function holderAlive(record: string): boolean {
  const [pidText, start] = record.trim().split(/\s+/);
  const pid = Number(pidText);
  if (!Number.isInteger(pid) || pid <= 0) return false;
  if (!pidExists(pid)) return false;
  if (!haveProc) return true;
  const now = processStartTime(pid);
  if (now === undefined) return false;
  return start === undefined || start === now;
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

const sameFile = (a: Stats, b: Stats): boolean => a.ino === b.ino && a.dev === b.dev;

export interface LockOptions {
  /** Give up after this long (default 10 s). */
  timeoutMs?: number;
  /** A lock file with no holder recorded yet is a lock being taken, unless older than this (default 2 s). */
  emptyGraceMs?: number;
}

export interface HeldLock {
  readonly path: string;
  /** Still ours: the lock file at `path` is the one we created (not broken by another process). */
  held(): boolean;
  release(): void;
}

/** One attempt; the lock or why not (the holder's record). */
function tryLock(lock: string, opts: LockOptions): HeldLock | { busy: string } {
  let fd: number;
  try {
    fd = openSync(lock, 'wx', 0o600);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    return inspect(lock, opts);
  }
  let mine: Stats;
  try {
    writeSync(fd, `${process.pid} ${processStartTime(process.pid) ?? ''}\n`);
    mine = lstatSync(lock);
  } finally {
    closeSync(fd);
  }
  let released = false;
  const held = (): boolean => {
    try {
      return sameFile(lstatSync(lock), mine);
    } catch {
      return false;
    }
  };
  return {
    path: lock,
    held,
    release() {
      if (released) return;
      released = true;
      if (held()) rmSync(lock, { force: true });
    },
  };
}

/** The lock exists: wait for a live holder, break a stale lock. */
function inspect(lock: string, opts: LockOptions): { busy: string } {
  let st: Stats;
  let record: string;
  try {
    st = lstatSync(lock);
    record = readFileSync(lock, 'utf8');
  } catch {
    return { busy: '' }; // gone meanwhile: try again
  }
  if (record.trim() === '' && Date.now() - st.mtimeMs < (opts.emptyGraceMs ?? 2000)) return { busy: 'a process taking it' };
  if (record.trim() !== '' && holderAlive(record)) return { busy: `pid ${record.trim().split(/\s+/)[0]}` };
  // Stale: move it aside, then make sure it was the file we judged. (Looked at again first: the
  // holder judged may have released it meanwhile, and a new holder's file be there now, which a
  // rename would take away from it for a moment.)
  try {
    if (!sameFile(lstatSync(lock), st)) return { busy: '' };
  } catch {
    return { busy: '' };
  }
  const aside = `${lock}.stale-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  try {
    renameSync(lock, aside);
  } catch {
    return { busy: '' };
  }
  try {
    if (!sameFile(lstatSync(aside), st)) {
      // A new holder took the lock between our look and the rename: give it back.
      try {
        linkSync(aside, lock);
      } catch {
        /* the path was taken again meanwhile; that holder sees held() false */
      }
    }
  } finally {
    rmSync(aside, { force: true });
  }
  return { busy: '' };
}

/** Take the lock `lock` (a path), waiting up to the deadline. Synchronous (short critical sections). */
export function lockFileSync(lock: string, opts: LockOptions = {}): HeldLock {
  const end = Date.now() + (opts.timeoutMs ?? 10_000);
  let wait = 2;
  let spins = 0;
  for (;;) {
    const r = tryLock(lock, opts);
    if ('release' in r) return r;
    if (Date.now() >= end) throw new LockBusyError(lock, r.busy || 'another process');
    if (r.busy === '' && ++spins < 4) continue;
    spins = 0;
    sleepSync(Math.min(wait, Math.max(1, end - Date.now())));
    wait = Math.min(wait * 2, 50) + Math.floor(Math.random() * 5);
  }
}

/** Run `fn` holding the lock on `lock`; released however `fn` ends. */
export function withFileLockSync<T>(lock: string, fn: (lock: HeldLock) => T, opts: LockOptions = {}): T {
  const l = lockFileSync(lock, opts);
  try {
    return fn(l);
  } finally {
    l.release();
  }
}
