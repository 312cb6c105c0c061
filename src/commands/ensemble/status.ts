import { Flags } from '@oclif/core';
import chalk from 'chalk';
import { BaseCommand } from '../../cli/base.js';
import { loadConfig, configPath } from '../../cli/context.js';
import { parseDuration } from '../../core/duration.js';
import { ConnectionError } from '../../core/errors.js';
import { ensembleStatus, resolveLocal, resolveStatusTarget, statusView, type LocalEnsemble, type MemberRow, type StatusView, type TargetInput } from '../../ensemble/index.js';
import type { LatencyFields } from '../../ensemble/view.js';
import { describeChanges, statusWithDrift } from '../../ensemble/sync.js';
import type { Column } from '../../output/index.js';

/** Flags that pick a local ensemble (shared by the ensemble commands). */
export const targetFlags = {
  name: Flags.string({ summary: 'Local ensemble name (default: the current context\'s ensemble, else "local").' }),
  dir: Flags.string({ summary: 'Local ensemble directory (instead of --name).' }),
};

const num = (v: number | undefined): string => (v === undefined ? '' : String(Math.round(v * 10) / 10));

/** The latency column of `ensemble status` and `health` (one header, one format: min/avg/max ms). */
export function latencyColumn<T extends LatencyFields>(priority: number): Column<T> {
  return {
    header: 'LATENCY MIN/AVG/MAX',
    key: 'latency',
    get: (r) => (r.latencyMin === undefined ? undefined : `${num(r.latencyMin)}/${num(r.latencyAvg)}/${num(r.latencyMax)}`),
    align: 'right',
    priority,
    shortHeader: 'LAT',
  };
}

export const statusColumns: Column<MemberRow>[] = [
  { header: 'ID', key: 'id', get: (r) => r.id, align: 'right', priority: 0 },
  { header: 'ADDRESS', key: 'address', get: (r) => r.address, priority: 1 },
  {
    header: 'MODE',
    key: 'mode',
    priority: 0,
    get: (r) => r.mode,
    style: (t) => (t === 'leader' ? chalk.green.bold(t) : t === 'down' ? chalk.red(t) : t === 'not-serving' || t === 'not-answering' ? chalk.yellow(t) : t),
  },
  { header: 'ZXID', key: 'zxid', get: (r) => r.zxid, priority: 2 },
  { header: 'EPOCH', key: 'epoch', get: (r) => r.epoch, align: 'right', priority: 6 },
  latencyColumn(7),
  { header: 'CONNS', key: 'connections', get: (r) => r.connections, align: 'right', priority: 5 },
  { header: 'OUTSTANDING', key: 'outstanding', get: (r) => r.outstanding, align: 'right', priority: 8, shortHeader: 'OUTST' },
  { header: 'ZNODES', key: 'znodes', get: (r) => r.znodes, align: 'right', priority: 4 },
  { header: 'PID', key: 'pid', get: (r) => (r.external ? 'external' : r.pid), align: 'right', priority: 3 },
];

/** Settings that pick the ensemble: flags, the resolved server, the context's ensemble dir. */
export function targetInput(flags: { name?: string; dir?: string }, c: { server: string; source: string; context?: string }): TargetInput {
  let contextEnsembleDir: string | undefined;
  if (c.context) contextEnsembleDir = loadConfig(configPath())?.contexts[c.context]?.['ensemble-dir'];
  const t: TargetInput = { server: c.server, serverExplicit: c.source === 'flag' || c.source.startsWith('env') };
  if (flags.name) t.name = flags.name;
  if (flags.dir) t.dir = flags.dir;
  if (contextEnsembleDir) t.contextEnsembleDir = contextEnsembleDir;
  if (c.context) t.contextName = c.context;
  return t;
}

/** The local ensemble an ensemble command is about. */
export function targetEnsemble(flags: Parameters<typeof targetInput>[0], c: Parameters<typeof targetInput>[1]): LocalEnsemble {
  return resolveLocal(targetInput(flags, c));
}

