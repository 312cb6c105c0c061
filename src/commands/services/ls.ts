import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../../cli/base.js';
import { formatDuration } from '../../core/duration.js';
import { DEFAULT_BASE_PATH, instanceWeight, listServiceNames, readInstances } from '../../core/recipes/services.js';
import type { Column } from '../../output/index.js';

export interface InstanceRow {
  service: string;
  id: string;
  address: string | null;
  port: number | null;
  weight: number;
  enabled: boolean;
  registeredAt: string;
  ageMs: number;
  /** Session owning the ephemeral node (0x0 for a persistent node). */
  session: string;
  payload: unknown;
}

const columns: Column<InstanceRow>[] = [
  { header: 'SERVICE', key: 'service', get: (r) => r.service },
  { header: 'ID', key: 'id', get: (r) => r.id },
  { header: 'ADDRESS', key: 'address', get: (r) => r.address },
  { header: 'PORT', key: 'port', get: (r) => r.port, align: 'right' },
  { header: 'WEIGHT', key: 'weight', get: (r) => r.weight, align: 'right' },
  { header: 'AGE', key: 'ageMs', get: (r) => formatDuration(r.ageMs), align: 'right' },
  { header: 'SESSION', key: 'session', get: (r) => r.session },
  { header: 'ENABLED', key: 'enabled', get: (r) => (r.enabled ? '' : 'disabled') },
];

export default class ServicesLs extends BaseCommand<typeof ServicesLs> {
  static override summary = 'List service instances (Curator x-discovery format).';
  static override description =
    'Without NAME, every instance of every service under the base path. WEIGHT is payload.weight (1 when absent); SESSION is the ZooKeeper session that owns the ephemeral node (0x0: a persistent, STATIC/PERMANENT instance).';
  static override examples = ['<%= config.bin %> <%= command.id %>', '<%= config.bin %> <%= command.id %> web -o json', '<%= config.bin %> <%= command.id %> --base-path /discovery'];
  static override args = { name: Args.string({ required: false, description: 'service name' }) };
  static override flags = {
    'base-path': Flags.string({ summary: 'Discovery base path.', default: DEFAULT_BASE_PATH }),
  };

  async run(): Promise<InstanceRow[]> {
    const session = await this.session();
    const base = this.flags['base-path'];
    const names = this.args.name ? [this.args.name] : await listServiceNames(session, base);
    const now = Date.now();
    const rows: InstanceRow[] = [];
    for (const name of names) {
      const { instances, unreadable } = await readInstances(session, name, base);
      for (const u of unreadable) process.stderr.write(`zkctl: ${u.path}: ${u.error}\n`);
      for (const { instance: i, stat } of instances) {
        rows.push({
          service: name,
          id: i.id,
          address: i.address,
          port: i.port,
          weight: instanceWeight(i),
          enabled: i.enabled !== false,
          registeredAt: new Date(i.registrationTimeUTC).toISOString(),
          ageMs: Math.max(0, now - i.registrationTimeUTC),
          session: `0x${stat.ephemeralOwner.toString(16)}`,
          payload: i.payload,
        });
      }
    }
    if (!this.jsonEnabled()) this.printer.rows(rows, columns);
    return rows;
  }
}
