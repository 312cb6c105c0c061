/**
 * stdout and stderr, written so that nothing is lost and nothing crashes:
 *
 * - `guardStdio()` (the launcher, first thing): a write error on stdout or stderr (ENOSPC on
 *   `> /dev/full`, EIO, EPIPE when the reader went away) is recorded instead of dying with an
 *   uncaught 'error' event and a stack trace.
 * - `writeOut()`: write to stdout and wait for it to drain (back-pressure), failing with
 *   OutputError on a write error. A reader that closes the pipe (`| head`) ends a listing
 *   quietly with exit 0; where a cut is a failure (`export` to stdout) it is exit 1.
 * - `exitWhenFlushed()` (the launcher, last thing): the process exits only once everything
 *   queued for stdout and stderr has been handed to the kernel (a slow pipe reader gets every
 *   byte), or the reader has taken nothing for the stall deadline (see `stallTimeoutMs`), then
 *   with exit 1 and a line saying how much was not delivered. A write error nobody reported is
 *   one line and exit 1.
 *
 * - `pageOutput()` (a command whose output may be long, on a terminal): from then on what
 *   `writeOut()` and `writeText()` (the Printer) write is held until it fills the screen, then
 *   goes through the pager (src/core/pager.ts). The pager quitting early (q in less) is a reader
 *   closing the pipe: the next write ends the command quietly (exit 0), so a walk stops.
 *   `exitWhenFlushed()` waits for the pager to exit.
 *
 * The stall deadline: ZKCTL_OUTPUT_STALL_TIMEOUT (a duration; 0 waits as long as it takes);
 * default 60 s when stderr is not a terminal (scripts, CI: nobody would notice a hang), none on a
 * terminal (a person is there, paging with `| less` perhaps, and can press Ctrl-C).
 */
import { ExitCode, ZkctlError } from '../core/errors.js';
import { describeErrno } from '../core/file-write.js';
import { Pager } from '../core/pager.js';

type Stream = NodeJS.WriteStream & { _handle?: { writeQueueSize?: number } };

const errors = new Map<Stream, NodeJS.ErrnoException>();
let reported = false;
let guarded = false;

/** A write error on stdout: exit 1 (a closed pipe: exit 0 and no message, unless the command says a cut is a failure). */
export class OutputError extends ZkctlError {
  /** Nothing to print: the reader closed the pipe and that is fine for this command. */
  readonly quiet: boolean;
  constructor(message: string, opts: { quiet?: boolean; cause?: unknown } = {}) {
    super(message, opts.quiet ? ExitCode.OK : ExitCode.FAILURE, { cause: opts.cause });
    this.quiet = !!opts.quiet;
  }
}

const recorders = new Map<Stream, (e: NodeJS.ErrnoException) => void>();

/**
 * Record write errors of stdout and stderr (the first of each). Called again once oclif is loaded,
 * it removes the listener oclif's command module adds, which rethrows every error but EPIPE (an
 * uncaught exception with a stack trace on `> /dev/full`).
 */
export function guardStdio(): void {
  if (!guarded) {
    guarded = true;
    for (const s of [process.stdout, process.stderr] as Stream[]) {
      const rec = (e: NodeJS.ErrnoException): void => {
        if (!errors.has(s)) errors.set(s, e);
      };
      recorders.set(s, rec);
      s.on('error', rec);
    }
  }
  for (const [s, rec] of recorders) {
    for (const l of s.listeners('error')) if (l !== rec) s.removeListener('error', l as (...a: unknown[]) => void);
  }
}

/** The first write error stdout had, if any. */
export function stdoutError(): NodeJS.ErrnoException | undefined {
  return errors.get(process.stdout as Stream);
}

let pager: Pager | undefined;

/**
 * Page what is written from now on (writeOut, writeText) through `command`: held until it fills
 * `rows` lines, then handed to the pager. Until the pager exits, Ctrl-C and SIGTERM that nothing
 * else handles wait for it (the terminal stays the pager's) and then exit 130 / 143.
 */
