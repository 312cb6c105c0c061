import { Args } from '@oclif/core';
import { BaseCommand } from '../../cli/base.js';
import { contenderColumns, contenderRows, type ContenderRow } from '../../cli/contenders.js';
import { listContenders } from '../../core/recipes/contenders.js';

export default class LockLs extends BaseCommand<typeof LockLs> {
  static override summary = 'Show who holds a lock and who waits, in order.';
  static override description = `One row per contender node under PATH, the holder first, then the waiters in the order they will get the lock: node format (curator, kazoo, curator-latch, other), id (the node's data: Curator writes the holder's IP by default, kazoo and zkctl the --id), age, the owning session and, where the servers answer the 'cons' four-letter word, that session's client address.`;
  static override examples = ['<%= config.bin %> <%= command.id %> /locks/backup', '<%= config.bin %> <%= command.id %> /locks/backup -o json'];
  static override args = { path: Args.string({ required: true, description: 'lock path' }) };

  async run(): Promise<ContenderRow[]> {
    const session = await this.session();
    const list = await listContenders(session, this.args.path);
    const rows = await contenderRows(session, list, ['holder', 'waiter']);
    this.printer.rows(rows, contenderColumns);
    return rows;
  }
}
