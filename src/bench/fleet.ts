/** Spawns and kills bench backends (real processes), each registering itself in ZooKeeper. */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { childEnv } from '../core/proc.js';
import { isPortFree } from '../ensemble/proc.js';
import type { BackendConfig } from './backend.js';

const BACKEND_SCRIPT = fileURLToPath(new URL('./backend.js', import.meta.url));

export interface BackendSpec {
  id: string;
  serviceMs: number;
  concurrency: number;
  weight?: number;
}

export interface RunningBackend extends BackendSpec {
  port: number;
  pid: number;
  session: string;
  child: ChildProcess;
  alive: boolean;
}

export interface FleetOptions {
  connectString: string;
  basePath: string;
  service: string;
  sessionTimeoutMs: number;
  /** First port tried (default 47100); ports in use are skipped. */
  portBase: number;
}

export class Fleet {
  readonly backends = new Map<string, RunningBackend>();
  /** id -> port of every backend this fleet started or is starting (set before it registers). */
  readonly claimed = new Map<string, number>();
  private readonly ports = new Map<string, number>();
  private nextPort: number;

  constructor(private readonly opts: FleetOptions) {
    this.nextPort = opts.portBase;
  }

  private async freePort(): Promise<number> {
    for (let p = this.nextPort; p < 65535; p++) {
      if (await isPortFree(p)) {
        this.nextPort = p + 1;
        return p;
      }
    }
    throw new Error('no free port for a backend');
  }

  /** Start one backend; resolves once it serves and is registered. Reuses its port when restarted. */
  async start(spec: BackendSpec): Promise<RunningBackend> {
    for (let attempt = 0; attempt < 5; attempt++) {
      const port = this.ports.get(spec.id) ?? (await this.freePort());
      this.claimed.set(spec.id, port);
      const cfg: BackendConfig = {
        ...spec,
        port,
        connectString: this.opts.connectString,
        basePath: this.opts.basePath,
        service: this.opts.service,
        sessionTimeoutMs: this.opts.sessionTimeoutMs,
      };
      const child = spawn(process.execPath, [BACKEND_SCRIPT, JSON.stringify(cfg)], { stdio: ['pipe', 'pipe', 'inherit'], env: childEnv() });
      const line = await new Promise<string>((resolve) => {
        let buf = '';
        const onData = (d: Buffer): void => {
          buf += d.toString();
          const nl = buf.indexOf('\n');
          if (nl >= 0) {
            child.stdout!.removeListener('data', onData);
            resolve(buf.slice(0, nl));
          }
        };
        child.stdout!.on('data', onData);
        child.once('exit', (code) => resolve(`EXIT ${code}`));
        child.once('error', (e) => resolve(`ERROR ${e.message}`));
      });
      if (line.startsWith('READY')) {
        const b: RunningBackend = { ...spec, port, pid: child.pid!, session: line.split(' ')[2] ?? '', child, alive: true };
        child.once('exit', () => (b.alive = false));
        child.stdout!.resume();
        this.ports.set(spec.id, port);
        this.backends.set(spec.id, b);
        return b;
      }
      // The port was taken after all (the backend says so, exit 3; its exit can be seen before its line).
      if (line.startsWith('EADDRINUSE') || line === 'EXIT 3') {
        this.ports.delete(spec.id);
        continue;
      }
      throw new Error(`backend ${spec.id} did not start: ${line}`);
    }
    throw new Error(`backend ${spec.id}: no usable port`);
  }

  /** SIGKILL (a crash: its ZooKeeper node stays until the session times out). Resolves when it is dead. */
  async kill(id: string): Promise<void> {
    const b = this.backends.get(id);
    if (!b || !b.alive) return;
    await new Promise<void>((resolve) => {
      b.child.once('exit', () => resolve());
      b.child.kill('SIGKILL');
    });
  }

  /** SIGTERM (clean stop: unregisters). */
  async stop(id: string): Promise<void> {
    const b = this.backends.get(id);
    if (!b) return;
    if (b.alive) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(() => b.child.kill('SIGKILL'), 5000);
        b.child.once('exit', () => {
          clearTimeout(t);
          resolve();
        });
        b.child.kill('SIGTERM');
      });
    }
    this.backends.delete(id);
  }

  async stopAll(): Promise<void> {
    await Promise.all([...this.backends.keys()].map((id) => this.stop(id)));
  }

  /** An instance this fleet registered (same id and port), not someone else's. */
  owns(inst: { id: string; address?: string | null; port?: number | null }): boolean {
    return inst.address === '127.0.0.1' && this.claimed.get(inst.id) === inst.port;
  }

  /** Synchronous last resort (process exit). */
  killAllNow(): void {
    for (const b of this.backends.values()) if (b.alive) b.child.kill('SIGKILL');
  }
}
