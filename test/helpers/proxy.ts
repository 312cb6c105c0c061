/**
 * A small TCP proxy for fault tests (like microsoft/etcd3's test proxy):
 * clients connect to `proxy.address`, bytes go to the target.
 *
 * - forward(): pass bytes both ways (the default). Connections that were
 *   silenced are closed (their streams lost bytes, so they cannot go on).
 * - silence(): a partition: every connection stays open but bytes are dropped
 *   both ways; new connections are accepted and silenced too. Nothing tells
 *   either side that something is wrong: only timeouts can.
 * - cut(): reset (RST) every current connection; new ones are accepted.
 * - muteClients(): a one-way partition on the current connections: what clients send is
 *   dropped, what servers send still arrives. New connections work.
 * - loseReplyTo(match): once a client sends a chunk `match` accepts, pass it on but drop
 *   everything the server sends back on that connection, and reset it shortly after: the
 *   request reaches the server, its reply never reaches the client.
 * - clientBytes(): what clients sent on the newest connection (for checking what a client
 *   writes after a handshake).
 */
import { createServer, connect, type Server, type Socket } from 'node:net';

export type ProxyMode = 'forward' | 'silence';

interface Pair {
  client: Socket;
  upstream?: Socket;
  silenced: boolean;
  /** Drop what the server sends (a lost reply). */
  deaf?: boolean;
  /** Drop what the client sends (a one-way partition). */
  mute?: boolean;
  /** What the client sent on this connection. */
  sent: Buffer[];
}

export class TcpProxy {
  private mode: ProxyMode = 'forward';
  private readonly pairs = new Set<Pair>();
  private replyMatch?: (clientBytes: Buffer) => boolean;
  private newest?: Pair;
  /** Connections accepted so far. */
  accepted = 0;

  private constructor(
    private readonly server: Server,
    readonly port: number,
    readonly targetHost: string,
    readonly targetPort: number,
  ) {}

  /** Start a proxy on `listenHost` (default 127.0.0.1; port 0 = any free port) to `target` ("host:port"). */
  static start(target: string, port = 0, listenHost = '127.0.0.1'): Promise<TcpProxy> {
    const i = target.lastIndexOf(':');
    const host = target.slice(0, i);
    const tport = Number(target.slice(i + 1));
    return new Promise((resolve, reject) => {
      let proxy: TcpProxy | undefined;
      const server = createServer((client) => proxy?.onClient(client));
      server.once('error', reject);
      server.listen(port, listenHost, () => {
        const addr = server.address();
        if (!addr || typeof addr === 'string') return reject(new Error('proxy: no address'));
        proxy = new TcpProxy(server, addr.port, host, tport);
        resolve(proxy);
      });
    });
  }

  /** "127.0.0.1:<port>" */
  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** Everything the client sent on the newest connection so far. */
  clientBytes(): Buffer {
    return Buffer.concat(this.newest?.sent ?? []);
  }

  get connections(): number {
    return this.pairs.size;
  }

  /** Local ports of the open upstream connections (how the target sees them, e.g. in `cons`). */
  upstreamPorts(): number[] {
    const out: number[] = [];
    for (const p of this.pairs) if (p.upstream?.localPort) out.push(p.upstream.localPort);
    return out;
  }

  get currentMode(): ProxyMode {
    return this.mode;
  }

  private onClient(client: Socket): void {
    this.accepted++;
    const pair: Pair = { client, silenced: this.mode === 'silence', sent: [] };
    this.newest = pair;
    this.pairs.add(pair);
    client.setNoDelay(true);
    const drop = (): void => {
      if (!this.pairs.delete(pair)) return;
      client.destroy();
      pair.upstream?.destroy();
    };
    client.on('error', drop);
    client.on('close', drop);
    client.on('data', (d: Buffer) => {
      pair.sent.push(d);
      if (!pair.silenced && !pair.mute && pair.upstream && !pair.upstream.destroyed) pair.upstream.write(d);
      if (this.replyMatch?.(d)) {
        this.replyMatch = undefined;
        pair.deaf = true;
        setTimeout(() => {
          if (!this.pairs.delete(pair)) return;
          client.resetAndDestroy();
          pair.upstream?.destroy();
        }, 200);
      }
    });
    if (pair.silenced) return; // a partition: accept, never reach the target
    const up = connect({ host: this.targetHost, port: this.targetPort });
    pair.upstream = up;
    up.setNoDelay(true);
    up.on('error', drop);
    up.on('close', drop);
    up.on('data', (d: Buffer) => {
      if (!pair.silenced && !pair.deaf && !client.destroyed) client.write(d);
    });
    // Bytes the client sent before the upstream connected are queued by the socket until then.
    client.pause();
    up.once('connect', () => client.resume());
  }

  /** Pass bytes again (silenced connections are closed: their streams are broken). */
  forward(): void {
    this.mode = 'forward';
    for (const p of [...this.pairs]) {
      if (p.silenced) {
        this.pairs.delete(p);
        p.client.destroy();
        p.upstream?.destroy();
      }
    }
  }

  /** Keep every connection open but drop all bytes, both ways, new connections included. */
  silence(): void {
    this.mode = 'silence';
    for (const p of this.pairs) p.silenced = true;
  }

  /** Drop what clients send on the current connections; servers' bytes still arrive. */
  muteClients(): void {
    for (const p of this.pairs) p.mute = true;
  }

  /** The next client chunk `match` accepts is passed on, and the reply to it lost (see above). */
  loseReplyTo(match: (clientBytes: Buffer) => boolean): void {
    this.replyMatch = match;
  }

  /** Reset every current connection (the peers see ECONNRESET). */
  cut(): void {
    for (const p of [...this.pairs]) {
      this.pairs.delete(p);
      for (const s of [p.client, p.upstream]) {
        if (!s) continue;
        try {
          s.resetAndDestroy();
        } catch {
          s.destroy();
        }
      }
    }
  }

  async close(): Promise<void> {
    for (const p of [...this.pairs]) {
      p.client.destroy();
      p.upstream?.destroy();
    }
    this.pairs.clear();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
