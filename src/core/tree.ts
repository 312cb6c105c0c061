/**
 * Pipelined tree walking and deletion.
 *
 * `walk()` streams a subtree in strict depth-first order (children sorted by
 * name), pre-order (parents first) or post-order (children first), while
 * keeping up to `window` requests in flight on the one session. It never holds
 * the whole tree: at most `maxBuffered` fetched-but-not-yet-consumed nodes
 * (plus the sibling lists along the current path) are in memory, and a slow
 * consumer (a pipe) stops the fetching (back-pressure).
 *
 * How the window is filled: every known, not yet fetched node waits in a
 * priority queue ordered by its position in the depth-first order; the next
 * request always goes to the earliest such node. When the buffer is full, the
 * fetched node that comes LAST in the order is dropped (and fetched again when
 * its turn comes) to make room for an earlier one, so a wide level fetched
 * early can never starve the subtree being printed of its window.
 *
 * Nodes deleted while the walk runs are skipped silently (the root excepted:
 * a missing root is a NO_NODE error, exit 3). Other server errors on a node go
 * to `onError` (default: throw when the consumer reaches the node); connection
 * and session errors end the walk at once.
 *
 * `deleteTree()` removes a subtree bottom-up: a post-order walk feeds deletes
 * into a second window. ZooKeeper applies one session's requests in order, so
 * a parent's delete, sent after its children's, is applied after them without
 * waiting for their replies.
 */
import { InterruptedError, UsageError, ZkCode, ZkError } from './errors.js';
import { pipeline } from './pipeline.js';
import { assertNotReserved, baseName, joinPath, validatePath } from './paths.js';
import type { ACL, Stat } from './protocol/records.js';
import type { Session } from './session.js';
import { createDebug } from './debug.js';

const debug = createDebug('zkctl:walk');

/** One znode as the walk delivers it. */
export interface NodeInfo {
  /** Absolute path (client side: relative to the session's chroot). */
  path: string;
  /** Last path segment ('' for '/'). */
  name: string;
  /** 0 for the walk's root, 1 for its children, ... */
  depth: number;
  stat: Stat;
  /** With `withData`. */
  data?: Buffer;
  /** With `withAcl`. */
  acl?: ACL[];
  /** Sorted child names; undefined for nodes at the depth limit (use stat.numChildren). */
  children?: string[];
  /** Last of its parent's walked children (true for the root): handy for drawing trees. */
  last: boolean;
}

export interface WalkOptions {
  /** Deepest level to deliver, relative to the root (0 = the root only). Default: unlimited. */
  depth?: number;
  /** Fetch each node's data (getData). */
  withData?: boolean;
  /** Accepted for clarity; the stat is always delivered (it comes free with every reply). */
  withStat?: boolean;
  /** Fetch each node's ACL (getACL). */
  withAcl?: boolean;
  /** Most requests in flight at once. Default 1000. */
  window?: number;
  /** 'pre': a node before its children (default); 'post': after them. */
  order?: 'pre' | 'post';
  /** Deliver the root itself (default true). */
  includeRoot?: boolean;
  /** Most fetched-but-unconsumed nodes kept in memory. Default 4 × window (at least 256). */
  maxBuffered?: number;
  /** Most bytes of fetched-but-unconsumed replies (data and child lists) kept in memory. Default 64 MiB. */
  maxBufferedBytes?: number;
  /** Return true to leave a node (and its subtree) out of the walk. Not applied to the root. */
  prune?: (path: string, depth: number) => boolean;
  /** A server error (other than NO_NODE) on one node: 'skip' it (and its subtree) or 'throw' (default). */
  onError?: (path: string, err: ZkError) => 'skip' | 'throw';
  /** Aborting ends the walk with an InterruptedError (exit 130). */
  signal?: AbortSignal;
}

