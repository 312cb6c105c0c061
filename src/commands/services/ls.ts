import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../../cli/base.js';
import { formatDuration } from '../../core/duration.js';
import { addressProblem, DEFAULT_BASE_PATH, instanceWeight, listServiceNames, readInstances } from '../../core/recipes/services.js';
import type { Column } from '../../output/index.js';
import { sessionHex } from '../../core/session-id.js';

export interface InstanceRow {
  service: string;
  id: string;
  address: string | null;
  port: number | null;
  weight: number;
  enabled: boolean;
  /** null when the record has no registration time. */
  registeredAt: string | null;
  ageMs: number | null;
  /** Session owning the ephemeral node (0x0 for a persistent node). */
  session: string;
  payload: unknown;
}

const columns: Column<InstanceRow>[] = [
  { header: 'SERVICE', key: 'service', get: (r) => r.service },
  { header: 'ID', key: 'id', get: (r) => r.id },
  // An address with a newline or other control characters would break the line: quoted (JSON) instead.
  { header: 'ADDRESS', key: 'address', get: (r) => (r.address !== null && addressProblem(r.address) !== undefined ? JSON.stringify(r.address) : r.address) },
  { header: 'PORT', key: 'port', get: (r) => r.port, align: 'right' },
  { header: 'WEIGHT', key: 'weight', get: (r) => r.weight, align: 'right' },
  { header: 'AGE', key: 'ageMs', get: (r) => (r.ageMs === null ? '-' : formatDuration(r.ageMs)), align: 'right' },
  { header: 'SESSION', key: 'session', get: (r) => r.session },
  { header: 'ENABLED', key: 'enabled', get: (r) => r.enabled },
];

/** -o wide: with the registration time, SSL port, service type and payload. */
const wideColumns: Column<InstanceRow>[] = [
  ...columns,
  { header: 'REGISTERED', key: 'registeredAt', get: (r) => r.registeredAt ?? '-' },
  { header: 'PAYLOAD', key: 'payload', get: (r) => (r.payload === null || r.payload === undefined ? '' : JSON.stringify(r.payload)) },
];

const hasTime = (t: number): boolean => t > 0 && t <= 8.64e15;

export default class ServicesLs extends BaseCommand<typeof ServicesLs> {
  static override summary = 'List service instances (Curator x-discovery format).';
  static override description =
    'Without NAME, every instance of every service under the base path. WEIGHT is payload.weight (1 when absent); SESSION is the ZooKeeper session that owns the ephemeral node (0x0: a persistent, STATIC/PERMANENT instance). AGE is "-" for a record without a registration time. An address with whitespace or control characters is shown quoted (JSON); `services pick` skips such instances.';
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
          // (0: none recorded; beyond what a Date holds: not a time either.)
          registeredAt: hasTime(i.registrationTimeUTC) ? new Date(i.registrationTimeUTC).toISOString() : null,
          ageMs: hasTime(i.registrationTimeUTC) ? Math.max(0, now - i.registrationTimeUTC) : null,
          session: sessionHex(stat.ephemeralOwner),
          payload: i.payload,
        });
      }
    }
    if (!this.jsonEnabled()) this.printer.rows(rows, this.wide ? wideColumns : columns);
    return rows;
  }
}
