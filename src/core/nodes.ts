/** Small node helpers shared by commands and recipes. */
import { isZkCode, ZkCode } from './errors.js';
import { parentOf } from './paths.js';
import type { Session } from './session.js';

export interface EnsurePathOptions {
  /** Node type for what gets created: 'persistent' (default) or 'container' (Curator's creatingParentContainersIfNeeded). */
  mode?: 'persistent' | 'container';
  /** Create only the ancestors of `path`, not `path` itself. */
  parentsOnly?: boolean;
}

/**
 * Create every missing node on the way to `path` (empty data, open ACL).
 * The creates are pipelined (one round trip): the server applies one
 * session's requests in order, so each parent exists before its child's
 * create. Nodes that already exist are fine. Containers fall back to
 * persistent nodes on servers without them (3.4).
 */
export async function ensurePath(session: Session, path: string, opts: EnsurePathOptions = {}): Promise<void> {
  const chain: string[] = [];
  for (let p = opts.parentsOnly ? parentOf(path) : path; p !== '/'; p = parentOf(p)) chain.unshift(p);
  if (chain.length === 0) return;
  const mode = opts.mode ?? 'persistent';
  const results = await Promise.allSettled(chain.map((p) => session.create(p, Buffer.alloc(0), { mode })));
  const failed = results.find((r) => r.status === 'rejected' && !isZkCode(r.reason, ZkCode.NODE_EXISTS)) as PromiseRejectedResult | undefined;
  if (!failed) return;
  if (mode === 'container' && isZkCode(failed.reason, ZkCode.UNIMPLEMENTED)) return ensurePath(session, path, { ...opts, mode: 'persistent' });
  throw failed.reason;
}
