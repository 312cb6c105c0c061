/**
 * Contender nodes shared by the lock and election recipes: the node-name
 * formats other clients write (byte-for-byte), ordering, listing, and the
 * fencing schedule derived from the session timeout.
 *
 * Formats (see shared/DESIGN.md):
 * - Curator InterProcessMutex / LeaderSelector: `_c_<uuid 36>-lock-<seq 10>`
 *   (Curator's "protected" prefix `_c_<UUID.randomUUID()>-`, then `lock-`).
 * - Curator LeaderLatch: `_c_<uuid 36>-latch-<seq 10>`.
 * - kazoo Lock / Election: `<uuid4().hex 32>__lock__<seq 10>`.
 * - Curator InterProcessReadWriteLock: read lock `_c_<uuid 36>-__READ__<seq 10>`,
 *   write lock `_c_<uuid 36>-__WRIT__<seq 10>`, both directly under the path.
 * - kazoo ReadLock `<hex 32>__rlock__<seq 10>`; kazoo WriteLock is `__lock__`
 *   (the same name as Lock).
 *
 * Modes: read nodes (`__READ__`, `__rlock__`) are shared, every other contender
 * is exclusive ("write"). A shared contender holds when no exclusive one is
 * ahead of it; an exclusive one when it is first (see blockerOf).
 *
 * Every zkctl contender orders ALL recognised contenders of a path by the
 * number after the last `lock-`, `latch-`, `__lock__`, `__READ__`, `__WRIT__` or `__rlock__` (ties, which the server
 * never produces within one parent, by name), so zkctl never lets two holders
 * in whatever mix of formats is on the path. The other clients are narrower:
 * kazoo only sees `__lock__` nodes (unless given `extra_lock_patterns=["-lock-"]`),
 * and Curator orders names without its marker as whole strings (after its own).
 * To exclude a kazoo client use the kazoo format; to exclude Curator, Curator's.
 */
import { randomUUID } from 'node:crypto';
import { networkInterfaces } from 'node:os';
import { isZkCode, ZkCode } from '../errors.js';
import { joinPath } from '../paths.js';
import type { Session, Stat } from '../session.js';

/** How a contender node was named (who probably wrote it). */
export type ContenderFormat = 'curator' | 'curator-latch' | 'kazoo' | 'other';

/** Formats zkctl can write. */
export type NodeFormat = 'curator' | 'curator-latch' | 'kazoo';

/**
 * How a lock contender wants the lock: 'exclusive' (a plain mutex: Curator
 * InterProcessMutex, kazoo Lock), or the two sides of a read-write lock
 * (Curator InterProcessReadWriteLock, kazoo ReadLock/WriteLock).
 */
export type LockMode = 'exclusive' | 'read' | 'write';

/** What a contender node is to the others: shared ('read') or exclusive ('write', mutexes included). */
export type ContenderMode = 'read' | 'write';

export const NODE_FORMATS: readonly NodeFormat[] = ['curator', 'curator-latch', 'kazoo'];

/** The parts of a contender node name. */
export interface ParsedName {
  name: string;
  /** Everything before the sequence number: unique per contender (`_c_<uuid>-lock-`). */
  prefix: string;
  marker: 'lock-' | 'latch-' | '__lock__' | '__READ__' | '__WRIT__' | '__rlock__';
  /** Shared ('read': `__READ__`, `__rlock__`) or exclusive ('write': everything else). */
  mode: ContenderMode;
  /** The server's sequence number (kazoo allows a negative one after overflow). */
  seq: number;
  format: ContenderFormat;
}

const NAME_RE = /^(.*?)(lock-|latch-|__lock__|__READ__|__WRIT__|__rlock__)(-?\d{10})$/s;
const CURATOR_PROTECTED_RE = /^_c_[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}-$/;
const KAZOO_UUID_RE = /^[0-9a-f]{32}$/;

/** Regexes the formats must match exactly (tests and `ls` use them). */
export const NODE_NAME_PATTERNS: Record<NodeFormat, RegExp> = {
  curator: /^_c_[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}-lock-\d{10}$/,
  'curator-latch': /^_c_[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}-latch-\d{10}$/,
  kazoo: /^[0-9a-f]{32}__lock__\d{10}$/,
};

