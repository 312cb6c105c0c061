/**
 * The one connect-string parser: `host:port[,host:port...][/chroot]`.
 *
 * - hosts: a name or IPv4 address (`zk1`, `127.0.0.1`), or an IPv6 literal in
 *   brackets (`[::1]`, `[fe80::1%eth0]`); the port defaults to 2181;
 * - chroot: an absolute znode path after the first `/` (`/` alone means none);
 *   it follows the znode path rules (no `.`/`..` segments, no `//`, no trailing `/`);
 * - no spaces anywhere (a space is almost always a quoting mistake: `"h:2181 /app"`).
 *
 * Every problem is a UsageError (exit 2) that names what is wrong.
 */
import { UsageError } from './errors.js';
import { validatePath } from './paths.js';

export interface HostPort {
  host: string;
  port: number;
}

export interface ParsedConnectString {
  servers: HostPort[];
  /** '' when none */
  chroot: string;
  /** The server list without the chroot, normalised ("h1:2181,[::1]:2182"). */
  hosts: string;
}

export const DEFAULT_ZK_PORT = 2181;
const HINT = 'use host:port[,host:port...][/chroot], IPv6 in brackets: [::1]:2181';

/** "host:port", with IPv6 hosts in brackets. */
export function formatHostPort(hp: HostPort): string {
  return hp.host.includes(':') ? `[${hp.host}]:${hp.port}` : `${hp.host}:${hp.port}`;
}

function parsePort(s: string, entry: string, cs: string): number {
  if (!/^\d{1,5}$/.test(s) || Number(s) < 1 || Number(s) > 65535) {
    throw new UsageError(`invalid port "${s}" in server address "${entry}" of "${cs}"`, 'a port is a number from 1 to 65535');
  }
  return Number(s);
}

function parseHost(entry: string, cs: string): HostPort {
  if (entry === '') throw new UsageError(`empty server address in "${cs}"`, HINT);
  if (entry.startsWith('[')) {
    const m = /^\[([0-9A-Fa-f:.]+(?:%[A-Za-z0-9_.-]+)?)\](?::(.*))?$/.exec(entry);
    if (!m || !m[1]!.includes(':')) throw new UsageError(`invalid IPv6 address "${entry}" in "${cs}"`, HINT);
    return { host: m[1]!, port: m[2] === undefined ? DEFAULT_ZK_PORT : parsePort(m[2], entry, cs) };
  }
  const colons = entry.split(':').length - 1;
  if (colons > 1) throw new UsageError(`IPv6 address "${entry}" in "${cs}" must be in brackets`, `e.g. [${entry.replace(/:\d+$/, '')}]:2181`);
  const [host, port] = colons === 1 ? [entry.slice(0, entry.indexOf(':')), entry.slice(entry.indexOf(':') + 1)] : [entry, undefined];
  if (!host) throw new UsageError(`missing host in server address "${entry}" of "${cs}"`, HINT);
  if (!/^[A-Za-z0-9_.-]+$/.test(host)) throw new UsageError(`invalid host "${host}" in "${cs}"`, HINT);
  return { host, port: port === undefined ? DEFAULT_ZK_PORT : parsePort(port, entry, cs) };
}

/**
 * One server address, "host[:port]" (IPv6 in brackets: "[::1]:2181"; without brackets it is refused,
 * as ZooKeeper does: "::1:2181" cannot be told from an address). The port defaults to 2181.
 * Throws a UsageError naming the problem.
 */
export function parseHostPort(entry: string): HostPort {
  return parseHost(entry, entry);
}

/** Parse and check a connect string; throws a UsageError naming the problem. */
export function parseConnectString(cs: string): ParsedConnectString {
  if (typeof cs !== 'string') throw new UsageError(`invalid server ${JSON.stringify(cs)}: not a string`, HINT);
  if (cs.trim() === '') throw new UsageError('empty server string', HINT);
  const ws = /\s/.exec(cs);
  if (ws) throw new UsageError(`invalid server "${cs}": it contains a space at offset ${ws.index}`, 'a connect string has no spaces (check the quoting)');
  const slash = cs.indexOf('/');
  const hostPart = slash < 0 ? cs : cs.slice(0, slash);
  let chroot = slash < 0 ? '' : cs.slice(slash);
  if (hostPart === '') throw new UsageError(`no server in "${cs}"`, HINT);
  const servers = hostPart.split(',').map((e) => parseHost(e, cs));
  if (chroot === '/') chroot = '';
  if (chroot) {
    try {
      chroot = validatePath(chroot);
    } catch (e) {
      throw new UsageError(`invalid chroot "${chroot}" in "${cs}": ${(e as Error).message.replace(/^invalid path "[^"]*": /, '')}`, 'the chroot is an absolute znode path, e.g. h:2181/app');
    }
  }
  return { servers, chroot, hosts: servers.map(formatHostPort).join(',') };
}

/** The connect string without its chroot (the server list as given). Throws like parseConnectString. */
export function hostsOf(cs: string): string {
  return parseConnectString(cs).hosts;
}

/** The chroot of a connect string ('' when none). Throws like parseConnectString. */
export function chrootOf(cs: string): string {
  return parseConnectString(cs).chroot;
}
