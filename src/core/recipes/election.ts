/**
 * Leader election on ZooKeeper, interoperable with Curator's LeaderLatch and
 * LeaderSelector and with kazoo's Election. Like kazoo's election.py, it is a
 * lock underneath: the leader is the first contender in sequence order, every
 * other candidate watches only the one just ahead of it.
 *
 * Formats (node names exactly as those clients write them):
 * - 'curator-latch'    Curator LeaderLatch: `_c_<uuid>-latch-<seq>`, data = id.
 * - 'curator-selector' Curator LeaderSelector (an InterProcessMutex on the path):
 *                      `_c_<uuid>-lock-<seq>`, data = id.
 * - 'kazoo'            kazoo Election (a kazoo Lock on the path): `<hex32>__lock__<seq>`,
 *                      data = identifier.
 *
 * Failure semantics (the lock's, see lock.ts): leadership can be lost during a
 * partition without notice, so the leader emits 'unsafe' once it has not heard
 * from the server for the schedule's stopAfterMs (T/2 by default) and 'lost'
 * when the session expired or its node was deleted. Work done as leader must
 * stop on either (runFenced does that for a child command). Resigning deletes
 * the node, and the next candidate takes over at once.
 */
import { EventEmitter } from 'node:events';
import { isZkCode, ZkCode } from '../errors.js';
import { joinPath, validatePath } from '../paths.js';
import { isConnectionProblem, type Session } from '../session.js';
import { type Contender, listContenders, localAddress, type NodeFormat, sortContenders } from './contenders.js';
import { type AcquireOptions, Lock, type LockHold, type LostInfo, type UnsafeInfo } from './lock.js';
import { RefreshLoop } from './refresh.js';

export type ElectionFormat = 'curator-latch' | 'curator-selector' | 'kazoo';
export const ELECTION_FORMATS: readonly ElectionFormat[] = ['curator-latch', 'curator-selector', 'kazoo'];

const NODE_FORMAT: Record<ElectionFormat, NodeFormat> = {
  'curator-latch': 'curator-latch',
  'curator-selector': 'curator',
  kazoo: 'kazoo',
};

export interface ElectionOptions {
  /** This candidate's id, stored as its node's data (UTF-8). Default: as a lock holder's, the local IP address (localAddress). */
  id?: string;
  /** Default 'curator-latch'. */
  format?: ElectionFormat;
  /** Grace between SIGTERM and SIGKILL for work run as leader (default 5000 ms). */
  graceMs?: number;
}

export interface Leadership extends LockHold {
  id: string;
}

export type ElectionEvents = {
  /** Candidate node created; `position` candidates are ahead. */
  candidate: [{ node: string; predecessor: string; position: number }];
  elected: [Leadership];
  suspended: [];
  reconnected: [];
  unsafe: [UnsafeInfo];
  lost: [LostInfo];
  resigned: [];
};

export class Election extends EventEmitter<ElectionEvents> {
  readonly path: string;
  readonly id: string;
  readonly format: ElectionFormat;
  private readonly lock: Lock;

  constructor(
    readonly session: Session,
    path: string,
    opts: ElectionOptions,
  ) {
    super();
    this.path = validatePath(path);
    this.id = opts.id ?? localAddress();
    this.format = opts.format ?? 'curator-latch';
    this.lock = new Lock(session, path, { format: NODE_FORMAT[this.format], id: this.id, graceMs: opts.graceMs });
    this.lock.on('waiting', (w) => this.emit('candidate', w));
    this.lock.on('suspended', () => this.emit('suspended'));
    this.lock.on('reconnected', () => this.emit('reconnected'));
    this.lock.on('unsafe', (i) => this.emit('unsafe', i));
    this.lock.on('lost', (i) => this.emit('lost', i));
    this.lock.on('released', () => this.emit('resigned'));
  }

  /** Our candidate node (full path), while campaigning or leading. */
  get node(): string | undefined {
    return this.lock.node;
  }
  get isLeader(): boolean {
    return this.lock.state === 'held';
  }

  /**
   * Campaign until elected (or `timeoutMs`: NotAcquiredError, exit 10; `signal`:
   * InterruptedError, 130). Resolves when this candidate is the leader.
   */
  async campaign(opts: Omit<AcquireOptions, 'try'> = {}): Promise<Leadership> {
    const hold = await this.lock.acquire(opts);
    const l: Leadership = { ...hold, id: this.id };
    this.emit('elected', l);
    return l;
  }

