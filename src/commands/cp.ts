import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../cli/base.js';
import { resolveConnection } from '../cli/context.js';
import { assertWritable, boundHeapGrowth, checkPath, interruptSignal, windowFlag } from '../cli/znode.js';
import { isWithin, readTree } from '../core/backup.js';
import { UsageError } from '../core/errors.js';
import { Session } from '../core/session.js';
import { ATOMICITY_HELP, type ImportResult, modeFlags, runImport } from './import.js';

/** Flags naming a second ensemble (cp, diff). */
export const toFlags = {
  'to-server': Flags.string({
    summary: 'The second path is on this ensemble: host:port[,host:port...][/chroot].',
    helpGroup: 'SECOND ENSEMBLE',
  }),
  'to-context': Flags.string({ summary: 'The second path is on the ensemble of this context.', helpGroup: 'SECOND ENSEMBLE' }),
  'to-auth': Flags.string({
    summary: 'Authenticate to the second ensemble: scheme:credential (default: the --to-context auth; --auth is never sent there).',
    helpGroup: 'SECOND ENSEMBLE',
  }),
};

/**
 * The session for the second path: the command's own session unless --to-server
 * or --to-context names another ensemble (then a new one, closed at the end).
 * Returns the server string too (to tell whether both sides are the same place).
 */
export async function otherSession(
  own: () => Promise<Session>,
  onCleanup: (fn: () => Promise<void>) => void,
  flags: { 'to-server'?: string; 'to-context'?: string; 'to-auth'?: string; timeout?: string },
  extra: { renew?: boolean } = {},
): Promise<{ session: Session; server?: string }> {
  if (!flags['to-server'] && !flags['to-context']) return { session: await own() };
  const env = { ...process.env };
  delete env.ZKCTL_SERVER;
  delete env.ZKCTL_AUTH;
  const c = resolveConnection({ server: flags['to-server'], context: flags['to-context'], auth: flags['to-auth'], timeout: flags.timeout }, env);
  const s = await Session.connect({ connectString: c.server, timeoutMs: c.timeoutMs, auth: c.auth, ...extra });
  onCleanup(() => s.close());
  return { session: s, server: c.server };
}

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
