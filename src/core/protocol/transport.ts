/**
 * The transport: node-zookeeper-client's ConnectionManager (socket handling,
 * server rotation, handshake, auth replay, watch re-registration, request
 * queue), with the parts that are broken in 1.1.3 replaced at runtime:
 *
 * - a looped, tolerant frame parser (the original recurses once per frame and
 *   throws inside the socket handler on reply codes or op codes it does not know);
 * - requests carry their own encoder and reply parser, so 3.5+ op codes work
 *   through the client's own queue and xid bookkeeping;
 * - a watchdog: a server that accepts TCP and never answers the handshake, or a
 *   connection that goes silent, is dropped and the next server is tried;
 * - client-side session expiry once the negotiated session timeout passes
 *   without server contact (as the Java client does since ZOOKEEPER-4508);
 * - a per-request deadline.
 *
 * This is the only module (with session.ts) that touches node-zookeeper-client.
 */
import { EventEmitter } from 'node:events';
import { createRequire } from 'node:module';
import type { Socket } from 'node:net';
import { ConnectionError, SessionExpiredError, TimeoutError, ZkCode, ZkError } from '../errors.js';
import { JuteReader, JuteWriter } from './jute.js';
import { OpCode } from './records.js';
import { setTimer } from '../duration.js';

const require = createRequire(import.meta.url);
// eslint-disable-next-line @typescript-eslint/no-var-requires
const zookeeper = require('node-zookeeper-client') as NzkModule;

/* ---- the parts of node-zookeeper-client we use (its own typings are wrong) ---- */
interface NzkModule {
  createClient(connectString: string, options: Record<string, unknown>): NzkClient;
}
interface NzkClient {
  connectionManager: ConnectionManager;
  connect(): void;
  close(): void;
}
interface ServerAddr {
  host: string;
  port: number;
}
interface Packet {
  request: WireRequest;
  callback: (err: unknown, reply?: unknown) => void;
}
interface WireRequest {
  header: { type: number; xid: number } | null;
  payload: unknown;
  toBuffer(): Buffer;
  parse?: (r: JuteReader) => unknown;
}
interface WatcherManager {
  emit(ev: { type: number; state: number; path: string }): void;
  registerDataWatcher(path: string, fn: (ev: unknown) => void): void;
  registerChildWatcher(path: string, fn: (ev: unknown) => void): void;
  registerExistenceWatcher(path: string, fn: (ev: unknown) => void): void;
  isEmpty(): boolean;
}
interface ConnectionManager extends EventEmitter {
  state: number;
  servers: ServerAddr[];
  chrootPath?: string;
  socket?: Socket;
  sessionId: Buffer;
  sessionPassword: Buffer;
  sessionTimeout: number;
  connectTimeout: number;
  pingTimeout: number;
  serverAttempts: number;
  zxid: Buffer;
  pendingQueue: Packet[];
  packetQueue: { shift(): Packet | undefined };
  pendingBuffer: Buffer | null;
  watcherManager: WatcherManager;
  connect(): void;
  close(): void;
  queue(req: WireRequest, cb: (err: unknown, reply?: unknown) => void): void;
  setState(s: number): void;
  updateTimeout(t: number): void;
  onPacketQueueReadable(): void;
  onSocketTimeout(): void;
  onSocketData(chunk: Buffer): void;
  onSocketConnected(): void;
  onSocketError(err: Error): void;
  findNextServer(cb: (s: ServerAddr) => void): void;
  addAuthInfo(scheme: string, auth: Buffer): void;
}

/** ConnectionManager states (its STATES table). */
export const CM = {
  DISCONNECTED: 0,
  CONNECTING: 1,
  CONNECTED: 2,
  CONNECTED_READ_ONLY: 3,
  CLOSING: -1,
  CLOSED: -2,
  SESSION_EXPIRED: -3,
  AUTHENTICATION_FAILED: -4,
} as const;

const XID_NOTIFICATION = -1;
const XID_PING = -2;
const XID_AUTH = -4;
const XID_SET_WATCHES = -8;
/** Largest frame we accept from a server (jute.maxbuffer is 1 MB by default; be generous). */
const MAX_FRAME = 256 * 1024 * 1024;

export interface Notification {
  type: number;
  state: number;
  path: string;
}

export interface TransportOptions {
  sessionTimeoutMs: number;
  /** Extra watchdog knob: max time to wait for the handshake reply once TCP is up. */
  handshakeTimeoutMs?: number;
  debug?: (msg: string) => void;
}

