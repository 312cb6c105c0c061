/**
 * Keep a local ensemble's own record of its membership (the roster, membership.json, roster.ts)
 * in line with the membership ZooKeeper committed (/zookeeper/config), when the membership
 * changed without `ensemble add` / `ensemble remove`: a raw `zkctl reconfig`, or any other
 * client's reconfig.
 *
 * - checkRoster: read the committed configuration and say how the roster differs (drift).
 * - syncRoster: the same under the ensemble's membership lock (the pid-file lock `ensemble
 *   add/remove` hold), then record the committed membership: our members with their roles,
 *   servers zkctl did not start as external. A member that was removed keeps its files and its
 *   process (zkctl did not stop it): it is a former member, which `ensemble stop ID` and
 *   `ensemble down` still stop.
 * - localEnsembleFor: which local ensemble (if any) a connect string / configuration is about.
 *
 * No oclif, no chalk, never prints. The contexts file is the CLI's business (updateEnsembleContexts).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { readDynamicConfig, type DynamicConfig } from '../core/config/dynamic.js';
import { UsageError, ZkctlError } from '../core/errors.js';
import { Session } from '../core/session.js';
import { findLocalByServers, list, load, type LocalEnsemble, type LocalEnsembleStatus, type TargetInput } from './local.js';
import { recoverInterruptedAdd, withMembershipLock } from './membership.js';
import { membershipFileProblem, rosterFromConfig, writeRoster, type ExternalMember, type MemberRole, type RosterMember, type RosterRecord } from './roster.js';

/** One difference between the recorded roster and the committed configuration. */
export interface RosterChange {
  id: number;
  /** added / removed (from the roster), changed (role, or ours <-> external, or an external server's spec). */
  change: 'added' | 'removed' | 'changed';
  /** The role now (removed: the role it had). */
  role: MemberRole;
  /** changed: the role it had. */
  from?: MemberRole;
  /** An external server (not started by zkctl): now, or (removed) before. */
  external?: boolean;
  /** changed: it was external before (and is not now), or the reverse. */
  wasExternal?: boolean;
  /** removed, one of ours: the pid of its process, which still runs. */
  pid?: number;
}

export interface RosterDrift {
  ensemble: string;
  dir: string;
  /** The committed configuration's version (hex). */
  version: string;
  /** Empty when the roster agrees with the configuration. */
  changes: RosterChange[];
}

export interface RosterSync extends RosterDrift {
  /** membership.json was rewritten. */
  updated: boolean;
  /** The members now (ours) and the external servers. */
  members: RosterMember[];
  external: ExternalMember[];
  /** Client addresses of our members (what contexts should point at). */
  connectString: string;
  /** Former members whose process still runs (`ensemble stop ID` / `ensemble down` stop them). */
  formerRunning: Array<{ id: number; pid: number }>;
}

export interface SyncOptions {
  /** Read the configuration through this session (else one is opened to the ensemble and closed). */
  session?: Session;
  /** Deadline for connecting and each request. Default 10 s. */
  timeoutMs?: number;
  /** How long to wait for a membership change of the ensemble that holds the lock. Default 30 s. */
  lockTimeoutMs?: number;
  /** Told when an interrupted `ensemble add` was rolled back (or found committed) first. */
  onNote?: (message: string) => void;
}

/** What the roster records now. */
export function recordedRoster(ens: LocalEnsemble): RosterRecord {
  return { members: ens.roster(), external: ens.externalMembers() };
}

/** How `after` differs from `before`, by id. */
export function diffRoster(before: RosterRecord, after: RosterRecord): RosterChange[] {
  type Entry = { role: MemberRole; external: boolean; server?: string };
  const index = (r: RosterRecord): Map<number, Entry> => {
    const m = new Map<number, Entry>();
    for (const x of r.members) m.set(x.id, { role: x.role, external: false });
    for (const x of r.external) m.set(x.id, { role: x.role, external: true, server: x.server });
    return m;
  };
  const b = index(before);
  const a = index(after);
  const out: RosterChange[] = [];
  for (const id of [...new Set([...b.keys(), ...a.keys()])].sort((x, y) => x - y)) {
    const was = b.get(id);
    const now = a.get(id);
    if (was && !now) out.push({ id, change: 'removed', role: was.role, ...(was.external ? { external: true } : {}) });
    else if (!was && now) out.push({ id, change: 'added', role: now.role, ...(now.external ? { external: true } : {}) });
    else if (was && now && (was.role !== now.role || was.external !== now.external || was.server !== now.server)) {
      const c: RosterChange = { id, change: 'changed', role: now.role };
      if (was.role !== now.role) c.from = was.role;
      if (now.external) c.external = true;
      if (was.external !== now.external) c.wasExternal = was.external;
      out.push(c);
    }
  }
  return out;
}

