/**
 * The data behind `zkctl ensemble top`: one row per member from `srvr`, `mntr`
 * (and `conf` for the server id, asked until known), with packet rates from
 * the previous sample. Works on any ensemble; no formatting here.
 */
import type { ConnectionOptions as TlsConnectionOptions } from 'node:tls';
import { isServing, summarize, type HostPort, type MemberStatus } from './status.js';
import { MemberProbe } from './timeline.js';
import { memberRow, type MemberRow } from './view.js';

/** A member's row in `ensemble top`: its status row (as `ensemble status`), plus rates. */
export interface TopRow extends Omit<MemberRow, 'pid'> {
  leader: boolean;
  /** Packets per second since the previous sample (absent on the first). */
  receivedPerSec?: number;
  sentPerSec?: number;
  ephemerals?: number;
}

export interface TopSnapshot {
  time: Date;
  /** The leader's address, when there is exactly one. */
  leader?: string;
  leaderId?: number;
  quorum: boolean;
  serving: number;
  members: TopRow[];
}

/** Samples an ensemble; keeps what rates and ids need between samples. */
export class TopSampler {
  private readonly servers: HostPort[];
  private readonly timeoutMs: number;
  private prev = new Map<string, { at: number; rx: number; tx: number }>();
  private readonly probe = new MemberProbe();

  private readonly tls?: TlsConnectionOptions;

  /** `tls`: ask the members over TLS with these options (secure client ports). */
  constructor(servers: HostPort[], opts: { timeoutMs?: number; tls?: TlsConnectionOptions } = {}) {
    this.servers = servers;
    this.timeoutMs = opts.timeoutMs ?? 1000;
    if (opts.tls) this.tls = opts.tls;
  }

  async sample(): Promise<TopSnapshot> {
    const statuses = await Promise.all(this.servers.map((hp) => this.probe.status(hp, { timeoutMs: this.timeoutMs, ...(this.tls ? { tls: this.tls } : {}) })));
    const now = Date.now();
    const sum = summarize(statuses);
    const rows = statuses.map((m) => this.row(m, now, sum.leader?.address === m.address));
    const snap: TopSnapshot = { time: new Date(now), quorum: sum.quorum, serving: statuses.filter((m) => isServing(m.mode)).length, members: rows };
    if (sum.leader) {
      snap.leader = sum.leader.address;
      if (sum.leader.id !== undefined) snap.leaderId = sum.leader.id;
    }
    return snap;
  }

  private row(m: MemberStatus, now: number, leader: boolean): TopRow {
    const { pid: _pid, ...base } = memberRow(m);
    const r: TopRow = { ...base, leader };
    if (m.ephemerals !== undefined) r.ephemerals = m.ephemerals;
    const p = this.prev.get(m.address);
    if (m.packetsReceived !== undefined && m.packetsSent !== undefined) {
      // Counters restart with the server (and with `srst`): no rate across a reset.
      if (p && now > p.at && m.packetsReceived >= p.rx && m.packetsSent >= p.tx) {
        const dt = (now - p.at) / 1000;
        r.receivedPerSec = Math.round((m.packetsReceived - p.rx) / dt);
        r.sentPerSec = Math.round((m.packetsSent - p.tx) / dt);
      }
      this.prev.set(m.address, { at: now, rx: m.packetsReceived, tx: m.packetsSent });
    } else {
      this.prev.delete(m.address);
    }
    return r;
  }
}
