/**
 * The transport: zkctl's own connection loop (as the Java client's ClientCnxn), over
 * node:net sockets. node-zookeeper-client 1.1.3's ConnectionManager kept every request
 * it had queued across failed and lost connections (a request reported failed was
 * written at the next handshake), put queued requests before the auth replay, sent one
 * SetWatches of any size, and never wrapped its xid; patching it could not fix that, so
 * the loop (send queue, pending queue, priming) is ours. The life cycle is described in
 * session.ts's header; in short:
 *
 * - attempts: servers in a shuffled order, one at a time; each attempt has one budget
 *   for TCP and handshake (`attemptTimeoutMs`); after a whole round fails, a short
 *   pause; the reason each attempted server failed is kept for the error message;
 * - SASL (`sasl`, security/sasl.ts): after every handshake, within the attempt's budget and
 *   before anything else is written, the DIGEST-MD5 exchange (opcode 102); the connection
 *   counts as made only when it completes. A refusal (error -124 or AUTHFAILED, the socket
 *   closed by the server) is terminal ('authFailed', exit 7), as a server asking for SASL
 *   from a client that has none: nothing is retried, nothing hangs;
 * - priming, once per successful handshake (and SASL), before anything queued: the auth packets,
 *   then the watch re-registration in batches under WATCH_BATCH_BYTES, then the queue;
 * - `outgoing` (not yet written): survives a lost or failed connection, but a request
 *   leaves it the moment its deadline fires, so a request reported failed is never sent;
 * - `pending` (written, no reply yet): fails with a connection error when the connection
 *   goes (it may or may not have been applied; never re-sent);
 * - a watchdog: ping after a third of the session timeout, drop a connection silent for
 *   two thirds, client-side expiry after a whole session timeout without contact;
 * - a looped, tolerant frame parser; a malformed reply drops the connection.
 *
 * Every clock here is monotonic (performance.now()).
 */
