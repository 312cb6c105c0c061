/**
 * A fair (FIFO) distributed mutex on ZooKeeper, interoperable with Curator's
 * InterProcessMutex and kazoo's Lock; with `mode: 'read' | 'write'`, the two
 * sides of a read-write lock, interoperable with Curator's
 * InterProcessReadWriteLock and kazoo's ReadLock/WriteLock.
 *
 * How it works: each contender creates an EPHEMERAL_SEQUENTIAL node under the
 * lock path (parents are created as containers, as Curator does) and holds the
 * lock when its node is the first contender in sequence order; otherwise it
 * watches only the node just ahead of it (no herd effect). Node names and data
 * follow the chosen format byte for byte (see contenders.ts).
 *
 * Failure semantics, stated plainly:
 * - A connection loss while creating the node is recovered by finding the node
 *   again by its unique prefix (`_c_<uuid>-lock-`, `<hex>__lock__`): no orphaned
 *   or doubled contenders.
 * - `acquire` gives up with NotAcquiredError (exit 10) on `try` when another
 *   contender is ahead, or when `timeoutMs` passes; it removes its own node on
 *   the way out (best effort: when the ensemble cannot be reached, the node
 *   goes when the session ends). The deadline holds whatever the link does
 *   (monotonic clock; every request and wait bounded by what is left of it,
 *   the cleanup by what is left plus 0.75 s); a node whose create or delete
 *   got no reply in time is deleted in the background once the session
 *   answers again, so it never blocks the queue on a live session.
 * - While held, a lock can be lost without zkctl hearing about it: during a
 *   partition the server expires the session (and hands the lock on) one
 *   session timeout T after it last heard from this client. So the holder
 *   tracks the time since it last heard from the server (it polls its own node
 *   every T/6) and emits:
 *     'suspended'   the connection dropped (the lock may already be at risk);
 *     'unsafe'      no contact for `schedule.stopAfterMs` (T/2 by default):
 *                   treat the lock as lost NOW; whoever runs work under it must
 *                   stop it (see fencingSchedule: dead by 0.8·T, before the
 *                   server can expire the session);
 *     'lost'        the session expired or the node was deleted: the lock is
 *                   not held any more (another contender may hold it).
 * - Every holder gets a fencing token: the czxid of its lock node. Sequence
 *   order within one parent is zxid order, so the token only grows from one
 *   holder to the next; a resource that remembers the largest token it has
 *   seen can refuse a late write from an old holder.
 * - Ordering is by the number after the last `lock-`, `latch-` or `__lock__`
 *   across all formats present, so zkctl contenders of any format exclude each
 *   other and exclude Curator and kazoo holders. kazoo only excludes zkctl in
 *   the kazoo format, Curator only in Curator's.
 * - Read-write: read nodes (`_c_<uuid>-__READ__<seq>`, `<hex>__rlock__<seq>`)
 *   are shared; a reader holds when no exclusive node (write or mutex, any
 *   format) is ahead of it and watches the closest one that is. A writer
 *   (`_c_<uuid>-__WRIT__<seq>`, `<hex>__lock__<seq>`) holds when it is first
 *   and watches the node just ahead of it, reader or writer. So a writer
 *   queued behind readers waits until every one of them is gone, and readers
 *   queued behind a writer wait for it (no writer starvation). Curator's
 *   reentrancy (a reader passes when its own process holds the write lock) is
 *   not reproduced: zkctl holds one lock per process. Fencing tokens: a
 *   writer's token is larger than the token of every holder before it, and
 *   smaller than every later holder's; concurrent readers' tokens are unordered
 *   among themselves.
 * - Revocation (Curator's makeRevocable / Revoker, see revoke.ts): with
 *   `revocable`, the holder watches its own node's data and emits 'revoked'
 *   (once) when it is, or becomes, exactly `__REVOKE__`; a request made while
 *   it was still waiting counts when it acquires. The lock stays held: whoever
 *   runs work under it stops that work and calls release(). Without
 *   `revocable` a request is ignored, as Curator ignores it for a mutex that
 *   was not made revocable.
 * - kazoo 2.8's ReadLock waits for every `__lock__` node, also those queued
 *   after it (python-zk/kazoo#649, fixed in 2.9): a kazoo reader waiting behind
 *   a writer and a writer queued behind that reader wait for each other. zkctl
 *   follows the intended rule; `lock ls` shows such a kazoo reader as a holder
 *   (the rule's verdict) while kazoo itself still waits.
 */
