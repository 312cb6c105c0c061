/**
 * Configuration publishing: a YAML document mapped onto the znodes under a
 * path P (the mapping rules are in ../config/document.ts), published
 * atomically, versioned, with history, rollback and a consistent watch.
 *
 * On ZooKeeper, under P:
 *   P                      data: the publish record (JSON, below). Its data version
 *                          is the commit point: every publish changes it, in the
 *                          same transaction as everything else.
 *   P/<key>...             the document (mappings: znodes with empty data;
 *                          other values: znodes holding canonical JSON)
 *   P/.zkctl-history       history (the name starts with ".zkctl", which document
 *     /0000000042          keys may not: no collision). One child per kept version,
 *                          named by the version (10 digits), data = gzip of a JSON
 *                          object {version, time, publisher, message, sha256,
 *                          rollbackOf?, document}. The newest `keep` (default 10)
 *                          are kept.
 *
 * The publish record (P's data) is JSON:
 *   {"zkctl":"config","format":1,"version":N,"time":ISO,"publisher":"user@host",
 *    "message":"...","sha256":"<of the canonical JSON document>",
 *    "counts":{"maps":M,"leaves":L},"layout":{"":["db","name"],"db":["host","port"]}}
 * `layout` keeps every mapping's key order (ZooKeeper does not order children).
 *
 * Two layouts (chosen with `--layout` at the first publish, recorded in P's data, kept by
 * later publishes unless `--layout` names the other one, which converts in one transaction):
 *   nodes     (default) the document as znodes under P, as above.
 *   document  the whole document inside P's own data, no key znodes:
 *             {"zkctl":"config","format":1,"layout":"document","version":N,...,
 *              "document":{...canonical JSON of the document...}}
 *             `layout` is then the string "document" (key order is the JSON's order).
 *             One znode, so every reader sees whole versions, also readers that cache the
 *             tree node by node (Curator CuratorCache, kazoo TreeCache), which see the nodes
 *             layout half-applied (ZooKeeper notifies each changed znode on its own). Its size
 *             is bounded by one znode (jute.maxbuffer): refused (exit 2) above it.
 *
 * A publish is ONE multi transaction: check(P, version read) first, then the
 * deletes (children before parents), creates (parents before children) and
 * sets, the history entry (and the removal of the oldest), and last
 * set(P, new record, version read). A watcher therefore never sees half a
 * publish, and of two publishers that read the same version only one commits:
 * the other's whole transaction fails with BAD_VERSION (exit 5), nothing of it
 * written. The first publish creates P in the transaction (a racing first
 * publisher gets NODE_EXISTS, also reported as a version conflict); missing
 * ancestors of P are created before (they are not part of the document).
 * Nodes a publish creates get P's ACL (open when P itself is being created).
 *
 * Reads are consistent too: the tree is read between two reads of P's stat
 * and read again when P's version moved in between.
 *
 * ZooKeeper refuses requests larger than jute.maxbuffer (default 1 MiB - 1 =
 * 1048575 bytes, the whole multi request): the transaction is serialized and
 * measured before anything is written, and a larger one is refused (exit 2).
 */
import { hostname, userInfo } from 'node:os';
import { gunzipSync, gzipSync } from 'node:zlib';
import { ConnectionError, ExitCode, UsageError, ZkCode, ZkError, ZkctlError, isZkCode } from '../errors.js';
import { assertNotReserved, isReserved, joinPath, parentOf, validatePath } from '../paths.js';
import { type ACL, CreateFlag, type MultiOp, OPEN_ACL_UNSAFE, type Stat } from '../protocol/records.js';
import type { Session, WatchEvent } from '../session.js';
import { maxRequestBytes, multiRequestBytes } from '../txn.js';
import {
  type ConfigMap,
  type ConfigValue,
  configDigest,
  countNodes,
  decodeJson,
  encodeJson,
  encodeLeaf,
  layoutOf,
  validateDocument,
} from '../config/document.js';
import { type ChangeCounts, type ConfigChange, countChanges, diffDocuments } from '../config/diff.js';

// The document model and diffs, so that library users get the whole API from this module.
export * from '../config/document.js';
export * from '../config/diff.js';

/** The history child of P. Starts with RESERVED_PREFIX, which document keys may not. */
export const HISTORY_NODE = '.zkctl-history';
export const DEFAULT_HISTORY_KEEP = 10;
export const MAX_HISTORY_KEEP = 1000;
// The request limit and the measure of a multi request: txn.ts (re-exported for callers of this facade).
export { MAX_REQUEST_BYTES, maxRequestBytes, multiRequestBytes } from '../txn.js';
const RECORD_TAG = 'config';

/** A compare-and-set on the publish version failed (exit 5). */
export class VersionConflictError extends ZkctlError {
  constructor(message: string, hint?: string) {
    super(message, ExitCode.BAD_VERSION, { hint });
  }
}

/** The document (or the transaction it makes) is over ZooKeeper's request limit (exit 2). */
export class ConfigTooLargeError extends UsageError {}

/** Where a document lives: znodes under P (`nodes`), or all of it in P's data (`document`). */
export type ConfigLayout = 'nodes' | 'document';
export const CONFIG_LAYOUTS: readonly ConfigLayout[] = ['nodes', 'document'];

