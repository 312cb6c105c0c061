import chalk from 'chalk';
import { BaseCommand } from '../../cli/base.js';
import { configPath, loadConfig } from '../../cli/context.js';
import { list } from '../../ensemble/index.js';
import type { Column } from '../../output/index.js';

export interface LsRow {
  name: string;
  running: number;
  size: number;
  connectString: string;
  dir: string;
  /** The current context points at it. */
  current: boolean;
  /** Running members that do not answer (paused). */
  notAnswering: number;
  /** Why its ensemble.json cannot be read (listed from its member files). */
  broken?: string;
}

/** One word or two for what is wrong, if anything: "broken", "1 not-answering". */
function stateText(r: LsRow): string {
  const parts: string[] = [];
  if (r.broken !== undefined) parts.push('broken (ensemble.json unreadable)');
  if (r.notAnswering > 0) parts.push(`${r.notAnswering} not-answering`);
  return parts.join(', ');
}

const columns: Column<LsRow>[] = [
  { header: 'CURRENT', key: 'current', get: (r) => (r.current ? '*' : '') },
  { header: 'NAME', key: 'name', get: (r) => r.name },
  {
    header: 'RUNNING',
    key: 'running',
    get: (r) => `${r.running}/${r.size}`,
    align: 'right',
    style: (t, r) => (r.running === 0 ? chalk.dim(t) : r.running <= r.size / 2 ? chalk.red(t) : r.running < r.size ? chalk.yellow(t) : chalk.green(t)),
  },
  { header: 'SERVER', key: 'connectString', get: (r) => r.connectString },
  { header: 'DIR', key: 'dir', get: (r) => r.dir },
  { header: 'STATE', key: 'state', get: (r) => stateText(r), style: (t) => (t ? chalk.yellow(t) : t) },
];

export default class EnsembleLs extends BaseCommand<typeof EnsembleLs> {
  static override summary = 'List the local ensembles this machine knows, with how many members run.';
  static override description = `Ensembles under $XDG_STATE_HOME/zkctl/ensembles (default ~/.local/state/zkctl/ensembles) and those started with --dir elsewhere. RUNNING counts live member processes (pid files are checked against the process table and the process start time, so stale ones count as down; a member running without its pid file is found by its command line). STATE says "N not-answering" for members whose process runs but is paused (SIGSTOP), as \`ensemble status\` does, and "broken" for an ensemble whose ensemble.json cannot be read (\`ensemble down --dir DIR\` still stops it).`;
  static override examples = ['<%= config.bin %> <%= command.id %>', '<%= config.bin %> <%= command.id %> -o json', "<%= config.bin %> <%= command.id %> -o plain | cut -f2"];

  async run(): Promise<LsRow[]> {
    const cfg = loadConfig(configPath());
    const cur = cfg['current-context'] ? cfg.contexts[cfg['current-context']]?.['ensemble-dir'] : undefined;
    const rows: LsRow[] = list().map((s) => ({
      name: s.name,
      running: s.running,
      size: s.size,
      connectString: s.connectString,
      dir: s.dir,
      current: s.dir === cur,
      notAnswering: s.notAnswering,
      ...(s.broken !== undefined ? { broken: s.broken } : {}),
    }));
    if (rows.length === 0) this.progress('no local ensembles (start one with `zkctl ensemble up`)');
    if (!this.jsonEnabled()) this.printer.rows(rows, columns);
    return rows;
  }
}
