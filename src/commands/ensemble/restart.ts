import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../../cli/base.js';
import { parseDuration } from '../../core/duration.js';
import { actionColumns, memberArg, targetEnsemble, targetFlags, type ActionRow } from '../../cli/ensemble.js';

export default class EnsembleRestart extends BaseCommand<typeof EnsembleRestart> {
  static override summary = 'Restart one member (graceful stop, start) and wait until it serves.';
  static override description = `ID is the member id or "leader" (restarting the leader forces an election). Stop is SIGTERM, then SIGKILL after --grace; the command then waits until the member serves again (--wait).`;
  static override examples = ['<%= config.bin %> <%= command.id %> leader', '<%= config.bin %> <%= command.id %> 2 --wait 30s', '<%= config.bin %> <%= command.id %> 1 --name dev -o json'];
  static override args = { id: Args.string(memberArg) };
  static override flags = {
    ...targetFlags,
    grace: Flags.string({ summary: 'How long to wait for the member to exit after SIGTERM before SIGKILL.', default: '15s' }),
    wait: Flags.string({ summary: 'How long to wait until the member serves again.', default: '60s' }),
  };

  async run(): Promise<ActionRow> {
    const e = targetEnsemble(this.flags, () => this.connection);
    const id = await e.resolveMember(this.args.id);
    const stopped = await e.stop(id, { timeoutMs: parseDuration(this.flags.grace, '--grace', { zero: true }) });
    const started = await e.start(id, { timeoutMs: parseDuration(this.flags.wait, '--wait') });
    const row: ActionRow = { id, action: 'restart', result: stopped.wasRunning ? 'restarted' : 'started', ms: stopped.ms + started.ms };
    if (started.pid !== undefined) row.pid = started.pid;
    if (stopped.signal) row.signal = stopped.signal;
    if (started.status) row.mode = started.status.mode;
    if (!this.jsonEnabled()) this.printer.rows([row], actionColumns, row);
    return row;
  }
}
