/**
 * Lock revocation, Curator's way (InterProcessMutex.makeRevocable / Revoker):
 * whoever wants a holder to let go sets the data of the holder's lock node to
 * the bytes `__REVOKE__` (LockInternals.REVOKE_MESSAGE, "__REVOKE__".getBytes(),
 * plain ASCII). A revocable holder watches its own node's data; on a change to
 * exactly those bytes it is asked to release (Curator runs the listener given to
 * makeRevocable; zkctl's `lock --revocable` stops CMD and releases). A holder
 * that is not revocable ignores the request, and its node's data (the holder
 * id) stays overwritten with `__REVOKE__` for as long as the node lives.
 *
 * Revoking is a request, not a deletion: nothing happens unless the holder
 * cooperates. The request is a plain setData on the node (any version), so it
 * needs write permission on the node; Curator's Revoker.attemptRevoke does the
 * same and ignores a node that is already gone.
 */
import { ExitCode, isZkCode, ZkCode, ZkctlError } from '../errors.js';
import { baseName, joinPath, parentOf, validatePath } from '../paths.js';
import type { Session } from '../session.js';
import { type Contender, listContenders } from './contenders.js';
import { sessionHex } from '../session-id.js';

/** Curator's LockInternals.REVOKE_MESSAGE. */
export const REVOKE_MESSAGE: Buffer = Buffer.from('__REVOKE__', 'ascii');

/** Is this node data a revocation request? (exactly Curator's bytes) */
export function isRevokeRequest(data: Buffer | null | undefined): boolean {
  return data != null && data.equals(REVOKE_MESSAGE);
}

export interface RevokeOptions {
  /**
   * A contender node to ask (its name, or its full path under the lock path).
   * Default: the current holder(s): the first contender; with a read-write
   * lock, every reader that holds together with it.
   */
  node?: string;
}

export interface RevokeRequest {
  /** Full path of the node whose data was set to `__REVOKE__`. */
  node: string;
  /** Was it holding the lock when asked (false for a waiter named with `node`). */
  holder: boolean;
  /** The holder id the node carried before (its data as UTF-8; `__REVOKE__` when already asked). */
  id: string;
  /** The owning session, hex. */
  session: string;
  /** Already carried `__REVOKE__` (an earlier request the holder ignored or has not acted on). */
  alreadyRequested: boolean;
}

/**
 * Ask the holder of the lock at `path` (or the contender `opts.node`) to release,
 * by setting its node's data to `__REVOKE__`. Throws a "no such node" error
 * (exit 3) when the lock has no holder or the named node is not a contender of
 * `path`. A holder that releases between the listing and the write is reported
 * the same way (nothing was asked).
 */
export async function revokeLock(session: Session, path: string, opts: RevokeOptions = {}): Promise<RevokeRequest[]> {
  const lockPath = validatePath(path);
  const list = await listContenders(session, lockPath);
  let targets: Contender[];
  if (opts.node !== undefined) {
    const name = opts.node.includes('/') ? (parentOf(opts.node) === lockPath ? baseName(opts.node) : undefined) : opts.node;
    const c = name === undefined ? undefined : list.find((x) => x.name === name);
    if (!c) throw new ZkctlError(`${name === undefined ? opts.node : joinPath(lockPath, name)}: no such contender of lock ${lockPath}`, ExitCode.NO_NODE);
    targets = [c];
  } else {
    targets = list.filter((c) => c.holds);
    if (targets.length === 0) throw new ZkctlError(`lock ${lockPath} has no holder`, ExitCode.NO_NODE);
  }
  const out: RevokeRequest[] = [];
  for (const c of targets) {
    try {
      await session.set(c.path, REVOKE_MESSAGE, -1);
    } catch (e) {
      if (isZkCode(e, ZkCode.NO_NODE)) continue; // released meanwhile: nothing to ask
      throw e;
    }
    out.push({ node: c.path, holder: c.holds, id: c.id, session: sessionHex(c.ephemeralOwner), alreadyRequested: isRevokeRequest(c.data) });
  }
  if (out.length === 0) {
    throw new ZkctlError(opts.node !== undefined ? `${targets[0]!.path}: the contender went away` : `lock ${lockPath} has no holder (released meanwhile)`, ExitCode.NO_NODE);
  }
  return out;
}