export interface PublishRecord {
  zkctl: typeof RECORD_TAG;
  format: 1;
  version: number;
  time: string;
  publisher: string;
  message?: string;
  sha256: string;
  counts: { maps: number; leaves: number };
  /** nodes layout: every mapping's key order; document layout: the string "document". */
  layout: Record<string, string[]> | 'document';
  /** Set when this publish was a rollback to that version. */
  rollbackOf?: number;
  /** document layout: the whole document. */
  document?: ConfigMap;
}

/** The layout a record says. */
export function recordLayout(r: PublishRecord): ConfigLayout {
  return r.layout === 'document' ? 'document' : 'nodes';
}

/**
 * Largest P data for the document layout: a reader's reply (header, data, stat) must fit in
 * jute.maxbuffer too (the Java client checks it), so leave room for those around the data.
 */
export const DOCUMENT_REPLY_OVERHEAD = 1024;

/** One znode as read under P. */
export interface LiveNode {
  name: string;
  path: string;
  data: Buffer;
  stat: Stat;
  children: LiveNode[];
}

export interface LiveConfig {
  path: string;
  exists: boolean;
  /** The publish record; undefined when P is missing or was never published by zkctl. */
  record?: PublishRecord;
  /** P holds data that is not a publish record. */
  foreignData: boolean;
  /** Publish version (0: never published). */
  version: number;
  /** P's stat as read (the commit point). */
  stat?: Stat;
  /** The document as it is live now, keys in the recorded order. */
  document: ConfigMap;
  /** The raw nodes below P (history excluded). */
  tree?: LiveNode;
  /** The live tree does not hash to the record's sha256: someone changed it outside zkctl. */
  drift: boolean;
  /** Where the document lives (nodes when P is missing or has no record). */
  layout: ConfigLayout;
}

export interface HistoryEntry {
  version: number;
  time: string;
  publisher: string;
  message?: string;
  sha256: string;
  rollbackOf?: number;
  /** Compressed size on ZooKeeper. */
  bytes: number;
  document: ConfigMap;
}

export interface PublishOptions {
  /** Remove keys that are live but not in the document (default: keep them). */
  prune?: boolean;
  message?: string;
  /** Publish only if P is at this publish version now (0: never published). */
  expectVersion?: number;
  /** Compute and return the plan; write nothing. */
  dryRun?: boolean;
  /** History entries to keep (default 10; 0 keeps none). */
  keep?: number;
  /** Who publishes (default user@host). */
  publisher?: string;
  /** Publish even when nothing changed (a new version with the same document). */
  force?: boolean;
  /** For rollbacks: the version restored. */
  rollbackOf?: number;
  /** ACL of the nodes a publish creates (default: P's ACL; when P is created, open). */
  acl?: ACL[];
  /** The server's request limit (default: maxRequestBytes()). */
  maxRequestBytes?: number;
  now?: Date;
  /**
   * Layout to publish in. Default: the live one (nodes for a new path). Naming the other
   * layout of an existing config converts it, in the same one transaction.
   */
  layout?: ConfigLayout;
}

export interface PublishResult {
  path: string;
  dryRun: boolean;
  /** False when the live document already equals the result (nothing was written). */
  changed: boolean;
  /** The version now live (after the publish; the current one on no-op / dry run). */
  version: number;
  previousVersion: number;
  /** The version a dry run would publish. */
  nextVersion: number;
  changes: ConfigChange[];
  counts: ChangeCounts;
  /** The whole document after the publish (with kept live keys when not pruning). */
  document: ConfigMap;
  /** Ops in the transaction and its size in bytes (limit MAX_REQUEST_BYTES). */
  ops: number;
  requestBytes: number;
  time?: string;
  publisher?: string;
  message?: string;
  /** The layout after the publish. */
  layout: ConfigLayout;
  /** Set when this publish converts the config from the other layout. */
  layoutChangedFrom?: ConfigLayout;
}

/* ------------------------------------------------------------------ */

export function defaultPublisher(env: NodeJS.ProcessEnv = process.env): string {
  if (env.ZKCTL_PUBLISHER) return env.ZKCTL_PUBLISHER;
  let user = env.USER ?? 'unknown';
  try {
    user = userInfo().username;
  } catch {
    /* no passwd entry */
  }
  return `${user}@${hostname()}`;
}

/**
 * P must be a normal path: not /, not under /zookeeper (neither as given nor on the
 * server, through `chroot`), no .zkctl segment.
 */
export function checkConfigPath(path: string, chroot = ''): string {
  path = validatePath(path);
  if (path === '/') throw new UsageError('cannot publish a configuration at /', 'use a path of its own, e.g. /config/myapp');
  if (isReserved(path)) throw new UsageError(`${path} belongs to ZooKeeper itself`);
  assertNotReserved(path, chroot, 'use');
  if (path.split('/').some((s) => s.startsWith('.zkctl'))) throw new UsageError(`invalid path ${path}: segments starting with .zkctl are reserved`);
  return path;
}

export function historyPath(path: string): string {
  return joinPath(path, HISTORY_NODE);
}

