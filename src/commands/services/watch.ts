import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../../cli/base.js';
import { Stream } from '../../cli/stream.js';
import { type CacheEvent, DEFAULT_BASE_PATH, instanceWeight, ServiceCache, type SkippedRecord } from '../../core/recipes/services.js';
import { sessionHex } from '../../core/session-id.js';

export interface ServiceEventLine {
  event: 'join' | 'leave' | 'update' | 'suspended' | 'reconnected' | 'lost';
  service: string;
  id?: string;
  address?: string | null;
  port?: number | null;
  weight?: number;
  enabled?: boolean;
  /** join: the instance was already there when the watch started. */
  initial?: boolean;
  session?: string;
  /** leave: the node is still there, but its data is no longer a usable instance. */
  reason?: string;
  time: string;
}

export default class ServicesWatch extends BaseCommand<typeof ServicesWatch> {
  static override summary = 'Follow the instances of a service: joins, leaves and updates as they happen.';
  static override description =
    'Prints the instances present at start as joins (initial: true), then every change, one line each (-o json: one JSON object per line). Connection states (suspended, reconnected, lost) are reported too. A node that is not a usable instance (unreadable data, a blank address or one with whitespace or control characters, a port that is not an integer in 1-65535) is skipped with a warning on stderr; an instance whose data turns into such a record is reported as a leave (with a reason). Runs until SIGINT/SIGTERM (exit 130).';
  static override examples = ['<%= config.bin %> <%= command.id %> web', '<%= config.bin %> <%= command.id %> web -o json | jq -c .'];
  static override args = { name: Args.string({ required: true, description: 'service name' }) };
  static override flags = {
    'base-path': Flags.string({ summary: 'Discovery base path.', default: DEFAULT_BASE_PATH }),
  };

  async run(): Promise<{ events: number }> {
    const session = await this.session({ renew: true });
    const name = this.args.name;
    let events = 0;
    const print = (line: ServiceEventLine): void => {
      events++;
      const where = line.id ? ` ${name}/${line.id}${line.address ? ` ${line.address}:${line.port}` : ''}${line.weight !== undefined && line.weight !== 1 ? ` weight=${line.weight}` : ''}${line.enabled === false ? ' disabled' : ''}` : ` ${name}`;
      this.printer.event(line as unknown as Record<string, unknown>, `${line.time} ${line.event}${where}${line.initial ? ' (initial)' : ''}${line.reason ? ` (${line.reason})` : ''}`);
    };
    const cache = new ServiceCache(session, name, this.flags['base-path']);
    cache.on('event', (e: CacheEvent) => {
      const i = e.instance;
      const line: ServiceEventLine = { event: e.type, service: name, id: i.id, address: i.address, port: i.port, weight: instanceWeight(i), enabled: i.enabled !== false, time: new Date().toISOString() };
      if (e.type === 'join') line.initial = e.initial;
      if (e.type !== 'update') line.session = sessionHex(e.stat.ephemeralOwner);
      if (e.type === 'leave' && e.reason !== undefined) line.reason = e.reason;
      print(line);
    });
    cache.on('skipped', (r: SkippedRecord) => process.stderr.write(`zkctl: ${r.path}: skipped: ${r.reason}\n`));
    cache.on('error', (e: Error) => process.stderr.write(`zkctl: ${e.message}\n`));
    for (const s of ['suspended', 'reconnected', 'lost'] as const) session.on(s, () => print({ event: s, service: name, time: new Date().toISOString() }));
    this.onCleanup(() => cache.close());
    const stream = new Stream();
    this.onCleanup(() => stream.dispose());
    await cache.start();
    await stream.ended;
    stream.finish();
    return { events };
  }
}
