/**
 * The one printer layer. Commands hand results here; nothing else formats.
 * Column definitions are declared once (Column<T>[]) and serve the table,
 * plain and (for field selection) JSON/YAML printers alike.
 */
import { lazyRequire, yaml } from '../core/lazy.js';
import { writeText } from './stdio.js';

// Loaded on first use: most runs print neither a table nor YAML.
const Table = lazyRequire<typeof import('cli-table3')>('cli-table3');

export type OutputFormat = 'table' | 'json' | 'yaml' | 'plain';
export const OUTPUT_FORMATS: OutputFormat[] = ['table', 'json', 'yaml', 'plain'];

export interface Column<T> {
  /** Header in tables; key in JSON when `key` is not given. */
  header: string;
  key?: string;
  get: (row: T) => unknown;
  align?: 'left' | 'right';
  /** Colour/format for table cells (TTY only); receives the plain text. */
  style?: (text: string, row: T) => string;
  /**
   * Fitting a table to the terminal (stdout a TTY; pipes always get every column in full):
   * columns with the highest priority number are dropped first; 0 is never dropped.
   * Default: 0 for the first column, else 10 + its position (the rightmost goes first).
   */
  priority?: number;
  /**
   * A text column (paths, data, errors) that may be cut to fit, marked with …: 'end' keeps the
   * beginning, 'start' keeps the end (paths: the name). Other columns (numbers, ids) are never cut.
   */
  truncate?: 'end' | 'start';
  /** A narrower header used when the table does not fit (e.g. LAT for LATENCY MIN/AVG/MAX). */
  shortHeader?: string;
}

/** The terminal's width when stdout is one; undefined for pipes and files (rows stay whole). */
export function terminalWidth(stream: NodeJS.WriteStream = process.stdout): number | undefined {
  return stream.isTTY && stream.columns > 0 ? stream.columns : undefined;
}

/** Characters as a terminal counts them (code points; escape sequences not counted). */
export function visibleLength(s: string): number {
  // eslint-disable-next-line no-control-regex
  return [...s.replace(/\u001b\[[0-9;?]*[A-Za-z]|\u001b\][^\u0007]*\u0007/g, '')].length;
}

/** `s` cut to `width` characters, marked with … ('end': keeps the start; 'start': keeps the end). */
export function truncateText(s: string, width: number, where: 'end' | 'start' = 'end'): string {
  const cps = [...s];
  if (cps.length <= width) return s;
  if (width <= 1) return '…'.slice(0, Math.max(0, width));
  return where === 'start' ? `…${cps.slice(cps.length - width + 1).join('')}` : `${cps.slice(0, width - 1).join('')}…`;
}

/** What fits: the columns kept (indexes, in order), their headers and widths. */
export interface TableFit {
  keep: number[];
  headers: string[];
  /** Width of each kept column (a truncatable column's text is cut to it). */
  widths: number[];
}

/** The narrowest a truncatable column is made before other columns are dropped. */
const MIN_TEXT = 10;

/**
 * Choose the columns of a table for a terminal `width` columns wide. `dataWidths[i]` is the
 * widest cell of column i; a line is `edge` + the column widths + `gap` between columns.
 * Steps, each only when the previous one does not fit: short headers; text (truncatable) columns
 * cut down to 10 characters; empty columns dropped, then columns by priority; then text columns
 * get the room left, up to their full width. Columns that are never dropped or cut may still not fit.
 */
export function fitTable<T>(columns: Column<T>[], dataWidths: number[], width: number | undefined, gap: number, edge: number): TableFit {
  const all = columns.map((_c, i) => i);
  const header = (i: number, short: boolean): string => (short && columns[i].shortHeader) || columns[i].header;
  const full = (i: number, short: boolean): number => Math.max(header(i, short).length, dataWidths[i] ?? 0);
  const least = (i: number, short: boolean): number =>
    columns[i].truncate ? Math.max(header(i, short).length, Math.min(dataWidths[i] ?? 0, MIN_TEXT)) : full(i, short);
  const total = (keep: number[], w: (i: number) => number): number => edge + keep.reduce((a, i) => a + w(i), 0) + gap * Math.max(0, keep.length - 1);
  const result = (keep: number[], short: boolean, widths: number[]): TableFit => ({ keep, headers: keep.map((i) => header(i, short)), widths });
  if (width === undefined || total(all, (i) => full(i, false)) <= width) return result(all, false, all.map((i) => full(i, false)));
  if (total(all, (i) => full(i, true)) <= width) return result(all, true, all.map((i) => full(i, true)));
  const prio = (i: number): number => columns[i].priority ?? (i === 0 ? 0 : 10 + i);
  // Columns with nothing in them go first.
  let keep = all.filter((i) => (dataWidths[i] ?? 0) > 0 || prio(i) === 0);
  while (total(keep, (i) => least(i, true)) > width) {
    const droppable = keep.filter((i) => prio(i) > 0);
    if (droppable.length === 0) break;
    const drop = droppable.reduce((a, b) => (prio(b) >= prio(a) ? b : a));
    keep = keep.filter((i) => i !== drop);
  }
  const widths = new Map(keep.map((i) => [i, least(i, true)]));
  let room = width - total(keep, (i) => widths.get(i)!);
  for (const i of [...keep].filter((k) => columns[k].truncate).sort((a, b) => prio(a) - prio(b) || a - b)) {
    if (room <= 0) break;
    const more = Math.min(room, full(i, true) - widths.get(i)!);
    widths.set(i, widths.get(i)! + more);
    room -= more;
  }
  return result(keep, true, keep.map((i) => widths.get(i)!));
}

