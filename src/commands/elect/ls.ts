import { Args } from '@oclif/core';
import { BaseCommand } from '../../cli/base.js';
import { contenderColumns, contenderRows, type ContenderRow, wideColumns } from '../../cli/contenders.js';
import { listContenders } from '../../core/recipes/contenders.js';

export default class ElectLs extends BaseCommand<typeof ElectLs> {
  static override summary = 'Show the current leader and the candidates in order.';
  static override description = `One row per candidate node under PATH, the leader first, then the candidates in the order they would take over: node format (curator-latch, curator, kazoo, other), id (the node's data), age, owning session and, where the servers answer the 'cons' four-letter word, its client address.`;
  static override examples = ['<%= config.bin %> <%= command.id %> /election/scheduler', '<%= config.bin %> <%= command.id %> /election/scheduler -o json'];
  static override args = { path: Args.string({ required: true, description: 'election path' }) };

  async run(): Promise<ContenderRow[]> {
    const session = await this.session();
    const rows = await contenderRows(session, await listContenders(session, this.args.path), ['leader', 'candidate']);
    this.printer.rows(rows, this.wide ? wideColumns(contenderColumns) : contenderColumns);
    return rows;
  }
}
