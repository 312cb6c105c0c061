import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../cli/base.js';
import { assertWritable } from '../cli/znode.js';
import { resolveConnection } from '../cli/context.js';
import { commandAfterDashDash, FENCING_HELP, holdFlags, parseHoldFlags, runHeld } from '../cli/hold.js';
import { UsageError } from '../core/errors.js';
import { holdTrap } from '../cli/stream.js';
import { Lock, type LockFormat, type LockMode } from '../core/recipes/lock.js';

export interface LockResult {
  path: string;
  node: string;
  /** exclusive (plain mutex), read (shared) or write. */
  mode: LockMode;
  fencingToken: bigint;
  sessionId: string;
  waitedMs: number;
  /** With a command: its exit status. */
  status?: number;
}

export default class LockCmd extends BaseCommand<typeof LockCmd> {
  static override summary = 'Hold a fair (FIFO) distributed lock (exclusive, or the read or write side of a read-write lock) around a command, or until interrupted.';
  static override description = `Contenders queue in ZooKeeper as ephemeral sequential nodes under PATH, each watching only the one ahead of it; the first holds the lock. Nodes are written in Curator's InterProcessMutex format (_c_<uuid>-lock-<seq>, data = --id, default this host's IP) or, with --format kazoo, in kazoo's Lock format (<hex>__lock__<seq>, data = --id), and ordered by sequence number across both, so Curator (resp. kazoo) holders on the same path exclude zkctl and the reverse.

Read-write locks: --read takes the shared side, --write the exclusive side, in the format of Curator's InterProcessReadWriteLock (_c_<uuid>-__READ__<seq>, _c_<uuid>-__WRIT__<seq>) or, with --format kazoo, of kazoo's ReadLock (<hex>__rlock__<seq>) and WriteLock (<hex>__lock__<seq>, the same name as Lock). Any number of readers hold the lock together while no writer is ahead of them in the queue; a writer holds it alone, once every node ahead of it (reader or writer) is gone. A reader queued behind a writer waits for it, so writers are not starved. Each waiter watches only the node that blocks it. 'zkctl lock ls' shows each node's mode. Beware kazoo before 2.9 (python-zk/kazoo#649): its ReadLock also waits for writers queued AFTER it, so a kazoo 2.8 reader waiting behind a writer deadlocks with any writer (kazoo's or zkctl's) that queues behind it, until one of them times out.

With -- CMD ARGS: acquires, runs CMD with ZKCTL_LOCK_PATH, ZKCTL_LOCK_NODE, ZKCTL_LOCK_MODE (exclusive, read or write) and ZKCTL_FENCING_TOKEN (the lock node's czxid, which only grows from one holder to the next; readers holding together have unordered tokens, but a writer's is above every earlier holder's) in its environment, releases when CMD exits and exits with CMD's status. Without CMD: prints the lock node and holds the lock until SIGINT/SIGTERM (exit 130).

--try fails at once and --timeout after that long, both with exit 10 and without leaving a node behind. SIGINT/SIGTERM/SIGHUP are forwarded to CMD; the lock is released and zkctl exits with CMD's status (130 when CMD died of the signal).

Revocation (Curator's InterProcessMutex.makeRevocable): with --revocable, the holder watches its own node's data; when someone sets it to __REVOKE__ ('zkctl lock revoke PATH', or Curator's Revoker.attemptRevoke on the node), zkctl stops CMD as when fencing (SIGTERM, SIGKILL --grace later), releases the lock and exits 11 saying it was revoked; without CMD it releases and exits 11. A request made while waiting takes effect on acquiring. Without --revocable, requests are ignored (as Curator ignores them for a mutex that was not made revocable); the node's data (the --id) then reads __REVOKE__ in 'zkctl lock ls' until the node goes.

${FENCING_HELP}

Here --timeout is the wait for the lock; the deadline for connecting and for each request comes from the context (default 10s).`;
  static override examples = [
    '<%= config.bin %> <%= command.id %> /locks/backup -- ./backup.sh --full',
    '<%= config.bin %> <%= command.id %> /locks/deploy --try -- make deploy || echo "someone else is deploying"',
    '<%= config.bin %> <%= command.id %> /locks/job --timeout 30s --id "$(hostname)" -- sh -c \'echo token $ZKCTL_FENCING_TOKEN\'',
    '<%= config.bin %> <%= command.id %> /locks/shared --format kazoo -- ./job.py   # excludes kazoo Lock("/locks/shared") holders',
    '<%= config.bin %> <%= command.id %> /locks/maint &   # hold it in the background; kill %1 releases it',
    '<%= config.bin %> <%= command.id %> /locks/catalog --read -- ./report.sh      # shared with other readers, e.g. Curator InterProcessReadWriteLock.readLock()',
    '<%= config.bin %> <%= command.id %> /locks/catalog --write --timeout 1m -- ./reindex.sh   # waits for the readers ahead of it',
    '<%= config.bin %> <%= command.id %> /locks/catalog --read --format kazoo -- ./job.py   # shares with kazoo ReadLock, excludes kazoo WriteLock',
    '<%= config.bin %> <%= command.id %> /locks/batch --revocable --grace 30s -- ./batch.sh   # exits 11 after \'zkctl lock revoke /locks/batch\' (or Curator\'s Revoker)',
  ];
  static override usage = ['<%= command.id %> PATH [--timeout DURATION | --try] [--id ID] [--format curator|kazoo] [--read | --write] [--revocable] [--grace DURATION] [--session-timeout DURATION] [-- CMD [ARGS...]]'];
  static override strict = false;
  static override args = {
    path: Args.string({ required: true, description: 'lock path, e.g. /locks/backup' }),
  };
  static override flags = {
    timeout: Flags.string({ summary: 'Wait at most this long for the lock (then exit 10).', exclusive: ['try'] }),
    try: Flags.boolean({ summary: 'Do not wait: exit 10 at once if the lock is held.', exclusive: ['timeout'] }),
    id: Flags.string({ summary: "Holder id stored in the lock node (default: this host's IP address, like Curator)." }),
    format: Flags.string({
      summary: 'Node format: Curator InterProcessMutex (with --read/--write: InterProcessReadWriteLock) or kazoo Lock (ReadLock/WriteLock).',
      options: ['curator', 'kazoo'],
      default: 'curator',
    }),
    read: Flags.boolean({ summary: 'Take the shared (read) side of a read-write lock: held together with other readers, never with a writer.', exclusive: ['write'] }),
    write: Flags.boolean({ summary: 'Take the exclusive (write) side of a read-write lock: waits for every reader and writer ahead of it.', exclusive: ['read'] }),
    revocable: Flags.boolean({
      summary: "Release when asked to (node data set to __REVOKE__ by 'zkctl lock revoke' or Curator's Revoker): stop CMD, exit 11.",
    }),
    ...holdFlags,
  };

