/**
 * The bench backends' wire protocol: fixed 8-byte frames over TCP, pipelined.
 * request:  u32 request id, u32 reserved (0)
 * response: u32 request id, u32 status (0 = ok)
 * Small on purpose: the bench measures balancing and failover, not a parser.
 */
import { connect, type Socket } from 'node:net';

export const FRAME = 8;

interface Pending {
  resolve: () => void;
  reject: (e: Error) => void;
}

function connError(code: string, msg: string): Error {
  return Object.assign(new Error(msg), { code });
}

/** One pipelined connection to a backend; reconnects on the next send after a failure. */
export class BackendConnection {
  private socket?: Socket;
  private connected = false;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private queued: Buffer[] = [];
  private flushScheduled = false;
  private rest: Buffer | null = null;
  closed = false;

  constructor(
    readonly host: string,
    readonly port: number,
  ) {}

  get inFlight(): number {
    return this.pending.size;
  }

  private open(): Socket {
    const s = connect({ host: this.host, port: this.port, noDelay: true });
    this.socket = s;
    this.connected = false;
    this.rest = null;
    s.on('connect', () => {
      this.connected = true;
      this.flush();
    });
    s.on('data', (chunk: Buffer) => this.onData(chunk));
    const fail = (err?: Error): void => {
      if (this.socket !== s) return;
      this.socket = undefined;
      this.connected = false;
      this.queued = [];
      const code = (err as NodeJS.ErrnoException | undefined)?.code ?? 'ECONNRESET';
      const e = connError(code, `${this.host}:${this.port}: ${err?.message ?? 'connection closed'}`);
      const all = [...this.pending.values()];
      this.pending.clear();
      for (const p of all) p.reject(e);
    };
    s.on('error', (e) => fail(e));
    s.on('close', () => fail());
    return s;
  }

  send(): Promise<void> {
    if (this.closed) return Promise.reject(connError('ECONNRESET', 'connection closed'));
    if (!this.socket) this.open();
    const id = this.nextId;
    this.nextId = this.nextId >= 0xfffffff0 ? 1 : this.nextId + 1;
    const b = Buffer.allocUnsafe(FRAME);
    b.writeUInt32BE(id, 0);
    b.writeUInt32BE(0, 4);
    this.queued.push(b);
    if (!this.flushScheduled && this.connected) {
      this.flushScheduled = true;
      process.nextTick(() => this.flush());
    }
    return new Promise<void>((resolve, reject) => this.pending.set(id, { resolve, reject }));
  }

  private flush(): void {
    this.flushScheduled = false;
    if (!this.socket || !this.connected || this.queued.length === 0) return;
    const out = this.queued.length === 1 ? this.queued[0] : Buffer.concat(this.queued);
    this.queued = [];
    this.socket.write(out);
  }

  private onData(chunk: Buffer): void {
    let buf = this.rest ? Buffer.concat([this.rest, chunk]) : chunk;
    let off = 0;
    while (buf.length - off >= FRAME) {
      const id = buf.readUInt32BE(off);
      const status = buf.readUInt32BE(off + 4);
      off += FRAME;
      const p = this.pending.get(id);
      if (!p) continue;
      this.pending.delete(id);
      if (status === 0) p.resolve();
      else p.reject(Object.assign(new Error(`backend status ${status}`), { status }));
    }
    this.rest = off < buf.length ? Buffer.from(buf.subarray(off)) : null;
    buf = chunk;
  }

  close(): void {
    this.closed = true;
    this.socket?.destroy();
  }
}
