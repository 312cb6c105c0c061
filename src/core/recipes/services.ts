/**
 * Service discovery in Apache Curator's x-discovery format, byte-compatible
 * with what Curator 5.4's ServiceDiscovery writes and reads.
 *
 * Layout: `<basePath>/<name>/<id>` (basePath default `/services`); a dynamic
 * instance is an EPHEMERAL node, its parents are containers. The data is the
 * instance as JSON, with Curator's fields in Curator's order:
 *
 *   {"name":"web","id":"…","address":"127.0.0.1","port":8080,"sslPort":null,
 *    "payload":null,"registrationTimeUTC":1795620998684,"serviceType":"DYNAMIC","uriSpec":null}
 *
 * (Curator's default serializer leaves out `"enabled"`; newer writers add
 * `"enabled":true` at the end: both are read, and unknown fields are ignored.)
 *
 * Weight: zkctl keeps an instance's weight in the payload, as
 * `"payload":{"weight":3}` (merged into a JSON-object payload given by the
 * user). Curator readers whose payload class is a Map (or Object) read it as
 * is (checked against Curator 5.4: its Jackson type info falls back to a Map
 * when there is no "@class"; what Curator itself writes for a Map payload,
 * `{"@class":"java.util.LinkedHashMap","weight":2}`, is read here too); an
 * instance without a numeric `payload.weight` has weight 1.
 *
 * Failure semantics, stated plainly:
 * - A registration lives as long as the session that created it. When the
 *   session is lost (expired), the node is gone; with a renewing session
 *   (`Session.connect({renew: true})`) the registration is written again as
 *   soon as the new session is up ('reregistered' event). Between the two,
 *   readers do not see the instance.
 * - Registering an id that exists deletes the node and creates it again (as
 *   Curator does), so watchers see the change.
 * - ServiceCache keeps a copy of the instances from watches; it is as fresh as
 *   ZooKeeper's notifications (a leave is seen when the owner's session ends:
 *   at once on a clean close, after the session timeout on a crash).
 */
import { EventEmitter } from 'node:events';
import { randomUUID } from 'node:crypto';
import { UsageError, ZkCode, ZkError, isZkCode } from '../errors.js';
import { createWithParents } from '../nodes.js';
import { parentOf, validatePath } from '../paths.js';
import type { Session, Stat } from '../session.js';

export const DEFAULT_BASE_PATH = '/services';

export type ServiceType = 'DYNAMIC' | 'STATIC' | 'PERMANENT' | 'DYNAMIC_SEQUENTIAL';

/** One instance as Curator's ServiceInstance has it. */
export interface ServiceInstance {
  name: string;
  id: string;
  address: string | null;
  port: number | null;
  sslPort: number | null;
  payload: unknown;
  registrationTimeUTC: number;
  serviceType: ServiceType | string;
  /** Curator's UriSpec as read (kept as is), or null. */
  uriSpec: unknown;
  /** Absent in Curator's default (compatible) format; absent means enabled. */
  enabled?: boolean;
}

export interface InstanceInput {
  name: string;
  address: string;
  port: number;
  id?: string;
  sslPort?: number | null;
  /** Relative weight (positive); stored as payload.weight. */
  weight?: number;
  /** Any JSON value; an object is merged with {weight}. */
  payload?: unknown;
  serviceType?: ServiceType;
  /** Write `"enabled":…` (Curator's newer, non-compatible format). Default: leave it out. */
  enabled?: boolean;
  registrationTimeUTC?: number;
}

const NAME_RE = /^[^/\u0000]+$/;

function checkSegment(what: string, v: string): void {
  if (!v || !NAME_RE.test(v) || v === '.' || v === '..' || v === 'zookeeper') {
    throw new UsageError(`invalid service ${what} "${v}"`, 'it must be one path segment (no "/")');
  }
}

export function servicePath(name: string, basePath = DEFAULT_BASE_PATH): string {
  checkSegment('name', name);
  validatePath(basePath);
  return `${basePath === '/' ? '' : basePath}/${name}`;
}

export function instancePath(name: string, id: string, basePath = DEFAULT_BASE_PATH): string {
  checkSegment('id', id);
  return `${servicePath(name, basePath)}/${id}`;
}

