/**
 * ZooKeeper's four-letter words over plain TCP (or TLS, on a secureClientPort: the Netty
 * factory answers them there, to a client its trust settings accept), with a deadline, and
 * typed parsers for srvr, mntr and conf.
 */
import { connect, type Socket } from 'node:net';
import type { ConnectionOptions as TlsConnectionOptions } from 'node:tls';
import { ConnectionError, TimeoutError, ZkctlError } from './errors.js';
import { setTimer } from './duration.js';
import { lazyRequire } from './lazy.js';
import { describeTlsError, TlsAuthError } from './security/tls.js';

const tlsModule = lazyRequire<typeof import('node:tls')>('node:tls');

export type FourLetterWord = 'ruok' | 'srvr' | 'mntr' | 'stat' | 'cons' | 'conf' | 'envi' | 'wchs' | 'dirs' | 'isro' | 'crst' | 'srst';

export const NOT_SERVING = 'This ZooKeeper instance is not currently serving requests';

export interface FourLetterOptions {
  /** Deadline for connect + reply (default 2000 ms). */
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Ask over TLS with these options (security/tls.ts tlsConnectOptions): a secureClientPort. */
  tls?: TlsConnectionOptions;
}

/** The server answered, but it is not serving (electing, starting, or lost its quorum). */
export class NotServingError extends ConnectionError {
  constructor(address: string) {
    super(`${address} is not currently serving requests`);
  }
}

/** The word is not in the server's 4lw.commands.whitelist. */
export class NotWhitelistedError extends ZkctlError {
  constructor(address: string, word: string) {
    super(`${address}: '${word}' is not in the server's 4lw.commands.whitelist`, undefined, {
      hint: "add '4lw.commands.whitelist=*' (or the word) to zoo.cfg",
    });
  }
}

/** Send one four-letter word and return the whole reply (the server closes the connection after it). */
export function fourLetterWord(host: string, port: number, word: FourLetterWord | string, opts: FourLetterOptions = {}): Promise<string> {
  const timeoutMs = opts.timeoutMs ?? 2000;
  const address = `${host}:${port}`;
  return new Promise<string>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let done = false;
    const sock: Socket = opts.tls ? tlsModule().connect({ ...opts.tls, host, port }) : connect({ host, port });
    const finish = (err: Error | undefined, text?: string): void => {
      if (done) return;
      done = true;
      timer.clear();
      opts.signal?.removeEventListener('abort', onAbort);
      sock.destroy();
      if (err) reject(err);
      else resolve(text ?? '');
    };
    const onAbort = (): void => finish(new ConnectionError(`${address}: ${word} aborted`));
    const timer = setTimer(() => finish(new TimeoutError(`${address}: no reply to '${word}' within ${timeoutMs} ms`)), timeoutMs);
    if (opts.signal) {
      if (opts.signal.aborted) return onAbort();
      opts.signal.addEventListener('abort', onAbort, { once: true });
    }
    sock.setNoDelay(true);
    sock.on(opts.tls ? 'secureConnect' : 'connect', () => sock.write(word));
    sock.on('data', (d: Buffer) => chunks.push(d));
    sock.on('end', () => finish(undefined, Buffer.concat(chunks).toString('utf8')));
    sock.on('close', () => finish(undefined, Buffer.concat(chunks).toString('utf8')));
    sock.on('error', (e: NodeJS.ErrnoException) => {
      // A reset after a complete reply still counts as the reply.
      if (chunks.length > 0 && e.code === 'ECONNRESET') return finish(undefined, Buffer.concat(chunks).toString('utf8'));
      const verdict = opts.tls ? describeTlsError(e) : undefined;
      if (verdict) return finish(new TlsAuthError(`${address}: TLS failed: ${verdict.message}`));
      finish(new ConnectionError(`${address}: ${e.code === 'ECONNREFUSED' ? 'connection refused' : e.message}`, { cause: e }));
    });
  });
}

/** Send a word that needs the server to be serving: throws NotServingError / NotWhitelistedError. */
export async function askServing(host: string, port: number, word: FourLetterWord, opts: FourLetterOptions = {}): Promise<string> {
  const text = await fourLetterWord(host, port, word, opts);
  checkReply(`${host}:${port}`, word, text);
  return text;
}

function checkReply(address: string, word: string, text: string): void {
  if (text.startsWith(NOT_SERVING)) throw new NotServingError(address);
  if (/is not executed because it is not in the whitelist/.test(text)) throw new NotWhitelistedError(address, word);
  if (text.length === 0) throw new ConnectionError(`${address}: empty reply to '${word}'`);
}

