/**
 * What the ensemble commands share: the flags that pick a local ensemble and the
 * target they resolve to, the members/actions/membership tables, and the
 * membership-change printer (ensemble status/up/add/remove/sync/config/stop/start/
 * restart/kill/logs/down/drill, health, reconfig).
 */
import { Flags } from '@oclif/core';
import chalk from 'chalk';
import { configPath, DanglingContextError, loadConfig, updateEnsembleContexts } from './context.js';
import { findLocalByServers, isEnsembleDir, load, NoEnsembleError, type LocalEnsemble, type MemberRow, type StatusView, type TargetInput } from '../ensemble/index.js';
import type { MembershipChange, MemberView } from '../ensemble/membership.js';
import type { LatencyFields } from '../ensemble/view.js';
import type { Column, OutputFormat, Printer } from '../output/index.js';

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

// Which ensemble a command means: --name/--dir, the context, -s/ZKCTL_SERVER, the default.

/**
 * What a bare `ensemble up` (no --name/--dir) acts on: the current context's local ensemble when
 * there is one (as `ensemble kill/start/down` do), else the local ensemble serving an explicit
 * -s/ZKCTL_SERVER, else the default ensemble 'local' (`reason` says why, for a note).
 */
export function resolveUpTarget(t: TargetInput): { nameOrDir?: string; ensemble?: LocalEnsemble; from: 'flags' | 'context' | 'server' | 'default'; reason?: string } {
  const o = t.env ? { env: t.env } : {};
  if (t.dir || t.name) return { from: 'flags' };
  if (!t.serverExplicit && t.contextEnsembleDir) {
    if (isEnsembleDir(t.contextEnsembleDir)) return { ensemble: load(t.contextEnsembleDir, o), from: 'context' };
    return { from: 'default', reason: `the current context's ensemble directory ${t.contextEnsembleDir} holds no ensemble any more` };
  }
  if (t.server && t.serverExplicit) {
    const byServer = findLocalByServers(t.server, o);
    if (byServer) return { ensemble: byServer, from: 'server' };
    return { from: 'default', reason: `${t.server} is not a local ensemble started by zkctl` };
  }
  return { from: 'default', reason: t.contextName ? `the current context '${t.contextName}' is not a local ensemble` : 'there is no current context' };
}


/**
 * The local ensemble a command is about: --dir, else --name, else the context's ensemble dir
 * (unless a server was given explicitly), else the local ensemble serving that server, else
 * the ensemble named 'local'. Throws UsageError when there is none.
 */
export function resolveLocal(t: TargetInput): LocalEnsemble {
  const o = t.env ? { env: t.env } : {};
  if (t.dir) return load(t.dir.includes('/') ? t.dir : `./${t.dir}`, o);
  if (t.name) return load(t.name, o);
  if (!t.serverExplicit && t.contextEnsembleDir && isEnsembleDir(t.contextEnsembleDir)) return load(t.contextEnsembleDir, o);
  if (t.server) {
    const byServer = findLocalByServers(t.server, o);
    if (byServer) return byServer;
    if (t.serverExplicit) throw new NoEnsembleError(`${t.server} is not a local ensemble started by zkctl`, 'see `zkctl ensemble ls`; pass --name or --dir');
  }
  return load('local', o);
}

/** For status: a local ensemble when one is meant, else the servers to ask. */
export function resolveStatusTarget(t: TargetInput): { local: LocalEnsemble } | { servers: string } {
  const o = t.env ? { env: t.env } : {};
  if (t.dir || t.name) return { local: resolveLocal(t) };
  if (!t.serverExplicit && t.contextEnsembleDir && isEnsembleDir(t.contextEnsembleDir)) return { local: load(t.contextEnsembleDir, o) };
  if (t.server) {
    const byServer = findLocalByServers(t.server, o);
    return byServer ? { local: byServer } : { servers: t.server };
  }
  return { local: load('local', o) };
}

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

/** The connection settings of a command (or a function giving them: read only when they matter). */
type TargetConnection = Parameters<typeof targetInput>[1] | (() => Parameters<typeof targetInput>[1]);

/**
 * The local ensemble an ensemble command is about. With --name/--dir the connection settings play
 * no part: a current-context naming no context (DanglingContextError) does not stop the command.
 */
export function targetEnsemble(flags: Parameters<typeof targetInput>[0], c: TargetConnection): LocalEnsemble {
  if (typeof c !== 'function') return resolveLocal(targetInput(flags, c));
  let conn: Parameters<typeof targetInput>[1];
  try {
    conn = c();
  } catch (e) {
    if (!(e instanceof DanglingContextError) || !(flags.name || flags.dir)) throw e;
    conn = { server: '', source: 'default' };
  }
  return resolveLocal(targetInput(flags, conn));
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

export interface EnsembleConfigResult {
  /** Config version (hex, as ZooKeeper prints it). */
  version: string;
  participants: number;
  observers: number;
  members: MemberView[];
}

export const memberColumns: Column<MemberView>[] = [
  { header: 'ID', key: 'id', get: (m) => m.id, align: 'right' },
  { header: 'ROLE', key: 'role', get: (m) => m.role },
  { header: 'CLIENT ADDRESS', key: 'address', get: (m) => m.address },
  { header: 'QUORUM', key: 'quorum', get: (m) => `${m.host}:${m.quorumPort}` },
  { header: 'ELECTION', key: 'electionPort', get: (m) => m.electionPort, align: 'right' },
  { header: 'MODE', key: 'mode', get: (m) => m.mode },
];

export function configResult(version: string, members: MemberView[]): EnsembleConfigResult {
  return {
    version,
    participants: members.filter((m) => m.role === 'participant').length,
    observers: members.filter((m) => m.role === 'observer').length,
    members,
  };
}

export type MembershipOutput = Omit<MembershipChange, 'before' | 'after'> & { before: string; after: string };

export function membershipOutput(r: MembershipChange): MembershipOutput {
  return { ...r, before: r.before.versionHex, after: r.after.versionHex };
}

/**
 * Contexts whose ensemble-dir is this ensemble follow its members (also when the change failed
 * after ZooKeeper committed it: the roster says what is true; an undone change leaves it as it was).
 * Returns the contexts changed.
 */
export function followMembers(dir: string): string[] {
  try {
    const e = load(dir);
    return updateEnsembleContexts(dir, e.connectString, undefined, e.secureConnectString);
  } catch {
    /* best effort: never hide the change's own outcome */
    return [];
  }
}

/** Print a membership change: the members table and a summary line. */
export function printChange(c: { jsonEnabled(): boolean; readonly outputFormat: OutputFormat; readonly printer: Printer }, r: MembershipChange): void {
  if (c.jsonEnabled()) return;
  const out = membershipOutput(r);
  if (c.outputFormat === 'json' || c.outputFormat === 'yaml') {
    c.printer.object(out as unknown as Record<string, unknown>);
    return;
  }
  c.printer.rows(r.members, memberColumns);
  const line = `${r.action === 'add' ? 'added' : 'removed'} member ${r.id} (${r.role}) ${r.action === 'add' ? 'to' : 'from'} ensemble '${r.ensemble}'; config version ${r.before.versionHex} -> ${r.after.versionHex} in ${(r.ms / 1000).toFixed(1)}s`;
  if (c.outputFormat === 'table') c.printer.text(line);
  else process.stderr.write(`${line}\n`);
}
