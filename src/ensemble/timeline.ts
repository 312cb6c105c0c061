/**
 * The leader timeline of ANY ensemble: every member of the connect string is
 * polled (`srvr`, a few times a second) and the samples are turned into events:
 * the leader changed, a member went down or came back, the quorum was lost or
 * regained, a follower lags behind the leader.
 *
 * `EnsembleTimeline` is the pure part (samples in, events out; no I/O, no
 * clock), `watchEnsemble()` the polling loop around it.
 *
 * What the events can and cannot tell: a poll sees states, not transitions, so
 * an election shorter than the poll interval, or a member that restarts between
 * two polls, may go unseen (a leader change is still seen, by its new epoch).
 * A member counts as down when its port refuses connections, or when it does
 * not answer two polls in a row (one slow answer is not a crash).
 */
import type { ConnectionOptions as TlsConnectionOptions } from 'node:tls';
import { isServing, memberStatus, type HostPort, type MemberMode, type MemberStatus, type StatusOptions } from './status.js';
import { sleepMs } from '../core/duration.js';

export type TimelineEventType =
  | 'initial'
  | 'leader-change'
  | 'member-down'
  | 'member-up'
  | 'quorum-lost'
  | 'quorum-regained'
  | 'follower-lag'
  | 'follower-caught-up';

export interface MemberView {
  address: string;
  id?: number;
  mode: MemberMode;
  zxid?: string;
}

export interface TimelineEvent {
  type: TimelineEventType;
  time: Date;
  /** The leader now ("host:port"); absent while there is none. */
  leader?: string;
  leaderId?: number;
  /** While there is no leader: the last one seen. */
  lastLeader?: string;
  lastLeaderId?: number;
  /** leader-change: the leader before (absent when none was ever seen). */
  oldLeader?: string;
  oldLeaderId?: number;
  /** leader-change: the same member won a new election. */
  reelected?: boolean;
  /** The leader's epoch and zxid (the last known ones while there is no leader). */
  epoch?: number;
  zxid?: string;
  /** leader-change: the previous epoch. */
  oldEpoch?: number;
  /** member-down, member-up, follower-lag, follower-caught-up: which member. */
  member?: string;
  memberId?: number;
  /** member-up: how it serves now; member-down: why it is counted down. */
  mode?: MemberMode;
  error?: string;
  /** follower-lag: transactions behind the leader (null: in an older epoch than the last one seen before the leader's). */
  lag?: number | null;
  /** follower-lag/caught-up: the leader has written nothing in its epoch yet (followers then still show the previous epoch's last zxid). */
  noWritesSinceElection?: boolean;
  memberZxid?: string;
  /** leader-change: ms without a leader before it (0 when none was seen); quorum-regained: ms without quorum. */
  downMs?: number;
  quorum: boolean;
  /** Members serving / all members. */
  serving: number;
  members: number;
  /** initial: every member. */
  state?: MemberView[];
}

export interface TimelineOptions {
  /** A follower lags when more than this many transactions behind the leader (default 1000)... */
  lagThreshold?: number;
  /** ...for longer than this (default 1000 ms). */
  lagForMs?: number;
}

interface Tracked {
  address: string;
  id?: number;
  /** Debounced mode. */
  mode: MemberMode;
  misses: number;
  zxidValue?: bigint;
  zxid?: string;
  epoch?: number;
  lagSince?: number;
  lagging: boolean;
}

interface Leader {
  address: string;
  id?: number;
  epoch?: number;
  zxid?: string;
  zxidValue?: bigint;
}

const isRefused = (e: string | undefined): boolean => !!e && /refused/i.test(e);

/** Samples in, events out. */
export class EnsembleTimeline {
  private readonly lagThreshold: number;
  private readonly lagForMs: number;
  private readonly tracked = new Map<string, Tracked>();
  private started = false;
  private leader?: Leader;
  /** The last leader seen (kept while there is none). */
  private lastLeader?: Leader;
  private leaderlessSince?: number;
  private quorum = false;
  private quorumLostAt?: number;
  private votingSize = 0;
  /** The highest zxid seen in each epoch (any member): where the epoch before the leader's ended. */
  private readonly epochEnds = new Map<number, bigint>();

  constructor(opts: TimelineOptions = {}) {
    this.lagThreshold = opts.lagThreshold ?? 1000;
    this.lagForMs = opts.lagForMs ?? 1000;
  }

  /** The current leader, if any. */
  get currentLeader(): Leader | undefined {
    return this.leader;
  }

