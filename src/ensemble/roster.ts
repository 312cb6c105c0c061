/**
 * The roster of a local ensemble: which member ids it has now, and their roles. The one
 * place that reads and writes `membership.json` in the ensemble directory; LocalEnsemble
 * (members, status, up/start/down, connect string) and the membership changes
 * (`ensemble add` / `ensemble remove`, membership.ts) all go through it.
 *
 * - No membership.json: members 1..size (ensemble.json's size), all participants, as
 *   `ensemble up` creates them.
 * - `{"members": [{"id": 1, "role": "participant"}, ...]}`: written by add/remove from the
 *   configuration ZooKeeper committed. Ids can have holes (a removed member below the highest
 *   id), and observers do not vote.
 * - `{"removed": [2]}` (written by zkctl before the roster existed): 1..size without those,
 *   all participants.
 * ensemble.json's size stays the highest id that has files (ports are base + id - 1).
 *
 * Only file I/O, no processes, no ZooKeeper. Imports nothing of the ensemble library but
 * config.ts (so local.ts and membership.ts can both use it without an import cycle).
 */
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { EnsembleSpec } from './config.js';

export type MemberRole = 'participant' | 'observer';

export interface RosterMember {
  id: number;
  role: MemberRole;
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

/** Members 1..size, all participants (an ensemble as `ensemble up` made it). */
export function defaultRoster(spec: Pick<EnsembleSpec, 'size'>): RosterMember[] {
  return Array.from({ length: spec.size }, (_, i) => ({ id: i + 1, role: 'participant' as const }));
}

/** The members of the local ensemble in `dir` now: membership.json when present, else 1..size. */
export function readRoster(dir: string, spec: Pick<EnsembleSpec, 'size'>): RosterMember[] {
  return readRecordedRoster(dir, spec) ?? defaultRoster(spec);
}

/** Record the members (atomically: temp file + rename). */
export function writeRoster(dir: string, members: RosterMember[]): void {
  const p = join(dir, MEMBERSHIP_FILE);
  const tmp = `${p}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify({ members: sorted(members) }, null, 2) + '\n', { mode: 0o644 });
  renameSync(tmp, p);
}

/** Ids of the voting members (participants). */
export function votingIds(members: RosterMember[]): number[] {
  return members.filter((m) => m.role === 'participant').map((m) => m.id);
}