/** Build a ServiceInstance from what a user gives (weight merged into the payload). */
export function makeInstance(input: InstanceInput): ServiceInstance {
  checkSegment('name', input.name);
  const id = input.id ?? randomUUID();
  checkSegment('id', id);
  if (!Number.isInteger(input.port) || input.port < 0 || input.port > 65535) throw new UsageError(`invalid port ${input.port}`);
  let payload: unknown = input.payload === undefined ? null : input.payload;
  if (input.weight !== undefined) {
    if (!(Number.isFinite(input.weight) && input.weight > 0)) throw new UsageError(`invalid weight ${input.weight}`, 'a weight is a positive number');
    if (payload === null) payload = { weight: input.weight };
    else if (typeof payload === 'object' && !Array.isArray(payload)) payload = { ...(payload as Record<string, unknown>), weight: input.weight };
    else throw new UsageError('--weight needs a JSON object payload (the weight is stored as payload.weight)');
  }
  const inst: ServiceInstance = {
    name: input.name,
    id,
    address: input.address,
    port: input.port,
    sslPort: input.sslPort ?? null,
    payload,
    registrationTimeUTC: input.registrationTimeUTC ?? Date.now(),
    serviceType: input.serviceType ?? 'DYNAMIC',
    uriSpec: null,
  };
  if (input.enabled !== undefined) inst.enabled = input.enabled;
  return inst;
}

/** The node data, field for field as Curator (Jackson) writes it. */
export function serializeInstance(inst: ServiceInstance): Buffer {
  const o: Record<string, unknown> = {
    name: inst.name,
    id: inst.id,
    address: inst.address ?? null,
    port: inst.port ?? null,
    sslPort: inst.sslPort ?? null,
    payload: inst.payload ?? null,
    registrationTimeUTC: inst.registrationTimeUTC,
    serviceType: inst.serviceType,
    uriSpec: inst.uriSpec ?? null,
  };
  if (inst.enabled !== undefined) o.enabled = inst.enabled;
  return Buffer.from(JSON.stringify(o), 'utf8');
}

/** Parse a node's data (Curator's or zkctl's). Unknown fields are ignored. Throws on garbage. */
export function parseInstance(data: Buffer | string, fallback: { name?: string; id?: string } = {}): ServiceInstance {
  const text = typeof data === 'string' ? data : data.toString('utf8');
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new UsageError(`not a service instance (bad JSON: ${(e as Error).message})`);
  }
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw new UsageError('not a service instance (not a JSON object)');
  const o = v as Record<string, unknown>;
  const str = (x: unknown): string | null => (typeof x === 'string' ? x : null);
  const int = (x: unknown): number | null => (typeof x === 'number' && Number.isFinite(x) ? x : typeof x === 'string' && /^\d+$/.test(x) ? Number(x) : null);
  const inst: ServiceInstance = {
    name: str(o.name) ?? fallback.name ?? '',
    id: str(o.id) ?? fallback.id ?? '',
    address: str(o.address),
    port: int(o.port),
    sslPort: int(o.sslPort),
    payload: o.payload === undefined ? null : o.payload,
    registrationTimeUTC: int(o.registrationTimeUTC) ?? 0,
    serviceType: str(o.serviceType) ?? 'DYNAMIC',
    uriSpec: o.uriSpec === undefined ? null : o.uriSpec,
  };
  if (typeof o.enabled === 'boolean') inst.enabled = o.enabled;
  return inst;
}

/** payload.weight when it is a positive number, else 1. */
export function instanceWeight(inst: Pick<ServiceInstance, 'payload'>): number {
  const p = inst.payload as { weight?: unknown } | null;
  const w = p && typeof p === 'object' ? p.weight : undefined;
  const n = typeof w === 'number' ? w : typeof w === 'string' ? Number(w) : NaN;
  return Number.isFinite(n) && n > 0 ? n : 1;
}

/** Enabled (absent `enabled` means enabled) and has an address and a port. */
export function isUsable(inst: ServiceInstance): boolean {
  return inst.enabled !== false && !!inst.address && inst.port !== null && inst.port > 0;
}

/**
 * Write the instance node once (delete and re-create when it exists). Returns the stat.
 * Parents are containers, made as needed (createWithParents: a parent reaped meanwhile is made again).
 */
export async function writeInstance(session: Session, inst: ServiceInstance, basePath = DEFAULT_BASE_PATH): Promise<Stat> {
  const path = instancePath(inst.name, inst.id, basePath);
  const data = serializeInstance(inst);
  const mode = inst.serviceType === 'DYNAMIC' || inst.serviceType === 'DYNAMIC_SEQUENTIAL' ? 'ephemeral' : 'persistent';
  for (let attempt = 0; ; attempt++) {
    try {
      return (await createWithParents(session, path, data, { mode })).stat;
    } catch (e) {
      if (attempt >= 5) throw e;
      if (isZkCode(e, ZkCode.NODE_EXISTS)) {
        try {
          await session.delete(path);
        } catch (e2) {
          if (!isZkCode(e2, ZkCode.NO_NODE)) throw e2;
        }
        continue;
      }
      throw e;
    }
  }
}

