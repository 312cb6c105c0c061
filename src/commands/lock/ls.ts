import { Args } from '@oclif/core';
import { BaseCommand } from '../../cli/base.js';
import { contenderRows, type ContenderRow, lockColumns, wideColumns } from '../../cli/contenders.js';
import { listContenders } from '../../core/recipes/contenders.js';

export default class LockLs extends BaseCommand<typeof LockLs> {
  static override summary = 'Show who holds a lock and who waits, in order.';
  static override description = `One row per contender node under PATH, in queue order: the holder first (with read-write locks, every reader with no writer ahead of it holds too; roles are what the queue says, a client may still be about to notice), then the waiters in the order they will get the lock: role (holder or waiter), mode, named as ZKCTL_LOCK_MODE (exclusive: a plain mutex node, Curator InterProcessMutex -lock- or kazoo Lock __lock__, which kazoo's WriteLock also writes; read: Curator __READ__ or kazoo __rlock__; write: Curator InterProcessReadWriteLock __WRIT__), node format (curator, kazoo, curator-latch, other), id (the node's data: Curator writes the holder's IP by default, kazoo and zkctl the --id), age, the owning session and, where the servers answer the 'cons' four-letter word, that session's client address. A lock nobody holds or waits for: "PATH: not held" on a terminal, nothing in plain output, [] with -o json; exit 0.`;
  static override examples = ['<%= config.bin %> <%= command.id %> /locks/backup', '<%= config.bin %> <%= command.id %> /locks/backup -o json'];
  static override args = { path: Args.string({ required: true, description: 'lock path' }) };

  async run(): Promise<ContenderRow[]> {
    const session = await this.session();
    const list = await listContenders(session, this.args.path);
    const rows = await contenderRows(session, list, ['holder', 'waiter'], true);
    if (rows.length === 0 && this.outputFormat === 'table') this.printer.text(`${this.args.path}: not held (nobody holds or waits)`);
    else this.printer.rows(rows, this.wide ? wideColumns(lockColumns) : lockColumns);
    return rows;
  }
}
