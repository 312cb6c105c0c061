/**
 * Session: the one promise API over ZooKeeper used by every command and recipe.
 *
 * Failure semantics, stated plainly:
 * - Every request has a deadline (`timeoutMs`, default 10 s); nothing waits longer.
 * - `connect()` fails with a ConnectionError (exit 8) naming the servers tried when
 *   no server completes a handshake before the deadline (refused, unreachable, or
 *   accepting TCP and never answering).
 * - States follow Curator: 'connected' (first), 'suspended' (connection lost, the
 *   session may still be alive on the server: a lock holder must assume it may
 *   have lost the lock), 'reconnected' (same session back, or with `renew` a new
 *   session after a loss), 'lost' (the server expired the session, or no server
 *   was reached for a whole session timeout: ephemeral nodes are gone or will be).
 * - A silent connection (no reply to pings for 2/3 of the session timeout) is
 *   dropped and the next server is tried.
 * - Persistent watches (addWatch) are re-registered after every reconnect
 *   (setWatches2); one-shot watches are re-registered by the wire client.
 */
import { EventEmitter } from 'node:events';
import { ChrootMissingError, ConnectionError, SessionExpiredError, UsageError, ZkCode, ZkError, ZkctlError } from './errors.js';
import { createDebug } from './debug.js';
import { validatePath } from './paths.js';
import type { JuteReader } from './protocol/jute.js';
import {
  type ACL,
  AddWatchMode,
  CreateFlag,
  type Id,
  type MultiOp,
  type MultiResult,
  OPEN_ACL_UNSAFE,
  OpCode,
  readACLs,
  readMulti,
  readStat,
  type Stat,
  type WatchEventName,
  WatcherType,
  eventName,
  writeACLs,
  writeMulti,
} from './protocol/records.js';
import { Transport, body, fmtMs, type Notification } from './protocol/transport.js';
import { setTimer } from './duration.js';

export type { ACL, Id, MultiOp, MultiResult, Stat } from './protocol/records.js';
export { CreateFlag, OpCode, Perm, OPEN_ACL_UNSAFE, CREATOR_ALL_ACL, READ_ACL_UNSAFE, WatcherType } from './protocol/records.js';

const debug = createDebug('zkctl:session');

export interface AuthInfo {
  scheme: string;
  /** e.g. "user:password" for digest */
  credential: string;
}

export interface SessionOptions {
  /** host:port[,host:port...][/chroot] */
  connectString: string;
  /** Deadline for connecting and for each request (ms). Default 10000. */
  timeoutMs?: number;
  /** Session timeout asked of the server (ms). Default 30000; the server clamps it to [2, 20] ticks. */
  sessionTimeoutMs?: number;
  auth?: AuthInfo[];
  /** After the session is lost, start a new one (Curator's behaviour) instead of failing every request. */
  renew?: boolean;
}

export type SessionState = 'connecting' | 'connected' | 'suspended' | 'reconnected' | 'lost' | 'closed';

export interface WatchEvent {
  type: WatchEventName;
  path: string;
}
export type Watcher = (ev: WatchEvent) => void;

export type CreateMode = 'persistent' | 'ephemeral' | 'container' | 'ttl';

export interface CreateOptions {
  mode?: CreateMode;
  sequential?: boolean;
  acl?: ACL[];
  /** for mode 'ttl' */
  ttlMs?: number;
}

interface PersistentWatch {
  path: string;
  recursive: boolean;
  listeners: Set<Watcher>;
}

function toEvent(n: Notification): WatchEvent {
  return { type: eventName(n.type), path: n.path };
}

export class Session extends EventEmitter {
  timeoutMs: number;
  readonly connectString: string;
  readonly sessionTimeoutMs: number;
  private transport: Transport;
  private readonly auth: AuthInfo[];
  private readonly renew: boolean;
  private readonly persistent = new Map<string, PersistentWatch>();
  private _state: SessionState = 'connecting';
  private closing = false;

  private constructor(opts: SessionOptions) {
    super();
    this.connectString = opts.connectString;
    this.timeoutMs = opts.timeoutMs ?? 10_000;
    this.sessionTimeoutMs = opts.sessionTimeoutMs ?? 30_000;
    this.auth = opts.auth ?? [];
    this.renew = opts.renew ?? false;
    this.transport = this.newTransport();
  }