function entryName(version: number): string {
  return String(version).padStart(10, '0');
}

/** Parse P's data: a record, undefined (empty), or 'foreign' (something else). */
export function parseRecord(data: Buffer): PublishRecord | 'foreign' | undefined {
  if (data.length === 0) return undefined;
  try {
    const text = data.toString('utf8');
    const o = JSON.parse(text) as Partial<PublishRecord> | null;
    if (o && typeof o === 'object' && o.zkctl === RECORD_TAG && Number.isInteger(o.version) && o.layout && typeof o.layout === 'object') {
      delete o.document;
      return o as PublishRecord;
    }
    if (o && typeof o === 'object' && o.zkctl === RECORD_TAG && Number.isInteger(o.version) && o.layout === 'document') {
      // The document again, with what JSON.parse loses: key order, integers apart from floats.
      const doc = (decodeJson(text) as ConfigMap).get('document');
      if (doc instanceof Map) return { ...o, document: doc } as PublishRecord;
    }
  } catch {
    /* not JSON */
  }
  return 'foreign';
}

function limiter(n: number): <T>(fn: () => Promise<T>) => Promise<T> {
  let active = 0;
  const queue: Array<() => void> = [];
  return async <T>(fn: () => Promise<T>): Promise<T> => {
    if (active >= n) await new Promise<void>((r) => queue.push(r));
    active++;
    try {
      return await fn();
    } finally {
      active--;
      queue.shift()?.();
    }
  };
}

/** Read the raw subtree below `root` (history excluded), pipelined. */
async function readTree(session: Session, root: { path: string; data: Buffer; stat: Stat }): Promise<LiveNode> {
  const lim = limiter(500);
  const top: LiveNode = { name: '', path: root.path, data: root.data, stat: root.stat, children: [] };
  const fill = async (node: LiveNode, isRoot: boolean): Promise<void> => {
    if (node.stat.numChildren === 0) return;
    let names: string[];
    try {
      names = (await lim(() => session.getChildren(node.path))).children;
    } catch (e) {
      if (isZkCode(e, ZkCode.NO_NODE)) return;
      throw e;
    }
    if (isRoot) names = names.filter((n) => n !== HISTORY_NODE);
    const kids = await Promise.all(
      names.map(async (name): Promise<LiveNode | undefined> => {
        const p = joinPath(node.path, name);
        try {
          const r = await lim(() => session.get(p));
          return { name, path: p, data: r.data, stat: r.stat, children: [] };
        } catch (e) {
          if (isZkCode(e, ZkCode.NO_NODE)) return undefined;
          throw e;
        }
      }),
    );
    node.children = kids.filter((k): k is LiveNode => k !== undefined);
    await Promise.all(node.children.map((c) => fill(c, false)));
  };
  await fill(top, true);
  return top;
}

/** P's data for a record: JSON; the document layout's document as canonical JSON, last. */
export function encodeRecord(r: PublishRecord): Buffer {
  const { document, ...meta } = r;
  const head = JSON.stringify(meta);
  if (r.layout !== 'document' || !document) return Buffer.from(head, 'utf8');
  return Buffer.from(`${head.slice(0, -1)},"document":${encodeJson(document)}}`, 'utf8');
}

/** A leaf's value from its bytes: canonical JSON, else (written by someone else) the text itself. */
export function decodeLeaf(data: Buffer): ConfigValue {
  const text = data.toString('utf8');
  try {
    const v = decodeJson(text);
    // A JSON object in a leaf cannot come from a publish (mappings are znodes): show the text.
    return v instanceof Map ? text : v;
  } catch {
    return text;
  }
}

/** The document a raw tree holds, keys in the recorded order, then unrecorded ones by name. */
export function interpretTree(root: LiveNode, layout?: Record<string, string[]>): ConfigMap {
  const isMapLike = (n: LiveNode): boolean => n.children.length > 0 || n.data.length === 0;
  const walk = (node: LiveNode, lp: string): ConfigMap => {
    const recorded = layout?.[lp] ?? [];
    const byName = new Map(node.children.map((c) => [c.name, c]));
    const order = [...recorded.filter((k) => byName.has(k)), ...[...byName.keys()].filter((k) => !recorded.includes(k)).sort()];
    const out: ConfigMap = new Map();
    for (const name of order) {
      const child = byName.get(name)!;
      const clp = lp ? `${lp}/${name}` : name;
      const asMap = recorded.includes(name) && layout ? clp in layout : isMapLike(child);
      out.set(name, asMap ? walk(child, clp) : decodeLeaf(child.data));
    }
    return out;
  };
  return walk(root, '');
}

/**
 * Read the live configuration at P, consistently: the tree is read between two
 * reads of P's stat and read again if P changed in between. Syncs first (unless
 * `sync: false`), so it sees everything committed before the call. With `watcher`, a
 * data watch is left on P (or an existence watch when P is missing).
 */
