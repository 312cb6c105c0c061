/**
 * Session: the one promise API over ZooKeeper used by every command and recipe.
 *
 * Failure semantics, stated plainly:
 * - Every request has a deadline (`timeoutMs`, default 10 s); nothing waits longer, and a
 *   request the caller was told failed before it was written is never written afterwards.
 * - `connect()` fails with a ConnectionError (exit 8) within `connectTimeoutMs` (default:
 *   `timeoutMs`), naming each server tried and why it failed (refused, no TCP answer in
 *   3.3s, accepted TCP but no handshake reply, closed the connection during the handshake).
 * - States follow Curator: 'connected' (first), 'suspended' (connection lost, the
 *   session may still be alive on the server: a lock holder must assume it may
 *   have lost the lock), 'reconnected' (same session back, or with `renew` a new
 *   session after a loss), 'lost' (the server expired the session, or no server
 *   was reached for a whole session timeout: ephemeral nodes are gone or will be).
 *
 * The connection life cycle (the loop itself is in protocol/transport.ts):
 *
 *   CONNECTING --handshake reply--> CONNECTED --socket closed / silent 2/3 T--> DISCONNECTED
 *       ^  |                          |                                           |
 *       |  +--attempt fails: next server (one budget per attempt for TCP + handshake:
 *       |     min(--timeout, session timeout) / servers, at least 1 s; a short pause
 *       |     after a whole round)                                                |
 *       +------------------------ next attempt <----------------------------------+
 *   any state --server says expired / no contact for T (client-side)--> EXPIRED (terminal)
 *   any state --close()--> CLOSED (terminal);  auth rejected --> AUTH_FAILED (terminal)
 *   (with `sasl`, the connection counts as made only after the SASL exchange, run after every
 *   handshake within the attempt's budget; a SASL refusal, or the server's "SASL required" -124,
 *   is AUTH_FAILED at once: SaslError, exit 7.)
 *   (T = the negotiated session timeout.)
 *
 * Two queues, and what happens to a request at each transition:
 * - `outgoing` (not yet written). A request issued while not connected waits here. On a
 *   successful handshake the priming goes first, built then from what is registered then:
 *   the auth packets, then the watch re-registration (SetWatches, or setWatches2 when
 *   persistent watches exist) in batches under 128 KB, then `outgoing` in order. A failed
 *   attempt or a lost connection leaves `outgoing` alone; a request leaves it the moment its
 *   deadline fires (TimeoutError, exit 8, "not sent ... (not applied)"): it is never sent.
 *   At EXPIRED / AUTH_FAILED / CLOSED everything in it fails at once.
 * - `pending` (written, no reply yet). When the connection goes, everything in it fails at
 *   once with a ConnectionError (exit 8): the server may or may not have applied it; it is
 *   never re-sent. When its deadline fires first it fails with a TimeoutError ("no reply
 *   within ..."); it stays in `pending` until its reply, which is read and dropped.
 * - Replies are matched by xid (a mismatch drops the connection); the xid wraps to 1 after
 *   2^31-1. A reply that cannot be read fails its request with "malformed reply" and drops
 *   the connection (the stream cannot be trusted); the loop reconnects.
 * - Watches: one-shot watches (exists/get/getChildren with a watcher) are kept by the
 *   transport and re-registered at every handshake; persistent watches (addWatch) by this
 *   class, re-registered the same way. At EXPIRED or CLOSED every one-shot watcher is called
 *   once with 'sessionExpired' / 'sessionClosed' (Java's None event), so nobody waits forever.
 * - close(): requests in `outgoing` fail (never sent); closeSession is written and its reply
 *   awaited at most 2 s, not at all when the server already let a request pass its
 *   deadline (a stalled server does not add 2 s to a failed command).
 * - Liveness: ping after T/3 without sending (or with only notifications coming in); a
 *   connection silent for 2T/3 is dropped and the next server tried.
 * - Read-only (`readOnly`, `--read-only`): the ConnectRequest says canBeReadOnly and the
 *   reply's read-only flag is kept (`readOnly`): writes then fail with NOTREADONLY ("the member
 *   is read-only", exit 8). ZooKeeper 3.5+ (ReadOnlyRequestProcessor) creates a session on a
 *   read-only member only as a local session: a member started with readonlymode.enabled but
 *   without localSessionsEnabled=true in its zoo.cfg answers every new session with NOTREADONLY
 *   (the error names it and the setting), and it closes a session made with the quorum when
 *   it reconnects (validateSession), so a session never moves onto a read-only member: it
 *   must be created there. With both settings reads work (test/session/lifecycle.test.ts).
 * - Every deadline and margin here uses a monotonic clock (performance.now()).
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
import { KeeperState, Transport, body, fmtMs, monoNow, type Notification } from './protocol/transport.js';
import { EventType } from './protocol/records.js';
import type { ConnectionOptions as TlsConnectionOptions } from 'node:tls';
import { TlsAuthError } from './security/tls.js';
import { parseConnectString } from './connect-string.js';
import { setTimer } from './duration.js';
import type { SaslCredentials } from './security/sasl.js';
import { sessionHex } from './session-id.js';

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
  /** Deadline for connecting only, when it must be shorter than `timeoutMs` (e.g. `lock --timeout 3s`). */
  connectTimeoutMs?: number;
  /** Session timeout asked of the server (ms). Default 30000; the server clamps it to [2, 20] ticks. */
  sessionTimeoutMs?: number;
  auth?: AuthInfo[];
  /**
   * SASL DIGEST-MD5 credentials (security/sasl.ts): the exchange runs on every (re)connect before
   * anything else; a refusal ends the session (SaslError, exit 7) instead of retrying.
   */
  sasl?: SaslCredentials;
  /** After the session is lost, start a new one (Curator's behaviour) instead of failing every request. */
  renew?: boolean;
  /** Accept a read-only member (one cut off from the quorum): reads work, writes fail with "not read-only". */
  readOnly?: boolean;
  /**
   * Connecting: fail at once (ConnectionError, exit 8) when every member refuses TCP for two full rounds
   * (nothing listens: the ensemble is down), instead of waiting out the deadline. Members that accept TCP,
   * or do not answer at all, are still waited for. Default false (tools that start members wait for them).
   */
  failFastRefused?: boolean;
  /** Connecting: called once connecting has taken over `afterMs` (1 s), and again for each other server tried. */
  onSlowConnect?: (server: string) => void;
  /** Connect over TLS with these node tls options (security/tls.ts tlsConnectOptions builds them). */
  tls?: TlsConnectionOptions;
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
  /** Deadline for this request only (ms), instead of the session's `timeoutMs`. */
  timeoutMs?: number;
}

