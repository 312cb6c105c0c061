/**
 * Znode columns and layouts (ls -l, stat, find, du, ephemerals), and a
 * streaming row writer for tree walks: rows go out as the walk delivers them
 * (plain: tab-separated lines; json: one array written incrementally; yaml: a
 * sequence; table: widths taken from the first rows), and writing waits for
 * stdout to drain, so a slow reader slows the walk instead of filling memory.
 */
import { readlinkSync } from 'node:fs';
import { formatBytes, isUtf8 } from '../core/data.js';
import type { Id, Stat } from '../core/protocol/records.js';
import { sessionHex } from '../core/session-id.js';
import type { DuRow, NodeInfo } from '../core/tree.js';
import type { EditResult } from '../core/edit.js';
import { loadChalk, loadedChalk } from './color.js';
import { type Column, type OutputFormat, type TableFit, cellText, fitTable, formatJson, formatYaml, terminalWidth, truncateText, visibleLength } from './index.js';
import { writeOut } from './stdio.js';

/** A zxid or session id as Stat shows it: "0x" and unsigned 64-bit hex, the text of sessionHex. */
export function hex(v: bigint): string {
  return sessionHex(v);
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
  { header: 'VERSION', key: 'dataVersion', get: (r) => r.stat.version, align: 'right', priority: 3, shortHeader: 'VER' },
  { header: 'DATA', key: 'dataLength', get: (r) => r.stat.dataLength, align: 'right', priority: 2 },
  { header: 'CHILDREN', key: 'numChildren', get: (r) => r.stat.numChildren, align: 'right', priority: 4, shortHeader: 'CHILD' },
  {
    header: 'EPHEMERAL OWNER',
    key: 'ephemeralOwner',
    priority: 6,
    shortHeader: 'OWNER',
    get: (r) => (r.stat.ephemeralOwner === 0n ? '' : hex(r.stat.ephemeralOwner)),
    style: (t) => loadedChalk()?.yellow(t) ?? t,
  },
  { header: 'MTIME', key: 'mtime', get: (r) => shortDate(r.stat.mtime), style: dim, priority: 5 },
  { header: 'NAME', key: 'name', get: (r) => r.name, priority: 0, truncate: 'start' },
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
  /** Where the text goes (default: stdout, waiting for it to drain). The shell gives its own. */
  write?: (s: string) => Promise<void> | void;
  /** Table: fit to this width (default: the terminal's, when stdout is one; pipes get every column). */
  width?: number;
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
  private fit?: TableFit;
  private ended = false;
  private readonly out: (s: string) => Promise<void> | void;
  constructor(opts: RowStreamOptions<T>) {
    this.o = opts;
    this.out = opts.write ?? writeOut;
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
        await this.out(this.count === 1 ? `[\n${s}` : `,\n${s}`);
        return;
      }
      case 'yaml': {
        const y = formatYaml([o.json ? o.json(row) : row]);
        await this.out(y);
        return;
      }
      case 'plain':
        await this.out(`${o.plain ? o.plain(row) : o.columns.map((c) => cellText(c.get(row)).replace(/[\t\n]/g, ' ')).join('\t')}\n`);
        return;
      default:
        if (this.widths) {
          await this.out(this.tableLine(row));
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
    const all = this.o.columns;
    const cells = this.cells(row);
    const fit = this.fit!;
    const parts = fit.keep.map((i, k) => {
      const c = all[i];
      const w = this.widths![k];
      const t = c.truncate ? truncateText(cells[i], w, c.truncate) : cells[i];
      const padded = k === fit.keep.length - 1 && c.align !== 'right' ? t : c.align === 'right' ? t.padStart(w) : t.padEnd(w);
      return this.o.color && c.style && t ? padded.replace(t, c.style(t, row)) : padded;
    });
    return `${parts.join('  ').replace(/\s+$/, '')}\n`;
  }

  private async flushTable(): Promise<void> {
    const all = this.o.columns;
    const data = all.map(() => 0);
    for (const r of this.pending) this.cells(r).forEach((t, i) => (data[i] = Math.max(data[i], visibleLength(t))));
    this.fit = fitTable(all, data, 'width' in this.o ? this.o.width : terminalWidth(), 2, 0);
    const fit = this.fit;
    this.widths = fit.widths;
    const head = fit.keep
      .map((i, k) => (all[i].align === 'right' ? fit.headers[k].padStart(fit.widths[k]) : fit.headers[k].padEnd(fit.widths[k])))
      .join('  ')
      .replace(/\s+$/, '');
    const chalk = this.o.color ? await loadChalk() : undefined;
    let out = `${chalk ? chalk.cyan(head) : head}\n`;
    for (const r of this.pending) out += this.tableLine(r);
    this.pending = [];
    await this.out(out);
  }

  async end(): Promise<void> {
    if (this.ended) return;
    this.ended = true;
    switch (this.o.format) {
      case 'json':
        await this.out(this.count === 0 ? '[]\n' : '\n]\n');
        return;
      case 'yaml':
        if (this.count === 0) await this.out('[]\n');
        return;
      case 'plain':
        return;
      default:
        if (!this.widths && this.pending.length > 0) await this.flushTable();
    }
  }
}

