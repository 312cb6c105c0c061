import { Args } from '@oclif/core';
import { BaseCommand } from '../cli/base.js';
import { checkPath } from '../cli/znode.js';

export default class Count extends BaseCommand<typeof Count> {
  static override summary = 'Number of nodes under a znode (server-side count).';
  static override description = `One request (getAllChildrenNumber, ZooKeeper 3.6+): the number of all descendants of PATH, not counting PATH itself. Prints the number; -o json: {path, count}.`;
  static override examples = ['<%= config.bin %> <%= command.id %> /app'];
  static override args = { path: Args.string({ description: 'znode path', default: '/' }) };

  async run(): Promise<{ path: string; count: number }> {
    const path = checkPath(this.args.path);
    const session = await this.session();
    const count = await session.getAllChildrenNumber(path);
    const result = { path, count };
    if (!this.jsonEnabled()) this.printer.text(String(count), result);
    return result;
  }
}