import { EventEmitter } from 'node:events';
import { InterruptedError, isZkCode, NotAcquiredError, SessionExpiredError, ZkCode } from '../errors.js';
import { baseName, joinPath, validatePath } from '../paths.js';
import { isConnectionProblem, type RequestOptions, type Session, type SessionState } from '../session.js';
import {
  type Contender,
  blockerOf,
  type FencingSchedule,
  fencingSchedule,
  type LockMode,
  listContenders,
  localAddress,
  newNodePrefix,
  type NodeFormat,
  sortContenders,
} from './contenders.js';
import { sessionHex } from '../session-id.js';
import { isRevokeRequest } from './revoke.js';
import { setTimer, type Timer } from '../duration.js';
import { createWithParents } from '../nodes.js';

export type LockFormat = 'curator' | 'kazoo';

/** After a missed deadline, the cleanup (deleting our node) gets what is left plus this much. */
const CLEANUP_MARGIN_MS = 750;
export type { LockMode } from './contenders.js';

export interface LockOptions {
  /** Node-name format (default 'curator'). 'curator-latch' is used by the election recipe. */
  format?: NodeFormat;
  /** Holder id stored as the node's data, UTF-8 (default: the local address, like Curator). */
  id?: string;
  /** 'exclusive' (default: a mutex), or 'read' / 'write' for a read-write lock (not with 'curator-latch'). */
  mode?: LockMode;
  /**
   * Grace between SIGTERM and SIGKILL for work run under the lock; used to
   * compute `schedule` (default 5000 ms).
   */
  graceMs?: number;
  /**
   * Honour revocation requests (node data set to `__REVOKE__`, Curator's
   * Revoker): emit 'revoked' while held. Default false (requests are ignored).
   */
  revocable?: boolean;
}

export interface AcquireOptions {
  /** Give up after this long (NotAcquiredError, exit 10). Default: wait as long as it takes. */
  timeoutMs?: number;
  /** Do not wait: fail at once (NotAcquiredError) when another contender is ahead. */
  try?: boolean;
  /** Abort waiting (InterruptedError, exit 130); the contender node is removed. */
  signal?: AbortSignal;
}

export interface LockHold {
  /** The lock path. */
  path: string;
  /** This holder's node (full path). */
  node: string;
  /** How the lock is held: 'exclusive', 'read' (shared) or 'write'. */
  mode: LockMode;
  /** czxid of the node: grows from one holder to the next. */
  fencingToken: bigint;
  /** Owning session, hex. */
  sessionId: string;
  acquiredAt: Date;
  /** How long acquire() waited. */
  waitedMs: number;
  /** When work under the lock must be stopped after losing contact. */
  schedule: FencingSchedule;
}

export interface UnsafeInfo {
  /** ms since the last byte from the server. */
  silentMs: number;
  schedule: FencingSchedule;
  reason: string;
}

export interface LostInfo {
  reason: string;
}

export type LockState = 'idle' | 'acquiring' | 'held' | 'lost' | 'released';

export type LockEvents = {
  /** Our contender node exists (created, or found again after a connection loss). */
  created: [{ node: string }];
  /** Waiting behind `predecessor` (`position` contenders are ahead). */
  waiting: [{ node: string; predecessor: string; position: number }];
  acquired: [LockHold];
  suspended: [];
  reconnected: [];
  unsafe: [UnsafeInfo];
  lost: [LostInfo];
  /** Someone asked this holder to release (revocable locks only; emitted once per hold). */
  revoked: [{ node: string }];
  released: [];
};