/** `ruok` -> true when the server answers `imok` (it does so even when not serving). */
export async function ruok(host: string, port: number, opts: FourLetterOptions = {}): Promise<boolean> {
  try {
    return (await fourLetterWord(host, port, 'ruok', opts)).trim() === 'imok';
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------------------------
// Parsing

export type ServerMode = 'leader' | 'follower' | 'observer' | 'standalone' | 'read-only';

export interface Zxid {
  /** "0x100000003" */
  hex: string;
  value: bigint;
  /** zxid >> 32 */
  epoch: number;
  /** zxid & 0xffffffff */
  counter: number;
}

export interface Latency {
  min: number;
  avg: number;
  max: number;
}

export interface SrvrInfo {
  version: string;
  latency: Latency;
  received: number;
  sent: number;
  connections: number;
  outstanding: number;
  zxid: string;
  zxidValue: bigint;
  epoch: number;
  counter: number;
  mode: ServerMode;
  nodeCount: number;
  /** Leader only: "Proposal sizes last/min/max". */
  proposalSizes?: { last: number; min: number; max: number };
  /** Only in `stat` replies: the client connection lines. */
  clients?: string[];
}

export interface MntrInfo {
  version: string;
  mode: ServerMode;
  latency: Latency;
  packetsReceived: number;
  packetsSent: number;
  connections: number;
  outstanding: number;
  znodeCount: number;
  watchCount: number;
  ephemeralsCount: number;
  approximateDataSize: number;
  openFileDescriptors?: number;
  maxFileDescriptors?: number;
  uptimeMs?: number;
  quorumSize?: number;
  /** Leader only. */
  followers?: number;
  syncedFollowers?: number;
  syncedObservers?: number;
  pendingSyncs?: number;
  /** Every key/value as sent (keys without the change of case). */
  raw: Record<string, string>;
}

export interface ConfInfo {
  serverId?: number;
  clientPort?: number;
  dataDir?: string;
  tickTime?: number;
  minSessionTimeout?: number;
  maxSessionTimeout?: number;
  /** `server.N=...` lines of the membership, keyed by id. */
  members: Record<number, string>;
  /** Dynamic config version (hex), when the server prints it. */
  configVersion?: string;
  raw: Record<string, string>;
}

export function parseZxid(hex: string): Zxid {
  const t = hex.trim();
  if (!/^0x[0-9a-f]+$/i.test(t)) throw new ZkctlError(`invalid zxid '${hex}'`);
  const value = BigInt(t);
  return { hex: `0x${value.toString(16)}`, value, epoch: Number(value >> 32n), counter: Number(value & 0xffffffffn) };
}

function parseMode(s: string): ServerMode {
  const m = s.trim().toLowerCase();
  if (m === 'leader' || m === 'follower' || m === 'observer' || m === 'standalone' || m === 'read-only') return m;
  throw new ZkctlError(`unknown server mode '${s}'`);
}

function num(s: string | undefined): number {
  if (s === undefined) return NaN;
  return Number(s.trim());
}

function parseLatency(s: string | undefined): Latency {
  const [min, avg, max] = (s ?? '').split('/').map((x) => Number(x.trim()));
  return { min: min ?? NaN, avg: avg ?? NaN, max: max ?? NaN };
}

/** Parse a `srvr` (or `stat`) reply. Throws NotServingError for the not-serving reply. */
export function parseSrvr(text: string, address = 'server'): SrvrInfo {
  checkReply(address, 'srvr', text);
  const kv: Record<string, string> = {};
  const lines = text.split('\n');
  let clients: string[] | undefined;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? '';
    if (line.startsWith('Clients:')) {
      clients = [];
      for (i++; i < lines.length && (lines[i] ?? '').trim() !== ''; i++) clients.push((lines[i] ?? '').trim());
      continue;
    }
    const idx = line.indexOf(':');
    if (idx > 0) kv[line.slice(0, idx).trim()] = line.slice(idx + 1).trim();
  }
  if (kv['Mode'] === undefined || kv['Zxid'] === undefined) throw new ZkctlError(`${address}: unexpected srvr reply: ${JSON.stringify(text.slice(0, 80))}`);
  const z = parseZxid(kv['Zxid']);
  const info: SrvrInfo = {
    version: kv['Zookeeper version'] ?? '',
    latency: parseLatency(kv['Latency min/avg/max']),
    received: num(kv['Received']),
    sent: num(kv['Sent']),
    connections: num(kv['Connections']),
    outstanding: num(kv['Outstanding']),
    zxid: z.hex,
    zxidValue: z.value,
    epoch: z.epoch,
    counter: z.counter,
    mode: parseMode(kv['Mode']),
    nodeCount: num(kv['Node count']),
  };
  const ps = kv['Proposal sizes last/min/max'];
  if (ps) {
    const [last, min, max] = ps.split('/').map(Number);
    info.proposalSizes = { last: last ?? NaN, min: min ?? NaN, max: max ?? NaN };
  }
  if (clients) info.clients = clients;
  return info;
}

/** Parse a `mntr` reply (tab-separated key/value lines). */
export function parseMntr(text: string, address = 'server'): MntrInfo {
  checkReply(address, 'mntr', text);
  const raw: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const idx = line.indexOf('\t');
    if (idx > 0) raw[line.slice(0, idx).trim()] = line.slice(idx + 1).trim();
  }
  if (raw['zk_server_state'] === undefined) throw new ZkctlError(`${address}: unexpected mntr reply: ${JSON.stringify(text.slice(0, 80))}`);
  const opt = (k: string): number | undefined => (raw[k] !== undefined ? num(raw[k]) : undefined);
  const info: MntrInfo = {
    version: raw['zk_version'] ?? '',
    mode: parseMode(raw['zk_server_state']),
    latency: { min: num(raw['zk_min_latency']), avg: num(raw['zk_avg_latency']), max: num(raw['zk_max_latency']) },
    packetsReceived: num(raw['zk_packets_received']),
    packetsSent: num(raw['zk_packets_sent']),
    connections: num(raw['zk_num_alive_connections']),
    outstanding: num(raw['zk_outstanding_requests']),
    znodeCount: num(raw['zk_znode_count']),
    watchCount: num(raw['zk_watch_count']),
    ephemeralsCount: num(raw['zk_ephemerals_count']),
    approximateDataSize: num(raw['zk_approximate_data_size']),
    raw,
  };
  const extra: Array<[keyof MntrInfo, string]> = [
    ['openFileDescriptors', 'zk_open_file_descriptor_count'],
    ['maxFileDescriptors', 'zk_max_file_descriptor_count'],
    ['uptimeMs', 'zk_uptime'],
    ['quorumSize', 'zk_quorum_size'],
    ['followers', 'zk_followers'],
    ['syncedFollowers', 'zk_synced_followers'],
    ['syncedObservers', 'zk_synced_observers'],
    ['pendingSyncs', 'zk_pending_syncs'],
  ];
  for (const [field, key] of extra) {
    const v = opt(key);
    if (v !== undefined) (info as unknown as Record<string, unknown>)[field] = v;
  }
  return info;
}