export interface WalkStats {
  /** Nodes delivered. */
  nodes: number;
  /** Requests sent (including re-fetches). */
  requests: number;
  /** Fetched nodes dropped from the buffer to make room (each cost a re-fetch). */
  evictions: number;
  /** Highest number of requests in flight at once. */
  maxInFlight: number;
  /** Nodes skipped: deleted during the walk or refused by onError. */
  skipped: number;
  /** Most nodes fetched (or being fetched) but not yet consumed at once: the memory bound at work. */
  peakBuffered: number;
  /** Most bytes (data and child lists) of fetched, unconsumed replies held at once, after eviction. */
  peakBufferedBytes: number;
}

/* ------------------------------------------------------------------ */

const NEW = 0;
const INFLIGHT = 1;
const BUFFERED = 2;
const CONSUMED = 3;
const CANCELLED = 4;
/** cancelled while its request was in flight: still counted in `started` until the reply */
const CANCELLED_INFLIGHT = 5;

/** Approximate bytes of memory per known child (its Entry and key). */
const CHILD_OVERHEAD = 96;

interface Fetched {
  stat: Stat;
  data?: Buffer;
  acl?: ACL[];
  children?: string[];
}

interface Entry {
  path: string;
  depth: number;
  /** Position in depth-first order: child indexes from the root. */
  key: number[];
  last: boolean;
  state: number;
  cost: number;
  bytes: number;
  result?: Fetched;
  kids?: Entry[];
  error?: Error;
  skip?: boolean;
}

function compareKeys(a: number[], b: number[]): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

/** A plain binary heap. */
class Heap<T> {
  private readonly a: T[] = [];
  constructor(private readonly less: (x: T, y: T) => boolean) {}
  get size(): number {
    return this.a.length;
  }
  peek(): T | undefined {
    return this.a[0];
  }
  push(v: T): void {
    const a = this.a;
    a.push(v);
    let i = a.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(a[i], a[p])) break;
      [a[i], a[p]] = [a[p], a[i]];
      i = p;
    }
  }
  /** Keep only the items that pass (rebuilds the heap: O(n)). */
  retain(keep: (v: T) => boolean): void {
    const items = this.a.filter(keep);
    this.a.length = 0;
    for (const v of items) this.push(v);
  }
  pop(): T | undefined {
    const a = this.a;
    if (a.length === 0) return undefined;
    const top = a[0];
    const last = a.pop()!;
    if (a.length > 0) {
      a[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && this.less(a[l], a[m])) m = l;
        if (r < a.length && this.less(a[r], a[m])) m = r;
        if (m === i) break;
        [a[i], a[m]] = [a[m], a[i]];
        i = m;
      }
    }
    return top;
  }
}

function isFatal(e: unknown): boolean {
  return !(e instanceof ZkError);
}

/**
 * The walker. Iterate it once (`for await`); `stats` tells how it went.
 * Breaking out of the loop early is fine: replies still in flight are ignored.
 */
export class TreeWalker implements AsyncIterable<NodeInfo> {
  readonly root: string;
  readonly stats: WalkStats = { nodes: 0, requests: 0, evictions: 0, maxInFlight: 0, skipped: 0, peakBuffered: 0, peakBufferedBytes: 0 };
  private readonly session: Session;
  private readonly maxDepth: number;
  private readonly window: number;
  private readonly maxBuffered: number;
  private readonly maxBytes: number;
  private readonly opts: WalkOptions;
  private readonly todo = new Heap<Entry>((x, y) => compareKeys(x.key, y.key) < 0);
  private readonly evictable = new Heap<Entry>((x, y) => compareKeys(x.key, y.key) > 0);
  private inFlight = 0;
  private started = 0;
  private bytes = 0;
  /** the entry the consumer takes next (never evicted) */
  private next?: Entry;
  /** cancelled entries still in `todo` */
  private staleTodo = 0;
  private fatal?: Error;
  private waiter?: { entry: Entry; wake: () => void };
  private used = false;
  private done = false;
  /** The walk reached its end (not stopped by its reader). */
  private complete = false;

