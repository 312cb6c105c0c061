import { Args, Flags } from '@oclif/core';
import { BaseCommand, pagerFlags } from '../cli/base.js';
import { Unreadable, boundHeapGrowth, checkPath, interruptSignal, windowFlag } from '../cli/znode.js';
import { type NodeInfo, walk } from '../core/tree.js';
import { loadChalk } from '../output/color.js';
import { RowStream, hex, treeLine, writeOut } from '../output/znode.js';

export default class Tree extends BaseCommand<typeof Tree> {
  static override summary = 'Draw a subtree.';
  static override description = `Depth-first, children sorted by name, drawn with box characters and streamed as the walk goes (up to --window requests in flight). Ephemeral nodes are marked with their owner session. Nodes at the --depth limit that have children show how many. --sizes adds each node's data size and number of children.

-o json / yaml: one record per node {path, depth, dataLength, numChildren, ephemeralOwner}, in the same order.`;
  static override examples = [
    '<%= config.bin %> <%= command.id %> /app',
    '<%= config.bin %> <%= command.id %> / --depth 2',
    '<%= config.bin %> <%= command.id %> /services --sizes',
  ];
  static override args = { path: Args.string({ description: 'znode path', default: '/' }) };
  static override flags = {
    depth: Flags.integer({ char: 'd', summary: 'Levels below PATH to show.', min: 0 }),
    sizes: Flags.boolean({ summary: 'Show data sizes and child counts.' }),
    window: windowFlag,
    ...pagerFlags,
  };

  async run(): Promise<void> {
    boundHeapGrowth();
    const path = checkPath(this.args.path);
    const session = await this.session();
    const intr = interruptSignal();
    this.onCleanup(intr.dispose);
    const unreadable = new Unreadable();
    const walker = walk(session, path, { depth: this.flags.depth, window: this.flags.window, signal: intr.signal, onError: unreadable.onError });
    const fmt = this.jsonEnabled() ? 'json' : this.outputFormat;
    if (fmt === 'json' || fmt === 'yaml') {
      const out = new RowStream<NodeInfo>({
        format: fmt,
        color: false,
        columns: [],
        json: (n) => ({
          path: n.path,
          depth: n.depth,
          dataLength: n.stat.dataLength,
          numChildren: n.stat.numChildren,
          ephemeralOwner: hex(n.stat.ephemeralOwner),
        }),
      });
      for await (const n of walker) await out.push(n);
      await out.end();
    } else {
      const color = this.colorEnabled;
      if (color) await loadChalk();
      const lastAt: boolean[] = [];
      for await (const n of walker) {
        lastAt[n.depth] = n.last;
        await writeOut(treeLine(n, lastAt, { color, sizes: this.flags.sizes }));
      }
    }
    unreadable.check();
  }
}
