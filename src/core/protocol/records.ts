/**
 * ZooKeeper records and op codes, including the 3.5+ operations that
 * node-zookeeper-client 1.1.3 does not know. Paths here are server paths
 * (chroot already applied by the caller).
 */
import { JuteReader, JuteWriter } from './jute.js';

export const OpCode = {
  notification: 0,
  create: 1,
  delete: 2,
  exists: 3,
  getData: 4,
  setData: 5,
  getACL: 6,
  setACL: 7,
  getChildren: 8,
  sync: 9,
  ping: 11,
  getChildren2: 12,
  check: 13,
  multi: 14,
  create2: 15,
  reconfig: 16,
  checkWatches: 17,
  removeWatches: 18,
  createContainer: 19,
  createTTL: 21,
  multiRead: 22,
  auth: 100,
  setWatches: 101,
  sasl: 102,
  getEphemerals: 103,
  getAllChildrenNumber: 104,
  setWatches2: 105,
  addWatch: 106,
  whoAmI: 107,
  createSession: -10,
  closeSession: -11,
  error: -1,
} as const;

export const CreateFlag = {
  PERSISTENT: 0,
  EPHEMERAL: 1,
  PERSISTENT_SEQUENTIAL: 2,
  EPHEMERAL_SEQUENTIAL: 3,
  CONTAINER: 4,
  PERSISTENT_WITH_TTL: 5,
  PERSISTENT_SEQUENTIAL_WITH_TTL: 6,
} as const;

export const WatcherType = { children: 1, data: 2, any: 3, persistent: 4, persistentRecursive: 5 } as const;
export const AddWatchMode = { persistent: 0, persistentRecursive: 1 } as const;

export const Perm = { READ: 1, WRITE: 2, CREATE: 4, DELETE: 8, ADMIN: 16, ALL: 31 } as const;

export interface Id {
  scheme: string;
  id: string;
}
export interface ACL {
  perms: number;
  id: Id;
}

export const OPEN_ACL_UNSAFE: ACL[] = [{ perms: Perm.ALL, id: { scheme: 'world', id: 'anyone' } }];
export const CREATOR_ALL_ACL: ACL[] = [{ perms: Perm.ALL, id: { scheme: 'auth', id: '' } }];
export const READ_ACL_UNSAFE: ACL[] = [{ perms: Perm.READ, id: { scheme: 'world', id: 'anyone' } }];

export interface Stat {
  czxid: bigint;
  mzxid: bigint;
  ctime: number;
  mtime: number;
  version: number;
  cversion: number;
  aversion: number;
  ephemeralOwner: bigint;
  dataLength: number;
  numChildren: number;
  pzxid: bigint;
}

export function readStat(r: JuteReader): Stat {
  return {
    czxid: r.long(),
    mzxid: r.long(),
    ctime: Number(r.long()),
    mtime: Number(r.long()),
    version: r.int(),
    cversion: r.int(),
    aversion: r.int(),
    ephemeralOwner: r.long(),
    dataLength: r.int(),
    numChildren: r.int(),
    pzxid: r.long(),
  };
}

export function writeACLs(w: JuteWriter, acls: ACL[]): void {
  w.int(acls.length);
  for (const a of acls) {
    w.int(a.perms);
    w.string(a.id.scheme);
    w.string(a.id.id);
  }
}

export function readACLs(r: JuteReader): ACL[] {
  const n = r.int();
  const out: ACL[] = [];
  for (let i = 0; i < n; i++) {
    const perms = r.int();
    const scheme = r.string() ?? '';
    const id = r.string() ?? '';
    out.push({ perms, id: { scheme, id } });
  }
  return out;
}

/** Event types carried by watch notifications (Watcher.Event.EventType). */
export const EventType = {
  none: -1,
  created: 1,
  deleted: 2,
  dataChanged: 3,
  childrenChanged: 4,
  dataWatchRemoved: 5,
  childWatchRemoved: 6,
  persistentWatchRemoved: 7,
} as const;