  constructor(session: Session, root: string, opts: WalkOptions = {}) {
    root = validatePath(root);
    this.session = session;
    this.root = root;
    this.opts = opts;
    this.maxDepth = opts.depth ?? Number.POSITIVE_INFINITY;
    if (!(this.maxDepth >= 0)) throw new UsageError(`invalid depth ${opts.depth}`);
    this.window = Math.max(1, Math.floor(opts.window ?? 1000));
    this.maxBuffered = Math.max(this.window, Math.floor(opts.maxBuffered ?? Math.max(256, 4 * this.window)));
    this.maxBytes = opts.maxBufferedBytes ?? 64 * 1024 * 1024;
  }

  [Symbol.asyncIterator](): AsyncIterator<NodeInfo> {
    if (this.used) throw new Error('a TreeWalker can be iterated only once');
    this.used = true;
    const gen = this.opts.order === 'post' ? this.post() : this.pre();
    return gen;
  }

  private onAbort = (): void => this.fail(new InterruptedError());

  private async *pre(): AsyncGenerator<NodeInfo> {
    const rootEntry = this.begin();
    try {
      const stack: Entry[] = [rootEntry];
      while (stack.length > 0) {
        const e = stack.pop()!;
        const node = await this.consume(e);
        if (!node) continue;
        const kids = e.kids;
        e.kids = undefined;
        if (kids) for (let i = kids.length - 1; i >= 0; i--) stack.push(kids[i]);
        if (e !== rootEntry || this.opts.includeRoot !== false) {
          this.stats.nodes++;
          yield node;
        }
      }
      this.complete = true;
    } finally {
      this.end();
    }
  }

  private async *post(): AsyncGenerator<NodeInfo> {
    const rootEntry = this.begin();
    try {
      const rootNode = await this.consume(rootEntry);
      if (!rootNode) {
        this.complete = true;
        return;
      }
      const stack: Array<{ e: Entry; node: NodeInfo; kids: Entry[]; i: number }> = [
        { e: rootEntry, node: rootNode, kids: rootEntry.kids ?? [], i: 0 },
      ];
      rootEntry.kids = undefined;
      while (stack.length > 0) {
        const f = stack[stack.length - 1];
        if (f.i < f.kids.length) {
          const kid = f.kids[f.i];
          f.kids[f.i++] = undefined as unknown as Entry; // let it go once visited
          const node = await this.consume(kid);
          if (!node) continue;
          if (kid.kids && kid.kids.length > 0) {
            stack.push({ e: kid, node, kids: kid.kids, i: 0 });
            kid.kids = undefined;
          } else {
            this.stats.nodes++;
            yield node;
          }
          continue;
        }
        stack.pop();
        if (f.e !== rootEntry || this.opts.includeRoot !== false) {
          this.stats.nodes++;
          yield f.node;
        }
      }
      this.complete = true;
    } finally {
      this.end();
    }
  }

  private begin(): Entry {
    if (this.opts.signal?.aborted) throw new InterruptedError();
    this.opts.signal?.addEventListener('abort', this.onAbort, { once: true });
    const root = this.newEntry(this.root, 0, [], true);
    this.todo.push(root);
    return root;
  }

  private end(): void {
    this.done = true;
    this.opts.signal?.removeEventListener('abort', this.onAbort);
    debug(`walk of ${this.root} ${this.complete ? 'done' : 'stopped'}: ${this.stats.nodes} nodes, ${this.stats.requests} requests`);
  }

  private newEntry(path: string, depth: number, key: number[], last: boolean): Entry {
    const needChildren = depth < this.maxDepth;
    const cost = (this.opts.withData ? 1 : 0) + (needChildren ? 1 : 0) + (this.opts.withAcl ? 1 : 0) || 1;
    return { path, depth, key, last, state: NEW, cost, bytes: 0 };
  }

  private fail(err: Error): void {
    if (this.fatal) return;
    this.fatal = err;
    const w = this.waiter;
    this.waiter = undefined;
    w?.wake();
  }

