/**
 * The shell's printers: the one-shot commands' own (src/output), so that `ls -l`, `stat`, `tree`,
 * `du`, `ephemerals`, `whoami` look the same in `zkctl shell` as on the command line, and the
 * shell's colours (prompt, errors, notes).
 */
import type { ShellStyle, ShellView } from './index.js';
import { type OutputFormat, Printer } from '../../output/index.js';
import { loadChalk } from '../../output/color.js';
import { RowStream, type ZnodeRow, duColumnsFor, ephemeralColumns, idColumns, statFields, terminalData, treeLine, znodeLongColumns } from '../../output/znode.js';

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
  };
}

/** Prompt bold blue, errors red, notes yellow, the [disconnected] mark red and bold: only with colour. */
export async function shellStyle(color: boolean): Promise<ShellStyle | undefined> {
  if (!color) return undefined;
  const chalk = await loadChalk();
  return { prompt: (s) => chalk.bold.blue(s), error: (s) => chalk.red(s), note: (s) => chalk.yellow(s), mark: (s) => chalk.bold.red(s) };
}
