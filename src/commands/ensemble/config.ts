import { BaseCommand } from '../../cli/base.js';
import { readDynamicConfig } from '../../core/config/dynamic.js';
import { configResult, type EnsembleConfigResult, memberColumns, resolveStatusTarget, targetFlags, targetInput } from '../../cli/ensemble.js';
import { describeMembers } from '../../ensemble/membership.js';
import { hostsOf } from '../../core/connect-string.js';

export default class EnsembleConfig extends BaseCommand<typeof EnsembleConfig> {
  static override summary = "Show the ensemble's dynamic configuration: members, roles, ports, version.";
  static override description = `Reads /zookeeper/config (after a sync) from the ensemble: each member's id, role (participant = voting, observer), client address, quorum and election ports, and the config version (the zxid of the reconfig that made it, in hex: give it to \`zkctl reconfig --from-version\`). MODE is what each member reports now (leader, follower, observer, down ...). Works for any ZooKeeper 3.5+ ensemble (-s / context); --name / --dir pick a local one.`;
  static override examples = ['<%= config.bin %> <%= command.id %>', '<%= config.bin %> <%= command.id %> -s zk1:2181 -o json', '<%= config.bin %> <%= command.id %> --name dev'];
  static override flags = { ...targetFlags };

  async run(): Promise<EnsembleConfigResult> {
    const c = this.connection;
    // /zookeeper/config lives at the real root: drop a chroot.
    let server = hostsOf(c.server);
    if (this.flags.name || this.flags.dir) {
      const t = resolveStatusTarget(targetInput(this.flags, c));
      if ('local' in t) server = t.local.connectString;
    }
    const session = await this.session({ connectString: server });
    const cfg = await readDynamicConfig(session);
    const members = await describeMembers(cfg, Math.min(2000, c.timeoutMs));
    const result = configResult(cfg.versionHex, members);
    if (!this.jsonEnabled()) {
      if (this.outputFormat === 'json' || this.outputFormat === 'yaml') this.printer.object(result as unknown as Record<string, unknown>);
      else {
        this.printer.rows(members, memberColumns);
        const line = `config version ${result.version}: ${result.participants} participant${result.participants === 1 ? '' : 's'}, ${result.observers} observer${result.observers === 1 ? '' : 's'}`;
        if (this.outputFormat === 'table') this.printer.text(line);
        else process.stderr.write(`${line}\n`);
      }
    }
    return result;
  }
}