  /** Wait for `e` to be fetched; hand it over. Undefined when the node is to be skipped. */
  private async consume(e: Entry): Promise<NodeInfo | undefined> {
    this.next = e;
    if (e.state !== BUFFERED) {
      if (!this.fatal) {
        this.pump();
        if (e.state !== BUFFERED && !this.fatal) await new Promise<void>((wake) => (this.waiter = { entry: e, wake }));
      }
      if (this.fatal) throw this.fatal;
    }
    e.state = CONSUMED;
    this.started--;
    this.bytes -= e.bytes;
    const r = e.result;
    e.result = undefined;
    this.pump();
    if (e.error) throw e.error;
    if (e.skip || !r) {
      this.stats.skipped++;
      return undefined;
    }
    const node: NodeInfo = { path: e.path, name: baseName(e.path), depth: e.depth, stat: r.stat, last: e.last };
    if (r.data) node.data = r.data;
    if (r.acl) node.acl = r.acl;
    if (r.children) node.children = r.children;
    return node;
  }

  /** Start fetches while the window and the buffer allow. */
  private pump(): void {
    while (!this.fatal && !this.done) {
      let x = this.todo.peek();
      while (x && x.state !== NEW) {
        this.todo.pop();
        x = this.todo.peek();
      }
      if (!x) return;
      if (this.inFlight > 0 && this.inFlight + x.cost > this.window) return;
      if (this.started >= this.maxBuffered || this.bytes >= this.maxBytes) {
        let y = this.evictable.peek();
        while (y && y.state !== BUFFERED) {
          this.evictable.pop();
          y = this.evictable.peek();
        }
        // Evict only when the window is starving: while half of it is busy,
        // a reply or a consumed node soon frees a place without a re-fetch.
        if (!y || compareKeys(y.key, x.key) < 0 || this.inFlight >= this.window / 2) return;
        this.evictable.pop();
        this.evict(y);
      }
      this.todo.pop();
      this.start(x);
    }
  }

  /**
   * Replies in flight land whatever the budget; when they push the buffer over
   * it, drop the fetched nodes that come last in the order (never the one the
   * consumer waits for) until it fits again.
   */
  private enforceBudget(): void {
    while (this.bytes > this.maxBytes || this.started > this.maxBuffered) {
      let y = this.evictable.peek();
      while (y && y.state !== BUFFERED) {
        this.evictable.pop();
        y = this.evictable.peek();
      }
      if (!y || y === this.next) return;
      this.evictable.pop();
      this.evict(y);
    }
  }

  private evict(y: Entry): void {
    this.stats.evictions++;
    this.started--;
    this.bytes -= y.bytes;
    this.cancelKids(y);
    y.state = NEW;
    y.result = undefined;
    y.error = undefined;
    y.skip = undefined;
    y.bytes = 0;
    this.todo.push(y);
  }

  private cancelKids(y: Entry): void {
    const kids = y.kids;
    y.kids = undefined;
    if (!kids) return;
    for (const k of kids) {
      if (k.state === BUFFERED) {
        this.started--;
        this.bytes -= k.bytes;
        this.cancelKids(k);
      }
      if (k.state === NEW) this.staleTodo++;
      k.state = k.state === INFLIGHT ? CANCELLED_INFLIGHT : CANCELLED;
    }
    if (this.staleTodo > this.todo.size / 2 + 64) {
      this.todo.retain((x) => x.state === NEW);
      this.staleTodo = 0;
    }
  }

