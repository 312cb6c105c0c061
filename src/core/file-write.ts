/**
 * The one way zkctl writes a file: a file the user names (`export -f`, `bench dispatch --report`,
 * `edit`'s files) and the state files zkctl keeps (contexts, ensemble files, shell history).
 *
 * What is at the path decides how it is written:
 * - nothing, or a regular file: the bytes go to a temporary file beside it (`NAME.partial-PID`),
 *   which is flushed (fsync) and renamed over NAME: a reader sees the old file or the new one,
 *   never a part of it, and a failure (a full disk, Ctrl-C) removes the temporary file;
 * - a symbolic link: followed; the file it points at is replaced, the link stays;
 * - a character device (/dev/null, /dev/stdout, a terminal) or a FIFO: written in place, never
 *   replaced (a FIFO's open waits for its reader, interruptibly);
 * - a directory, a block device, a socket: refused (exit 2) before any work is done.
 *
 * Errors are one line naming the file and the system's reason with its code (ENOSPC, EROFS,
 * EACCES...). No oclif, no printing.
 */
import { closeSync, constants, fchmodSync, fchownSync, fsyncSync, lstatSync, openSync, readFileSync, readlinkSync, realpathSync, renameSync, rmSync, statSync, writeSync, type Stats } from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';
import { setTimeout as delay } from 'node:timers/promises';
import { dirname, isAbsolute, resolve } from 'node:path';
import { ExitCode, InterruptedError, UsageError, ZkctlError } from './errors.js';
import { type HeldLock, lockFileSync } from './file-lock.js';

export type TargetKind = 'new' | 'file' | 'device' | 'fifo';

export interface WriteTarget {
  /** The path as given (for messages). */
  path: string;
  /** What is written or replaced: `path` with symbolic links followed. */
  real: string;
  kind: TargetKind;
  /** The existing file's stat (kind 'file', 'device', 'fifo'). */
  stat?: Stats;
}

export interface WriteOptions {
  /**
   * Mode of the file written. Default: a new file gets 0666 less the umask, a replaced file
   * keeps its mode (and, for root, its owner). `private: true` makes it 0600 whatever was there.
   */
  private?: boolean;
  /** Abort the write (Ctrl-C): the temporary file is removed, InterruptedError is thrown. */
  signal?: AbortSignal;
}

/** An I/O failure on a file or stream zkctl writes: exit 1, one line naming it. */
export class FileWriteError extends ZkctlError {
  readonly code?: string;
  constructor(what: string, err: unknown, hint?: string) {
    super(`cannot write ${what}: ${describeErrno(err)}`, ExitCode.FAILURE, { hint, cause: err });
    this.code = (err as NodeJS.ErrnoException)?.code;
  }
}

const REASONS: Record<string, string> = {
  ENOSPC: 'no space left on device',
  EDQUOT: 'disk quota exceeded',
  EFBIG: 'file too large',
  EROFS: 'read-only file system',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  ENOENT: 'no such file or directory',
  ENOTDIR: 'a part of the path is not a directory',
  EISDIR: 'is a directory',
  EIO: 'input/output error',
  EPIPE: 'the reader closed the pipe',
  ENXIO: 'no reader or device',
  ELOOP: 'too many levels of symbolic links',
  ENAMETOOLONG: 'file name too long',
  EMFILE: 'too many open files',
};