export class Lock extends EventEmitter<LockEvents> {
  readonly path: string;
  readonly format: NodeFormat;
  readonly mode: LockMode;
  readonly id: string;
  readonly graceMs: number;
  readonly revocable: boolean;
  private revokeEmitted = false;
  private _state: LockState = 'idle';
  private nodeName?: string;
  private nodeCzxid?: bigint;
  private _hold?: LockHold;
  private unsafeEmitted = false;
  private guardTimer?: NodeJS.Timeout;
  private polling = false;
  private lastPoll = 0;
  private detachSession?: () => void;
  // wake-ups of the waiting loop
  private woken = false;
  private wakeFn?: () => void;
  /** A create was sent for the current acquire (its node may exist though we never heard back). */
  private createTried = false;

  constructor(
    readonly session: Session,
    path: string,
    opts: LockOptions = {},
  ) {
    super();
    this.path = validatePath(path);
    this.format = opts.format ?? 'curator';
    this.mode = opts.mode ?? 'exclusive';
    if (this.mode !== 'exclusive' && this.format === 'curator-latch') throw new Error(`a ${this.mode} lock cannot use the ${this.format} format`);
    this.id = opts.id ?? localAddress();
    this.graceMs = opts.graceMs ?? 5000;
    this.revocable = opts.revocable ?? false;
  }

  get state(): LockState {
    return this._state;
  }
  /** The current hold, while held. */
  get hold(): LockHold | undefined {
    return this._state === 'held' ? this._hold : undefined;
  }
  /** Our contender node (full path), while acquiring or held. */
  get node(): string | undefined {
    return this.nodeName ? joinPath(this.path, this.nodeName) : undefined;
  }

  /** Every contender in order: [0] holds the lock. */
  contenders(): Promise<Contender[]> {
    return listContenders(this.session, this.path);
  }

  /**
   * Wait for the lock (see AcquireOptions). Throws NotAcquiredError (exit 10),
   * InterruptedError (130), SessionExpiredError (9) or a connection error (8).
   */
  async acquire(opts: AcquireOptions = {}): Promise<LockHold> {
    if (this._state === 'acquiring' || this._state === 'held') throw new Error(`lock ${this.path} is already ${this._state}`);
    this._state = 'acquiring';
    this.stopGuard();
    // After a loss without release(): drop the old node before queueing again.
    if (this.nodeName) await this.removeOwnNode(Math.min(this.session.timeoutMs, 5000));
    this.unsafeEmitted = false;
    // Monotonic: a wall-clock step must not move the deadline.
    const t0 = performance.now();
    const deadline = opts.timeoutMs !== undefined ? t0 + opts.timeoutMs : Infinity;
    const prefix = newNodePrefix(this.format, this.mode);
    const onState = (s: SessionState): void => {
      if (s === 'suspended' || s === 'reconnected' || s === 'lost' || s === 'closed') this.wake();
    };
    const onAbort = (): void => this.wake();
    this.session.on('state', onState);
    opts.signal?.addEventListener('abort', onAbort);
    try {
      await this.acquireLoop(prefix, deadline, opts);
      const hold: LockHold = {
        path: this.path,
        node: this.node!,
        mode: this.mode,
        fencingToken: this.nodeCzxid!,
        sessionId: this.session.sessionIdHex,
        acquiredAt: new Date(),
        waitedMs: Math.round(performance.now() - t0),
        schedule: fencingSchedule(this.session.negotiatedTimeoutMs, this.graceMs),
      };
      this._hold = hold;
      this._state = 'held';
      this.startGuard();
      this.emit('acquired', hold);
      return hold;
    } catch (e) {
      // Past a deadline, the cleanup gets what is left plus a small margin, not a whole request timeout:
      // the deadline holds whatever the link does. A node whose fate is unknown then (a create or delete
      // without a reply) is removed in the background once the session answers again.
      let budget = Math.min(this.session.timeoutMs, 5000);
      if (deadline !== Infinity) budget = Math.min(budget, Math.max(0, deadline - performance.now()) + CLEANUP_MARGIN_MS);
      const unsure = this.nodeName === undefined && this.createTried;
      if (!(await this.removeOwnNode(budget)) || unsure) this.sweepLater(prefix);
      this._state = 'idle';
      throw e;
    } finally {
      this.session.removeListener('state', onState);
      opts.signal?.removeEventListener('abort', onAbort);
    }
  }

