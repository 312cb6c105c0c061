/**
 * Wait for a condition on ZooKeeper, for CI jobs (`zkctl wait`, `zkctl services wait`): driven by
 * watches, not polling, where a watch can tell (a node created, deleted, changed, its children);
 * checked again after every reconnect and new session (the server does not replay what changed
 * while no server held the watch). Ends at the deadline with what was seen last.
 */
import { isZkCode, ZkCode } from '../errors.js';
import { isConnectionProblem, type Session } from '../session.js';
import { tcpConnect } from '../tcp-probe.js';
import { RefreshLoop } from './refresh.js';
import { ServiceCache, DEFAULT_BASE_PATH } from './services.js';

export interface WaitOptions {
  /** The deadline for the whole wait (ms). */
  timeoutMs: number;
  /** Ends the wait at once (Ctrl-C): the outcome says `interrupted`. */
  signal?: AbortSignal;
}

export interface WaitOutcome<S> {
  met: boolean;
  /** What the last check saw (undefined: no check completed). */
  seen?: S;
  elapsedMs: number;
  /** Checks done (one per notification, reconnect or poll). */
  checks: number;
  /** Whether the session was connected at the end. */
  connected: boolean;
  /** The last check's error, when it failed (e.g. connection lost). */
  lastError?: string;
  interrupted?: boolean;
}

/**
 * Run `check` now, again whenever `wake` is called (a watch fired, the cache changed) and after
 * every reconnect, until it is met, the deadline passes or `signal` aborts. One check at a time; a
 * wake during a check runs another after it (a RefreshLoop). A check that fails with a connection
 * problem is tried again at the next reconnect (and every second meanwhile); any other error ends
 * the wait.
 */
export function waitUntil<S>(
  session: Session,
  check: (wake: () => void) => Promise<{ met: boolean; seen: S }>,
  opts: WaitOptions & { pollMs?: number; subscribe?: (wake: () => void) => () => void },
): Promise<WaitOutcome<S>> {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    let done = false;
    let checks = 0;
    let seen: S | undefined;
    let lastError: string | undefined;
    const connected = (): boolean => session.state === 'connected' || session.state === 'reconnected';
    // One check at a time, coalesced; again after every (re)connect (the loop's session events).
    const loop = new RefreshLoop(
      session,
      async () => {
        if (done) return;
        const r = await check(wake);
        if (done) return;
        checks++;
        seen = r.seen;
        lastError = undefined;
        if (r.met) finish(true);
      },
      {
        onError: (e) => {
          if (done) return;
          if (!isConnectionProblem(e) && !isZkCode(e, ZkCode.CONNECTION_LOSS) && !isZkCode(e, ZkCode.SESSION_EXPIRED)) return fail(e);
          lastError = (e as Error).message;
          // The reconnect wakes us; meanwhile try again every second (a renewed session, a member back).
          loop.later(1000);
        },
      },
    );
    const cleanup = (): void => {
      clearTimeout(deadline);
      if (poll) clearInterval(poll);
      loop.stop();
      opts.signal?.removeEventListener('abort', onAbort);
      unsubscribe?.();
    };
    const finish = (met: boolean, extra: { interrupted?: boolean } = {}): void => {
      if (done) return;
      done = true;
      cleanup();
      resolve({
        met,
        ...(seen !== undefined ? { seen } : {}),
        elapsedMs: Date.now() - t0,
        checks,
        connected: connected(),
        ...(lastError !== undefined && !met ? { lastError } : {}),
        ...extra,
      });
    };
    const fail = (e: unknown): void => {
      if (done) return;
      done = true;
      cleanup();
      reject(e);
    };
    const wake = (): void => loop.schedule();
    const onAbort = (): void => finish(false, { interrupted: true });
    const deadline = setTimeout(() => finish(false), Math.max(0, opts.timeoutMs));
    const poll = opts.pollMs ? setInterval(wake, opts.pollMs) : undefined;
    if (opts.signal?.aborted) return onAbort();
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    const unsubscribe = opts.subscribe?.(wake);
    void loop.start();
  });
}

export type NodeCondition = { kind: 'exists' } | { kind: 'gone' } | { kind: 'children'; count: number } | { kind: 'data'; value: Buffer };

export interface NodeSeen {
  exists: boolean;
  /** Data version (exists / gone / data) when the node exists. */
  version?: number;
  /** --children: how many the node has (0 when it does not exist). */
  children?: number;
  /** --data: the node's data as UTF-8 (dataBase64 instead when it is not valid UTF-8). */
  data?: string;
  dataBase64?: string;
}

