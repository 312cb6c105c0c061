/**
 * Znode event streams: every change under a path, in order, across reconnects.
 *
 * How it works, and what it guarantees:
 * - With ZooKeeper 3.6+ it uses one persistent watch (persistent recursive with
 *   `recursive`): the server sends one notification per change, and nothing is
 *   lost between re-arms because there are none. Each notification becomes
 *   exactly one event. The zxid/version (and data) of an event are read right
 *   after the notification, so when changes follow each other quickly they may
 *   show a later state than the change itself (the event count stays exact).
 * - Servers without persistent watches (addWatch answers UNIMPLEMENTED) get
 *   one-shot watches, re-armed after each event. Changes between an event and
 *   its re-arm are coalesced into the next event (detected by version).
 * - A connection loss is reported ('disconnected'), then the session reconnects
 *   (to another member) and re-registers the watches. The server does NOT
 *   replay what changed while no server held our watch, so on every reconnect
 *   the watched nodes are read again and compared with what the stream last
 *   reported: each difference becomes an event marked `resync`, and the
 *   'reconnected' notice says whether anything could have been missed:
 *   'none' (no version moved), 'net-only' (the net change was reported,
 *   intermediate states were not seen) or 'unknown' (the subtree was too big to
 *   keep a snapshot of). A session expiry is reported as 'session-expired';
 *   with a session created with `renew` the stream goes on in a new session
 *   (resynced the same way), otherwise it ends with SessionExpiredError.
 */
import { createDebug } from '../debug.js';
import { isZkCode, SessionExpiredError, ZkCode } from '../errors.js';
import { joinPath, parentOf, validatePath } from '../paths.js';
import type { Stat } from '../protocol/records.js';
import type { Session, WatchEvent, Watcher } from '../session.js';
import { walk } from '../tree.js';

const debug = createDebug('zkctl:watch');

export type ZnodeEventType = 'created' | 'deleted' | 'data-changed' | 'children-changed';

export interface ZnodeEvent {
  type: ZnodeEventType;
  /** When the notification arrived (or the resync found the change). */
  time: Date;
  path: string;
  /**
   * The zxid of the change as read after the event: czxid (created), mzxid
   * (data-changed), pzxid (children-changed). Absent for deleted, and when the
   * node was already gone when read.
   */
  zxid?: bigint;
  /** Data version (created, data-changed) or child version (children-changed). */
  version?: number;
  /** With the `data` option: the node's data (created, data-changed). */
  data?: Buffer;
  /** children-changed: the current children, and what changed since the last event. */
  children?: string[];
  added?: string[];
  removed?: string[];
  /** Found by re-reading after a reconnect, not notified by the server. */
  resync?: boolean;
}

/** Could events have been missed while disconnected? */
export type Missed = 'none' | 'net-only' | 'unknown';

export interface WatchNotice {
  type: 'disconnected' | 'reconnected' | 'session-expired';
  time: Date;
  /** The server lost (disconnected) or reached (reconnected). */
  server?: string;
  /** reconnected: ms since the disconnection. */
  downMs?: number;
  /** reconnected: a new session after an expiry. */
  newSession?: boolean;
  /** reconnected: how many differences the resync reported. */
  changes?: number;
  missed?: Missed;
}

export type WatchMechanism = 'persistent' | 'one-shot';

export interface ZnodeWatchOptions {
  /** Every descendant too. */
  recursive?: boolean;
  /** Read the data of created / changed nodes. */
  data?: boolean;
  /** 'auto' (default): persistent when the server has it, else one-shot. */
  mechanism?: 'auto' | WatchMechanism;
  /** Most nodes a recursive watch keeps a snapshot of for resyncs (default 50 000). */
  snapshotLimit?: number;
  /** Called once per event, in order; the next waits for the returned promise. */
  onEvent: (e: ZnodeEvent) => void | Promise<void>;
  onNotice?: (n: WatchNotice) => void | Promise<void>;
}