  /**
   * Release: stop watching, delete our node (retrying once across a reconnect,
   * at most `timeoutMs`), and forget it. Never throws; when the node cannot be
   * deleted it goes with the session.
   */
  async release(timeoutMs = this.session.timeoutMs): Promise<void> {
    this.stopGuard();
    const was = this._state;
    await this.removeOwnNode(timeoutMs);
    this._hold = undefined;
    if (was !== 'idle') {
      this._state = 'released';
      this.emit('released');
    }
  }

  /**
   * Run `fn` under the lock and release it afterwards, even when `fn` throws.
   * `fn` gets an AbortSignal that fires when the lock becomes unsafe or is lost:
   * it must stop touching the protected resource then.
   */
  async run<T>(fn: (hold: LockHold, lost: AbortSignal) => Promise<T>, opts: AcquireOptions = {}): Promise<T> {
    const hold = await this.acquire(opts);
    const ac = new AbortController();
    const onUnsafe = (i: UnsafeInfo): void => ac.abort(new Error(i.reason));
    const onLost = (i: LostInfo): void => ac.abort(new Error(i.reason));
    this.on('unsafe', onUnsafe);
    this.on('lost', onLost);
    try {
      return await fn(hold, ac.signal);
    } finally {
      this.off('unsafe', onUnsafe);
      this.off('lost', onLost);
      await this.release();
    }
  }

  /* ------------------------------------------------------------------ acquiring */

  private wake(): void {
    this.woken = true;
    this.wakeFn?.();
  }

  private checkAlive(): void {
    const s = this.session.state;
    if (s === 'lost') throw new SessionExpiredError(`${this.session.describeLoss()} while waiting for lock ${this.path}`);
    if (s === 'closed') throw new InterruptedError(`session closed while waiting for lock ${this.path}`);
  }

  /** Per-request deadline: what is left of the wait (the session's own request timeout when it is shorter). */
  private left(deadline: number): RequestOptions {
    return deadline === Infinity ? {} : { timeoutMs: Math.max(1, deadline - performance.now()) };
  }

  private async acquireLoop(prefix: string, deadline: number, opts: AcquireOptions): Promise<void> {
    this.createTried = false;
    let lastPred: string | undefined;
    for (;;) {
      if (opts.signal?.aborted) throw new InterruptedError(`interrupted while waiting for lock ${this.path}`);
      this.checkAlive();
      try {
        if (!this.nodeName) {
          if (this.createTried) await this.findOwnNode(prefix, deadline);
          if (!this.nodeName) {
            this.createTried = true;
            await this.createNode(prefix, deadline);
          }
          this.emit('created', { node: this.node! });
        }
        this.woken = false;
        const { children } = await this.session.getChildren(this.path, undefined, this.left(deadline));
        const sorted = sortContenders(children);
        const idx = sorted.findIndex((c) => c.name === this.nodeName);
        if (idx < 0) {
          // Our node is gone (deleted by someone, or the session had trouble): take a new place in line.
          this.nodeName = undefined;
          this.nodeCzxid = undefined;
          this.createTried = false;
          continue;
        }
        const blocker = blockerOf(sorted, idx);
        if (blocker === undefined) {
          if (this.nodeCzxid === undefined) {
            const st = await this.session.exists(this.node!, undefined, this.left(deadline));
            if (!st) {
              this.nodeName = undefined;
              continue;
            }
            this.nodeCzxid = st.czxid;
          }
          return;
        }
        // Waiting: watch only the node that blocks us (the one just ahead; for a reader, the closest writer ahead).
        const pred = sorted[blocker]!;
        if (opts.try) {
          throw new NotAcquiredError(`lock ${this.path} is held (${sorted[0]!.name}${idx > 1 ? ` and ${idx - 1} more ahead` : ''})`);
        }
        if (performance.now() >= deadline) throw this.timeoutError(sorted[0]!.name);
        const predPath = joinPath(this.path, pred.name);
        const st = await this.session.exists(predPath, () => this.wake(), this.left(deadline));
        if (!st) continue; // gone already: look again
        if (pred.name !== lastPred) {
          lastPred = pred.name;
          this.emit('waiting', { node: this.node!, predecessor: predPath, position: idx });
        }
        // Safety net: look again once per session timeout even without a notification.
        const r = await this.sleep(Math.min(deadline, performance.now() + this.session.negotiatedTimeoutMs), opts.signal);
        if (r === 'timeout' && performance.now() >= deadline) throw this.timeoutError(sorted[0]!.name);
      } catch (e) {
        if (!isConnectionProblem(e) || this.session.state === 'lost' || this.session.state === 'closed') {
          if (isZkCode(e, ZkCode.SESSION_EXPIRED)) throw new SessionExpiredError(`session expired while waiting for lock ${this.path}`);
          throw e;
        }
        await this.awaitReconnect(deadline, opts.signal);
      }
    }
  }