export async function readConfig(
  session: Session,
  path: string,
  opts: { watcher?: (ev: WatchEvent) => void; attempts?: number; sync?: boolean } = {},
): Promise<LiveConfig> {
  checkConfigPath(path, session.chroot);
  const attempts = opts.attempts ?? 10;
  // The server this session talks to may lag behind the leader: catch up first, so that what
  // another client published before this call is seen (and a publish does not plan from a
  // stale version and fail its version check for nothing).
  if (opts.sync !== false) await session.sync(path);
  for (let attempt = 0; attempt < attempts; attempt++) {
    const watcher = attempt === 0 ? opts.watcher : undefined;
    let top: { data: Buffer; stat: Stat };
    try {
      top = await session.get(path, watcher);
    } catch (e) {
      if (!isZkCode(e, ZkCode.NO_NODE)) throw e;
      if (watcher) {
        const st = await session.exists(path, watcher);
        if (st) continue; // created in between: read it
      }
      return { path, exists: false, foreignData: false, version: 0, document: new Map(), drift: false, layout: 'nodes' };
    }
    const rec0 = parseRecord(top.data);
    if (rec0 !== undefined && rec0 !== 'foreign' && recordLayout(rec0) === 'document') {
      // One znode: this one read is the whole version.
      const document = rec0.document ?? new Map();
      return {
        path,
        exists: true,
        record: rec0,
        foreignData: false,
        version: rec0.version,
        stat: top.stat,
        document,
        drift: configDigest(document) !== rec0.sha256,
        layout: 'document',
      };
    }
    const tree = await readTree(session, { path, ...top });
    const after = await session.exists(path);
    if (!after || after.version !== top.stat.version || after.mzxid !== top.stat.mzxid) continue;
    const rec = rec0;
    const record = rec === 'foreign' ? undefined : rec;
    const document = interpretTree(tree, record && record.layout !== 'document' ? record.layout : undefined);
    return {
      path,
      exists: true,
      record,
      foreignData: rec === 'foreign',
      version: record?.version ?? 0,
      stat: top.stat,
      document,
      tree,
      drift: record ? configDigest(document) !== record.sha256 : false,
      layout: 'nodes',
    };
  }
  throw new ZkctlError(`${path} kept changing while it was read (${attempts} attempts)`, ExitCode.FAILURE, { hint: 'publishes are arriving faster than they can be read; try again' });
}

/* ------------------------------------------------------------------ */
/* Planning                                                           */

/** `file` with the keys only `live` has kept (at every mapping level): what a publish without prune leaves. */
export function mergeKeep(file: ConfigMap, live: ConfigMap | undefined): ConfigMap {
  if (!live) return file;
  // Order: the file's keys in the file's order; each kept key goes right after the key that
  // precedes it live (so keeping keys never reorders what was there).
  const order = [...file.keys()];
  let prev: string | undefined;
  for (const k of live.keys()) {
    if (!file.has(k)) {
      const at = prev === undefined ? 0 : order.indexOf(prev) + 1;
      order.splice(at, 0, k);
    }
    prev = k;
  }
  const out: ConfigMap = new Map();
  for (const k of order) {
    const v = file.has(k) ? (file.get(k) as ConfigValue) : (live.get(k) as ConfigValue);
    const lv = live.get(k);
    out.set(k, file.has(k) && v instanceof Map && lv instanceof Map ? mergeKeep(v, lv) : v);
  }
  return out;
}

/** Post-order deletes of `node`'s descendants (and of the node itself with `self`). */
function deleteOps(node: LiveNode, self: boolean, out: MultiOp[]): void {
  for (const c of node.children) deleteOps(c, true, out);
  if (self) out.push({ op: 'delete', path: node.path, version: -1 });
}

function createOps(path: string, v: ConfigValue, out: MultiOp[]): void {
  if (v instanceof Map) {
    out.push({ op: 'create', path, data: Buffer.alloc(0) });
    for (const [k, x] of v) createOps(joinPath(path, k), x, out);
  } else out.push({ op: 'create', path, data: encodeLeaf(v) });
}

/** Ops turning the live node `live` (a mapping at `path`) into `want`. */
function planMap(path: string, live: LiveNode, want: ConfigMap, prune: boolean, deletes: MultiOp[], writes: MultiOp[], isRoot: boolean): void {
  const byName = new Map(live.children.map((c) => [c.name, c]));
  for (const [k, v] of want) {
    const p = joinPath(path, k);
    const lc = byName.get(k);
    if (!lc) {
      createOps(p, v, writes);
      continue;
    }
    if (v instanceof Map) {
      if (lc.data.length > 0) writes.push({ op: 'set', path: p, data: Buffer.alloc(0), version: -1 });
      planMap(p, lc, v, prune, deletes, writes, false);
    } else {
      if (lc.children.length > 0) deleteOps(lc, false, deletes);
      const data = encodeLeaf(v);
      if (!lc.data.equals(data)) writes.push({ op: 'set', path: p, data, version: -1 });
    }
  }
  if (prune) {
    for (const c of live.children) {
      if (isRoot && c.name === HISTORY_NODE) continue;
      if (!want.has(c.name)) deleteOps(c, true, deletes);
    }
  }
}

function fmtBytes(n: number): string {
  return n >= 1024 * 1024 ? `${(n / 1024 / 1024).toFixed(2)} MiB` : n >= 1024 ? `${(n / 1024).toFixed(1)} KiB` : `${n} bytes`;
}

