/**
 * A bench backend (run as its own process: `node dist/bench/backend.js '<json config>'`).
 * Serves the 8-byte frame protocol (protocol.ts) on 127.0.0.1:<port> with a fixed service
 * time and at most `concurrency` requests served at once; more wait in a FIFO queue, so an
 * overloaded backend really slows down. Registers itself with zkctl's services recipe
 * (its own session) and prints `READY <port>` on stdout; `EADDRINUSE` when the port is taken.
 * SIGTERM: unregister, close, exit 0. SIGKILL is what the bench uses for crashes.
 */
import { createServer, type Socket } from 'node:net';
import { Session } from '../core/session.js';
import { registerService } from '../core/recipes/services.js';
import { FRAME } from './protocol.js';

export interface BackendConfig {
  id: string;
  port: number;
  serviceMs: number;
  concurrency: number;
  connectString: string;
  basePath: string;
  service: string;
  sessionTimeoutMs: number;
  weight?: number;
}

interface Job {
  sock: Socket;
  id: number;
}

async function main(): Promise<void> {
  const cfg = JSON.parse(process.argv[2] ?? '{}') as BackendConfig;
  let active = 0;
  const queue: Job[] = [];
  let head = 0;
  const corked = new Set<Socket>();
  const uncorkAll = (): void => {
    for (const s of corked) if (!s.destroyed) s.uncork();
    corked.clear();
  };
  const reply = (job: Job): void => {
    if (job.sock.destroyed) return;
    if (!corked.has(job.sock)) {
      job.sock.cork();
      if (corked.size === 0) process.nextTick(uncorkAll);
      corked.add(job.sock);
    }
    const b = Buffer.allocUnsafe(FRAME);
    b.writeUInt32BE(job.id, 0);
    b.writeUInt32BE(0, 4);
    job.sock.write(b);
  };
  const start = (job: Job): void => {
    active++;
    setTimeout(() => {
      active--;
      reply(job);
      if (head < queue.length) {
        const next = queue[head++];
        if (head > 1024 && head * 2 > queue.length) {
          queue.splice(0, head);
          head = 0;
        }
        start(next);
      }
    }, cfg.serviceMs);
  };
  const server = createServer({ noDelay: true }, (sock) => {
    let rest: Buffer | null = null;
    sock.on('data', (chunk: Buffer) => {
      const buf = rest ? Buffer.concat([rest, chunk]) : chunk;
      let off = 0;
      while (buf.length - off >= FRAME) {
        const job = { sock, id: buf.readUInt32BE(off) };
        off += FRAME;
        if (active < cfg.concurrency) start(job);
        else queue.push(job);
      }
      rest = off < buf.length ? Buffer.from(buf.subarray(off)) : null;
    });
    sock.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => {
    server.once('error', (e: NodeJS.ErrnoException) => {
      process.stdout.write(`${e.code ?? 'ERROR'} ${e.message}\n`);
      process.exit(e.code === 'EADDRINUSE' ? 3 : 1);
    });
    server.listen({ host: '127.0.0.1', port: cfg.port, exclusive: true }, () => resolve());
  });
  const session = await Session.connect({ connectString: cfg.connectString, sessionTimeoutMs: cfg.sessionTimeoutMs, renew: true, timeoutMs: 10_000 });
  const reg = await registerService(session, { name: cfg.service, id: cfg.id, address: '127.0.0.1', port: cfg.port, ...(cfg.weight ? { weight: cfg.weight } : {}) }, cfg.basePath);
  process.stdout.write(`READY ${cfg.port} ${session.sessionIdHex}\n`);
  const stop = async (): Promise<void> => {
    server.close();
    await reg.unregister().catch(() => undefined);
    await session.close();
    process.exit(0);
  };
  process.once('SIGTERM', () => void stop());
  process.once('SIGINT', () => void stop());
  // The bench going away (its end of stdin closes) must not leave us behind.
  process.stdin.on('end', () => void stop());
  process.stdin.resume();
}

main().catch((e: Error) => {
  process.stdout.write(`ERROR ${e.message}\n`);
  process.exit(1);
});