/**
 * One line of `tree` (text mode): box-drawing prefix, the name (the path at depth 0), ephemeral
 * nodes marked with their owner, and "+N children" at the depth limit (or sizes with `sizes`).
 * `lastAt[d]`: is the node on the current branch at depth d the last child. Shared by
 * `zkctl tree` and the shell's tree. Colour needs `loadChalk()` first.
 */
export function treeLine(n: NodeInfo, lastAt: boolean[], opts: { color: boolean; sizes?: boolean }): string {
  const chalk = opts.color ? loadedChalk() : undefined;
  let prefix = '';
  for (let d = 1; d < n.depth; d++) prefix += lastAt[d] ? '    ' : '│   ';
  if (n.depth > 0) prefix += n.last ? '└── ' : '├── ';
  const name = n.depth === 0 ? n.path : n.name;
  const notes: string[] = [];
  if (opts.sizes) notes.push(`${formatBytes(n.stat.dataLength)}, ${n.stat.numChildren} ${n.stat.numChildren === 1 ? 'child' : 'children'}`);
  else if (n.children === undefined && n.stat.numChildren > 0) notes.push(`+${n.stat.numChildren} ${n.stat.numChildren === 1 ? 'child' : 'children'}`);
  let line = chalk ? chalk.dim(prefix) : prefix;
  if (n.stat.ephemeralOwner !== 0n) {
    const mark = `ephemeral ${hex(n.stat.ephemeralOwner)}`;
    line += chalk ? `${chalk.yellow(name)} ${chalk.yellow(`(${mark})`)}` : `${name} (${mark})`;
  } else line += chalk && n.stat.numChildren > 0 ? chalk.bold(name) : name;
  if (notes.length > 0) line += chalk ? chalk.dim(`  [${notes.join('; ')}]`) : `  [${notes.join('; ')}]`;
  return `${line}\n`;
}

/**
 * Data for a person at a terminal: UTF-8 text without control characters as it is (a newline
 * added), anything else as a note and base64, so that stored escape sequences cannot act on the
 * terminal; '' for no data.
 */
export function terminalData(data: Buffer): string {
  if (data.length === 0) return '';
  const utf8 = isUtf8(data);
  if (utf8 && !/[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\x9b]/.test(data.toString('utf8'))) {
    const s = data.toString('utf8');
    return s.endsWith('\n') ? s : `${s}\n`;
  }
  return `(${data.length} bytes, ${utf8 ? 'UTF-8 with control characters' : 'not UTF-8'}; base64:)\n${data.toString('base64')}\n`;
}

/* ------------------------------------------------------------------ */
/* Columns shared by one-shot commands and the shell. */

/** `du`: BYTES (plain/json), SIZE (table), NODES, PATH. */
export const duColumns: Column<DuRow>[] = [
  { header: 'BYTES', key: 'bytes', get: (r) => r.bytes, align: 'right' },
  { header: 'SIZE', key: 'size', get: (r) => formatBytes(r.bytes), align: 'right' },
  { header: 'NODES', key: 'nodes', get: (r) => r.nodes, align: 'right' },
  { header: 'PATH', key: 'path', get: (r) => r.path },
];

/** `du` columns for an output format (table: SIZE, plain: BYTES, json/yaml: both). */
export function duColumnsFor(format: OutputFormat): Column<DuRow>[] {
  if (format === 'plain') return duColumns.filter((c) => c.key !== 'size');
  return format === 'table' ? duColumns.filter((c) => c.key !== 'bytes') : duColumns;
}

/** An ephemeral node as `ephemerals` lists it. */
export interface EphemeralRow {
  path: string;
  ephemeralOwner: string;
  ctime: number;
  dataLength: number;
}

/** A row of `ephemerals` for an ephemeral node (stat names and values, as stat -o json). */
export function ephemeralRow(n: { path: string; stat: Stat }): EphemeralRow {
  return { path: n.path, ephemeralOwner: hex(n.stat.ephemeralOwner), ctime: n.stat.ctime, dataLength: n.stat.dataLength };
}

export const ephemeralColumns: Column<EphemeralRow>[] = [
  { header: 'OWNER SESSION', key: 'ephemeralOwner', get: (r) => r.ephemeralOwner },
  { header: 'CREATED', key: 'ctime', get: (r) => shortDate(r.ctime) },
  { header: 'DATA', key: 'dataLength', get: (r) => r.dataLength, align: 'right' },
  { header: 'PATH', key: 'path', get: (r) => r.path },
];

/** `whoami`: the session's identities. */
export const idColumns: Column<Id>[] = [
  { header: 'SCHEME', key: 'scheme', get: (r) => r.scheme },
  { header: 'ID', key: 'id', get: (r) => r.id },
];

/** One line saying what `edit` did. */
export function editSummary(r: EditResult, readVersion: number): string {
  return r.changed ? `${r.path}: written (version ${readVersion} -> ${r.version}, ${r.bytes} bytes)` : `${r.path}: no change, nothing written`;
}