export interface RegistrationEvents {
  registered: [Stat];
  reregistered: [Stat];
  unregistered: [];
  error: [Error];
}

/**
 * A held registration: written now, written again after the session is
 * renewed (or whenever the node is found missing after a reconnect), deleted
 * by `unregister()` (or by ZooKeeper when the session ends).
 * Events: 'registered', 'reregistered' (stat), 'lost' (session lost: the node is gone),
 * 'error' (a re-registration failed; it is tried again, with a growing pause of at most
 * `retryMaxMs`, while the session is up, and on every reconnect).
 */
export class ServiceRegistration extends EventEmitter {
  readonly instance: ServiceInstance;
  readonly basePath: string;
  readonly path: string;
  stat?: Stat;
  /** Longest pause between two attempts at writing the node again (ms). */
  retryMaxMs = 5000;
  private stopped = false;
  /** The check/write in progress, and whether another one was asked for meanwhile. */
  private ensuring?: Promise<void>;
  private again = false;
  private retryTimer?: NodeJS.Timeout;
  private failures = 0;
  private readonly onReconnected = (): void => this.ensureSoon();
  private readonly onLost = (): void => {
    this.stat = undefined;
    this.emit('lost');
  };

  constructor(
    private readonly session: Session,
    instance: ServiceInstance,
    basePath = DEFAULT_BASE_PATH,
  ) {
    super();
    this.instance = instance;
    this.basePath = basePath;
    this.path = instancePath(instance.name, instance.id, basePath);
  }

  async register(): Promise<Stat> {
    this.stat = await writeInstance(this.session, this.instance, this.basePath);
    this.session.on('reconnected', this.onReconnected);
    this.session.on('lost', this.onLost);
    this.emit('registered', this.stat);
    return this.stat;
  }

  /** Check (and write) now, one check at a time: a request during a check runs another one after it. */
  private ensureSoon(): void {
    if (this.stopped) return;
    if (this.retryTimer) {
      clearTimeout(this.retryTimer);
      this.retryTimer = undefined;
    }
    if (this.ensuring) {
      this.again = true;
      return;
    }
    this.ensuring = (async () => {
      do {
        this.again = false;
        await this.ensure();
      } while (this.again && !this.stopped);
    })().finally(() => {
      this.ensuring = undefined;
    });
  }

  /** After a reconnect: is our node still there (and ours)? If not, write it again. */
  private async ensure(): Promise<void> {
    if (this.stopped) return;
    try {
      // After a reconnect the member may lag behind the leader (it was not the one we talked
      // to): catch up first, or a node deleted meanwhile could still look present.
      await this.session.sync(parentOf(this.path));
      const st = await this.session.exists(this.path);
      const ephemeral = this.instance.serviceType === 'DYNAMIC' || this.instance.serviceType === 'DYNAMIC_SEQUENTIAL';
      if (st && (!ephemeral || st.ephemeralOwner === this.session.sessionId)) {
        this.failures = 0;
        return;
      }
      // (A node of our id owned by another session, e.g. the expired one not yet reaped
      // by the server, is deleted and written again, as on the first registration.)
      const stat = await writeInstance(this.session, this.instance, this.basePath);
      if (this.stopped) return;
      this.stat = stat;
      this.failures = 0;
      this.emit('reregistered', stat);
    } catch (e) {
      if (this.stopped) return;
      this.failures++;
      if (this.listenerCount('error') > 0) this.emit('error', e as Error);
      // Try again while the session is up; a reconnect (or a new session) tries at once.
      const st = this.session.state;
      if (st !== 'closed') {
        const pause = Math.min(this.retryMaxMs, 250 * 2 ** Math.min(this.failures - 1, 10));
        this.retryTimer = setTimeout(() => {
          this.retryTimer = undefined;
          if (this.session.state === 'connected' || this.session.state === 'reconnected') this.ensureSoon();
        }, pause);
      }
    }
  }

