import { Flags } from '@oclif/core';
import { tlsConnectOptions } from '../core/security/tls.js';
import { BaseCommand } from '../cli/base.js';
import { ConnectionError } from '../core/errors.js';
import { serverVersions, type ServerVersion } from '../ensemble/versions.js';
import type { Column } from '../output/index.js';

export interface VersionResult {
  client: { name: string; version: string; node: string; platform: string };
  servers: ServerVersion[];
}

interface Row {
  what: string;
  version: string;
  detail: string;
}

const columns: Column<Row>[] = [
  { header: 'COMPONENT', get: (r) => r.what },
  { header: 'VERSION', get: (r) => r.version },
  { header: 'MODE / STATE', get: (r) => r.detail },
];

export default class Version extends BaseCommand<typeof Version> {
  static override summary = "Print zkctl's version and every server's ZooKeeper version.";
  static override description = `The client line: zkctl's version, Node.js and the platform. Then one line per member of the ensemble (-s, $ZKCTL_SERVER, or the current context), asked with the 'srvr' four-letter word (whitelisted by default since ZooKeeper 3.5), all at once, each within --timeout: its version and mode; a member that does not answer is shown as unreachable with the reason. --client: the client line only, no network.

Exit 0 when the client part works and at least one member answered (or with --client); 8 when no member answered (the client line is still printed). -o json: {"client": {...}, "servers": [{"address", "reachable", "version", "mode", "error"?}]}.`;
  static override examples = ['<%= config.bin %> <%= command.id %>', '<%= config.bin %> <%= command.id %> --client', '<%= config.bin %> <%= command.id %> -s zk1:2181,zk2:2181 -o json'];
  static override flags = {
    client: Flags.boolean({ summary: 'Only the client version (no network).' }),
  };

  async run(): Promise<VersionResult> {
    const client = { name: this.config.name, version: this.config.version, node: process.version, platform: `${process.platform}-${process.arch}` };
    const servers = this.flags.client ? [] : await serverVersions(this.connection.server, this.connection.timeoutMs, this.connection.tls ? tlsConnectOptions(this.connection.tls) : undefined);
    const result: VersionResult = { client, servers };
    if (!this.jsonEnabled()) {
      if (this.outputFormat === 'json' || this.outputFormat === 'yaml') this.printer.object(result as unknown as Record<string, unknown>);
      else {
        const rows: Row[] = [
          { what: 'client', version: `${client.name} ${client.version}`, detail: `node ${client.node}, ${client.platform}` },
          ...servers.map((s) => ({ what: s.address, version: s.version ?? (s.reachable ? '?' : 'unreachable'), detail: s.error ? `${s.mode ?? ''}${s.mode ? ': ' : ''}${s.error}` : (s.mode ?? '') })),
        ];
        this.printer.rows(rows, columns);
      }
    }
    if (servers.length > 0 && !servers.some((s) => s.reachable)) {
      // Printed above; the exit code says no member answered.
      const e = new ConnectionError(`no member answered: ${servers.map((s) => `${s.address} (${s.error ?? 'no answer'})`).join(', ')}`);
      throw e;
    }
    return result;
  }
}