  private start(e: Entry): void {
    e.state = INFLIGHT;
    this.started++;
    if (this.started > this.stats.peakBuffered) this.stats.peakBuffered = this.started;
    this.inFlight += e.cost;
    this.stats.requests += e.cost;
    if (this.inFlight > this.stats.maxInFlight) this.stats.maxInFlight = this.inFlight;
    const s = this.session;
    const needChildren = e.depth < this.maxDepth;
    const reqs: Array<Promise<unknown>> = [];
    const dataP = this.opts.withData ? s.get(e.path) : undefined;
    const kidsP = needChildren ? s.getChildren(e.path) : undefined;
    const aclP = this.opts.withAcl ? s.getACL(e.path) : undefined;
    const existsP = !dataP && !kidsP && !aclP ? s.exists(e.path) : undefined;
    for (const p of [dataP, kidsP, aclP, existsP]) if (p) reqs.push(p);
    Promise.all(reqs).then(
      async () => {
        const d = dataP ? await dataP : undefined;
        const k = kidsP ? await kidsP : undefined;
        const a = aclP ? await aclP : undefined;
        const st = existsP ? await existsP : undefined;
        const stat = d?.stat ?? k?.stat ?? a?.stat ?? st ?? undefined;
        if (!stat) this.finish(e, undefined, new ZkError(ZkCode.NO_NODE, e.path));
        else this.finish(e, { stat, data: d?.data, acl: a?.acl, children: k ? k.children.slice().sort() : undefined });
      },
      (err: unknown) => {
        // let the other requests of this node settle quietly
        for (const p of reqs) p.catch(() => undefined);
        this.finish(e, undefined, err as Error);
      },
    );
  }

  private finish(e: Entry, r: Fetched | undefined, err?: Error): void {
    this.inFlight -= e.cost;
    if (e.state === CANCELLED_INFLIGHT) {
      // cancelled while in flight (its parent was evicted): just release it
      e.state = CANCELLED;
      this.started--;
      this.pump();
      return;
    }
    if (this.done) return;
    e.state = BUFFERED;
    if (err) {
      if (isFatal(err)) {
        this.fail(err);
        return;
      }
      const z = err as ZkError;
      if (z.code === ZkCode.NO_NODE && e.depth > 0) e.skip = true;
      else if (z.code !== ZkCode.NO_NODE && this.opts.onError?.(e.path, z) === 'skip') e.skip = true;
      else e.error = z.path ? z : new ZkError(z.code, e.path);
    } else if (r) {
      e.result = r;
      // what holding this reply costs: its data and its children (names + entries)
      e.bytes = (r.data?.length ?? 0) + (r.children ? r.children.reduce((n, c) => n + c.length + CHILD_OVERHEAD, 0) : 0);
      this.bytes += e.bytes;
      if (r.children && r.children.length > 0 && e.depth < this.maxDepth) {
        const prune = this.opts.prune;
        const kids: Entry[] = [];
        for (const name of r.children) {
          const p = joinPath(e.path, name);
          if (prune && prune(p, e.depth + 1)) continue;
          kids.push(this.newEntry(p, e.depth + 1, [...e.key, kids.length], false));
        }
        if (kids.length > 0) kids[kids.length - 1].last = true;
        e.kids = kids;
        for (const k of kids) this.todo.push(k);
      }
    }
    this.evictable.push(e);
    this.enforceBudget();
    if (this.bytes > this.stats.peakBufferedBytes) this.stats.peakBufferedBytes = this.bytes;
    // Consumed nodes stay in the eviction heap until they surface; drop them
    // now and then so it holds about what the buffer holds, not the whole walk.
    if (this.evictable.size > 2 * this.started + 64) this.evictable.retain((x) => x.state === BUFFERED);
    const w = this.waiter;
    if (w && w.entry === e) {
      this.waiter = undefined;
      w.wake();
    }
    this.pump();
  }
}

/** Stream the subtree at `root` (see TreeWalker). */
export function walk(session: Session, root: string, opts: WalkOptions = {}): TreeWalker {
  return new TreeWalker(session, root, opts);
}

/* ------------------------------------------------------------------ */

export interface DeleteTreeOptions {
  /** Most deletes in flight at once (the walk has its own window of the same size). Default 1000. */
  window?: number;
  /** Count what would be deleted; delete nothing. */
  dryRun?: boolean;
  /** Called after each node deleted (or counted, with dryRun) with the running count. */
  onProgress?: (count: number) => void;
  /** Compare-and-set on the root: fail with BAD_VERSION (exit 5) before deleting anything if its version differs. */
  version?: number;
  signal?: AbortSignal;
  /** How many times to re-walk a subtree that gained children while it was being deleted. Default 3. */
  retries?: number;
}

