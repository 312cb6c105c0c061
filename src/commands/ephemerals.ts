import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../cli/base.js';
import { Unreadable, boundHeapGrowth, checkPath, interruptSignal, windowFlag } from '../cli/znode.js';
import { UsageError } from '../core/errors.js';
import { walk } from '../core/tree.js';
import { type EphemeralRow, RowStream, ephemeralColumns as columns } from '../output/znode.js';
import { sessionHex } from '../core/session-id.js';

type Row = EphemeralRow;

export default class Ephemerals extends BaseCommand<typeof Ephemerals> {
  static override summary = 'List ephemeral nodes under a path, with their owner sessions.';
  static override description = `Walks PATH (default /; streamed, up to --window requests in flight) and lists every ephemeral node with the session that owns it. --owner keeps one session's nodes.

Why a walk: the server's getEphemerals only answers for the asking session, and a zkctl session is new and owns nothing; operators want everybody's ephemerals (who holds this lock, which members are registered).

Plain output: OWNER<TAB>CTIME<TAB>DATA<TAB>PATH. -o json: records {path, ephemeralOwner, ctime, dataLength}, named and valued as in 'stat -o json' (ctime in epoch ms).`;
  static override examples = ['<%= config.bin %> <%= command.id %>', '<%= config.bin %> <%= command.id %> /services', '<%= config.bin %> <%= command.id %> / --owner 0x100000b3770000a'];
  static override args = { path: Args.string({ description: 'where to start', default: '/' }) };
  static override flags = {
    owner: Flags.string({ summary: 'Only nodes owned by this session id (hex, e.g. 0x1000...).', helpValue: 'SESSION' }),
    window: windowFlag,
  };

  async run(): Promise<void> {
    boundHeapGrowth();
    const path = checkPath(this.args.path);
    let owner: bigint | undefined;
    if (this.flags.owner !== undefined) {
      const m = /^(0x)?([0-9a-f]{1,16})$/i.exec(this.flags.owner.trim());
      if (!m) throw new UsageError(`invalid --owner "${this.flags.owner}"`, 'a session id in hex, e.g. 0x100000b3770000a');
      owner = BigInt.asIntN(64, BigInt(`0x${m[2]}`));
    }
    const session = await this.session();
    const intr = interruptSignal();
    this.onCleanup(intr.dispose);
    const unreadable = new Unreadable();
    const fmt = this.jsonEnabled() ? 'json' : this.outputFormat;
    const out = new RowStream<Row>({ format: fmt, color: this.colorEnabled, columns });
    for await (const n of walk(session, path, { window: this.flags.window, signal: intr.signal, onError: unreadable.onError })) {
      const eo = n.stat.ephemeralOwner;
      if (eo === 0n || (owner !== undefined && eo !== owner)) continue;
      await out.push({ path: n.path, ephemeralOwner: sessionHex(eo), ctime: n.stat.ctime, dataLength: n.stat.dataLength });
    }
    await out.end();
    unreadable.check();
  }
}
