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
import { RefreshLoop } from './refresh.js';

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
  basePath = validatePath(basePath);
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
  const addrProblem = addressProblem(input.address);
  if (addrProblem) throw new UsageError(`invalid address ${JSON.stringify(input.address)}: ${addrProblem}`, 'an address is a host name or IP address: not blank, no whitespace or control characters');
  const portProblem = portProblemOf(input.port);
  if (portProblem) throw new UsageError(`invalid port ${input.port}: ${portProblem}`);
  if (input.sslPort !== undefined && input.sslPort !== null) {
    const p = portProblemOf(input.sslPort);
    if (p) throw new UsageError(`invalid SSL port ${input.sslPort}: ${p}`);
  }
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
    // (The parser's message quotes the data: control characters escaped, so it stays one line.)
    const why = (e as Error).message.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
    throw new UsageError(`not a service instance (bad JSON: ${why})`);
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

/** Why `address` cannot be connected to (undefined: it can). Not blank, no whitespace, no control characters. */
export function addressProblem(address: unknown): string | undefined {
  if (typeof address !== 'string' || address.length === 0) return 'no address';
  if (/[\s\u0000-\u001f\u007f-\u009f]/u.test(address)) return 'it contains whitespace or control characters';
  return undefined;
}

function portProblemOf(port: unknown): string | undefined {
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) return 'a port is an integer in 1-65535';
  return undefined;
}

/**
 * Why an instance record cannot be used by a client (undefined: it can): the one validity
 * rule for pick, watch, the cache and the dispatcher. Usable = an address that is not blank and
 * has no whitespace or control characters, and an integer port in 1-65535. (A disabled
 * instance is valid, only out of rotation: see isUsable.)
 */
export function instanceProblem(inst: Pick<ServiceInstance, 'address' | 'port'>): string | undefined {
  const a = addressProblem(inst.address);
  if (a) return inst.address === null || inst.address === '' ? 'no address' : `address ${JSON.stringify(inst.address)}: ${a}`;
  const p = portProblemOf(inst.port);
  if (p) return inst.port === null ? 'no port' : `port ${inst.port}: ${p}`;
  return undefined;
}

/** Enabled (absent `enabled` means enabled) and valid (see instanceProblem). */
export function isUsable(inst: ServiceInstance): boolean {
  return inst.enabled !== false && instanceProblem(inst) === undefined;
}

/**
 * Write the instance node once (delete and re-create when it exists). Returns the stat.
 * Parents are containers, made as needed (createWithParents: a parent reaped meanwhile is made again).
 */