/** Parse a `conf` reply (key=value lines, then `membership:` and `server.N=` lines). */
export function parseConf(text: string, address = 'server'): ConfInfo {
  checkReply(address, 'conf', text);
  const raw: Record<string, string> = {};
  const members: Record<number, string> = {};
  let configVersion: string | undefined;
  // The reply may lack newlines between the last server line and `version=`; split on both.
  for (const line of text.split('\n')) {
    const t = line.trim();
    const sm = /^server\.(\d+)=(.*)$/.exec(t);
    if (sm) {
      members[Number(sm[1])] = (sm[2] ?? '').replace(/version=[0-9a-f]+$/i, '');
      const vm = /version=([0-9a-f]+)$/i.exec(sm[2] ?? '');
      if (vm) configVersion = vm[1];
      continue;
    }
    const idx = t.indexOf('=');
    if (idx > 0) raw[t.slice(0, idx)] = t.slice(idx + 1);
  }
  if (raw['version'] !== undefined) configVersion = raw['version'];
  const opt = (k: string): number | undefined => (raw[k] !== undefined && raw[k] !== '' ? num(raw[k]) : undefined);
  const info: ConfInfo = { members, raw };
  const set = <K extends keyof ConfInfo>(k: K, v: ConfInfo[K] | undefined): void => {
    if (v !== undefined) info[k] = v;
  };
  set('serverId', opt('serverId'));
  set('clientPort', opt('clientPort'));
  set('dataDir', raw['dataDir']);
  set('tickTime', opt('tickTime'));
  set('minSessionTimeout', opt('minSessionTimeout'));
  set('maxSessionTimeout', opt('maxSessionTimeout'));
  set('configVersion', configVersion);
  return info;
}

export async function srvr(host: string, port: number, opts: FourLetterOptions = {}): Promise<SrvrInfo> {
  return parseSrvr(await fourLetterWord(host, port, 'srvr', opts), `${host}:${port}`);
}

export async function stat(host: string, port: number, opts: FourLetterOptions = {}): Promise<SrvrInfo> {
  return parseSrvr(await fourLetterWord(host, port, 'stat', opts), `${host}:${port}`);
}

export async function mntr(host: string, port: number, opts: FourLetterOptions = {}): Promise<MntrInfo> {
  return parseMntr(await fourLetterWord(host, port, 'mntr', opts), `${host}:${port}`);
}

export async function conf(host: string, port: number, opts: FourLetterOptions = {}): Promise<ConfInfo> {
  return parseConf(await fourLetterWord(host, port, 'conf', opts), `${host}:${port}`);
}

/** `cons`: one line per client connection. */
export async function cons(host: string, port: number, opts: FourLetterOptions = {}): Promise<string[]> {
  const text = await askServing(host, port, 'cons', opts);
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.length > 0);
}