/** Regexes for the read-write lock nodes (kazoo's WriteLock is its Lock: `__lock__`). */
export const RW_NODE_NAME_PATTERNS: Record<'curator' | 'kazoo', Record<'read' | 'write', RegExp>> = {
  curator: {
    read: /^_c_[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}-__READ__\d{10}$/,
    write: /^_c_[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}-__WRIT__\d{10}$/,
  },
  kazoo: {
    read: /^[0-9a-f]{32}__rlock__\d{10}$/,
    write: /^[0-9a-f]{32}__lock__\d{10}$/,
  },
};

/** Parse a child name; undefined when it is not a contender node. */
export function parseContenderName(name: string): ParsedName | undefined {
  const m = NAME_RE.exec(name);
  if (!m) return undefined;
  const prefix = m[1] ?? '';
  const marker = m[2] as ParsedName['marker'];
  let format: ContenderFormat = 'other';
  if ((marker === '__lock__' || marker === '__rlock__') && KAZOO_UUID_RE.test(prefix)) format = 'kazoo';
  else if ((marker === 'lock-' || marker === '__READ__' || marker === '__WRIT__') && CURATOR_PROTECTED_RE.test(prefix)) format = 'curator';
  else if (marker === 'latch-' && CURATOR_PROTECTED_RE.test(prefix)) format = 'curator-latch';
  const mode: ContenderMode = marker === '__READ__' || marker === '__rlock__' ? 'read' : 'write';
  return { name, prefix: prefix + marker, marker, mode, seq: Number(m[3]), format };
}

/**
 * The lock mode a node stands for, named as ZKCTL_LOCK_MODE is: 'read' (Curator __READ__, kazoo
 * __rlock__), 'write' (Curator's read-write lock __WRIT__), 'exclusive' (a plain mutex: Curator
 * InterProcessMutex -lock-, kazoo Lock __lock__, which kazoo's WriteLock also writes, and latch nodes).
 */
export function lockModeOf(p: Pick<ParsedName, 'marker'>): LockMode {
  return p.marker === '__READ__' || p.marker === '__rlock__' ? 'read' : p.marker === '__WRIT__' ? 'write' : 'exclusive';
}

/** Contender order: sequence number, then name. */
export function compareContenders(a: ParsedName, b: ParsedName): number {
  return a.seq - b.seq || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
}

/** The contender nodes among `children`, in lock order. */
export function sortContenders(children: readonly string[]): ParsedName[] {
  const out: ParsedName[] = [];
  for (const c of children) {
    const p = parseContenderName(c);
    if (p) out.push(p);
  }
  return out.sort(compareContenders);
}

/**
 * Which contender blocks `sorted[i]` (an index into `sorted`, which is in lock
 * order), or undefined when it holds the lock:
 * - a shared ('read') contender is blocked by the closest exclusive contender
 *   ahead of it (Curator's ReadLock waits for the first one, kazoo's for the
 *   last; either way it may go once none is left);
 * - an exclusive contender is blocked by the one just ahead of it, of any mode.
 * The blocker is the only node a waiter watches (no herd effect).
 */
export function blockerOf(sorted: readonly { mode: ContenderMode }[], i: number): number | undefined {
  if (sorted[i]?.mode === 'read') {
    for (let j = i - 1; j >= 0; j--) if (sorted[j]!.mode === 'write') return j;
    return undefined;
  }
  return i > 0 ? i - 1 : undefined;
}

/**
 * A fresh, unique node-name prefix for one contender in `format` (the server
 * appends the 10-digit sequence). The prefix is how a contender finds its own
 * node again after a connection loss during create. `mode` picks the
 * read-write lock names (Curator `__READ__`/`__WRIT__`, kazoo `__rlock__`/`__lock__`).
 */
export function newNodePrefix(format: NodeFormat, mode: LockMode = 'exclusive'): string {
  if (mode !== 'exclusive' && format === 'curator-latch') throw new Error(`no ${mode} lock in format ${format}`);
  switch (format) {
    case 'curator':
      return `_c_${randomUUID()}-${mode === 'read' ? '__READ__' : mode === 'write' ? '__WRIT__' : 'lock-'}`;
    case 'curator-latch':
      return `_c_${randomUUID()}-latch-`;
    case 'kazoo':
      return `${randomUUID().replace(/-/g, '')}${mode === 'read' ? '__rlock__' : '__lock__'}`;
  }
}

/**
 * Curator's default node data: the local address (Curator uses
 * `InetAddress.getLocalHost().getHostAddress()`; here: the first non-internal
 * IPv4 address, else 127.0.0.1).
 */
