/**
 * A configuration on ZooKeeper, as data: names and paths under P, the publish
 * record (P's data) and the history entries (gzip JSON), their types, and how a
 * raw tree read under P becomes a document. No I/O here. The layout itself is
 * described in ../config-publish.ts.
 */
import { hostname, userInfo } from 'node:os';
import { gunzipSync, gzipSync } from 'node:zlib';
import { ExitCode, UsageError, ZkctlError } from '../../errors.js';
import { assertNotReserved, isReserved, joinPath, validatePath } from '../../paths.js';
import { type ACL, type Stat } from '../../protocol/records.js';
import { type ConfigMap, type ConfigValue, decodeJson, encodeJson } from '../../config/document.js';
import { type ChangeCounts, type ConfigChange } from '../../config/diff.js';


/** The history child of P. Starts with RESERVED_PREFIX, which document keys may not. */
export const HISTORY_NODE = '.zkctl-history';
export const DEFAULT_HISTORY_KEEP = 10;
export const MAX_HISTORY_KEEP = 1000;

export const RECORD_TAG = 'config';

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

export function entryName(version: number): string {
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

export function encodeHistory(e: Omit<HistoryEntry, 'bytes'>): Buffer {
  const meta: Record<string, unknown> = { format: 1, version: e.version, time: e.time, publisher: e.publisher };
  if (e.message !== undefined) meta.message = e.message;
  meta.sha256 = e.sha256;
  if (e.rollbackOf !== undefined) meta.rollbackOf = e.rollbackOf;
  const head = JSON.stringify(meta);
  return gzipSync(Buffer.from(`${head.slice(0, -1)},"document":${encodeJson(e.document)}}`, 'utf8'), { level: 9 });
}

export function decodeHistory(data: Buffer, where: string): HistoryEntry {
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
