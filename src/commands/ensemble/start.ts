import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../../cli/base.js';
import { parseDuration } from '../../core/duration.js';
import { actionColumns, memberArg, targetEnsemble, targetFlags, type ActionRow } from '../../cli/ensemble.js';

export default class EnsembleStart extends BaseCommand<typeof EnsembleStart> {
  static override summary = 'Start one stopped member and wait until it serves again.';
  static override description = `ID is the member id (or "leader", which only makes sense for a running ensemble). The member starts with its data and configuration as it left them, rejoins the quorum (as follower when a leader exists) and the command waits until it serves (--wait, default 60s; --detach does not wait). Starting a running member is not an error (result "already-running").`;
  static override examples = ['<%= config.bin %> <%= command.id %> 2', '<%= config.bin %> <%= command.id %> 3 --wait 30s', '<%= config.bin %> <%= command.id %> 1 --detach --name dev'];
  static override args = { id: Args.string(memberArg) };
  static override flags = {
    ...targetFlags,
    wait: Flags.string({ summary: 'How long to wait until the member serves.', default: '60s' }),
    detach: Flags.boolean({ summary: 'Do not wait for the member to serve.' }),
  };

  async run(): Promise<ActionRow> {
    const e = targetEnsemble(this.flags, () => this.connection);
    const r = await e.start(this.args.id, { wait: !this.flags.detach, timeoutMs: parseDuration(this.flags.wait, '--wait') });
    const row: ActionRow = { id: r.id, action: 'start', result: r.wasRunning ? 'already-running' : 'started', ms: r.ms };
    if (r.pid !== undefined) row.pid = r.pid;
    if (r.status) row.mode = r.status.mode;
    if (!this.jsonEnabled()) this.printer.rows([row], actionColumns, row);
    return row;
  }
}