/** "member 2 removed (still running, pid 123); member 9 added (observer, external)" */
export function describeChanges(changes: RosterChange[]): string {
  return changes
    .map((c) => {
      const ext = c.external ? ', external' : '';
      if (c.change === 'removed') return `member ${c.id} removed${c.pid !== undefined ? ` (still running, pid ${c.pid})` : ''}`;
      if (c.change === 'added') return `member ${c.id} added (${c.role}${ext})`;
      const what: string[] = [];
      if (c.from) what.push(`now ${c.role} (was ${c.from})`);
      if (c.wasExternal !== undefined) what.push(c.wasExternal ? 'now started by zkctl (was external)' : 'now external');
      if (what.length === 0) what.push(`server spec changed${ext ? ' (external)' : ''}`);
      return `member ${c.id} ${what.join(', ')}`;
    })
    .join('; ');
}

/** Read /zookeeper/config through `opts.session`, or a session of its own to the ensemble. */
async function readConfigOf(ens: LocalEnsemble, opts: SyncOptions): Promise<DynamicConfig> {
  if (opts.session) return strip(await readDynamicConfig(opts.session));
  // Our members; external servers only when there is none of ours to ask.
  const server = ens.connectString || ens.externalMembers().flatMap((x) => (x.address ? [x.address] : [])).join(',');
  if (!server) throw new UsageError(`ensemble '${ens.name}' has no members to ask`);
  const session = await Session.connect({ connectString: server, timeoutMs: opts.timeoutMs ?? 10_000, auth: [{ scheme: 'digest', credential: ens.superAuth() }], ...ens.sessionSasl() });
  try {
    return strip(await readDynamicConfig(session));
  } finally {
    await session.close();
  }
}

function strip(c: DynamicConfig): DynamicConfig {
  return { version: c.version, versionHex: c.versionHex, servers: c.servers };
}

/** The committed configuration split into our members and external servers; refuses one with none of ours. */
function recordOf(ens: LocalEnsemble, cfg: DynamicConfig): RosterRecord {
  const rec = rosterFromConfig(ens.dir, ens.spec, cfg);
  if (rec.members.length === 0) {
    throw new ZkctlError(`the configuration (version ${cfg.versionHex}) has none of the members of ensemble '${ens.name}' (servers ${cfg.servers.map((s) => s.id).join(', ')}); not recording it`, undefined, {
      hint: `see zkctl ensemble config; the ensemble's members are on 127.0.0.1 at ports ${ens.spec.basePort}+id-1`,
    });
  }
  return rec;
}

/** Does the roster of a local ensemble agree with ZooKeeper's configuration? Read-only, no lock. */
export async function checkRoster(ens: LocalEnsemble, opts: SyncOptions = {}): Promise<RosterDrift> {
  const cfg = await readConfigOf(ens, opts);
  const changes = diffRoster(recordedRoster(ens), rosterFromConfig(ens.dir, ens.spec, cfg));
  return { ensemble: ens.name, dir: ens.dir, version: cfg.versionHex, changes: withPids(ens, changes) };
}

/** Removed members of ours: the pid of their process when it still runs. */
function withPids(ens: LocalEnsemble, changes: RosterChange[]): RosterChange[] {
  return changes.map((c) => {
    if (c.change !== 'removed' || c.external || !existsSync(ens.configPath(c.id))) return c;
    const pid = ens.pidOf(c.id);
    return pid !== undefined ? { ...c, pid } : c;
  });
}

/**
 * Bring the roster of a local ensemble in line with the configuration ZooKeeper committed, under
 * the membership lock (so it never interleaves with `ensemble add/remove`). Nothing is started
 * or stopped. membership.json is written only when something differs.
 */
