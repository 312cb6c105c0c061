/**
 * ZooKeeper's own dynamic configuration (3.5+): the membership kept in
 * /zookeeper/config and changed with the reconfig operation.
 *
 * /zookeeper/config holds lines such as
 *   server.1=127.0.0.1:12181:22181:participant;127.0.0.1:2181
 *   server.4=127.0.0.1:12184:22184:observer;0.0.0.0:2184
 *   version=100000003
 * i.e. server.<id>=<host>:<quorum port>:<election port>[:<role>][;[<client host>:]<client port>],
 * the version being the zxid (hex) of the reconfig that made it.
 */
import { type HostPort, parseHostPort } from '../connect-string.js';
import { ConnectionError, TimeoutError, UsageError, ZkCode, ZkError } from '../errors.js';
import type { Session, Stat } from '../session.js';

export const CONFIG_NODE = '/zookeeper/config';

export type ServerRole = 'participant' | 'observer';

export interface ServerSpec {
  id: number;
  host: string;
  quorumPort: number;
  electionPort: number;
  role: ServerRole;
  clientHost?: string;
  clientPort?: number;
}

export interface DynamicConfig {
  /** Config version (the zxid of the reconfig that made it). */
  version: bigint;
  /** As ZooKeeper prints it (hex, no 0x). */
  versionHex: string;
  servers: ServerSpec[];
}

function port(s: string | undefined, what: string, line: string): number {
  const n = Number(s);
  if (!s || !/^\d+$/.test(s) || n < 1 || n > 65535) throw new UsageError(`invalid ${what} in server spec '${line}'`);
  return n;
}


/**
 * Parse one member: "server.4=host:q:e[:role][;[chost:]cport]" (the "server." prefix is optional).
 * Throws UsageError.
 */
export function parseServerSpec(line: string): ServerSpec {
  const m = /^\s*(?:server\.)?(\d+)\s*=\s*(.+?)\s*$/.exec(line);
  if (!m) throw new UsageError(`invalid server spec '${line}'`, 'use server.ID=HOST:QUORUM_PORT:ELECTION_PORT[:participant|observer];[CLIENT_HOST:]CLIENT_PORT');
  const id = Number(m[1]);
  if (!Number.isInteger(id) || id < 0) throw new UsageError(`invalid server id in '${line}'`);
  const [quorumPart, clientPart] = (m[2] ?? '').split(';', 2) as [string, string | undefined];
  // host may be [v6]; then :q:e[:role]
  let host: string;
  let rest: string;
  const v6 = /^\[([^\]]+)\]:(.*)$/.exec(quorumPart);
  if (v6) {
    host = v6[1] ?? '';
    rest = v6[2] ?? '';
  } else {
    const i = quorumPart.indexOf(':');
    if (i < 0) throw new UsageError(`invalid server spec '${line}': missing ports`);
    host = quorumPart.slice(0, i);
    rest = quorumPart.slice(i + 1);
  }
  const parts = rest.split(':');
  if (parts.length < 2 || parts.length > 3 || !host) throw new UsageError(`invalid server spec '${line}'`, 'use server.ID=HOST:QUORUM_PORT:ELECTION_PORT[:participant|observer];[CLIENT_HOST:]CLIENT_PORT');
  const role = (parts[2] ?? 'participant').toLowerCase();
  if (role !== 'participant' && role !== 'observer') throw new UsageError(`invalid role '${parts[2]}' in '${line}'`, 'participant or observer');
  const spec: ServerSpec = { id, host, quorumPort: port(parts[0], 'quorum port', line), electionPort: port(parts[1], 'election port', line), role };
  if (clientPart !== undefined && clientPart.trim() !== '') {
    // [CLIENT_HOST:]CLIENT_PORT: a port alone, else an address with its port (the one parser, core/connect-string.ts).
    const c = clientPart.trim();
    if (/^\d*$/.test(c)) spec.clientPort = port(c, 'client port', line);
    else {
      let hp: HostPort;
      try {
        hp = parseHostPort(c);
      } catch (e) {
        throw new UsageError(`invalid client address in server spec '${line}': ${(e as Error).message}`, 'use [CLIENT_HOST:]CLIENT_PORT, IPv6 in brackets: [::1]:2181');
      }
      if (!/:\d+$/.test(c)) throw new UsageError(`invalid client address in server spec '${line}': no client port`, 'use [CLIENT_HOST:]CLIENT_PORT, IPv6 in brackets: [::1]:2181');
      spec.clientHost = hp.host;
      spec.clientPort = hp.port;
    }
  }
  return spec;
}

function fmtHost(h: string): string {
  return h.includes(':') ? `[${h}]` : h;
}

/** "server.4=host:q:e:role;chost:cport" */
export function formatServerSpec(s: ServerSpec): string {
  let out = `server.${s.id}=${fmtHost(s.host)}:${s.quorumPort}:${s.electionPort}:${s.role}`;
  if (s.clientPort !== undefined) out += `;${s.clientHost !== undefined ? `${fmtHost(s.clientHost)}:` : ''}${s.clientPort}`;
  return out;
}

/** The address a client uses for a member ("host:port"; 0.0.0.0 / :: become the quorum host). */
export function clientAddress(s: ServerSpec): string | undefined {
  if (s.clientPort === undefined) return undefined;
  const h = !s.clientHost || s.clientHost === '0.0.0.0' || s.clientHost === '::' || s.clientHost === '0:0:0:0:0:0:0:0' ? s.host : s.clientHost;
  return `${fmtHost(h)}:${s.clientPort}`;
}