/** sessionExpired / sessionClosed: a one-shot watch ends because its session did (Java's None event). */
export type WatchEventName = 'created' | 'deleted' | 'dataChanged' | 'childrenChanged' | 'watchRemoved' | 'sessionExpired' | 'sessionClosed' | 'unknown';

export function eventName(type: number): WatchEventName {
  switch (type) {
    case EventType.created:
      return 'created';
    case EventType.deleted:
      return 'deleted';
    case EventType.dataChanged:
      return 'dataChanged';
    case EventType.childrenChanged:
      return 'childrenChanged';
    case EventType.dataWatchRemoved:
    case EventType.childWatchRemoved:
    case EventType.persistentWatchRemoved:
      return 'watchRemoved';
    default:
      return 'unknown';
  }
}

/** One op of a multi (transaction). Paths are client paths; the session applies the chroot. */
export type MultiOp =
  | { op: 'create'; path: string; data?: Buffer; acl?: ACL[]; flags?: number; /** TTL flags (5, 6) */ ttlMs?: number }
  | { op: 'delete'; path: string; version?: number }
  | { op: 'set'; path: string; data: Buffer; version?: number }
  | { op: 'check'; path: string; version: number };

export type MultiResult =
  | { op: 'create'; path: string }
  | { op: 'delete' }
  | { op: 'set'; stat: Stat }
  | { op: 'check' }
  | { op: 'error'; err: number };

export function writeMulti(w: JuteWriter, ops: MultiOp[], chroot: (p: string) => string): void {
  for (const o of ops) {
    switch (o.op) {
      case 'create': {
        // Containers and TTL nodes have op codes of their own, inside a multi too.
        const flags = o.flags ?? 0;
        const ttl = flags === CreateFlag.PERSISTENT_WITH_TTL || flags === CreateFlag.PERSISTENT_SEQUENTIAL_WITH_TTL;
        const code = flags === CreateFlag.CONTAINER ? OpCode.createContainer : ttl ? OpCode.createTTL : OpCode.create;
        w.int(code).bool(false).int(-1);
        w.string(chroot(o.path)).buffer(o.data ?? Buffer.alloc(0));
        writeACLs(w, o.acl ?? OPEN_ACL_UNSAFE);
        w.int(flags);
        if (ttl) w.long(BigInt(o.ttlMs ?? 0));
        break;
      }
      case 'delete':
        w.int(OpCode.delete).bool(false).int(-1);
        w.string(chroot(o.path)).int(o.version ?? -1);
        break;
      case 'set':
        w.int(OpCode.setData).bool(false).int(-1);
        w.string(chroot(o.path)).buffer(o.data).int(o.version ?? -1);
        break;
      case 'check':
        w.int(OpCode.check).bool(false).int(-1);
        w.string(chroot(o.path)).int(o.version);
        break;
    }
  }
  w.int(-1).bool(true).int(-1);
}

export function readMulti(r: JuteReader, unchroot: (p: string) => string): MultiResult[] {
  const out: MultiResult[] = [];
  for (;;) {
    const type = r.int();
    const done = r.bool();
    r.int(); // err
    if (done) break;
    switch (type) {
      case OpCode.create:
      case OpCode.create2:
        out.push({ op: 'create', path: unchroot(r.string() ?? '') });
        if (type === OpCode.create2) readStat(r);
        break;
      case OpCode.delete:
        out.push({ op: 'delete' });
        break;
      case OpCode.setData:
        out.push({ op: 'set', stat: readStat(r) });
        break;
      case OpCode.check:
        out.push({ op: 'check' });
        break;
      case OpCode.error:
        out.push({ op: 'error', err: r.int() });
        break;
      default:
        throw new RangeError(`multi: unknown result type ${type}`);
    }
  }
  return out;
}

/** GetSASLRequest {buffer token}: a client SASL token (opcode 102). */
export function writeSaslRequest(w: JuteWriter, token: Buffer): void {
  w.buffer(token);
}

/** SetSASLResponse {buffer token}: the server's SASL token (a null buffer: none, read as empty). */
export function readSaslResponse(r: JuteReader): Buffer {
  return r.remaining > 0 ? (r.buffer() ?? Buffer.alloc(0)) : Buffer.alloc(0);
}
