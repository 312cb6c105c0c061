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
// The modules (one concern each) behind this facade, which callers import:
//   config-publish/layout.ts  names, record and history codec, types
//   config-publish/read.ts    consistent reads, history
//   config-publish/plan.ts    planning and measuring a publish
//   config-publish/commit.ts  commit and rollback
//   config-publish/watch.ts   watch
// The document model and diffs, so that library users get the whole API from this module.
export * from '../config/document.js';
export * from '../config/diff.js';
export { MAX_REQUEST_BYTES, maxRequestBytes, multiRequestBytes } from '../txn.js';
export * from './config-publish/layout.js';
export * from './config-publish/read.js';
export * from './config-publish/plan.js';
export * from './config-publish/commit.js';
export * from './config-publish/watch.js';
