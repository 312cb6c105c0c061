import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../../cli/base.js';
import { parseDuration } from '../../core/duration.js';
import { actionColumns, memberArg, targetEnsemble, targetFlags, type ActionRow } from '../../cli/ensemble.js';

export default class EnsembleStop extends BaseCommand<typeof EnsembleStop> {
  static override summary = 'Stop one member gracefully (SIGTERM, then SIGKILL after --grace).';
  static override description = `ID is the member id or "leader" (asked of the members). Stopping a member that is not running is not an error (result "not-running"). The other members keep serving while a quorum remains; \`ensemble start ID\` brings it back with its data.`;
  static override examples = [
    '<%= config.bin %> <%= command.id %> 2',
    '<%= config.bin %> <%= command.id %> leader',
    '<%= config.bin %> <%= command.id %> 3 --name dev --grace 5s',
  ];
  static override args = { id: Args.string(memberArg) };
  static override flags = {
    ...targetFlags,
    grace: Flags.string({ summary: 'How long to wait for the member to exit after SIGTERM before SIGKILL.', default: '15s' }),
  };

  async run(): Promise<ActionRow> {
    const e = targetEnsemble(this.flags, () => this.connection);
    const r = await e.stop(this.args.id, { timeoutMs: parseDuration(this.flags.grace, '--grace', { zero: true }) });
    const row: ActionRow = { id: r.id, action: 'stop', result: r.wasRunning ? 'stopped' : 'not-running', ms: r.ms };
    if (r.pid !== undefined) row.pid = r.pid;
    if (r.signal) row.signal = r.signal;
    if (!this.jsonEnabled()) this.printer.rows([row], actionColumns, row);
    return row;
  }
}
