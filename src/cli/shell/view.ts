/**
 * The shell's printers: the one-shot commands' own (src/output), so that `ls -l`, `stat`, `tree`,
 * `du`, `ephemerals`, `whoami` look the same in `zkctl shell` as on the command line, and the
 * shell's colours (prompt, errors, notes).
 */
import type { Id, Stat } from '../../core/session.js';
import type { DuRow, NodeInfo } from '../../core/tree.js';
import { type OutputFormat, Printer } from '../../output/index.js';
import { loadChalk } from '../../output/color.js';
import { watchEventText } from '../../output/watch.js';
import type { ZnodeEvent } from '../../core/recipes/watchers.js';
import { type EphemeralRow, RowStream, type ZnodeRow, duColumnsFor, ephemeralColumns, idColumns, statFields, terminalData, treeLine, znodeLongColumns } from '../../output/znode.js';

/** Each returns text ending with a newline ('' for nothing). */
export interface ShellView {
  znodeRows: (rows: ZnodeRow[]) => Promise<string>;
  stat: (path: string, s: Stat) => string;
  /** One line of `tree` (lastAt: per depth, is the node there the last child). */
  treeLine: (n: NodeInfo, lastAt: boolean[]) => string;
  du: (rows: DuRow[]) => string;
  ephemerals: (rows: EphemeralRow[]) => string;
  ids: (ids: Id[]) => string;
  /** Data for the terminal (text as is, else a safe form); '' for none. */
  data: (data: Buffer, path: string) => string;
  /** One `watch` event line, as zkctl watch prints it (no newline). */
  watchEvent: (e: ZnodeEvent, children: boolean) => string;
}

export interface ShellStyle {
  prompt: (s: string) => string;
  error: (s: string) => string;
  note: (s: string) => string;
  mark: (s: string) => string;
}

export const noStyle: ShellStyle = { prompt: (s) => s, error: (s) => s, note: (s) => s, mark: (s) => s };

/** Printers for `format` (table on a terminal, plain otherwise, as the one-shot commands choose). */
export async function shellView(format: OutputFormat, color: boolean): Promise<ShellView> {
  if (color) await loadChalk();
  const printed = (fn: (p: Printer) => void): string => {
    let text = '';
    fn(new Printer({ format, color, write: (s) => (text += s) }));
    return text;
  };
  return {
    znodeRows: async (rows) => {
      let text = '';
      const out = new RowStream<ZnodeRow>({ format, color, columns: znodeLongColumns, write: (s) => void (text += s) });
      for (const r of rows) await out.push(r);
      await out.end();
      return text;
    },
    stat: (path, s) => printed((p) => p.object({ path }, { sep: '=', fields: statFields(s) })),
    treeLine: (n, lastAt) => treeLine(n, lastAt, { color }),
    du: (rows) => printed((p) => p.rows(rows, duColumnsFor(format))),
    ephemerals: (rows) => printed((p) => p.rows(rows, ephemeralColumns)),
    ids: (ids) => printed((p) => p.rows(ids, idColumns)),
    data: (data) => terminalData(data),
    watchEvent: (e, children) => watchEventText(e, { color, children }),
  };
}

/** Prompt bold blue, errors red, notes yellow, the [disconnected] mark red and bold: only with colour. */
export async function shellStyle(color: boolean): Promise<ShellStyle> {
  if (!color) return noStyle;
  const chalk = await loadChalk();
  return { prompt: (s) => chalk.bold.blue(s), error: (s) => chalk.red(s), note: (s) => chalk.yellow(s), mark: (s) => chalk.bold.red(s) };
}
