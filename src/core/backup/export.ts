/**
 * Export: stream a subtree to a zkctl-backup file (format.ts), or read it
 * whole into memory (cp). Core: no printing; output goes to the sink the caller gives.
 */
import { isRedacted } from '../acl.js';
import { ZkctlError } from '../errors.js';
import { isReserved, validatePath } from '../paths.js';
import type { ACL, Stat } from '../protocol/records.js';
import type { Session } from '../session.js';
import { walk } from '../tree.js';
import { BACKUP_FORMAT, BACKUP_VERSION, type Backup, type BackupFormat, type BackupHeader, type BackupNode, formatHeader, formatNode, formatTrailer, kindOf, relPath } from './format.js';

export interface ExportOptions {
  format: BackupFormat;
  /** Requests in flight (tree walk window). */
  window?: number;
  /** Informational: written to the header. */
  source?: string;
  signal?: AbortSignal;
  onProgress?: (nodes: number) => void;
  /** Write redacted digest ACLs ("user:x") instead of failing (the backup then cannot restore them). */
  allowRedacted?: boolean;
}

export interface ExportSummary {
  root: string;
  format: BackupFormat;
  nodes: number;
  ephemeral: number;
  containers: number;
  ttl: number;
  bytes: number;
  /** Nodes whose ACL was redacted by the server (with allowRedacted). */
  redacted: number;
}

/** Exit 7: a backup that cannot restore an ACL is refused unless asked for. */
export function redactedError(path: string): ZkctlError {
  return new ZkctlError(`${path}: the server redacted its digest ACL (you lack ADMIN permission on it), so a copy could not restore it`, 7, {
    hint: 'authenticate with credentials that have ADMIN on every node (e.g. --auth digest:super:PASSWORD), or pass --allow-redacted',
  });
}

export function nodeFromInfo(root: string, n: { path: string; stat: Stat; data?: Buffer; acl?: ACL[] }): BackupNode {
  const k = kindOf(n.stat);
  const out: BackupNode = { path: relPath(root, n.path), type: k.type, acl: n.acl ?? [], data: n.data ?? Buffer.alloc(0) };
  if (k.ttlMs !== undefined) out.ttlMs = k.ttlMs;
  if (k.owner !== undefined) out.owner = k.owner;
  return out;
}

/**
 * Leave the server's own /zookeeper subtree out when walking from the real '/'
 * (under a chroot, /zookeeper is an ordinary node).
 */
export function pruneReserved(session: Session, root: string): ((p: string) => boolean) | undefined {
  return root === '/' && !session.chroot ? (p: string) => isReserved(p) : undefined;
}



/**
 * Stream the subtree at `root` to `write` as a backup file. Holds at most the
 * walker's window of nodes in memory; awaits `write` (back-pressure).
 */
export async function exportTree(
  session: Session,
  root: string,
  write: (chunk: string) => void | Promise<void>,
  opts: ExportOptions,
): Promise<ExportSummary> {
  root = validatePath(root);
  const sum: ExportSummary = { root, format: opts.format, nodes: 0, ephemeral: 0, containers: 0, ttl: 0, bytes: 0, redacted: 0 };
  const header: BackupHeader = { format: BACKUP_FORMAT, version: BACKUP_VERSION, root, created: new Date().toISOString() };
  if (opts.source) header.source = opts.source;
  let started = false;
  const walker = walk(session, root, { withData: true, withAcl: true, window: opts.window, signal: opts.signal, prune: pruneReserved(session, root) });
  let buf = '';
  for await (const info of walker) {
    if (!started) {
      buf += formatHeader(header, opts.format);
      started = true;
    }
    const n = nodeFromInfo(root, info);
    if (n.acl.some(isRedacted)) {
      if (!opts.allowRedacted) throw redactedError(info.path);
      sum.redacted++;
    }
    buf += formatNode(n, opts.format, sum.nodes);
    sum.nodes++;
    sum.bytes += n.data.length;
    if (n.type === 'ephemeral') sum.ephemeral++;
    else if (n.type === 'container') sum.containers++;
    else if (n.type === 'ttl') sum.ttl++;
    if (buf.length >= 65536) {
      await write(buf);
      buf = '';
      opts.onProgress?.(sum.nodes);
    }
  }
  if (!started) throw await session.noNode(root);
  buf += formatTrailer(sum.nodes, opts.format);
  await write(buf);
  opts.onProgress?.(sum.nodes);
  return sum;
}

/** Read a whole subtree into memory (for cp): nodes parents first. */
export async function readTree(
  session: Session,
  root: string,
  opts: { window?: number; signal?: AbortSignal; onProgress?: (n: number) => void; allowRedacted?: boolean } = {},
): Promise<Backup> {
  root = validatePath(root);
  const nodes: BackupNode[] = [];
  for await (const info of walk(session, root, { withData: true, withAcl: true, window: opts.window, signal: opts.signal, prune: pruneReserved(session, root) })) {
    const n = nodeFromInfo(root, info);
    if (!opts.allowRedacted && n.acl.some(isRedacted)) throw redactedError(info.path);
    nodes.push(n);
    if (nodes.length % 1000 === 0) opts.onProgress?.(nodes.length);
  }
  return { header: { format: BACKUP_FORMAT, version: BACKUP_VERSION, root }, nodes };
}