interface NodeState {
  czxid: bigint;
  mzxid: bigint;
  pzxid: bigint;
  version: number;
  cversion: number;
  children?: string[];
  /** Only while a resync compares snapshots. */
  data?: Buffer;
}
type Snapshot = Map<string, NodeState>;

interface NodeRead {
  stat: Stat | null;
  data?: Buffer;
  children?: string[];
  childStat?: Stat;
  error?: Error;
}

type Item = { kind: 'event'; e: ZnodeEvent } | { kind: 'notice'; n: WatchNotice };

function toState(stat: Stat, children?: string[], data?: Buffer): NodeState {
  const s: NodeState = { czxid: stat.czxid, mzxid: stat.mzxid, pzxid: stat.pzxid, version: stat.version, cversion: stat.cversion };
  if (children) s.children = [...children].sort();
  if (data) s.data = data;
  return s;
}

function stripData(s: Snapshot | undefined): Snapshot | undefined {
  if (s) for (const st of s.values()) delete st.data;
  return s;
}

function depth(path: string): number {
  return path === '/' ? 0 : path.split('/').length - 1;
}

/** A stream of events on one path (see the module comment). Use `watchZnode()`. */
export class ZnodeWatch {
  readonly path: string;
  mechanism: WatchMechanism = 'persistent';
  /** The server has no persistent watches: one-shot watches are used instead. */
  fellBack = false;
  /** Resolves when stopped; rejects when the stream cannot go on (session expired without renewal, a handler threw). */
  readonly done: Promise<void>;
  private readonly session: Session;
  private readonly opts: ZnodeWatchOptions;
  private readonly recursive: boolean;
  private store: Snapshot | undefined = new Map();
  private tail: Promise<void> = Promise.resolve();
  private stopped = false;
  private unsubscribe?: () => Promise<void>;
  /** One-shot watchers of an older generation (before a reconnect) are ignored when they fire. */
  private gen = 0;
  private readonly dataArmed = new Set<string>();
  private readonly childArmed = new Set<string>();
  /** Changes the last resync reported, so the notification that may follow for the same change is not reported twice. */
  private marks = new Map<string, bigint | null>();
  private disconnectedAt?: number;
  private expired = false;
  private resolveDone!: () => void;
  private rejectDone!: (e: Error) => void;
  private readonly sessionListeners: Array<[string, (...a: unknown[]) => void]> = [];

  constructor(session: Session, path: string, opts: ZnodeWatchOptions) {
    path = validatePath(path);
    this.session = session;
    this.path = path;
    this.opts = opts;
    this.recursive = !!opts.recursive;
    this.done = new Promise<void>((res, rej) => {
      this.resolveDone = res;
      this.rejectDone = rej;
    });
    this.done.catch(() => undefined); // callers that never look at `done` must not crash the process
  }

  /** Register the watch and read the initial state; events flow once this resolves. */
  async start(): Promise<void> {
    this.listen('suspended', () => this.onSuspended());
    this.listen('lost', () => this.onLost());
    this.listen('reconnected', () => this.onReconnected());
    const want = this.opts.mechanism ?? 'auto';
    if (want !== 'one-shot') {
      try {
        this.unsubscribe = await this.session.addWatch(this.path, (ev) => this.onPersistent(ev), { recursive: this.recursive });
        this.mechanism = 'persistent';
      } catch (e) {
        if (want === 'persistent' || !isZkCode(e, ZkCode.UNIMPLEMENTED)) {
          this.detach();
          throw e;
        }
        debug(`addWatch is not implemented by the server: one-shot watches on ${this.path}`);
        this.fellBack = true;
        this.mechanism = 'one-shot';
      }
    } else {
      this.mechanism = 'one-shot';
    }
    const snap = this.takeSnapshot();
    try {
      await this.enqueue(snap, (s) => {
        this.store = stripData(s);
        return [];
      }, true);
    } catch (e) {
      await this.stop();
      throw e;
    }
  }

