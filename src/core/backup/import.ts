/**
 * Import (and cp): plan what restoring a backup at a path does, reading the
 * target (writes nothing), then apply the plan in transactions (txn.ts).
 *
 * Failure semantics, stated plainly: a plan that fits one transaction (and has
 * no ACL changes) is atomic. A larger one goes in several transactions; when one
 * fails, or the command is interrupted, what was done is undone in reverse by
 * compare-and-set, and nodes someone else changed meanwhile are left and
 * reported (ImportFailedError.leftovers).
 */
import { aclEqual, formatAcl } from '../acl.js';
import { ChrootMissingError, InterruptedError, ZkCode, type ZkError, ZkctlError, isZkCode } from '../errors.js';
import { assertNotReserved, parentOf, validatePath } from '../paths.js';
import type { ACL, MultiResult, Stat } from '../protocol/records.js';
import { isConnectionProblem, type Session } from '../session.js';
import { walk } from '../tree.js';
import { DEFAULT_TXN_BYTES, type TxnOp, batchOps, transaction } from '../txn.js';
import { pruneReserved } from './export.js';
import { type Backup, type NodeKind, absPath, kindOf, relDepth, relPath } from './format.js';

export type ImportMode = 'create' | 'merge' | 'overwrite';

export type PlanAction = 'create' | 'update' | 'acl' | 'delete' | 'keep' | 'skip' | 'type';

/** One line of the plan (what --dry-run lists). */
export interface PlanEntry {
  action: PlanAction;
  path: string;
  detail: string;
}

interface Existing {
  stat: Stat;
  data: Buffer;
  acl: ACL[];
  type: NodeKind;
  ttlMs?: number;
}

export interface ImportPlan {
  target: string;
  mode: ImportMode;
  /** Transactional writes, in order: creates (parents first), data updates, deletes (children first). */
  ops: TxnOp[];
  /** ACL changes of existing nodes (multi cannot set ACLs): applied after the transactions. */
  aclOps: Array<{ path: string; acl: ACL[]; aversion: number; old: ACL[] }>;
  /** What each delete removes (to undo it). */
  deleted: Map<string, Existing>;
  /** Old data of updated nodes (to undo). */
  updated: Map<string, { data: Buffer; version: number }>;
  entries: PlanEntry[];
  counts: { create: number; update: number; acl: number; delete: number; keep: number; skip: number; unchanged: number; type: number };
}

export interface PlanOptions {
  window?: number;
  signal?: AbortSignal;
  onProgress?: (phase: string, n: number) => void;
}

function dataDetail(a: Buffer, b: Buffer): string {
  return `data ${a.length} -> ${b.length} bytes`;
}

/**
 * Work out what importing `backup` at `target` does, reading the target
 * (writes nothing). Refuses (NODE_EXISTS, exit 4) a non-empty target in mode
 * 'create'; a missing parent is NO_NODE (exit 3).
 */