export function pageOutput(command: string, size: { rows?: number; columns?: number } = {}): void {
  pager = new Pager(command, { ...size });
}

/** Where command output goes now: stdout, or the pager's input once it has started. */
function target(): Stream {
  if (pager?.started) return pager.input as Stream;
  return process.stdout as Stream;
}

const EPIPE = (): NodeJS.ErrnoException => Object.assign(new Error('write EPIPE'), { code: 'EPIPE' });

function startPager(p: Pager): void {
  const input = p.start() as Stream;
  // The pager gone (q in less) is a reader that closed the pipe.
  input.on('error', (e: NodeJS.ErrnoException) => {
    if (!errors.has(input)) errors.set(input, e);
  });
  p.onGone(() => {
    if (!errors.has(input)) errors.set(input, EPIPE());
  });
  for (const [sig, code] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
    process.prependListener(sig, function onSignal() {
      // Only this listener: nothing else stops the command; wait for the pager, then exit.
      if (process.listenerCount(sig) > 1) return;
      process.removeListener(sig, onSignal);
      void p.finish().then(() => process.exit(code));
    });
  }
}

/**
 * Hand `s` to the pager while it is being held (true: nothing more to do), starting the pager
 * once the screen is full.
 */
function held(s: string | Buffer): boolean {
  if (!pager || pager.started) return false;
  if (!pager.hold(s)) return true;
  startPager(pager);
  return true;
}

/**
 * Write without waiting (the Printer): to stdout, or to the pager. A write error is recorded
 * (the next writeOut or exitWhenFlushed reports it); once the pager is gone, nothing is written.
 */
export function writeText(s: string | Buffer): void {
  if (held(s)) return;
  const out = target();
  if (errors.has(out)) return;
  try {
    out.write(s);
  } catch (e) {
    if (!errors.has(out)) errors.set(out, e as NodeJS.ErrnoException);
  }
}

/** Output held for the pager that has not filled the screen: written out now (before an error message, at the end). */
export function flushHeld(): void {
  if (!pager || pager.started) return;
  const rest = pager.takeHeld();
  if (rest.length) {
    const out = process.stdout as Stream;
    if (!errors.has(out)) out.write(rest);
  }
}

/** Bytes handed to the stream and not yet to the kernel. */
function pending(s: Stream): number {
  const q = s._handle?.writeQueueSize;
  return typeof q === 'number' ? q : s.writableLength;
}

function parseStall(text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (!m) return undefined;
  const n = Number(m[1]);
  return n * ({ ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] ?? 's'] ?? 1000);
}

/** How long a reader may take nothing before zkctl gives up on it (Infinity: no limit). */
export function stallTimeoutMs(env: NodeJS.ProcessEnv = process.env, stderrIsTTY = !!process.stderr.isTTY): number {
  const v = env.ZKCTL_OUTPUT_STALL_TIMEOUT;
  if (v !== undefined && v !== '') {
    const ms = parseStall(v);
    if (ms !== undefined) return ms === 0 ? Infinity : ms;
  }
  return stderrIsTTY ? Infinity : 60_000;
}

/**
 * Wait until `s` has nothing queued, it fails or closes, or its reader takes nothing for
 * `stallMs`. Resolves with what is left queued (0: all delivered).
 */
function drained(s: Stream, stallMs: number): Promise<number> {
  if (pending(s) === 0 || errors.has(s) || s.destroyed) return Promise.resolve(errors.has(s) ? pending(s) : 0);
  return new Promise((resolve) => {
    let last = pending(s);
    let lastProgress = Date.now();
    const finish = (): void => {
      clearInterval(timer);
      s.removeListener('drain', check);
      s.removeListener('error', check);
      s.removeListener('close', check);
      resolve(pending(s));
    };
    const check = (): void => {
      const now = pending(s);
      if (now === 0 || errors.has(s) || s.destroyed) return finish();
      if (now !== last) {
        last = now;
        lastProgress = Date.now();
      } else if (Date.now() - lastProgress >= stallMs) finish();
    };
    const timer = setInterval(check, Math.min(100, Math.max(10, stallMs / 4)));
    s.on('drain', check);
    s.on('error', check);
    s.on('close', check);
  });
}