import { EventEmitter } from 'node:events';
import { connect as netConnect, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { parseConnectString, formatHostPort, type HostPort } from '../connect-string.js';
import { ConnectionError, SessionExpiredError, TimeoutError, ZkCode, ZkError } from '../errors.js';
import { JuteReader, JuteWriter } from './jute.js';
import { EventType, OpCode, readSaslResponse, writeSaslRequest } from './records.js';
import { setTimer, type Timer } from '../duration.js';
import type { ConnectionOptions as TlsConnectionOptions } from 'node:tls';
import { lazyRequire } from '../lazy.js';
import { describeTlsError } from '../security/tls.js';

const tlsModule = lazyRequire<typeof import('node:tls')>('node:tls');
import { DigestMd5Client, SASL_HINT, SaslError, type SaslCredentials } from '../security/sasl.js';

/** Monotonic milliseconds (never steps with the wall clock). */
export const monoNow = (): number => performance.now();

const XID_NOTIFICATION = -1;
const XID_PING = -2;
const XID_AUTH = -4;
const XID_SET_WATCHES = -8;
/** Keeper states delivered with type None (Java's Watcher.Event.KeeperState). */
export const KeeperState = { expired: -112, closed: 7 } as const;
/** Largest frame we accept from a server (jute.maxbuffer is 1 MB by default; be generous). */
const MAX_FRAME = 256 * 1024 * 1024;
/** Byte budget of one SetWatches/setWatches2 packet (Java: 128 KB, ZOOKEEPER-706). */
export const WATCH_BATCH_BYTES = 128 * 1024;
const MAX_XID = 0x7fffffff;

export interface Notification {
  type: number;
  state: number;
  path: string;
}

export interface TransportOptions {
  sessionTimeoutMs: number;
  /** Budget of one connection attempt (TCP connect + handshake), per server. */
  attemptTimeoutMs?: number;
  /** Ask for a read-only session when only a partitioned member answers (canBeReadOnly). */
  readOnly?: boolean;
  /** Connect with TLS (a secureClientPort), with these options (security/tls.ts tlsConnectOptions); the attempt budget covers TCP + TLS + handshake. */
  tls?: TlsConnectionOptions;
  /** SASL DIGEST-MD5 credentials: the exchange runs on every (re)connect before anything else. */
  sasl?: SaslCredentials;
  debug?: (msg: string) => void;
}

/**
 * Full rounds over the member list, every member refusing TCP (ECONNREFUSED: nothing listens),
 * after which the transport emits 'allRefused' (before its first session only). Two: the second
 * round comes after the 100-300 ms pause between rounds, which rides over a listener's restart.
 */
export const REFUSED_ROUNDS = 2;

export type TransportState = 'connecting' | 'connected' | 'disconnected' | 'expired' | 'authFailed' | 'closed';

type WatchFn = (ev: Notification) => void;

interface Packet {
  xid: number;
  op: number;
  frame: Buffer;
  what: string;
  parse: ((r: JuteReader) => unknown) | null;
  /** queued: in `outgoing`; sent: in `pending`; done: answered, failed or timed out. */
  state: 'queued' | 'sent' | 'done';
  timer?: Timer;
  settle(err: Error | null, result?: unknown, code?: number): void;
}

interface Attempt {
  server: string;
  socket: Socket;
  phase: 'tcp' | 'tls' | 'handshake' | 'sasl';
  timer: NodeJS.Timeout;
  /** The SASL exchange of this connection (phase 'sasl'): its client and the xid awaited. */
  sasl?: { client: DigestMd5Client; xid: number };
  budgetMs: number;
  /** The socket error of this attempt, if any ("refused", ...). */
  error?: string;
  /** A TLS verdict on this attempt: a certificate refused by either side (exit 7). */
  tlsRefused?: string;
}

export class Transport extends EventEmitter {
  readonly servers: string[];
  readonly chroot: string;
  private readonly addrs: HostPort[];
  private readonly debug: (msg: string) => void;
  private order: number[] = [];
  private nextIdx = 0;
  private roundFailures = 0;
  /** Attempts in a row refused at TCP (reset by anything else: a timeout, a handshake, a session). */
  private refusedStreak = 0;
  /** Attempts in a row that ended with a TLS verdict (a certificate refused by either side). */
  private tlsStreak = 0;
  private attempt?: Attempt;
  private socket?: Socket;
  private retryTimer?: NodeJS.Timeout;
  private watchdog?: NodeJS.Timeout;
  private closed = false;
  /** close() has begun: a connection that goes now is not replaced. */
  private closing = false;
  private frameBuf: Buffer | null = null;
  private corked?: Socket;
  private currentServer?: string;
  private readonly outgoing: Packet[] = [];
  private readonly pending: Packet[] = [];
  private readonly auth: Array<{ scheme: string; auth: Buffer }> = [];
  private readonly watches = { data: new Map<string, Set<WatchFn>>(), exist: new Map<string, Set<WatchFn>>(), child: new Map<string, Set<WatchFn>>() };
  /** Persistent watches to re-register (client paths), supplied by the session. */
  persistentWatches: () => { plain: string[]; recursive: string[] } = () => ({ plain: [], recursive: [] });
  /** The xid of the next request (wraps to 1 after 2^31-1, as Java does). */
  nextXid = 1;
  private sessionIdV = 0n;
  private passwd: Buffer = Buffer.alloc(16);
  /**
   * Last time (monotonic ms) the server showed it hears us: a handshake reply, a reply, a ping
   * reply, or part of a frame still arriving. Watch notifications do not count: they flow even
   * when what we send is lost (a one-way partition), and the server would expire the session.
   */
  lastContact = monoNow();
  private lastSendAt = 0;
  private lastPingAt = 0;
  /** A request on the current connection reached its deadline unanswered. */
  private stalled = false;
  /** Why each server tried since the last successful handshake failed (server -> reason). */
  readonly serverErrors = new Map<string, string>();
  lastZxid = 0n;
  negotiatedTimeoutMs = 0;
  everConnected = false;
  readOnly = false;
  state: TransportState = 'connecting';
  /** Why the session ended in 'authFailed' (a SASL refusal names its cause), once it has. */
  authError?: Error;

  constructor(connectString: string, private readonly opts: TransportOptions) {
    super();
    this.debug = opts.debug ?? (() => {});
    const cs = parseConnectString(connectString);
    this.addrs = cs.servers;
    this.servers = cs.servers.map(formatHostPort);
    this.chroot = cs.chroot;
    // One shuffled order, walked round-robin (as Java's StaticHostProvider).
    this.order = this.addrs.map((_, i) => i);
    for (let i = this.order.length - 1; i > 0; i--) {
      const j = Math.floor(Math.random() * (i + 1));
      [this.order[i], this.order[j]] = [this.order[j]!, this.order[i]!];
    }
  }

  /** The server we are talking to (or trying). */
  get server(): string | undefined {
    return this.currentServer;
  }
  get sessionId(): bigint {
    return this.sessionIdV;
  }
  get isConnected(): boolean {
    return this.state === 'connected' && !!this.socket && !this.closed;
  }

  /** "host:port (why)" for each server tried since the last handshake, for a one-line error. */
  describeServers(): string {
    const parts: string[] = [];
    for (const [srv, why] of this.serverErrors) parts.push(`${srv} (${why})`);
    if (this.attempt && !this.serverErrors.has(this.attempt.server)) {
      const a = this.attempt;
      parts.push(`${a.server} (${a.phase === 'tcp' ? 'still connecting' : a.phase === 'sasl' ? 'SASL authentication still in progress' : 'accepted TCP, handshake still in progress'})`);
    }
    return parts.length ? parts.join(', ') : 'no server yet';
  }

  connect(): void {
    this.lastContact = monoNow();
    this.watchdog = setInterval(() => this.tick(), 100);
    this.watchdog.unref();
    this.startAttempt();
  }

  addAuth(scheme: string, auth: Buffer): void {
    this.auth.push({ scheme, auth });
    if (this.isConnected) this.write(this.authFrame(scheme, auth));
  }

  registerWatcher(kind: 'data' | 'child' | 'exist', path: string, fn: WatchFn): void {
    const m = this.watches[kind];
    let set = m.get(path);
    if (!set) m.set(path, (set = new Set()));
    set.add(fn);
  }

  /** Apply / strip the chroot of the connect string. */
  toServerPath(path: string): string {
    if (!this.chroot) return path;
    return path === '/' ? this.chroot : this.chroot + path;
  }
  fromServerPath(path: string): string {
    if (!this.chroot) return path;
    if (path === this.chroot) return '/';
    return path.startsWith(this.chroot + '/') ? path.slice(this.chroot.length) : path;
  }

  /* ---------------- the connection loop ---------------- */

  private attemptBudget(): number {
    if (this.opts.attemptTimeoutMs) return this.opts.attemptTimeoutMs;
    const t = this.negotiatedTimeoutMs || this.opts.sessionTimeoutMs;
    return Math.max(1000, Math.floor(t / this.addrs.length));
  }

  private startAttempt(): void {
    if (this.closed || this.closing || this.attempt || this.socket) return;
    if (this.retryTimer) return;
    // After a whole round of failures, pause a little (Java spins up to 1 s) so that a list
    // of refusing servers is not hammered.
    if (this.roundFailures >= this.addrs.length) {
      this.roundFailures = 0;
      const delay = 100 + Math.floor(Math.random() * 200);
      this.retryTimer = setTimeout(() => {
        this.retryTimer = undefined;
        this.startAttempt();
      }, delay);
      return;
    }
    const hp = this.addrs[this.order[this.nextIdx % this.addrs.length]!]!;
    this.nextIdx++;
    const server = formatHostPort(hp);
    this.currentServer = server;
    const budgetMs = this.attemptBudget();
    this.debug(`connecting to ${server} (attempt budget ${budgetMs} ms)`);
    const tlsOpts = this.opts.tls;
    const socket: Socket = tlsOpts ? tlsModule().connect({ ...tlsOpts, host: hp.host, port: hp.port }) : netConnect({ host: hp.host, port: hp.port });
    socket.setNoDelay(true);
    const a: Attempt = {
      server,
      socket,
      phase: 'tcp',
      budgetMs,
      timer: setTimeout(() => {
        if (this.attempt !== a) return;
        const why =
          a.phase === 'tcp'
            ? `no TCP answer in ${fmtMs(budgetMs)}`
            : a.phase === 'tls'
              ? `accepted TCP but no TLS handshake in ${fmtMs(budgetMs)}`
              : a.phase === 'sasl'
                ? `no SASL reply in ${fmtMs(budgetMs)}`
              : `accepted TCP but no handshake reply in ${fmtMs(budgetMs)}`;
        this.failAttempt(a, why);
      }, budgetMs),
    };
    this.attempt = a;
    if (tlsOpts) {
      socket.on('connect', () => {
        if (this.attempt === a) a.phase = 'tls';
      });
    }
    socket.on(tlsOpts ? 'secureConnect' : 'connect', () => {
      if (this.attempt !== a) return;
      a.phase = 'handshake';
      this.debug(`tcp connected to ${server}; handshake`);
      this.frameBuf = null;
      const w = new JuteWriter();
      w.int(0).long(this.lastZxid).int(this.opts.sessionTimeoutMs).long(this.sessionIdV).buffer(this.passwd).bool(!!this.opts.readOnly);
      socket.write(w.frame());
    });
    socket.on('data', (chunk: Buffer) => this.onData(socket, chunk));
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (this.attempt === a && tlsOpts) {
        const verdict = describeTlsError(err);
        if (verdict) a.tlsRefused = verdict.message;
        a.error = verdict?.message ?? (a.phase === 'tls' ? `TLS handshake failed: ${tlsErrText(err)}` : errText(err));
      } else if (this.attempt === a) a.error = errText(err);
      else if (this.socket === socket) this.debug(`socket error from ${server}: ${err.message}`);
    });
    socket.on('close', () => this.onClose(socket));
  }

  /** Why a member may close the connection during the handshake, for the error naming it. */
  private handshakeHint(): string {
    if (!this.opts.readOnly) return ' (a member without a quorum, or a read-only one, does that: see --read-only)';
    // A read-only member refuses to resume a session made with the quorum (ReadOnlyZooKeeperServer.validateSession).
    if (this.sessionIdV !== 0n) return ' (a member without a quorum does that; a read-only one does it to a session made with the quorum)';
    return ' (a member without a quorum that is not in read-only mode does that)';
  }

  private failAttempt(a: Attempt, why: string): void {
    this.debug(`${a.server}: ${why}`);
    this.serverErrors.set(a.server, why);
    clearTimeout(a.timer);
    this.attempt = undefined;
    this.roundFailures++;
    this.refusedStreak = a.phase === 'tcp' && why === 'refused' ? this.refusedStreak + 1 : 0;
    if (!this.everConnected && this.refusedStreak >= REFUSED_ROUNDS * this.addrs.length) {
      this.refusedStreak = 0;
      this.emit('allRefused');
    }
    // Every member gave a TLS verdict (a certificate refused): retrying will not change it.
    this.tlsStreak = a.tlsRefused ? this.tlsStreak + 1 : 0;
    if (!this.everConnected && a.tlsRefused && this.tlsStreak >= this.addrs.length) {
      this.tlsStreak = 0;
      this.emit('tlsRefused', a.tlsRefused);
    }
    a.socket.removeAllListeners('data');
    a.socket.destroy();
    this.startAttempt();
  }

  private onClose(socket: Socket): void {
    const a = this.attempt;
    if (a && a.socket === socket) {
      const why =
        a.phase === 'tcp' || a.tlsRefused || (a.phase === 'tls' && a.error)
          ? (a.error ?? 'connection failed')
          : a.phase === 'tls'
            ? 'closed the connection during the TLS handshake'
            : a.phase === 'sasl'
              ? `${a.error ? `${a.error} ` : ''}closed the connection during SASL authentication`
              : `${a.error ? `${a.error} ` : ''}closed the connection during the handshake${this.handshakeHint()}${this.opts.tls ? '' : '; a TLS port (secureClientPort) does that to plain TCP: see --tls'}`;
      this.failAttempt(a, why);
      return;
    }
    if (this.socket !== socket) return;
    // The established connection is gone.
    this.socket = undefined;
    this.frameBuf = null;
    this.stalled = false;
    const lost = this.pending.splice(0);
    for (const p of lost) this.finish(p, new ConnectionError(`${p.what}: connection to ${this.currentServer} lost (the request may or may not have been applied)`), undefined, ZkCode.CONNECTION_LOSS);
    if (this.closed || this.closing) return;
    this.setState('disconnected');
    this.startAttempt();
  }

  private onHandshake(socket: Socket, r: JuteReader): void {
    const a = this.attempt!;
    r.int(); // protocol version
    const timeOut = r.int();
    const sessionId = r.long();
    const passwd = r.buffer() ?? Buffer.alloc(16);
    const ro = r.remaining > 0 ? r.bool() : false;
    if (timeOut <= 0) {
      clearTimeout(a.timer);
      this.attempt = undefined;
      this.debug('server says the session has expired');
      socket.destroy();
      this.expire({ byServer: true });
      return;
    }
    this.lastContact = monoNow();
    this.sessionIdV = sessionId;
    this.passwd = passwd;
    this.negotiatedTimeoutMs = timeOut;
    this.readOnly = ro;
    if (this.opts.sasl) {
      // The session exists; it may be used only once SASL completes (within this attempt's budget).
      a.phase = 'sasl';
      const client = new DigestMd5Client(this.opts.sasl);
      this.debug(`${a.server}: SASL DIGEST-MD5 as ${this.opts.sasl.user}`);
      this.saslSend(a, client, client.first());
      return;
    }
    this.connected(a, socket);
  }

  /** One SASL token (GetSASLRequest) on the attempt's socket, with the next xid. */
  private saslSend(a: Attempt, client: DigestMd5Client, token: Buffer): void {
    const xid = this.nextXid;
    this.nextXid = xid >= MAX_XID ? 1 : xid + 1;
    a.sasl = { client, xid };
    const w = new JuteWriter();
    w.int(xid).int(OpCode.sasl);
    writeSaslRequest(w, token);
    a.socket.write(w.frame());
  }

  /** A reply during the SASL exchange: the next challenge, the end (rspauth), or a refusal. */
  private onSaslFrame(a: Attempt, r: JuteReader): void {
    const xid = r.int();
    r.long();
    const err = r.int();
    if (xid === XID_PING || xid === XID_NOTIFICATION) return;
    this.lastContact = monoNow();
    if (!a.sasl || xid !== a.sasl.xid) throw new Error(`reply xid ${xid} during SASL (expected ${a.sasl?.xid})`);
    const user = this.opts.sasl!.user;
    if (err !== 0) {
      const refused = err === ZkCode.SESSION_CLOSED_REQUIRE_SASL_AUTH || err === ZkCode.AUTH_FAILED;
      this.saslFailed(
        refused
          ? new SaslError(`SASL authentication as '${user}' failed at ${a.server}: the server refused the credentials (wrong user or password) and closed the session`, { hint: SASL_HINT })
          : new SaslError(`SASL authentication as '${user}' failed at ${a.server}: ${new ZkError(err).message}`, { hint: 'does the server accept SASL (authProvider.sasl=org.apache.zookeeper.server.auth.SASLAuthenticationProvider and a JAAS Server section)?' }),
      );
      return;
    }
    const token = readSaslResponse(r);
    let next: Buffer;
    try {
      next = a.sasl.client.respond(token);
    } catch (e) {
      this.saslFailed(e instanceof SaslError ? new SaslError(`SASL authentication as '${user}' failed at ${a.server}: ${e.message}`, { hint: e.hint ?? SASL_HINT }) : (e as Error));
      return;
    }
    if (a.sasl.client.complete) {
      this.debug(`${a.server}: SASL authentication complete`);
      a.sasl = undefined;
      this.connected(a, a.socket);
      return;
    }
    this.saslSend(a, a.sasl.client, next);
  }

  /** The server refused SASL (or proved it does not know the password): terminal, exit 7. */
  private saslFailed(err: Error): void {
    this.debug(err.message);
    this.authError = err;
    this.state = 'authFailed';
    this.emit('state', 'authFailed');
    this.shutdown(err, KeeperState.closed);
  }

  /** The connection is made (handshake, and SASL when asked): adopt the socket, prime it, go 'connected'. */
  private connected(a: Attempt, socket: Socket): void {
    clearTimeout(a.timer);
    this.attempt = undefined;
    this.serverErrors.clear();
    this.roundFailures = 0;
    this.socket = socket;
    this.stalled = false;
    this.lastPingAt = monoNow();
    // Priming, built now from what is registered now: auth first, then the watches, then the queue.
    for (const { scheme, auth } of this.auth) this.write(this.authFrame(scheme, auth));
    for (const f of this.watchFrames()) this.write(f);
    for (const p of this.outgoing.splice(0)) this.writePacket(p);
    this.everConnected = true;
    this.setState('connected');
  }

  private authFrame(scheme: string, auth: Buffer): Buffer {
    const w = new JuteWriter();
    w.int(XID_AUTH).int(OpCode.auth).int(0).string(scheme).buffer(auth);
    return w.frame();
  }

  /** SetWatches / setWatches2 packets, each under WATCH_BATCH_BYTES. */
  watchFrames(): Buffer[] {
    const sp = (p: string): string => this.toServerPath(p);
    const pers = this.persistentWatches();
    const lists: string[][] = [
      [...this.watches.data.keys()].map(sp),
      [...this.watches.exist.keys()].map(sp),
      [...this.watches.child.keys()].map(sp),
      pers.plain.map(sp),
      pers.recursive.map(sp),
    ];
    if (lists.every((l) => l.length === 0)) return [];
    const v2 = lists[3]!.length > 0 || lists[4]!.length > 0;
    const frames: Buffer[] = [];
    let batch: string[][] = lists.map(() => []);
    let bytes = 0;
    const flush = (): void => {
      const w = new JuteWriter();
      w.int(XID_SET_WATCHES).int(v2 ? OpCode.setWatches2 : OpCode.setWatches).long(this.lastZxid);
      for (let i = 0; i < (v2 ? 5 : 3); i++) w.strings(batch[i]!);
      frames.push(w.frame());
      batch = lists.map(() => []);
      bytes = 0;
    };
    lists.forEach((l, i) => {
      for (const p of l) {
        const n = Buffer.byteLength(p) + 4;
        if (bytes > 0 && bytes + n > WATCH_BATCH_BYTES) flush();
        batch[i]!.push(p);
        bytes += n;
      }
    });
    if (bytes > 0) flush();
    this.debug(`re-registering watches in ${frames.length} packet(s) (from zxid 0x${this.lastZxid.toString(16)})`);
    return frames;
  }

  private write(frame: Buffer): void {
    const sock = this.socket;
    if (!sock) return;
    // Requests issued together leave in one writev: cork until the next tick.
    if (this.corked !== sock) {
      this.corked = sock;
      sock.cork();
      process.nextTick(() => {
        this.corked = undefined;
        sock.uncork();
      });
    }
    sock.write(frame);
    this.lastSendAt = monoNow();
  }

  private writePacket(p: Packet): void {
    p.state = 'sent';
    this.pending.push(p);
    this.write(p.frame);
  }

  /* ---------------- requests ---------------- */

  /**
   * Send one request. `body` is the request record (paths already chroot-applied);
   * `parse` reads the reply record. Rejects with ZkError for a server error,
   * ConnectionError / TimeoutError / SessionExpiredError otherwise, never later than
   * `timeoutMs`; a request rejected before it was written is never written afterwards.
   */
  send<T>(
    type: number,
    body: Buffer | null,
    parse: ((r: JuteReader) => T) | null,
    timeoutMs: number,
    what: string,
    /** Called synchronously with the reply's error (null: success) before any later frame is read: register watchers here. */
    onReply?: (err: unknown) => void,
  ): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      if (this.closed) {
        reject(this.closedError(what));
        return;
      }
      const xid = this.nextXid;
      this.nextXid = xid >= MAX_XID ? 1 : xid + 1;
      const len = body ? body.length : 0;
      const frame = Buffer.allocUnsafe(12 + len);
      frame.writeInt32BE(8 + len, 0);
      frame.writeInt32BE(xid, 4);
      frame.writeInt32BE(type, 8);
      if (body) body.copy(frame, 12);
      const p: Packet = {
        xid,
        op: type,
        frame,
        what,
        parse,
        state: 'queued',
        settle: (err, result, code) => {
          if (onReply) onReply(err ? (err instanceof ZkError ? err : { code: code ?? ZkCode.CONNECTION_LOSS }) : null);
          if (err) reject(err);
          else resolve(result as T);
        },
      };
      p.timer = setTimer(() => this.onDeadline(p, timeoutMs), timeoutMs);
      if (this.isConnected) this.writePacket(p);
      else this.outgoing.push(p);
    });
  }

  private onDeadline(p: Packet, timeoutMs: number): void {
    if (p.state === 'done') return;
    const hint = { hint: 'the ensemble may be down or partitioned; raise --timeout to wait longer' };
    if (p.state === 'queued') {
      const i = this.outgoing.indexOf(p);
      if (i >= 0) this.outgoing.splice(i, 1);
      this.finish(
        p,
        new TimeoutError(`${p.what}: not sent: no connection to ${this.servers.join(', ')} within ${fmtMs(timeoutMs)} (not applied)`, hint),
        undefined,
        ZkCode.OPERATION_TIMEOUT,
      );
      return;
    }
    // Written, unanswered: it stays in `pending` (its reply, if any, is read and dropped).
    this.stalled = true;
    this.finish(
      p,
      new TimeoutError(`${p.what}: no reply within ${fmtMs(timeoutMs)} from ${this.currentServer} (the request may or may not have been applied)`, hint),
      undefined,
      ZkCode.OPERATION_TIMEOUT,
    );
  }

  private finish(p: Packet, err: Error | null, result?: unknown, code?: number): void {
    if (p.state === 'done') return;
    p.state = 'done';
    p.timer?.clear();
    p.settle(err, result, code);
  }

  private closedError(what: string): Error {
    if (this.state === 'expired') return new SessionExpiredError(`${what}: session expired`);
    if (this.state === 'authFailed') return this.authError ?? new ZkError(ZkCode.AUTH_FAILED, undefined, what);
    return new ConnectionError(`${what}: session closed`);
  }

  /* ---------------- the looped, tolerant frame parser ---------------- */

  private onData(socket: Socket, chunk: Buffer): void {
    if (socket !== this.socket && (!this.attempt || this.attempt.socket !== socket)) return;
    let buf = this.frameBuf ? Buffer.concat([this.frameBuf, chunk]) : chunk;
    let off = 0;
    while (buf.length - off >= 4) {
      const size = buf.readInt32BE(off);
      if (size < 0 || size > MAX_FRAME) {
        this.dropMalformed(socket, `bad frame length ${size}`);
        return;
      }
      if (buf.length - off - 4 < size) break;
      const start = off + 4;
      off = start + size;
      try {
        const r = new JuteReader(buf, start, start + size);
        if (this.attempt?.socket === socket && this.attempt.phase === 'sasl') {
          this.onSaslFrame(this.attempt, r);
          if (this.closed) return;
          continue;
        }
        if (this.attempt?.socket === socket && size === 16) {
          // Not a ConnectResponse: a reply header (xid, zxid, err) refusing the new session.
          // A read-only member answers createSession this way (NOTREADONLY).
          r.int();
          r.long();
          const err = r.int();
          this.failAttempt(
            this.attempt,
            err === ZkCode.NOT_READ_ONLY
              ? 'read-only member: it refused to create a new session (ZooKeeper 3.5+ creates them only with localSessionsEnabled=true in its zoo.cfg)'
              : `refused the session (${new ZkError(err).message})`,
          );
          return;
        }
        if (this.attempt?.socket === socket) this.onHandshake(socket, r);
        else this.onFrame(r);
      } catch (e) {
        this.dropMalformed(socket, `unreadable frame: ${(e as Error).message}`);
        return;
      }
      if (socket.destroyed || (socket !== this.socket && this.attempt?.socket !== socket)) return;
    }
    this.frameBuf = off < buf.length ? Buffer.from(buf.subarray(off)) : null;
    // A large reply still arriving is contact too (a frame in progress is almost always a reply).
    if (this.frameBuf) this.lastContact = monoNow();
    buf = Buffer.alloc(0);
  }

  /** A reply we cannot read: the stream cannot be trusted any more. Drop it; the loop reconnects. */
  private dropMalformed(socket: Socket, why: string): void {
    this.debug(`${this.currentServer}: ${why}; dropping the connection`);
    this.frameBuf = null;
    if (this.attempt?.socket === socket) {
      this.failAttempt(this.attempt, `malformed handshake reply (${why})`);
      return;
    }
    socket.destroy();
  }

  private onFrame(r: JuteReader): void {
    const xid = r.int();
    const zxid = r.long();
    const err = r.int();
    if (xid !== XID_NOTIFICATION) this.lastContact = monoNow();
    if (err === ZkCode.SESSION_CLOSED_REQUIRE_SASL_AUTH) {
      // Any request before (or without) SASL on a server that requires it: the server closes the session.
      const e = this.opts.sasl
        ? new SaslError(`${this.currentServer} closed the session: it requires SASL authentication`, { hint: SASL_HINT })
        : new SaslError(`${this.currentServer} requires SASL authentication and closed the session (no SASL credentials were given)`, { hint: SASL_HINT });
      this.saslFailed(e);
      return;
    }
    switch (xid) {
      case XID_PING:
      case XID_SET_WATCHES:
        return;
      case XID_AUTH:
        if (err === ZkCode.AUTH_FAILED) {
          this.debug('authentication failed');
          this.state = 'authFailed';
          this.emit('state', 'authFailed');
          this.shutdown(new ZkError(ZkCode.AUTH_FAILED), KeeperState.closed);
        }
        return;
      case XID_NOTIFICATION: {
        const type = r.int();
        const state = r.int();
        const path = this.fromServerPath(r.string() ?? '');
        this.onNotification({ type, state, path });
        return;
      }
      default:
        break;
    }
    const p = this.pending.shift();
    if (!p) throw new Error(`reply xid ${xid} with nothing pending`);
    if (p.xid !== xid) throw new Error(`reply xid ${xid} out of order (expected ${p.xid})`);
    if (zxid > 0n) this.lastZxid = zxid;
    if (p.state === 'done') return; // its deadline passed: the caller was told; the reply is dropped
    if (err !== 0) {
      // Multi replies carry per-op results even on failure.
      let results: unknown;
      if (p.op === OpCode.multi && p.parse && r.remaining > 0) {
        try {
          results = p.parse(r);
        } catch {
          results = undefined;
        }
      }
      this.finish(p, results === undefined ? new ZkError(err) : Object.assign(new ZkError(err), { results }), undefined, err);
      return;
    }
    let result: unknown = undefined;
    if (p.parse) {
      try {
        result = p.parse(r);
      } catch (e) {
        const m = `${p.what}: malformed reply from ${this.currentServer} (${(e as Error).message}); reconnecting`;
        this.finish(p, new ConnectionError(m), undefined, ZkCode.CONNECTION_LOSS);
        throw new Error(`malformed reply to xid ${xid}`);
      }
    }
    this.finish(p, null, result);
  }

  private onNotification(n: Notification): void {
    const take = (kind: 'data' | 'exist' | 'child', into: Set<WatchFn>): void => {
      const s = this.watches[kind].get(n.path);
      if (!s) return;
      this.watches[kind].delete(n.path);
      for (const f of s) into.add(f);
    };
    const fire = new Set<WatchFn>();
    switch (n.type) {
      case EventType.created:
      case EventType.dataChanged:
        take('data', fire);
        take('exist', fire);
        break;
      case EventType.childrenChanged:
        take('child', fire);
        break;
      case EventType.deleted:
        take('data', fire);
        take('exist', fire);
        take('child', fire);
        break;
      default:
        break;
    }
    for (const f of fire) {
      try {
        f(n);
      } catch (e) {
        this.debug(`watcher threw: ${(e as Error).message}`);
      }
    }
    this.emit('notification', n);
  }

  /* ---------------- states and the watchdog ---------------- */

  private setState(s: TransportState): void {
    if (s === this.state) return;
    this.state = s;
    this.debug(`state ${s}${this.currentServer ? ` (${this.currentServer})` : ''}${s === 'connected' && this.readOnly ? ' read-only' : ''}`);
    this.emit('state', s);
  }

  private tick(): void {
    if (this.closed) return;
    const now = monoNow();
    const t = this.negotiatedTimeoutMs || this.opts.sessionTimeoutMs;
    const socket = this.socket;
    if (this.isConnected && socket) {
      const readTimeout = Math.floor((t * 2) / 3);
      if (now - this.lastContact > readTimeout) {
        this.debug(`${this.currentServer}: silent for ${Math.round(now - this.lastContact)} ms (read timeout ${readTimeout} ms); reconnecting`);
        if (this.currentServer) this.serverErrors.set(this.currentServer, 'connection went silent');
        socket.destroy();
        return;
      }
      // Ping when we have sent nothing for a third of the session timeout, and also when only
      // notifications came for that long (they do not prove the server hears us).
      const pingEvery = Math.floor(t / 3);
      if ((now - this.lastSendAt > pingEvery || now - this.lastContact > pingEvery) && now - this.lastPingAt > pingEvery) {
        this.lastPingAt = now;
        const w = new JuteWriter();
        w.int(XID_PING).int(OpCode.ping);
        this.write(w.frame());
      }
    }
    if (this.everConnected && !this.isConnected && now - this.lastContact > t) {
      this.debug(`no server contact for ${Math.round(now - this.lastContact)} ms > session timeout ${t} ms: session lost`);
      this.expire({ byServer: false, silentMs: Math.round(now - this.lastContact) });
    }
  }

  /**
   * How the session ended: the server said it expired (byServer), or zkctl presumed it lost
   * after a whole session timeout without a reply (silentMs); the servers may then still hold
   * it (and its ephemeral nodes) until they expire it themselves.
   */
  expiry?: { byServer: boolean; silentMs?: number };

  private expire(how: { byServer: boolean; silentMs?: number } = { byServer: true }): void {
    if (this.closed) return;
    this.expiry ??= how;
    this.state = 'expired';
    this.emit('state', 'expired');
    this.shutdown(new SessionExpiredError('session expired'), KeeperState.expired);
  }

  /** Drop the current connection (the loop reconnects, keeping the session). */
  dropConnection(): void {
    this.socket?.destroy();
  }

  /**
   * Close the session: requests not yet written fail (never sent); closeSession is written
   * when connected, and its reply awaited at most `waitMs` (not at all when the server has
   * already let a request pass its deadline: a stalled server must not hold the caller).
   */
  async close(waitMs = 2000): Promise<void> {
    if (this.closed || this.closing) return;
    this.closing = true;
    for (const p of this.outgoing.splice(0)) this.finish(p, new ConnectionError(`${p.what}: session closed`), undefined, ZkCode.CONNECTION_LOSS);
    const socket = this.socket;
    if (this.isConnected && socket) {
      const wait = this.stalled ? 0 : waitMs;
      const done = this.send(OpCode.closeSession, null, null, Math.max(1, wait), 'closeSession').catch(() => undefined);
      if (wait > 0) await done;
      else await new Promise<void>((resolve) => socket.end(resolve));
    }
    this.shutdown(null, KeeperState.closed);
  }

  /** Stop everything now: no reconnects, sockets destroyed, every request failed, one-shot watchers told. */
  private shutdown(err: Error | null, keeperState: number): void {
    if (this.closed) return;
    this.closed = true;
    if (this.watchdog) clearInterval(this.watchdog);
    if (this.retryTimer) clearTimeout(this.retryTimer);
    if (this.attempt) {
      clearTimeout(this.attempt.timer);
      this.attempt.socket.destroy();
      this.attempt = undefined;
    }
    this.socket?.destroy();
    this.socket = undefined;
    const code = keeperState === KeeperState.expired ? ZkCode.SESSION_EXPIRED : ZkCode.CONNECTION_LOSS;
    for (const p of [...this.pending.splice(0), ...this.outgoing.splice(0)]) {
      this.finish(p, err ?? new ConnectionError(`${p.what}: session closed`), undefined, code);
    }
    if (this.state !== 'expired' && this.state !== 'authFailed') this.setState('closed');
    // Java delivers None/Expired (or Closed) to every watcher: nobody waits forever on a watch.
    // Each watcher hears it once, with the path it watched.
    const told = new Set<WatchFn>();
    for (const m of Object.values(this.watches)) {
      const entries = [...m.entries()];
      m.clear();
      for (const [path, fns] of entries) {
        for (const f of fns) {
          if (told.has(f)) continue;
          told.add(f);
          try {
            f({ type: EventType.none, state: keeperState, path });
          } catch (e) {
            this.debug(`watcher threw: ${(e as Error).message}`);
          }
        }
      }
    }
  }
}

function errText(err: NodeJS.ErrnoException): string {
  switch (err.code) {
    case 'ECONNREFUSED':
      return 'refused';
    case 'ECONNRESET':
      return 'connection reset';
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return 'unreachable';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return 'unknown host';
    default:
      return err.code ?? err.message;
  }
}

/** A TLS error that is not a certificate verdict, in a few words (node's "Client network socket disconnected ..." is a close). */
function tlsErrText(err: NodeJS.ErrnoException): string {
  if (err.code === 'ECONNRESET' || /socket disconnected before secure TLS connection/.test(err.message)) {
    return 'the server closed the connection (a plain-TCP client port does that to TLS: connect without --tls, or to its secureClientPort)';
  }
  if (/wrong version number|packet length too long|unknown protocol/i.test(err.message)) return 'the server does not speak TLS on this port (a plain-TCP client port?)';
  return err.code ?? err.message;
}

export function fmtMs(ms: number): string {
  return ms >= 1000 ? `${+(ms / 1000).toFixed(1)}s` : `${Math.round(ms)}ms`;
}

/** Encode a request body with a JuteWriter. */
export function body(fn: (w: JuteWriter) => void): Buffer {
  const w = new JuteWriter();
  fn(w);
  return w.frame().subarray(4);
}