export type TransportState = 'connecting' | 'connected' | 'disconnected' | 'expired' | 'authFailed' | 'closed';

/**
 * One ZooKeeper session over node-zookeeper-client's ConnectionManager.
 * Events: 'state' (TransportState), 'notification' (Notification).
 */
export class Transport extends EventEmitter {
  readonly servers: string[];
  readonly chroot: string;
  private readonly client: NzkClient;
  private readonly cm: ConnectionManager;
  private readonly debug: (msg: string) => void;
  private watchdog?: NodeJS.Timeout;
  private closed = false;
  private pending: Buffer | null = null;
  /** The socket corked until the next tick (see send()). */
  private corked?: Socket;
  private currentServer?: string;
  private socketUpAt = 0;
  /**
   * Last time the server showed it hears us: a handshake reply, a reply, a ping reply, or part
   * of a frame still arriving. Watch notifications do not count: they flow even when what we
   * send is lost (a one-way partition), and the server would expire the session meanwhile.
   */
  lastContact = Date.now();
  /** When we last sent a ping of our own (see tick()). */
  private lastPingAt = 0;
  /** Errors seen per server while trying to connect, for the one-line error message. */
  readonly serverErrors = new Map<string, string>();
  lastZxid = 0n;
  negotiatedTimeoutMs = 0;
  everConnected = false;
  state: TransportState = 'connecting';

  constructor(connectString: string, private readonly opts: TransportOptions) {
    super();
    this.debug = opts.debug ?? (() => {});
    this.client = zookeeper.createClient(connectString, {
      sessionTimeout: opts.sessionTimeoutMs,
      spinDelay: 200,
      retries: 0,
    });
    this.cm = this.client.connectionManager;
    this.servers = this.cm.servers.map((s) => `${s.host}:${s.port}`);
    this.chroot = this.cm.chrootPath ?? '';
    this.install();
  }

  private install(): void {
    const cm = this.cm;
    const self = this;
    // Remember which server each attempt goes to, and never reconnect once closed.
    const findNext = cm.findNextServer.bind(cm);
    cm.findNextServer = (cb) =>
      findNext((server) => {
        if (self.closed) return;
        self.currentServer = `${server.host}:${server.port}`;
        self.socketUpAt = 0;
        self.debug(`connecting to ${self.currentServer}`);
        cb(server);
      });
    const onErr = cm.onSocketError.bind(cm);
    cm.onSocketError = (err: Error) => {
      if (self.currentServer) self.serverErrors.set(self.currentServer, (err as NodeJS.ErrnoException).code ?? err.message);
      self.debug(`socket error from ${self.currentServer}: ${err.message}`);
      onErr(err);
    };
    const onConnected = cm.onSocketConnected.bind(cm);
    cm.onSocketConnected = () => {
      self.socketUpAt = Date.now();
      self.pending = null;
      self.debug(`tcp connected to ${self.currentServer}; handshake`);
      onConnected();
      self.emit('socketConnected');
    };
    cm.onSocketData = (chunk: Buffer) => self.onData(chunk);
    cm.on('state', (s: number) => self.onCmState(s));
  }

  /** "host:port (why)" for each server, for a one-line connection error. */
  describeServers(): string {
    return this.servers
      .map((srv) => {
        let why = this.serverErrors.get(srv);
        if (srv === this.currentServer && this.socketUpAt > 0 && !this.isConnected) why = 'accepted TCP but sent no handshake reply';
        return why ? `${srv} (${why})` : srv;
      })
      .join(', ');
  }

  /** The server we are talking to (or trying). */
  get server(): string | undefined {
    return this.currentServer;
  }

  get sessionId(): bigint {
    return this.cm.sessionId.readBigUInt64BE(0);
  }

  get isConnected(): boolean {
    return this.cm.state === CM.CONNECTED || this.cm.state === CM.CONNECTED_READ_ONLY;
  }

  connect(): void {
    this.lastContact = Date.now();
    this.client.connect();
    this.watchdog = setInterval(() => this.tick(), 100);
    this.watchdog.unref();
  }

  addAuth(scheme: string, auth: Buffer): void {
    this.cm.addAuthInfo(scheme, auth);
  }

