/**
 * `zkctl bench ops`: ZooKeeper operation throughput and latency through zkctl's
 * session layer, pipelined with a window of requests in flight, over one or more
 * sessions. Phases: create, set, get, exists, getChildren, delete, ephemeral
 * (ephemeral create), watch (latency from a setData by one session to the
 * watch notification at another). Client CPU per op from process.cpuUsage().
 *
 * Everything happens under a fresh root node that is removed at the end.
 */
import { randomBytes } from 'node:crypto';
import { Session, type AuthInfo } from '../core/session.js';
import type { SaslCredentials } from '../core/security/sasl.js';
import { ZkCode, isZkCode } from '../core/errors.js';
import { LatencyHistogram } from './histogram.js';

export const OPS_PHASES = ['create', 'set', 'get', 'exists', 'getChildren', 'delete', 'ephemeral', 'watch'] as const;
export type OpsPhase = (typeof OPS_PHASES)[number];

export interface OpsBenchOptions {
  connectString: string;
  timeoutMs: number;
  auth?: AuthInfo[];
  /** Connect over TLS with these node tls options. */
  tls?: import('node:tls').ConnectionOptions;
  sasl?: SaslCredentials;
  phases: OpsPhase[];
  /** Data size in bytes for create/set. */
  size: number;
  /** Ops per phase and window. */
  count: number;
  windows: number[];
  sessions: number;
  /** Distinct nodes read/written by set/get/exists/getChildren (default min(count, 1000)). */
  nodes?: number;
  /** One unmeasured pipelined read pass first (JIT, connections), as the Java reference does. */
  warmup?: boolean;
  root?: string;
  onProgress?: (msg: string) => void;
}

export interface OpsRow {
  phase: OpsPhase;
  window: number;
  sessions: number;
  ops: number;
  errors: number;
  durationMs: number;
  opsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  p999Ms: number;
  /** Client CPU (user + system) per op, µs. */
  cpuUsPerOp: number;
}

export interface OpsBenchResult {
  connectString: string;
  size: number;
  count: number;
  sessions: number;
  node: string;
  rows: OpsRow[];
}

/** Run `count` ops with at most `window` in flight; latency of each recorded. */
async function windowed(count: number, window: number, op: (i: number) => Promise<unknown>, hist: LatencyHistogram): Promise<number> {
  let next = 0;
  let errors = 0;
  const lane = async (): Promise<void> => {
    while (next < count) {
      const i = next++;
      const t0 = performance.now();
      try {
        await op(i);
        hist.recordMs(performance.now() - t0);
      } catch {
        errors++;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(window, count) }, lane));
  return errors;
}

