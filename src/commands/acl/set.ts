import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../../cli/base.js';
import { assertWritable, checkPath, chrootOf, interruptSignal, versionFlag, windowFlag } from '../../cli/znode.js';
import { aclForJson, parseAcls, setAclTree } from '../../core/acl.js';
import { parseVersion } from '../../core/data.js';
import { UsageError } from '../../core/errors.js';
import { isReserved } from '../../core/paths.js';

export default class AclSet extends BaseCommand<typeof AclSet> {
  static override summary = "Replace a znode's ACL.";
  static override description = `ACL...: one or more scheme:id:perms (separate arguments or comma-separated), perms from cdrwa:
  world:anyone:r                 everyone
  ip:10.0.0.0/8:cdrwa            an address or CIDR range
  digest:user:BASE64SHA1:cdrwa   a digest user, hashed as zkCli shows it
  digest-password:user:pw:cdrwa  the same, hashed here from the password
  auth::cdrwa                    the identities of this session (--auth)
  sasl:principal:r, x509:CN=...:r
BASE64SHA1 is base64(sha1("user:password")).

-v VERSION: only if the ACL version (aclVersion in \`zkctl stat\`) is VERSION, else exit 5. -R applies the ACL to the whole subtree (pipelined, --window; not with -v; the /zookeeper subtree is left alone) and prints how many nodes were changed. Changing an ACL needs the admin (a) permission; keep one for yourself.

Refused with exit 2 before anything is sent: a malformed ACL, a negative or non-numeric version, the /zookeeper subtree.`;
  static override examples = [
    '<%= config.bin %> <%= command.id %> /app world:anyone:r digest-password:ops:secret:cdrwa',
    '<%= config.bin %> <%= command.id %> /app "world:anyone:r,auth::cdrwa" --auth digest:ops:secret',
    '<%= config.bin %> <%= command.id %> -R /app world:anyone:cdrwa',
    '<%= config.bin %> <%= command.id %> /app ip:127.0.0.1:cdrwa -v 0',
  ];
  static override strict = false;
  static override args = {
    path: Args.string({ required: true, description: 'znode path' }),
    acl: Args.string({ required: true, description: 'ACL entries: scheme:id:perms ...' }),
  };
  static override flags = {
    recursive: Flags.boolean({ char: 'R', summary: 'Apply to the whole subtree.' }),
    version: versionFlag,
    window: windowFlag,
  };

  async run(): Promise<{ path: string; acl: Array<{ scheme: string; id: string; perms: string }>; updated: number; aclVersion?: number }> {
    const { argv } = await this.parse(AclSet);
    const path = checkPath(this.args.path);
    const server = this.connection.server;
    assertWritable(path, server, 'change the ACL of');
    const version = parseVersion(this.flags.version);
    if (this.flags.recursive && version !== undefined) throw new UsageError('-v and -R cannot be combined', 'check the version of the top node separately');
    const specs = (argv as string[]).slice(1);
    if (specs.length === 0) throw new UsageError('no ACL given', 'e.g. world:anyone:r');
    const acl = parseAcls(specs);
    const session = await this.session();
    let updated = 1;
    let aclVersion: number | undefined;
    if (this.flags.recursive) {
      const intr = interruptSignal();
      this.onCleanup(intr.dispose);
      const guard = chrootOf(server) === '';
      updated = await setAclTree(session, path, acl, { window: this.flags.window, signal: intr.signal, prune: guard ? isReserved : undefined });
    } else {
      aclVersion = (await session.setACL(path, acl, version ?? -1)).aversion;
    }
    const result = { path, acl: acl.map(aclForJson), updated, ...(aclVersion !== undefined ? { aclVersion } : {}) };
    if (this.jsonEnabled()) return result;
    if (this.outputFormat === 'json' || this.outputFormat === 'yaml') this.printer.object(result);
    else if (this.flags.recursive) this.printer.text(`updated the ACL of ${updated} ${updated === 1 ? 'node' : 'nodes'} (${path})`);
    else if (this.outputFormat === 'table') this.printer.text(`${path}: aclVersion ${aclVersion}`);
    return result;
  }
}
