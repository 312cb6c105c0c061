import { Flags } from '@oclif/core';
import { BaseCommand } from '../../cli/base.js';
import { parseDuration } from '../../core/duration.js';
import { followMembers, membershipOutput, type MembershipOutput, printChange, targetEnsemble, targetFlags } from '../../cli/ensemble.js';
import { addMember } from '../../ensemble/membership.js';

export default class EnsembleAdd extends BaseCommand<typeof EnsembleAdd> {
  static override summary = 'Grow a local ensemble by one member (dynamic reconfig).';
  static override description = `Starts a new member with the next id (the lowest id a removed member left free, else one above the highest) and the next ports (client base+id-1, quorum +10000, election +20000), its files rendered like the other members' (same tick time, limits, super digest). It first joins as a non-voting member that syncs with the leader (its initial configuration is the committed one plus itself as an observer), then is added with reconfig as a participant (or --observer), authenticated as the ensemble's super user (password in super.secret in the ensemble dir), as a compare-and-set on the config version read.

Waits until the new configuration is committed, every running member serves it and the new member votes (or observes), then prints the membership. Refuses (exit 8) when the ensemble has no quorum now; if the new member cannot start or the reconfig fails, it is stopped and its files removed. Exit 5 when another reconfig changed the configuration meanwhile. An add that was killed before it finished is finished by the next \`ensemble add/remove/sync/up\`: kept when ZooKeeper committed it, else its member is stopped and its files removed (the id is reused), and that is said on stderr. Contexts pointing at the ensemble (set by \`ensemble up\`) get the new member in their server list.`;
  static override examples = ['<%= config.bin %> <%= command.id %>', '<%= config.bin %> <%= command.id %> --observer', '<%= config.bin %> <%= command.id %> --name dev --wait 3m -o json'];
  static override flags = {
    ...targetFlags,
    observer: Flags.boolean({ summary: 'Add an observer (serves reads and forwards writes, no vote).' }),
    wait: Flags.string({ summary: 'Deadline for the whole change (start, sync, reconfig, commit).', default: '120s' }),
  };

  async run(): Promise<MembershipOutput> {
    const ens = targetEnsemble(this.flags, () => this.connection);
    const timeoutMs = parseDuration(this.flags.wait, '--wait');
    const r = await addMember(ens, {
      observer: this.flags.observer,
      timeoutMs,
      requestTimeoutMs: this.connection.timeoutMs,
      onProgress: (m) => this.progress(m),
      onNote: (m) => process.stderr.write(`zkctl: ${m}\n`),
    }).finally(() => followMembers(ens.dir));
    printChange(this, r);
    return membershipOutput(r);
  }
}