export async function planImport(session: Session, backup: Backup, target: string, mode: ImportMode, opts: PlanOptions = {}): Promise<ImportPlan> {
  target = validatePath(target);
  assertNotReserved(target, session.chroot, 'import into');
  const plan: ImportPlan = {
    target,
    mode,
    ops: [],
    aclOps: [],
    deleted: new Map(),
    updated: new Map(),
    entries: [],
    counts: { create: 0, update: 0, acl: 0, delete: 0, keep: 0, skip: 0, unchanged: 0, type: 0 },
  };
  if (backup.nodes.length === 0) return plan;
  const st = await session.exists(target);
  const existing = new Map<string, Existing>();
  if (!st) {
    if (target !== '/') {
      const parent = parentOf(target);
      if (!(await session.exists(parent))) {
        const e = await session.noNode(parent);
        if (e instanceof ChrootMissingError) throw e;
        throw Object.assign(e, {
          hint: `the parent of ${target} must exist: create it first (zkctl create ${parent})`,
        }) as ZkError;
      }
    }
  } else {
    if (mode === 'create' && (st.numChildren > 0 || st.dataLength > 0) && !(target === '/' && !session.chroot && st.numChildren === 1 && (await onlyZookeeper(session)))) {
      throw new ZkctlError(`${target}: not empty (${st.numChildren} children, ${st.dataLength} bytes of data): refusing to import over it`, 4, {
        hint: 'use --merge (add what is missing) or --overwrite (make it exactly the backup), or pick another path',
      });
    }
    let n = 0;
    for await (const info of walk(session, target, { withData: true, withAcl: true, window: opts.window, signal: opts.signal, prune: pruneReserved(session, target) })) {
      const k = kindOf(info.stat);
      existing.set(relPath(target, info.path), { stat: info.stat, data: info.data ?? Buffer.alloc(0), acl: info.acl ?? [], type: k.type, ttlMs: k.ttlMs });
      if (++n % 1000 === 0) opts.onProgress?.('read', n);
    }
  }
  const inBackup = new Set<string>();
  const skippedEphemeral = new Set<string>();
  for (const n of backup.nodes) {
    inBackup.add(n.path);
    const path = absPath(target, n.path);
    assertNotReserved(path, session.chroot, 'import');
    const ex = existing.get(n.path);
    if (n.type === 'ephemeral') {
      plan.counts.skip++;
      skippedEphemeral.add(n.path);
      plan.entries.push({ action: 'skip', path, detail: `ephemeral${n.owner ? ` (owner ${n.owner})` : ''}: not re-created` });
      continue;
    }
    if (!ex) {
      plan.ops.push({ op: 'create', path, data: n.data, acl: n.acl, type: n.type, ...(n.type === 'ttl' ? { ttlMs: n.ttlMs } : {}) });
      plan.counts.create++;
      plan.entries.push({ action: 'create', path, detail: `${n.type}${n.type === 'ttl' ? ` ttl=${n.ttlMs}ms` : ''}, ${n.data.length} bytes` });
      continue;
    }
    const dataDiff = !ex.data.equals(n.data);
    const aclDiff = !aclEqual(ex.acl, n.acl);
    // Only ephemeral-ness can be read back (containers and TTL nodes look persistent).
    const typeDiff = ex.type === 'ephemeral';
    // An existing but empty target root in mode 'create' takes the backup root's data and ACL.
    const write = mode === 'overwrite' || (mode === 'create' && n.path === '.');
    if (!dataDiff && !aclDiff && !typeDiff) {
      plan.counts.unchanged++;
      continue;
    }
    if (!write) {
      plan.counts.keep++;
      plan.entries.push({ action: 'keep', path, detail: `exists, differs (${[dataDiff && 'data', aclDiff && 'acl', typeDiff && 'type'].filter(Boolean).join(', ')}): left as it is` });
      continue;
    }
    if (dataDiff) {
      plan.ops.push({ op: 'set', path, data: n.data, version: ex.stat.version });
      plan.updated.set(path, { data: ex.data, version: ex.stat.version });
      plan.counts.update++;
      plan.entries.push({ action: 'update', path, detail: dataDetail(ex.data, n.data) });
    }
    if (aclDiff) {
      plan.aclOps.push({ path, acl: n.acl, aversion: ex.stat.aversion, old: ex.acl });
      plan.counts.acl++;
      plan.entries.push({ action: 'acl', path, detail: `${ex.acl.map(formatAcl).join(',')} -> ${n.acl.map(formatAcl).join(',')}` });
    }
    if (typeDiff) {
      plan.counts.type++;
      plan.entries.push({ action: 'type', path, detail: `is ${ex.type}, backup says ${n.type}: the type of an existing node is not changed` });
    }
  }
  if (mode === 'overwrite') {
    // Extra nodes go, children first (reverse depth-first order), after the creates and updates.
    const extras = [...existing.keys()].filter((rel) => !inBackup.has(rel));
    extras.sort((a, b) => relDepth(b) - relDepth(a) || (a < b ? 1 : a > b ? -1 : 0));
    for (const rel of extras) {
      const ex = existing.get(rel)!;
      const path = absPath(target, rel);
      plan.ops.push({ op: 'delete', path, version: ex.stat.version });
      plan.deleted.set(path, ex);
      plan.counts.delete++;
      plan.entries.push({ action: 'delete', path, detail: `not in the backup (${ex.type}, ${ex.data.length} bytes)` });
    }
  }
  return plan;
}