export async function syncRoster(ensIn: LocalEnsemble, opts: SyncOptions = {}): Promise<RosterSync> {
  return withMembershipLock(ensIn.dir, opts.lockTimeoutMs ?? 30_000, async () => {
    const cfg = await readConfigOf(load(ensIn.dir), opts);
    const recovered = await recoverInterruptedAdd(ensIn, cfg);
    if (recovered) opts.onNote?.(recovered);
    const ens = load(ensIn.dir);
    const want = recordOf(ens, cfg);
    const changes = withPids(ens, diffRoster(recordedRoster(ens), want));
    // An unreadable membership.json is rewritten even when what it falls back to happens to agree.
    const unreadable = membershipFileProblem(ens.dir) !== undefined;
    if (changes.length > 0 || unreadable) writeRoster(ens.dir, want.members, want.external);
    return {
      ensemble: ens.name,
      dir: ens.dir,
      version: cfg.versionHex,
      changes,
      updated: changes.length > 0 || unreadable,
      members: ens.roster(),
      external: ens.externalMembers(),
      connectString: ens.connectString,
      formerRunning: formerRunning(ens),
    };
  });
}

export interface CheckedStatus {
  status: LocalEnsembleStatus;
  /** Set when the roster differs from the committed configuration (read when a member serves). */
  drift?: RosterDrift;
  formerRunning: Array<{ id: number; pid: number }>;
}

/**
 * The status of a local ensemble (LocalEnsemble.status) and, when one of its members serves,
 * whether its roster agrees with the committed configuration (best effort: a configuration
 * that cannot be read is no drift). Both run side by side, each bounded by timeoutMs.
 */
export async function statusWithDrift(ens: LocalEnsemble, opts: { timeoutMs?: number } = {}): Promise<CheckedStatus> {
  const timeoutMs = opts.timeoutMs ?? 2000;
  const anyRunning = ens.ids.some((id) => ens.isRunning(id)) || ens.externalMembers().length > 0;
  const check = anyRunning ? checkRoster(ens, { timeoutMs }).catch(() => undefined) : Promise.resolve(undefined);
  const status = await ens.status({ timeoutMs });
  const drift = await check;
  const out: CheckedStatus = { status, formerRunning: formerRunning(ens) };
  if (drift && drift.changes.length > 0 && status.serving > 0) out.drift = drift;
  return out;
}

/** Former members whose process still runs. */
export function formerRunning(ens: LocalEnsemble): Array<{ id: number; pid: number }> {
  return ens.formerMembers().flatMap((id) => {
    const pid = ens.pidOf(id);
    return pid !== undefined ? [{ id, pid }] : [];
  });
}

/**
 * The local ensemble that a connection and the configuration read through it are about: the
 * context's ensemble (unless a server was given explicitly), else the local ensemble serving
 * that connect string (as `ensemble status` finds it), else any known ensemble. A candidate
 * counts only if the configuration has one of its members (on this host, at the ports of its
 * id, its files in the ensemble dir) and that member's process runs: ports reused by another
 * ensemble, or a stopped ensemble's stale directory, never match.
 */
export function localEnsembleFor(t: TargetInput, cfg: Pick<DynamicConfig, 'servers'>): LocalEnsemble | undefined {
  const o = t.env ? { env: t.env } : {};
  const owns = (e: LocalEnsemble | undefined): e is LocalEnsemble =>
    !!e && rosterFromConfig(e.dir, e.spec, cfg).members.some((m) => e.pidOf(m.id) !== undefined);
  const tryLoad = (f: () => LocalEnsemble | undefined): LocalEnsemble | undefined => {
    try {
      return f();
    } catch {
      return undefined;
    }
  };
  const seen = new Set<string>();
  const candidates: Array<() => LocalEnsemble | undefined> = [
    () => (!t.serverExplicit && t.contextEnsembleDir && existsSync(join(t.contextEnsembleDir, 'ensemble.json')) ? load(t.contextEnsembleDir, o) : undefined),
    () => (t.server ? findLocalByServers(t.server, o) : undefined),
  ];
  for (const c of candidates) {
    const e = tryLoad(c);
    if (e) seen.add(e.dir);
    if (owns(e)) return e;
  }
  for (const s of safeList(o)) {
    if (seen.has(s.dir)) continue;
    const e = tryLoad(() => load(s.dir, o));
    if (owns(e)) return e;
  }
  return undefined;
}

function safeList(o: { env?: NodeJS.ProcessEnv }): Array<{ dir: string }> {
  try {
    return list(o);
  } catch {
    return [];
  }
}
