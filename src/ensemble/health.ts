/**
 * Health of an ensemble, for CI gates (`zkctl health --wait 60s && run-tests`).
 *
 * Healthy: a quorum serves with exactly one leader (four-letter words of every
 * member in the connect string) AND a write-then-read probe through a real
 * session succeeds. A member that is down while the quorum serves is
 * "degraded" (healthy unless `strict`).
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { createWithParents } from '../core/nodes.js';
import { Session, type AuthInfo } from '../core/session.js';
import type { ConnectionOptions as TlsConnectionOptions } from 'node:tls';
import type { SaslCredentials } from '../core/security/sasl.js';
import { ensembleStatus, isServing, type MemberStatus } from './status.js';
import { latencyFields, type LatencyFields } from './view.js';

export type HealthState = 'healthy' | 'degraded' | 'unhealthy';

export interface ProbeResult {
  ok: boolean;
  server?: string;
  ms?: number;
  error?: string;
}

/** A member as `health` reports it: latency flat (latencyMin/latencyAvg/latencyMax, ms), as `ensemble status` names it. */
export type HealthMember = Omit<MemberStatus, 'latency'> & LatencyFields;

function healthMember(m: MemberStatus): HealthMember {
  const { latency, ...rest } = m;
  return { ...rest, ...latencyFields(latency) };
}

export interface HealthReport {
  state: HealthState;
  /** The exit-worthy verdict given `strict`. */
  ok: boolean;
  leaders: number;
  leader?: string;
  quorum: boolean;
  serving: number;
  members: HealthMember[];
  probe: ProbeResult;
  problems: string[];
  checkedAt: string;
  attempts: number;
  /** How members were asked and probed: over TLS (the secure client ports) or plain TCP. */
  via: 'tls' | 'plain';
}

export interface HealthOptions {
  connectString: string;
  timeoutMs: number;
  auth?: AuthInfo[];
  /** Connect and ask four-letter words over TLS with these options. */
  tls?: TlsConnectionOptions;
  sasl?: SaslCredentials;
  strict?: boolean;
  /** Parent of the probe node (default /.zkctl-health, a container). */
  probePath?: string;
  /** Test hook (see createWithParents): runs between making the probe's parent and creating the probe. */
  afterParents?: (attempt: number) => Promise<void>;
}

/** Create an ephemeral node, read it back (after sync), delete it. */
export async function writeReadProbe(opts: HealthOptions): Promise<ProbeResult> {
  const t0 = Date.now();
  let s: Session | undefined;
  try {
    s = await Session.connect({ connectString: opts.connectString, timeoutMs: opts.timeoutMs, auth: opts.auth, ...(opts.sasl ? { sasl: opts.sasl } : {}), sessionTimeoutMs: 10_000, ...(opts.tls ? { tls: opts.tls } : {}) });
    const parent = opts.probePath ?? '/.zkctl-health';
    const token = randomBytes(12).toString('hex');
    const node = `${parent}/${hostname()}-${process.pid}-${token}`;
    // The parent is a container: the server may reap it between making it and the create.
    await createWithParents(s, node, Buffer.from(token), { mode: 'ephemeral' }, { afterParents: opts.afterParents });
    await s.sync(node);
    const { data } = await s.get(node);
    await s.delete(node).catch(() => undefined);
    // Leave nothing behind: the parent too when no other probe is in it (a container is reaped
    // only after the server's check interval, and an old server makes it a plain node).
    await s.delete(parent).catch(() => undefined);
    if (data.toString() !== token) return { ok: false, server: s.server, ms: Date.now() - t0, error: 'read back different data than written' };
    return { ok: true, server: s.server, ms: Date.now() - t0 };
  } catch (e) {
    return { ok: false, server: s?.server, ms: Date.now() - t0, error: (e as Error).message };
  } finally {
    await s?.close().catch(() => undefined);
  }
}

export async function checkHealth(opts: HealthOptions, attempts = 1): Promise<HealthReport> {
  const [st, probe] = await Promise.all([
    ensembleStatus(opts.connectString, { timeoutMs: Math.min(opts.timeoutMs, 3000), ...(opts.tls ? { tls: opts.tls } : {}) }),
    writeReadProbe(opts),
  ]);
  const problems: string[] = [];
  // A standalone server is its own leader.
  const standalone = st.members.some((m) => m.mode === 'standalone');
  if (standalone && st.leaders === 0) st.leaders = 1;
  if (st.leaders === 0) problems.push('no leader');
  if (st.leaders > 1) problems.push(`${st.leaders} members claim to be leader`);
  if (!st.quorum) problems.push('no quorum serving');
  if (!probe.ok) problems.push(`write/read probe failed: ${probe.error}`);
  const down = st.members.filter((m) => !isServing(m.mode));
  for (const m of down) problems.push(`${m.address} is ${m.mode}${m.error ? ` (${m.error})` : ''}`);
  const core = st.leaders === 1 && st.quorum && probe.ok;
  const state: HealthState = !core ? 'unhealthy' : down.length > 0 ? 'degraded' : 'healthy';
  return {
    state,
    ok: state === 'healthy' || (state === 'degraded' && !opts.strict),
    leaders: st.leaders,
    leader: st.leader?.address ?? (standalone ? st.members.find((m) => m.mode === 'standalone')?.address : undefined),
    quorum: st.quorum,
    serving: st.serving,
    members: st.members.map(healthMember),
    probe,
    problems,
    checkedAt: new Date().toISOString(),
    attempts,
    via: opts.tls ? 'tls' : 'plain',
  };
}

/** Retry until healthy or `waitMs` passes; returns the last report. */
export async function waitHealthy(opts: HealthOptions, waitMs: number, intervalMs = 500, signal?: AbortSignal): Promise<HealthReport> {
  const deadline = Date.now() + waitMs;
  let attempt = 0;
  for (;;) {
    attempt++;
    const left = deadline - Date.now();
    const timeoutMs = waitMs > 0 ? Math.max(500, Math.min(opts.timeoutMs, left)) : opts.timeoutMs;
    const r = await checkHealth({ ...opts, timeoutMs }, attempt);
    if (r.ok || Date.now() + intervalMs >= deadline || signal?.aborted) return r;
    await new Promise((res) => setTimeout(res, intervalMs));
  }
}