  /** Stop: no more events are delivered; the server-side watch is removed. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.gen++;
    this.detach();
    const u = this.unsubscribe;
    this.unsubscribe = undefined;
    if (u) await u().catch(() => undefined);
    this.resolveDone();
  }

  private fail(e: Error): void {
    if (this.stopped) return;
    this.stopped = true;
    this.gen++;
    this.detach();
    const u = this.unsubscribe;
    this.unsubscribe = undefined;
    if (u) void u().catch(() => undefined);
    this.rejectDone(e);
  }

  private listen(ev: string, fn: () => void): void {
    const f = (): void => fn();
    this.session.on(ev, f);
    this.sessionListeners.push([ev, f]);
  }

  private detach(): void {
    for (const [ev, f] of this.sessionListeners.splice(0)) this.session.removeListener(ev, f);
  }

  /* ------------------------------------------------------------ queue */

  /**
   * Tasks run in arrival order: `read` was started when the task was queued
   * (so replies come back in server order), `apply` runs when every earlier
   * task has been delivered. Resolves when this task's items are delivered.
   */
  private enqueue<R>(read: Promise<R>, apply: (r: R) => Item[] | Promise<Item[]>, rethrow = false): Promise<void> {
    read.catch(() => undefined);
    const run = this.tail.then(async () => {
      if (this.stopped) return;
      let r: R;
      try {
        r = await read;
      } catch (e) {
        if (rethrow) throw e;
        debug(`read failed: ${(e as Error).message}`);
        return;
      }
      if (this.stopped) return;
      let items: Item[];
      try {
        items = await apply(r);
      } catch (e) {
        if (rethrow) throw e;
        debug(`apply failed: ${(e as Error).message}`);
        return;
      }
      for (const it of items) {
        if (this.stopped) return;
        try {
          if (it.kind === 'event') await this.opts.onEvent(it.e);
          else await this.opts.onNotice?.(it.n);
        } catch (e) {
          this.fail(e as Error);
          return;
        }
      }
    });
    this.tail = run.catch(() => undefined);
    return run;
  }

  private notice(n: WatchNotice): void {
    void this.enqueue(Promise.resolve(null), () => [{ kind: 'notice', n }]);
  }

  /* ------------------------------------------------------------ reads */

  private dataWatcher(gen: number): Watcher {
    return (ev: WatchEvent) => {
      if (gen !== this.gen || this.stopped) return;
      this.dataArmed.delete(ev.path);
      this.onOneShotData(ev);
    };
  }

  private childWatcher(gen: number): Watcher {
    return (ev: WatchEvent) => {
      if (gen !== this.gen || this.stopped) return;
      this.childArmed.delete(ev.path);
      if (ev.type === 'childrenChanged') this.onOneShotChildren(ev.path);
    };
  }

  /**
   * Is the children list of `path` kept? One-shot: every node of a recursive
   * watch (that is how new nodes are found) and the root. Persistent: only the
   * root of a non-recursive watch (for children-changed events).
   */
  private tracksChildren(path: string): boolean {
    if (this.mechanism === 'one-shot') return this.recursive || path === this.path;
    return !this.recursive && path === this.path;
  }

  /**
   * Read a node: its stat, data (with `data`), children (with `children`).
   * In one-shot mode it (re-)arms the watches that are not armed. Never rejects.
   */
  private readNode(path: string, o: { children?: boolean; data?: boolean } = {}): Promise<NodeRead> {
    const arm = this.mechanism === 'one-shot';
    const gen = this.gen;
    const dw = arm && !this.dataArmed.has(path) ? this.dataWatcher(gen) : undefined;
    if (dw) this.dataArmed.add(path);
    const pStat = this.session.exists(path, dw);
    const pData = (o.data ?? this.opts.data) ? this.session.get(path) : undefined;
    let cw: Watcher | undefined;
    let pKids: Promise<{ children: string[]; stat: Stat }> | undefined;
    if (o.children) {
      cw = arm && !this.childArmed.has(path) ? this.childWatcher(gen) : undefined;
      if (cw) this.childArmed.add(path);
      pKids = this.session.getChildren(path, cw);
    }
    return Promise.allSettled([pStat, pData, pKids]).then(([rs, rd, rk]) => {
      const out: NodeRead = { stat: null };
      if (rs.status === 'rejected') {
        if (dw && gen === this.gen) this.dataArmed.delete(path);
        if (cw && gen === this.gen) this.childArmed.delete(path);
        out.error = rs.reason as Error;
        return out;
      }
      out.stat = rs.value;
      if (rd.status === 'fulfilled' && rd.value) {
        out.stat = rd.value.stat;
        out.data = rd.value.data;
      } else if (rd.status === 'rejected' && !isZkCode(rd.reason, ZkCode.NO_NODE)) out.error = rd.reason as Error;
      if (rk.status === 'fulfilled' && rk.value) {
        out.children = rk.value.children;
        out.childStat = rk.value.stat;
      } else if (rk.status === 'rejected') {
        if (cw && gen === this.gen) this.childArmed.delete(path);
        if (!isZkCode(rk.reason, ZkCode.NO_NODE)) out.error = rk.reason as Error;
      }
      if (out.stat === null) out.children = undefined;
      return out;
    });
  }

