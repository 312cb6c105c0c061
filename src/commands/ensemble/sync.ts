import { BaseCommand } from '../../cli/base.js';
import { followMembers, targetEnsemble, targetFlags } from '../../cli/ensemble.js';
import { describeChanges, syncRoster, type RosterSync } from '../../ensemble/sync.js';
import type { Column } from '../../output/index.js';

export interface SyncOutput extends RosterSync {
  /** Contexts whose server list was changed. */
  contexts: string[];
}

interface SyncRow {
  id: number;
  role: string;
  kind: 'member' | 'external' | 'former';
  address?: string;
  pid?: number;
}

const columns: Column<SyncRow>[] = [
  { header: 'ID', key: 'id', get: (r) => r.id, align: 'right' },
  { header: 'ROLE', key: 'role', get: (r) => r.role },
  { header: 'KIND', key: 'kind', get: (r) => r.kind },
  { header: 'ADDRESS', key: 'address', get: (r) => r.address },
  { header: 'PID', key: 'pid', get: (r) => r.pid, align: 'right' },
];

export default class EnsembleSync extends BaseCommand<typeof EnsembleSync> {
  static override summary = "Record a local ensemble's membership as ZooKeeper committed it (after a reconfig zkctl did not make).";
  static override description = `Reads /zookeeper/config (after a sync) and, under the lock \`ensemble add/remove\` use, rewrites the ensemble's roster (membership.json) when it differs: members and roles; a member no longer in the configuration keeps its files and its process (\`ensemble stop ID\` or \`ensemble down\` stop it); a server zkctl did not start (another host, other ports, or no files in the ensemble dir) is recorded as external. Contexts pointing at the ensemble get its members' addresses. Nothing is started or stopped.

\`zkctl reconfig\` does this by itself on a local ensemble; \`ensemble status\` warns when the two differ. Exit 0 whether or not anything changed.`;
  static override examples = ['<%= config.bin %> <%= command.id %>', '<%= config.bin %> <%= command.id %> --name dev -o json'];
  static override flags = { ...targetFlags };

  async run(): Promise<SyncOutput> {
    const ens = targetEnsemble(this.flags, () => this.connection);
    const r = await syncRoster(ens, { timeoutMs: this.connection.timeoutMs, onNote: (m) => process.stderr.write(`zkctl: ${m}\n`), });
    const contexts = followMembers(ens.dir);
    const out: SyncOutput = { ...r, contexts };
    if (!this.jsonEnabled()) {
      if (this.outputFormat === 'json' || this.outputFormat === 'yaml') this.printer.object(out as unknown as Record<string, unknown>);
      else {
        const addr = new Map(r.connectString.split(',').map((a, i) => [r.members[i]?.id, a] as const));
        const rows: SyncRow[] = [
          ...r.members.map((m): SyncRow => ({ id: m.id, role: m.role, kind: 'member', ...(addr.get(m.id) ? { address: addr.get(m.id)! } : {}) })),
          ...r.external.map((x): SyncRow => ({ id: x.id, role: x.role, kind: 'external', ...(x.address ? { address: x.address } : {}) })),
          ...r.formerRunning.map((f): SyncRow => ({ id: f.id, role: '-', kind: 'former', pid: f.pid })),
        ].sort((a, b) => a.id - b.id);
        this.printer.rows(rows, columns);
      }
    }
    const line = r.updated ? `updated ensemble '${r.ensemble}' to config version ${r.version}: ${describeChanges(r.changes)}` : `ensemble '${r.ensemble}' already matches config version ${r.version}`;
    process.stderr.write(`zkctl: ${line}${contexts.length > 0 ? `; context${contexts.length > 1 ? 's' : ''} ${contexts.map((c) => `'${c}'`).join(', ')} now ${r.connectString}` : ''}\n`);
    return out;
  }
}
