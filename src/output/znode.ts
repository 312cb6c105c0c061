/**
 * Znode columns and layouts (ls -l, stat, find, du, ephemerals), and a
 * streaming row writer for tree walks: rows go out as the walk delivers them
 * (plain: tab-separated lines; json: one array written incrementally; yaml: a
 * sequence; table: widths taken from the first rows), and writing waits for
 * stdout to drain, so a slow reader slows the walk instead of filling memory.
 */
import { readlinkSync } from 'node:fs';
import type { Stat } from '../core/protocol/records.js';
import { loadChalk, loadedChalk } from './color.js';
import { type Column, type OutputFormat, cellText, formatJson, formatYaml } from './index.js';
import { writeOut } from './stdio.js';

export function hex(v: bigint): string {
  return `0x${BigInt.asUintN(64, v).toString(16)}`;
}

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const p2 = (n: number): string => String(n).padStart(2, '0');

/**
 * Time zones whose short name is always "UTC" (no DST; Intl's 'en-US' name). For these the name
 * is known without building ICU's date formatter, which costs a one-shot `stat` more than the rest
 * of its run (~120M instructions).
 */
export const UTC_ZONES: ReadonlySet<string> = new Set(['UTC', 'Etc/UTC', 'Etc/UCT', 'UCT', 'Etc/Universal', 'Universal', 'Etc/Zulu', 'Zulu']);

let hostZone: string | null | undefined;
/** The process's time zone name as ICU finds it when that is easy to tell ($TZ, else the /etc/localtime link); else null. */
export function localZoneName(env: NodeJS.ProcessEnv = process.env): string | null {
  if (env !== process.env) return zoneFrom(env);
  return (hostZone ??= zoneFrom(env));
}

function zoneFrom(env: NodeJS.ProcessEnv): string | null {
  if (env.TZ !== undefined) return env.TZ;
  try {
    const target = readlinkSync('/etc/localtime');
    const i = target.lastIndexOf('zoneinfo/');
    return i >= 0 ? target.slice(i + 'zoneinfo/'.length) : null;
  } catch {
    return null;
  }
}

function tzAbbrev(d: Date): string {
  const zone = localZoneName();
  if (zone !== null && UTC_ZONES.has(zone)) return 'UTC';
  try {
    const part = new Intl.DateTimeFormat('en-US', { timeZoneName: 'short' }).formatToParts(d).find((x) => x.type === 'timeZoneName');
    return part?.value ?? 'UTC';
  } catch {
    return 'UTC';
  }
}

/** Java's Date.toString(), as zkCli.sh prints times: "Wed Nov 25 15:53:40 UTC 2026" (local zone). */
export function javaDate(ms: number): string {
  const d = new Date(ms);
  return `${DAYS[d.getDay()]} ${MONTHS[d.getMonth()]} ${p2(d.getDate())} ${p2(d.getHours())}:${p2(d.getMinutes())}:${p2(d.getSeconds())} ${tzAbbrev(d)} ${d.getFullYear()}`;
}

/** "2026-11-25 15:53:40" (local time) for tables. */
export function shortDate(ms: number): string {
  const d = new Date(ms);
  return `${d.getFullYear()}-${p2(d.getMonth() + 1)}-${p2(d.getDate())} ${p2(d.getHours())}:${p2(d.getMinutes())}:${p2(d.getSeconds())}`;
}

/** The Stat in zkCli.sh's order and names (`stat` plain output: "cZxid = 0x..."). */
export function statFields(s: Stat): Array<[string, unknown]> {
  return [
    ['cZxid', hex(s.czxid)],
    ['ctime', javaDate(s.ctime)],
    ['mZxid', hex(s.mzxid)],
    ['mtime', javaDate(s.mtime)],
    ['pZxid', hex(s.pzxid)],
    ['cversion', s.cversion],
    ['dataVersion', s.version],
    ['aclVersion', s.aversion],
    ['ephemeralOwner', hex(s.ephemeralOwner)],
    ['dataLength', s.dataLength],
    ['numChildren', s.numChildren],
  ];
}

/** The fields of the stat object in JSON/YAML, in order (`stat -o json`; every command uses these names). */
export const STAT_JSON_FIELDS = ['cZxid', 'ctime', 'ctimeIso', 'mZxid', 'mtime', 'mtimeIso', 'pZxid', 'cversion', 'dataVersion', 'aclVersion', 'ephemeralOwner', 'dataLength', 'numChildren'] as const;

/** The Stat for JSON/YAML: zkCli's names, zxids and the owner as hex strings, times as ms and ISO. */
export function statJson(s: Stat): Record<string, unknown> {
  return {
    cZxid: hex(s.czxid),
    ctime: s.ctime,
    ctimeIso: new Date(s.ctime).toISOString(),
    mZxid: hex(s.mzxid),
    mtime: s.mtime,
    mtimeIso: new Date(s.mtime).toISOString(),
    pZxid: hex(s.pzxid),
    cversion: s.cversion,
    dataVersion: s.version,
    aclVersion: s.aversion,
    ephemeralOwner: hex(s.ephemeralOwner),
    dataLength: s.dataLength,
    numChildren: s.numChildren,
  };
}

/** A znode row for listings. */
export interface ZnodeRow {
  path: string;
  /** What to show in the name column (a child name for plain ls, else the path). */
  name: string;
  stat: Stat;
}

// Styles apply only in coloured tables, whose writer loads chalk first (RowStream.flushTable).
const dim = (t: string): string => loadedChalk()?.dim(t) ?? t;