  /* ------------------------------------------------------------ persistent watch */

  private onPersistent(ev: WatchEvent): void {
    if (this.stopped) return;
    const time = new Date();
    const p = ev.path;
    switch (ev.type) {
      case 'created':
        void this.enqueue(this.readNode(p, { children: this.tracksChildren(p) }), (r) => this.applyCreated(p, r, time));
        break;
      case 'deleted':
        void this.enqueue(Promise.resolve(null), () => this.applyDeleted(p, time));
        break;
      case 'dataChanged':
        void this.enqueue(this.readNode(p), (r) => this.applyDataChanged(p, r, time));
        break;
      case 'childrenChanged':
        void this.enqueue(this.readNode(p, { children: true }), (r) => this.applyChildren(p, r, time));
        break;
      default:
        debug(`ignoring ${ev.type} on ${p}`);
    }
  }

  /** A notification for a change the last resync already reported: drop it once. */
  private isMarked(type: ZnodeEventType, path: string, zxid: bigint | undefined): boolean {
    const key = `${type}:${path}`;
    if (!this.marks.has(key)) return false;
    const z = this.marks.get(key);
    this.marks.delete(key);
    if (type === 'deleted') return !this.store?.has(path);
    return z !== null && z === zxid;
  }

  private event(e: ZnodeEvent): Item[] {
    return [{ kind: 'event', e }];
  }

  private applyCreated(path: string, r: NodeRead, time: Date): Item[] {
    const e: ZnodeEvent = { type: 'created', time, path };
    if (r.stat) {
      e.zxid = r.stat.czxid;
      e.version = r.stat.version;
      if (r.data) e.data = r.data;
    }
    const known = this.store?.get(path);
    if (this.mechanism === 'one-shot' && known && r.stat && known.czxid === r.stat.czxid) return []; // already reported
    if (this.isMarked('created', path, e.zxid)) return [];
    if (r.stat) this.remember(path, toState(r.stat, r.children ?? []));
    return this.event(e);
  }

  private applyDeleted(path: string, time: Date): Item[] {
    if (this.mechanism === 'one-shot' && this.store && !this.store.has(path)) return [];
    if (this.isMarked('deleted', path, undefined)) return [];
    this.forget(path);
    return this.event({ type: 'deleted', time, path });
  }

  private applyDataChanged(path: string, r: NodeRead, time: Date): Item[] {
    const e: ZnodeEvent = { type: 'data-changed', time, path };
    if (r.stat) {
      e.zxid = r.stat.mzxid;
      e.version = r.stat.version;
      if (r.data) e.data = r.data;
    }
    const known = this.store?.get(path);
    if (this.mechanism === 'one-shot' && known && r.stat && r.stat.mzxid <= known.mzxid) return [];
    if (this.isMarked('data-changed', path, e.zxid)) return [];
    if (r.stat && known && r.stat.mzxid > known.mzxid) {
      known.mzxid = r.stat.mzxid;
      known.version = r.stat.version;
    }
    return this.event(e);
  }