/**
 * Paths `deleteTree` refuses: '/' (also under a chroot: the chroot's root) and
 * the server's own /zookeeper subtree (unless under a chroot, where it is an
 * ordinary node). `chroot` is the session's chroot ('' for none).
 */
export function assertDeletable(path: string, chroot = ''): void {
  path = validatePath(path);
  if (path === '/') throw new UsageError('refusing to delete /', 'name a subtree, e.g. /app');
  assertNotReserved(path, chroot, 'delete');
}

/**
 * Delete `root` and everything under it, bottom-up, with pipelined requests.
 * Returns the number of nodes deleted (or that would be, with dryRun).
 * Nodes that vanish meanwhile are not counted; a subtree that gains children
 * meanwhile is walked again (up to `retries` times), then NOT_EMPTY (exit 6).
 */
export async function deleteTree(session: Session, root: string, opts: DeleteTreeOptions = {}): Promise<number> {
  assertDeletable(root, session.chroot);
  const window = Math.max(1, Math.floor(opts.window ?? 1000));
  if (opts.version !== undefined && opts.version >= 0) {
    const st = await session.exists(root);
    if (!st) throw await session.noNode(root);
    if (st.version !== opts.version) throw new ZkError(ZkCode.BAD_VERSION, root);
  }
  let count = 0;
  const retriesLeft = opts.retries ?? 3;

  const pass = async (top: string, version: number, tolerateMissing: boolean): Promise<string[]> => {
    const notEmpty: string[] = [];
    const walker = walk(session, top, { order: 'post', window, signal: opts.signal });
    try {
      await pipeline(
        walker,
        async (n) => {
          if (!opts.dryRun) {
            try {
              await session.delete(n.path, n.path === top ? version : -1);
            } catch (e) {
              if (e instanceof ZkError && e.code === ZkCode.NO_NODE) return; // gone already
              if (e instanceof ZkError && e.code === ZkCode.NOT_EMPTY) return void notEmpty.push(n.path);
              throw e;
            }
          }
          count++;
          opts.onProgress?.(count);
        },
        { window, signal: opts.signal },
      );
    } catch (e) {
      if (!(tolerateMissing && e instanceof ZkError && e.code === ZkCode.NO_NODE && e.path === top)) throw e;
    }
    // only the outermost not-empty nodes need another pass
    notEmpty.sort();
    return notEmpty.filter((p, i) => !notEmpty.slice(0, i).some((q) => p.startsWith(`${q}/`)));
  };

  let todo = await pass(root, opts.version ?? -1, false);
  for (let attempt = 0; todo.length > 0; attempt++) {
    if (attempt >= retriesLeft) throw new ZkError(ZkCode.NOT_EMPTY, todo[0], 'children keep appearing');
    const next: string[] = [];
    for (const p of todo) next.push(...(await pass(p, p === root ? (opts.version ?? -1) : -1, true)));
    todo = next;
  }
  return count;
}

/* ------------------------------------------------------------------ */

/**
 * A glob on one path segment as an anchored RegExp, with fnmatch's rules (FNM_PATHNAME: nothing
 * matches "/"): `*` any run, `?` one character, `[abc]`, `[a-z]`, `[!abc]` or `[^abc]` one character
 * of (or not of) the set; a `]` first in the set is one of its characters (`[]x]`, `[!]x]`); a range
 * whose ends are reversed matches nothing; `\` makes the next character literal, in a set too; a `[`
 * without its `]` is a literal `[`.
 */
export function globToRegExp(glob: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    const bracket = c === '[' ? bracketAt(glob, i) : undefined;
    if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (bracket) {
      re += bracket.re;
      i = bracket.end;
    } else {
      const lit = c === '\\' && i + 1 < glob.length ? glob[++i]! : c;
      re += lit.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
    }
  }
  return new RegExp(`^${re}$`);
}