  /** Feed one poll of every member (memberStatus results) taken at `now` (ms). */
  update(samples: MemberStatus[], now: number): TimelineEvent[] {
    const time = new Date(now);
    const events: TimelineEvent[] = [];
    const ups: Tracked[] = [];
    const downs: Array<[Tracked, string | undefined]> = [];
    for (const s of samples) {
      let t = this.tracked.get(s.address);
      if (!t) {
        t = { address: s.address, mode: s.mode, misses: 0, lagging: false };
        this.tracked.set(s.address, t);
      }
      if (s.id !== undefined) t.id = s.id;
      if (s.votingMembers) this.votingSize = Math.max(this.votingSize, s.votingMembers);
      if (s.mode === 'down') {
        t.misses++;
        // A refused connection is a dead process; a silent one gets a second chance.
        if (t.mode !== 'down' && (isRefused(s.error) || t.misses >= 2 || !this.started)) {
          if (this.started) downs.push([t, s.error]);
          t.mode = 'down';
          t.lagSince = undefined;
          t.lagging = false;
        }
        continue;
      }
      t.misses = 0;
      if (t.mode === 'down' && this.started) ups.push(t);
      t.mode = s.mode;
      if (s.zxidValue !== undefined) {
        const ep = Number(s.zxidValue >> 32n);
        if ((this.epochEnds.get(ep) ?? -1n) < s.zxidValue) this.epochEnds.set(ep, s.zxidValue);
        t.zxidValue = s.zxidValue;
        t.zxid = s.zxid;
        t.epoch = s.epoch;
      }
      if (!isServing(s.mode)) {
        t.lagSince = undefined;
      }
    }

    const all = [...this.tracked.values()];
    const leaders = all.filter((t) => t.mode === 'leader' || t.mode === 'standalone');
    // Two members claiming leadership (an old leader not yet stepped down): the newer epoch wins.
    leaders.sort((a, b) => (b.zxidValue ?? -1n) > (a.zxidValue ?? -1n) ? 1 : (b.zxidValue ?? -1n) < (a.zxidValue ?? -1n) ? -1 : 0);
    const lt = leaders[0];
    const leader: Leader | undefined = lt ? { address: lt.address, ...(lt.id !== undefined ? { id: lt.id } : {}), ...(lt.epoch !== undefined ? { epoch: lt.epoch } : {}), ...(lt.zxid ? { zxid: lt.zxid, zxidValue: lt.zxidValue! } : {}) } : undefined;
    const size = this.votingSize > 0 ? this.votingSize : all.length;
    const participants = all.filter((t) => t.mode === 'leader' || t.mode === 'follower').length;
    const standalone = all.some((t) => t.mode === 'standalone');
    const quorum = standalone || (leader !== undefined && participants > Math.floor(size / 2));
    const serving = all.filter((t) => isServing(t.mode)).length;

    const base = (l: Leader | undefined = leader ?? this.lastLeader): Omit<TimelineEvent, 'type'> => {
      const e: Omit<TimelineEvent, 'type'> = { time, quorum, serving, members: all.length };
      if (leader) {
        e.leader = leader.address;
        if (leader.id !== undefined) e.leaderId = leader.id;
      } else if (this.lastLeader) {
        e.lastLeader = this.lastLeader.address;
        if (this.lastLeader.id !== undefined) e.lastLeaderId = this.lastLeader.id;
      }
      if (l?.epoch !== undefined) e.epoch = l.epoch;
      if (l?.zxid) e.zxid = l.zxid;
      return e;
    };

    if (!this.started) {
      this.started = true;
      this.leader = leader;
      this.lastLeader = leader;
      this.quorum = quorum;
      if (!leader) this.leaderlessSince = now;
      if (!quorum) this.quorumLostAt = now;
      events.push({
        type: 'initial',
        ...base(),
        state: all.map((t) => ({ address: t.address, ...(t.id !== undefined ? { id: t.id } : {}), mode: t.mode, ...(t.zxid ? { zxid: t.zxid } : {}) })),
      });
      return events;
    }

    for (const [t, error] of downs) {
      events.push({ type: 'member-down', ...base(), member: t.address, ...(t.id !== undefined ? { memberId: t.id } : {}), mode: 'down', ...(error ? { error } : {}) });
    }
    for (const t of ups) {
      events.push({ type: 'member-up', ...base(), member: t.address, ...(t.id !== undefined ? { memberId: t.id } : {}), mode: t.mode, ...(t.zxid ? { memberZxid: t.zxid } : {}) });
    }
    if (this.quorum && !quorum) {
      this.quorumLostAt = now;
      events.push({ type: 'quorum-lost', ...base() });
    }
    if (leader) {
      const prev = this.lastLeader;
      const changed = !prev || prev.address !== leader.address;
      const reelected = !changed && prev.epoch !== undefined && leader.epoch !== undefined && leader.epoch > prev.epoch;
      if (changed || reelected) {
        const e: TimelineEvent = { type: 'leader-change', ...base(leader), downMs: this.leaderlessSince !== undefined ? now - this.leaderlessSince : 0 };
        if (prev) {
          e.oldLeader = prev.address;
          if (prev.id !== undefined) e.oldLeaderId = prev.id;
          if (prev.epoch !== undefined) e.oldEpoch = prev.epoch;
        }
        if (reelected) e.reelected = true;
        events.push(e);
      }
      this.lastLeader = leader;
      this.leaderlessSince = undefined;
    } else if (this.leaderlessSince === undefined) {
      this.leaderlessSince = now;
    }
    this.leader = leader;
    if (!this.quorum && quorum) {
      events.push({ type: 'quorum-regained', ...base(), downMs: this.quorumLostAt !== undefined ? now - this.quorumLostAt : 0 });
      this.quorumLostAt = undefined;
    }
    this.quorum = quorum;

    // Followers (and observers) behind the leader.
    for (const t of all) {
      if (!leader || leader.zxidValue === undefined || t.address === leader.address || (t.mode !== 'follower' && t.mode !== 'observer') || t.zxidValue === undefined) {
        if (t.lagging && t.mode !== 'follower' && t.mode !== 'observer') t.lagging = false;
        t.lagSince = undefined;
        continue;
      }
      const lag = this.lagOf(t.zxidValue, leader.zxidValue);
      const behind = lag === null || lag > this.lagThreshold;
      const idle = (leader.zxidValue & 0xffffffffn) === 0n;
      const who = { member: t.address, ...(t.id !== undefined ? { memberId: t.id } : {}), ...(t.zxid ? { memberZxid: t.zxid } : {}), ...(idle ? { noWritesSinceElection: true } : {}) };
      if (behind) {
        t.lagSince ??= now;
        if (!t.lagging && now - t.lagSince >= this.lagForMs) {
          t.lagging = true;
          events.push({ type: 'follower-lag', ...base(), ...who, lag });
        }
      } else {
        t.lagSince = undefined;
        if (t.lagging) {
          t.lagging = false;
          events.push({ type: 'follower-caught-up', ...base(), ...who, lag: Math.max(0, lag ?? 0) });
        }
      }
    }
    return events;
  }