/** "no space left on device (ENOSPC)" from a Node errno error; the message's first line otherwise. */
export function describeErrno(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  if (e && typeof e.code === 'string' && /^E[A-Z0-9]+$/.test(e.code)) {
    const text = REASONS[e.code] ?? (e.message ?? '').replace(new RegExp(`^${e.code}:\\s*`), '').replace(/,\s*\w+(?: '[^']*')*$/, '');
    return `${text || 'error'} (${e.code})`;
  }
  return String((e as Error)?.message ?? err).split('\n')[0];
}

/** Follow symbolic links of `path` to what it finally names, also when that does not exist yet. */
function followLinks(path: string): string {
  let p = resolve(path);
  for (let hops = 0; hops < 40; hops++) {
    let st: Stats;
    try {
      st = lstatSync(p);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return p;
      throw e;
    }
    if (!st.isSymbolicLink()) return p;
    const to = readlinkSync(p);
    p = isAbsolute(to) ? to : resolve(dirname(p), to);
  }
  throw Object.assign(new Error('too many levels of symbolic links'), { code: 'ELOOP' });
}

/**
 * Where and how `path` would be written; refuses (UsageError, exit 2) a directory, a block
 * device or a socket. Call it before any work so a bad path costs nothing.
 */
export function resolveWriteTarget(path: string): WriteTarget {
  if (path === '') throw new UsageError('empty file name');
  let st: Stats | undefined;
  try {
    // stat follows every link, /proc's "magic" ones too (/dev/stdout -> /proc/self/fd/1 -> pipe:[N]).
    st = statSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw new UsageError(`cannot write ${path}: ${describeErrno(e)}`);
  }
  if (st) {
    if (st.isFile()) {
      let real: string;
      try {
        real = realpathSync(path);
      } catch (e) {
        throw new UsageError(`cannot write ${path}: ${describeErrno(e)}`);
      }
      return { path, real, kind: 'file', stat: st };
    }
    // Written in place through the path as given (the kernel follows the links).
    if (st.isCharacterDevice()) return { path, real: path, kind: 'device', stat: st };
    if (st.isFIFO()) return { path, real: path, kind: 'fifo', stat: st };
    if (st.isDirectory()) throw new UsageError(`${path} is a directory`, 'name a file in it');
    throw new UsageError(`${path} is a ${st.isBlockDevice() ? 'block device' : 'socket'}: zkctl writes only regular files, character devices and FIFOs`);
  }
  // Nothing there yet (or a dangling link): the file is created where the links lead.
  let real: string;
  try {
    real = followLinks(path);
  } catch (e) {
    throw new UsageError(`cannot write ${path}: ${describeErrno(e)}`);
  }
  // The directory must exist (zkctl does not create a user's directories) and be one.
  let dst: Stats;
  try {
    dst = statSync(dirname(real));
  } catch (e) {
    throw new UsageError(`cannot write ${path}: ${describeErrno(e)} (${dirname(real)})`);
  }
  if (!dst.isDirectory()) throw new UsageError(`cannot write ${path}: ${dirname(real)} is not a directory`);
  return { path, real, kind: 'new' };
}

let tmpCounter = 0;
function tempName(real: string, attempt: number): string {
  return attempt === 0 ? `${real}.partial-${process.pid}` : `${real}.partial-${process.pid}-${Date.now().toString(36)}${(tmpCounter++).toString(36)}`;
}

/** Mode and owner for the file that replaces `t` (see WriteOptions.private). */
function modeFor(t: WriteTarget, opts: WriteOptions): { create: number; chmod?: number; chown?: [number, number] } {
  if (opts.private) return { create: 0o600, chmod: 0o600 };
  if (t.kind === 'file' && t.stat) {
    const own = process.getuid?.() === 0 && (t.stat.uid !== 0 || t.stat.gid !== 0) ? ([t.stat.uid, t.stat.gid] as [number, number]) : undefined;
    return { create: 0o600, chmod: t.stat.mode & 0o7777, chown: own };
  }
  return { create: 0o666 };
}

/** Before renaming: what is at `real` now must still be a regular file or nothing. */
function assertReplaceable(t: WriteTarget): void {
  let st: Stats;
  try {
    st = lstatSync(t.real);
  } catch {
    return;
  }
  if (!st.isFile()) throw new UsageError(`${t.path} is no longer a regular file (it changed while zkctl wrote it): nothing replaced`);
}

function syncDir(dir: string): void {
  try {
    const fd = openSync(dir, constants.O_RDONLY | constants.O_DIRECTORY);
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    /* best effort: some file systems refuse fsync on a directory */
  }
}

/**
 * Open a device or FIFO for writing, without creating or truncating anything, non-blocking: a
 * blocking open (a FIFO with no reader) or write (a full pipe) would hold one of libuv's threads,
 * and the process could then not even exit. EAGAIN / ENXIO are waited out here instead, within
 * IN_PLACE_STALL_MS of no progress.
 */
const IN_PLACE_FLAGS = constants.O_WRONLY | constants.O_NOCTTY | constants.O_NONBLOCK;
export const IN_PLACE_STALL_MS = 60_000;
const retryable = (e: unknown): boolean => ['EAGAIN', 'EWOULDBLOCK', 'ENXIO'].includes((e as NodeJS.ErrnoException).code ?? '');
const noReader = (t: WriteTarget, e: unknown): unknown =>
  (e as NodeJS.ErrnoException).code === 'ENXIO' ? Object.assign(new Error('no reader'), { code: 'ENXIO' }) : Object.assign(new Error(`no progress for ${IN_PLACE_STALL_MS / 1000}s (${t.kind === 'fifo' ? 'the FIFO\'s reader takes nothing' : 'the device takes nothing'})`), { code: (e as NodeJS.ErrnoException).code });

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** Synchronous write into a device or FIFO, waiting out EAGAIN / a missing reader. */
function writeInPlaceSync(t: WriteTarget, buf: Buffer): void {
  let last = Date.now();
  let fd: number | undefined;
  try {
    for (;;) {
      try {
        fd = openSync(t.real, IN_PLACE_FLAGS);
        break;
      } catch (e) {
        if (!retryable(e) || Date.now() - last > IN_PLACE_STALL_MS) throw retryable(e) ? noReader(t, e) : e;
        sleepSync(20);
      }
    }
    last = Date.now();
    for (let off = 0; off < buf.length; ) {
      try {
        off += writeSync(fd, buf, off, buf.length - off);
        last = Date.now();
      } catch (e) {
        if (!retryable(e) || Date.now() - last > IN_PLACE_STALL_MS) throw retryable(e) ? noReader(t, e) : e;
        sleepSync(5);
      }
    }
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** Write `data` to `path` (see the module comment). Synchronous: for small files (contexts, reports, state). */
export function writeFileSafeSync(path: string, data: string | Buffer, opts: WriteOptions = {}): WriteTarget {
  const t = resolveWriteTarget(path);
  const buf = typeof data === 'string' ? Buffer.from(data) : data;
  if (t.kind === 'device' || t.kind === 'fifo') {
    try {
      writeInPlaceSync(t, buf);
    } catch (e) {
      throw new FileWriteError(path, e);
    }
    return t;
  }
  const m = modeFor(t, opts);
  let tmp = '';
  let fd: number | undefined;
  try {
    for (let attempt = 0; ; attempt++) {
      tmp = tempName(t.real, attempt);
      try {
        fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, m.create);
        break;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 5) {
          tmp = '';
          throw e;
        }
      }
    }
    if (m.chown) fchownQuiet(fd!, m.chown);
    if (m.chmod !== undefined) fchmodSyncQuiet(fd!, m.chmod);
    for (let off = 0; off < buf.length; ) off += writeSync(fd!, buf, off, buf.length - off);
    fsyncSync(fd!);
    closeSync(fd!);
    fd = undefined;
    assertReplaceable(t);
    renameSync(tmp, t.real);
    tmp = '';
    syncDir(dirname(t.real));
    return t;
  } catch (e) {
    if (e instanceof ZkctlError) throw e;
    throw new FileWriteError(path, e, (e as NodeJS.ErrnoException).code === 'EACCES' || (e as NodeJS.ErrnoException).code === 'EROFS' ? `zkctl writes a temporary file in ${dirname(t.real)} and renames it` : undefined);
  } finally {
    if (fd !== undefined) closeSync(fd);
    if (tmp) rmSync(tmp, { force: true });
  }
}

function fchownQuiet(fd: number, [uid, gid]: [number, number]): void {
  try {
    fchownSync(fd, uid, gid);
  } catch {
    /* best effort */
  }
}
function fchmodSyncQuiet(fd: number, mode: number): void {
  try {
    fchmodSync(fd, mode);
  } catch {
    /* best effort */
  }
}

/** A file being written in chunks (export): `commit` makes it appear whole, `abort` leaves nothing. */
export interface FileSink {
  readonly target: WriteTarget;
  write(chunk: string | Buffer): Promise<void>;
  /** Flush, close and (regular files) rename into place. */
  commit(): Promise<void>;
  /** Remove the temporary file (regular files); safe to call more than once and after commit. */
  abort(): void;
}

/**
 * Open `path` for a chunked write. Resolve the target first (`resolveWriteTarget`) to refuse a
 * bad path before any work; pass it here.
 */
export async function openFileSink(target: WriteTarget, opts: WriteOptions = {}): Promise<FileSink> {
  const t = target;
  const signal = opts.signal;
  const inPlace = t.kind === 'device' || t.kind === 'fifo';
  let tmp = '';
  let fh: FileHandle | undefined;
  const interrupted = (): InterruptedError => new InterruptedError(`interrupted: ${t.path} not written`);
  const race = <T>(p: Promise<T>): Promise<T> => {
    if (!signal) return p;
    if (signal.aborted) return Promise.reject(interrupted());
    // A write blocked on a FIFO nobody reads, or a slow device, must not outlive Ctrl-C.
    return new Promise<T>((res, rej) => {
      const on = (): void => rej(interrupted());
      signal.addEventListener('abort', on, { once: true });
      p.then(
        (v) => {
          signal.removeEventListener('abort', on);
          res(v);
        },
        (e) => {
          signal.removeEventListener('abort', on);
          rej(e);
        },
      );
    });
  };
  const m = modeFor(t, opts);
  try {
    if (inPlace) {
      const since = Date.now();
      for (;;) {
        try {
          fh = await race(open(t.real, IN_PLACE_FLAGS));
          break;
        } catch (e) {
          // A FIFO without a reader yet: wait for one (interruptibly), within the stall deadline.
          if (!retryable(e) || Date.now() - since > IN_PLACE_STALL_MS) throw retryable(e) ? noReader(t, e) : e;
          await race(delay(20));
        }
      }
    }
    else {
      for (let attempt = 0; ; attempt++) {
        const name = tempName(t.real, attempt);
        try {
          fh = await open(name, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, m.create);
          tmp = name;
          break;
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 5) throw e;
        }
      }
      if (m.chown) await fh.chown(m.chown[0], m.chown[1]).catch(() => undefined);
      if (m.chmod !== undefined) await fh.chmod(m.chmod).catch(() => undefined);
    }
  } catch (e) {
    if (tmp) rmSync(tmp, { force: true });
    if (e instanceof ZkctlError) throw e;
    throw new FileWriteError(t.path, e);
  }
  let done = false;
  let failed: unknown;
  const abort = (): void => {
    if (done) return;
    done = true;
    const h = fh;
    fh = undefined;
    // Do not wait for a write still blocked in the kernel; closing is best effort.
    h?.close().catch(() => undefined);
    if (tmp) rmSync(tmp, { force: true });
  };
  const fail = (e: unknown): never => {
    failed ??= e;
    abort();
    if (e instanceof ZkctlError) throw e;
    throw new FileWriteError(t.path, e);
  };
  return {
    target: t,
    async write(chunk) {
      if (failed) throw failed instanceof ZkctlError ? failed : new FileWriteError(t.path, failed);
      if (done || !fh) throw new FileWriteError(t.path, new Error('already closed'));
      const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      try {
        let off = 0;
        let last = Date.now();
        while (off < buf.length) {
          try {
            const { bytesWritten } = await race(fh.write(buf, off, buf.length - off));
            off += bytesWritten;
            last = Date.now();
          } catch (e) {
            // Non-blocking device or FIFO: full for now; wait (interruptibly) within the stall deadline.
            if (!inPlace || !retryable(e) || Date.now() - last > IN_PLACE_STALL_MS) throw inPlace && retryable(e) ? noReader(t, e) : e;
            await race(delay(5));
          }
        }
      } catch (e) {
        fail(e);
      }
    },
    async commit() {
      if (failed) throw failed instanceof ZkctlError ? failed : new FileWriteError(t.path, failed);
      if (done || !fh) throw new FileWriteError(t.path, new Error('already closed'));
      try {
        if (!inPlace) await race(fh.sync());
        const h = fh;
        fh = undefined;
        await h.close();
        if (!inPlace) {
          assertReplaceable(t);
          renameSync(tmp, t.real);
          tmp = '';
          syncDir(dirname(t.real));
        }
        done = true;
      } catch (e) {
        fail(e);
      }
    },
    abort,
  };
}