async function onlyZookeeper(session: Session): Promise<boolean> {
  const { children } = await session.getChildren('/');
  return children.length === 1 && children[0] === 'zookeeper';
}

/* ------------------------------------------------------------------ */
/* Import execution with rollback                                     */

export interface ApplyOptions {
  /** Largest transaction (bytes of request). Default DEFAULT_TXN_BYTES. */
  maxTxnBytes?: number;
  signal?: AbortSignal;
  onProgress?: (phase: 'write' | 'rollback', done: number, total: number) => void;
  /** Test hook: called before each transaction (index from 0); throwing simulates a failure. */
  beforeTxn?: (index: number, count: number) => void | Promise<void>;
}

export interface ApplyResult {
  transactions: number;
  /** True when everything went in one transaction (atomic and isolated). */
  atomic: boolean;
  created: number;
  updated: number;
  aclChanged: number;
  deleted: number;
}

type Undo =
  | { kind: 'created'; path: string; node: TxnOp & { op: 'create' } }
  | { kind: 'set'; path: string; old: Buffer; version: number; newData: Buffer }
  | { kind: 'deleted'; path: string; ex: Existing }
  | { kind: 'acl'; path: string; old: ACL[]; aversion: number };

/** Import failed and was rolled back (fully, or with `leftovers`). Keeps the first error's exit code. */
export class ImportFailedError extends ZkctlError {
  readonly leftovers: string[];
  constructor(message: string, exitCode: number, leftovers: string[], opts: { hint?: string; cause?: unknown } = {}) {
    super(message, exitCode, opts);
    this.leftovers = leftovers;
  }
}

/**
 * Carry out a plan: transactions of at most maxTxnBytes in order, then the
 * ACL changes. When it all fits in one transaction the import is atomic.
 * Otherwise, when any step fails (or the signal aborts), the steps already
 * done are undone in reverse order (compare-and-set; nodes changed by someone
 * else meanwhile are left and reported) and an ImportFailedError is thrown.
 */
export async function applyPlan(session: Session, plan: ImportPlan, opts: ApplyOptions = {}): Promise<ApplyResult> {
  const maxBytes = opts.maxTxnBytes ?? DEFAULT_TXN_BYTES;
  const batches = batchOps(plan.ops, maxBytes, session.chroot);
  const total = batches.length + plan.aclOps.length;
  const res: ApplyResult = { transactions: batches.length, atomic: batches.length <= 1 && plan.aclOps.length === 0, created: 0, updated: 0, aclChanged: 0, deleted: 0 };
  const undo: Undo[] = [];
  let step = 0;
  const record = (batch: TxnOp[], results?: MultiResult[]): void => {
    batch.forEach((o, i) => {
      if (o.op === 'create') {
        undo.push({ kind: 'created', path: o.path, node: o });
        res.created++;
      } else if (o.op === 'set') {
        const r = results?.[i];
        const version = r && r.op === 'set' ? r.stat.version : (plan.updated.get(o.path)?.version ?? 0) + 1;
        undo.push({ kind: 'set', path: o.path, old: plan.updated.get(o.path)!.data, version, newData: o.data });
        res.updated++;
      } else if (o.op === 'delete') {
        undo.push({ kind: 'deleted', path: o.path, ex: plan.deleted.get(o.path)! });
        res.deleted++;
      }
    });
  };
  const checkAbort = (): void => {
    if (opts.signal?.aborted) throw new InterruptedError('interrupted');
  };
  try {
    for (let i = 0; i < batches.length; i++) {
      checkAbort();
      await opts.beforeTxn?.(i, batches.length);
      const batch = batches[i];
      try {
        const results = await transaction(session, batch, batches.length > 1 ? `transaction ${i + 1}/${batches.length}` : 'transaction');
        record(batch, results);
      } catch (e) {
        // A lost connection leaves the outcome unknown: find out whether it was applied.
        if (isConnectionProblem(e) && (await batchApplied(session, batch, plan))) record(batch);
        throw e;
      }
      opts.onProgress?.('write', ++step, total);
    }
    for (const a of plan.aclOps) {
      checkAbort();
      const st = await session.setACL(a.path, a.acl, a.aversion);
      undo.push({ kind: 'acl', path: a.path, old: a.old, aversion: st.aversion });
      res.aclChanged++;
      opts.onProgress?.('write', ++step, total);
    }
  } catch (e) {
    if (undo.length === 0) throw e;
    const leftovers = await rollback(session, undo, maxBytes, opts);
    const first = (e as Error).message.split('\n')[0];
    const code = e instanceof ZkctlError ? e.exitCode : 1;
    if (leftovers.length === 0) {
      throw new ImportFailedError(`${first}; rolled back: nothing imported (${undo.length} changes undone)`, code, [], { cause: e });
    }
    throw new ImportFailedError(
      `${first}; rollback incomplete: ${leftovers.length} change(s) could not be undone: ${leftovers.slice(0, 5).join(', ')}${leftovers.length > 5 ? ', ...' : ''}`,
      code,
      leftovers,
      { cause: e, hint: 'someone changed those nodes meanwhile, or the connection is gone: inspect them (zkctl diff / zkctl tree)' },
    );
  }
  return res;
}

