import { Args } from '@oclif/core';
import { BaseCommand } from '../cli/base.js';
import { checkPath } from '../cli/znode.js';

export default class Sync extends BaseCommand<typeof Sync> {
  static override summary = 'Make the connected server catch up with the leader.';
  static override description = `Sends sync(PATH): the server this session is connected to applies every write the leader committed before answering. A later zkctl command opens a new session, possibly on another server; to read fresh data right after, give one server with --server. Prints the server that synced on a terminal; -o json: {path, server}.`;
  static override examples = ['<%= config.bin %> <%= command.id %> /app', '<%= config.bin %> <%= command.id %> / -s zk2:2181'];
  static override args = { path: Args.string({ description: 'znode path', default: '/' }) };

  async run(): Promise<{ path: string; server?: string }> {
    const path = checkPath(this.args.path);
    const session = await this.session();
    await session.sync(path);
    const result = { path, server: session.server };
    if (this.jsonEnabled()) return result;
    if (this.outputFormat === 'table') this.printer.text(`synced ${path} on ${session.server}`);
    else if (this.outputFormat !== 'plain') this.printer.object(result);
    return result;
  }
}
