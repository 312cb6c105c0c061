import { Args } from '@oclif/core';
import { BaseCommand } from '../../cli/base.js';
import { checkPath } from '../../cli/znode.js';
import { aclForJson, formatAcl, formatPerms } from '../../core/acl.js';
import type { ACL } from '../../core/session.js';
import type { Column } from '../../output/index.js';

const columns: Column<ACL>[] = [
  { header: 'SCHEME', key: 'scheme', get: (a) => a.id.scheme },
  { header: 'ID', key: 'id', get: (a) => a.id.id },
  { header: 'PERMS', key: 'perms', get: (a) => formatPerms(a.perms) },
];

export default class AclGet extends BaseCommand<typeof AclGet> {
  static override summary = "Print a znode's ACL.";
  static override description = `Plain output: one scheme:id:perms per line, the form \`zkctl acl set\` and \`create --acl\` take (perms letters: c create, d delete, r read, w write, a admin). -o json: {path, aclVersion, acl: [{scheme, id, perms}]}.`;
  static override examples = ['<%= config.bin %> <%= command.id %> /app', '<%= config.bin %> <%= command.id %> /app -o json'];
  static override args = { path: Args.string({ required: true, description: 'znode path' }) };

  async run(): Promise<{ path: string; aclVersion: number; acl: Array<{ scheme: string; id: string; perms: string }> }> {
    const path = checkPath(this.args.path);
    const session = await this.session();
    const { acl, stat } = await session.getACL(path);
    const result = { path, aclVersion: stat.aversion, acl: acl.map(aclForJson) };
    if (this.jsonEnabled()) return result;
    if (this.outputFormat === 'json' || this.outputFormat === 'yaml') this.printer.object(result);
    else if (this.outputFormat === 'plain') this.printer.text(acl.map(formatAcl).join('\n'));
    else this.printer.rows(acl, columns);
    return result;
  }
}
