/**
 * The one printer layer. Commands hand results here; nothing else formats.
 * Column definitions are declared once (Column<T>[]) and serve the table,
 * plain and (for field selection) JSON/YAML printers alike.
 */
import { lazyRequire, yaml } from '../core/lazy.js';

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
}

export function renderTable<T>(rows: T[], columns: Column<T>[], opts: RenderOptions): string {
  const table = new (Table())({
    head: columns.map((c) => c.header),
    style: { head: opts.color ? ['cyan'] : [], border: opts.color ? ['grey'] : [], compact: true, 'padding-left': 1, 'padding-right': 1 },
    colAligns: columns.map((c) => c.align ?? 'left'),
    chars: {
      top: '', 'top-mid': '', 'top-left': '', 'top-right': '',
      bottom: '', 'bottom-mid': '', 'bottom-left': '', 'bottom-right': '',
      left: '', 'left-mid': '', mid: '', 'mid-mid': '',
      right: '', 'right-mid': '', middle: ' ',
    },
  });
  for (const r of rows) {
    table.push(
      columns.map((c) => {
        const text = cellText(c.get(r));
        return opts.color && c.style ? c.style(text, r) : text;
      }),
    );
  }
  return table
    .toString()
    .split('\n')
    .map((l) => l.replace(/\s+$/, ''))
    .join('\n');
}

/** Plain: one row per line, tab-separated, no header: made for `cut -f` and `while read`. */
export function renderPlain<T>(rows: T[], columns: Column<T>[]): string {
  return rows.map((r) => columns.map((c) => cellText(c.get(r)).replace(/[\t\n]/g, ' ')).join('\t')).join('\n');
}

export interface PrinterOptions {
  format: OutputFormat;
  color: boolean;
  write?: (s: string) => void;
  /**
   * oclif's --json prints the command's return value itself: results
   * (rows/object/text) are then not printed here, stream events still are.
   */
  resultPrintedElsewhere?: boolean;
}

export class Printer {
  readonly format: OutputFormat;
  readonly color: boolean;
  private readonly write: (s: string) => void;
  private readonly quietResults: boolean;
  constructor(opts: PrinterOptions) {
    this.format = opts.format;
    this.color = opts.color;
    this.write = opts.write ?? ((s) => process.stdout.write(s));
    this.quietResults = !!opts.resultPrintedElsewhere;
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
        this.line(renderTable(rows, columns, { color: this.color }));
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
    else this.out(text);
  }

  /** Free text (plain/table); JSON/YAML get `value`. */
  text(s: string, value?: unknown): void {
    if (this.format === 'json') this.line(formatJson(value ?? s));
    else if (this.format === 'yaml') this.line(formatYaml(value ?? s));
    else this.line(s);
  }

  /** Raw bytes, untouched (binary-safe). */
  raw(b: Buffer): void {
    process.stdout.write(b);
  }
}
