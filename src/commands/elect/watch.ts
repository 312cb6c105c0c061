import { Args } from '@oclif/core';
import { BaseCommand } from '../../cli/base.js';
import { countFlag, forFlag, parseFor, Stream } from '../../cli/stream.js';
import { sessionHex } from '../../core/session-id.js';
import { type LeaderChange, LeaderObserver } from '../../core/recipes/election.js';

export interface LeaderEvent {
  /** The leader's id (its node's data), null when there is no leader. */
  id: string | null;
  node: string | null;
  format: string | null;
  session: string | null;
  /** When zkctl saw this leader take over (ISO time). */
  since: string;
  /** When the leader's node was created (server clock, ISO; `stat -o json`'s ctimeIso). */
  ctimeIso: string | null;
  previous: string | null;
  /** The leader when watching started. */
  initial: boolean;
}

export default class ElectWatch extends BaseCommand<typeof ElectWatch> {
  static override summary = 'Follow the leader of an election: one line per change.';
  static override description = `Prints the leader at start (initial: true), then one line each time leadership passes to another candidate or the election is left without a leader (id null). -o json prints one JSON object per line. Stops after --count lines or --for a duration (exit 0), else runs until SIGINT/SIGTERM (exit 130). Survives reconnects and session expiry (a new session is started). A leader that lasts less than a round trip to the server may not be seen.`;
  static override examples = [
    '<%= config.bin %> <%= command.id %> /election/scheduler',
    '<%= config.bin %> <%= command.id %> /election/scheduler -o json --count 2   # the current leader and the next one',
    '<%= config.bin %> <%= command.id %> /election/scheduler --for 10m -o json >> leaders.jsonl',
  ];
  static override args = { path: Args.string({ required: true, description: 'election path' }) };
  static override flags = {
    count: countFlag('Stop after this many lines (the initial one included).'),
    for: forFlag('Stop after this long (e.g. 30s, 10m).'),
  };

  async run(): Promise<{ events: number }> {
    const forMs = parseFor(this.flags.for);
    const session = await this.session({ renew: true });
    const observer = new LeaderObserver(session, this.args.path);
    this.onCleanup(() => observer.close());
    const stream = new Stream({ count: this.flags.count, forMs });
    this.onCleanup(() => stream.dispose());
    observer.on('change', (c: LeaderChange) => {
      if (!stream.take()) return;
      const l = c.leader;
      const ev: LeaderEvent = {
        id: l?.id ?? null,
        node: l?.name ?? null,
        format: l?.format ?? null,
        session: l ? sessionHex(l.ephemeralOwner) : null,
        since: c.at.toISOString(),
        ctimeIso: l ? new Date(l.ctime).toISOString() : null,
        previous: c.previous?.id ?? null,
        initial: c.initial,
      };
      this.printer.event(ev as unknown as Record<string, unknown>, `${ev.since} ${l ? `leader ${ev.id} (${ev.node})` : 'no leader'}${c.initial ? ' (initial)' : ''}`);
      stream.settle();
    });
    observer.on('error', (e: Error) => process.stderr.write(`zkctl: ${e.message}\n`));
    await observer.start();
    await stream.ended;
    stream.finish();
    return { events: stream.events };
  }
}
