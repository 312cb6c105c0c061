/**
 * ACLs as people write them, and back.
 *
 *   SCHEME:ID:PERMS       PERMS: letters of cdrwa (create, delete, read, write, admin)
 *   world:anyone:r        everyone (the only id of the world scheme is "anyone")
 *   ip:10.0.0.0/8:cdrwa   an address or CIDR range
 *   digest:user:HASH:cdrwa  HASH = base64(sha1("user:password")), as zkCli prints it
 *   auth::cdrwa           whoever is authenticated on the session that sets it
 *   sasl:principal:r, x509:CN=...:r
 *   digest-password:user:password:cdrwa
 *                         zkctl's shorthand: the digest id is computed here from the
 *                         password (the password itself is never sent or stored)
 *
 * Several ACLs may be given as separate arguments or comma-separated in one
 * (`world:anyone:r,auth::cdrwa`).
 */
import { createHash } from 'node:crypto';
import { isIP } from 'node:net';
import { UsageError, ZkCode, ZkError } from './errors.js';
import { type ACL, Perm } from './protocol/records.js';
import { pipeline } from './pipeline.js';
import type { Session } from './session.js';
import { walk } from './tree.js';

export const ACL_SCHEMES = ['world', 'ip', 'digest', 'auth', 'sasl', 'x509', 'digest-password'] as const;

const LETTERS: Array<[string, number]> = [
  ['c', Perm.CREATE],
  ['d', Perm.DELETE],
  ['r', Perm.READ],
  ['w', Perm.WRITE],
  ['a', Perm.ADMIN],
];

/** "cdrwa" -> 31. UsageError for anything else. */
export function parsePerms(s: string, spec = s): number {
  if (s.length === 0) throw new UsageError(`invalid ACL "${spec}": no permissions`, 'permissions are letters of cdrwa, e.g. world:anyone:r');
  let perms = 0;
  for (const ch of s) {
    const hit = LETTERS.find(([l]) => l === ch.toLowerCase());
    if (!hit) throw new UsageError(`invalid ACL "${spec}": unknown permission "${ch}"`, 'permissions are letters of cdrwa (create, delete, read, write, admin)');
    perms |= hit[1];
  }
  return perms;
}

/**
 * 31 -> "cdrwa" (letters in that order). Lossless: a value outside 0..31 (bits
 * ZooKeeper does not define) is written as its number, which parseStoredAcl reads back.
 */
export function formatPerms(perms: number): string {
  if (perms < 0 || perms > 31 || !Number.isInteger(perms)) return String(perms);
  return LETTERS.filter(([, bit]) => (perms & bit) !== 0)
    .map(([l]) => l)
    .join('');
}

/** The digest id zkCli and the server use: user:base64(sha1("user:password")). */
export function digestId(user: string, password: string): string {
  return `${user}:${createHash('sha1').update(`${user}:${password}`).digest('base64')}`;
}

function validCidr(id: string): boolean {
  const [addr, bits, ...rest] = id.split('/');
  if (rest.length > 0) return false;
  const v = isIP(addr);
  if (v === 0) return false;
  if (bits === undefined) return true;
  if (!/^\d+$/.test(bits)) return false;
  return Number(bits) <= (v === 4 ? 32 : 128);
}

/** One ACL from "scheme:id:perms". UsageError (exit 2) when malformed. */
export function parseAcl(spec: string): ACL {
  const s = spec.trim();
  const first = s.indexOf(':');
  const last = s.lastIndexOf(':');
  if (first <= 0 || last === first) {
    throw new UsageError(`invalid ACL "${spec}": expected scheme:id:perms`, 'e.g. world:anyone:r, digest:user:HASH:cdrwa, auth::cdrwa, ip:10.0.0.0/8:r');
  }
  const scheme = s.slice(0, first).toLowerCase();
  const id = s.slice(first + 1, last);
  const perms = parsePerms(s.slice(last + 1), spec);
  const bad = (why: string, hint?: string): never => {
    throw new UsageError(`invalid ACL "${spec}": ${why}`, hint);
  };
  switch (scheme) {
    case 'world':
      if (id !== 'anyone') bad('the world scheme has the single id "anyone"', 'world:anyone:r');
      break;
    case 'ip':
      if (!validCidr(id)) bad(`"${id}" is not an IP address or CIDR range`, 'ip:10.0.0.5:r or ip:10.0.0.0/8:r');
      break;
    case 'digest': {
      const m = /^([^:]+):([A-Za-z0-9+/]{27}=)$/.exec(id);
      if (!m) bad('a digest id is user:HASH where HASH is base64(sha1("user:password")) (28 characters)', 'or let zkctl compute it: digest-password:user:password:cdrwa');
      break;
    }
    case 'digest-password': {
      const i = id.indexOf(':');
      if (i <= 0 || i === id.length - 1) bad('expected digest-password:user:password:perms');
      return { perms, id: { scheme: 'digest', id: digestId(id.slice(0, i), id.slice(i + 1)) } };
    }
    case 'auth':
      // The server replaces the id with the session's authenticated identities.
      break;
    case 'sasl':
    case 'x509':
      if (id.length === 0) bad(`the ${scheme} scheme needs an id`);
      break;
    default:
      bad(`unknown scheme "${scheme}"`, `schemes: ${ACL_SCHEMES.join(', ')}`);
  }
  return { perms, id: { scheme, id } };
}

