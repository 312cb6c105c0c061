/** Small node helpers shared by commands and recipes. */
import { assertRequestFits } from './data.js';
import { parseDuration } from './duration.js';
import { ChrootMissingError, ExitCode, isZkCode, UsageError, ZkCode, ZkctlError } from './errors.js';
import { parentOf } from './paths.js';
import type { CreateMode, CreateOptions, Session, Stat } from './session.js';

export interface EnsurePathOptions {
  /** Node type for what gets created: 'persistent' (default) or 'container' (Curator's creatingParentContainersIfNeeded). */
  mode?: 'persistent' | 'container';
  /** Create only the ancestors of `path`, not `path` itself. */
  parentsOnly?: boolean;
  /**
   * How nodes that exist are passed over:
   * - 'pipelined' (default): every create is sent at once (one round trip) and NODE_EXISTS counts as done.
   *   When that is refused (NO_AUTH), the walk is done again 'check-first': below an ancestor whose
   *   parent denies CREATE the server answers NO_AUTH, not NODE_EXISTS, for a node that exists (it
   *   checks the parent's CREATE permission first), although nothing needs creating there. Curator's
   *   mkdirs (exists, then create) succeeds there, so zkctl's locks and registrations must too.
   * - 'check-first': from the root down, each node is looked for (exists) and only a missing one is
   *   created, one round trip a level. A missing node made meanwhile by someone else
   *   (NODE_EXISTS) is fine; one whose parent was reaped meanwhile (a container: NO_NODE) makes the walk
   *   start again from the root, up to 10 times.
   */
  existing?: 'pipelined' | 'check-first';
}

/**
 * Create every missing node on the way to `path` (empty data, open ACL): the
 * one create-missing-parents primitive. Pipelined by default (see
 * EnsurePathOptions.existing): the server applies one session's requests in
 * order, so each parent exists before its child's create. Nodes that already
 * exist are fine. Containers fall back to persistent nodes on servers without
 * them (3.4).
 */
export async function ensurePath(session: Session, path: string, opts: EnsurePathOptions = {}): Promise<void> {
  const chain: string[] = [];
  for (let p = opts.parentsOnly ? parentOf(path) : path; p !== '/'; p = parentOf(p)) chain.unshift(p);
  if (chain.length === 0) return;
  const mode = opts.mode ?? 'persistent';
  let failed = opts.existing === 'check-first' ? await createMissing(session, chain, mode) : await createAll(session, chain, mode);
  if (failed !== undefined && opts.existing !== 'check-first' && isZkCode(failed, ZkCode.NO_AUTH)) failed = await createMissing(session, chain, mode);
  if (failed === undefined) return;
  if (mode === 'container' && isZkCode(failed, ZkCode.UNIMPLEMENTED)) return ensurePath(session, path, { ...opts, mode: 'persistent' });
  throw failed;
}

/** 'pipelined': every create at once; the first failure other than NODE_EXISTS. */
async function createAll(session: Session, chain: string[], mode: CreateMode): Promise<unknown> {
  const results = await Promise.allSettled(chain.map((p) => session.create(p, Buffer.alloc(0), { mode })));
  const failed = results.find((r) => r.status === 'rejected' && !isZkCode(r.reason, ZkCode.NODE_EXISTS)) as PromiseRejectedResult | undefined;
  return failed?.reason;
}

/** 'check-first': exists, then create what is missing, level by level; the failure, if any. */
async function createMissing(session: Session, chain: string[], mode: CreateMode): Promise<unknown> {
  for (let attempt = 1; ; attempt++) {
    try {
      for (const p of chain) {
        if (await session.exists(p)) continue;
        try {
          await session.create(p, Buffer.alloc(0), { mode });
        } catch (e) {
          if (!isZkCode(e, ZkCode.NODE_EXISTS)) throw e;
        }
      }
      return undefined;
    } catch (e) {
      // A parent reaped between its exists and its child's create: walk again.
      if (!isZkCode(e, ZkCode.NO_NODE) || e instanceof ChrootMissingError || attempt >= 10) return e;
    }
  }
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

/** What `create` is asked for: its flags, as both `zkctl create` and the shell's create take them. */
export interface CreateFlags {
  ephemeral?: boolean;
  container?: boolean;
  /** A TTL node, with this duration (e.g. "10m"). */
  ttl?: string;
  sequential?: boolean;
}

/** The node kind from create's flags; a UsageError for kinds that exclude each other. */
export function createKind(f: CreateFlags): { mode: CreateMode; sequential: boolean; ttlMs?: number } {
  const kinds = [f.ephemeral && '-e', f.container && '-c', f.ttl !== undefined && '-t'].filter(Boolean);
  if (kinds.length > 1) throw new UsageError(`${kinds.join(' and ')} cannot be combined`, 'a node is persistent, ephemeral, container or TTL');
  if (f.container && f.sequential) throw new UsageError('a container node cannot be sequential');
  const mode: CreateMode = f.ephemeral ? 'ephemeral' : f.container ? 'container' : f.ttl !== undefined ? 'ttl' : 'persistent';
  const ttlMs = f.ttl !== undefined ? parseDuration(f.ttl, 'TTL') : undefined;
  if (ttlMs !== undefined && ttlMs <= 0) throw new UsageError('the TTL must be positive');
  return { mode, sequential: !!f.sequential, ttlMs };
}

/**
 * `create`: PATH (validated, not reserved) with `data`; with `parents`, missing ancestors are made
 * (persistent, empty); without, a missing parent is an error that says -p makes it.
 */
export async function createNode(session: Session, path: string, data: Buffer, opts: CreateOptions & { parents?: boolean }): Promise<{ path: string; stat: Stat }> {
  const { parents, ...createOpts } = opts;
  assertRequestFits(`${session.chroot}${path}`, data, createOpts.acl, createOpts.mode === 'ttl' ? 8 : 0);
  try {
    return await session.create(path, data, createOpts);
  } catch (e) {
    if (!isZkCode(e, ZkCode.NO_NODE) || e instanceof ChrootMissingError) throw e;
    if (!parents) throw new ZkctlError(`${parentOf(path)}: no such node (the parent of ${path})`, ExitCode.NO_NODE, { hint: 'create missing parents with -p' });
    // Made persistent; an existing ancestor that is a container may be reaped meanwhile: made again.
    return createWithParents(session, path, data, createOpts, { parents: 'persistent' });
  }
}