export function localAddress(): string {
  const ifs = networkInterfaces();
  for (const list of Object.values(ifs)) {
    for (const a of list ?? []) {
      if (!a.internal && a.family === 'IPv4') return a.address;
    }
  }
  return '127.0.0.1';
}

/** One contender as read from the server. */
export interface Contender {
  /** Node name (last path segment). */
  name: string;
  /** Full path (as the session sees it, i.e. under its chroot). */
  path: string;
  format: ContenderFormat;
  seq: number;
  /** Place in line: 0 = first (a holder / the leader), then the others in order. */
  position: number;
  /** Shared ('read') or exclusive ('write'). */
  mode: ContenderMode;
  /** Holds the lock now: the first contender, and every read contender with no write contender ahead. */
  holds: boolean;
  /** The node's data as UTF-8: the holder id (Curator: the local IP by default; kazoo/latch: the identifier). */
  id: string;
  data: Buffer;
  /** The node's creation zxid: zkctl's fencing token for the holder. */
  czxid: bigint;
  /** Creation time (ms since the epoch, server clock). */
  ctime: number;
  /** Session that owns the (ephemeral) node. */
  ephemeralOwner: bigint;
}

/**
 * The contenders under `path` in lock order, with data and stat. Nodes that
 * vanish between the listing and the read are skipped; a missing `path` gives [].
 */
export async function listContenders(session: Session, path: string): Promise<Contender[]> {
  let children: string[];
  try {
    children = (await session.getChildren(path)).children;
  } catch (e) {
    if (isZkCode(e, ZkCode.NO_NODE)) return [];
    throw e;
  }
  const sorted = sortContenders(children);
  const read = await Promise.all(
    sorted.map(async (p) => {
      const full = joinPath(path, p.name);
      try {
        const { data, stat } = await session.get(full);
        return { p, full, data, stat };
      } catch (e) {
        if (isZkCode(e, ZkCode.NO_NODE)) return undefined;
        throw e;
      }
    }),
  );
  const out: Contender[] = [];
  for (const r of read) {
    if (!r) continue;
    out.push(toContender(r.p, r.full, r.data, r.stat, out.length));
  }
  for (let i = 0; i < out.length; i++) out[i]!.holds = blockerOf(out, i) === undefined;
  return out;
}

function toContender(p: ParsedName, path: string, data: Buffer, stat: Stat, position: number): Contender {
  return {
    name: p.name,
    path,
    format: p.format,
    seq: p.seq,
    position,
    mode: p.mode,
    holds: position === 0,
    id: data.toString('utf8'),
    data,
    czxid: stat.czxid,
    ctime: stat.ctime,
    ephemeralOwner: stat.ephemeralOwner,
  };
}

/**
 * When to stop a command that runs under a lock or leadership, counted from the
 * last byte received from the server (T = the negotiated session timeout):
 *
 * - The server expires the session no earlier than T after it last heard from
 *   us; only then can another contender get the lock. zkctl wants the command
 *   dead by `killByMs` = 0.8·T, leaving 20% for scheduling and clock drift.
 * - SIGTERM at `stopAfterMs` = min(T/2, 0.8·T − grace), but never before T/3
 *   (a healthy idle connection hears from the server at least every T/3; the
 *   holder also polls its own node every T/6).
 * - SIGKILL `graceMs` later, where the grace is capped so that stop + grace ≤ 0.8·T.
 *
 * With the default T = 30 s and grace 5 s: SIGTERM at 15 s, SIGKILL at 20 s.
 * With T = 4 s (the least a default server grants) and grace 5 s: SIGTERM at 1.33 s,
 * SIGKILL at 3.2 s (the grace shrinks to 1.87 s).
 */
export interface FencingSchedule {
  sessionTimeoutMs: number;
  stopAfterMs: number;
  graceMs: number;
  killByMs: number;
}

export function fencingSchedule(sessionTimeoutMs: number, graceMs: number): FencingSchedule {
  const T = sessionTimeoutMs;
  const killByMs = Math.floor(T * 0.8);
  const stopAfterMs = Math.floor(Math.max(T / 3, Math.min(T / 2, killByMs - graceMs)));
  const grace = Math.max(0, Math.min(graceMs, killByMs - stopAfterMs));
  return { sessionTimeoutMs: T, stopAfterMs, graceMs: grace, killByMs: stopAfterMs + grace };
}
