/** Rows and columns for `lock ls` and `elect ls` (one definition for both). */
import { formatDuration } from '../core/duration.js';
import { type Contender, lockModeOf, parseContenderName } from '../core/recipes/contenders.js';
import { sessionHex } from '../core/session-id.js';
import { sessionClients } from '../core/recipes/owners.js';
import { isRevokeRequest } from '../core/recipes/revoke.js';
import type { Session } from '../core/session.js';
import type { Column } from '../output/index.js';

export interface ContenderRow {
  position: number;
  /** holder/waiter (lock) or leader/candidate (election). */
  role: string;
  /** As ZKCTL_LOCK_MODE: exclusive (a mutex node), read or write (read-write lock nodes): lock rows only. */
  mode?: string;
  format: string;
  id: string;
  node: string;
  seq: number;
  /** ms since the node was created (server clock). */
  ageMs: number;
  /** Creation time, ms since the epoch (server clock), and as ISO text: named as in `stat -o json`. */
  ctime: number;
  ctimeIso: string;
  /** The node's creation zxid, hex (`stat -o json`'s cZxid; the holder's fencing token). */
  cZxid: string;
  session: string;
  /** Client address of the owning session, from `cons` (when available). */
  client: string | null;
  /** Lock rows: the node's data is `__REVOKE__` (revocation asked, not acted on yet or ignored; id then reads __REVOKE__). */
  revokeRequested?: boolean;
}

export const contenderColumns: Column<ContenderRow>[] = [
  { header: '#', key: 'position', get: (r) => r.position, align: 'right' },
  { header: 'ROLE', key: 'role', get: (r) => r.role },
  { header: 'FORMAT', key: 'format', get: (r) => r.format },
  { header: 'ID', key: 'id', get: (r) => r.id },
  { header: 'AGE', key: 'age', get: (r) => formatDuration(r.ageMs), align: 'right' },
  { header: 'SESSION', key: 'session', get: (r) => r.session },
  { header: 'CLIENT', key: 'client', get: (r) => r.client ?? '' },
  { header: 'NODE', key: 'node', get: (r) => r.node },
];

/** `lock ls`: the contender columns with each node's mode. */
export const lockColumns: Column<ContenderRow>[] = [
  ...contenderColumns.slice(0, 2),
  { header: 'MODE', key: 'mode', get: (r) => r.mode ?? '' },
  ...contenderColumns.slice(2),
];

/** `-o wide`: with the sequence number, creation zxid (fencing token) and creation time. */
export function wideColumns(cols: Column<ContenderRow>[]): Column<ContenderRow>[] {
  return [
    ...cols.slice(0, -1),
    { header: 'SEQ', key: 'seq', get: (r) => r.seq, align: 'right' },
    { header: 'CZXID', key: 'cZxid', get: (r) => r.cZxid, align: 'right' },
    { header: 'CREATED', key: 'ctimeIso', get: (r) => r.ctimeIso },
    ...cols.slice(-1),
  ];
}

/**
 * Rows for `list`. Lock rows (`withMode`) say whether each node holds the lock
 * (several readers can) and its mode; election rows: the first leads.
 */
export async function contenderRows(session: Session, list: Contender[], roles: [first: string, rest: string], withMode = false): Promise<ContenderRow[]> {
  const clients = list.length > 0 ? await sessionClients(session.servers) : new Map<string, string>();
  const now = Date.now();
  return list.map((c) => {
    const sid = sessionHex(c.ephemeralOwner);
    return {
      position: c.position,
      role: (withMode ? c.holds : c.position === 0) ? roles[0] : roles[1],
      ...(withMode ? { mode: lockModeOf(parseContenderName(c.name)!) } : {}),
      format: c.format,
      id: c.id,
      node: c.name,
      seq: c.seq,
      ageMs: Math.max(0, now - c.ctime),
      ctime: c.ctime,
      ctimeIso: new Date(c.ctime).toISOString(),
      cZxid: `0x${c.czxid.toString(16)}`,
      session: sid,
      client: clients.get(sid) ?? null,
      ...(withMode ? { revokeRequested: isRevokeRequest(c.data) } : {}),
    };
  });
}
