import { Args, Flags } from '@oclif/core';
import { BaseCommand, pagerFlags } from '../cli/base.js';
import { interrupted } from '../cli/stream.js';
import { checkPath, interruptSignal } from '../cli/znode.js';
import { type DataFormat, DATA_FORMATS, dataForJson, formatData, hexDump, parseJsonData, parseYamlData } from '../core/data.js';
import { parseDuration, setTimer, type Timer } from '../core/duration.js';
import { UsageError, SessionExpiredError, TimeoutError, ZkCode, ZkError } from '../core/errors.js';
import type { Session, Stat, WatchEvent } from '../core/session.js';
import { statFields, statJson, writeOut } from '../output/znode.js';

export interface GetResult {
  path: string;
  encoding?: string;
  data?: string;
  value?: unknown;
  stat: Record<string, unknown>;
}

export default class Get extends BaseCommand<typeof Get> {
  static override summary = "Print a znode's data.";
  static override description = `By default the bytes are written exactly as stored (binary-safe: redirect to a file and you get the same bytes back); a newline is added only when stdout is a terminal, where empty data shows as "(0 bytes)" (a pipe gets nothing). --format decodes: utf8, hex (one string; on a terminal a dump as xxd: offset, 16 bytes a line, ASCII column), base64, or json / yaml, which parse the data and pretty-print it (exit 2 when it does not parse).

-o json / --json print an object: {path, encoding: "utf8"|"base64", data, stat} (with --format json|yaml: {path, value, stat}).

-w waits for the next change of the data and prints the new data, then exits 0. A deleted node exits 3. --for bounds the wait (no change in time: exit 8); without it the wait is unbounded (--timeout bounds only connecting and each request). Ctrl-C exits 130.`;
  static override examples = [
    '<%= config.bin %> <%= command.id %> /app/config',
    '<%= config.bin %> <%= command.id %> /app/blob > blob.bin',
    '<%= config.bin %> <%= command.id %> /app/config --format json',
    '<%= config.bin %> <%= command.id %> /app/config --stat',
    '<%= config.bin %> <%= command.id %> /app/config -w --for 5m',
  ];
  static override args = { path: Args.string({ required: true, description: 'znode path' }) };
  static override flags = {
    stat: Flags.boolean({ summary: 'Also print the stat (zkCli layout) after the data.' }),
    format: Flags.string({ summary: 'Decode the data.', options: DATA_FORMATS }),
    watch: Flags.boolean({ char: 'w', summary: 'Wait for the next change and print the new data.' }),
    for: Flags.string({ summary: 'With -w: give up after this long (exit 8), e.g. 30s.', helpValue: 'DURATION' }),
    ...pagerFlags,
  };

  async run(): Promise<GetResult | undefined> {
    const path = checkPath(this.args.path);
    if (this.flags.for !== undefined && !this.flags.watch) throw new UsageError('--for goes with -w (wait for a change)');
    const waitMs = this.flags.for !== undefined ? parseDuration(this.flags.for, '--for') : undefined;
    const session = await this.session();
    if (!this.flags.watch) {
      const { data, stat } = await session.get(path);
      return this.print(path, data, stat);
    }
    const { data, stat } = await this.nextChange(session, path, waitMs);
    return this.print(path, data, stat);
  }

  private async print(path: string, data: Buffer, stat: Stat): Promise<GetResult | undefined> {
    const format = this.flags.format as DataFormat | undefined;
    const fmt = this.outputFormat;
    if (fmt === 'json' || fmt === 'yaml') {
      const result: GetResult =
        format === 'json' || format === 'yaml'
          ? { path, value: format === 'json' ? parseJsonData(data, path) : parseYamlData(data, path), stat: statJson(stat) }
          : format === 'hex' || format === 'base64' || format === 'utf8'
            ? { path, encoding: format, data: formatData(data, format), stat: statJson(stat) }
            : { path, ...dataForJson(data), stat: statJson(stat) };
      if (!this.jsonEnabled()) this.printer.object(result as unknown as Record<string, unknown>);
      return result;
    }
    // Nothing at all looks like a hang on a terminal: say it (a pipe still gets nothing).
    // --format hex on a terminal: a dump as xxd (offsets, ASCII column); a pipe or -o plain keeps the flat hex string.
    const dump = format === 'hex' && fmt === 'table' && process.stdout.isTTY === true && data.length > 0;
    let body: Buffer = dump ? Buffer.from(`${hexDump(data)}\n`) : format ? Buffer.from(`${formatData(data, format, path)}\n`) : data.length === 0 && process.stdout.isTTY ? Buffer.from('(0 bytes)') : data;
    const needsNewline = body.length > 0 && body[body.length - 1] !== 0x0a;
    if (needsNewline && (process.stdout.isTTY || this.flags.stat)) body = Buffer.concat([body, Buffer.from('\n')]);
    await writeOut(body);
    if (this.flags.stat) this.printer.object({}, { sep: '=', fields: statFields(stat) });
    return undefined;
  }

  /** Read `path` with a watch, wait for its data to change; the new data and stat. */
  private async nextChange(session: Session, path: string, waitMs?: number): Promise<{ data: Buffer; stat: Stat }> {
    const intr = interruptSignal();
    let timer: Timer | undefined;
    let onLost: (() => void) | undefined;
    let fired: (ev: WatchEvent) => void = () => undefined;
    const change = new Promise<WatchEvent>((resolve) => (fired = resolve));
    try {
      // the watch is set by the same read that proves the node exists: no change can slip between
      await session.get(path, (ev) => fired(ev));
      const ev = await new Promise<WatchEvent>((resolve, reject) => {
        interrupted(intr.signal).catch(reject);
        onLost = () => reject(new SessionExpiredError(`session expired while waiting for a change of ${path}`));
        session.once('lost', onLost);
        if (waitMs !== undefined) timer = setTimer(() => reject(new TimeoutError(`no change of ${path} within ${this.flags.for}`)), waitMs);
        change.then(resolve, reject);
      });
      if (ev.type === 'deleted') throw new ZkError(ZkCode.NO_NODE, path, 'deleted while waiting');
      return await session.get(path);
    } finally {
      timer?.clear();
      if (onLost) session.removeListener('lost', onLost);
      intr.dispose();
    }
  }
}
