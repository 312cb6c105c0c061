/**
 * The roster of a local ensemble: which member ids it has now, and their roles. The one
 * place that reads and writes `membership.json` in the ensemble directory; LocalEnsemble
 * (members, status, up/start/down, connect string) and the membership changes
 * (`ensemble add` / `ensemble remove`, membership.ts) all go through it.
 *
 * - No membership.json: members 1..size (ensemble.json's size), all participants, as
 *   `ensemble up` creates them.
 * - `{"members": [{"id": 1, "role": "participant"}, ...]}`: written by add/remove, and after a
 *   raw `zkctl reconfig` / by `ensemble sync` (sync.ts), from the configuration ZooKeeper committed. Ids can have holes (a removed member below the highest
 *   id), and observers do not vote.
 * - `{"removed": [2]}` (written by zkctl before the roster existed): 1..size without those,
 *   all participants.
 * - `"external": [{"id": 9, "role": "observer", "server": "server.9=...", "address": "h:p"}]`
 *   (next to `members`): servers in ZooKeeper's configuration that zkctl did not start (added
 *   with a raw `zkctl reconfig`, or not on this ensemble's port layout / without files here).
 *   They count for the quorum and `ensemble status` asks them, but zkctl never starts or stops
 *   them and they are not in the ensemble's connect string.
 * ensemble.json's size stays the highest id that has files (ports are base + id - 1).
 * A former member (removed with reconfig) is an id with files under members/ that is not in
 * `members`: `ensemble down` still stops its process.
 *
 * Only file I/O, no processes, no ZooKeeper. Imports nothing of the ensemble library but
 * config.ts (so local.ts and membership.ts can both use it without an import cycle).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileSafeSync } from '../core/file-write.js';
import { clientAddress, formatServerSpec, type DynamicConfig } from '../core/config/dynamic.js';
import { LOCAL_HOST, memberPorts, type EnsembleSpec } from './config.js';

export type MemberRole = 'participant' | 'observer';

export interface RosterMember {
  id: number;
  role: MemberRole;
}

/** A server in the committed configuration that zkctl did not start (see the file comment). */
export interface ExternalMember {
  id: number;
  role: MemberRole;
  /** Its server spec as ZooKeeper committed it ("server.9=host:q:e:role;chost:cport"). */
  server: string;
  /** Client address ("host:port"), when the spec has one. */
  address?: string;
}

export const MEMBERSHIP_FILE = 'membership.json';

function isId(x: unknown): x is number {
  return typeof x === 'number' && Number.isInteger(x) && x >= 1;
}

function sorted(members: RosterMember[]): RosterMember[] {
  const byId = new Map<number, RosterMember>();
  for (const m of members) byId.set(m.id, { id: m.id, role: m.role === 'observer' ? 'observer' : 'participant' });
  return [...byId.values()].sort((a, b) => a.id - b.id);
}

/** The roster recorded in `dir`, or undefined when there is no (readable) membership.json. */
export function readRecordedRoster(dir: string, spec: Pick<EnsembleSpec, 'size'>): RosterMember[] | undefined {
  let v: { members?: unknown; removed?: unknown };
  try {
    v = JSON.parse(readFileSync(join(dir, MEMBERSHIP_FILE), 'utf8')) as typeof v;
  } catch {
    return undefined;
  }
  if (!v || typeof v !== 'object') return undefined;
  if (Array.isArray(v.members)) {
    const out: RosterMember[] = [];
    for (const m of v.members as unknown[]) {
      const o = m as { id?: unknown; role?: unknown } | null;
      if (o && isId(o.id)) out.push({ id: o.id, role: o.role === 'observer' ? 'observer' : 'participant' });
    }
    return sorted(out);
  }
  if (Array.isArray(v.removed)) {
    const removed = new Set((v.removed as unknown[]).filter(isId));
    return defaultRoster(spec).filter((m) => !removed.has(m.id));
  }
  return undefined;
}

/**
 * Why membership.json cannot be used, when it exists but is unreadable or not a roster (the
 * members then fall back to 1..size, which can bring a removed member back); undefined when it
 * is fine or absent.
 */
