/**
 * Plain, JSON-safe views of ensemble status for printers (no bigints, no formatting):
 * what `zkctl ensemble status` and `ensemble up` print, in one place.
 */
import type { EnsembleStatus, MemberStatus } from './status.js';
import type { RosterChange } from './sync.js';

/** A member's request latency (ms) as its `srvr`/`mntr` give it (min_latency, avg_latency, max_latency): the one naming of `ensemble status`, `ensemble top` and `health`. */
export interface LatencyFields {
  latencyMin?: number;
  latencyAvg?: number;
  latencyMax?: number;
}

/** The flat latency fields of a member's `latency` (absent when unknown). */
export function latencyFields(l: { min: number; avg: number; max: number } | undefined): LatencyFields {
  const r: LatencyFields = {};
  if (l === undefined) return r;
  if (!Number.isNaN(l.min)) r.latencyMin = l.min;
  if (!Number.isNaN(l.avg)) r.latencyAvg = l.avg;
  if (!Number.isNaN(l.max)) r.latencyMax = l.max;
  return r;
}

export interface MemberRow extends LatencyFields {
  id?: number;
  /** Local ensembles: participant or observer (as recorded by zkctl; `mode` is what the server says). */
  role?: 'participant' | 'observer';
  address: string;
  mode: MemberStatus['mode'];
  zxid?: string;
  epoch?: number;
  connections?: number;
  outstanding?: number;
  znodes?: number;
  watches?: number;
  packetsReceived?: number;
  packetsSent?: number;
  pid?: number;
  /** Local ensembles: a server in the configuration that zkctl did not start (no pid; never started or stopped). */
  external?: true;
  error?: string;
}

export interface StatusView {
  /** Local ensemble name and dir, when the status is of a local ensemble. */
  name?: string;
  dir?: string;
  connectString: string;
  /** The leader's id (or address when the id is unknown). */
  leader?: number | string;
  quorum: boolean;
  serving: number;
  size: number;
  members: MemberRow[];
  /** Local ensembles: how the recorded membership differs from ZooKeeper's configuration (`zkctl ensemble sync` fixes it). */
  drift?: { version: string; changes: RosterChange[] };
  /** Local ensembles: former members whose process still runs. */
  formerRunning?: Array<{ id: number; pid: number }>;
}

export function memberRow(m: MemberStatus & { pid?: number; role?: MemberRow['role']; external?: true }): MemberRow {
  const r: MemberRow = { address: m.address, mode: m.mode };
  const set = <K extends keyof MemberRow>(k: K, v: MemberRow[K] | undefined): void => {
    if (v !== undefined && !(typeof v === 'number' && Number.isNaN(v))) r[k] = v;
  };
  set('id', m.id);
  set('role', m.role);
  set('zxid', m.zxid);
  set('epoch', m.epoch);
  set('latencyMin', m.latency?.min);
  set('latencyAvg', m.latency?.avg);
  set('latencyMax', m.latency?.max);
  set('connections', m.connections);
  set('outstanding', m.outstanding);
  set('znodes', m.znodes);
  set('watches', m.watches);
  set('packetsReceived', m.packetsReceived);
  set('packetsSent', m.packetsSent);
  set('pid', m.pid);
  set('external', m.external);
  set('error', m.error);
  return r;
}

export function statusView(st: EnsembleStatus, extra: { name?: string; dir?: string; connectString: string }): StatusView {
  const v: Partial<StatusView> = {};
  if (extra.name) v.name = extra.name;
  if (extra.dir) v.dir = extra.dir;
  v.connectString = extra.connectString;
  if (st.leader) v.leader = st.leader.id ?? st.leader.address;
  v.quorum = st.quorum;
  v.serving = st.serving;
  v.size = st.votingSize;
  v.members = st.members.map((m) => memberRow(m as MemberStatus & { pid?: number; role?: MemberRow['role']; external?: true }));
  return v as StatusView;
}