  /** Give up leadership or candidacy (deletes our node). Never throws. */
  resign(timeoutMs?: number): Promise<void> {
    return this.lock.release(timeoutMs);
  }

  /** Candidates in order; [0] is the leader. */
  candidates(): Promise<Contender[]> {
    return listContenders(this.session, this.path);
  }

  async leader(): Promise<Contender | undefined> {
    return currentLeader(this.session, this.path);
  }
}

/** The current leader of the election at `path` (first contender), if any. */
export async function currentLeader(session: Session, path: string): Promise<Contender | undefined> {
  // listContenders skips nodes that vanish while being read, so [0] is a leader the server had.
  return (await listContenders(session, path))[0];
}

export interface LeaderChange {
  /** The new leader, or null when there is none. */
  leader: Contender | null;
  previous: Contender | null;
  /** When zkctl saw the change. */
  at: Date;
  /** True for the first report (the leader when watching started). */
  initial: boolean;
}

export type LeaderObserverEvents = {
  change: [LeaderChange];
  /** A non-connection error while reading; watching goes on. */
  error: [Error];
};

/**
 * Follow who leads the election at `path`: emits 'change' with the leader at
 * start, then on every change of leader (a node change that does not change
 * the leader is not reported). Works before the path exists. Survives
 * reconnects (and new sessions, for a session made with `renew`).
 * Changes faster than a round trip can be merged: each report is a leader the
 * server really had, but a leader that lasted less than one round trip may be
 * missed. A failed read is tried again (a growing pause of at most `retryMaxMs`)
 * while the session is usable, besides at every reconnect (RefreshLoop).
 */
export class LeaderObserver extends EventEmitter<LeaderObserverEvents> {
  readonly path: string;
  /** Longest pause between two attempts after a failed read (ms). */
  retryMaxMs = 5000;
  private current: Contender | null = null;
  private reported = false;
  private starting = false;
  private closed = false;
  private readonly loop: RefreshLoop;

  constructor(
    readonly session: Session,
    path: string,
  ) {
    super();
    this.path = validatePath(path);
    this.loop = new RefreshLoop(session, () => this.readOnce(), {
      retry: { baseMs: 100, maxMs: () => this.retryMaxMs, unref: true },
      onError: (e) => {
        // A connection problem: tried again when the session is back (and after the pause).
        if (isConnectionProblem(e) || this.session.state === 'lost') return;
        // Before the first report start() fails with it; after, watching goes on.
        if (this.starting && !this.reported) throw e;
        this.emit('error', e as Error);
      },
    });
  }

  get leader(): Contender | null {
    return this.current;
  }

  /** Read the current leader (emits the initial 'change') and start watching. */
  async start(): Promise<void> {
    this.starting = true;
    try {
      await this.loop.start();
    } catch (e) {
      this.close();
      throw e;
    } finally {
      this.starting = false;
    }
  }

  close(): void {
    this.closed = true;
    this.loop.stop();
  }

  private refresh(): void {
    this.loop.schedule();
  }

  private async readOnce(): Promise<void> {
    const watcher = (): void => this.refresh();
    let children: string[];
    try {
      children = (await this.session.getChildren(this.path, watcher)).children;
    } catch (e) {
      if (!isZkCode(e, ZkCode.NO_NODE)) throw e;
      // Not there yet: watch for its creation.
      const st = await this.session.exists(this.path, watcher);
      if (st) {
        this.refresh();
        return;
      }
      children = [];
    }
    let leader: Contender | null = null;
    const sorted = sortContenders(children);
    for (const first of sorted.slice(0, 5)) {
      const full = joinPath(this.path, first.name);
      try {
        const { data, stat } = await this.session.get(full);
        leader = {
          name: first.name,
          path: full,
          format: first.format,
          seq: first.seq,
          position: 0,
          mode: first.mode,
          holds: true,
          id: data.toString('utf8'),
          data,
          czxid: stat.czxid,
          ctime: stat.ctime,
          ephemeralOwner: stat.ephemeralOwner,
        };
        break;
      } catch (e) {
        if (!isZkCode(e, ZkCode.NO_NODE)) throw e;
        // It went away between the listing and the read: the child watch will fire; try the next.
      }
    }
    if (this.closed) return;
    if (!this.reported || (leader?.name ?? null) !== (this.current?.name ?? null)) {
      const previous = this.current;
      this.current = leader;
      const initial = !this.reported;
      this.reported = true;
      this.emit('change', { leader, previous, at: new Date(), initial });
    }
  }
}
