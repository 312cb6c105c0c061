/**
 * Znode data: where writers take it from (argument, file, stdin), how big a
 * request may be, and how readers present it (raw bytes, utf8, hex, base64,
 * pretty JSON / YAML). Also the small parsers for versions and sizes that the
 * znode commands share.
 */
import { readFile, stat as fsStat } from 'node:fs/promises';
import { UsageError } from './errors.js';
import { yaml } from './lazy.js';
import { parseYamlDocument, toPlain } from './yaml-input.js';
import type { ACL } from './protocol/records.js';
import { maxRequestBytes, requestSize } from './txn.js';

// The request limit and the one measure of a request live in txn.ts.
export { maxRequestBytes, requestSize } from './txn.js';

/** Throws a UsageError (exit 2) when the request would exceed the server's limit. */
export function assertRequestFits(serverPath: string, data: Buffer, acl?: ACL[], extra = 0): void {
  const size = requestSize(serverPath, data, acl, extra);
  const max = maxRequestBytes();
  if (size > max) {
    throw new UsageError(
      `data too large: ${data.length} bytes (request ${size} bytes, the server's limit is ${max})`,
      'ZooKeeper is not a blob store; keep znodes small (or set ZKCTL_JUTE_MAXBUFFER to match a server with a larger jute.maxbuffer)',
    );
  }
}

export interface DataSource {
  /** The DATA argument; "-" means stdin. */
  arg?: string;
  /** --file PATH ("-" means stdin too). */
  file?: string;
}

/** Read stdin to the end. */
export async function readStream(stream: NodeJS.ReadableStream, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const c of stream) {
    const b = typeof c === 'string' ? Buffer.from(c) : (c as Buffer);
    total += b.length;
    if (total > limit) throw new UsageError(`data too large: more than ${limit} bytes on stdin`);
    chunks.push(b);
  }
  return Buffer.concat(chunks);
}

/**
 * The bytes a writer should store: the argument (UTF-8), a file, or stdin.
 * No source at all gives empty data. Unreadable files are usage errors (exit 2).
 */
export async function readData(src: DataSource, stdin: NodeJS.ReadableStream = process.stdin): Promise<Buffer> {
  if (src.arg !== undefined && src.file !== undefined) {
    throw new UsageError('give the data either as an argument or with --file, not both');
  }
  const limit = maxRequestBytes();
  if (src.arg === '-' || src.file === '-') return readStream(stdin, limit);
  if (src.file !== undefined) {
    if (src.file === '') throw new UsageError('--file needs a path');
    try {
      const st = await fsStat(src.file);
      if (st.isDirectory()) throw new UsageError(`cannot read --file ${src.file}: it is a directory`);
      if (st.isFile() && st.size > limit) {
        throw new UsageError(`data too large: ${src.file} has ${st.size} bytes (the server's limit is ${limit} per request)`);
      }
      return await readFile(src.file);
    } catch (e) {
      if (e instanceof UsageError) throw e;
      const err = e as NodeJS.ErrnoException;
      throw new UsageError(`cannot read --file ${src.file}: ${err.code === 'ENOENT' ? 'no such file' : err.code === 'EACCES' ? 'permission denied' : err.message}`);
    }
  }
  if (src.arg !== undefined) return Buffer.from(src.arg, 'utf8');
  return Buffer.alloc(0);
}

/* ------------------------------------------------------------------ */

export type DataFormat = 'utf8' | 'hex' | 'base64' | 'json' | 'yaml';
export const DATA_FORMATS: DataFormat[] = ['utf8', 'hex', 'base64', 'json', 'yaml'];

/** Is `b` valid UTF-8? */
export function isUtf8(b: Buffer): boolean {
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(b);
    return true;
  } catch {
    return false;
  }
}

/** Parse data as JSON; UsageError (exit 2) when it is not. */
export function parseJsonData(b: Buffer, path?: string): unknown {
  const where = path ? `${path}: ` : '';
  if (b.length === 0) throw new UsageError(`${where}data is empty, not JSON`);
  if (!isUtf8(b)) throw new UsageError(`${where}data is not valid JSON (not UTF-8 text)`);
  try {
    return JSON.parse(b.toString('utf8'));
  } catch (e) {
    throw new UsageError(`${where}data is not valid JSON: ${(e as Error).message}`);
  }
}

/** Parse data as YAML (JSON is YAML too); UsageError (exit 2) when it is not. */
export function parseYamlData(b: Buffer, path?: string): unknown {
  const where = path ? `${path}: ` : '';
  if (!isUtf8(b)) throw new UsageError(`${where}data is not valid YAML (not UTF-8 text)`);
  // Linear in the number of keys, duplicates refused, alias bombs refused (yaml-input.ts).
  const parsed = parseYamlDocument(b.toString('utf8'), { strict: true });
  const plain = parsed.error ? { error: parsed.error, value: undefined } : toPlain(parsed);
  const problem = plain.error;
  if (problem) throw new UsageError(`${where}data is not valid YAML${problem.line !== undefined ? ` (line ${problem.line})` : ''}: ${problem.message}`);
  return plain.value;
}

