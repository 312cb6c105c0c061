/** Small node helpers shared by commands and recipes. */
import { ChrootMissingError, isZkCode, ZkCode } from './errors.js';
import { parentOf } from './paths.js';
import type { CreateOptions, Session, Stat } from './session.js';

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

export interface CreateWithParentsOptions {
  /** How missing ancestors are made: 'container' (default: Curator's creatingParentContainersIfNeeded) or 'persistent'. */
  parents?: 'container' | 'persistent';
  /** Creates tried in all (default 10). */
  attempts?: number;
  /** Test hook: runs after the ancestors were made, just before the create that follows. */
  afterParents?: (attempt: number) => Promise<void>;
}

/**
 * Create `path`, making its missing ancestors when the parent is missing. The
 * one way to create under a container parent: the server deletes an empty
 * container at any moment (every second on local ensembles), so a parent that
 * was just made (or found) may be gone when the create arrives. NO_NODE is
 * answered by making the ancestors again and creating again, up to `attempts`
 * times. The first create is tried as is (the parents usually exist: one round
 * trip). Any other error (NODE_EXISTS included) is the caller's.
 */
export async function createWithParents(
  session: Session,
  path: string,
  data: Buffer,
  createOpts: CreateOptions = {},
  opts: CreateWithParentsOptions = {},
): Promise<{ path: string; stat: Stat }> {
  const attempts = opts.attempts ?? 10;
  for (let attempt = 0; ; attempt++) {
    if (attempt > 0) {
      await ensurePath(session, path, { mode: opts.parents ?? 'container', parentsOnly: true });
      await opts.afterParents?.(attempt);
    }
    try {
      return await session.create(path, data, createOpts);
    } catch (e) {
      if (!isZkCode(e, ZkCode.NO_NODE) || e instanceof ChrootMissingError || attempt + 1 >= attempts) throw e;
    }
  }
}
