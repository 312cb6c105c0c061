import { Args, Flags } from '@oclif/core';
import { BaseCommand, pagerFlags } from '../cli/base.js';
import { Unreadable, boundHeapGrowth, checkPath, interruptSignal, windowFlag } from '../cli/znode.js';
import { isUtf8 } from '../core/data.js';
import { UsageError } from '../core/errors.js';
import { walk } from '../core/tree.js';
import { RowStream } from '../output/znode.js';

interface Match {
  path: string;
  line?: number;
  text?: string;
  binary?: boolean;
}

export default class Grep extends BaseCommand<typeof Grep> {
  static override summary = 'Search the data of a subtree.';
  static override description = `Walks PATH and its subtree (streamed, up to --window requests in flight), reading each node's data, and prints every matching line as PATH:LINENO:TEXT. PATTERN is a JavaScript regular expression (-F: a fixed string). Data that is not UTF-8 is searched as decoded text; a match there prints PATH: binary data matches.

-l prints only the paths of nodes that match. -o json: one record per match {path, line, text}. Exit status as grep(1): 0 when something matched, 1 when nothing did (-o json then prints []), 7 when some nodes could not be read (whether or not anything matched).`;
  static override examples = [
    '<%= config.bin %> <%= command.id %> /app 10.0.0.5',
    '<%= config.bin %> <%= command.id %> / -i "password" -l',
    '<%= config.bin %> <%= command.id %> /services -F \'"port":8080\'',
  ];
  static override args = {
    path: Args.string({ required: true, description: 'where to start' }),
    pattern: Args.string({ required: true, description: 'regular expression (or fixed string with -F)' }),
  };
  static override flags = {
    'ignore-case': Flags.boolean({ char: 'i', summary: 'Case-insensitive.' }),
    'fixed-strings': Flags.boolean({ char: 'F', summary: 'PATTERN is a plain string.' }),
    'files-with-matches': Flags.boolean({ char: 'l', summary: 'Print only the paths that match.' }),
    depth: Flags.integer({ char: 'd', summary: 'Levels below PATH to search.', min: 0 }),
    window: windowFlag,
    ...pagerFlags,
  };

  async run(): Promise<void> {
    boundHeapGrowth();
    const path = checkPath(this.args.path);
    const f = this.flags;
    const src = f['fixed-strings'] ? this.args.pattern.replace(/[.*+?^${}()|[\]\\]/g, '\\$&') : this.args.pattern;
    let re: RegExp;
    try {
      re = new RegExp(src, f['ignore-case'] ? 'i' : '');
    } catch (e) {
      throw new UsageError(`invalid PATTERN: ${(e as Error).message}`, 'use -F for a plain string');
    }
    const session = await this.session();
    const intr = interruptSignal();
    this.onCleanup(intr.dispose);
    const unreadable = new Unreadable();
    const fmt = this.jsonEnabled() ? 'json' : this.outputFormat;
    const out = new RowStream<Match>({
      format: fmt === 'table' ? 'plain' : fmt,
      color: false,
      columns: [],
      plain: (m) => (f['files-with-matches'] ? m.path : m.binary ? `${m.path}: binary data matches` : `${m.path}:${m.line}:${m.text}`),
    });
    const walker = walk(session, path, { withData: true, depth: f.depth, window: f.window, signal: intr.signal, onError: unreadable.onError });
    for await (const n of walker) {
      const data = n.data;
      if (!data || data.length === 0) continue;
      const text = data.toString('utf8');
      if (!re.test(text)) continue;
      if (f['files-with-matches']) {
        await out.push({ path: n.path });
        continue;
      }
      if (!isUtf8(data)) {
        await out.push({ path: n.path, binary: true });
        continue;
      }
      const lines = text.split('\n');
      for (let i = 0; i < lines.length; i++) {
        if (re.test(lines[i])) await out.push({ path: n.path, line: i + 1, text: lines[i].replace(/\r$/, '') });
      }
    }
    await out.end();
    unreadable.check();
    if (out.rows === 0) process.exitCode = 1; // as grep(1): nothing matched
  }
}