/** After a connection loss during a transaction: was it applied? (transactions are atomic: probe one op) */
async function batchApplied(session: Session, batch: TxnOp[], plan: ImportPlan): Promise<boolean> {
  try {
    await session.whenConnected();
    const o = batch[0];
    if (o.op === 'create') {
      const st = await session.exists(o.path);
      return !!st;
    }
    if (o.op === 'delete') return !(await session.exists(o.path));
    if (o.op === 'set') {
      const st = await session.exists(o.path);
      return !!st && st.version === (plan.updated.get(o.path)?.version ?? -2) + 1;
    }
  } catch {
    /* cannot tell: assume it was (rollback tolerates missing nodes) */
    return true;
  }
  return false;
}

async function rollback(session: Session, undo: Undo[], maxBytes: number, opts: ApplyOptions): Promise<string[]> {
  const leftovers: string[] = [];
  try {
    await session.whenConnected();
  } catch {
    return undo.map((u) => u.path);
  }
  // ACLs first (they were applied last), then the transactional changes in reverse.
  const txnUndo: TxnOp[] = [];
  const rev = undo.slice().reverse();
  for (const u of rev) {
    if (u.kind === 'acl') {
      try {
        await session.setACL(u.path, u.old, u.aversion);
      } catch (e) {
        if (!isZkCode(e, ZkCode.NO_NODE)) leftovers.push(u.path);
      }
    } else if (u.kind === 'created') txnUndo.push({ op: 'delete', path: u.path, version: -1 });
    else if (u.kind === 'set') txnUndo.push({ op: 'set', path: u.path, data: u.old, version: u.version });
    else if (u.ex.type !== 'ephemeral') {
      txnUndo.push({ op: 'create', path: u.path, data: u.ex.data, acl: u.ex.acl, type: u.ex.type, ...(u.ex.type === 'ttl' ? { ttlMs: u.ex.ttlMs } : {}) });
    } else leftovers.push(`${u.path} (ephemeral: cannot be re-created)`);
  }
  const batches = batchOps(txnUndo, maxBytes, session.chroot);
  let done = 0;
  for (const batch of batches) {
    try {
      await transaction(session, batch, 'rollback');
    } catch (e) {
      if (isConnectionProblem(e)) {
        try {
          await session.whenConnected();
        } catch {
          /* fall through to one-by-one, which reports */
        }
      }
      // One by one, tolerating what is already undone; report the rest.
      for (const o of batch) {
        try {
          await transaction(session, [o], 'rollback');
        } catch (e2) {
          if (o.op === 'delete' && isZkCode(e2, ZkCode.NO_NODE)) continue;
          if (o.op === 'create' && isZkCode(e2, ZkCode.NODE_EXISTS)) continue;
          leftovers.push(o.path);
        }
      }
    }
    opts.onProgress?.('rollback', ++done, batches.length);
  }
  return leftovers;
}