  async run(): Promise<LockResult> {
    const cmd = commandAfterDashDash(this.argv);
    if (!cmd && (await this.parse(LockCmd)).argv.length > 1) {
      throw new UsageError('unexpected arguments after PATH', 'put the command after --, e.g. zkctl lock /locks/x -- ./job.sh');
    }
    assertWritable(this.args.path, this.connection.server, 'lock');
    const hs = parseHoldFlags(this.flags);
    const trap = holdTrap();
    this.onCleanup(() => trap.dispose());
    const { timeoutMs } = resolveConnection({ ...this.flags, timeout: undefined });
    const session = await this.session({ timeoutMs, sessionTimeoutMs: hs.sessionTimeoutMs });
    const mode: LockMode = this.flags.read ? 'read' : this.flags.write ? 'write' : 'exclusive';
    const lock = new Lock(session, this.args.path, { format: this.flags.format as LockFormat, mode, id: this.flags.id, graceMs: hs.graceMs, revocable: this.flags.revocable });
    const revocation = new AbortController();
    lock.on('revoked', (r) => revocation.abort(new Error(`revocation requested (${r.node} set to __REVOKE__)`)));
    lock.on('waiting', (w) => this.progress(`waiting for ${this.args.path}: ${w.position} ahead of ${w.node}`));
    try {
      const hold = await lock.acquire({ timeoutMs: hs.waitMs, try: this.flags.try, signal: trap.signal });
      const result: LockResult = { path: hold.path, node: hold.node, mode: hold.mode, fencingToken: hold.fencingToken, sessionId: hold.sessionId, waitedMs: hold.waitedMs };
      if (!cmd) this.printer.text(hold.node, result);
      else this.progress(`acquired ${hold.node} (fencing token ${hold.fencingToken}); running ${cmd.command}`);
      const r = await runHeld({
        hold: lock,
        schedule: hold.schedule,
        what: `lock ${this.args.path}`,
        trap,
        command: cmd,
        revocation: revocation.signal,
        env: { ZKCTL_LOCK_PATH: hold.path, ZKCTL_LOCK_NODE: hold.node, ZKCTL_LOCK_MODE: hold.mode, ZKCTL_FENCING_TOKEN: hold.fencingToken.toString() },
      });
      result.status = r.status;
      process.exitCode = r.status;
      return result;
    } finally {
      await lock.release(Math.min(timeoutMs, 5000));
    }
  }
}
