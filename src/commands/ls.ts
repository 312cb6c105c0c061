import { Args, Flags } from '@oclif/core';
import { BaseCommand, pagerFlags } from '../cli/base.js';
import { Unreadable, boundHeapGrowth, checkPath, interruptSignal, windowFlag } from '../cli/znode.js';
import { walk } from '../core/tree.js';
import { RowStream, type ZnodeRow, znodeLongColumns, znodeLongJson, znodeWideColumns } from '../output/znode.js';

export default class Ls extends BaseCommand<typeof Ls> {
  static override summary = 'List the children of a znode.';
  static override description = `Children are sorted by name. With -R, the whole subtree is listed (full paths, the node itself first, depth-first), streamed as it is walked with up to --window requests in flight. With -l, a table with each node's stat: data version, data length, number of children, ephemeral owner session and modification time.

-o json writes an array of names (paths with -R), or with -l of objects: the path and the stat object of 'zkctl stat -o json' (same names: dataVersion, dataLength, numChildren, ephemeralOwner, mtime, ...); it is written as the walk goes.`;
  static override examples = [
    '<%= config.bin %> <%= command.id %> /',
    '<%= config.bin %> <%= command.id %> -l /app/config',
    '<%= config.bin %> <%= command.id %> -R /app | grep lock',
    '<%= config.bin %> <%= command.id %> -Rl /services -o json',
  ];
  static override args = { path: Args.string({ description: 'znode path', default: '/' }) };
  static override flags = {
    recursive: Flags.boolean({ char: 'R', summary: 'List the whole subtree (full paths).' }),
    long: Flags.boolean({ char: 'l', summary: 'Long listing: data version, data length, children, ephemeral owner, mtime.' }),
    window: windowFlag,
    ...pagerFlags,
  };

  async run(): Promise<void> {
    boundHeapGrowth();
    const path = checkPath(this.args.path);
    const { recursive, long } = this.flags;
    const session = await this.session();
    const intr = interruptSignal();
    this.onCleanup(intr.dispose);
    const unreadable = new Unreadable();
    const fmt = this.jsonEnabled() ? 'json' : this.outputFormat;
    // Names alone need no header: a table of one column is just the lines.
    const nameFmt = fmt === 'table' ? 'plain' : fmt;
    const out = new RowStream<ZnodeRow>({
      format: long ? fmt : nameFmt,
      color: this.colorEnabled,
      columns: long ? (this.wide ? znodeWideColumns : znodeLongColumns) : [{ header: recursive ? 'PATH' : 'NAME', key: 'name', get: (r) => r.name }],
      json: long ? znodeLongJson : (r) => r.name,
    });
    if (!recursive && !long) {
      // One request: the children names.
      const { children } = await session.getChildren(path);
      const names = new RowStream<string>({ format: nameFmt, color: false, columns: [{ header: 'NAME', key: 'name', get: (n) => n }] });
      for (const name of children.sort()) await names.push(name);
      await names.end();
      return;
    }
    const walker = walk(session, path, {
      depth: recursive ? undefined : 1,
      includeRoot: !!recursive,
      window: this.flags.window,
      signal: intr.signal,
      onError: unreadable.onError,
    });
    for await (const n of walker) await out.push({ path: n.path, name: recursive ? n.path : n.name, stat: n.stat });
    await out.end();
    unreadable.check();
  }
}