  private timeoutError(holder: string): NotAcquiredError {
    return new NotAcquiredError(`lock ${this.path} not acquired in time (held by ${holder})`);
  }

  /** Wait for a wake-up (watch, session state, abort) or the deadline. */
  private sleep(deadline: number, signal?: AbortSignal): Promise<'wake' | 'timeout' | 'aborted'> {
    if (signal?.aborted) return Promise.resolve('aborted');
    if (this.woken) return Promise.resolve('wake');
    return new Promise((resolve) => {
      let timer: Timer | undefined;
      const done = (r: 'wake' | 'timeout' | 'aborted'): void => {
        timer?.clear();
        this.wakeFn = undefined;
        resolve(r);
      };
      this.wakeFn = () => done(signal?.aborted ? 'aborted' : 'wake');
      if (deadline !== Infinity) timer = setTimer(() => done('timeout'), Math.max(0, deadline - performance.now()));
    });
  }

  private async awaitReconnect(deadline: number, signal?: AbortSignal): Promise<void> {
    this.checkAlive();
    const remaining = deadline === Infinity ? Infinity : deadline - performance.now();
    if (remaining <= 0) throw new NotAcquiredError(`lock ${this.path} not acquired in time (connection lost)`);
    // Wait for the same session to come back; the transport declares it lost after a whole session timeout.
    const limit = Math.min(remaining, this.session.negotiatedTimeoutMs + this.session.timeoutMs);
    let onAbort: (() => void) | undefined;
    try {
      await Promise.race([
        this.session.whenConnected(limit),
        new Promise<void>((_, reject) => {
          if (!signal) return;
          onAbort = (): void => reject(new InterruptedError(`interrupted while waiting for lock ${this.path}`));
          if (signal.aborted) onAbort();
          else signal.addEventListener('abort', onAbort, { once: true });
        }),
      ]);
    } catch (e) {
      if (isConnectionProblem(e) && performance.now() >= deadline) throw new NotAcquiredError(`lock ${this.path} not acquired in time (connection lost)`);
      throw e;
    } finally {
      if (onAbort) signal?.removeEventListener('abort', onAbort);
    }
  }

  private async createNode(prefix: string, deadline: number): Promise<void> {
    // Parents are containers (Curator's creatingParentContainersIfNeeded), made again when reaped meanwhile.
    const r = await createWithParents(this.session, joinPath(this.path, prefix), Buffer.from(this.id, 'utf8'), {
      mode: 'ephemeral',
      sequential: true,
      ...this.left(deadline),
    });
    this.nodeName = baseName(r.path);
    this.nodeCzxid = r.stat.czxid;
  }

