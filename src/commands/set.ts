import { Args } from '@oclif/core';
import { BaseCommand } from '../cli/base.js';
import { assertWritable, checkPath, chrootOf, fileFlag, versionFlag } from '../cli/znode.js';
import { assertRequestFits, parseVersion, readData } from '../core/data.js';
import { statJson } from '../output/znode.js';

export default class SetCmd extends BaseCommand<typeof SetCmd> {
  static override summary = "Set a znode's data (compare-and-set with -v).";
  static override description = `The data comes from the DATA argument (UTF-8), --file, or stdin (DATA "-"); none means empty.

With -v VERSION the write happens only if the node's data version is still VERSION (read it with \`zkctl stat\`); otherwise nothing is written and the exit code is 5. Prints nothing in pipes; on a terminal, the new version. -o json: {path, stat}.

Refused with exit 2 before anything is sent: a bad path, the /zookeeper subtree, a negative or non-numeric version, data larger than the server accepts (about 1 MB per request), an unreadable --file.`;
  static override examples = [
    '<%= config.bin %> <%= command.id %> /app/config \'{"pool": 20}\'',
    '<%= config.bin %> <%= command.id %> /app/config --file config.json -v 3',
    'cat blob.bin | <%= config.bin %> <%= command.id %> /app/blob -',
  ];
  static override args = {
    path: Args.string({ required: true, description: 'znode path' }),
    data: Args.string({ description: 'data (UTF-8); "-" reads stdin' }),
  };
  static override flags = { file: fileFlag, version: versionFlag };

  async run(): Promise<{ path: string; stat: Record<string, unknown> }> {
    const path = checkPath(this.args.path);
    const server = this.connection.server;
    assertWritable(path, server, 'set');
    const version = parseVersion(this.flags.version);
    const data = await readData({ arg: this.args.data, file: this.flags.file });
    assertRequestFits(`${chrootOf(server)}${path}`, data);
    const session = await this.session();
    const stat = await session.set(path, data, version ?? -1);
    const result = { path, stat: statJson(stat) };
    if (this.outputFormat === 'table') this.printer.text(`${path}: version ${stat.version}`);
    else if (this.outputFormat !== 'plain' && !this.jsonEnabled()) this.printer.object(result);
    return result;
  }
}