export async function runOpsBench(opts: OpsBenchOptions): Promise<OpsBenchResult> {
  const progress = opts.onProgress ?? (() => undefined);
  const sessions: Session[] = [];
  const connect = (): Promise<Session> => Session.connect({ connectString: opts.connectString, timeoutMs: opts.timeoutMs, ...(opts.auth ? { auth: opts.auth } : {}), ...(opts.tls ? { tls: opts.tls } : {}), ...(opts.sasl ? { sasl: opts.sasl } : {}) });
  for (let s = 0; s < opts.sessions; s++) sessions.push(await connect());
  const needsWatch = opts.phases.includes('watch');
  const watcher = needsWatch ? await connect() : undefined;
  const main = sessions[0];
  const root = opts.root ?? `/zkctl-bench-ops-${process.pid}-${randomBytes(3).toString('hex')}`;
  const data = randomBytes(opts.size);
  const nodes = Math.max(1, opts.nodes ?? Math.min(opts.count, 1000));
  const S = (i: number): Session => sessions[i % sessions.length];
  const rows: OpsRow[] = [];
  try {
    await main.create(root);
    await main.create(`${root}/p`);
    await main.create(`${root}/c`);
    await main.create(`${root}/e`);
    await main.create(`${root}/w`);
    // The pool read and written by set/get/exists/getChildren (not measured).
    const scratch = new LatencyHistogram();
    await windowed(nodes, 200, (i) => main.create(`${root}/p/n${i}`, data), scratch);
    if (opts.warmup !== false) {
      progress('warm-up');
      await windowed(Math.min(20_000, Math.max(opts.count, 2000)), 100, (i) => S(i).get(`${root}/p/n${i % nodes}`), scratch);
    }
    for (const window of opts.windows) {
      let created = false;
      for (const phase of opts.phases) {
        const hist = new LatencyHistogram();
        if (phase === 'delete' && !created) {
          await windowed(opts.count, 200, (i) => main.create(`${root}/c/n${i}`, data), scratch);
          created = true;
        }
        let op: (i: number) => Promise<unknown>;
        switch (phase) {
          case 'create':
            op = (i) => S(i).create(`${root}/c/n${i}`, data);
            break;
          case 'set':
            op = (i) => S(i).set(`${root}/p/n${i % nodes}`, data);
            break;
          case 'get':
            op = (i) => S(i).get(`${root}/p/n${i % nodes}`);
            break;
          case 'exists':
            op = (i) => S(i).exists(`${root}/p/n${i % nodes}`);
            break;
          case 'getChildren':
            op = (i) => S(i).getChildren(`${root}/p/n${i % nodes}`);
            break;
          case 'delete':
            op = (i) => S(i).delete(`${root}/c/n${i}`);
            break;
          case 'ephemeral':
            op = (i) => S(i).create(`${root}/e/n${i}`, data, { mode: 'ephemeral' });
            break;
          case 'watch':
            op = async () => undefined; // measured below
            break;
        }
        progress(`${phase} window ${window}`);
        const cpu0 = process.cpuUsage();
        const t0 = performance.now();
        let errors: number;
        if (phase === 'watch') errors = await watchPhase(watcher!, S, root, window, opts.count, hist);
        else errors = await windowed(opts.count, window, op, hist);
        const ms = performance.now() - t0;
        const cpu = process.cpuUsage(cpu0);
        if (phase === 'create') created = true;
        if (phase === 'delete') created = false;
        const s = hist.summary();
        rows.push({
          phase,
          window,
          sessions: opts.sessions,
          ops: opts.count,
          errors,
          durationMs: Math.round(ms),
          opsPerSec: Math.round((opts.count / ms) * 1000),
          p50Ms: s.p50Ms,
          p99Ms: s.p99Ms,
          p999Ms: s.p999Ms,
          cpuUsPerOp: Math.round(((cpu.user + cpu.system) / opts.count) * 10) / 10,
        });
        // Clean up what the phase left, unmeasured, so the next window starts alike.
        if (phase === 'ephemeral') await windowed(opts.count, 200, (i) => main.delete(`${root}/e/n${i}`), scratch);
      }
      if (created) await windowed(opts.count, 200, (i) => main.delete(`${root}/c/n${i}`).catch(() => undefined), scratch);
    }
  } finally {
    await deleteAll(main, root).catch(() => undefined);
    await Promise.all([...sessions, ...(watcher ? [watcher] : [])].map((s) => s.close().catch(() => undefined)));
  }
  return { connectString: opts.connectString, size: opts.size, count: opts.count, sessions: opts.sessions, node: process.version, rows };
}

/**
 * Watch-trigger latency: `window` lanes, each with its own node; a lane arms a data watch
 * (exists with a watcher, from the watcher session) and then sets the node from a bench
 * session; the latency is from sending the set to the notification arriving.
 */
async function watchPhase(watcher: Session, S: (i: number) => Session, root: string, window: number, count: number, hist: LatencyHistogram): Promise<number> {
  const lanes = Math.min(window, count);
  await Promise.all(Array.from({ length: lanes }, (_, j) => S(0).create(`${root}/w/n${j}`).catch((e: unknown) => {
    if (!isZkCode(e, ZkCode.NODE_EXISTS)) throw e;
  })));
  let next = 0;
  let errors = 0;
  const lane = async (j: number): Promise<void> => {
    const path = `${root}/w/n${j}`;
    while (next < count) {
      const i = next++;
      try {
        let onFire: (t: number) => void = () => undefined;
        const fired = new Promise<number>((resolve) => (onFire = resolve));
        // The watch is set on the server once exists() has its reply.
        await watcher.exists(path, () => onFire(performance.now()));
        const t0 = performance.now();
        await S(i).set(path, Buffer.from([i & 0xff]));
        hist.recordMs((await fired) - t0);
      } catch {
        errors++;
      }
    }
  };
  await Promise.all(Array.from({ length: lanes }, (_, j) => lane(j)));
  return errors;
}

async function deleteAll(s: Session, path: string): Promise<void> {
  let children: string[] = [];
  try {
    children = (await s.getChildren(path)).children;
  } catch (e) {
    if (isZkCode(e, ZkCode.NO_NODE)) return;
    throw e;
  }
  for (let i = 0; i < children.length; i += 500) await Promise.all(children.slice(i, i + 500).map((c) => deleteAll(s, `${path}/${c}`)));
  try {
    await s.delete(path);
  } catch (e) {
    if (!isZkCode(e, ZkCode.NO_NODE)) throw e;
  }
}
