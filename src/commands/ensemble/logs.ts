import { existsSync } from 'node:fs';
import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../../cli/base.js';
import { interruptTrap } from '../../cli/stream.js';
import { UsageError, ZkctlError } from '../../core/errors.js';
import { followFile, LineSplitter, tailFile } from '../../ensemble/index.js';
import { targetEnsemble, targetFlags } from '../../cli/ensemble.js';

export default class EnsembleLogs extends BaseCommand<typeof EnsembleLogs> {
  static override summary = 'Show (and with -f follow) a member\'s server log.';
  static override description = `Prints the last --lines lines of the member's log (the ZooKeeper server log at INFO plus JVM output), as bytes. Without ID, every member's log, each line prefixed with "[ID] ". With -f, keeps printing what is appended (across restarts and log rotation) until Ctrl-C (exit 130). With -o json, one {"member","line"} object per line.`;
  static override examples = [
    '<%= config.bin %> <%= command.id %> 1',
    '<%= config.bin %> <%= command.id %> leader -f',
    '<%= config.bin %> <%= command.id %> -f -n 0 | grep -i "LEADING\\|FOLLOWING"',
    '<%= config.bin %> <%= command.id %> 2 --lines all > member2.log',
  ];
  static override args = { id: Args.string({ description: "member id or 'leader' (default: every member)", required: false }) };
  static override flags = {
    ...targetFlags,
    follow: Flags.boolean({ char: 'f', summary: 'Keep printing new lines until Ctrl-C.' }),
    lines: Flags.string({ char: 'n', summary: 'How many lines from the end to show first: a number or "all".', default: '100' }),
  };

  async run(): Promise<void> {
    const n = this.flags.lines === 'all' ? Infinity : Number(this.flags.lines);
    if (!(n === Infinity || (Number.isInteger(n) && n >= 0))) throw new UsageError(`invalid --lines "${this.flags.lines}"`, 'use a number of lines or "all"');
    const e = targetEnsemble(this.flags, () => this.connection);
    const ids = this.args.id ? [await e.resolveMember(this.args.id)] : e.ids;
    const json = this.outputFormat === 'json' || this.outputFormat === 'yaml';
    const prefixed = ids.length > 1;

    const splitters = new Map(ids.map((id) => [id, new LineSplitter()]));
    const emit = (id: number, b: Buffer, final = false): void => {
      if (!json && !prefixed) {
        this.printer.raw(b);
        return;
      }
      const sp = splitters.get(id)!;
      const lines = [...sp.push(b), ...(final ? sp.flush() : [])];
      for (const line of lines) {
        if (json) this.printer.event({ member: id, line }, line);
        else process.stdout.write(`[${id}] ${line}\n`);
      }
    };

    const offsets = new Map<number, number>();
    for (const id of ids) {
      const path = e.logPath(id);
      if (!existsSync(path)) {
        if (!this.flags.follow) {
          if (ids.length === 1) throw new ZkctlError(`member ${id} of ensemble '${e.name}' has no log yet (never started)`);
          continue;
        }
        offsets.set(id, 0);
        continue;
      }
      const t = tailFile(path, n);
      offsets.set(id, t.end);
      emit(id, t.text, !this.flags.follow);
    }
    if (!this.flags.follow) return;

    const ac = new AbortController();
    const trap = interruptTrap();
    trap.signal.addEventListener('abort', () => ac.abort());
    const onStdoutError = (): void => ac.abort(); // reader went away (EPIPE)
    process.stdout.on('error', onStdoutError);
    this.onCleanup(() => {
      trap.dispose();
      process.stdout.removeListener('error', onStdoutError);
    });
    await Promise.all(
      ids.map(async (id) => {
        for await (const b of followFile(e.logPath(id), { offset: offsets.get(id) ?? 0, signal: ac.signal })) emit(id, b);
      }),
    );
    if (ac.signal.aborted) process.exitCode = 130;
  }
}
