/**
 * What `import` and `cp` share: the mode flags, the help on atomicity, reading
 * a backup file, and planning then applying (or, with --dry-run, listing) a
 * backup at a path with progress on a TTY.
 */
import { readFile } from 'node:fs/promises';
import { Flags } from '@oclif/core';
import { type ApplyResult, type Backup, DEFAULT_TXN_BYTES, type ImportMode, type ImportPlan, type PlanEntry, applyPlan, decodeBackupBytes, parseBackup, planImport } from '../core/backup.js';
import { UsageError } from '../core/errors.js';
import type { Session } from '../core/session.js';
import { planColumns, planSummary } from '../output/backup.js';
import type { Printer } from '../output/index.js';
import { interruptSignal } from './znode.js';

export interface ImportResult {
  target: string;
  mode: ImportMode;
  dryRun: boolean;
  counts: ImportPlan['counts'];
  transactions: number;
  atomic: boolean;
  changes?: PlanEntry[];
}


/** The help text on atomicity, shared by import and cp. */
export const ATOMICITY_HELP = `Writes go in ZooKeeper transactions (multi). A tree that fits in one transaction (about 1 MB of paths, data and ACLs: --max-txn-bytes) is imported atomically: other clients see all of it or nothing, and a failure writes nothing. A larger tree cannot be one transaction (the server refuses requests over jute.maxbuffer, 1 MB by default), and ZooKeeper has no rename (staging elsewhere and swapping would not be atomic either), so zkctl gives the strongest guarantee it can: everything is read and checked first (file syntax, paths, ACL syntax, the target's current state), then the transactions run in order (parents first), each updating or deleting only at the versions it read (compare-and-set); if any of them fails, or Ctrl-C is pressed, the ones already applied are undone in reverse order and the command exits with the error (a transaction cut off by a lost connection is checked after reconnecting, and undone if it was applied). Until it ends, other clients can see a partial import. If the undo itself cannot complete (the connection is gone, or someone changed those nodes meanwhile), the nodes left over are named. Changing the ACL of existing nodes (--overwrite) cannot be part of a transaction: it is done after them, and undone the same way.`;

export const modeFlags = {
  merge: Flags.boolean({ summary: 'Target not empty: add the nodes it lacks; leave existing nodes (data, ACL) and extra nodes as they are.', exclusive: ['overwrite'] }),
  overwrite: Flags.boolean({
    summary: 'Target not empty: make it exactly the backup (create, update data and ACLs, delete nodes not in the backup).',
    exclusive: ['merge'],
  }),
  'dry-run': Flags.boolean({ summary: 'Show what would change; write nothing.' }),
  'max-txn-bytes': Flags.integer({
    summary: 'Largest transaction, in bytes of request.',
    description: `Default ${DEFAULT_TXN_BYTES}, under ZooKeeper's default jute.maxbuffer (1048575). Lower it for servers with a smaller jute.maxbuffer.`,
    default: DEFAULT_TXN_BYTES,
    min: 1024,
    max: 64 * 1024 * 1024,
  }),
};

/** Plan and apply (or just show, with dry-run) a backup at `target`: the shared body of import and cp. */
export async function runImport(
  printer: Printer,
  session: Session,
  backup: Backup,
  target: string,
  flags: { merge?: boolean; overwrite?: boolean; 'dry-run'?: boolean; 'max-txn-bytes'?: number; window?: number },
  what: string,
): Promise<ImportResult> {
  const mode: ImportMode = flags.overwrite ? 'overwrite' : flags.merge ? 'merge' : 'create';
  const intr = interruptSignal();
  const tty = !!process.stderr.isTTY;
  let last = 0;
  const progress = (msg: string, force = false): void => {
    if (!tty) return;
    const now = Date.now();
    if (!force && now - last < 200) return;
    last = now;
    process.stderr.write(`\r\x1b[K${msg}`);
  };
  const clear = (): void => {
    if (tty && last > 0) process.stderr.write('\r\x1b[K');
  };
  try {
    const plan = await planImport(session, backup, target, mode, {
      window: flags.window,
      signal: intr.signal,
      onProgress: (_phase, n) => progress(`reading ${target}: ${n} nodes`),
    });
    clear();
    const base = { target, mode, counts: plan.counts };
    if (flags['dry-run']) {
      const result: ImportResult = { ...base, dryRun: true, transactions: 0, atomic: false, changes: plan.entries };
      if (printer.format === 'json' || printer.format === 'yaml') printer.rows(plan.entries, planColumns, result);
      else {
        printer.rows(plan.entries, planColumns);
        if (tty || printer.format === 'table') process.stderr.write(`dry run (${what} into ${target}): ${planSummary(plan)}; nothing written\n`);
      }
      return result;
    }
    let applied: ApplyResult;
    try {
      applied = await applyPlan(session, plan, {
        maxTxnBytes: flags['max-txn-bytes'],
        signal: intr.signal,
        onProgress: (phase, done, total) =>
          progress(phase === 'write' ? `${what} into ${target}: step ${done}/${total}` : `rolling back: ${done}/${total}`, done === total),
      });
    } finally {
      clear();
    }
    const result: ImportResult = { ...base, dryRun: false, transactions: applied.transactions, atomic: applied.atomic };
    const acls = plan.aclOps.length ? ` + ${plan.aclOps.length} ACL change${plan.aclOps.length === 1 ? '' : 's'}` : '';
    const how =
      applied.transactions === 0 && !acls
        ? 'nothing to write'
        : `in ${applied.transactions} transaction${applied.transactions === 1 ? '' : 's'}${acls}${applied.atomic ? '' : applied.transactions > 1 || acls ? ', rolled back on failure' : ''}`;
    printer.text(`${what} into ${target}: ${planSummary(plan)} (${how})`, result);
    return result;
  } finally {
    intr.dispose();
  }
}

export async function readBackupFile(file: string): Promise<Backup> {
  let bytes: Buffer;
  if (file === '-') {
    const chunks: Buffer[] = [];
    for await (const c of process.stdin) chunks.push(typeof c === 'string' ? Buffer.from(c) : (c as Buffer));
    bytes = Buffer.concat(chunks);
  } else {
    try {
      bytes = await readFile(file);
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      throw new UsageError(`cannot read ${file}: ${err.code === 'ENOENT' ? 'no such file' : err.code === 'EISDIR' ? 'it is a directory' : err.code === 'EACCES' ? 'permission denied' : err.message}`);
    }
  }
  const source = file === '-' ? 'stdin' : file;
  return parseBackup(decodeBackupBytes(bytes, source), source);
}