/** Describe a condition (for messages): "exists", "is gone", "has at least 3 children", "has data \"x\"". */
export function describeNodeCondition(c: NodeCondition): string {
  switch (c.kind) {
    case 'exists':
      return 'exists';
    case 'gone':
      return 'is gone';
    case 'children':
      return `has at least ${c.count} ${c.count === 1 ? 'child' : 'children'}`;
    case 'data':
      return `has data ${JSON.stringify(c.value.toString('utf8'))}`;
  }
}

function dataSeen(data: Buffer): Pick<NodeSeen, 'data' | 'dataBase64'> {
  const s = data.toString('utf8');
  return Buffer.from(s, 'utf8').equals(data) ? { data: s } : { dataBase64: data.toString('base64') };
}

/**
 * Wait until `path` meets `cond`. Every read passes a watch (exists: create/delete/data; children;
 * data), so the next check comes when ZooKeeper says something changed; where the node is missing,
 * an exists watch waits for its creation.
 */
export function waitForNode(session: Session, path: string, cond: NodeCondition, opts: WaitOptions): Promise<WaitOutcome<NodeSeen>> {
  return waitUntil<NodeSeen>(
    session,
    async (wake) => {
      if (cond.kind === 'exists' || cond.kind === 'gone') {
        const st = await session.exists(path, wake);
        const seen: NodeSeen = st ? { exists: true, version: st.version } : { exists: false };
        return { met: cond.kind === 'exists' ? st !== null : st === null, seen };
      }
      try {
        if (cond.kind === 'children') {
          const { children } = await session.getChildren(path, wake);
          return { met: children.length >= cond.count, seen: { exists: true, children: children.length } };
        }
        const { data, stat } = await session.get(path, wake);
        return { met: data.equals(cond.value), seen: { exists: true, version: stat.version, ...dataSeen(data) } };
      } catch (e) {
        if (!isZkCode(e, ZkCode.NO_NODE)) throw e;
        // Missing: wait for its creation (created meanwhile: read it again at once).
        const st = await session.exists(path, wake);
        if (st) wake();
        return { met: false, seen: { exists: false, ...(cond.kind === 'children' ? { children: 0 } : {}) } };
      }
    },
    opts,
  );
}

export interface InstanceSeen {
  id: string;
  address: string;
  port: number;
  /** With a probe: whether a TCP connect to address:port succeeded in the last round. */
  answering?: boolean;
  /** The probe's error (ECONNREFUSED, timed out). */
  probeError?: string;
}

export interface ServiceSeen {
  /** Enabled, usable instances registered. */
  registered: number;
  /** With a probe: how many of them answered. */
  answering?: number;
  instances: InstanceSeen[];
}

/**
 * Wait until `count` enabled instances of service `name` are registered (a watched ServiceCache),
 * and with `probe` answer a TCP connect to their address:port (probed again every `probeEveryMs`
 * while not met: a port has no watch).
 */
export async function waitForService(
  session: Session,
  name: string,
  opts: WaitOptions & { count: number; probe?: boolean; basePath?: string; probeTimeoutMs?: number; probeEveryMs?: number },
): Promise<WaitOutcome<ServiceSeen>> {
  const cache = new ServiceCache(session, name, opts.basePath ?? DEFAULT_BASE_PATH);
  cache.on('error', () => undefined); // retried by the cache; the outcome says what was seen
  const end = Date.now() + opts.timeoutMs;
  try {
    return await waitUntil<ServiceSeen>(
      session,
      async () => {
        const list = cache.instances().filter((r) => r.instance.enabled !== false);
        const instances: InstanceSeen[] = list.map((r) => ({ id: r.instance.id, address: r.instance.address ?? '', port: r.instance.port ?? 0 }));
        if (!opts.probe) return { met: instances.length >= opts.count, seen: { registered: instances.length, instances } };
        const probeMs = Math.max(50, Math.min(opts.probeTimeoutMs ?? 1000, end - Date.now()));
        await Promise.all(
          instances.map(async (i) => {
            try {
              await tcpConnect(i.address, i.port, probeMs);
              i.answering = true;
            } catch (e) {
              i.answering = false;
              i.probeError = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
            }
          }),
        );
        const answering = instances.filter((i) => i.answering).length;
        return { met: answering >= opts.count, seen: { registered: instances.length, answering, instances } };
      },
      {
        ...opts,
        ...(opts.probe ? { pollMs: opts.probeEveryMs ?? 500 } : {}),
        subscribe: (wake) => {
          cache.on('change', wake);
          void cache.start().catch(() => undefined);
          return () => cache.removeListener('change', wake);
        },
      },
    );
  } finally {
    cache.close();
  }
}