function encodeHistory(e: Omit<HistoryEntry, 'bytes'>): Buffer {
  const meta: Record<string, unknown> = { format: 1, version: e.version, time: e.time, publisher: e.publisher };
  if (e.message !== undefined) meta.message = e.message;
  meta.sha256 = e.sha256;
  if (e.rollbackOf !== undefined) meta.rollbackOf = e.rollbackOf;
  const head = JSON.stringify(meta);
  return gzipSync(Buffer.from(`${head.slice(0, -1)},"document":${encodeJson(e.document)}}`, 'utf8'), { level: 9 });
}

function decodeHistory(data: Buffer, where: string): HistoryEntry {
  try {
    const v = decodeJson(gunzipSync(data).toString('utf8'));
    if (!(v instanceof Map) || !(v.get('document') instanceof Map)) throw new Error('not a history entry');
    const num = (x: ConfigValue | undefined): number | undefined => (typeof x === 'bigint' ? Number(x) : typeof x === 'number' ? x : undefined);
    const str = (x: ConfigValue | undefined): string | undefined => (typeof x === 'string' ? x : undefined);
    const e: HistoryEntry = {
      version: num(v.get('version')) ?? 0,
      time: str(v.get('time')) ?? '',
      publisher: str(v.get('publisher')) ?? '',
      sha256: str(v.get('sha256')) ?? '',
      bytes: data.length,
      document: v.get('document') as ConfigMap,
    };
    const m = str(v.get('message'));
    if (m !== undefined) e.message = m;
    const r = num(v.get('rollbackOf'));
    if (r !== undefined) e.rollbackOf = r;
    return e;
  } catch (err) {
    throw new ZkctlError(`${where}: unreadable history entry (${(err as Error).message})`);
  }
}

async function historyVersions(session: Session, path: string): Promise<number[]> {
  try {
    const { children } = await session.getChildren(historyPath(path));
    return children
      .filter((n) => /^\d{10}$/.test(n))
      .map(Number)
      .sort((a, b) => a - b);
  } catch (e) {
    if (isZkCode(e, ZkCode.NO_NODE)) return [];
    throw e;
  }
}

async function ensureAncestors(session: Session, path: string): Promise<void> {
  const parts: string[] = [];
  for (let p = parentOf(path); p !== '/'; p = parentOf(p)) parts.unshift(p);
  for (const p of parts) {
    if (await session.exists(p)) continue;
    try {
      await session.create(p);
    } catch (e) {
      if (!isZkCode(e, ZkCode.NODE_EXISTS)) throw e;
    }
  }
}

/**
 * Publish `doc` at `path` (see the module comment). Validates the document,
 * reads the live state, plans, measures, and (unless dryRun) commits it in one
 * transaction. Throws VersionConflictError (exit 5) when another publish came
 * first or `expectVersion` does not match, ConfigTooLargeError (exit 2) when the
 * transaction exceeds the request limit.
 */
export async function publishConfig(session: Session, path: string, doc: ConfigMap, opts: PublishOptions = {}): Promise<PublishResult> {
  const plan = await planPublish(session, path, doc, opts);
  if (opts.dryRun || !plan.changed) return plan.result;
  return applyPublish(session, plan);
}

/** A planned publish: the result it will have and the transaction that makes it. */
export interface PublishPlan {
  /** What publishConfig returns for a dry run (or a no-op). */
  result: PublishResult;
  /** There is something to write. */
  changed: boolean;
  path: string;
  /** P existed when read (else the transaction creates it, and its ancestors are made first). */
  existed: boolean;
  ops: MultiOp[];
}

/**
 * First half of publishConfig: validate, read the live state consistently, and
 * build (and measure) the transaction. Writes nothing.
 */
