import { BaseCommand } from '../cli/base.js';
import type { Id } from '../core/session.js';
import { idColumns as columns } from '../output/znode.js';

export default class Whoami extends BaseCommand<typeof Whoami> {
  static override summary = 'The identities the server gives this session.';
  static override description = `Asks the server (whoAmI, ZooKeeper 3.7+) which identities it associates with the session: usually ip:<your address>, plus digest:<user> with --auth digest:user:password, or super. Plain output: scheme<TAB>id per line.`;
  static override examples = ['<%= config.bin %> <%= command.id %>', '<%= config.bin %> <%= command.id %> --auth digest:ops:secret'];

  async run(): Promise<Id[]> {
    const session = await this.session();
    const ids = await session.whoAmI();
    if (!this.jsonEnabled()) this.printer.rows(ids, columns);
    return ids;
  }
}
