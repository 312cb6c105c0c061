/**
 * Reading member logs: the last lines of a file, and following it (tail -f) with rotation
 * and truncation handled. Polling based: works on any filesystem, costs one stat per interval.
 */
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { sleepMs } from '../core/duration.js';


/** The last `n` lines of a file (all of it with n = Infinity), and the offset where the file ended. */
export function tailFile(path: string, n: number): { text: Buffer; end: number } {
  const size = statSync(path).size;
  const fd = openSync(path, 'r');
  try {
    if (n <= 0) return { text: Buffer.alloc(0), end: size };
    // Read backwards in chunks until enough newlines are seen.
    const chunk = 64 * 1024;
    let start = size;
    let buf = Buffer.alloc(0);
    let newlines = 0;
    while (start > 0) {
      const len = Math.min(chunk, start);
      start -= len;
      const b = Buffer.alloc(len);
      readSync(fd, b, 0, len, start);
      buf = Buffer.concat([b, buf]);
      newlines = 0;
      // A trailing newline ends the last line, it does not start a new one.
      const limit = buf.length > 0 && buf[buf.length - 1] === 0x0a ? buf.length - 1 : buf.length;
      for (let i = 0; i < limit; i++) if (buf[i] === 0x0a) newlines++;
      if (Number.isFinite(n) && newlines >= n) break;
    }
    if (Number.isFinite(n) && newlines >= n) {
      const limit = buf.length > 0 && buf[buf.length - 1] === 0x0a ? buf.length - 1 : buf.length;
      let seen = 0;
      for (let i = limit - 1; i >= 0; i--) {
        if (buf[i] === 0x0a && ++seen === n) {
          buf = buf.subarray(i + 1);
          break;
        }
      }
    }
    return { text: buf, end: size };
  } finally {
    closeSync(fd);
  }
}

/**
 * Yield what is appended to a file from `offset` on, until the signal aborts. When the file
 * shrinks (rotated or truncated) reading restarts at its beginning; a missing file is waited for.
 */
export async function* followFile(path: string, opts: { offset: number; signal: AbortSignal; intervalMs?: number }): AsyncGenerator<Buffer> {
  let offset = opts.offset;
  const interval = opts.intervalMs ?? 200;
  while (!opts.signal.aborted) {
    let size: number;
    try {
      size = statSync(path).size;
    } catch {
      size = -1;
    }
    if (size >= 0 && size < offset) offset = 0;
    if (size > offset) {
      const fd = openSync(path, 'r');
      try {
        while (offset < size) {
          const len = Math.min(1024 * 1024, size - offset);
          const b = Buffer.alloc(len);
          const got = readSync(fd, b, 0, len, offset);
          if (got <= 0) break;
          offset += got;
          yield b.subarray(0, got);
        }
      } finally {
        closeSync(fd);
      }
    }
    await sleepMs(interval, opts.signal);
  }
}

/** Split a byte stream into lines (keeps the incomplete tail for the next push). */
export class LineSplitter {
  private rest = '';
  push(b: Buffer | string): string[] {
    const text = this.rest + (typeof b === 'string' ? b : b.toString('utf8'));
    const lines = text.split('\n');
    this.rest = lines.pop() ?? '';
    return lines;
  }
  flush(): string[] {
    const r = this.rest;
    this.rest = '';
    return r ? [r] : [];
  }
}