export async function writeInstance(session: Session, inst: ServiceInstance, basePath = DEFAULT_BASE_PATH, opts: { replace?: boolean } = {}): Promise<Stat> {
  const path = instancePath(inst.name, inst.id, basePath);
  const data = serializeInstance(inst);
  const mode = inst.serviceType === 'DYNAMIC' || inst.serviceType === 'DYNAMIC_SEQUENTIAL' ? 'ephemeral' : 'persistent';
  for (let attempt = 0; ; attempt++) {
    try {
      return (await createWithParents(session, path, data, { mode })).stat;
    } catch (e) {
      if (attempt >= 5) throw e;
      // (replace: false: a node that exists is left alone, NODE_EXISTS is thrown.)
      if (isZkCode(e, ZkCode.NODE_EXISTS) && opts.replace !== false) {
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
  replaced: [ReplacedBy];
  unregistered: [];
  error: [Error];
}

/** Who holds the node of our id now (another registrant of the same id: zkctl, Curator, ...). */
export interface ReplacedBy {
  /** Session owning the node now (0n: a persistent node). */
  owner: bigint;
  stat: Stat;
}

/**
 * A held registration: written now, written again after the session is
 * renewed (or whenever the node is found missing: a data watch on the node, and a
 * check after every reconnect), deleted by `unregister()` (or by ZooKeeper when the
 * session ends).
 *
 * Another registrant of the same id (zkctl or Curator: both delete and re-create) takes
 * the node over: this registration does not fight it (two holders would replace each
 * other forever); it says so ('replaced', once per takeover) and writes its own
 * instance again as soon as that node is gone (the other registrant left).
 *
 * Events: 'registered', 'reregistered' (stat), 'replaced' (ReplacedBy), 'lost' (session
 * lost: the node is gone), 'error' (a re-registration failed; it is tried again, with a
 * growing pause of at most `retryMaxMs`, while the session is up, and on every reconnect).
 */
export class ServiceRegistration extends EventEmitter {
  readonly instance: ServiceInstance;
  readonly basePath: string;
  readonly path: string;
  stat?: Stat;
  /** Longest pause between two attempts at writing the node again (ms). */
  retryMaxMs = 5000;
  private stopped = false;
  /** The check/write: one at a time, coalesced, tried again after a failure. */
  private readonly loop: RefreshLoop;
  /** The nodes this registration wrote (czxid): any other node of our id is another registrant's. */
  private readonly ownNodes = new Set<bigint>();
  /** czxid of the other registrant's node last reported as 'replaced' (said once per takeover). */
  private replacedCzxid?: bigint;
  /**
   * How long a node of ours deleted by someone else, while our session holds, stays missing
   * before it is written again (ms). Another registrant of our id takes a node over by
   * deleting it and then creating its own (Curator's ServiceDiscovery does, and loops while
   * the create finds a node): writing ours back at once would slip in between, and the two
   * would replace each other until one happens to win. Waiting lets its create land first;
   * then this registration sees it and says 'replaced'.
   */
  takeoverGraceMs = 1500;
  /** When our node was first found missing in the session that wrote it (performance.now()). */
  private missingSince?: number;
  private readonly nodeWatcher = (): void => this.ensureSoon();
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
    this.loop = new RefreshLoop(session, () => this.ensure(), {
      // Checked again after every reconnect (a renewed session's too).
      on: ['reconnected'],
      retry: { baseMs: 250, maxMs: () => this.retryMaxMs },
      onError: (e) => {
        if (this.listenerCount('error') > 0) this.emit('error', e as Error);
      },
    });
  }

  async register(): Promise<Stat> {
    this.stat = await writeInstance(this.session, this.instance, this.basePath);
    this.ownNodes.add(this.stat.czxid);
    this.session.on('lost', this.onLost);
    this.emit('registered', this.stat);
    // Watch the node: a takeover or a delete by someone else is noticed at once.
    void this.loop.start();
    return this.stat;
  }

  /** Check (and write) now, one check at a time: a request during a check runs another one after it. */
  private ensureSoon(): void {
    this.loop.schedule();
  }

  /**
   * After a reconnect: is our node still there (and ours)? If not, write it again. (A failure
   * goes to 'error' and is tried again: the loop's retry, see RefreshLoop.)
   */
  private async ensure(): Promise<void> {
    if (this.stopped) return;
    // After a reconnect the member may lag behind the leader (it was not the one we talked
    // to): catch up first, or a node deleted meanwhile could still look present.
    await this.session.sync(parentOf(this.path));
    // (The watch is passed on every check: armed again whatever happened to the last one.)
    const st = await this.session.exists(this.path, this.nodeWatcher);
    if (this.stopped) return;
    const ephemeral = this.instance.serviceType === 'DYNAMIC' || this.instance.serviceType === 'DYNAMIC_SEQUENTIAL';
    const ours = st !== null && this.ownNodes.has(st.czxid);
    if (st) this.missingSince = undefined;
    if (st && ours && (!ephemeral || st.ephemeralOwner === this.session.sessionId)) return;
    if (!st && this.stat && (!ephemeral || this.stat.ephemeralOwner === this.session.sessionId)) {
      // Deleted by someone else while this session holds it: maybe a takeover under way
      // (delete, then create). Look again after the grace; write ours only if still missing.
      const now = performance.now();
      this.missingSince ??= now;
      const left = this.takeoverGraceMs - (now - this.missingSince);
      if (left > 0) {
        this.loop.later(left);
        return;
      }
    }
    this.missingSince = undefined;
    if (st && !ours) {
      // Another registrant of our id holds the node: say so (once), and wait for it to go.
      if (this.replacedCzxid !== st.czxid) {
        this.replacedCzxid = st.czxid;
        this.stat = undefined;
        this.emit('replaced', { owner: st.ephemeralOwner, stat: st } satisfies ReplacedBy);
      }
      return;
    }
    if (st) {
      // Ours, left by one of our expired sessions and not reaped by the server yet: delete it
      // (that very version) and write it again.
      try {
        await this.session.delete(this.path, st.version);
      } catch (e) {
        if (!isZkCode(e, ZkCode.NO_NODE) && !isZkCode(e, ZkCode.BAD_VERSION)) throw e;
      }
    }
    // Written only where there is no node: one created meanwhile by another registrant
    // (NODE_EXISTS) is left alone and looked at again.
    let stat: Stat;
    try {
      stat = await writeInstance(this.session, this.instance, this.basePath, { replace: false });
    } catch (e) {
      if (!isZkCode(e, ZkCode.NODE_EXISTS)) throw e;
      this.ensureSoon();
      return;
    }
    if (this.stopped) return;
    this.ownNodes.add(stat.czxid);
    this.stat = stat;
    this.replacedCzxid = undefined;
    this.emit('reregistered', stat);
    // Watch the node we just wrote (the write itself sets no watch).
    this.ensureSoon();
  }

  /**
   * Delete the node (when it is ours) and stop following the session. `timeoutMs` bounds the
   * whole of it (default: the session's request deadline, per request): on a signal the caller
   * gives it a short one, best effort (the node is ephemeral: it goes with the session anyway).
   */
  async unregister(opts: { timeoutMs?: number } = {}): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    const end = opts.timeoutMs !== undefined ? Date.now() + opts.timeoutMs : undefined;
    const left = (): number | undefined => (end === undefined ? undefined : Math.max(1, end - Date.now()));
    this.loop.stop();
    this.session.removeListener('lost', this.onLost);
    // A write in progress would otherwise re-create the node after the delete below (waited
    // for a little only: while the connection is down it could take its requests' deadlines).
    await this.loop.settled(Math.min(2000, left() ?? 2000));
    try {
      const ro = (): { timeoutMs?: number } => (end === undefined ? {} : { timeoutMs: left() });
      const st = await this.session.exists(this.path, undefined, ro());
      // Only a node this registration wrote (another registrant's node of our id is left alone).
      if (st && this.ownNodes.has(st.czxid)) await this.session.delete(this.path, st.version, ro());
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
  basePath = validatePath(basePath);
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
  | { type: 'leave'; instance: ServiceInstance; stat: Stat; /** Set when the node is still there but its data is no longer a usable instance. */ reason?: string }
  | { type: 'update'; instance: ServiceInstance; previous: ServiceInstance; stat: Stat };

/** A node under the service that is not a usable instance (unreadable data, bad address or port). */
export interface SkippedRecord {
  path: string;
  id: string;
  reason: string;
}

/**
 * A watched copy of one service's instances (Curator's ServiceCache): a
 * children watch on the service node and a data watch on each instance. No
 * ZooKeeper read happens on `instances()`. Events: 'event' (CacheEvent),
 * 'change' (after every applied change, with the current list), 'skipped'
 * (SkippedRecord: a node whose data is unreadable or not a usable instance; said
 * once per version of the node), 'error'.
 *
 * Only usable instances are kept (see instanceProblem; disabled ones are kept, marked
 * so): a node whose data becomes garbage or unusable is a leave (with `reason`).
 *
 * Recovery, stated plainly: every read passes its watch again (ZooKeeper keeps one
 * watch per path and session, so arming an armed watch costs nothing), and after every
 * reconnect, and after a new session (renewing sessions), the cache reads everything
 * again and reports only what differs: whatever it believed about its watches, they
 * are armed again by that read. A failed read is tried again (a growing pause of at
 * most 5 s) while the session is usable, besides at every reconnect.
 */
export class ServiceCache extends EventEmitter {
  readonly name: string;
  readonly basePath: string;
  readonly path: string;
  /** Longest pause between two attempts after a failed read (ms). */
  retryMaxMs = 5000;
  private readonly records = new Map<string, InstanceRecord>();
  /** Nodes skipped (not usable), with the version last reported, so that each version is said once. */
  private readonly skipped = new Map<string, string>();
  private closed = false;
  private loaded = false;
  /** Reads done (for tests and diagnostics). */
  reads = 0;
  /** One read at a time, coalesced; tried again after a failure (see the class comment). */
  private readonly loop: RefreshLoop;
  /**
   * One watcher function per path, kept for as long as the path is followed: the wire client
   * keeps one listener per function and path, so passing it on every read never piles up.
   */
  private readonly childWatcher = (): void => this.refresh();
  private readonly dataWatchers = new Map<string, () => void>();

  constructor(
    private readonly session: Session,
    name: string,
    basePath = DEFAULT_BASE_PATH,
  ) {
    super();
    this.name = name;
    this.basePath = basePath;
    this.path = servicePath(name, basePath);
    this.loop = new RefreshLoop(session, () => this.readOnce(), {
      // 'connected' too: a renewing session says 'reconnected' for its new session, but a
      // listener added before the first connection must not miss it either.
      on: ['connected', 'reconnected', 'lost'],
      retry: { baseMs: 100, maxMs: () => this.retryMaxMs, unref: true },
      onError: (e) => {
        if (this.listenerCount('error') > 0) this.emit('error', e as Error);
      },
    });
  }

  /** Read the current instances and start watching. */
  async start(): Promise<InstanceRecord[]> {
    await this.loop.start();
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
    this.loop.stop();
    this.removeAllListeners('event');
  }

  /** Re-read (coalesced: one read at a time, another one after it when asked meanwhile). */
  refresh(): void {
    this.loop.schedule();
  }

  private dataWatcher(id: string): () => void {
    let w = this.dataWatchers.get(id);
    if (!w) {
      w = () => this.refresh();
      this.dataWatchers.set(id, w);
    }
    return w;
  }

  private readonly existsWatcher = (): void => this.refresh();

  private skip(path: string, id: string, stat: Stat, reason: string): void {
    const version = `${stat.czxid}:${stat.mzxid}`;
    if (this.skipped.get(id) === version) return;
    this.skipped.set(id, version);
    this.emit('skipped', { path, id, reason } satisfies SkippedRecord);
  }

  private async readOnce(): Promise<void> {
    this.reads++;
    let children: string[] | undefined;
    try {
      children = (await this.session.getChildren(this.path, this.childWatcher)).children;
    } catch (e) {
      if (!isZkCode(e, ZkCode.NO_NODE)) throw e;
      // No service node (yet, or its container was reaped): watch for its creation.
      const st = await this.session.exists(this.path, this.existsWatcher);
      if (st) {
        this.refresh();
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
        this.emit('event', { type: 'leave', instance: rec.instance, stat: rec.stat } satisfies CacheEvent);
      }
    }
    for (const id of [...this.dataWatchers.keys()]) if (!seen.has(id)) this.dataWatchers.delete(id);
    for (const id of [...this.skipped.keys()]) if (!seen.has(id)) this.skipped.delete(id);
    const reads = await Promise.all(
      children.map(async (id) => {
        const path = `${this.path}/${id}`;
        try {
          const { data, stat } = await this.session.get(path, this.dataWatcher(id));
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
      let inst: ServiceInstance | undefined;
      let problem: string | undefined;
      try {
        inst = parseInstance(r.data, { name: this.name, id: r.id });
        problem = instanceProblem(inst);
      } catch (e) {
        problem = (e as Error).message;
      }
      const prev = this.records.get(r.id);
      if (problem !== undefined || !inst) {
        // Not an instance a client can use: not served. If it was one, it has left.
        this.skip(r.path, r.id, r.stat, problem ?? 'not a service instance');
        if (prev) {
          this.records.delete(r.id);
          this.emit('event', { type: 'leave', instance: prev.instance, stat: r.stat, reason: problem } satisfies CacheEvent);
        }
        continue;
      }
      this.skipped.delete(r.id);
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
    if (reads.includes(undefined)) this.refresh();
    this.loaded = true;
    this.emit('change', this.instances());
  }
}