/**
 * Present data in a format. utf8 decodes (invalid sequences become U+FFFD),
 * hex/base64 encode, json/yaml parse and pretty-print (UsageError if the data
 * does not parse). The result never ends with a newline.
 */
export function formatData(b: Buffer, format: DataFormat, path?: string): string {
  switch (format) {
    case 'utf8':
      return b.toString('utf8');
    case 'hex':
      return b.toString('hex');
    case 'base64':
      return b.toString('base64');
    case 'json':
      return JSON.stringify(parseJsonData(b, path), null, 2);
    case 'yaml':
      return yaml().stringify(parseYamlData(b, path)).replace(/\n$/, '');
    default:
      throw new UsageError(`unknown data format ${String(format)}`, `use one of ${DATA_FORMATS.join(', ')}`);
  }
}

/**
 * A hex dump as `xxd` prints it: per 16 bytes, the offset (8 hex digits), the bytes in groups of two,
 * and the bytes as ASCII with '.' for anything not printable (so it is safe on a terminal). One line
 * per 16 bytes, no newline at the end; '' for no data.
 */
export function hexDump(b: Buffer): string {
  const lines: string[] = [];
  for (let off = 0; off < b.length; off += 16) {
    const row = b.subarray(off, off + 16);
    const groups: string[] = [];
    for (let i = 0; i < row.length; i += 2) groups.push(row.subarray(i, i + 2).toString('hex'));
    let ascii = '';
    for (const c of row) ascii += c >= 0x20 && c < 0x7f ? String.fromCharCode(c) : '.';
    lines.push(`${off.toString(16).padStart(8, '0')}: ${groups.join(' ').padEnd(39)}  ${ascii}`);
  }
  return lines.join('\n');
}

/** Data for JSON output: UTF-8 text when it is, else base64. */
export function dataForJson(b: Buffer): { encoding: 'utf8' | 'base64'; data: string } {
  return isUtf8(b) ? { encoding: 'utf8', data: b.toString('utf8') } : { encoding: 'base64', data: b.toString('base64') };
}

/**
 * `edited` with the one newline an editor appends at the end of a file removed,
 * when `original` did not end with one (vi, nano and most editors add it).
 */
export function trimEditorNewline(original: Buffer, edited: Buffer): Buffer {
  const endsNl = (b: Buffer): boolean => b.length > 0 && b[b.length - 1] === 0x0a;
  if (endsNl(original) || !endsNl(edited)) return edited;
  const cut = edited.length >= 2 && edited[edited.length - 2] === 0x0d && !(original.length > 0 && original[original.length - 1] === 0x0d) ? 2 : 1;
  return edited.subarray(0, edited.length - cut);
}

/** JSON.parse of data, or undefined when it is not UTF-8 JSON. */
function tryJson(b: Buffer): { value: unknown } | { error: string } {
  if (!isUtf8(b)) return { error: 'not UTF-8 text' };
  try {
    return { value: JSON.parse(b.toString('utf8')) };
  } catch (e) {
    return { error: (e as Error).message };
  }
}

/**
 * Would writing `edited` over `original` break JSON? When the original was a
 * JSON object or array and the edited text does not parse: the parser's
 * message. Otherwise undefined (plain values such as `5` or `on` are not
 * taken for JSON documents).
 */
export function brokenJson(original: Buffer, edited: Buffer): string | undefined {
  const o = tryJson(original);
  if (!('value' in o) || o.value === null || typeof o.value !== 'object') return undefined;
  const n = tryJson(edited);
  return 'error' in n ? n.error : undefined;
}

/* ------------------------------------------------------------------ */

/** A znode version for compare-and-set: a non-negative integer (UsageError otherwise). */
export function parseVersion(s: string | undefined, what = 'version'): number | undefined {
  if (s === undefined) return undefined;
  if (!/^\d+$/.test(s.trim())) {
    throw new UsageError(`invalid ${what} "${s}": expected a non-negative integer`, 'read it with: zkctl stat PATH');
  }
  const n = Number(s.trim());
  if (n > 0x7fffffff) throw new UsageError(`invalid ${what} "${s}": too large`);
  return n;
}

/** Sizes as people write them: 100, 10k, 1.5M (binary multiples: k = 1024). */
export function parseSize(s: string, what = 'size'): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmg])?i?b?\s*$/i.exec(s);
  if (!m) throw new UsageError(`invalid ${what} "${s}"`, 'use a number of bytes, e.g. 512, 10k, 1M');
  const mult = { k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[(m[2] ?? '').toLowerCase() as 'k' | 'm' | 'g'] ?? 1;
  return Math.round(Number(m[1]) * mult);
}

/** 1536 -> "1.5 KiB" */
export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v >= 10 ? Math.round(v) : +v.toFixed(1)} ${units[i]}`;
}