export const znodeLongColumns: Column<ZnodeRow>[] = [
  { header: 'VERSION', key: 'dataVersion', get: (r) => r.stat.version, align: 'right' },
  { header: 'DATA', key: 'dataLength', get: (r) => r.stat.dataLength, align: 'right' },
  { header: 'CHILDREN', key: 'numChildren', get: (r) => r.stat.numChildren, align: 'right' },
  {
    header: 'EPHEMERAL OWNER',
    key: 'ephemeralOwner',
    get: (r) => (r.stat.ephemeralOwner === 0n ? '' : hex(r.stat.ephemeralOwner)),
    style: (t) => loadedChalk()?.yellow(t) ?? t,
  },
  { header: 'MTIME', key: 'mtime', get: (r) => shortDate(r.stat.mtime), style: dim },
  { header: 'NAME', key: 'name', get: (r) => r.name },
];

/**
 * `ls -l` / `find -l` rows in JSON/YAML: the path and the whole stat object,
 * with exactly the names and values of `stat -o json` (one name per field everywhere).
 */
/** `ls -l -o wide` / `find -l -o wide`: every stat field. */
export const znodeWideColumns: Column<ZnodeRow>[] = [
  { header: 'CZXID', key: 'cZxid', get: (r) => hex(r.stat.czxid), align: 'right' },
  { header: 'MZXID', key: 'mZxid', get: (r) => hex(r.stat.mzxid), align: 'right' },
  { header: 'PZXID', key: 'pZxid', get: (r) => hex(r.stat.pzxid), align: 'right' },
  { header: 'CVERSION', key: 'cversion', get: (r) => r.stat.cversion, align: 'right' },
  { header: 'ACLVERSION', key: 'aclVersion', get: (r) => r.stat.aversion, align: 'right' },
  { header: 'CTIME', key: 'ctime', get: (r) => shortDate(r.stat.ctime), style: dim },
  ...znodeLongColumns,
];

export function znodeLongJson(r: ZnodeRow): Record<string, unknown> {
  return { path: r.path, ...statJson(r.stat) };
}

/* ------------------------------------------------------------------ */

export { writeOut } from './stdio.js';

export interface RowStreamOptions<T> {
  format: OutputFormat;
  color: boolean;
  columns: Column<T>[];
  /** JSON/YAML form of a row (default: the row itself). */
  json?: (row: T) => unknown;
  /** Plain form of a row (default: the columns, tab-separated). */
  plain?: (row: T) => string;
  /** Table: rows buffered to size the columns before the first line is written. Default 100. */
  sample?: number;
}

/**
 * Rows written as they come. Call `push` for each row and `end` once (also
 * when there were no rows: JSON then writes `[]`).
 */
export class RowStream<T> {
  private readonly o: RowStreamOptions<T>;
  private count = 0;
  private pending: T[] = [];
  private widths?: number[];
  private ended = false;
  constructor(opts: RowStreamOptions<T>) {
    this.o = opts;
  }

  get rows(): number {
    return this.count;
  }

  async push(row: T): Promise<void> {
    const o = this.o;
    this.count++;
    switch (o.format) {
      case 'json': {
        const s = formatJson(o.json ? o.json(row) : row, false);
        await writeOut(this.count === 1 ? `[\n${s}` : `,\n${s}`);
        return;
      }
      case 'yaml': {
        const y = formatYaml([o.json ? o.json(row) : row]);
        await writeOut(y);
        return;
      }
      case 'plain':
        await writeOut(`${o.plain ? o.plain(row) : o.columns.map((c) => cellText(c.get(row)).replace(/[\t\n]/g, ' ')).join('\t')}\n`);
        return;
      default:
        if (this.widths) {
          await writeOut(this.tableLine(row));
          return;
        }
        this.pending.push(row);
        if (this.pending.length >= (o.sample ?? 100)) await this.flushTable();
    }
  }

  private cells(row: T): string[] {
    return this.o.columns.map((c) => cellText(c.get(row)));
  }

  private tableLine(row: T): string {
    const cols = this.o.columns;
    const cells = this.cells(row);
    const parts = cells.map((t, i) => {
      const c = cols[i];
      const w = this.widths![i];
      const padded = i === cols.length - 1 && c.align !== 'right' ? t : c.align === 'right' ? t.padStart(w) : t.padEnd(w);
      return this.o.color && c.style && t ? padded.replace(t, c.style(t, row)) : padded;
    });
    return `${parts.join('  ').replace(/\s+$/, '')}\n`;
  }

  private async flushTable(): Promise<void> {
    const cols = this.o.columns;
    this.widths = cols.map((c) => c.header.length);
    for (const r of this.pending) this.cells(r).forEach((t, i) => (this.widths![i] = Math.max(this.widths![i], t.length)));
    const head = cols.map((c, i) => (c.align === 'right' ? c.header.padStart(this.widths![i]) : c.header.padEnd(this.widths![i]))).join('  ').replace(/\s+$/, '');
    const chalk = this.o.color ? await loadChalk() : undefined;
    let out = `${chalk ? chalk.cyan(head) : head}\n`;
    for (const r of this.pending) out += this.tableLine(r);
    this.pending = [];
    await writeOut(out);
  }

  async end(): Promise<void> {
    if (this.ended) return;
    this.ended = true;
    switch (this.o.format) {
      case 'json':
        await writeOut(this.count === 0 ? '[]\n' : '\n]\n');
        return;
      case 'yaml':
        if (this.count === 0) await writeOut('[]\n');
        return;
      case 'plain':
        return;
      default:
        if (!this.widths && this.pending.length > 0) await this.flushTable();
    }
  }
}