  private applyChildren(path: string, r: NodeRead, time: Date): Item[] {
    const e: ZnodeEvent = { type: 'children-changed', time, path };
    const known = this.store?.get(path);
    if (r.children && r.childStat) {
      const now = [...r.children].sort();
      e.zxid = r.childStat.pzxid;
      e.version = r.childStat.cversion;
      e.children = now;
      if (known?.children) {
        const before = new Set(known.children);
        const after = new Set(now);
        e.added = now.filter((c) => !before.has(c));
        e.removed = known.children.filter((c) => !after.has(c));
      }
      if (known && r.childStat.pzxid >= known.pzxid) {
        known.children = now;
        known.pzxid = r.childStat.pzxid;
        known.cversion = r.childStat.cversion;
      }
    }
    if (this.isMarked('children-changed', path, e.zxid)) return [];
    return this.event(e);
  }

  /**
   * Record a node the stream reported as created. Its parent's children list
   * follows; with a persistent recursive watch nothing re-reads the parent, so
   * its child version is counted up here (a resync compares it to tell
   * whether children came and went unseen).
   */
  private remember(path: string, st: NodeState): void {
    if (!this.store) return;
    const prev = this.store.get(path);
    const same = prev !== undefined && prev.czxid === st.czxid;
    if (same && prev.mzxid > st.mzxid) return; // an older read than the snapshot's
    if (same && prev.children && !st.children?.length) st.children = prev.children;
    this.store.set(path, st);
    if (path !== this.path && !same) this.touchParent(path, +1);
  }

  private forget(path: string): void {
    if (!this.store?.has(path)) return;
    this.store.delete(path);
    if (path !== this.path) this.touchParent(path, -1);
  }

  private touchParent(path: string, delta: 1 | -1): void {
    const parent = this.store?.get(parentOf(path));
    if (!parent) return;
    const name = path.slice(path.lastIndexOf('/') + 1);
    if (parent.children) {
      if (delta > 0 && !parent.children.includes(name)) parent.children = [...parent.children, name].sort();
      if (delta < 0) parent.children = parent.children.filter((c) => c !== name);
    }
    if (this.mechanism === 'persistent' && this.recursive) parent.cversion++;
  }

  /* ------------------------------------------------------------ one-shot watches */

  private onOneShotData(ev: WatchEvent): void {
    const time = new Date();
    const p = ev.path;
    if (ev.type === 'deleted') {
      // The root is re-armed (an existence watch) to see it come back; descendants come back through their parent.
      const read = p === this.path ? this.readNode(p, { children: true }) : Promise.resolve(null);
      void this.enqueue(read, (r) => {
        const items = this.applyDeleted(p, time);
        if (r?.stat) items.push(...this.applyCreated(p, r, time)); // re-created before the re-arm
        return items;
      });
      return;
    }
    void this.enqueue(this.readNode(p, { children: this.tracksChildren(p) && !this.childArmed.has(p) }), (r) => {
      if (!r.stat) return r.error ? [] : this.applyDeleted(p, time);
      if (ev.type === 'created') {
        const items = this.applyCreated(p, r, time);
        if (this.recursive && r.children) this.discoverChildren(p, r.children, time);
        return items;
      }
      return this.applyDataChanged(p, r, time);
    });
  }

  private onOneShotChildren(path: string): void {
    const time = new Date();
    void this.enqueue(this.readNode(path, { children: true }), (r) => {
      if (!this.recursive) return this.applyChildren(path, r, time);
      // Recursive: children changes show as created/deleted of the children.
      const known = this.store?.get(path);
      if (!r.children || !known) return [];
      const now = new Set(r.children);
      const items: Item[] = [];
      for (const c of known.children ?? []) {
        if (!now.has(c)) items.push(...this.deleteSubtree(joinPath(path, c), time));
      }
      known.children = [...r.children].sort();
      if (r.childStat) {
        known.pzxid = r.childStat.pzxid;
        known.cversion = r.childStat.cversion;
      }
      this.discoverChildren(path, r.children, time);
      return items;
    });
  }

