import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../../cli/base.js';
import { type RevokeRequest, revokeLock } from '../../core/recipes/revoke.js';
import type { Column } from '../../output/index.js';

const columns: Column<RevokeRequest>[] = [
  { header: 'NODE', key: 'node', get: (r) => r.node },
  { header: 'ROLE', key: 'role', get: (r) => (r.holder ? 'holder' : 'waiter') },
  { header: 'ID', key: 'id', get: (r) => r.id },
  { header: 'SESSION', key: 'session', get: (r) => r.session },
  { header: 'NOTE', key: 'note', get: (r) => (r.alreadyRequested ? 'already asked before' : '') },
];

export default class LockRevoke extends BaseCommand<typeof LockRevoke> {
  static override summary = 'Ask the holder of a lock to release it (Curator revocation: the node data is set to __REVOKE__).';
  static override description = `Sets the data of the holder's lock node (or of the contender --node) to the bytes __REVOKE__, exactly as Curator's Revoker.attemptRevoke does. A holder that asked for revocation (Curator: InterProcessMutex.makeRevocable; zkctl: lock --revocable) then releases: a zkctl holder stops its CMD (SIGTERM, SIGKILL --grace later) and exits 11. Others ignore the request and keep the lock; their node's id then reads __REVOKE__ in 'zkctl lock ls'. This is a request, not a forced release: to take a lock from an unwilling holder, delete its node (zkctl rm), which breaks its mutual exclusion guarantees.

Prints one row per node asked: node, role (holder, or waiter for a --node that does not hold), the id the node carried, the owning session. With a read-write lock, every reader that holds is asked. Exit 3 when the lock has no holder or --node is not a contender of PATH.`;
  static override examples = [
    '<%= config.bin %> <%= command.id %> /locks/batch',
    '<%= config.bin %> <%= command.id %> /locks/batch --node _c_0f1e2d3c-4b5a-4697-8877-665544332211-lock-0000000007',
    '<%= config.bin %> <%= command.id %> /locks/batch -o json',
  ];
  static override args = { path: Args.string({ required: true, description: 'lock path, e.g. /locks/batch' }) };
  static override flags = {
    node: Flags.string({ summary: 'Ask this contender node (name, or full path under PATH) instead of the current holder.' }),
  };

  async run(): Promise<RevokeRequest[]> {
    const session = await this.session();
    const asked = await revokeLock(session, this.args.path, { node: this.flags.node });
    this.printer.rows(asked, columns);
    return asked;
  }
}