  /** Delete the node (when it is ours) and stop following the session. */
  async unregister(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.session.removeListener('reconnected', this.onReconnected);
    this.session.removeListener('lost', this.onLost);
    // A write in progress would otherwise re-create the node after the delete below (waited
    // for a little only: while the connection is down it could take its requests' deadlines).
    if (this.ensuring) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([this.ensuring, new Promise<void>((r) => (timer = setTimeout(r, 2000)))]);
      clearTimeout(timer);
    }
    try {
      const st = await this.session.exists(this.path);
      if (st && (st.ephemeralOwner === 0n || st.ephemeralOwner === this.session.sessionId)) await this.session.delete(this.path, st.version);
    } catch (e) {
      if (!(e instanceof ZkError && (e.code === ZkCode.NO_NODE || e.code === ZkCode.BAD_VERSION))) throw e;
    } finally {
      this.emit('unregistered');
    }
  }
}

/** Register and hold (see ServiceRegistration). */
export async function registerService(session: Session, input: InstanceInput, basePath = DEFAULT_BASE_PATH): Promise<ServiceRegistration> {
  const reg = new ServiceRegistration(session, makeInstance(input), basePath);
  await reg.register();
  return reg;
}

/** Service names under the base path ([] when there is none). */
export async function listServiceNames(session: Session, basePath = DEFAULT_BASE_PATH): Promise<string[]> {
  validatePath(basePath);
  try {
    return (await session.getChildren(basePath)).children.sort();
  } catch (e) {
    if (isZkCode(e, ZkCode.NO_NODE)) return [];
    throw e;
  }
}

export interface InstanceRecord {
  instance: ServiceInstance;
  path: string;
  stat: Stat;
}

export interface ReadResult {
  instances: InstanceRecord[];
  /** Nodes whose data is not an instance: path and why. */
  unreadable: Array<{ path: string; error: string }>;
}

/** Read every instance of a service (pipelined). No such service: empty. */
export async function readInstances(session: Session, name: string, basePath = DEFAULT_BASE_PATH): Promise<ReadResult> {
  const sp = servicePath(name, basePath);
  let children: string[];
  try {
    children = (await session.getChildren(sp)).children;
  } catch (e) {
    if (isZkCode(e, ZkCode.NO_NODE)) return { instances: [], unreadable: [] };
    throw e;
  }
  const out: ReadResult = { instances: [], unreadable: [] };
  const got = await Promise.all(
    children.map(async (c) => {
      const path = `${sp}/${c}`;
      try {
        const { data, stat } = await session.get(path);
        return { path, data, stat, id: c };
      } catch (e) {
        if (isZkCode(e, ZkCode.NO_NODE)) return undefined; // left meanwhile
        throw e;
      }
    }),
  );
  for (const g of got) {
    if (!g) continue;
    try {
      out.instances.push({ instance: parseInstance(g.data, { name, id: g.id }), path: g.path, stat: g.stat });
    } catch (e) {
      out.unreadable.push({ path: g.path, error: (e as Error).message });
    }
  }
  out.instances.sort((a, b) => a.instance.id.localeCompare(b.instance.id));
  return out;
}

export type CacheEvent =
  | { type: 'join'; instance: ServiceInstance; stat: Stat; initial: boolean }
  | { type: 'leave'; instance: ServiceInstance; stat: Stat }
  | { type: 'update'; instance: ServiceInstance; previous: ServiceInstance; stat: Stat };

/**
 * A watched copy of one service's instances (Curator's ServiceCache): a
 * children watch on the service node and a data watch on each instance. No
 * ZooKeeper read happens on `instances()`. Events: 'event' (CacheEvent),
 * 'change' (after every applied change, with the current list), 'error'.
 * After a reconnect or a renewed session, the cache reads everything again
 * and reports only what differs.
 */
export class ServiceCache extends EventEmitter {
  readonly name: string;
  readonly basePath: string;
  readonly path: string;
  private readonly records = new Map<string, InstanceRecord>();
  private closed = false;
  private running?: Promise<void>;
  private dirty = false;
  private loaded = false;
  /**
   * Watches armed on the server (one-shot: re-armed only after they fired or the session was
   * renewed), as the token of the watcher that holds them (0 / absent: none). Marked before the
   * request and cleared by the watcher itself: the reply and the notification that fires the
   * new watch can arrive in one TCP chunk, so the watcher may run before the read resumes.
   */
  private childWatch = 0;
  private readonly dataWatch = new Map<string, number>();
  private watchSeq = 0;
  private readonly resync = (): void => this.refresh();
  private readonly onLost = (): void => {
    this.childWatch = 0;
    this.dataWatch.clear();
  };

  constructor(
    private readonly session: Session,
    name: string,
    basePath = DEFAULT_BASE_PATH,
  ) {
    super();
    this.name = name;
    this.basePath = basePath;
    this.path = servicePath(name, basePath);
  }