  /** Children not known yet: read (and arm) them, report them as created, then their own children. */
  private discoverChildren(parent: string, children: string[], time: Date): void {
    for (const c of children) {
      const p = joinPath(parent, c);
      if (this.store?.has(p)) continue;
      void this.enqueue(this.readNode(p, { children: true }), (r) => {
        if (!r.stat) return [];
        const items = this.applyCreated(p, r, time);
        if (r.children) this.discoverChildren(p, r.children, time);
        return items;
      });
    }
  }

  private deleteSubtree(path: string, time: Date): Item[] {
    if (!this.store?.has(path)) return [];
    const under = [...this.store.keys()].filter((k) => k === path || k.startsWith(`${path}/`)).sort((a, b) => depth(b) - depth(a));
    return under.flatMap((k) => this.applyDeleted(k, time));
  }

  /* ------------------------------------------------------------ snapshots and resync */

  /**
   * Read the watched nodes as they are now (in one-shot mode this also arms
   * every watch). undefined: the subtree is too big to keep a snapshot of.
   */
  private async takeSnapshot(): Promise<Snapshot | undefined> {
    const snap: Snapshot = new Map();
    if (!this.recursive) {
      const r = await this.readNode(this.path, { children: true });
      if (r.error) throw r.error;
      if (r.stat) snap.set(this.path, toState(r.stat, r.children ?? [], r.data));
      return snap;
    }
    if (this.mechanism === 'persistent') {
      const limit = this.opts.snapshotLimit ?? 50_000;
      let count: number;
      try {
        count = await this.session.getAllChildrenNumber(this.path);
      } catch (e) {
        if (isZkCode(e, ZkCode.NO_NODE)) return snap;
        throw e;
      }
      if (count + 1 > limit) {
        debug(`${this.path} has ${count} descendants (> ${limit}): no snapshot, resyncs cannot tell what was missed`);
        return undefined;
      }
      try {
        for await (const n of walk(this.session, this.path)) {
          snap.set(n.path, toState(n.stat, n.children ?? [], n.data));
        }
      } catch (e) {
        if (isZkCode(e, ZkCode.NO_NODE)) return snap;
        throw e;
      }
      return snap;
    }
    // One-shot and recursive: read and arm level by level.
    let level = [this.path];
    while (level.length > 0) {
      const next: string[] = [];
      for (let i = 0; i < level.length; i += 500) {
        const batch = level.slice(i, i + 500);
        const reads = await Promise.all(batch.map((p) => this.readNode(p, { children: true, data: false })));
        batch.forEach((p, j) => {
          const r = reads[j]!;
          if (r.error) throw r.error;
          if (!r.stat) return;
          snap.set(p, toState(r.stat, r.children ?? [], r.data));
          for (const c of r.children ?? []) next.push(joinPath(p, c));
        });
      }
      level = next;
    }
    return snap;
  }

  /** Compare what the stream last reported with what is there now. */
  private diff(old: Snapshot | undefined, cur: Snapshot | undefined, time: Date): { events: ZnodeEvent[]; missed: Missed } {
    if (!old || !cur) return { events: [], missed: 'unknown' };
    const events: ZnodeEvent[] = [];
    let moved = false;
    const deleted = [...old.keys()].filter((p) => {
      const c = cur.get(p);
      return !c || c.czxid !== old.get(p)!.czxid;
    });
    deleted.sort((a, b) => depth(b) - depth(a) || a.localeCompare(b));
    for (const p of deleted) events.push({ type: 'deleted', time, path: p, resync: true });
    const created: string[] = [];
    for (const [p, c] of cur) {
      const o = old.get(p);
      if (!o || o.czxid !== c.czxid) {
        created.push(p);
        continue;
      }
      if (o.mzxid !== c.mzxid || o.version !== c.version) {
        const e: ZnodeEvent = { type: 'data-changed', time, path: p, zxid: c.mzxid, version: c.version, resync: true };
        if (c.data) e.data = c.data;
        events.push(e);
      }
      if (o.cversion !== c.cversion) {
        moved = true;
        if (!this.recursive) {
          const before = new Set(o.children ?? []);
          const after = new Set(c.children ?? []);
          events.push({
            type: 'children-changed',
            time,
            path: p,
            zxid: c.pzxid,
            version: c.cversion,
            children: c.children ?? [],
            added: (c.children ?? []).filter((x) => !before.has(x)),
            removed: (o.children ?? []).filter((x) => !after.has(x)),
            resync: true,
          });
        }
      }
    }
    created.sort((a, b) => depth(a) - depth(b) || a.localeCompare(b));
    for (const p of created) {
      const c = cur.get(p)!;
      const e: ZnodeEvent = { type: 'created', time, path: p, zxid: c.czxid, version: c.version, resync: true };
      if (c.data) e.data = c.data;
      events.push(e);
    }
    return { events, missed: events.length > 0 || moved ? 'net-only' : 'none' };
  }