  registerWatcher(kind: 'data' | 'child' | 'exist', path: string, fn: (ev: unknown) => void): void {
    if (kind === 'data') this.cm.watcherManager.registerDataWatcher(path, fn);
    else if (kind === 'child') this.cm.watcherManager.registerChildWatcher(path, fn);
    else this.cm.watcherManager.registerExistenceWatcher(path, fn);
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

  /**
   * Send one request through the client's queue. `body` writes the request
   * record (paths already chroot-applied); `parse` reads the reply record.
   * Rejects with ZkError for a server error, ConnectionError / TimeoutError /
   * SessionExpiredError otherwise. Never waits longer than `timeoutMs`.
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
        reject(this.state === 'expired' ? new SessionExpiredError(`${what}: session expired`) : new ConnectionError(`session is closed (${what})`));
        return;
      }
      let settled = false;
      const timer = setTimer(() => {
        if (settled) return;
        settled = true;
        reject(
          new TimeoutError(
            `${what}: no reply within ${fmtMs(timeoutMs)} from ${this.isConnected ? this.currentServer : `any of ${this.servers.join(', ')}`}`,
            { hint: 'the ensemble may be down or partitioned; raise --timeout to wait longer' },
          ),
        );
      }, timeoutMs);
      const req: WireRequest = {
        header: { type, xid: 0 },
        payload: null,
        parse: parse ?? undefined,
        toBuffer() {
          const len = body ? body.length : 0;
          const b = Buffer.allocUnsafe(12 + len);
          b.writeInt32BE(8 + len, 0);
          b.writeInt32BE(this.header!.xid, 4);
          b.writeInt32BE(type, 8);
          if (body) body.copy(b, 12);
          return b;
        },
      };
      // The wire client writes each request with its own socket.write (one syscall each):
      // cork the socket until the next tick so that requests issued together leave in one
      // writev. Order is unchanged; the flush happens before any I/O callback runs.
      const sock = this.cm.socket;
      if (sock && this.corked !== sock && this.isConnected) {
        this.corked = sock;
        sock.cork();
        process.nextTick(() => {
          this.corked = undefined;
          sock.uncork();
        });
      }
      this.cm.queue(req, (err, reply) => {
        if (settled) return;
        settled = true;
        timer.clear();
        onReply?.(err);
        if (err) reject(this.toError(err, what));
        else resolve(reply as T);
      });
    });
  }

  private toError(err: unknown, what: string): Error {
    if (err instanceof Error && !('getCode' in err)) return err;
    const code = typeof (err as { getCode?: () => number }).getCode === 'function' ? (err as { getCode(): number }).getCode() : Number((err as { code?: number }).code);
    if (code === ZkCode.CONNECTION_LOSS) {
      if (this.closed) return new ConnectionError(`${what}: session closed`);
      return new ConnectionError(`${what}: connection to ${this.currentServer ?? 'the ensemble'} lost`);
    }
    if (code === ZkCode.SESSION_EXPIRED) return new SessionExpiredError(`${what}: session expired`);
    return new ZkError(code, undefined, what);
  }

  /* ---------------- the looped, tolerant frame parser ---------------- */

  private onData(chunk: Buffer): void {
    let buf = this.pending ? Buffer.concat([this.pending, chunk]) : chunk;
    let off = 0;
    const socket = this.cm.socket;
    while (buf.length - off >= 4) {
      const size = buf.readInt32BE(off);
      if (size < 0 || size > MAX_FRAME) {
        this.debug(`bad frame length ${size}; dropping connection`);
        this.pending = null;
        socket?.destroy();
        return;
      }
      if (buf.length - off - 4 < size) break;
      const start = off + 4;
      off = start + size;
      try {
        this.onFrame(buf, start, start + size);
      } catch (e) {
        // A frame we could not read must not kill the process; drop the
        // connection so the client resynchronises with a fresh one.
        this.debug(`unreadable frame: ${(e as Error).message}; dropping connection`);
        this.pending = null;
        socket?.destroy();
        return;
      }
      if (this.cm.socket !== socket || socket?.destroyed) {
        this.pending = null;
        return;
      }
    }
    this.pending = off < buf.length ? Buffer.from(buf.subarray(off)) : null;
    // A large reply still arriving is contact too (a frame in progress is almost always a reply).
    if (this.pending) this.lastContact = Date.now();
    buf = Buffer.alloc(0);
  }

  private onFrame(buf: Buffer, start: number, end: number): void {
    const cm = this.cm;
    const r = new JuteReader(buf, start, end);
    if (cm.state === CM.CONNECTING) {
      this.lastContact = Date.now();
      r.int(); // protocol version
      const timeOut = r.int();
      const sessionId = r.long();
      const passwd = r.buffer() ?? Buffer.alloc(16);
      if (timeOut <= 0) {
        this.debug('server says the session has expired');
        cm.setState(CM.SESSION_EXPIRED);
        cm.socket?.destroy();
        return;
      }
      cm.serverAttempts = 0;
      const sid = Buffer.alloc(8);
      sid.writeBigInt64BE(sessionId);
      cm.sessionId = sid;
      cm.sessionPassword = passwd;
      cm.updateTimeout(timeOut);
      this.negotiatedTimeoutMs = timeOut;
      this.serverErrors.clear();
      cm.setState(CM.CONNECTED);
      cm.onPacketQueueReadable();
      cm.socket?.setTimeout(cm.pingTimeout, cm.onSocketTimeout.bind(cm));
      return;
    }
    const xid = r.int();
    const zxid = r.long();
    const err = r.int();
    if (xid !== XID_NOTIFICATION) this.lastContact = Date.now();
    switch (xid) {
      case XID_PING:
        return;
      case XID_AUTH:
        if (err === ZkCode.AUTH_FAILED) cm.setState(CM.AUTHENTICATION_FAILED);
        return;
      case XID_NOTIFICATION: {
        const type = r.int();
        const state = r.int();
        const path = this.fromServerPath(r.string() ?? '');
        const ev = { type, state, path };
        if (type >= 1 && type <= 4) {
          try {
            cm.watcherManager.emit(ev);
          } catch (e) {
            this.debug(`watcher threw: ${(e as Error).message}`);
          }
        }
        this.emit('notification', ev);
        return;
      }
      case XID_SET_WATCHES:
        return;
      default:
        break;
    }
    const packet = cm.pendingQueue.shift();
    if (!packet) {
      this.debug(`reply xid ${xid} with nothing pending; dropping connection`);
      cm.socket?.destroy();
      return;
    }
    if (packet.request.header && packet.request.header.xid !== xid) {
      this.debug(`reply xid ${xid} out of order (expected ${packet.request.header.xid}); dropping connection`);
      cm.pendingQueue.unshift(packet);
      cm.socket?.destroy();
      return;
    }
    if (zxid > 0n) {
      this.lastZxid = zxid;
      const zb = Buffer.alloc(8);
      zb.writeBigInt64BE(zxid);
      cm.zxid = zb;
    }
    if (err !== 0) {
      // Multi replies carry per-op results even on failure.
      if (packet.request.header?.type === OpCode.multi && packet.request.parse && r.remaining > 0) {
        let results: unknown;
        try {
          results = packet.request.parse(r);
        } catch {
          results = undefined;
        }
        packet.callback(Object.assign(new ZkError(err), { results }));
        return;
      }
      packet.callback(new ZkError(err));
      return;
    }
    let result: unknown = undefined;
    if (packet.request.parse) {
      try {
        result = packet.request.parse(r);
      } catch (e) {
        packet.callback(new ZkError(ZkCode.MARSHALLING_ERROR, undefined, `unreadable reply: ${(e as Error).message}`));
        return;
      }
    }
    packet.callback(null, result);
  }

  /* ---------------- states and the watchdog ---------------- */

  private onCmState(s: number): void {
    const map: Record<number, TransportState | undefined> = {
      [CM.CONNECTED]: 'connected',
      [CM.CONNECTED_READ_ONLY]: 'connected',
      [CM.DISCONNECTED]: 'disconnected',
      [CM.CONNECTING]: 'connecting',
      [CM.SESSION_EXPIRED]: 'expired',
      [CM.AUTHENTICATION_FAILED]: 'authFailed',
      [CM.CLOSED]: 'closed',
    };
    const next = map[s];
    if (!next || next === this.state) return;
    // Terminal states stay terminal (the client walks EXPIRED -> DISCONNECTED -> CLOSED).
    if (this.state === 'expired' || this.state === 'authFailed' || this.state === 'closed') return;
    // 'connecting' right after 'disconnected' is just the reconnect attempt.
    if (next === 'connecting' && this.state === 'disconnected') {
      this.state = 'connecting';
      return;
    }
    this.state = next;
    if (next === 'connected') {
      this.lastContact = Date.now();
      this.everConnected = true;
    }
    this.debug(`state ${next}${this.currentServer ? ` (${this.currentServer})` : ''}`);
    this.emit('state', next);
    // The server said the session is gone: nothing queued can be sent any more (the
    // client would leave it to its deadline); fail it now, and stop the watchdog.
    if (next === 'expired') this.shutdown();
  }

  private tick(): void {
    if (this.closed) return;
    const cm = this.cm;
    const now = Date.now();
    const socket = cm.socket;
    if (cm.state === CM.CONNECTING && this.socketUpAt > 0 && socket && !socket.destroyed) {
      const limit = this.opts.handshakeTimeoutMs ?? Math.max(1000, Math.min(cm.connectTimeout, 5000));
      if (now - this.socketUpAt > limit) {
        if (this.currentServer) this.serverErrors.set(this.currentServer, `accepted TCP but no handshake reply in ${fmtMs(limit)}`);
        this.debug(`${this.currentServer}: no handshake reply in ${limit} ms; trying the next server`);
        this.socketUpAt = 0;
        socket.destroy();
        return;
      }
    }
    if (this.isConnected && socket && !socket.destroyed) {
      const t = this.negotiatedTimeoutMs || this.opts.sessionTimeoutMs;
      const readTimeout = Math.floor((t * 2) / 3);
      if (now - this.lastContact > readTimeout) {
        this.debug(`${this.currentServer}: silent for ${now - this.lastContact} ms (read timeout ${readTimeout} ms); reconnecting`);
        if (this.currentServer) this.serverErrors.set(this.currentServer, 'connection went silent');
        socket.destroy();
        return;
      }
      // The wire client pings only when the socket is idle both ways; a stream of watch
      // notifications keeps it busy, and they do not prove the server hears us. So ping
      // ourselves once nothing but notifications came for a third of the session timeout.
      const pingEvery = Math.floor(t / 3);
      if (now - this.lastContact > pingEvery && now - this.lastPingAt > pingEvery) {
        this.lastPingAt = now;
        this.sendPing();
      }
    }
    if (this.everConnected && !this.isConnected && this.state !== 'expired') {
      const sessionTimeout = this.negotiatedTimeoutMs || this.opts.sessionTimeoutMs;
      if (now - this.lastContact > sessionTimeout) {
        this.debug(`no server contact for ${now - this.lastContact} ms > session timeout ${sessionTimeout} ms: session lost`);
        this.state = 'expired';
        this.emit('state', 'expired');
        this.shutdown();
      }
    }
  }

  private sendPing(): void {
    const ping: WireRequest = {
      header: { type: OpCode.ping, xid: XID_PING },
      payload: null,
      toBuffer() {
        const b = Buffer.allocUnsafe(12);
        b.writeInt32BE(8, 0);
        b.writeInt32BE(XID_PING, 4);
        b.writeInt32BE(OpCode.ping, 8);
        return b;
      },
    };
    try {
      this.cm.queue(ping, () => undefined);
    } catch (e) {
      this.debug(`ping not sent: ${(e as Error).message}`);
    }
  }

  /** Drop the current connection (the client reconnects, keeping the session). */
  dropConnection(): void {
    this.cm.socket?.destroy();
  }

  /** Send closeSession (when connected) and wait at most `waitMs` for the server to confirm. */
  async close(waitMs = 2000): Promise<void> {
    if (this.closed) return;
    const cm = this.cm;
    if (this.isConnected) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, waitMs);
        const onState = (s: number): void => {
          if (s === CM.CLOSED || s === CM.DISCONNECTED) {
            clearTimeout(t);
            cm.removeListener('state', onState);
            resolve();
          }
        };
        cm.on('state', onState);
        this.client.close();
      });
    }
    this.shutdown();
  }

  /** Stop everything now: no reconnects, socket destroyed, pending requests failed (session expired, or connection loss). */
  private shutdown(): void {
    this.closed = true;
    if (this.watchdog) clearInterval(this.watchdog);
    const cm = this.cm;
    if (cm.state !== CM.SESSION_EXPIRED && cm.state !== CM.CLOSED) cm.state = CM.CLOSING;
    cm.socket?.destroy();
    const code = this.state === 'expired' ? ZkCode.SESSION_EXPIRED : ZkCode.CONNECTION_LOSS;
    const lost = { getCode: () => code };
    for (const p of cm.pendingQueue.splice(0)) p.callback(lost);
    for (let p = cm.packetQueue.shift(); p !== undefined; p = cm.packetQueue.shift()) p.callback(lost);
    if (this.state !== 'expired') {
      this.state = 'closed';
    }
    cm.state = CM.CLOSED;
  }
}

export function fmtMs(ms: number): string {
  return ms >= 1000 ? `${+(ms / 1000).toFixed(1)}s` : `${ms}ms`;
}

/** Encode a request body with a JuteWriter. */
export function body(fn: (w: JuteWriter) => void): Buffer {
  const w = new JuteWriter();
  fn(w);
  return w.frame().subarray(4);
}
