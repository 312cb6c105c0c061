import { Args, Flags } from '@oclif/core';
import { BaseCommand, pagerFlags } from '../cli/base.js';
import { Unreadable, checkPath, interruptSignal, windowFlag } from '../cli/znode.js';
import { duTree, type DuRow } from '../core/tree.js';
import { duColumnsFor } from '../output/znode.js';

export default class Du extends BaseCommand<typeof Du> {
  static override summary = 'Data bytes and node counts per subtree, largest first.';
  static override description = `For PATH and each subtree down to --depth levels below it (default 1: PATH's children), the sum of the data lengths and the number of nodes, sorted by bytes (then nodes), largest first. PATH's own row is the total. The walk reads stats only (no data) and is pipelined (--window).

Plain output: BYTES<TAB>NODES<TAB>PATH. Nodes this session may not read are skipped (stderr note, exit 7).`;
  static override examples = ['<%= config.bin %> <%= command.id %> /', '<%= config.bin %> <%= command.id %> /app --depth 2', '<%= config.bin %> <%= command.id %> /app -o json'];
  static override args = { path: Args.string({ description: 'znode path', default: '/' }) };
  static override flags = {
    depth: Flags.integer({ char: 'd', summary: 'Report subtrees down to this many levels below PATH.', default: 1, min: 0 }),
    window: windowFlag,
    ...pagerFlags,
  };

  async run(): Promise<DuRow[]> {
    const path = checkPath(this.args.path);
    const session = await this.session();
    const intr = interruptSignal();
    this.onCleanup(intr.dispose);
    const unreadable = new Unreadable();
    const rows = await duTree(session, path, { depth: this.flags.depth, window: this.flags.window, signal: intr.signal, onError: unreadable.onError });
    if (!this.jsonEnabled()) {
      this.printer.rows(rows, duColumnsFor(this.outputFormat));
    }
    unreadable.check();
    return rows;
  }
}