export default class EnsembleStatus extends BaseCommand<typeof EnsembleStatus> {
  static override summary = 'Show every member: mode, zxid, epoch, latency, connections, znodes, pid.';
  static override description = `Asks each member for its four-letter words (srvr, mntr, conf) in parallel, with a deadline (--timeout, default 2s per member). A member that does not answer is "down"; one that answers but does not serve (electing, no quorum) is "not-serving"; a local member whose process runs but does not answer (paused with SIGSTOP, hung) is "not-answering", as in \`ensemble ls\`. A local member's process is found by its pid file, else by its command line (one whose pid file was lost is still asked). Former members (removed, files kept) that still run are named in a warning on stderr (in JSON/YAML: "formerRunning").

A local ensemble's members are those recorded by zkctl (membership.json, kept in step by \`ensemble add/remove\`, \`zkctl reconfig\` and \`ensemble sync\`). Servers in its configuration that zkctl did not start are listed too, with PID "external" (in JSON: "external": true); they count for the quorum, zkctl never starts or stops them. When the recorded membership differs from ZooKeeper's configuration (/zookeeper/config, read when a member serves), a one-line warning goes to stderr ("drift" in JSON): \`zkctl ensemble sync\` records the committed membership.

Which ensemble: --name/--dir pick a local ensemble; otherwise the current context (set by \`ensemble up\`), -s/--server or ZKCTL_SERVER. Any ensemble works: for one zkctl did not start, the members are the hosts of the connect string (ids come from each server's own config, pids are not known).

Exit 0 when at least one member answers, 8 when none does (the table is printed either way).`;
  static override examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> --name dev -o json',
    '<%= config.bin %> <%= command.id %> -s zk1:2181,zk2:2181,zk3:2181',
    "<%= config.bin %> <%= command.id %> -o plain | awk '$3 == \"leader\" {print $1}'",
  ];
  static override flags = { ...targetFlags };

  async run(): Promise<StatusView> {
    const timeoutMs = this.flags.timeout ? parseDuration(this.flags.timeout, 'timeout') : 2000;
    const target = resolveStatusTarget(targetInput(this.flags, this.connection));
    let view: StatusView;
    if ('local' in target) {
      const e = target.local;
      const mw = e.membershipWarning();
      if (mw) process.stderr.write(`zkctl: warning: ${mw}\n`);
      const checked = await statusWithDrift(e, { timeoutMs });
      view = statusView(checked.status, { name: e.name, dir: e.dir, connectString: e.connectString });
      if (checked.drift) {
        view.drift = { version: checked.drift.version, changes: checked.drift.changes };
        process.stderr.write(`zkctl: warning: the membership recorded for ensemble '${e.name}' differs from ZooKeeper's configuration (version ${checked.drift.version}): ${describeChanges(checked.drift.changes)} (run: zkctl ensemble sync)\n`);
      }
      const former = checked.formerRunning;
      if (former.length > 0) {
        view.formerRunning = former;
        // Text output has no column for them: said on stderr, TTY or not (JSON/YAML carry formerRunning).
        const textOut = !this.jsonEnabled() && this.outputFormat !== 'json' && this.outputFormat !== 'yaml';
        if (textOut)
          process.stderr.write(`zkctl: warning: former member${former.length > 1 ? 's' : ''} ${former.map((f) => `${f.id} (pid ${f.pid})`).join(', ')} of ensemble '${e.name}' still running, not in its membership; \`zkctl ensemble stop ID\` or \`ensemble down\` stops ${former.length > 1 ? 'them' : 'it'}\n`);
      }
    } else {
      view = statusView(await ensembleStatus(target.servers, { timeoutMs }), { connectString: target.servers });
    }
    if (!this.jsonEnabled()) this.printer.rows(view.members, statusColumns, view);
    if (this.outputFormat === 'table') this.progress(summaryLine(view));
    if (view.members.every((m) => m.mode === 'down' || m.mode === 'not-answering')) {
      throw new ConnectionError(`no member of ${view.name ? `ensemble '${view.name}'` : view.connectString} answers`, {
        hint: view.name ? 'start it with `zkctl ensemble up`' : 'check the addresses and that 4lw.commands.whitelist includes srvr',
      });
    }
    return view;
  }
}

export function summaryLine(v: StatusView): string {
  const who = v.name ? `ensemble '${v.name}'` : v.connectString;
  const leader = v.leader !== undefined ? `leader ${v.leader}` : 'no leader';
  return `${who}: ${leader}, ${v.serving}/${v.members.length} serving, ${v.quorum ? 'quorum' : 'NO quorum'}`;
}

/** One member action (stop/start/restart/kill), as printed. */
export interface ActionRow {
  id: number;
  action: 'stop' | 'start' | 'restart' | 'kill';
  /** What happened: stopped, killed, started, restarted, already-running, not-running. */
  result: string;
  pid?: number;
  signal?: string;
  /** Mode after start/restart (when waited for). */
  mode?: string;
  ms: number;
}

export const actionColumns: Column<ActionRow>[] = [
  { header: 'ID', key: 'id', get: (r) => r.id, align: 'right' },
  { header: 'RESULT', key: 'result', get: (r) => r.result },
  { header: 'PID', key: 'pid', get: (r) => r.pid, align: 'right' },
  { header: 'SIGNAL', key: 'signal', get: (r) => r.signal },
  { header: 'MODE', key: 'mode', get: (r) => r.mode },
  { header: 'MS', key: 'ms', get: (r) => r.ms, align: 'right' },
];

export const memberArg = { description: "member id (as `ensemble status` lists them) or 'leader'", required: true } as const;