/** Split one argument holding several comma-separated ACLs (ids may contain commas, e.g. x509 DNs). */
export function splitAclList(arg: string): string[] {
  const re = new RegExp(`,(?=\\s*(?:${ACL_SCHEMES.join('|')}):)`, 'i');
  return arg.split(re).map((x) => x.trim()).filter((x) => x.length > 0);
}

/** ACLs from arguments (each may be a comma-separated list). At least one is required. */
export function parseAcls(args: string[]): ACL[] {
  const out: ACL[] = [];
  for (const a of args) for (const one of splitAclList(a)) out.push(parseAcl(one));
  if (out.length === 0) throw new UsageError('no ACL given', 'e.g. world:anyone:r');
  return out;
}

/** "world:anyone:cdrwa": parseAcl(formatAcl(a)) gives `a` back. */
export function formatAcl(a: ACL): string {
  return `${a.id.scheme}:${a.id.id}:${formatPerms(a.perms)}`;
}

/** For JSON output. */
export function aclForJson(a: ACL): { scheme: string; id: string; perms: string } {
  return { scheme: a.id.scheme, id: a.id.id, perms: formatPerms(a.perms) };
}

/**
 * An ACL as stored text ("scheme:id:perms", what formatAcl writes): the lossless
 * reading a backup file needs. Unlike parseAcl (what a person types), it checks
 * no scheme or id, so whatever the server holds reads back exactly: a redacted
 * digest id ("user:x"), an empty permission set, a numeric perms value. Permission
 * letters are lower-case cdrwa, as formatAcl writes them. UsageError (exit 2) when malformed.
 */
export function parseStoredAcl(s: string): ACL {
  const i = s.indexOf(':');
  const j = s.lastIndexOf(':');
  if (i <= 0 || j === i) throw new UsageError(`invalid ACL entry ${JSON.stringify(s)}: expected scheme:id:perms, e.g. world:anyone:cdrwa`);
  const p = s.slice(j + 1);
  let perms = 0;
  if (/^\d+$/.test(p)) perms = Number(p);
  else {
    for (const ch of p) {
      const bit = LETTERS.find(([l]) => l === ch)?.[1];
      if (bit === undefined) throw new UsageError(`invalid ACL entry ${JSON.stringify(s)}: unknown permission "${ch}" (use c d r w a)`);
      perms |= bit;
    }
  }
  return { perms, id: { scheme: s.slice(0, i), id: s.slice(i + 1, j) } };
}

/**
 * ZooKeeper 3.6+ redacts digest ACLs for a reader without ADMIN permission on
 * the node: the id comes back as "user:x". Such an ACL cannot be restored.
 */
export function isRedacted(a: ACL): boolean {
  return a.id.scheme === 'digest' && a.id.id.endsWith(':x');
}

/** Same entries, in any order. */
export function aclEqual(a: ACL[], b: ACL[]): boolean {
  if (a.length !== b.length) return false;
  const key = (x: ACL): string => `${x.perms}\u0000${x.id.scheme}\u0000${x.id.id}`;
  const sa = a.map(key).sort();
  const sb = b.map(key).sort();
  return sa.every((v, i) => v === sb[i]);
}

/**
 * Set `acl` on `root` and every node under it, pipelined (up to `window`
 * setACL requests in flight, fed by a streaming walk). Returns the number of
 * nodes updated. Nodes deleted meanwhile are skipped.
 */
export async function setAclTree(
  session: Session,
  root: string,
  acl: ACL[],
  opts: { window?: number; signal?: AbortSignal; prune?: (path: string) => boolean; onProgress?: (n: number) => void } = {},
): Promise<number> {
  const window = Math.max(1, Math.floor(opts.window ?? 1000));
  let count = 0;
  await pipeline(
    walk(session, root, { window, signal: opts.signal, prune: opts.prune }),
    async (n) => {
      try {
        await session.setACL(n.path, acl);
      } catch (e) {
        if (e instanceof ZkError && e.code === ZkCode.NO_NODE) return;
        throw e;
      }
      count++;
      opts.onProgress?.(count);
    },
    { window, signal: opts.signal },
  );
  return count;
}