/** Per-request options: a deadline shorter than the session's `timeoutMs` (e.g. what is left of a wait). */
export interface RequestOptions {
  timeoutMs?: number;
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
  private readonly sasl?: SaslCredentials;
  private readonly renew: boolean;
  private readonly readOnlyOk: boolean;
  private readonly connectTimeoutMs: number;
  private readonly tls?: TlsConnectionOptions;
  private readonly persistent = new Map<string, PersistentWatch>();
  private _state: SessionState = 'connecting';
  private closing = false;

  private constructor(opts: SessionOptions) {
    super();
    this.connectString = opts.connectString;
    this.timeoutMs = opts.timeoutMs ?? 10_000;
    this.sessionTimeoutMs = opts.sessionTimeoutMs ?? 30_000;
    this.auth = [...(opts.auth ?? [])];
    if (opts.sasl) this.sasl = opts.sasl;
    this.renew = opts.renew ?? false;
    this.readOnlyOk = opts.readOnly ?? false;
    this.connectTimeoutMs = Math.min(opts.connectTimeoutMs ?? this.timeoutMs, this.timeoutMs);
    if (opts.tls) this.tls = opts.tls;
    parseConnectString(this.connectString);
    this.transport = this.newTransport();
  }

  /** Connect, or fail with exit code 8 within `timeoutMs`. */
  static async connect(opts: SessionOptions): Promise<Session> {
    const s = new Session(opts);
    try {
      await s.waitConnected(s.connectTimeoutMs, { failFastRefused: opts.failFastRefused, onSlowConnect: opts.onSlowConnect });
    } catch (e) {
      await s.close();
      throw e;
    }
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

  /**
   * Why the session was last 'lost': the server said it expired (byServer), or no server replied
   * for a whole session timeout (silentMs) and it is presumed lost: the servers may still hold it,
   * and its ephemeral nodes, until they expire it.
   */
  lastLoss?: { byServer: boolean; silentMs?: number };

  /** The loss in words: "session expired (the server said so)" or "session presumed lost (...)". */
  describeLoss(): string {
    const l = this.lastLoss;
    if (!l || l.byServer) return 'session expired (the server said so)';
    return `session presumed lost (no reply from the ensemble for ${((l.silentMs ?? this.negotiatedTimeoutMs) / 1000).toFixed(1)}s; the servers may still hold it until they expire the session)`;
  }

  get state(): SessionState {
    return this._state;
  }
  get sessionId(): bigint {
    return this.transport.sessionId;
  }
  get sessionIdHex(): string {
    return sessionHex(this.transport.sessionId);
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
    return monoNow() - this.transport.lastContact;
  }
  get lastZxid(): bigint {
    return this.transport.lastZxid;
  }
  /** Connected to a read-only member (only with `readOnly`). */
  get readOnly(): boolean {
    return this.transport.isConnected && this.transport.readOnly;
  }

  private newTransport(): Transport {
    const nServers = parseConnectString(this.connectString).servers.length;
    const t = new Transport(this.connectString, {
      sessionTimeoutMs: this.sessionTimeoutMs,
      // Every member gets a try within one --timeout (TCP connect and handshake together).
      attemptTimeoutMs: Math.max(1000, Math.floor(Math.min(this.connectTimeoutMs, this.sessionTimeoutMs) / nServers)),
      readOnly: this.readOnlyOk,
      ...(this.tls ? { tls: this.tls } : {}),
      ...(this.sasl ? { sasl: this.sasl } : {}),
      debug: debug.enabled ? debug : undefined,
    });
    for (const a of this.auth) t.addAuth(a.scheme, Buffer.from(a.credential));
    t.persistentWatches = () => {
      const plain: string[] = [];
      const recursive: string[] = [];
      for (const w of this.persistent.values()) (w.recursive ? recursive : plain).push(w.path);
      return { plain, recursive };
    };
    t.on('state', (s) => this.onTransportState(t, s));
    t.on('notification', (n: Notification) => this.onNotification(n));
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
        this.lastLoss = t.expiry ?? { byServer: true };
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

  /** Wait for a connection; never closes anything (the caller decides). */
  private waitConnected(timeoutMs: number, opts: { failFastRefused?: boolean; onSlowConnect?: (server: string) => void } = {}): Promise<void> {
    return new Promise((resolve, reject) => {
      const t = this.transport;
      const done = (err?: Error): void => {
        timer.clear();
        slow?.clear();
        this.removeListener('state', onState);
        this.removeListener('authFailed', onAuth);
        t.removeListener('allRefused', onRefused);
        t.removeListener('tlsRefused', onTlsRefused);
        if (err) reject(err);
        else resolve();
      };
      const onState = (s: SessionState): void => {
        if (s === 'connected' || s === 'reconnected') done();
        else if (s === 'lost') done(new SessionExpiredError('session expired while connecting'));
        else if (s === 'closed') done(new ConnectionError('session is closed'));
      };
      const onAuth = (): void => done(t.authError ?? new ZkError(ZkCode.AUTH_FAILED, undefined, 'connect'));
      const timer = setTimer(() => {
        const tried = t.describeServers();
        done(
          new ConnectionError(`cannot reach ZooKeeper within ${fmtMs(timeoutMs)}: tried ${tried}`, {
            hint: 'is the ensemble up? check --server / ZKCTL_SERVER / the current context (zkctl context ls)',
          }),
        );
      }, timeoutMs);
      const onRefused = (): void => {
        if (!opts.failFastRefused) return;
        done(
          new ConnectionError(`cannot reach ZooKeeper (every server refused the connection): tried ${t.describeServers()}`, {
            hint: 'is the ensemble up? check --server / ZKCTL_SERVER / the current context (zkctl context ls)',
          }),
        );
      };
      // Every member refused our certificate or showed one we do not trust: waiting will not change it (exit 7).
      const onTlsRefused = (why: string): void => {
        const srvs = t.servers;
        done(new TlsAuthError(`TLS to ${srvs.length === 1 ? srvs[0] : `every server (${srvs.join(', ')})`} failed: ${why}`));
      };
      // Past 1 s: say which server is being tried (the caller decides where, e.g. a terminal only).
      let told: string | undefined;
      const tell = (): void => {
        const srv = t.server;
        if (!srv || srv === told || !opts.onSlowConnect) return;
        told = srv;
        opts.onSlowConnect(srv);
      };
      let slow: { clear(): void } | undefined;
      if (opts.onSlowConnect && timeoutMs > 1000) {
        slow = setTimer(() => {
          tell();
          const iv = setInterval(tell, 250);
          iv.unref();
          slow = { clear: () => clearInterval(iv) };
        }, 1000);
      }
      this.on('state', onState);
      this.on('authFailed', onAuth);
      t.on('allRefused', onRefused);
      t.on('tlsRefused', onTlsRefused);
      if (t.isConnected) done();
    });
  }

  /**
   * Wait until connected again (after 'suspended'), or throw after `timeoutMs`.
   * Waiting never closes the session: it may reconnect a moment later.
   */
  async whenConnected(timeoutMs = this.timeoutMs): Promise<void> {
    if (this.transport.isConnected) return;
    if (this.closing || this._state === 'closed') throw new ConnectionError('session is closed');
    if (this._state === 'lost' && !this.renew) throw new SessionExpiredError('session expired');
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

  private send<T>(
    op: number,
    b: Buffer | null,
    parse: ((r: JuteReader) => T) | null,
    what: string,
    path?: string,
    onReply?: (err: unknown) => void,
    timeoutMs?: number,
  ): Promise<T> {
    const t = timeoutMs === undefined ? this.timeoutMs : Math.max(1, Math.min(this.timeoutMs, Math.ceil(timeoutMs)));
    return this.transport.send(op, b, parse, t, what, onReply).catch(async (e: unknown) => {
      if (e instanceof ZkError && path !== undefined && e.path === undefined) {
        const z = new ZkError(e.code, path);
        (z as ZkError & { results?: unknown }).results = (e as ZkError & { results?: unknown }).results;
        e = z;
      }
      if (e instanceof ZkError && e.code === ZkCode.NO_NODE && op !== OpCode.exists) throw await this.explainNoNode(e, path);
      throw e;
    });
  }

  private watchWrapper(w: Watcher): (ev: Notification) => void {
    return (ev: Notification) => {
      if (ev.type === EventType.none) w({ type: ev.state === KeeperState.expired ? 'sessionExpired' : 'sessionClosed', path: ev.path });
      else w({ type: eventName(ev.type), path: ev.path });
    };
  }

  /** Stat of the node, or null when it does not exist. A watcher fires on create, delete or data change. */
  async exists(path: string, watcher?: Watcher, ro: RequestOptions = {}): Promise<Stat | null> {
    path = validatePath(path);
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
      return await this.send(OpCode.exists, body((w) => w.string(sp).bool(!!watcher)), readStat, `exists ${path}`, path, onReply, ro.timeoutMs);
    } catch (e) {
      if (e instanceof ZkError && e.code === ZkCode.NO_NODE) {
        return null;
      }
      throw e;
    }
  }

  async get(path: string, watcher?: Watcher): Promise<{ data: Buffer; stat: Stat }> {
    path = validatePath(path);
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

  async getChildren(path: string, watcher?: Watcher, ro: RequestOptions = {}): Promise<{ children: string[]; stat: Stat }> {
    path = validatePath(path);
    const sp = this.sp(path);
    const res = await this.send(
      OpCode.getChildren2,
      body((w) => w.string(sp).bool(!!watcher)),
      (r) => ({ children: r.strings(), stat: readStat(r) }),
      `ls ${path}`,
      path,
      watcher ? (err) => !err && this.transport.registerWatcher('child', path, this.watchWrapper(watcher)) : undefined,
      ro.timeoutMs,
    );
    return res;
  }

  /** Create a node; returns its real path (sequential nodes get their suffix) and stat. */
  async create(path: string, data: Buffer = Buffer.alloc(0), opts: CreateOptions = {}): Promise<{ path: string; stat: Stat }> {
    const mode = opts.mode ?? 'persistent';
    path = validatePath(path, { sequential: opts.sequential });
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
    return this.send(op, b, (r) => ({ path: this.transport.fromServerPath(r.string() ?? ''), stat: readStat(r) }), `create ${path}`, path, undefined, opts.timeoutMs);
  }

  /** Set data; `version` -1 means any version (no compare-and-set). */
  async set(path: string, data: Buffer, version = -1): Promise<Stat> {
    path = validatePath(path);
    const sp = this.sp(path);
    return this.send(OpCode.setData, body((w) => w.string(sp).buffer(data).int(version)), readStat, `set ${path}`, path);
  }

  async delete(path: string, version = -1, ro: RequestOptions = {}): Promise<void> {
    path = validatePath(path);
    const sp = this.sp(path);
    await this.send(OpCode.delete, body((w) => w.string(sp).int(version)), null, `rm ${path}`, path, undefined, ro.timeoutMs);
  }

  async getACL(path: string): Promise<{ acl: ACL[]; stat: Stat }> {
    path = validatePath(path);
    const sp = this.sp(path);
    return this.send(OpCode.getACL, body((w) => w.string(sp)), (r) => ({ acl: readACLs(r), stat: readStat(r) }), `getAcl ${path}`, path);
  }

  async setACL(path: string, acl: ACL[], version = -1): Promise<Stat> {
    path = validatePath(path);
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
    path = validatePath(path);
    const sp = this.sp(path);
    return this.send(OpCode.sync, body((w) => w.string(sp)), (r) => this.transport.fromServerPath(r.string() ?? ''), `sync ${path}`, path);
  }

  /** All ephemeral nodes of this session under `prefix` (client paths). */
  async getEphemerals(prefix = '/'): Promise<string[]> {
    prefix = validatePath(prefix);
    const sp = this.sp(prefix);
    const list = await this.send(OpCode.getEphemerals, body((w) => w.string(sp)), (r) => r.strings(), `getEphemerals ${prefix}`, prefix);
    return list.map((p) => this.transport.fromServerPath(p));
  }

  /** Number of all descendants of `path` (not counting itself). */
  async getAllChildrenNumber(path: string): Promise<number> {
    path = validatePath(path);
    const sp = this.sp(path);
    return this.send(OpCode.getAllChildrenNumber, body((w) => w.string(sp)), (r) => r.int(), `count ${path}`, path);
  }

  /** Does the server hold a watch of `type` for this session on `path`? (NO_WATCHER error when not) */
  async checkWatches(path: string, type: number = WatcherType.any): Promise<boolean> {
    path = validatePath(path);
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
    path = validatePath(path);
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
    path = validatePath(path);
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

  /**
   * Add credentials to the session now (zkCli's addauth): sent at once when connected, and
   * again on every reconnect and to a renewed session. The server does not answer a good
   * one; a rejected one ends the session (AUTH_FAILED).
   */
  addAuth(info: AuthInfo): void {
    this.auth.push(info);
    this.transport.addAuth(info.scheme, Buffer.from(info.credential));
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
