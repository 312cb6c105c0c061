import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../cli/base.js';
import { assertWritable, checkPath, chrootOf, fileFlag, versionFlag } from '../cli/znode.js';
import { assertRequestFits, parseVersion, readData } from '../core/data.js';
import { UsageError } from '../core/errors.js';
import { statJson } from '../output/znode.js';

export default class SetCmd extends BaseCommand<typeof SetCmd> {
  static override summary = "Set a znode's data (compare-and-set with -v).";
  static override description = `The data comes from the DATA argument (UTF-8), --file F, or stdin (DATA "-" or --file -); stdin is read only then. Data is required: to empty a node, give '' or --empty (no data at all is exit 2, so a forgotten argument never empties a node).

With -v VERSION the write happens only if the node's data version is still VERSION (read it with \`zkctl stat\`); otherwise nothing is written and the exit code is 5. Prints nothing in pipes; on a terminal, the new version. -o json: {path, stat}.

Refused with exit 2 before anything is sent: a bad path, the /zookeeper subtree, a negative or non-numeric version, data larger than the server accepts (about 1 MB per request), an unreadable --file.`;
  static override examples = [
    '<%= config.bin %> <%= command.id %> /app/config \'{"pool": 20}\'',
    '<%= config.bin %> <%= command.id %> /app/config --file config.json -v 3',
    'cat blob.bin | <%= config.bin %> <%= command.id %> /app/blob -',
    '<%= config.bin %> <%= command.id %> /app/flag --empty',
  ];
  static override args = {
    path: Args.string({ required: true, description: 'znode path' }),
    data: Args.string({ description: 'data (UTF-8); "-" reads stdin' }),
  };
  static override flags = {
    file: fileFlag,
    version: versionFlag,
    empty: Flags.boolean({ summary: "Set empty data (the same as DATA '')." }),
  };

  async run(): Promise<{ path: string; stat: Record<string, unknown> }> {
    const path = checkPath(this.args.path);
    const server = this.connection.server;
    assertWritable(path, server, 'set');
    const version = parseVersion(this.flags.version);
    if (this.flags.empty && (this.args.data !== undefined || this.flags.file !== undefined)) throw new UsageError('--empty and data given', "give either data or --empty");
    if (!this.flags.empty && this.args.data === undefined && this.flags.file === undefined) {
      throw new UsageError('no data given', `give DATA, '' or --empty to empty the node, --file F, or - to read stdin: zkctl set ${path} VALUE`);
    }
    const data = this.flags.empty ? Buffer.alloc(0) : await readData({ arg: this.args.data, file: this.flags.file });
    assertRequestFits(`${chrootOf(server)}${path}`, data);
    const session = await this.session();
    const stat = await session.set(path, data, version ?? -1);
    const result = { path, stat: statJson(stat) };
    if (this.outputFormat === 'table') this.printer.text(`${path}: version ${stat.version}`);
    else if (this.outputFormat !== 'plain' && !this.jsonEnabled()) this.printer.object(result);
    return result;
  }
}