export async function planPublish(session: Session, path: string, doc: ConfigMap, opts: PublishOptions = {}): Promise<PublishPlan> {
  checkConfigPath(path, session.chroot);
  validateDocument(doc);
  const keep = opts.keep ?? DEFAULT_HISTORY_KEEP;
  if (!Number.isInteger(keep) || keep < 0 || keep > MAX_HISTORY_KEEP) throw new UsageError(`history size must be an integer from 0 to ${MAX_HISTORY_KEEP} (got ${keep})`);
  if (opts.layout !== undefined && !CONFIG_LAYOUTS.includes(opts.layout)) throw new UsageError(`unknown layout "${String(opts.layout)}"`, `choose ${CONFIG_LAYOUTS.join(' or ')}`);
  const live = await readConfig(session, path);
  if (opts.expectVersion !== undefined && live.version !== opts.expectVersion) {
    throw new VersionConflictError(`${path} is at version ${live.version}, not ${opts.expectVersion}`, 'read it again (zkctl config get / history) and retry');
  }
  if (live.foreignData) {
    throw new UsageError(`${path} holds data that is not a zkctl publish record; refusing to overwrite it`, 'publish under another path, or clear that node\'s data first');
  }
  // The layout: as asked, else the live one (nodes for a new path). A live config of the other
  // layout is converted (asked for explicitly: --layout), in the same transaction.
  const liveLayout = live.layout;
  const layout: ConfigLayout = opts.layout ?? liveLayout;
  const converting = live.exists && layout !== liveLayout && (live.record !== undefined || layout === 'document');
  const result = opts.prune ? doc : mergeKeep(doc, live.exists ? live.document : undefined);
  const changes = diffDocuments(live.exists ? live.document : undefined, result);
  const counts = countChanges(changes);
  const base = {
    path,
    dryRun: !!opts.dryRun,
    previousVersion: live.version,
    changes,
    counts,
    document: result,
    layout,
    ...(converting ? { layoutChangedFrom: liveLayout } : {}),
  };
  if (changes.length === 0 && live.record && !live.drift && !opts.force && !converting) {
    return { result: { ...base, changed: false, version: live.version, nextVersion: live.version, ops: 0, requestBytes: 0 }, changed: false, path, existed: true, ops: [] };
  }

  const version = live.version + 1;
  const time = (opts.now ?? new Date()).toISOString();
  const publisher = opts.publisher ?? defaultPublisher();
  const sha256 = configDigest(result);
  const record: PublishRecord = {
    zkctl: RECORD_TAG,
    format: 1,
    version,
    time,
    publisher,
    ...(opts.message !== undefined ? { message: opts.message } : {}),
    sha256,
    counts: countNodes(result),
    layout: layout === 'document' ? 'document' : layoutOf(result),
    ...(opts.rollbackOf !== undefined ? { rollbackOf: opts.rollbackOf } : {}),
    ...(layout === 'document' ? { document: result } : {}),
  };
  const recordData = encodeRecord(record);
  const limit = opts.maxRequestBytes ?? maxRequestBytes();
  if (layout === 'document' && recordData.length > limit - DOCUMENT_REPLY_OVERHEAD) {
    throw new ConfigTooLargeError(
      `the document layout keeps the whole configuration in ${path}'s data, which would be ${fmtBytes(recordData.length)} (${recordData.length} bytes); one znode holds at most ${limit - DOCUMENT_REPLY_OVERHEAD} bytes (jute.maxbuffer ${limit} less ${DOCUMENT_REPLY_OVERHEAD} for the reply around it); nothing was written`,
      'publish with --layout nodes (one znode per key: only what one publish changes must fit in a transaction, not the whole configuration), or make the document smaller',
    );
  }

  const deletes: MultiOp[] = [];
  const writes: MultiOp[] = [];
  const head: MultiOp[] = [];
  const tail: MultiOp[] = [];
  const hist = historyPath(path);
  const existing = live.exists ? await historyVersions(session, path) : [];
  let histExists = false;
  if (live.exists) {
    histExists = (await session.exists(hist)) !== null;
    head.push({ op: 'check', path, version: live.stat!.version });
    if (layout === 'document') {
      // Converting: every key znode goes (the document now lives in P's data); the history stays.
      // Znodes others put under a document-layout P are not the config's: left alone.
      if (converting && live.tree) deleteOps(live.tree, false, deletes);
    } else if (converting) {
      // From the document layout: the whole result becomes znodes (the znodes found under P,
      // which were no part of the config, are kept unless --prune).
      const tree = await readTree(session, { path, data: Buffer.alloc(0), stat: live.stat! });
      planMap(path, tree, result, !!opts.prune, deletes, writes, true);
    } else planMap(path, live.tree!, doc, !!opts.prune, deletes, writes, true);
  } else {
    head.push({ op: 'create', path, data: recordData });
    if (layout === 'nodes') for (const [k, v] of doc) createOps(joinPath(path, k), v, writes);
  }
  if (keep > 0 && !histExists) tail.push({ op: 'create', path: hist, data: Buffer.alloc(0) });
  if (keep > 0) {
    const entry = encodeHistory({
      version,
      time,
      publisher,
      ...(opts.message !== undefined ? { message: opts.message } : {}),
      sha256,
      ...(opts.rollbackOf !== undefined ? { rollbackOf: opts.rollbackOf } : {}),
      document: result,
    });
    // A stale entry of the same number (P's record was reset outside zkctl) is replaced.
    if (existing.includes(version)) tail.push({ op: 'delete', path: joinPath(hist, entryName(version)), version: -1 });
    tail.push({ op: 'create', path: joinPath(hist, entryName(version)), data: entry });
  }
  const others = existing.filter((v) => v !== version);
  const drop = keep > 0 ? others.slice(0, Math.max(0, others.length + 1 - keep)) : existing;
  for (const v of drop) tail.push({ op: 'delete', path: joinPath(hist, entryName(v)), version: -1 });
  if (live.exists) tail.push({ op: 'set', path, data: recordData, version: live.stat!.version });
  const ops = [...head, ...deletes, ...writes, ...tail];
  // New nodes get P's ACL (so a path locked down with an ACL stays locked down), or opts.acl.
  const acl = opts.acl ?? (live.exists ? (await session.getACL(path)).acl : undefined);
  if (acl) for (const o of ops) if (o.op === 'create') o.acl = acl;
  const requestBytes = multiRequestBytes(ops, session.chroot);
  if (requestBytes > limit) {
    const histBytes = keep > 0 ? (tail.find((o) => o.op === 'create' && o.path !== hist) as { data?: Buffer } | undefined)?.data?.length ?? 0 : 0;
    throw new ConfigTooLargeError(
      `the publish would be a ${fmtBytes(requestBytes)} transaction (${requestBytes} bytes, ${ops.length} ops); ZooKeeper refuses requests over ${limit} bytes (jute.maxbuffer); nothing was written`,
      histBytes > 0 && requestBytes - histBytes <= limit
        ? `the compressed history copy takes ${fmtBytes(histBytes)}: publish with --keep 0, or make the document smaller`
        : 'split the document over several paths, or publish fewer changes at once',
    );
  }
  const planned = { ...base, ops: ops.length, requestBytes, nextVersion: version, time, publisher, ...(opts.message !== undefined ? { message: opts.message } : {}) };
  return { result: { ...planned, changed: true, version: live.version }, changed: true, path, existed: live.exists, ops };
}

