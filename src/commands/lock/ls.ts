import { Args } from '@oclif/core';
import { BaseCommand } from '../../cli/base.js';
import { contenderRows, type ContenderRow, lockColumns } from '../../cli/contenders.js';
import { listContenders } from '../../core/recipes/contenders.js';

export default class LockLs extends BaseCommand<typeof LockLs> {
  static override summary = 'Show who holds a lock and who waits, in order.';
  static override description = `One row per contender node under PATH, in queue order: the holder first (with read-write locks, every reader with no writer ahead of it holds too; roles are what the queue says, a client may still be about to notice), then the waiters in the order they will get the lock: role (holder or waiter), mode (read: a shared read-lock node, Curator __READ__ or kazoo __rlock__; write: an exclusive node, write lock or plain mutex), node format (curator, kazoo, curator-latch, other), id (the node's data: Curator writes the holder's IP by default, kazoo and zkctl the --id), age, the owning session and, where the servers answer the 'cons' four-letter word, that session's client address.`;
  static override examples = ['<%= config.bin %> <%= command.id %> /locks/backup', '<%= config.bin %> <%= command.id %> /locks/backup -o json'];
  static override args = { path: Args.string({ required: true, description: 'lock path' }) };

  async run(): Promise<ContenderRow[]> {
    const session = await this.session();
    const list = await listContenders(session, this.args.path);
    const rows = await contenderRows(session, list, ['holder', 'waiter'], true);
    this.printer.rows(rows, lockColumns);
    return rows;
  }
}