  /**
   * Transactions a follower at `f` is behind a leader at `l`. Within the leader's epoch, the
   * difference. A follower still in an earlier epoch has not seen the leader's first write: after
   * an election with no write yet, a follower shows the last zxid of the previous epoch and is in
   * sync; so it is behind by the leader's writes in its epoch plus what it misses of the epoch
   * before (the highest zxid any member showed in it). null: two epochs or more behind.
   */
  private lagOf(f: bigint, l: bigint): number | null {
    const fe = Number(f >> 32n);
    const le = Number(l >> 32n);
    if (fe === le) return Number(l - f);
    if (fe > le) return 0;
    const prev = Math.max(...[...this.epochEnds.keys()].filter((e) => e < le));
    if (prev !== fe) return null;
    return Number(l & 0xffffffffn) + Number(this.epochEnds.get(prev)! - f);
  }
}

export interface WatchEnsembleOptions extends TimelineOptions {
  /** Poll interval (default 250 ms). */
  intervalMs?: number;
  /** Deadline of each member's answer (default: 3 intervals, at least 500 ms, at most 2 s). */
  probeTimeoutMs?: number;
  /** Ask the members over TLS with these options (secure client ports). */
  tls?: TlsConnectionOptions;
  /** Stop polling when aborted (the promise then resolves). */
  signal?: AbortSignal;
  /** Called with each event, in order; polling waits for the returned promise. */
  onEvent: (e: TimelineEvent) => void | Promise<void>;
  /** Called with every poll (for tests and live views). */
  onSample?: (members: MemberStatus[], now: number) => void;
}

/**
 * Asks members for their status again and again; `conf` (for the server id and
 * the voting membership) only until the id is known, at most every 5 s.
 */
export class MemberProbe {
  private readonly ids = new Map<string, { id?: number; voting?: number; askedAt: number }>();

  async status(hp: HostPort, opts: StatusOptions): Promise<MemberStatus> {
    const key = `${hp.host}:${hp.port}`;
    const now = Date.now();
    const known = this.ids.get(key);
    const askConf = known?.id === undefined && (!known || now - known.askedAt >= 5000);
    const st = await memberStatus(hp, { ...opts, conf: askConf });
    if (askConf && st.mode !== 'down') this.ids.set(key, { id: st.id, voting: st.votingMembers, askedAt: now });
    const k = this.ids.get(key);
    if (st.id === undefined && k?.id !== undefined) st.id = k.id;
    if (st.votingMembers === undefined && k?.voting !== undefined) st.votingMembers = k.voting;
    return st;
  }
}

/** Poll every member (srvr) until `signal` aborts. */
export async function watchEnsemble(servers: HostPort[], opts: WatchEnsembleOptions): Promise<void> {
  const intervalMs = Math.max(50, opts.intervalMs ?? 250);
  const timeoutMs = opts.probeTimeoutMs ?? Math.min(2000, Math.max(500, 3 * intervalMs));
  const tl = new EnsembleTimeline(opts);
  const probe = new MemberProbe();
  const signal = opts.signal;
  while (!signal?.aborted) {
    const t0 = Date.now();
    const samples = await Promise.all(servers.map((hp) => probe.status(hp, { timeoutMs, mntr: false, ...(signal ? { signal } : {}), ...(opts.tls ? { tls: opts.tls } : {}) })));
    if (signal?.aborted) break;
    const now = Date.now();
    opts.onSample?.(samples, now);
    for (const e of tl.update(samples, now)) await opts.onEvent(e);
    const wait = intervalMs - (Date.now() - t0);
    if (wait > 0) await sleepMs(wait, signal);
  }
}
