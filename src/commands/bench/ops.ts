import { Flags } from '@oclif/core';
import { BaseCommand } from '../../cli/base.js';
import { UsageError } from '../../core/errors.js';
import type { Column } from '../../output/index.js';

type Result = import('../../bench/ops.js').OpsBenchResult;
type Row = import('../../bench/ops.js').OpsRow;

const PHASES = ['create', 'set', 'get', 'exists', 'getChildren', 'delete', 'ephemeral', 'watch'];

const columns: Column<Row>[] = [
  { header: 'PHASE', key: 'phase', get: (r) => r.phase },
  { header: 'WINDOW', key: 'window', get: (r) => r.window, align: 'right' },
  { header: 'SESSIONS', key: 'sessions', get: (r) => r.sessions, align: 'right' },
  { header: 'OPS', key: 'ops', get: (r) => r.ops, align: 'right' },
  { header: 'OPS/S', key: 'opsPerSec', get: (r) => r.opsPerSec, align: 'right' },
  { header: 'P50 MS', key: 'p50Ms', get: (r) => r.p50Ms.toFixed(3), align: 'right' },
  { header: 'P99 MS', key: 'p99Ms', get: (r) => r.p99Ms.toFixed(3), align: 'right' },
  { header: 'P99.9 MS', key: 'p999Ms', get: (r) => r.p999Ms.toFixed(3), align: 'right' },
  { header: 'CPU µS/OP', key: 'cpuUsPerOp', get: (r) => r.cpuUsPerOp.toFixed(1), align: 'right' },
  { header: 'ERRORS', key: 'errors', get: (r) => r.errors, align: 'right' },
];

export default class BenchOps extends BaseCommand<typeof BenchOps> {
  static override summary = 'Measure ZooKeeper operations through zkctl: ops/s, latency percentiles, client CPU per op.';
  static override description = `Phases: create, set, get, exists, getChildren, delete, ephemeral (create of ephemeral nodes), watch (from a setData by one session to the watch notification at another). Each phase runs --count ops with WINDOW requests in flight, for every --window value, spread over --sessions sessions, under a scratch node that is removed at the end. set/get/exists/getChildren cycle over --nodes existing nodes.

\`npm run bench:ops\` runs this next to the official Java client (shared/reference/ZkJavaBench.java) on the same ensemble and prints the ratio.

In plain output (a pipe) the first line is a "# " comment naming the columns (tab-separated, like the rows); --no-headers leaves it out.`;
  static override examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> --phases get,set --count 50000 --window 1000 --sessions 1 --json',
    '<%= config.bin %> <%= command.id %> --size 1024 --window 1,100 --sessions 4',
  ];
  static override flags = {
    phases: Flags.string({ summary: `Comma-separated phases (${PHASES.join(', ')}).`, default: PHASES.join(',') }),
    size: Flags.integer({ summary: 'Data size in bytes (create, set).', default: 100, min: 0 }),
    count: Flags.integer({ summary: 'Ops per phase and window.', default: 5000, min: 1 }),
    window: Flags.string({ summary: 'Requests in flight; a comma-separated list runs each.', default: '1,10,100,1000' }),
    sessions: Flags.integer({ summary: 'Sessions the ops are spread over.', default: 1, min: 1 }),
    nodes: Flags.integer({ summary: 'Distinct nodes for set/get/exists/getChildren (default min(count, 1000)).', min: 1 }),
    'no-warmup': Flags.boolean({ summary: 'Skip the unmeasured warm-up pass.' }),
    'no-headers': Flags.boolean({ summary: 'Plain output (a pipe): leave out the "# " header line naming the columns.' }),
  };

  async run(): Promise<Result> {
    const f = this.flags;
    const phases = f.phases.split(',').map((s) => s.trim()).filter(Boolean);
    for (const p of phases) if (!PHASES.includes(p)) throw new UsageError(`unknown phase "${p}"`, `choose from ${PHASES.join(', ')}`);
    const windows = f.window.split(',').map((s) => Number(s.trim()));
    for (const w of windows) if (!Number.isInteger(w) || w < 1) throw new UsageError(`invalid --window ${f.window}`, 'positive integers, e.g. 1,10,100,1000');
    const c = this.connection;
    const { runOpsBench } = await import('../../bench/ops.js');
    const result = await runOpsBench({
      connectString: c.server,
      timeoutMs: c.timeoutMs,
      ...(c.auth ? { auth: c.auth } : {}),
      ...(c.tls ? { tls: (await import('../../core/security/tls.js')).tlsConnectOptions(c.tls) } : {}),
      ...(c.sasl ? { sasl: c.sasl } : {}),
      phases: phases as Array<(typeof import('../../bench/ops.js').OPS_PHASES)[number]>,
      size: f.size,
      count: f.count,
      windows,
      sessions: f.sessions,
      ...(f.nodes ? { nodes: f.nodes } : {}),
      warmup: !f['no-warmup'],
      onProgress: (m) => this.progress(m),
    });
    if (!this.jsonEnabled()) this.printer.rows(result.rows, columns, result, { plainHeader: !f['no-headers'] });
    return result;
  }
}
