import { Args, Flags } from '@oclif/core';
import { BaseCommand, pagerFlags } from '../cli/base.js';
import { Unreadable, boundHeapGrowth, checkPath, interruptSignal, windowFlag } from '../cli/znode.js';
import { parseSize } from '../core/data.js';
import { UsageError } from '../core/errors.js';
import { globToRegExp, walk } from '../core/tree.js';
import { RowStream, type ZnodeRow, znodeLongColumns, znodeLongJson, znodeWideColumns } from '../output/znode.js';

export default class Find extends BaseCommand<typeof Find> {
  static override summary = 'Find znodes by name, path, kind or size.';
  static override description = `Walks the subtree (depth-first, streamed, up to --window requests in flight) and prints the full path of every node that matches all the tests given (no test: every node, PATH included).

--name matches the last path segment against a glob as fnmatch reads it (* ? [abc] [a-z] [!abc]; \\ quotes the next character); --regex matches the full path against a JavaScript regular expression; --ephemeral keeps ephemeral nodes; --min-size / --max-size compare the data length (512, 10k, 1M). -l prints the stat columns of ls -l.

Nodes this session may not read are skipped with a note on stderr, and the exit code is then 7.`;
  static override examples = [
    '<%= config.bin %> <%= command.id %> /app --name "*.json"',
    '<%= config.bin %> <%= command.id %> / --ephemeral -l',
    '<%= config.bin %> <%= command.id %> /services --regex "/instances/[^/]+$"',
    '<%= config.bin %> <%= command.id %> / --min-size 100k',
  ];
  static override args = { path: Args.string({ description: 'where to start', default: '/' }) };
  static override flags = {
    name: Flags.string({ summary: 'Glob on the node name (last segment).', helpValue: 'GLOB' }),
    regex: Flags.string({ summary: 'Regular expression on the full path.', helpValue: 'RE' }),
    ephemeral: Flags.boolean({ summary: 'Only ephemeral nodes.' }),
    'min-size': Flags.string({ summary: 'Only nodes with at least this much data (bytes; k, M suffixes).', helpValue: 'N' }),
    'max-size': Flags.string({ summary: 'Only nodes with at most this much data.', helpValue: 'N' }),
    depth: Flags.integer({ char: 'd', summary: 'Levels below PATH to search.', min: 0 }),
    long: Flags.boolean({ char: 'l', summary: 'Stat columns as ls -l (-o json: the stat object of stat -o json per node).' }),
    window: windowFlag,
    ...pagerFlags,
  };

  async run(): Promise<void> {
    boundHeapGrowth();
    const path = checkPath(this.args.path);
    const f = this.flags;
    const nameRe = f.name !== undefined ? globToRegExp(f.name) : undefined;
    let re: RegExp | undefined;
    if (f.regex !== undefined) {
      try {
        re = new RegExp(f.regex);
      } catch (e) {
        throw new UsageError(`invalid --regex: ${(e as Error).message}`);
      }
    }
    const min = f['min-size'] !== undefined ? parseSize(f['min-size'], '--min-size') : undefined;
    const max = f['max-size'] !== undefined ? parseSize(f['max-size'], '--max-size') : undefined;
    const session = await this.session();
    const intr = interruptSignal();
    this.onCleanup(intr.dispose);
    const unreadable = new Unreadable();
    const fmt = this.jsonEnabled() ? 'json' : this.outputFormat;
    const out = new RowStream<ZnodeRow>({
      format: f.long ? fmt : fmt === 'table' ? 'plain' : fmt,
      color: this.colorEnabled,
      columns: f.long ? (this.wide ? znodeWideColumns : znodeLongColumns) : [{ header: 'PATH', key: 'path', get: (r) => r.path }],
      json: f.long ? znodeLongJson : (r) => r.path,
    });
    const walker = walk(session, path, { depth: f.depth, window: f.window, signal: intr.signal, onError: unreadable.onError });
    for await (const n of walker) {
      if (nameRe && !nameRe.test(n.name)) continue;
      if (re && !re.test(n.path)) continue;
      if (f.ephemeral && n.stat.ephemeralOwner === 0n) continue;
      if (min !== undefined && n.stat.dataLength < min) continue;
      if (max !== undefined && n.stat.dataLength > max) continue;
      await out.push({ path: n.path, name: n.path, stat: n.stat });
    }
    await out.end();
    unreadable.check();
  }
}
