import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../../cli/base.js';
import { followMembers, type MembershipOutput, membershipOutput, printChange, targetEnsemble, targetFlags } from '../../cli/ensemble.js';
import { parseDuration } from '../../core/duration.js';
import { UsageError } from '../../core/errors.js';
import { removeMember } from '../../ensemble/membership.js';

export default class EnsembleRemove extends BaseCommand<typeof EnsembleRemove> {
  static override summary = 'Remove a member from a local ensemble (dynamic reconfig), then stop it.';
  static override description = `Removes member ID with reconfig (authenticated as the ensemble's super user, as a compare-and-set on the config version read), waits until the new configuration is committed, stops the member and waits until the remaining members serve the new configuration. Removing the highest id shrinks the ensemble (its directory is deleted); a lower id leaves a hole that the next \`ensemble add\` fills.

Refuses (exit 2, nothing changed) to remove the last voting member, or a member whose removal would leave fewer than a majority of the remaining voting members serving (e.g. removing a live member of three while another is down); exit 8 when there is no quorum now, 5 when another reconfig came first. Contexts pointing at the ensemble drop the member from their server list; \`ensemble status\`, \`up\` and \`down\` no longer count it as a member.`;
  static override examples = ['<%= config.bin %> <%= command.id %> 4', '<%= config.bin %> <%= command.id %> 2 --name dev -o json'];
  static override args = { id: Args.string({ required: true, description: 'member id' }) };
  static override flags = {
    ...targetFlags,
    wait: Flags.string({ summary: 'Deadline for the whole change.', default: '120s' }),
    grace: Flags.string({ summary: 'How long the removed member may take to exit after SIGTERM before SIGKILL.', default: '15s' }),
  };

  async run(): Promise<MembershipOutput> {
    if (!/^\d+$/.test(this.args.id)) throw new UsageError(`invalid member id '${this.args.id}'`, 'give the numeric id (see zkctl ensemble config)');
    const ens = targetEnsemble(this.flags, () => this.connection);
    const r = await removeMember(ens, Number(this.args.id), {
      timeoutMs: parseDuration(this.flags.wait, '--wait'),
      graceMs: parseDuration(this.flags.grace, '--grace', { zero: true }),
      requestTimeoutMs: this.connection.timeoutMs,
      onProgress: (m) => this.progress(m),
      onNote: (m) => process.stderr.write(`zkctl: ${m}\n`),
    }).finally(() => followMembers(ens.dir));
    printChange(this, r);
    return membershipOutput(r);
  }
}
