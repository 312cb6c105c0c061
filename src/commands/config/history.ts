import { Args } from '@oclif/core';
import { BaseCommand } from '../../cli/base.js';
import { countNodes } from '../../core/config/document.js';
import { countChanges, diffDocuments } from '../../core/config/diff.js';
import { checkConfigPath, configHistory, readConfig } from '../../core/recipes/config-publish.js';
import type { Column } from '../../output/index.js';
import { resultJson } from '../../output/config.js';

export interface HistoryRow {
  version: number;
  current: boolean;
  time: string;
  publisher: string;
  message?: string;
  rollbackOf?: number;
  /** Leaves (values) in the document. */
  keys: number;
  /** Changes from the previous kept version: "+added ~changed -removed". */
  changes?: string;
  /** Compressed size of the history entry. */
  bytes: number;
  sha256: string;
}

const columns: Column<HistoryRow>[] = [
  { header: 'VERSION', key: 'version', get: (r) => `${r.version}${r.current ? '*' : ''}`, align: 'right' },
  { header: 'TIME', key: 'time', get: (r) => r.time },
  { header: 'PUBLISHER', key: 'publisher', get: (r) => r.publisher },
  { header: 'KEYS', key: 'keys', get: (r) => r.keys, align: 'right' },
  { header: 'CHANGES', key: 'changes', get: (r) => r.changes },
  { header: 'MESSAGE', key: 'message', get: (r) => r.message },
];

export default class ConfigHistory extends BaseCommand<typeof ConfigHistory> {
  static override summary = 'List the kept versions of a published document (newest last).';
  static override description = `Each publish keeps its whole document, time, publisher and message in PATH/.zkctl-history (the last 10 by default: \`config publish --keep N\`). The current version is marked with *. CHANGES counts the keys added, changed and removed since the previous kept version. \`config get PATH --version N\` prints one of them, \`config rollback PATH --to N\` publishes it again.`;
  static override examples = ['<%= config.bin %> <%= command.id %> /config/myapp', '<%= config.bin %> <%= command.id %> /config/myapp -o json'];
  static override args = { path: Args.string({ required: true, description: 'path the document was published under' }) };

  protected override toSuccessJson(result: unknown): unknown {
    return result;
  }
  override logJson(json: unknown): void {
    process.stdout.write(`${resultJson(json)}\n`);
  }

  async run(): Promise<HistoryRow[]> {
    const path = checkConfigPath(this.args.path);
    const session = await this.session();
    const entries = await configHistory(session, path);
    const live = await readConfig(session, path);
    const rows: HistoryRow[] = entries.map((e, i) => {
      const prev = entries[i - 1];
      const row: HistoryRow = {
        version: e.version,
        current: e.version === live.version,
        time: e.time,
        publisher: e.publisher,
        keys: countNodes(e.document).leaves,
        bytes: e.bytes,
        sha256: e.sha256,
      };
      if (e.message !== undefined) row.message = e.message;
      if (e.rollbackOf !== undefined) row.rollbackOf = e.rollbackOf;
      if (prev && prev.version === e.version - 1) {
        const c = countChanges(diffDocuments(prev.document, e.document));
        row.changes = `+${c.added} ~${c.changed + c.reordered} -${c.removed}`;
      }
      return row;
    });
    if (rows.length === 0 && (this.outputFormat === 'table' || this.outputFormat === 'plain')) {
      process.stderr.write(`zkctl: no history at ${path}${live.version ? ` (version ${live.version}, published with --keep 0?)` : ' (never published)'}\n`);
    }
    if (!this.jsonEnabled()) this.printer.rows(rows, columns);
    return rows;
  }
}