  /** Connect, or fail with exit code 8 within `timeoutMs`. */
  static async connect(opts: SessionOptions): Promise<Session> {
    const s = new Session(opts);
    await s.waitConnected(s.timeoutMs);
    s.checkChroot();
    return s;
  }

  /** Does the chroot exist on the server? (undefined: no chroot, or not known yet.) */
  private chrootExists?: Promise<boolean>;

  /**
   * Under a chroot, ask once (pipelined, not awaited) whether the chroot itself
   * exists, so that a NO_NODE can say "chroot /app does not exist" instead of
   * "/: no such node". Its reply comes before any later request's (FIFO).
   */
  private checkChroot(): void {
    if (!this.chroot) return;
    this.chrootExists = this.exists('/').then(
      (st) => st !== null,
      () => true,
    );
  }

  /**
   * The error for "`path` does not exist" found by a read (exists() was null):
   * a ChrootMissingError when the chroot itself is missing, else ZkError NO_NODE.
   */
  async noNode(path: string): Promise<ZkError> {
    return this.explainNoNode(new ZkError(ZkCode.NO_NODE, path), path);
  }

  /** `e`, or a ChrootMissingError when it is a NO_NODE caused by a missing chroot. */
  private async explainNoNode(e: ZkError, path: string | undefined): Promise<ZkError> {
    if (!this.chrootExists || e.code !== ZkCode.NO_NODE || e instanceof ChrootMissingError) return e;
    let exists = await this.chrootExists;
    if (!exists) {
      // Missing at connect time: it may have been created since (ask again, and remember).
      this.checkChroot();
      exists = await this.chrootExists;
    }
    if (exists) return e;
    const m = new ChrootMissingError(this.chroot, path, this.connectString.split('/')[0]);
    (m as ZkError & { results?: unknown }).results = (e as ZkError & { results?: unknown }).results;
    return m;
  }

  get state(): SessionState {
    return this._state;
  }
  get sessionId(): bigint {
    return this.transport.sessionId;
  }
  get sessionIdHex(): string {
    return `0x${this.transport.sessionId.toString(16)}`;
  }
  /** The session timeout the server granted (ms). */
  get negotiatedTimeoutMs(): number {
    return this.transport.negotiatedTimeoutMs || this.sessionTimeoutMs;
  }
  /** The server currently connected to ("host:port"). */
  get server(): string | undefined {
    return this.transport.server;
  }
  get servers(): string[] {
    return this.transport.servers;
  }
  get chroot(): string {
    return this.transport.chroot;
  }
  /** ms since the last byte from a server. */
  get sinceLastContactMs(): number {
    return Date.now() - this.transport.lastContact;
  }
  get lastZxid(): bigint {
    return this.transport.lastZxid;
  }

  private newTransport(): Transport {
    const nServers = this.connectString.split('/')[0].split(',').length;
    const t = new Transport(this.connectString, {
      sessionTimeoutMs: this.sessionTimeoutMs,
      handshakeTimeoutMs: Math.max(500, Math.min(5000, Math.floor(this.timeoutMs / Math.max(2, nServers)))),
      debug: debug.enabled ? debug : undefined,
    });
    for (const a of this.auth) t.addAuth(a.scheme, Buffer.from(a.credential));
    t.on('state', (s) => this.onTransportState(t, s));
    t.on('notification', (n: Notification) => this.onNotification(n));
    t.on('socketConnected', () => this.reRegisterPersistent(t));
    t.connect();
    return t;
  }

  private setState(s: SessionState): void {
    if (this._state === s) return;
    this._state = s;
    debug(`session state ${s}`);
    this.emit('state', s);
    this.emit(s);
  }

  private onTransportState(t: Transport, s: string): void {
    if (t !== this.transport || this.closing) return;
    switch (s) {
      case 'connected':
        if (this._state === 'connecting') this.setState('connected');
        else this.setState('reconnected');
        break;
      case 'disconnected':
        if (this._state === 'connected' || this._state === 'reconnected') this.setState('suspended');
        break;
      case 'expired':
        this.setState('lost');
        if (this.renew) {
          debug('session lost; starting a new session');
          this.transport = this.newTransport();
          this._state = 'suspended';
        }
        break;
      case 'authFailed':
        this.emit('authFailed');
        break;
    }
  }