function outputError(e: NodeJS.ErrnoException, what: string, closedIsError: boolean): OutputError {
  reported = true;
  if (e.code === 'EPIPE') {
    return closedIsError
      ? new OutputError(`${what} was cut short: the reader closed the pipe (EPIPE)`, { cause: e })
      : new OutputError('stdout closed by its reader', { quiet: true, cause: e });
  }
  return new OutputError(`cannot write ${what}: ${describeErrno(e)}`, { cause: e });
}

export interface WriteOutOptions {
  /** For messages: what is being written (default "stdout"). */
  what?: string;
  /** A reader closing the pipe is a failure (exit 1), not a quiet end (exit 0). */
  closedIsError?: boolean;
}

/** Write to stdout and wait for it to drain (back-pressure); a write error throws OutputError. */
export async function writeOut(s: string | Buffer, opts: WriteOutOptions = {}): Promise<void> {
  const out = target();
  const what = opts.what ?? 'stdout';
  const failed = (): OutputError | undefined => {
    const e = errors.get(out);
    return e ? outputError(e, what, !!opts.closedIsError) : undefined;
  };
  let err = failed();
  if (err) throw err;
  if (held(s)) {
    // The screen just filled: the pager has its input; wait for it like any reader.
    if (!pager!.started) return;
    return writeOut('', opts);
  }
  let ok: boolean;
  try {
    ok = out.write(s);
  } catch (e) {
    if (!errors.has(out)) errors.set(out, e as NodeJS.ErrnoException);
    throw failed() ?? e;
  }
  // A synchronous stream (a file) reports an error on the next tick: the next call or the launcher's exitWhenFlushed() sees it.
  if (!ok) {
    // A person reading in the pager takes as long as they like.
    const stall = out === process.stdout ? stallTimeoutMs() : Infinity;
    const left = await drained(out, stall);
    if (left > 0 && !errors.has(out) && !out.destroyed) {
      reported = true;
      throw new OutputError(`${what}: its reader took nothing for ${Math.round(stall / 1000)}s; giving up (see ZKCTL_OUTPUT_STALL_TIMEOUT)`);
    }
  }
  err = failed();
  if (err) throw err;
}

/**
 * The launcher's last step: wait (bounded, see the module comment) until stdout and stderr are
 * flushed, report a write error no command reported, then exit with process.exitCode.
 */
export async function exitWhenFlushed(): Promise<never> {
  if (pager) {
    const p = pager;
    flushHeld();
    pager = undefined;
    if (p.started) await p.finish();
  }
  // A synchronous stream (a file, /dev/full) emits its write error on a later tick: let it.
  await new Promise<void>((r) => setImmediate(r));
  const stall = stallTimeoutMs();
  const out = process.stdout as Stream;
  const err = process.stderr as Stream;
  const left = await drained(out, stall);
  const e = errors.get(out);
  if (e && !reported) {
    if (e.code !== 'EPIPE') {
      err.write(`zkctl: cannot write stdout: ${describeErrno(e)}\n`);
      if (!process.exitCode) process.exitCode = ExitCode.FAILURE;
    }
  } else if (!e && left > 0) {
    err.write(`zkctl: stdout: its reader took nothing for ${Math.round(stall / 1000)}s; ${left} bytes not delivered (see ZKCTL_OUTPUT_STALL_TIMEOUT)\n`);
    if (!process.exitCode) process.exitCode = ExitCode.FAILURE;
  }
  await drained(err, Math.min(stall, 5_000));
  process.exit(process.exitCode ?? 0);
}