/** The bracket expression that opens at glob[i] ('['): its RegExp and the index of its ']'; undefined when unterminated. */
function bracketAt(glob: string, i: number): { re: string; end: number } | undefined {
  let k = i + 1;
  const negate = glob[k] === '!' || glob[k] === '^';
  if (negate) k++;
  const chars = (): string | undefined => {
    if (k >= glob.length) return undefined;
    if (glob[k] === '\\' && k + 1 < glob.length) k++;
    return glob[k++];
  };
  let set = '';
  for (let first = true; ; first = false) {
    if (k >= glob.length) return undefined;
    if (glob[k] === ']' && !first) break;
    const lo = chars()!;
    if (glob[k] === '-' && k + 1 < glob.length && glob[k + 1] !== ']') {
      k++;
      const hi = chars();
      if (hi === undefined) return undefined;
      if (lo <= hi) set += `${esc(lo)}-${esc(hi)}`;
    } else set += esc(lo);
  }
  if (negate) return { re: `[^/${set}]`, end: k };
  return { re: set === '' ? '(?!)' : `(?!/)[${set}]`, end: k };
}

const esc = (c: string): string => c.replace(/[\]\\^\-[]/g, '\\$&');

/** A session id as people write it (hex, 0x optional, up to 16 digits), as the signed 64-bit value a stat holds. */
export function parseSessionId(text: string, what = '--owner'): bigint {
  const m = /^(0x)?([0-9a-f]{1,16})$/i.exec(text.trim());
  if (!m) throw new UsageError(`invalid ${what} "${text}"`, 'a session id in hex, e.g. 0x100000b3770000a');
  return BigInt.asIntN(64, BigInt(`0x${m[2]}`));
}

/** The ephemeral nodes of a walk of `root` (in its order), only `owner`'s when given. */
export async function* ephemeralNodes(session: Session, root: string, opts: WalkOptions & { owner?: bigint } = {}): AsyncGenerator<NodeInfo> {
  const { owner, ...walkOpts } = opts;
  for await (const n of walk(session, root, walkOpts)) {
    const eo = n.stat.ephemeralOwner;
    if (eo !== 0n && (owner === undefined || eo === owner)) yield n;
  }
}

export interface DuRow {
  path: string;
  /** Sum of the data lengths in the subtree (the node included). */
  bytes: number;
  /** Nodes in the subtree (the node included). */
  nodes: number;
  depth: number;
}

/**
 * Data bytes and node counts for `root` and each subtree down to `depth`
 * levels below it (default 1), largest first (bytes, then nodes, then path).
 * A post-order walk of stats only; memory holds one running sum per level.
 */
export async function duTree(
  session: Session,
  root: string,
  opts: Pick<WalkOptions, 'window' | 'signal' | 'onError' | 'prune'> & { depth?: number } = {},
): Promise<DuRow[]> {
  const report = opts.depth ?? 1;
  const pending: Array<{ bytes: number; nodes: number }> = [];
  const rows: DuRow[] = [];
  const walker = walk(session, root, { order: 'post', window: opts.window, signal: opts.signal, onError: opts.onError, prune: opts.prune });
  for await (const n of walker) {
    const below = pending[n.depth + 1] ?? { bytes: 0, nodes: 0 };
    pending[n.depth + 1] = { bytes: 0, nodes: 0 };
    const total = { bytes: n.stat.dataLength + below.bytes, nodes: 1 + below.nodes };
    const acc = (pending[n.depth] ??= { bytes: 0, nodes: 0 });
    acc.bytes += total.bytes;
    acc.nodes += total.nodes;
    if (n.depth <= report) rows.push({ path: n.path, ...total, depth: n.depth });
  }
  return rows.sort((a, b) => b.bytes - a.bytes || b.nodes - a.nodes || (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}
