import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../cli/base.js';
import { otherSession, toFlags } from '../cli/other-session.js';
import { assertWritable, boundHeapGrowth, checkPath, interruptSignal, windowFlag } from '../cli/znode.js';
import { isWithin, readTree } from '../core/backup.js';
import { UsageError } from '../core/errors.js';
import { ATOMICITY_HELP, type ImportResult, modeFlags, runImport } from './import.js';

export default class Cp extends BaseCommand<typeof Cp> {
  static override summary = 'Copy a subtree (data, ACLs, types), within an ensemble or to another one (--to-server).';
  static override description = `Reads SRC and everything under it (pipelined; held in memory, since the copy is validated before anything is written), then creates it at DST exactly as \`zkctl import\` restores a backup: data byte for byte, ACLs, persistent nodes; ephemeral nodes are listed as skipped. Container and TTL nodes are copied as persistent nodes (ZooKeeper does not tell clients their type).

DST must not exist or be an empty node, and its parent must exist; a non-empty DST is refused (exit 4) unless --merge or --overwrite (see zkctl import). DST may not be inside SRC, nor SRC inside DST, on the same ensemble. With --to-server / --to-context, DST is on that ensemble (credentials: --to-auth or the context's; --auth is used only for SRC).

Reading needs READ permission on every node and ADMIN where digest ACLs are set (ZooKeeper hides their hashes otherwise): such nodes fail the copy with exit 7 unless --allow-redacted.

${ATOMICITY_HELP}`;
  static override examples = [
    '<%= config.bin %> <%= command.id %> /app /app-copy',
    '<%= config.bin %> <%= command.id %> /app /app --to-server zk-staging:2181',
    '<%= config.bin %> <%= command.id %> /app /app --to-context staging --overwrite --dry-run',
  ];
  static override args = {
    src: Args.string({ required: true, description: 'subtree to copy' }),
    dst: Args.string({ required: true, description: 'where the copy of SRC goes' }),
  };
  static override flags = {
    ...modeFlags,
    ...toFlags,
    window: windowFlag,
    'allow-redacted': Flags.boolean({ summary: 'Copy digest ACLs the server redacted ("user:x") instead of failing (exit 7).' }),
  };

  async run(): Promise<ImportResult> {
    boundHeapGrowth();
    const src = checkPath(this.args.src);
    const dst = checkPath(this.args.dst);
    const other = !!(this.flags['to-server'] || this.flags['to-context']);
    if (!other && (isWithin(src, dst) || isWithin(dst, src))) {
      throw new UsageError(`cannot copy ${src} to ${dst}: one is inside the other`, 'pick a DST outside SRC (or copy to another ensemble with --to-server)');
    }
    const source = await this.session({ renew: true });
    const target = await otherSession(
      () => this.session(),
      (fn) => this.onCleanup(fn),
      this.flags,
      { renew: true },
    );
    assertWritable(dst, target.server ?? this.connection.server, 'copy to');
    const intr = interruptSignal();
    this.onCleanup(intr.dispose);
    const tty = !!process.stderr.isTTY;
    const backup = await readTree(source, src, {
      window: this.flags.window,
      signal: intr.signal,
      allowRedacted: this.flags['allow-redacted'],
      onProgress: (n) => tty && process.stderr.write(`\r\x1b[Kreading ${src}: ${n} nodes`),
    });
    if (tty && backup.nodes.length >= 1000) process.stderr.write('\r\x1b[K');
    intr.dispose();
    return runImport(this.printer, target.session, backup, dst, this.flags, `copy ${src}`);
  }
}