/**
 * Second half of publishConfig: commit a plan in one transaction. Throws
 * VersionConflictError (exit 5) when P moved since the plan read it: then
 * nothing of the plan was written.
 */
export async function applyPublish(session: Session, plan: PublishPlan): Promise<PublishResult> {
  const { path, result } = plan;
  if (!plan.changed) return result;
  if (!plan.existed) await ensureAncestors(session, path);
  try {
    await session.multi(plan.ops);
  } catch (e) {
    if (e instanceof ZkError) {
      const idx = (e as ZkError & { opIndex?: number }).opIndex ?? -1;
      if (e.code === ZkCode.BAD_VERSION || (!plan.existed && idx === 0 && e.code === ZkCode.NODE_EXISTS)) {
        throw new VersionConflictError(
          `${path} was published by someone else since version ${result.previousVersion} was read; nothing of this publish was written`,
          'read the new version (zkctl config get) and publish again',
        );
      }
      throw new ZkctlError(`publish to ${path} failed, nothing was written: ${e.message}`, e.exitCode, {
        hint: 'the tree under the path was changed outside zkctl while publishing; run again',
      });
    }
    if (e instanceof ConnectionError) {
      throw new ConnectionError(`${e.message} (the publish may or may not have been applied)`, { hint: `check with zkctl config history ${path}` });
    }
    throw e;
  }
  return { ...result, dryRun: false, changed: true, version: result.nextVersion };
}

/* ------------------------------------------------------------------ */
/* History and rollback                                               */

/** Kept versions, oldest first (the document of each included). */
export async function configHistory(session: Session, path: string): Promise<HistoryEntry[]> {
  checkConfigPath(path, session.chroot);
  await session.sync(path);
  if (!(await session.exists(path))) throw await session.noNode(path);
  const versions = await historyVersions(session, path);
  const hist = historyPath(path);
  const entries = await Promise.all(
    versions.map(async (v) => {
      const p = joinPath(hist, entryName(v));
      try {
        return decodeHistory((await session.get(p)).data, p);
      } catch (e) {
        if (isZkCode(e, ZkCode.NO_NODE)) return undefined; // pruned meanwhile
        throw e;
      }
    }),
  );
  return entries.filter((e): e is HistoryEntry => e !== undefined);
}

/** One kept version; ZkctlError exit 3 when it is not (or no longer) kept. */
export async function readHistoryEntry(session: Session, path: string, version: number): Promise<HistoryEntry> {
  checkConfigPath(path, session.chroot);
  await session.sync(path);
  const p = joinPath(historyPath(path), entryName(version));
  try {
    return decodeHistory((await session.get(p)).data, p);
  } catch (e) {
    if (!isZkCode(e, ZkCode.NO_NODE)) throw e;
    const kept = await historyVersions(session, path);
    throw new ZkctlError(`version ${version} of ${path} is not in its history`, ExitCode.NO_NODE, {
      hint: kept.length ? `kept versions: ${kept[0]}..${kept[kept.length - 1]}` : 'no history is kept at this path',
    });
  }
}

/** Publish a kept version again (exactly: keys not in it are removed). */
export async function rollbackConfig(session: Session, path: string, toVersion: number, opts: Omit<PublishOptions, 'prune' | 'rollbackOf'> = {}): Promise<PublishResult> {
  const entry = await readHistoryEntry(session, path, toVersion);
  return publishConfig(session, path, entry.document, {
    ...opts,
    prune: true,
    rollbackOf: toVersion,
    message: opts.message ?? `rollback to version ${toVersion}`,
  });
}

/* ------------------------------------------------------------------ */
/* Watching                                                           */

export interface ConfigVersionEvent {
  kind: 'version';
  path: string;
  version: number;
  time?: string;
  publisher?: string;
  message?: string;
  rollbackOf?: number;
  sha256: string;
  document: ConfigMap;
  /** 'live': read from the tree; 'history': a version that was superseded before it could be read, from the history. */
  source: 'live' | 'history';
  /** The version current when the watch started. */
  initial: boolean;
  /** Changes from the previous reported version (absent for the first). */
  changes?: ConfigChange[];
  /** The live tree differs from what that version published (changed outside zkctl). */
  drift?: boolean;
}

