import { Args } from '@oclif/core';
import { BaseCommand } from '../../cli/base.js';
import { actionColumns, memberArg, targetEnsemble, targetFlags, type ActionRow } from '../../cli/ensemble.js';

export default class EnsembleKill extends BaseCommand<typeof EnsembleKill> {
  static override summary = 'Kill one member at once (SIGKILL): a crash, for failover drills.';
  static override description = `ID is the member id or "leader". The process gets no chance to close its connections: followers notice the leader is gone and elect a new one, clients of the killed member reconnect elsewhere. Watch it with \`zkctl ensemble status\`; bring the member back with \`zkctl ensemble start ID\`.`;
  static override examples = [
    '<%= config.bin %> <%= command.id %> leader',
    '<%= config.bin %> <%= command.id %> leader && sleep 1 && <%= config.bin %> ensemble status',
    '<%= config.bin %> <%= command.id %> 2 --name dev',
  ];
  static override args = { id: Args.string(memberArg) };
  static override flags = { ...targetFlags };

  async run(): Promise<ActionRow> {
    const e = targetEnsemble(this.flags, () => this.connection);
    const r = await e.kill(this.args.id);
    const row: ActionRow = { id: r.id, action: 'kill', result: r.wasRunning ? 'killed' : 'not-running', ms: r.ms };
    if (r.pid !== undefined) row.pid = r.pid;
    if (r.signal) row.signal = r.signal;
    if (!this.jsonEnabled()) this.printer.rows([row], actionColumns, row);
    return row;
  }
}