/**
 * Read-modify-write of a file zkctl keeps, under a lock (core/file-lock.ts: `NAME.lock` beside
 * the file, dying with its holder) and atomic on disk: `fn` gets the current bytes (undefined:
 * no file) and returns the new ones, or undefined to leave the file as it is. Concurrent updates
 * from several zkctl processes all land.
 */
export function updateFileSync(path: string, fn: (current: Buffer | undefined) => string | Buffer | undefined, opts: WriteOptions & { lockTimeoutMs?: number } = {}): boolean {
  // A lock taken over before the write (a stale-lock breaker moved it aside for a moment): nothing
  // was written, so the whole read-modify-write is done again, a few times.
  for (let attempt = 1; ; attempt++) {
    try {
      return updateFileOnce(path, fn, opts);
    } catch (e) {
      if (!(e instanceof LockTakenOver) || attempt >= 5) throw e;
    }
  }
}

class LockTakenOver extends ZkctlError {}

function updateFileOnce(path: string, fn: (current: Buffer | undefined) => string | Buffer | undefined, opts: WriteOptions & { lockTimeoutMs?: number }): boolean {
  const t = resolveWriteTarget(path);
  const lock = `${t.real}.lock`;
  let l: HeldLock;
  try {
    l = lockFileSync(lock, { timeoutMs: opts.lockTimeoutMs });
  } catch (e) {
    if (e instanceof ZkctlError) throw e;
    throw new FileWriteError(path, e, `zkctl locks it with ${lock}`);
  }
  try {
    let current: Buffer | undefined;
    try {
      current = readFileSync(t.real);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw new FileWriteError(path, e);
    }
    const next = fn(current);
    if (next === undefined) return false;
    if (!l.held()) throw new LockTakenOver(`cannot write ${path}: its lock ${lock} was taken over by another process; nothing written`, ExitCode.FAILURE, { hint: 'retry' });
    writeFileSafeSync(t.real, next, opts);
    return true;
  } finally {
    l.release();
  }
}
