/**
 * Requests and transactions: the server's request limit (jute.maxbuffer), the
 * one way zkctl measures a request, and transactions (multi) whose creates may
 * be containers or TTL nodes, batched under a byte limit.
 *
 * Every writer that checks a size before sending (set, create, edit, import,
 * cp, config publish) measures here, so they agree on what fits.
 */
import { type ACL, CreateFlag, type MultiOp, type MultiResult, OPEN_ACL_UNSAFE } from './protocol/records.js';
import type { Session } from './session.js';

/** ZooKeeper's default jute.maxbuffer: the largest request a server accepts (bytes after the length prefix). */
export const MAX_REQUEST_BYTES = 0xfffff;

/**
 * The request limit in force: ZKCTL_JUTE_MAXBUFFER (for servers started with a
 * larger -Djute.maxbuffer), else the default. A request frame longer than that
 * makes the server drop the connection, so writers check the size first.
 */
export function maxRequestBytes(env: NodeJS.ProcessEnv = process.env): number {
  const v = env.ZKCTL_JUTE_MAXBUFFER;
  return v && /^\d+$/.test(v) ? Number(v) : MAX_REQUEST_BYTES;
}

/** Default transaction size for batched writes: under the default jute.maxbuffer with room for headers. */
export const DEFAULT_TXN_BYTES = 1_000_000;

/** Bytes of an ACL list as jute writes it. */
export function aclListBytes(acls: ACL[]): number {
  let n = 4;
  for (const a of acls) n += 4 + 4 + Buffer.byteLength(a.id.scheme) + 4 + Buffer.byteLength(a.id.id);
  return n;
}

/** The server-side path of `path` under `chroot` ('' or '/' for none), as bytes on the wire (with its length prefix). */
function pathBytes(path: string, rootBytes: number): number {
  return 4 + (rootBytes > 0 ? (path === '/' ? rootBytes : rootBytes + Buffer.byteLength(path)) : Buffer.byteLength(path));
}

function rootBytesOf(chroot: string): number {
  return chroot && chroot !== '/' ? Buffer.byteLength(chroot) : 0;
}

/**
 * Bytes of one operation's record (without any header): what the request
 * writers put on the wire for a create, setData, delete or check. The one
 * measure of a request; `aclBytes` lets a caller cache ACL list sizes.
 */
export function opBytes(o: MultiOp, chroot = '', aclBytes: (acls: ACL[]) => number = aclListBytes): number {
  const path = pathBytes(o.path, rootBytesOf(chroot));
  switch (o.op) {
    case 'create': {
      const flags = o.flags ?? 0;
      const ttl = flags === CreateFlag.PERSISTENT_WITH_TTL || flags === CreateFlag.PERSISTENT_SEQUENTIAL_WITH_TTL;
      return path + 4 + (o.data?.length ?? 0) + aclBytes(o.acl ?? OPEN_ACL_UNSAFE) + 4 + (ttl ? 8 : 0);
    }
    case 'set':
      return path + 4 + o.data.length + 4;
    default:
      return path + 4;
  }
}

/** Request header (xid, type) and each multi op's header (type, done, err). */
const REQUEST_HEADER = 8;
const MULTI_OP_HEADER = 9;

/**
 * Size in bytes of the multi request ZooKeeper would receive (request header + body):
 * exactly what writeMulti (protocol/records.ts) writes, counted without writing it.
 */
export function multiRequestBytes(ops: MultiOp[], chroot = ''): number {
  const aclSizes = new Map<ACL[], number>();
  const aclBytes = (acls: ACL[]): number => {
    let n = aclSizes.get(acls);
    if (n === undefined) aclSizes.set(acls, (n = aclListBytes(acls)));
    return n;
  };
  let n = REQUEST_HEADER;
  for (const o of ops) n += MULTI_OP_HEADER + opBytes(o, chroot, aclBytes);
  return n + MULTI_OP_HEADER; // the closing header
}

/**
 * Bytes of a single request frame (after the length prefix) for `serverPath`
 * (chroot included): a create when `acl` is given, else a setData; `extra` for
 * trailing fields (8 for a TTL).
 */
export function requestSize(serverPath: string, data: Buffer, acl?: ACL[], extra = 0): number {
  const o: MultiOp = acl ? { op: 'create', path: serverPath, data, acl } : { op: 'set', path: serverPath, data };
  return REQUEST_HEADER + opBytes(o) + extra;
}

/* ------------------------------------------------------------------ */
/* Transactions (multi with container and TTL creates)                */

/** Node kinds a transaction can create (an ephemeral node outlives no import). */
export type CreatableKind = 'persistent' | 'container' | 'ttl';

/** An op of a transaction. Unlike Session.multi, creates may be containers or TTL nodes. */
export type TxnOp =
  | { op: 'create'; path: string; data: Buffer; acl: ACL[]; type: CreatableKind; ttlMs?: number }
  | { op: 'set'; path: string; data: Buffer; version: number }
  | { op: 'delete'; path: string; version: number }
  | { op: 'check'; path: string; version: number };

function createFlag(type: CreatableKind): number {
  return type === 'container' ? CreateFlag.CONTAINER : type === 'ttl' ? CreateFlag.PERSISTENT_WITH_TTL : CreateFlag.PERSISTENT;
}

function toMultiOp(o: TxnOp): MultiOp {
  return o.op === 'create' ? { op: 'create', path: o.path, data: o.data, acl: o.acl, flags: createFlag(o.type), ttlMs: o.ttlMs } : o;
}

/** Bytes `op` takes in a multi request under `chroot` (for batching under jute.maxbuffer). */
export function txnOpSize(o: TxnOp, chroot = ''): number {
  return MULTI_OP_HEADER + opBytes(toMultiOp(o), chroot);
}

/**
 * Run `ops` as one ZooKeeper transaction (all or nothing). Throws a ZkError
 * naming the first failing op (`opIndex`), like Session.multi.
 */
export async function transaction(session: Session, ops: TxnOp[], what = 'transaction'): Promise<MultiResult[]> {
  return session.multi(ops.map(toMultiOp), what);
}

/** Split ops into transactions of at most `maxBytes` each (an op larger than that goes alone). */
export function batchOps(ops: TxnOp[], maxBytes: number, chroot = ''): TxnOp[][] {
  const out: TxnOp[][] = [];
  let cur: TxnOp[] = [];
  let size = 0;
  for (const o of ops) {
    const s = txnOpSize(o, chroot);
    if (cur.length > 0 && size + s > maxBytes) {
      out.push(cur);
      cur = [];
      size = 0;
    }
    cur.push(o);
    size += s;
  }
  if (cur.length > 0) out.push(cur);
  return out;
}
