import { Flags } from '@oclif/core';
import { BaseCommand } from '../cli/base.js';
import { parseDuration } from '../core/duration.js';
import { CheckFailedError } from '../core/errors.js';
import { tlsConnectOptions } from '../core/security/tls.js';
import { type HealthMember, type HealthReport, waitHealthy } from '../ensemble/health.js';
import { latencyColumn } from '../cli/ensemble.js';
import { type Column, formatJson, wrapLine } from '../output/index.js';

const columns: Column<HealthMember>[] = [
  { header: 'ADDRESS', key: 'address', get: (m) => m.address, priority: 0 },
  { header: 'ID', key: 'id', get: (m) => m.id, align: 'right', priority: 4 },
  { header: 'MODE', key: 'mode', get: (m) => m.mode, priority: 0 },
  { header: 'ZXID', key: 'zxid', get: (m) => m.zxid, priority: 3 },
  { header: 'RUOK', key: 'ruok', get: (m) => (m.mode === 'down' ? 'no' : 'imok'), priority: 6 },
  latencyColumn<HealthMember>(7),
  { header: 'PROBE MS', key: 'ms', get: (m) => m.ms, align: 'right', priority: 5, shortHeader: 'MS' },
  { header: 'ERROR', key: 'error', get: (m) => m.error, priority: 1, truncate: 'end' },
];

export default class Health extends BaseCommand<typeof Health> {
  static override summary = 'Check that the ensemble serves: one leader, a quorum, and a write/read probe.';
  static override description = `Asks every member in the connect string (four-letter words) for its mode and zxid, checks that exactly one leader and a quorum serve, and writes, syncs, reads back and deletes an ephemeral probe node through a real session. Each member's request latency (min/avg/max ms, from \`srvr\`) is named as in \`ensemble status\`: the LATENCY MIN/AVG/MAX column, JSON latencyMin/latencyAvg/latencyMax.

Over TLS (--tls, --tls-*, --client-config, a context with tls:) the four-letter words and the probe go over TLS to the same ports (a secureClientPort answers them to a client it trusts); the summary says "over TLS" and JSON has via: "tls".

Exit 0 when healthy; a member down while the quorum serves is reported as "degraded" and still exits 0 unless --strict. Otherwise exit 12. With --wait, retries until healthy or the deadline.`;
  static override examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> --wait 60s && npm test',
    '<%= config.bin %> <%= command.id %> -s zk1:2181,zk2:2181,zk3:2181 --strict -o json',
  ];
  static override flags = {
    wait: Flags.string({ summary: 'Retry until healthy or this long has passed (e.g. 30s).' }),
    strict: Flags.boolean({ summary: 'Fail (exit 12) when any member is down, not only without quorum.' }),
  };

  async run(): Promise<HealthReport> {
    const c = this.connection;
    const waitMs = this.flags.wait ? parseDuration(this.flags.wait, '--wait', { zero: true }) : 0;
    const ac = new AbortController();
    const onSig = (): void => ac.abort();
    process.once('SIGINT', onSig);
    this.onCleanup(() => {
      process.removeListener('SIGINT', onSig);
    });
    const tls = c.tls ? tlsConnectOptions(c.tls) : undefined;
    const report = await waitHealthy({ connectString: c.server, timeoutMs: c.timeoutMs, auth: c.auth, ...(c.sasl ? { sasl: c.sasl } : {}), strict: this.flags.strict, ...(tls ? { tls } : {}) }, waitMs, 500, ac.signal);
    if (this.jsonEnabled()) {
      // oclif prints the returned report; a failing check throws instead, so print it here.
      if (!report.ok) process.stdout.write(`${formatJson(report)}\n`);
    } else if (this.outputFormat === 'json' || this.outputFormat === 'yaml') {
      this.printer.object(report as unknown as Record<string, unknown>);
    } else {
      this.printer.rows(report.members, columns);
      const over = report.via === 'tls' ? ' over TLS' : '';
      const probe = report.probe.ok ? `probe ok via ${report.probe.server}${over} in ${report.probe.ms}ms` : `probe FAILED${over}: ${report.probe.error}`;
      const summary = `${report.state}: ${report.leaders === 1 ? `leader ${report.leader}` : `${report.leaders} leaders`}, ${report.serving}/${report.members.length} serving, ${report.quorum ? 'quorum' : 'NO quorum'}; ${probe}`;
      if (this.outputFormat === 'table') this.printer.text(this.printer.width !== undefined ? wrapLine(summary, this.printer.width, 2) : summary);
      else process.stderr.write(`${summary}\n`);
    }
    if (ac.signal.aborted) process.exitCode = 130;
    else if (!report.ok) {
      // The report is already printed; say why in one line and exit 12.
      throw new CheckFailedError(`ensemble ${report.state}: ${report.problems.join('; ')}`);
    }
    return report;
  }
}