  private onSuspended(): void {
    if (this.stopped) return;
    this.disconnectedAt ??= Date.now();
    const server = this.session.server;
    this.notice({ type: 'disconnected', time: new Date(), ...(server ? { server } : {}) });
  }

  private onLost(): void {
    if (this.stopped) return;
    this.expired = true;
    this.disconnectedAt ??= Date.now();
    this.notice({ type: 'session-expired', time: new Date(), missed: 'unknown' });
    // The session starts a new one synchronously when it renews; otherwise the stream cannot go on.
    setImmediate(() => {
      if (this.session.state === 'lost' || this.session.state === 'closed') {
        void this.tail.then(() => this.fail(new SessionExpiredError('session expired: the watch ended (events may have been missed)')));
      }
    });
  }

  private onReconnected(): void {
    if (this.stopped) return;
    const newSession = this.expired;
    this.expired = false;
    const downMs = this.disconnectedAt !== undefined ? Date.now() - this.disconnectedAt : undefined;
    this.disconnectedAt = undefined;
    if (this.mechanism === 'one-shot') {
      // Fresh watchers; those the client re-registered by itself are ignored when they fire.
      this.gen++;
      this.dataArmed.clear();
      this.childArmed.clear();
    }
    const server = this.session.server;
    const snap = this.takeSnapshot();
    void this.enqueue(
      snap.then(
        (s): { s: Snapshot | undefined; ok: boolean; e?: Error } => ({ s, ok: true }),
        (e: Error) => ({ s: undefined, ok: false, e }),
      ),
      async (r) => {
        const time = new Date();
        if (!r.ok) debug(`resync failed: ${r.e?.message}`);
        const { events, missed } = r.ok ? this.diff(this.store, r.s, time) : { events: [], missed: 'unknown' as Missed };
        if (this.opts.data) {
          // Snapshots of a subtree carry no data: read it for what the resync reports.
          const need = events.filter((e) => (e.type === 'created' || e.type === 'data-changed') && !e.data);
          const got = await Promise.allSettled(need.map((e) => this.session.get(e.path)));
          got.forEach((g, i) => {
            if (g.status !== 'fulfilled') return;
            const e = need[i]!;
            e.data = g.value.data;
            // zxid and version of the state the data was read in
            if (e.type === 'data-changed' || g.value.stat.czxid === e.zxid) {
              e.zxid = e.type === 'created' ? g.value.stat.czxid : g.value.stat.mzxid;
              e.version = g.value.stat.version;
            }
          });
        }
        const n: WatchNotice = { type: 'reconnected', time, newSession, changes: events.length, missed };
        if (server) n.server = server;
        if (downMs !== undefined) n.downMs = downMs;
        if (r.ok) this.store = stripData(r.s);
        this.marks = new Map();
        if (this.mechanism === 'persistent') for (const e of events) this.marks.set(`${e.type}:${e.path}`, e.zxid ?? null);
        return [{ kind: 'notice', n }, ...events.map((e): Item => ({ kind: 'event', e }))];
      },
    );
  }
}

/** Start a stream of events on `path` (see ZnodeWatch). */
export async function watchZnode(session: Session, path: string, opts: ZnodeWatchOptions): Promise<ZnodeWatch> {
  const w = new ZnodeWatch(session, path, opts);
  await w.start();
  return w;
}