  /** After a connection loss during create: is our node there? (by its unique prefix) */
  private async findOwnNode(prefix: string, deadline: number): Promise<void> {
    let children: string[];
    try {
      children = (await this.session.getChildren(this.path, undefined, this.left(deadline))).children;
    } catch (e) {
      if (isZkCode(e, ZkCode.NO_NODE)) return;
      throw e;
    }
    const mine = children.find((c) => c.startsWith(prefix));
    if (mine) {
      this.nodeName = mine;
      this.nodeCzxid = undefined;
    }
  }

  /**
   * Delete our node within `timeoutMs` (every request and wait bounded by it). True when it is
   * gone for sure (deleted, not there, or the session ended); false when its fate is unknown.
   */
  private async removeOwnNode(timeoutMs: number): Promise<boolean> {
    const name = this.nodeName;
    if (!name) return true;
    const node = joinPath(this.path, name);
    const end = performance.now() + timeoutMs;
    let gone = false;
    for (let attempt = 0; attempt < 3 && performance.now() < end; attempt++) {
      const st = this.session.state;
      if (st === 'lost' || st === 'closed') {
        gone = true; // ephemeral: gone with the session
        break;
      }
      try {
        await this.session.delete(node, -1, { timeoutMs: Math.max(1, end - performance.now()) });
        gone = true;
        break;
      } catch (e) {
        if (isZkCode(e, ZkCode.NO_NODE)) gone = true;
        if (gone || !isConnectionProblem(e)) break;
        try {
          await this.session.whenConnected(Math.max(1, end - performance.now()));
        } catch {
          break;
        }
      }
    }
    this.nodeName = undefined;
    this.nodeCzxid = undefined;
    return gone;
  }

  /**
   * In the background: once the session answers, delete every node with our (unique) prefix, so
   * that a node created or kept after we gave up never blocks the queue on a live session. Stops
   * when done or when the session ends (its ephemerals go with it).
   */
  private sweepLater(prefix: string): void {
    const session = this.session;
    let busy = false;
    let done = false;
    const stop = (): void => {
      done = true;
      session.removeListener('state', onState);
    };
    const sweep = async (): Promise<void> => {
      if (busy || done) return;
      busy = true;
      try {
        const { children } = await session.getChildren(this.path);
        for (const c of children) {
          if (!c.startsWith(prefix) || c === this.nodeName) continue; // this.nodeName: a later acquire's own node
          await session.delete(joinPath(this.path, c)).catch((e: unknown) => {
            if (!isZkCode(e, ZkCode.NO_NODE)) throw e;
          });
        }
        stop();
      } catch (e) {
        if (!isConnectionProblem(e)) stop(); // the parent is gone, or the session ended: nothing left to do
        // connection trouble: again at the next reconnect
      } finally {
        busy = false;
      }
    };
    const onState = (s: SessionState): void => {
      if (s === 'lost' || s === 'closed') stop();
      else if (s === 'connected' || s === 'reconnected') void sweep();
    };
    session.on('state', onState);
    const st = session.state;
    if (st === 'lost' || st === 'closed') stop();
    else if (st !== 'suspended') void sweep();
  }

  /* ------------------------------------------------------------------ holding */

  private startGuard(): void {
    const hold = this._hold!;
    const pollEvery = Math.max(200, Math.floor(hold.schedule.sessionTimeoutMs / 6));
    this.lastPoll = performance.now();
    const onState = (s: SessionState): void => {
      if (this._state !== 'held') return;
      if (s === 'suspended') this.emit('suspended');
      else if (s === 'reconnected') {
        this.emit('reconnected');
        void this.poll();
      } else if (s === 'lost') this.markLost(`the ZooKeeper ${this.session.describeLoss()}`);
      else if (s === 'closed') this.markLost('the ZooKeeper session was closed');
    };
    this.session.on('state', onState);
    this.detachSession = () => this.session.removeListener('state', onState);
    this.armNodeWatch(hold.node);
    this.revokeEmitted = false;
    if (this.revocable) this.armRevokeWatch(hold.node);
    // Only the member we talk to went silent? Try another one well before fencing (at half the
    // stop margin): if it answers, contact resumes, the silence clock restarts and the hold is kept.
    const switchAfter = Math.floor(hold.schedule.stopAfterMs / 2);
    let switched = false;
    this.guardTimer = setInterval(() => {
      if (this._state !== 'held') return;
      const silent = this.session.sinceLastContactMs;
      if (silent < switchAfter) switched = false;
      else if (!switched && this.session.servers.length > 1 && this.session.state !== 'suspended') {
        switched = true;
        this.session.dropConnection();
      }
      if (!this.unsafeEmitted && silent > hold.schedule.stopAfterMs) {
        this.unsafeEmitted = true;
        this.emit('unsafe', {
          silentMs: silent,
          schedule: hold.schedule,
          reason: `no contact with ZooKeeper for ${fmt(silent)} (session timeout ${fmt(hold.schedule.sessionTimeoutMs)}): the lock may be lost`,
        });
      }
      if (performance.now() - this.lastPoll >= pollEvery) void this.poll();
    }, 100);
  }