/** JSON.stringify replacer: bigint -> number when safe, else string; Buffer -> base64 string. */
export function jsonReplacer(_key: string, value: unknown): unknown {
  if (typeof value === 'bigint') {
    return value <= BigInt(Number.MAX_SAFE_INTEGER) && value >= BigInt(Number.MIN_SAFE_INTEGER) ? Number(value) : value.toString();
  }
  if (value && typeof value === 'object' && (value as { type?: string }).type === 'Buffer' && Array.isArray((value as { data?: unknown }).data)) {
    return Buffer.from((value as { data: number[] }).data).toString('base64');
  }
  return value;
}

/** Deep copy with bigints/Buffers made JSON-safe (for YAML and oclif's --json). */
export function toPlainData<T>(value: T): unknown {
  return value === undefined ? undefined : JSON.parse(JSON.stringify(value, jsonReplacer));
}

export function formatJson(value: unknown, pretty = true): string {
  return JSON.stringify(value, jsonReplacer, pretty ? 2 : undefined);
}

export function formatYaml(value: unknown): string {
  return yaml().stringify(toPlainData(value));
}

export function cellText(v: unknown): string {
  if (v === undefined || v === null) return '';
  if (typeof v === 'bigint') return v.toString();
  if (Buffer.isBuffer(v)) return v.toString('utf8');
  if (Array.isArray(v)) return v.map(cellText).join(',');
  if (typeof v === 'object') return JSON.stringify(v, jsonReplacer);
  return String(v);
}

export function rowObject<T>(row: T, columns: Column<T>[]): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  for (const c of columns) o[c.key ?? c.header.toLowerCase().replace(/[^a-z0-9]+(.)?/g, (_m, ch: string | undefined) => (ch ? ch.toUpperCase() : ''))] = c.get(row);
  return o;
}

export interface RenderOptions {
  color: boolean;
  /** Fit to this many columns (a terminal's width); undefined: every column in full. */
  width?: number | undefined;
}

export function renderTable<T>(rows: T[], allColumns: Column<T>[], opts: RenderOptions): string {
  const texts = rows.map((r) => allColumns.map((c) => cellText(c.get(r))));
  // Cells are padded by one space each side (the last one's right padding is trimmed; counted anyway).
  const fit = fitTable(allColumns, allColumns.map((_c, i) => Math.max(0, ...texts.map((t) => visibleLength(t[i])))), opts.width, 3, 2);
  const columns = fit.keep.map((i) => allColumns[i]);
  const table = new (Table())({
    head: fit.headers,
    style: { head: opts.color ? ['cyan'] : [], border: opts.color ? ['grey'] : [], compact: true, 'padding-left': 1, 'padding-right': 1 },
    colAligns: columns.map((c) => c.align ?? 'left'),
    chars: {
      top: '', 'top-mid': '', 'top-left': '', 'top-right': '',
      bottom: '', 'bottom-mid': '', 'bottom-left': '', 'bottom-right': '',
      left: '', 'left-mid': '', mid: '', 'mid-mid': '',
      right: '', 'right-mid': '', middle: ' ',
    },
  });
  rows.forEach((r, n) => {
    table.push(
      fit.keep.map((i, k) => {
        const c = allColumns[i];
        const text = c.truncate ? truncateText(texts[n][i], fit.widths[k], c.truncate) : texts[n][i];
        return opts.color && c.style ? c.style(text, r) : text;
      }),
    );
  });
  return table
    .toString()
    .split('\n')
    .map((l) => l.replace(/\s+$/, ''))
    .join('\n');
}

/**
 * A line broken between words to fit `width` (continuation lines indented under the second
 * word, or by 2 when that is too far); never inside a word or number. Escape sequences
 * (colour) do not count. A word longer than a line is left whole.
 */
