import { Args } from '@oclif/core';
import { BaseCommand } from '../cli/base.js';
import { checkPath } from '../cli/znode.js';
import { statFields, statJson } from '../output/znode.js';

export default class StatCmd extends BaseCommand<typeof StatCmd> {
  static override summary = "Print a znode's stat.";
  static override description = `Plain and table output follow zkCli.sh's layout ("cZxid = 0x..."), times in the local zone like Java's Date. JSON/YAML: the same names; zxids and ephemeralOwner as hex strings, ctime/mtime as epoch ms plus ISO 8601 (ctimeIso, mtimeIso), and the path. Every command's JSON uses these names for these fields (ls -l and find -l print this object per node; get, create and set under "stat"; tree, ephemerals, lock ls, elect ls and watch the fields they carry).`;
  static override examples = ['<%= config.bin %> <%= command.id %> /app/config', '<%= config.bin %> <%= command.id %> /app/config -o json'];
  static override args = { path: Args.string({ required: true, description: 'znode path' }) };

  async run(): Promise<Record<string, unknown>> {
    const path = checkPath(this.args.path);
    const session = await this.session();
    const stat = await session.exists(path);
    if (!stat) throw await session.noNode(path);
    const result = { path, ...statJson(stat) };
    if (!this.jsonEnabled()) this.printer.object(result, { sep: '=', fields: statFields(stat) });
    return result;
  }
}
