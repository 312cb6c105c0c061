import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../cli/base.js';
import { checkPath, chrootOf, interruptSignal, versionFlag, windowFlag } from '../cli/znode.js';
import { parseVersion } from '../core/data.js';
import { isZkCode, ZkCode, ZkError } from '../core/errors.js';
import type { Session } from '../core/session.js';
import { assertDeletable, deleteTree } from '../core/tree.js';

export interface RmResult {
  path: string;
  deleted: number;
  dryRun: boolean;
}

export default class Rm extends BaseCommand<typeof Rm> {
  static override summary = 'Delete a znode (-r: with its subtree).';
  static override description = `Without -r, a node with children is not deleted (exit 6). With -r the subtree is deleted bottom-up: a streaming walk feeds deletes with up to --window requests in flight (ZooKeeper applies one session's requests in order, so each parent's delete follows its children's). Prints how many nodes were deleted (with -r); --dry-run counts without deleting.

-f: a node that does not exist is not an error (exit 0, "deleted": 0), as rm -f; every other failure still is (not empty, version conflict, no permission, connection).

-v VERSION: only if the node's data version is VERSION (exit 5 otherwise); with -r it is checked before anything is deleted.

Refused (exit 2): / and the /zookeeper subtree, judged on the server-side path (under the chroot /app, /zookeeper is an ordinary node; under the chroot /zookeeper, everything is refused).`;
  static override examples = [
    '<%= config.bin %> <%= command.id %> /app/old',
    '<%= config.bin %> <%= command.id %> -r /app/cache',
    '<%= config.bin %> <%= command.id %> -r --dry-run /app',
    '<%= config.bin %> <%= command.id %> /app/config -v 7',
    '<%= config.bin %> <%= command.id %> -f /app/maybe-gone',
  ];
  static override args = { path: Args.string({ required: true, description: 'znode path' }) };
  static override flags = {
    recursive: Flags.boolean({ char: 'r', aliases: ['R'], summary: 'Delete the whole subtree.' }),
    version: versionFlag,
    'dry-run': Flags.boolean({ summary: 'Count what would be deleted; delete nothing.' }),
    force: Flags.boolean({ char: 'f', summary: 'A missing node is fine: exit 0, nothing deleted (other errors still fail).' }),
    window: windowFlag,
  };

  async run(): Promise<RmResult> {
    const path = checkPath(this.args.path);
    assertDeletable(path, chrootOf(this.connection.server));
    const version = parseVersion(this.flags.version);
    const dryRun = !!this.flags['dry-run'];
    const session = await this.session();
    let deleted: number;
    try {
      deleted = await this.remove(session, path, version, dryRun);
    } catch (e) {
      if (!this.flags.force || !isZkCode(e, ZkCode.NO_NODE)) throw e;
      deleted = 0;
    }
    const result = { path, deleted, dryRun };
    if (!this.jsonEnabled()) {
      const noun = deleted === 1 ? 'node' : 'nodes';
      if (this.outputFormat === 'json' || this.outputFormat === 'yaml') this.printer.object(result as unknown as Record<string, unknown>);
      else if (dryRun) this.printer.text(`would delete ${deleted} ${noun} (${path})`);
      else if (this.flags.recursive) this.printer.text(`deleted ${deleted} ${noun} (${path})`);
    }
    return result;
  }

  private async remove(session: Session, path: string, version: number | undefined, dryRun: boolean): Promise<number> {
    let deleted: number;
    if (this.flags.recursive) {
      const intr = interruptSignal();
      this.onCleanup(intr.dispose);
      let last = 0;
      deleted = await deleteTree(session, path, {
        window: this.flags.window,
        dryRun,
        version,
        signal: intr.signal,
        onProgress: (n) => {
          if (n - last >= 1000) {
            last = n;
            if (process.stderr.isTTY) process.stderr.write(`\r${dryRun ? 'counted' : 'deleted'} ${n} nodes...`);
          }
        },
      });
      if (last > 0 && process.stderr.isTTY) process.stderr.write('\r\x1b[K');
    } else if (dryRun) {
      const stat = await session.exists(path);
      if (!stat) throw await session.noNode(path);
      if (version !== undefined && stat.version !== version) throw new ZkError(ZkCode.BAD_VERSION, path);
      if (stat.numChildren > 0) throw new ZkError(ZkCode.NOT_EMPTY, path);
      deleted = 1;
    } else {
      await session.delete(path, version ?? -1);
      deleted = 1;
    }
    return deleted;
  }
}