export type ConfigWatchEvent =
  | ConfigVersionEvent
  | { kind: 'deleted'; path: string }
  | { kind: 'missed'; path: string; from: number; to: number };

export interface WatchConfigOptions {
  signal?: AbortSignal;
  /** Report the version current at the start (default true). */
  initial?: boolean;
  /** Report versions that were superseded before they could be read, from the history (default true). */
  catchUp?: boolean;
  /** Called for each event, in order; the watch waits for it (back-pressure for reload hooks). */
  onEvent: (e: ConfigWatchEvent) => void | Promise<void>;
  /** Notes for people (waiting for the path, connection trouble). */
  onNote?: (msg: string) => void;
}

/**
 * Watch P's data (the commit point of every publish) and report every new
 * version, each read consistently. Resolves when `signal` aborts (or rejects
 * with a non-connection error). Survives connection loss (re-reads when the
 * session is back).
 */
export async function watchConfig(session: Session, path: string, opts: WatchConfigOptions): Promise<void> {
  checkConfigPath(path, session.chroot);
  const signal = opts.signal;
  let pending = true;
  let wake: (() => void) | undefined;
  const trigger = (): void => {
    pending = true;
    const w = wake;
    wake = undefined;
    w?.();
  };
  let reconnected = false;
  const onState = (s: string): void => {
    if (s === 'reconnected' || s === 'connected') {
      reconnected = true;
      trigger();
    }
    else if (s === 'suspended') opts.onNote?.('connection lost; waiting to reconnect');
  };
  session.on('state', onState);
  signal?.addEventListener('abort', trigger);
  let last: { version: number; document: ConfigMap } | undefined;
  let deleted = false;
  let first = true;
  let noted = false;
  try {
    while (!signal?.aborted) {
      if (!pending) {
        await new Promise<void>((r) => {
          wake = r;
          if (pending || signal?.aborted) r();
        });
        continue;
      }
      pending = false;
      let live: LiveConfig;
      try {
        // After a notification the server has the change: no sync needed then.
        live = await readConfig(session, path, { watcher: trigger, sync: first || reconnected });
        reconnected = false;
      } catch (e) {
        if (signal?.aborted) break;
        if (e instanceof ConnectionError || (e instanceof ZkctlError && e.exitCode === ExitCode.CONNECTION)) {
          opts.onNote?.(`read failed (${e.message}); retrying`);
          await new Promise((r) => setTimeout(r, 1000));
          pending = true;
          continue;
        }
        throw e;
      }
      if (signal?.aborted) break;
      if (!live.exists || !live.record) {
        if (last && !deleted && !live.exists) {
          deleted = true;
          await opts.onEvent({ kind: 'deleted', path });
        }
        if (!noted) {
          opts.onNote?.(live.exists ? `${path} has not been published yet; waiting` : `${path} does not exist; waiting for a publish`);
          noted = true;
        }
        first = false;
        continue;
      }
      deleted = false;
      const rec = live.record;
      if (last && rec.version === last.version) continue;
      if (first && opts.initial === false) {
        last = { version: rec.version, document: live.document };
        first = false;
        continue;
      }
      if (last && rec.version > last.version + 1 && opts.catchUp !== false) {
        let from = last.version + 1;
        for (let v = last.version + 1; v < rec.version && !signal?.aborted; v++) {
          let entry: HistoryEntry | undefined;
          try {
            entry = await readHistoryEntry(session, path, v);
          } catch (e) {
            if (!(e instanceof ZkctlError && e.exitCode === ExitCode.NO_NODE)) throw e;
          }
          if (!entry) continue;
          if (v > from) await opts.onEvent({ kind: 'missed', path, from, to: v - 1 });
          from = v + 1;
          const ev: ConfigVersionEvent = {
            kind: 'version',
            path,
            version: v,
            time: entry.time,
            publisher: entry.publisher,
            sha256: entry.sha256,
            document: entry.document,
            source: 'history',
            initial: false,
            changes: diffDocuments(last.document, entry.document),
            ...(entry.message !== undefined ? { message: entry.message } : {}),
            ...(entry.rollbackOf !== undefined ? { rollbackOf: entry.rollbackOf } : {}),
          };
          await opts.onEvent(ev);
          last = { version: v, document: entry.document };
        }
        if (from < rec.version) await opts.onEvent({ kind: 'missed', path, from, to: rec.version - 1 });
      }
      const ev: ConfigVersionEvent = {
        kind: 'version',
        path,
        version: rec.version,
        time: rec.time,
        publisher: rec.publisher,
        sha256: rec.sha256,
        document: live.document,
        source: 'live',
        initial: first,
        ...(rec.message !== undefined ? { message: rec.message } : {}),
        ...(rec.rollbackOf !== undefined ? { rollbackOf: rec.rollbackOf } : {}),
        ...(last ? { changes: diffDocuments(last.document, live.document) } : {}),
        ...(live.drift ? { drift: true } : {}),
      };
      first = false;
      last = { version: rec.version, document: live.document };
      await opts.onEvent(ev);
    }
  } finally {
    session.removeListener('state', onState);
    signal?.removeEventListener('abort', trigger);
  }
}