  /** One watch on our own node at a time: a deletion is noticed at once, not at the next poll. */
  private armNodeWatch(node: string): void {
    this.session
      .exists(node, () => {
        if (this._state !== 'held') return;
        void this.poll();
        this.armNodeWatch(node);
      })
      .then((st) => {
        if (!st && this._state === 'held') this.markLost(`lock node ${node} was deleted`);
      })
      .catch(() => undefined /* the polls and the silence clock decide */);
  }

  /**
   * Revocable holds: a data watch on our own node (as Curator's revocable
   * watcher), re-armed after each change; 'revoked' when the data is `__REVOKE__`.
   * The node-existence side is the other watch's and the polls' business.
   */
  private armRevokeWatch(node: string): void {
    if (this._state !== 'held' || this.revokeEmitted || this._hold?.node !== node) return;
    this.session
      .get(node, (ev) => {
        if (ev.type === 'deleted') return;
        this.armRevokeWatch(node);
      })
      .then(({ data }) => {
        if (isRevokeRequest(data) && this._state === 'held' && !this.revokeEmitted && this._hold?.node === node) {
          this.revokeEmitted = true;
          this.emit('revoked', { node });
        }
      })
      .catch((e: unknown) => {
        // Gone: the existence watch and the polls report the loss. Connection trouble: look again
        // once reconnected (the silence clock guards the hold meanwhile).
        if (this._state !== 'held' || isZkCode(e, ZkCode.NO_NODE) || e instanceof SessionExpiredError) return;
        this.session.whenConnected(this.session.negotiatedTimeoutMs).then(
          () => this.armRevokeWatch(node),
          () => undefined,
        );
      });
  }

  /** Check that our node is still there; also keeps the last-contact clock fresh. */
  private async poll(): Promise<void> {
    if (this.polling || this._state !== 'held' || this.session.state === 'suspended') return;
    this.polling = true;
    this.lastPoll = performance.now();
    try {
      const st = await this.session.exists(this._hold!.node);
      if (!st && this._state === 'held') this.markLost(`lock node ${this._hold!.node} was deleted`);
      else if (st && BigInt.asUintN(64, st.ephemeralOwner) !== BigInt.asUintN(64, this.session.sessionId) && this._state === 'held') {
        this.markLost(`lock node ${this._hold!.node} belongs to session ${sessionHex(st.ephemeralOwner)} now`);
      }
    } catch (e) {
      if (e instanceof SessionExpiredError || isZkCode(e, ZkCode.SESSION_EXPIRED)) this.markLost('the ZooKeeper session expired');
      // connection trouble: the silence clock decides
    } finally {
      this.polling = false;
    }
  }

  private markLost(reason: string): void {
    if (this._state !== 'held') return;
    this._state = 'lost';
    this.stopGuard();
    this.emit('lost', { reason });
  }

  private stopGuard(): void {
    if (this.guardTimer) clearInterval(this.guardTimer);
    this.guardTimer = undefined;
    this.detachSession?.();
    this.detachSession = undefined;
  }
}

function fmt(ms: number): string {
  return ms >= 1000 ? `${+(ms / 1000).toFixed(1)}s` : `${ms}ms`;
}