export function wrapLine(text: string, width: number, indent?: number): string {
  if (text.includes('\n') || visibleLength(text) <= width) return text;
  const words = text.split(' ');
  const ind = indent ?? (visibleLength(words[0]) + 1 <= width / 3 ? visibleLength(words[0]) + 1 : 2);
  const lines: string[] = [];
  let cur = '';
  let len = 0;
  for (const w of words) {
    const wl = visibleLength(w);
    if (len > 0 && len + 1 + wl > width) {
      lines.push(cur);
      cur = ' '.repeat(ind) + w;
      len = ind + wl;
    } else if (cur === '' && lines.length === 0) {
      cur = w;
      len = wl;
    } else {
      cur += ` ${w}`;
      len += 1 + wl;
    }
  }
  lines.push(cur);
  return lines.join('\n');
}

/** Plain: one row per line, tab-separated, no header: made for `cut -f` and `while read`. */
export function renderPlain<T>(rows: T[], columns: Column<T>[]): string {
  return rows.map((r) => columns.map((c) => cellText(c.get(r)).replace(/[\t\n]/g, ' ')).join('\t')).join('\n');
}

export interface PrinterOptions {
  format: OutputFormat;
  color: boolean;
  /** Where the text goes (default: stdout, or the pager when the command pages: see stdio.ts). */
  write?: (s: string) => void;
  /**
   * oclif's --json prints the command's return value itself: results
   * (rows/object/text) are then not printed here, stream events still are.
   */
  resultPrintedElsewhere?: boolean;
  /** A terminal's width (read at each print: it may be resized): tables are fitted to it and event lines broken between words. */
  width?: number | (() => number | undefined);
}

export class Printer {
  readonly format: OutputFormat;
  readonly color: boolean;
  private readonly write: (s: string) => void;
  private readonly quietResults: boolean;
  private readonly widthOf: () => number | undefined;
  constructor(opts: PrinterOptions) {
    const w = opts.width;
    this.widthOf = typeof w === 'function' ? w : () => w;
    this.format = opts.format;
    this.color = opts.color;
    this.write = opts.write ?? writeText;
    this.quietResults = !!opts.resultPrintedElsewhere;
  }

  /** The width output is fitted to; undefined: not a terminal. */
  get width(): number | undefined {
    return this.widthOf();
  }

  private out(s: string): void {
    if (s.length === 0) return;
    this.write(s.endsWith('\n') ? s : `${s}\n`);
  }

  /** A result line: skipped when the result is printed elsewhere (oclif --json). */
  private line(s: string): void {
    if (!this.quietResults) this.out(s);
  }

  /**
   * A list of records. JSON/YAML get `jsonValue` (default: the typed rows themselves).
   * `plainHeader`: plain output starts with a `# `-comment line naming the columns (tab-separated).
   */
  rows<T>(rows: T[], columns: Column<T>[], jsonValue?: unknown, opts: { plainHeader?: boolean } = {}): void {
    switch (this.format) {
      case 'json':
        this.line(formatJson(jsonValue ?? rows));
        break;
      case 'yaml':
        this.line(formatYaml(jsonValue ?? rows));
        break;
      case 'plain':
        if (opts.plainHeader) this.line(`# ${columns.map((c) => c.header).join('\t')}`);
        this.line(renderPlain(rows, columns));
        break;
      default:
        this.line(renderTable(rows, columns, { color: this.color, width: this.width }));
    }
  }

  /** One record: table/plain show `key value` lines (or `key = value` with `sep`). */
  object(value: Record<string, unknown>, opts: { sep?: string; fields?: Array<[string, unknown]> } = {}): void {
    switch (this.format) {
      case 'json':
        this.line(formatJson(value));
        break;
      case 'yaml':
        this.line(formatYaml(value));
        break;
      default: {
        const fields = opts.fields ?? Object.entries(value);
        const width = Math.max(0, ...fields.map(([k]) => k.length));
        const sep = opts.sep ?? '';
        this.line(fields.map(([k, v]) => (sep ? `${k} ${sep} ${cellText(v)}` : `${k.padEnd(width)}  ${cellText(v)}`)).join('\n'));
      }
    }
  }

  /** One event of a stream: JSON lines with -o json, else a formatted line. */
  event(value: Record<string, unknown>, text: string): void {
    if (this.format === 'json') this.out(formatJson(value, false));
    else if (this.format === 'yaml') this.out(`---\n${formatYaml(value)}`);
    else {
      const width = this.width;
      this.out(width !== undefined ? wrapLine(text, width) : text);
    }
  }

  /** Free text (plain/table); JSON/YAML get `value`. */
  text(s: string, value?: unknown): void {
    if (this.format === 'json') this.line(formatJson(value ?? s));
    else if (this.format === 'yaml') this.line(formatYaml(value ?? s));
    else this.line(s);
  }

  /** Raw bytes, untouched (binary-safe). */
  raw(b: Buffer): void {
    writeText(b);
  }
}
