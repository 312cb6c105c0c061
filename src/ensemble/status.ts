/**
 * Status of ANY ensemble, from its members' four-letter words: each member of
 * the connect string is asked (srvr, mntr, conf) in parallel, with a deadline.
 * A member that does not answer is 'down'; one that answers but does not serve
 * (electing, lost quorum) is 'not-serving'.
 */
import { formatHostPort, type HostPort, parseConnectString } from '../core/connect-string.js';
import { conf, fourLetterWord, mntr, NOT_SERVING, NotServingError, parseSrvr, type FourLetterOptions, type Latency, type ServerMode } from '../core/fourlw.js';

/** 'not-answering': a local member whose process runs but that does not answer (paused, hung). */
export type MemberMode = ServerMode | 'not-serving' | 'not-answering' | 'down';

export type { HostPort } from '../core/connect-string.js';

export interface MemberStatus extends HostPort {
  /** "host:port" */
  address: string;
  mode: MemberMode;
  /** Server id (from `conf`, or known locally). */
  id?: number;
  /** Why it is down / not serving. */
  error?: string;
  version?: string;
  zxid?: string;
  zxidValue?: bigint;
  epoch?: number;
  latency?: Latency;
  connections?: number;
  outstanding?: number;
  znodes?: number;
  watches?: number;
  ephemerals?: number;
  packetsReceived?: number;
  packetsSent?: number;
  /** Leader only: followers in sync. */
  syncedFollowers?: number;
  /** Voting members in the configuration this member knows (from `conf`). */
  votingMembers?: number;
  /** Milliseconds the probe took. */
  ms: number;
}

export interface EnsembleStatus {
  members: MemberStatus[];
  /** The one leader, when there is exactly one. */
  leader?: MemberStatus;
  leaders: number;
  /** Members serving requests (leader, follower, observer, standalone, read-only). */
  serving: number;
  /** Voting members (from the servers' own membership when known, else the member count). */
  votingSize: number;
  /** Exactly one leader and a majority of voting members serving as leader or follower. */
  quorum: boolean;
}

export interface StatusOptions extends FourLetterOptions {
  /** Also ask `mntr` (watches, packets; default true) and `conf` (server id; default true). */
  mntr?: boolean;
  conf?: boolean;
}

const formatAddress = formatHostPort;

/** One member's status; never throws. */
export async function memberStatus(hp: HostPort, opts: StatusOptions = {}): Promise<MemberStatus> {
  const t0 = Date.now();
  const address = formatAddress(hp);
  const base = { host: hp.host, port: hp.port, address };
  const o: FourLetterOptions = { timeoutMs: opts.timeoutMs ?? 2000, ...(opts.signal ? { signal: opts.signal } : {}), ...(opts.tls ? { tls: opts.tls } : {}) };
  // srvr first and alone, so its connection count is not inflated by our own other probes.
  const [srvrR] = await Promise.allSettled([fourLetterWord(hp.host, hp.port, 'srvr', o)]);
  const skip = Promise.reject(new Error('skipped'));
  skip.catch(() => undefined);
  const up = srvrR.status === 'fulfilled' && !srvrR.value.startsWith(NOT_SERVING);
  const [mntrR, confR] = await Promise.allSettled([
    opts.mntr === false || !up ? skip : mntr(hp.host, hp.port, o),
    opts.conf === false || !up ? skip : conf(hp.host, hp.port, o),
  ]);
  const ms = Date.now() - t0;
  if (srvrR.status === 'rejected') {
    return { ...base, mode: 'down', error: errText(srvrR.reason), ms };
  }
  let s;
  try {
    s = parseSrvr(srvrR.value, address);
  } catch (e) {
    if (e instanceof NotServingError) return { ...base, mode: 'not-serving', error: 'not currently serving requests', ms };
    return { ...base, mode: 'down', error: errText(e), ms };
  }
  const st: MemberStatus = {
    ...base,
    mode: s.mode,
    version: s.version,
    zxid: s.zxid,
    zxidValue: s.zxidValue,
    epoch: s.epoch,
    latency: s.latency,
    connections: s.connections,
    outstanding: s.outstanding,
    znodes: s.nodeCount,
    packetsReceived: s.received,
    packetsSent: s.sent,
    ms,
  };
  if (mntrR.status === 'fulfilled') {
    const m = mntrR.value;
    st.watches = m.watchCount;
    st.ephemerals = m.ephemeralsCount;
    st.packetsReceived = m.packetsReceived;
    st.packetsSent = m.packetsSent;
    if (m.syncedFollowers !== undefined) st.syncedFollowers = m.syncedFollowers;
  }
  if (confR.status === 'fulfilled') {
    if (confR.value.serverId !== undefined) st.id = confR.value.serverId;
    const voting = Object.values(confR.value.members).filter((l) => !/:observer(;|$)/.test(l)).length;
    if (voting > 0) st.votingMembers = voting;
  }
  return st;
}

function errText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

const SERVING: ReadonlySet<MemberMode> = new Set(['leader', 'follower', 'observer', 'standalone', 'read-only']);

export function isServing(mode: MemberMode): boolean {
  return SERVING.has(mode);
}

/** Summarize member statuses (leaders, serving count, quorum). */
export function summarize(members: MemberStatus[], votingSize?: number): EnsembleStatus {
  const leaders = members.filter((m) => m.mode === 'leader');
  const serving = members.filter((m) => isServing(m.mode)).length;
  const known = members.reduce((acc, m) => Math.max(acc, m.votingMembers ?? 0), 0);
  const size = votingSize ?? (known > 0 ? known : members.length);
  const participants = members.filter((m) => m.mode === 'leader' || m.mode === 'follower').length;
  const standalone = members.some((m) => m.mode === 'standalone');
  const st: EnsembleStatus = {
    members,
    leaders: leaders.length,
    serving,
    votingSize: size,
    quorum: standalone || (leaders.length === 1 && participants > Math.floor(size / 2)),
  };
  if (leaders.length === 1) st.leader = leaders[0];
  return st;
}

/**
 * Status of an ensemble given its connect string (or list of members).
 * Members are asked in parallel; the whole call is bounded by opts.timeoutMs.
 */
export async function ensembleStatus(servers: string | HostPort[], opts: StatusOptions & { votingSize?: number } = {}): Promise<EnsembleStatus> {
  const list = typeof servers === 'string' ? parseConnectString(servers).servers : servers;
  const members = await Promise.all(list.map((hp) => memberStatus(hp, opts)));
  return summarize(members, opts.votingSize);
}