  private waitConnected(timeoutMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const t = this.transport;
      const done = (err?: Error): void => {
        timer.clear();
        this.removeListener('state', onState);
        this.removeListener('authFailed', onAuth);
        if (err) {
          void this.close();
          reject(err);
        } else resolve();
      };
      const onState = (s: SessionState): void => {
        if (s === 'connected' || s === 'reconnected') done();
        else if (s === 'lost') done(new SessionExpiredError('session expired while connecting'));
      };
      const onAuth = (): void => done(new ZkError(ZkCode.AUTH_FAILED, undefined, 'connect'));
      const timer = setTimer(() => {
        const tried = t.describeServers();
        done(
          new ConnectionError(`cannot reach ZooKeeper within ${fmtMs(timeoutMs)}: tried ${tried}`, {
            hint: 'is the ensemble up? check --server / ZKCTL_SERVER / the current context (zkctl context ls)',
          }),
        );
      }, timeoutMs);
      this.on('state', onState);
      this.on('authFailed', onAuth);
      if (t.isConnected) done();
    });
  }

  /** Wait until connected again (after 'suspended'), or throw after `timeoutMs`. */
  async whenConnected(timeoutMs = this.timeoutMs): Promise<void> {
    if (this.transport.isConnected) return;
    if (this.closing) throw new ConnectionError('session is closed');
    await this.waitConnected(timeoutMs);
  }

  /**
   * Drop the TCP connection now; the session reconnects (to the next server)
   * and keeps its ephemerals and watches. For drills and tests.
   */
  dropConnection(): void {
    this.transport.dropConnection();
  }

  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    await this.transport.close(Math.min(this.timeoutMs, 2000));
    this._state = 'closed';
    this.emit('state', 'closed');
    this.emit('closed');
  }

  /* ---------------------------------------------------------------- */

  private sp(path: string): string {
    return this.transport.toServerPath(path);
  }

  private send<T>(op: number, b: Buffer | null, parse: ((r: JuteReader) => T) | null, what: string, path?: string, onReply?: (err: unknown) => void): Promise<T> {
    return this.transport.send(op, b, parse, this.timeoutMs, what, onReply).catch(async (e: unknown) => {
      if (e instanceof ZkError && path !== undefined && e.path === undefined) {
        const z = new ZkError(e.code, path);
        (z as ZkError & { results?: unknown }).results = (e as ZkError & { results?: unknown }).results;
        e = z;
      }
      if (e instanceof ZkError && e.code === ZkCode.NO_NODE && op !== OpCode.exists) throw await this.explainNoNode(e, path);
      throw e;
    });
  }

  private watchWrapper(w: Watcher): (ev: unknown) => void {
    return (ev: unknown) => {
      const e = ev as { type?: number; name?: string; path?: string; getType?: () => number; getPath?: () => string };
      const type = typeof e.getType === 'function' ? e.getType() : (e.type as number);
      const path = typeof e.getPath === 'function' ? e.getPath() : (e.path as string);
      w({ type: eventName(type), path });
    };
  }

  /** Stat of the node, or null when it does not exist. A watcher fires on create, delete or data change. */
  async exists(path: string, watcher?: Watcher): Promise<Stat | null> {
    validatePath(path);
    const sp = this.sp(path);
    // Watchers are registered as the reply is read, before any later frame: a
    // notification in the same TCP chunk as the reply must find its watcher.
    const onReply = watcher
      ? (err: unknown): void => {
          if (!err) this.transport.registerWatcher('data', path, this.watchWrapper(watcher));
          else if ((err as { getCode?: () => number }).getCode?.() === ZkCode.NO_NODE || (err as { code?: number }).code === ZkCode.NO_NODE) {
            this.transport.registerWatcher('exist', path, this.watchWrapper(watcher));
          }
        }
      : undefined;
    try {
      return await this.send(OpCode.exists, body((w) => w.string(sp).bool(!!watcher)), readStat, `exists ${path}`, path, onReply);
    } catch (e) {
      if (e instanceof ZkError && e.code === ZkCode.NO_NODE) {
        return null;
      }
      throw e;
    }
  }

  async get(path: string, watcher?: Watcher): Promise<{ data: Buffer; stat: Stat }> {
    validatePath(path);
    const sp = this.sp(path);
    const res = await this.send(
      OpCode.getData,
      body((w) => w.string(sp).bool(!!watcher)),
      (r) => ({ data: r.buffer() ?? Buffer.alloc(0), stat: readStat(r) }),
      `get ${path}`,
      path,
      watcher ? (err) => !err && this.transport.registerWatcher('data', path, this.watchWrapper(watcher)) : undefined,
    );
    return res;
  }

  async getChildren(path: string, watcher?: Watcher): Promise<{ children: string[]; stat: Stat }> {
    validatePath(path);
    const sp = this.sp(path);
    const res = await this.send(
      OpCode.getChildren2,
      body((w) => w.string(sp).bool(!!watcher)),
      (r) => ({ children: r.strings(), stat: readStat(r) }),
      `ls ${path}`,
      path,
      watcher ? (err) => !err && this.transport.registerWatcher('child', path, this.watchWrapper(watcher)) : undefined,
    );
    return res;
  }

  /** Create a node; returns its real path (sequential nodes get their suffix) and stat. */
  async create(path: string, data: Buffer = Buffer.alloc(0), opts: CreateOptions = {}): Promise<{ path: string; stat: Stat }> {
    const mode = opts.mode ?? 'persistent';
    validatePath(path, { sequential: opts.sequential });
    let flags: number;
    let op: number = OpCode.create2;
    switch (mode) {
      case 'persistent':
        flags = opts.sequential ? CreateFlag.PERSISTENT_SEQUENTIAL : CreateFlag.PERSISTENT;
        break;
      case 'ephemeral':
        flags = opts.sequential ? CreateFlag.EPHEMERAL_SEQUENTIAL : CreateFlag.EPHEMERAL;
        break;
      case 'container':
        if (opts.sequential) throw new UsageError('a container node cannot be sequential');
        flags = CreateFlag.CONTAINER;
        op = OpCode.createContainer;
        break;
      case 'ttl':
        if (!opts.ttlMs || opts.ttlMs <= 0) throw new UsageError('a TTL node needs a positive TTL');
        flags = opts.sequential ? CreateFlag.PERSISTENT_SEQUENTIAL_WITH_TTL : CreateFlag.PERSISTENT_WITH_TTL;
        op = OpCode.createTTL;
        break;
      default:
        throw new UsageError(`unknown create mode ${String(mode)}`);
    }
    const sp = this.sp(path);
    const b = body((w) => {
      w.string(sp).buffer(data);
      writeACLs(w, opts.acl ?? OPEN_ACL_UNSAFE);
      w.int(flags);
      if (op === OpCode.createTTL) w.long(BigInt(opts.ttlMs!));
    });
    return this.send(op, b, (r) => ({ path: this.transport.fromServerPath(r.string() ?? ''), stat: readStat(r) }), `create ${path}`, path);
  }

  /** Set data; `version` -1 means any version (no compare-and-set). */
  async set(path: string, data: Buffer, version = -1): Promise<Stat> {
    validatePath(path);
    const sp = this.sp(path);
    return this.send(OpCode.setData, body((w) => w.string(sp).buffer(data).int(version)), readStat, `set ${path}`, path);
  }

  async delete(path: string, version = -1): Promise<void> {
    validatePath(path);
    const sp = this.sp(path);
    await this.send(OpCode.delete, body((w) => w.string(sp).int(version)), null, `rm ${path}`, path);
  }

  async getACL(path: string): Promise<{ acl: ACL[]; stat: Stat }> {
    validatePath(path);
    const sp = this.sp(path);
    return this.send(OpCode.getACL, body((w) => w.string(sp)), (r) => ({ acl: readACLs(r), stat: readStat(r) }), `getAcl ${path}`, path);
  }

  async setACL(path: string, acl: ACL[], version = -1): Promise<Stat> {
    validatePath(path);
    const sp = this.sp(path);
    return this.send(
      OpCode.setACL,
      body((w) => {
        w.string(sp);
        writeACLs(w, acl);
        w.int(version);
      }),
      readStat,
      `setAcl ${path}`,
      path,
    );
  }

  /**
   * Atomic transaction. On failure throws a ZkError whose `opIndex` names the
   * first op that failed (and `results` holds the per-op outcome).
   */
  async multi(ops: MultiOp[], what = 'transaction'): Promise<MultiResult[]> {
    if (ops.length === 0) return [];
    for (const o of ops) validatePath(o.path, { sequential: o.op === 'create' && ((o.flags ?? 0) & 2) === 2 });
    const b = body((w) => writeMulti(w, ops, (p) => this.sp(p)));
    let results: MultiResult[] | undefined;
    let code = 0;
    try {
      results = await this.send(OpCode.multi, b, (r) => readMulti(r, (p) => this.transport.fromServerPath(p)), what);
    } catch (e) {
      if (!(e instanceof ZkError)) throw e;
      results = (e as ZkError & { results?: MultiResult[] }).results;
      code = e.code;
    }
    // A failed transaction comes back either with an error header or (3.x
    // servers) with a zero header and per-op error results.
    const idx = results ? results.findIndex((x) => x.op === 'error' && x.err !== 0 && x.err !== ZkCode.RUNTIME_INCONSISTENCY) : -1;
    if (idx >= 0 || code !== 0) {
      const failing = idx >= 0 ? ops[idx] : undefined;
      const errCode = idx >= 0 ? (results![idx] as { err: number }).err : code;
      const err = new ZkError(errCode, failing?.path, failing ? `${what}, op ${idx + 1}/${ops.length}: ${failing.op}` : what);
      Object.assign(err, { opIndex: idx, results });
      throw err;
    }
    return results ?? [];
  }

  /** Make the connected server catch up with the leader for `path`. */
  async sync(path = '/'): Promise<string> {
    validatePath(path);
    const sp = this.sp(path);
    return this.send(OpCode.sync, body((w) => w.string(sp)), (r) => this.transport.fromServerPath(r.string() ?? ''), `sync ${path}`, path);
  }

  /** All ephemeral nodes of this session under `prefix` (client paths). */
  async getEphemerals(prefix = '/'): Promise<string[]> {
    validatePath(prefix);
    const sp = this.sp(prefix);
    const list = await this.send(OpCode.getEphemerals, body((w) => w.string(sp)), (r) => r.strings(), `getEphemerals ${prefix}`, prefix);
    return list.map((p) => this.transport.fromServerPath(p));
  }

  /** Number of all descendants of `path` (not counting itself). */
  async getAllChildrenNumber(path: string): Promise<number> {
    validatePath(path);
    const sp = this.sp(path);
    return this.send(OpCode.getAllChildrenNumber, body((w) => w.string(sp)), (r) => r.int(), `count ${path}`, path);
  }

  /** Does the server hold a watch of `type` for this session on `path`? (NO_WATCHER error when not) */
  async checkWatches(path: string, type: number = WatcherType.any): Promise<boolean> {
    validatePath(path);
    const sp = this.sp(path);
    try {
      await this.send(OpCode.checkWatches, body((w) => w.string(sp).int(type)), null, `checkWatches ${path}`, path);
      return true;
    } catch (e) {
      if (e instanceof ZkError && e.code === ZkCode.NO_WATCHER) return false;
      throw e;
    }
  }

  /** Remove this session's watches of `type` on `path` from the server. */
  async removeWatches(path: string, type: number = WatcherType.any): Promise<void> {
    validatePath(path);
    const sp = this.sp(path);
    await this.send(OpCode.removeWatches, body((w) => w.string(sp).int(type)), null, `removeWatches ${path}`, path);
    if (type === WatcherType.persistent || type === WatcherType.persistentRecursive || type === WatcherType.any) {
      this.persistent.delete(path);
    }
  }

  /**
   * A persistent (optionally recursive) watch: `listener` gets every event on
   * `path` (recursive: on every descendant too) until the returned function is
   * called. Survives reconnects (re-registered with setWatches2).
   */
  async addWatch(path: string, listener: Watcher, opts: { recursive?: boolean } = {}): Promise<() => Promise<void>> {
    validatePath(path);
    const recursive = !!opts.recursive;
    const sp = this.sp(path);
    const mode = recursive ? AddWatchMode.persistentRecursive : AddWatchMode.persistent;
    await this.send(OpCode.addWatch, body((w) => w.string(sp).int(mode)), null, `addWatch ${path}`, path);
    let entry = this.persistent.get(path);
    if (!entry || entry.recursive !== recursive) {
      entry = { path, recursive, listeners: new Set() };
      this.persistent.set(path, entry);
    }
    entry.listeners.add(listener);
    const e = entry;
    return async () => {
      e.listeners.delete(listener);
      if (e.listeners.size === 0 && this.persistent.get(path) === e) {
        this.persistent.delete(path);
        if (this.transport.isConnected) {
          await this.send(
            OpCode.removeWatches,
            body((w) => w.string(sp).int(recursive ? WatcherType.persistentRecursive : WatcherType.persistent)),
            null,
            `removeWatches ${path}`,
            path,
          ).catch(() => undefined);
        }
      }
    };
  }

  private onNotification(n: Notification): void {
    if (this.persistent.size === 0) return;
    const ev = toEvent(n);
    for (const w of this.persistent.values()) {
      const match = w.recursive ? n.path === w.path || w.path === '/' || n.path.startsWith(`${w.path}/`) : n.path === w.path;
      if (!match) continue;
      for (const l of w.listeners) {
        try {
          l(ev);
        } catch (e) {
          debug(`watch listener threw: ${(e as Error).message}`);
        }
      }
    }
  }

  private reRegisterPersistent(t: Transport): void {
    if (this.persistent.size === 0) return;
    const plain: string[] = [];
    const rec: string[] = [];
    for (const w of this.persistent.values()) (w.recursive ? rec : plain).push(t.toServerPath(w.path));
    debug(`re-registering ${plain.length + rec.length} persistent watches (setWatches2 from zxid 0x${t.lastZxid.toString(16)})`);
    const b = body((w) => {
      w.long(t.lastZxid);
      w.strings([]).strings([]).strings([]);
      w.strings(plain).strings(rec);
    });
    t.send(OpCode.setWatches2, b, null, Math.max(this.timeoutMs, this.sessionTimeoutMs), 'setWatches2').catch((e: Error) =>
      debug(`setWatches2 failed: ${e.message}`),
    );
  }

  /**
   * Dynamic reconfiguration (needs super or reconfig ACL). `joining`/`leaving`
   * for incremental, `members` for a new full membership; `fromConfigVersion`
   * makes it a compare-and-set on the config version (-1: any).
   */
  async reconfig(opts: { joining?: string; leaving?: string; members?: string; fromConfigVersion?: bigint }): Promise<{ data: Buffer; stat: Stat }> {
    const b = body((w) => {
      w.string(opts.joining ?? null).string(opts.leaving ?? null).string(opts.members ?? null);
      w.long(opts.fromConfigVersion ?? -1n);
    });
    return this.send(OpCode.reconfig, b, (r) => ({ data: r.buffer() ?? Buffer.alloc(0), stat: readStat(r) }), 'reconfig', '/zookeeper/config');
  }

  /** Identities the server associates with this session (3.7+). */
  async whoAmI(): Promise<Id[]> {
    return this.send(
      OpCode.whoAmI,
      null,
      (r) => {
        const n = r.int();
        const out: Id[] = [];
        for (let i = 0; i < n; i++) out.push({ scheme: r.string() ?? '', id: r.string() ?? '' });
        return out;
      },
      'whoami',
    );
  }

  /** Raw request, for tests and protocol experiments. */
  raw<T>(op: number, b: Buffer | null, parse: ((r: JuteReader) => T) | null, what = `op ${op}`): Promise<T> {
    return this.send(op, b, parse, what);
  }
}

/** Is this an error that says "the connection is unusable" (retry elsewhere / later)? */
export function isConnectionProblem(e: unknown): boolean {
  return e instanceof ConnectionError || (e instanceof ZkctlError && e.exitCode === 8);
}

export { ZkError, ZkCode };