/** Parse the text of /zookeeper/config (or a reconfig reply). */
export function parseDynamicConfig(text: string): DynamicConfig {
  const servers: ServerSpec[] = [];
  let versionHex = '0';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const vm = /^version=([0-9a-fA-F]+)$/.exec(line);
    if (vm) {
      versionHex = (vm[1] ?? '0').toLowerCase();
      continue;
    }
    if (/^server\.\d+=/.test(line)) servers.push(parseServerSpec(line));
  }
  servers.sort((a, b) => a.id - b.id);
  return { version: BigInt(`0x${versionHex}`), versionHex, servers };
}

/** Dynamic config text (server lines, without the version line). */
export function renderServers(servers: ServerSpec[]): string {
  return servers.map(formatServerSpec).join('\n') + '\n';
}

/** A config version as users write it: hex as ZooKeeper prints it, with or without 0x. */
export function parseConfigVersion(s: string): bigint {
  const t = s.trim().replace(/^0x/i, '');
  if (!/^[0-9a-fA-F]{1,16}$/.test(t)) throw new UsageError(`invalid config version '${s}'`, 'give it in hex as `zkctl ensemble config` shows it, e.g. 100000003');
  return BigInt(`0x${t}`);
}

export function participants(c: DynamicConfig): ServerSpec[] {
  return c.servers.filter((s) => s.role === 'participant');
}

/** Smallest majority of n voters. */
export function majority(n: number): number {
  return Math.floor(n / 2) + 1;
}

/** Read the membership (after a sync, so the server we talk to is current). */
export async function readDynamicConfig(session: Session): Promise<DynamicConfig & { stat: Stat }> {
  try {
    await session.sync(CONFIG_NODE);
  } catch {
    /* sync is an optimisation; the read below says what is wrong */
  }
  const { data, stat } = await session.get(CONFIG_NODE);
  const text = data.toString('utf8');
  if (!text.trim()) throw new ZkError(ZkCode.UNIMPLEMENTED, CONFIG_NODE, 'the server has no dynamic configuration (ZooKeeper < 3.5?)');
  return { ...parseDynamicConfig(text), stat };
}

export interface ReconfigRequest {
  /** Members to add or change ("server.N=..." specs). */
  add?: string[];
  /** Member ids to remove. */
  remove?: number[];
  /** The whole new membership (non-incremental); exclusive with add/remove. */
  members?: string[];
  /** Apply only if the current config version is this one (else BAD_VERSION, exit 5). */
  fromVersion?: bigint;
}

/**
 * Reconfigure (needs super or the reconfig ACL: e.g. auth digest super:<password>).
 * Resolves with the new configuration once ZooKeeper has committed it.
 */
export async function reconfigure(session: Session, req: ReconfigRequest): Promise<DynamicConfig> {
  const add = (req.add ?? []).map((s) => formatServerSpec(parseServerSpec(s)));
  const remove = req.remove ?? [];
  const members = (req.members ?? []).map((s) => formatServerSpec(parseServerSpec(s)));
  if (members.length > 0 && (add.length > 0 || remove.length > 0)) throw new UsageError('give either the whole membership or members to add/remove, not both');
  if (members.length === 0 && add.length === 0 && remove.length === 0) throw new UsageError('nothing to change', 'give members to add or remove, or the whole new membership');
  for (const id of remove) if (!Number.isInteger(id) || id < 0) throw new UsageError(`invalid server id '${id}'`);
  const opts: { joining?: string; leaving?: string; members?: string; fromConfigVersion?: bigint } = {};
  if (members.length > 0) opts.members = members.join(',');
  if (add.length > 0) opts.joining = add.join(',');
  if (remove.length > 0) opts.leaving = remove.join(',');
  if (req.fromVersion !== undefined) opts.fromConfigVersion = req.fromVersion;
  try {
    const { data } = await session.reconfig(opts);
    return parseDynamicConfig(data.toString('utf8'));
  } catch (e) {
    // The connection went before the reply came: common, since a membership change can make
    // the leader step down (its removal, a lost quorum) and every member then drops its clients.
    // The session survives; what is committed now tells whether the change took effect.
    if (!(e instanceof ConnectionError) || e instanceof TimeoutError || session.state === 'closed') throw e;
    await session.whenConnected();
    const now = await readDynamicConfig(session);
    if (inEffect(now, add, remove, members) && now.version !== req.fromVersion) return configOnly(now);
    if (req.fromVersion !== undefined && now.version !== req.fromVersion) {
      throw new ZkError(ZkCode.BAD_VERSION, CONFIG_NODE, `the configuration changed meanwhile (version 0x${req.fromVersion.toString(16)} -> ${now.versionHex}), not as asked`);
    }
    // Not committed: ask once more (fromVersion, when given, still guards it).
    const { data } = await session.reconfig(opts);
    return parseDynamicConfig(data.toString('utf8'));
  }
}

/**
 * Does `cfg` already have the membership a reconfig asked for? Servers are compared by id,
 * quorum/election addresses and role (the server may spell the client address its own way).
 */
function inEffect(cfg: DynamicConfig, add: string[], remove: number[], members: string[]): boolean {
  const key = (sv: ServerSpec): string => `${sv.id} ${sv.host} ${sv.quorumPort} ${sv.electionPort} ${sv.role}`;
  const have = new Set(cfg.servers.map(key));
  const want = (specs: string[]): string[] => specs.map((x) => key(parseServerSpec(x)));
  if (members.length > 0) return have.size === members.length && want(members).every((m) => have.has(m));
  return want(add).every((a) => have.has(a)) && remove.every((id) => !cfg.servers.some((sv) => sv.id === id));
}

/** The configuration alone (readDynamicConfig adds the node's stat). */
export function configOnly(c: DynamicConfig & { stat?: unknown }): DynamicConfig {
  return { version: c.version, versionHex: c.versionHex, servers: c.servers };
}