export function membershipFileProblem(dir: string): string | undefined {
  let text: string;
  try {
    text = readFileSync(join(dir, MEMBERSHIP_FILE), 'utf8');
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ENOENT' ? undefined : (e as Error).message;
  }
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    return `not valid JSON (${(e as Error).message})`;
  }
  const o = v as { members?: unknown; removed?: unknown } | null;
  if (!o || typeof o !== 'object' || (!Array.isArray(o.members) && !Array.isArray(o.removed))) return 'no "members" list in it';
  return undefined;
}

/** Members 1..size, all participants (an ensemble as `ensemble up` made it). */
export function defaultRoster(spec: Pick<EnsembleSpec, 'size'>): RosterMember[] {
  return Array.from({ length: spec.size }, (_, i) => ({ id: i + 1, role: 'participant' as const }));
}

/** The members of the local ensemble in `dir` now: membership.json when present, else 1..size. */
export function readRoster(dir: string, spec: Pick<EnsembleSpec, 'size'>): RosterMember[] {
  return readRecordedRoster(dir, spec) ?? defaultRoster(spec);
}

/** The external servers recorded in `dir` (none when there is no membership.json or no such list). */
export function readExternal(dir: string): ExternalMember[] {
  let v: { external?: unknown };
  try {
    v = JSON.parse(readFileSync(join(dir, MEMBERSHIP_FILE), 'utf8')) as typeof v;
  } catch {
    return [];
  }
  if (!v || typeof v !== 'object' || !Array.isArray(v.external)) return [];
  const out: ExternalMember[] = [];
  for (const x of v.external as unknown[]) {
    const o = x as { id?: unknown; role?: unknown; server?: unknown; address?: unknown } | null;
    if (!o || !isId(o.id) || typeof o.server !== 'string') continue;
    const m: ExternalMember = { id: o.id, role: o.role === 'observer' ? 'observer' : 'participant', server: o.server };
    if (typeof o.address === 'string' && o.address) m.address = o.address;
    out.push(m);
  }
  return out.sort((a, b) => a.id - b.id);
}

/**
 * Record the members (atomically: temp file + rename). The external servers recorded so far
 * are kept unless `external` is given.
 */
export function writeRoster(dir: string, members: RosterMember[], external: ExternalMember[] = readExternal(dir)): void {
  const p = join(dir, MEMBERSHIP_FILE);
  const doc: { members: RosterMember[]; external?: ExternalMember[] } = { members: sorted(members) };
  if (external.length > 0) doc.external = [...external].sort((a, b) => a.id - b.id);
  writeFileSafeSync(p, JSON.stringify(doc, null, 2) + '\n');
}

/** The members of a local ensemble and the external servers, as a committed configuration makes them. */
export interface RosterRecord {
  members: RosterMember[];
  external: ExternalMember[];
}

/**
 * Split a committed configuration into the ensemble's own members and external servers. A
 * server is one of ours when it is on this host at the ports of its id (client port too, when
 * the spec has one) and its files are in the ensemble directory (zkctl made them); anything
 * else is external.
 */
export function rosterFromConfig(dir: string, spec: Pick<EnsembleSpec, 'basePort' | 'adminPort'>, cfg: Pick<DynamicConfig, 'servers'>): RosterRecord {
  const members: RosterMember[] = [];
  const external: ExternalMember[] = [];
  for (const s of cfg.servers) {
    const p = memberPorts(spec, s.id);
    const role: MemberRole = s.role === 'observer' ? 'observer' : 'participant';
    const local = s.host === LOCAL_HOST || s.host === 'localhost';
    const ours =
      s.id >= 1 &&
      local &&
      s.quorumPort === p.quorumPort &&
      s.electionPort === p.electionPort &&
      (s.clientPort === undefined || s.clientPort === p.clientPort) &&
      existsSync(join(dir, 'members', String(s.id), 'zoo.cfg'));
    if (ours) {
      members.push({ id: s.id, role });
      continue;
    }
    const x: ExternalMember = { id: s.id, role, server: formatServerSpec(s) };
    const a = clientAddress(s);
    if (a) x.address = a;
    external.push(x);
  }
  return { members: sorted(members), external: external.sort((a, b) => a.id - b.id) };
}

/** Ids of the voting members (participants). */
export function votingIds(members: RosterMember[]): number[] {
  return members.filter((m) => m.role === 'participant').map((m) => m.id);
}
