/**
 * Planning a publish: the live state read, the document validated and mapped
 * to one multi transaction (check P, deletes, creates, sets, history, the new
 * record), measured against the server's request limit before anything is written.
 */
import { UsageError } from '../../errors.js';
import { joinPath } from '../../paths.js';
import { type MultiOp } from '../../protocol/records.js';
import type { Session } from '../../session.js';
import { maxRequestBytes, multiRequestBytes } from '../../txn.js';
import { type ConfigMap, type ConfigValue, configDigest, countNodes, encodeLeaf, layoutOf, validateDocument } from '../../config/document.js';
import { countChanges, diffDocuments } from '../../config/diff.js';

import { checkConfigPath, CONFIG_LAYOUTS, type ConfigLayout, ConfigTooLargeError, DEFAULT_HISTORY_KEEP, defaultPublisher, DOCUMENT_REPLY_OVERHEAD, encodeHistory, encodeRecord, entryName, HISTORY_NODE, historyPath, type LiveNode, MAX_HISTORY_KEEP, type PublishOptions, type PublishRecord, type PublishResult, RECORD_TAG, VersionConflictError } from './layout.js';
import { historyVersions, readConfig, readTree } from './read.js';

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