  /** Read the current instances and start watching. */
  async start(): Promise<InstanceRecord[]> {
    this.session.on('reconnected', this.resync);
    this.session.on('lost', this.onLost);
    this.refresh();
    await this.running;
    return this.instances();
  }

  instances(): InstanceRecord[] {
    return [...this.records.values()];
  }

  get size(): number {
    return this.records.size;
  }

  close(): void {
    this.closed = true;
    this.session.removeListener('reconnected', this.resync);
    this.session.removeListener('lost', this.onLost);
    this.removeAllListeners('event');
  }

  /** Re-read (coalesced: one read at a time, another one after it when asked meanwhile). */
  refresh(): void {
    if (this.closed) return;
    if (this.running) {
      this.dirty = true;
      return;
    }
    this.running = (async () => {
      do {
        this.dirty = false;
        try {
          await this.readOnce();
        } catch (e) {
          if (this.closed) return;
          this.emit('error', e as Error);
          // The session will reconnect and trigger a resync; nothing else to do here.
        }
      } while (this.dirty && !this.closed);
    })().finally(() => {
      this.running = undefined;
    });
  }

  /** A child watcher (undefined when one is armed already); it disarms itself when it fires. */
  private armChildWatch(): { watcher?: () => void; disarm(): void } {
    if (this.childWatch !== 0) return { disarm: () => undefined };
    const token = ++this.watchSeq;
    this.childWatch = token;
    const disarm = (): void => {
      if (this.childWatch === token) this.childWatch = 0;
    };
    return {
      watcher: () => {
        disarm();
        this.refresh();
      },
      disarm,
    };
  }

  private armDataWatch(id: string): { watcher?: () => void; disarm(): void } {
    if (this.dataWatch.has(id)) return { disarm: () => undefined };
    const token = ++this.watchSeq;
    this.dataWatch.set(id, token);
    const disarm = (): void => {
      if (this.dataWatch.get(id) === token) this.dataWatch.delete(id);
    };
    return {
      watcher: () => {
        disarm();
        this.refresh();
      },
      disarm,
    };
  }

  private readonly existsWatcher = (): void => this.refresh();

  private async readOnce(): Promise<void> {
    let children: string[] | undefined;
    try {
      const arm = this.armChildWatch();
      try {
        children = (await this.session.getChildren(this.path, arm.watcher)).children;
      } catch (e) {
        arm.disarm(); // no watch is left on the server by a failed read
        throw e;
      }
    } catch (e) {
      if (!isZkCode(e, ZkCode.NO_NODE)) throw e;
      // No service node yet: watch for its creation.
      const st = await this.session.exists(this.path, this.existsWatcher);
      if (st) {
        this.dirty = true;
        return;
      }
      children = [];
    }
    if (this.closed) return;
    const seen = new Set(children);
    const initial = !this.loaded;
    // Leaves first.
    for (const [id, rec] of this.records) {
      if (!seen.has(id)) {
        this.records.delete(id);
        this.dataWatch.delete(id);
        this.emit('event', { type: 'leave', instance: rec.instance, stat: rec.stat } satisfies CacheEvent);
      }
    }
    const reads = await Promise.all(
      children.map(async (id) => {
        const path = `${this.path}/${id}`;
        try {
          const arm = this.armDataWatch(id);
          const { data, stat } = await this.session.get(path, arm.watcher).catch((e: unknown) => {
            arm.disarm();
            throw e;
          });
          return { id, path, data, stat };
        } catch (e) {
          if (isZkCode(e, ZkCode.NO_NODE)) return undefined;
          throw e;
        }
      }),
    );
    if (this.closed) return;
    for (const r of reads) {
      if (!r) continue;
      let inst: ServiceInstance;
      try {
        inst = parseInstance(r.data, { name: this.name, id: r.id });
      } catch {
        continue; // not an instance: not ours to serve
      }
      const prev = this.records.get(r.id);
      const rec: InstanceRecord = { instance: inst, path: r.path, stat: r.stat };
      if (!prev) {
        this.records.set(r.id, rec);
        this.emit('event', { type: 'join', instance: inst, stat: r.stat, initial } satisfies CacheEvent);
      } else if (prev.stat.czxid !== r.stat.czxid || prev.stat.mzxid !== r.stat.mzxid) {
        this.records.set(r.id, rec);
        this.emit('event', { type: 'update', instance: inst, previous: prev.instance, stat: r.stat } satisfies CacheEvent);
      }
    }
    // Nodes found gone while reading.
    for (const r of reads) if (r === undefined) this.dirty = true;
    this.loaded = true;
    this.emit('change', this.instances());
  }
}
