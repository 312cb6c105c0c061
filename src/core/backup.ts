/**
 * Backups of a subtree: the zkctl-backup file format (YAML or JSON), export
 * (streaming), and import/copy (validated, transactional, rolled back on failure).
 *
 * The format (version 1), YAML flavour; JSON holds the same fields:
 *
 *   # zkctl backup: restore with `zkctl import FILE PATH`
 *   format: zkctl-backup
 *   version: 1
 *   root: /app                      # the exported path (informational)
 *   source: 127.0.0.1:2181          # where it came from (informational)
 *   created: 2026-01-01T00:00:00.000Z
 *   nodes:
 *   - path: .                       # relative to the root: "." is the root, then "a", "a/b", ...
 *     type: persistent              # persistent | container | ttl | ephemeral
 *     acl: [world:anyone:cdrwa]     # scheme:id:perms, perms from "cdrwa" (or a number)
 *     data: "text"                  # UTF-8 text, or
 *   - path: a/bin
 *     type: ttl
 *     ttl: 60000                    # ms, for type ttl
 *     acl: ["digest:bob:x4Fq...=:rw"]
 *     base64: AAECAw==              # any bytes; no data/base64 key = empty data
 *   - path: a/lock
 *     type: ephemeral               # listed, never re-created by import
 *     owner: "0x1000a3b2c0004"      # the session that owned it
 *     ...
 *   count: 3                        # number of nodes: a truncated file is refused
 *
 * Types: ZooKeeper tells clients only whether a node is ephemeral; container
 * and TTL nodes look persistent (their stat says ephemeralOwner 0), so export
 * writes them as persistent. Import creates `type: container` and `type: ttl`
 * nodes (written by hand, or by another tool) as such.
 *
 * Nodes come parents first (depth-first, children sorted by name). Data is kept
 * byte for byte: as `data` when it is valid UTF-8 made of printable characters
 * (tab and newline allowed), else as `base64`. Not kept: stat fields (zxids,
 * versions, times, cversion, so sequence counters restart), and the difference
 * between null and empty data.
 *
 * Core: no printing; output goes to the sink the caller gives.
 */
import { TextDecoder } from 'node:util';
import { ChrootMissingError, InterruptedError, UsageError, ZkCode, ZkError, ZkctlError, isZkCode } from './errors.js';
import { assertNotReserved, isReserved, parentOf, validatePath } from './paths.js';
import { parseYamlDocument, toPlain, type YamlProblem } from './yaml-input.js';
import { type ACL, OPEN_ACL_UNSAFE, type MultiOp, type MultiResult, type Stat } from './protocol/records.js';
import { isConnectionProblem, type Session } from './session.js';
import { walk } from './tree.js';

export const BACKUP_FORMAT = 'zkctl-backup';
export const BACKUP_VERSION = 1;

export type NodeKind = 'persistent' | 'ephemeral' | 'container' | 'ttl';
export const NODE_KINDS: NodeKind[] = ['persistent', 'ephemeral', 'container', 'ttl'];
export type BackupFormat = 'yaml' | 'json';

/** One znode of a backup. */
export interface BackupNode {
  /** Relative to the backup's root: '.' for the root itself, else 'a/b'. */
  path: string;
  type: NodeKind;
  /** TTL in ms (type 'ttl'). */
  ttlMs?: number;
  /** Owning session, hex (type 'ephemeral'; informational). */
  owner?: string;
  acl: ACL[];
  data: Buffer;
}

export interface BackupHeader {
  format: string;
  version: number;
  root: string;
  source?: string;
  created?: string;
}

export interface Backup {
  header: BackupHeader;
  /** Parents before children. */
  nodes: BackupNode[];
}

/* ------------------------------------------------------------------ */
/* Node types from the stat                                           */

const CONTAINER_OWNER = -0x8000000000000000n; // Long.MIN_VALUE
const TTL_MASK = 0x00ffffffffffffffn;

/**
 * The node's type from stat.ephemeralOwner. Only ephemeral nodes can be told
 * apart: ZooKeeper (3.5 to 3.9) reports ephemeralOwner 0 for container and TTL
 * nodes (DataNode.getClientEphemeralOwner), so through the client API they look
 * persistent. The container (Long.MIN_VALUE) and TTL (high byte 0xFF) encodings
 * are decoded anyway, should a server ever expose them.
 */
export function kindOf(stat: Pick<Stat, 'ephemeralOwner'>): { type: NodeKind; ttlMs?: number; owner?: string } {
  const o = stat.ephemeralOwner;
  if (o === 0n) return { type: 'persistent' };
  if (o === CONTAINER_OWNER) return { type: 'container' };
  if (o >> 56n === -1n) return { type: 'ttl', ttlMs: Number(o & TTL_MASK) };
  return { type: 'ephemeral', owner: `0x${BigInt.asUintN(64, o).toString(16)}` };
}

/* ------------------------------------------------------------------ */
/* ACL text: scheme:id:perms                                          */

const PERM_LETTERS: Array<[string, number]> = [
  ['c', 4],
  ['d', 8],
  ['r', 1],
  ['w', 2],
  ['a', 16],
];

export function formatPerms(perms: number): string {
  if (perms < 0 || perms > 31 || !Number.isInteger(perms)) return String(perms);
  return PERM_LETTERS.filter(([, bit]) => (perms & bit) !== 0)
    .map(([l]) => l)
    .join('');
}

/** `world:anyone:cdrwa` (perms in zkCli's cdrwa order). */
export function formatAclEntry(a: ACL): string {
  return `${a.id.scheme}:${a.id.id}:${formatPerms(a.perms)}`;
}

/** Parse `scheme:id:perms`; the id may contain colons (digest). Throws a plain Error. */
export function parseAclEntry(s: string): ACL {
  const i = s.indexOf(':');
  const j = s.lastIndexOf(':');
  if (i <= 0 || j === i) throw new Error(`invalid ACL entry ${JSON.stringify(s)}: expected scheme:id:perms, e.g. world:anyone:cdrwa`);
  const scheme = s.slice(0, i);
  const id = s.slice(i + 1, j);
  const p = s.slice(j + 1);
  let perms = 0;
  if (/^\d+$/.test(p)) perms = Number(p);
  else {
    for (const ch of p) {
      const bit = PERM_LETTERS.find(([l]) => l === ch)?.[1];
      if (bit === undefined) throw new Error(`invalid ACL entry ${JSON.stringify(s)}: unknown permission "${ch}" (use c d r w a)`);
      perms |= bit;
    }
  }
  return { perms, id: { scheme, id } };
}

/**
 * ZooKeeper 3.6+ redacts digest ACLs for a reader without ADMIN permission on
 * the node: the id comes back as "user:x". Such an ACL cannot be restored.
 */
export function isRedacted(a: ACL): boolean {
  return a.id.scheme === 'digest' && a.id.id.endsWith(':x');
}

export function aclEqual(a: ACL[], b: ACL[]): boolean {
  if (a.length !== b.length) return false;
  const key = (x: ACL): string => `${x.perms}\u0000${x.id.scheme}\u0000${x.id.id}`;
  const sa = a.map(key).sort();
  const sb = b.map(key).sort();
  return sa.every((v, i) => v === sb[i]);
}

/* ------------------------------------------------------------------ */
/* Paths                                                              */

/** Path of `abs` relative to `root` ('.' for the root itself). */
export function relPath(root: string, abs: string): string {
  if (abs === root) return '.';
  return root === '/' ? abs.slice(1) : abs.slice(root.length + 1);
}

/** Absolute path of relative `rel` under `target`. */
export function absPath(target: string, rel: string): string {
  if (rel === '.') return target;
  return target === '/' ? `/${rel}` : `${target}/${rel}`;
}

function relParent(rel: string): string {
  const i = rel.lastIndexOf('/');
  return i < 0 ? '.' : rel.slice(0, i);
}

function relDepth(rel: string): number {
  if (rel === '.') return 0;
  let d = 1;
  for (let i = 0; i < rel.length; i++) if (rel.charCodeAt(i) === 47) d++;
  return d;
}

/* ------------------------------------------------------------------ */
/* Writing                                                            */

// Printable characters, tab and newline; no CR, other controls, DEL, C1, BOM,
// line/paragraph separators or non-characters: text that YAML and JSON keep exactly.
const PRINTABLE = /^[\t\n\x20-\x7e\u00a0-\u2027\u202a-\ud7ff\ue000-\ufefe\uff00-\ufffd\u{10000}-\u{10ffff}]*$/u;

/** The data as text when that is exact and readable, else undefined (use base64). */
export function dataAsText(data: Buffer): string | undefined {
  const s = data.toString('utf8');
  if (Buffer.byteLength(s, 'utf8') !== data.length) return undefined;
  if (!PRINTABLE.test(s)) return undefined;
  if (!Buffer.from(s, 'utf8').equals(data)) return undefined;
  return s;
}

const YAML_KEYWORD = /^(?:null|true|false|yes|no|on|off|y|n|~)$/i;
const PLAIN_SAFE = /^[A-Za-z_][A-Za-z0-9_./=+@:-]*$/;

/** A YAML scalar for `s`: plain when unambiguous, else JSON-quoted (valid YAML). */
export function yamlString(s: string): string {
  if (s === '.') return s;
  if (PLAIN_SAFE.test(s) && !YAML_KEYWORD.test(s) && !s.endsWith(':')) return s;
  return JSON.stringify(s);
}

/** A literal block scalar when `s` has lines and none is whitespace-only; else a quoted string. */
function yamlText(s: string, indent: string): string {
  if (!s.includes('\n')) return JSON.stringify(s);
  const lines0 = s.split('\n');
  if (lines0.some((l) => l.length > 0 && /^[ \t]+$/.test(l)) || !lines0.some((l) => l.length > 0)) return JSON.stringify(s);
  let trail = 0;
  while (trail < s.length && s.charCodeAt(s.length - 1 - trail) === 10) trail++;
  const chomp = trail === 0 ? '-' : trail === 1 ? '' : '+';
  let lines = s.slice(0, s.length - trail).split('\n');
  if (trail > 1) lines = lines.concat(new Array<string>(trail - 1).fill(''));
  return `|2${chomp}\n${lines.map((l) => (l === '' ? '' : `${indent}${l}`)).join('\n')}`;
}

export function formatHeader(h: BackupHeader, format: BackupFormat): string {
  if (format === 'json') {
    const o: Record<string, unknown> = { format: h.format, version: h.version, root: h.root };
    if (h.source !== undefined) o.source = h.source;
    if (h.created !== undefined) o.created = h.created;
    return `${JSON.stringify(o).slice(0, -1)},\n"nodes":[\n`;
  }
  let s = '# zkctl backup: restore with `zkctl import FILE PATH`\n';
  s += `format: ${h.format}\nversion: ${h.version}\nroot: ${JSON.stringify(h.root)}\n`;
  if (h.source !== undefined) s += `source: ${JSON.stringify(h.source)}\n`;
  if (h.created !== undefined) s += `created: ${JSON.stringify(h.created)}\n`;
  return `${s}nodes:\n`;
}

/** One node; `index` 0 is the first (JSON needs the separators). */
export function formatNode(n: BackupNode, format: BackupFormat, index: number): string {
  const text = dataAsText(n.data);
  if (format === 'json') {
    const o: Record<string, unknown> = { path: n.path, type: n.type };
    if (n.type === 'ttl') o.ttl = n.ttlMs;
    if (n.owner !== undefined) o.owner = n.owner;
    o.acl = n.acl.map(formatAclEntry);
    if (n.data.length > 0) {
      if (text !== undefined) o.data = text;
      else o.base64 = n.data.toString('base64');
    }
    return `${index > 0 ? ',\n' : ''}${JSON.stringify(o)}`;
  }
  let s = `- path: ${yamlString(n.path)}\n  type: ${n.type}\n`;
  if (n.type === 'ttl') s += `  ttl: ${n.ttlMs}\n`;
  if (n.owner !== undefined) s += `  owner: ${JSON.stringify(n.owner)}\n`;
  s += `  acl: [${n.acl.map((a) => yamlString(formatAclEntry(a))).join(', ')}]\n`;
  if (n.data.length > 0) {
    if (text !== undefined) s += `  data: ${yamlText(text, '    ')}\n`;
    else s += `  base64: ${n.data.toString('base64')}\n`;
  }
  return s;
}

export function formatTrailer(count: number, format: BackupFormat): string {
  return format === 'json' ? `${count > 0 ? '\n' : ''}],\n"count":${count}}\n` : `count: ${count}\n`;
}

/** Whole backup as one string (small trees, tests). */
export function formatBackup(b: Backup, format: BackupFormat): string {
  let s = formatHeader(b.header, format);
  b.nodes.forEach((n, i) => (s += formatNode(n, format, i)));
  return s + formatTrailer(b.nodes.length, format);
}

/** Format from a file name: .json -> json, .yaml/.yml -> yaml, else undefined. */
export function formatFromFileName(file: string): BackupFormat | undefined {
  if (/\.json$/i.test(file)) return 'json';
  if (/\.ya?ml$/i.test(file)) return 'yaml';
  return undefined;
}

/* ------------------------------------------------------------------ */
/* Export                                                             */

export interface ExportOptions {
  format: BackupFormat;
  /** Requests in flight (tree walk window). */
  window?: number;
  /** Informational: written to the header. */
  source?: string;
  signal?: AbortSignal;
  onProgress?: (nodes: number) => void;
  /** Write redacted digest ACLs ("user:x") instead of failing (the backup then cannot restore them). */
  allowRedacted?: boolean;
}

export interface ExportSummary {
  root: string;
  format: BackupFormat;
  nodes: number;
  ephemeral: number;
  containers: number;
  ttl: number;
  bytes: number;
  /** Nodes whose ACL was redacted by the server (with allowRedacted). */
  redacted: number;
}

/** Exit 7: a backup that cannot restore an ACL is refused unless asked for. */
export function redactedError(path: string): ZkctlError {
  return new ZkctlError(`${path}: the server redacted its digest ACL (you lack ADMIN permission on it), so a copy could not restore it`, 7, {
    hint: 'authenticate with credentials that have ADMIN on every node (e.g. --auth digest:super:PASSWORD), or pass --allow-redacted',
  });
}

export function nodeFromInfo(root: string, n: { path: string; stat: Stat; data?: Buffer; acl?: ACL[] }): BackupNode {
  const k = kindOf(n.stat);
  const out: BackupNode = { path: relPath(root, n.path), type: k.type, acl: n.acl ?? [], data: n.data ?? Buffer.alloc(0) };
  if (k.ttlMs !== undefined) out.ttlMs = k.ttlMs;
  if (k.owner !== undefined) out.owner = k.owner;
  return out;
}

/**
 * Leave the server's own /zookeeper subtree out when walking from the real '/'
 * (under a chroot, /zookeeper is an ordinary node).
 */
export function pruneReserved(session: Session, root: string): ((p: string) => boolean) | undefined {
  return root === '/' && !session.chroot ? (p: string) => isReserved(p) : undefined;
}



/**
 * Stream the subtree at `root` to `write` as a backup file. Holds at most the
 * walker's window of nodes in memory; awaits `write` (back-pressure).
 */
export async function exportTree(
  session: Session,
  root: string,
  write: (chunk: string) => void | Promise<void>,
  opts: ExportOptions,
): Promise<ExportSummary> {
  root = validatePath(root);
  const sum: ExportSummary = { root, format: opts.format, nodes: 0, ephemeral: 0, containers: 0, ttl: 0, bytes: 0, redacted: 0 };
  const header: BackupHeader = { format: BACKUP_FORMAT, version: BACKUP_VERSION, root, created: new Date().toISOString() };
  if (opts.source) header.source = opts.source;
  let started = false;
  const walker = walk(session, root, { withData: true, withAcl: true, window: opts.window, signal: opts.signal, prune: pruneReserved(session, root) });
  let buf = '';
  for await (const info of walker) {
    if (!started) {
      buf += formatHeader(header, opts.format);
      started = true;
    }
    const n = nodeFromInfo(root, info);
    if (n.acl.some(isRedacted)) {
      if (!opts.allowRedacted) throw redactedError(info.path);
      sum.redacted++;
    }
    buf += formatNode(n, opts.format, sum.nodes);
    sum.nodes++;
    sum.bytes += n.data.length;
    if (n.type === 'ephemeral') sum.ephemeral++;
    else if (n.type === 'container') sum.containers++;
    else if (n.type === 'ttl') sum.ttl++;
    if (buf.length >= 65536) {
      await write(buf);
      buf = '';
      opts.onProgress?.(sum.nodes);
    }
  }
  if (!started) throw await session.noNode(root);
  buf += formatTrailer(sum.nodes, opts.format);
  await write(buf);
  opts.onProgress?.(sum.nodes);
  return sum;
}

/** Read a whole subtree into memory (for cp): nodes parents first. */
export async function readTree(
  session: Session,
  root: string,
  opts: { window?: number; signal?: AbortSignal; onProgress?: (n: number) => void; allowRedacted?: boolean } = {},
): Promise<Backup> {
  root = validatePath(root);
  const nodes: BackupNode[] = [];
  for await (const info of walk(session, root, { withData: true, withAcl: true, window: opts.window, signal: opts.signal, prune: pruneReserved(session, root) })) {
    const n = nodeFromInfo(root, info);
    if (!opts.allowRedacted && n.acl.some(isRedacted)) throw redactedError(info.path);
    nodes.push(n);
    if (nodes.length % 1000 === 0) opts.onProgress?.(nodes.length);
  }
  return { header: { format: BACKUP_FORMAT, version: BACKUP_VERSION, root }, nodes };
}

/* ------------------------------------------------------------------ */
/* Reading                                                            */

/** A problem in a backup file: exit 2, message starts with where it is. */
export class BackupFileError extends UsageError {}

function fileError(source: string, where: string, msg: string): BackupFileError {
  return new BackupFileError(`${source}${where ? `:${where}` : ''}: ${msg}`);
}

/** Decode the file's bytes as UTF-8 (strictly). */
export function decodeBackupBytes(bytes: Buffer, source: string): string {
  try {
    const s = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    return s.charCodeAt(0) === 0xfeff ? s.slice(1) : s;
  } catch {
    throw fileError(source, '', 'not a zkctl backup: the file is not UTF-8 text');
  }
}

/** Parse and validate a backup (YAML or JSON, detected from the content). */
export function parseBackup(text: string, source = 'backup'): Backup {
  const first = /\S/.exec(text);
  if (!first) throw fileError(source, '', 'the file is empty');
  const raw = first[0] === '{' || first[0] === '[' ? readJson(text, source) : readYaml(text, source);
  return validateBackup(raw, source);
}

interface RawBackup {
  header: Record<string, unknown>;
  items: Array<{ value: unknown; where: string }>;
  /** where to point at for a problem with the whole file */
  endWhere: string;
}

function lineCol(text: string, pos: number): string {
  let line = 1;
  let last = -1;
  for (let i = 0; i < pos && i < text.length; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      last = i;
    }
  }
  return `${line}:${pos - last}`;
}

/**
 * Where JSON text first goes wrong: [offset, what]. (Node 20's JSON.parse
 * messages do not always give a position.)
 */
export function jsonErrorAt(text: string): [number, string] {
  let i = 0;
  const ws = (): void => {
    while (i < text.length && ' \t\n\r'.includes(text[i])) i++;
  };
  const fail = (what: string): never => {
    throw Object.assign(new Error(what), { at: i });
  };
  const ch = (): string => (i < text.length ? JSON.stringify(text[i]) : 'end of file (truncated?)');
  const value = (): void => {
    ws();
    const c = text[i];
    if (c === '{') {
      i++;
      ws();
      if (text[i] === '}') {
        i++;
        return;
      }
      for (;;) {
        ws();
        if (text[i] !== '"') fail(`expected a "key" but found ${ch()}`);
        str();
        ws();
        if (text[i] !== ':') fail(`expected ":" but found ${ch()}`);
        i++;
        value();
        ws();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === '}') {
          i++;
          return;
        }
        fail(`expected "," or "}" but found ${ch()}`);
      }
    } else if (c === '[') {
      i++;
      ws();
      if (text[i] === ']') {
        i++;
        return;
      }
      for (;;) {
        value();
        ws();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === ']') {
          i++;
          return;
        }
        fail(`expected "," or "]" but found ${ch()}`);
      }
    } else if (c === '"') str();
    else if (c !== undefined && /[-0-9]/.test(c)) {
      const m = /^-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?/.exec(text.slice(i, i + 400));
      if (!m) fail('invalid number');
      i += m![0].length;
    } else {
      for (const lit of ['true', 'false', 'null']) {
        if (text.startsWith(lit, i)) {
          i += lit.length;
          return;
        }
      }
      fail(`unexpected ${ch()}`);
    }
  };
  const str = (): void => {
    i++;
    for (;;) {
      if (i >= text.length) fail('unterminated string (truncated?)');
      const c = text.charCodeAt(i);
      if (c === 34) {
        i++;
        return;
      }
      if (c < 0x20) fail('control character in a string (escape it)');
      if (c === 92) {
        const e = text[i + 1];
        if (e === 'u') {
          if (!/^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) fail('invalid \\u escape');
          i += 6;
        } else if (e !== undefined && '"\\/bfnrt'.includes(e)) i += 2;
        else fail('invalid escape in a string');
      } else i++;
    }
  };
  try {
    value();
    ws();
    if (i < text.length) fail(`unexpected ${ch()} after the end of the JSON value`);
  } catch (e) {
    return [(e as { at: number }).at, (e as Error).message];
  }
  return [text.length, 'invalid JSON'];
}

function readJson(text: string, source: string): RawBackup {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    const [at, what] = jsonErrorAt(text);
    throw fileError(source, lineCol(text, at), `invalid JSON: ${what}`);
  }
  if (!doc || typeof doc !== 'object' || Array.isArray(doc)) throw fileError(source, '1', 'not a zkctl backup: expected an object with format, version and nodes');
  const o = doc as Record<string, unknown>;
  const { nodes, ...header } = o;
  if (!Array.isArray(nodes)) throw fileError(source, '', 'not a zkctl backup: "nodes" must be a list');
  return { header, items: nodes.map((value, i) => ({ value, where: `nodes[${i}]` })), endWhere: '' };
}

/** Where a YAML problem is, as "line:col" (1-based), `lineOffset` lines into the file. */
function yamlWhere(p: YamlProblem, lineOffset: number): string {
  return p.line !== undefined ? `${p.line + lineOffset}:${p.col}` : `${lineOffset + 1}`;
}

/**
 * Parse YAML text (linear in its size, duplicate keys refused: yaml-input.ts);
 * syntax errors, duplicate keys and alias bombs are BackupFileErrors (exit 2) naming file and line.
 */
function parseYamlText(text: string, source: string, lineOffset: number): unknown {
  const parsed = parseYamlDocument(text, { version: '1.2' }, lineOffset);
  if (parsed.error) throw fileError(source, yamlWhere(parsed.error, lineOffset), `invalid YAML: ${parsed.error.message}`);
  const plain = toPlain(parsed);
  if (plain.error) throw fileError(source, yamlWhere(plain.error, lineOffset), `invalid YAML: ${plain.error.message}`);
  return plain.value;
}

const FAST_LINE0 = /^- ([a-z0-9]+): (.*)$/;
const FAST_LINE = /^ {2}([a-z0-9]+): (.*)$/;

/** The value of a `key: value` line as written by formatNode, or NOFAST. */
const NOFAST = Symbol('nofast');
function fastValue(v: string): unknown {
  if (v.length === 0) return NOFAST;
  const c = v.charCodeAt(0);
  if (c === 34 /* " */) {
    if (v.charCodeAt(v.length - 1) !== 34) return NOFAST;
    try {
      return JSON.parse(v);
    } catch {
      return NOFAST;
    }
  }
  if (c === 91 /* [ */) {
    if (v.charCodeAt(v.length - 1) !== 93) return NOFAST;
    const inner = v.slice(1, -1).trim();
    if (inner === '') return [];
    if (inner.includes('"')) {
      try {
        const a = JSON.parse(v) as unknown;
        return Array.isArray(a) && a.every((x) => typeof x === 'string') ? a : NOFAST;
      } catch {
        return NOFAST;
      }
    }
    const parts = inner.split(',').map((x) => x.trim());
    return parts.every((p) => p === '.' || (PLAIN_SAFE.test(p) && !YAML_KEYWORD.test(p) && !p.endsWith(':'))) ? parts : NOFAST;
  }
  if (/^-?[0-9]+$/.test(v)) return Number(v);
  if (v === '.' || (PLAIN_SAFE.test(v) && !YAML_KEYWORD.test(v) && !v.endsWith(':'))) return v;
  return NOFAST;
}

/** Fast path for items exactly as zkctl writes them; undefined when the item needs the YAML parser. */
function fastItem(lines: string[], start: number, end: number): Record<string, unknown> | undefined {
  const o: Record<string, unknown> = {};
  for (let i = start; i < end; i++) {
    const m = (i === start ? FAST_LINE0 : FAST_LINE).exec(lines[i]);
    if (!m) return undefined;
    const v = fastValue(m[2]);
    if (v === NOFAST || Object.prototype.hasOwnProperty.call(o, m[1])) return undefined;
    o[m[1]] = v;
  }
  return o;
}

/**
 * YAML: the top-level mapping is parsed by the YAML library, but the `nodes`
 * sequence item by item (one small parse per item, or a fast path for items
 * exactly as zkctl writes them), so 100k-node files load in seconds.
 */
function readYaml(text: string, source: string): RawBackup {
  const lines = text.split('\n');
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  let nodesLine = -1;
  for (let i = 0; i < lines.length; i++) {
    if (/^nodes:\s*(#.*)?$/.test(lines[i].replace(/\r$/, ''))) {
      nodesLine = i;
      break;
    }
  }
  // Anything not laid out as "nodes:" + a block sequence: parse the whole document.
  const whole = (): RawBackup => {
    const doc = parseYamlText(text, source, 0);
    if (!doc || typeof doc !== 'object' || Array.isArray(doc)) throw fileError(source, '1', 'not a zkctl backup: expected a mapping with format, version and nodes');
    const { nodes, ...header } = doc as Record<string, unknown>;
    if (!Array.isArray(nodes)) throw fileError(source, '', 'not a zkctl backup: "nodes" must be a list');
    return { header, items: nodes.map((value, i) => ({ value, where: `nodes[${i}]` })), endWhere: `${lines.length}` };
  };
  if (nodesLine < 0 || text.includes('\r')) return whole();
  // Find the item indent and the items.
  let i = nodesLine + 1;
  const isBlankOrComment = (l: string): boolean => /^\s*(#.*)?$/.test(l);
  while (i < lines.length && isBlankOrComment(lines[i])) i++;
  let indent = -1;
  const m0 = i < lines.length ? /^( *)-( |$)/.exec(lines[i]) : null;
  if (m0) indent = m0[1].length;
  const starts: number[] = [];
  let end = i;
  if (indent >= 0) {
    const pad = ' '.repeat(indent);
    for (let j = i; j < lines.length; j++) {
      const l = lines[j];
      if (l.startsWith(`${pad}-`) && (l.length === indent + 1 || l[indent + 1] === ' ') && (indent === 0 || l[indent - 1] === ' ')) {
        if (l.slice(0, indent).trim() === '') {
          starts.push(j);
          end = j + 1;
          continue;
        }
      }
      if (isBlankOrComment(l)) continue;
      const lead = /^ */.exec(l)![0].length;
      if (lead > indent) {
        end = j + 1;
        continue;
      }
      break;
    }
  }
  // Lines after the sequence: the trailer (top-level keys).
  let k = end;
  while (k < lines.length && isBlankOrComment(lines[k])) k++;
  const trailerStart = k;
  for (let j = trailerStart; j < lines.length; j++) {
    const l = lines[j];
    if (isBlankOrComment(l)) continue;
    if (/^(---|\.\.\.)(\s|$)/.test(l) || /^\s/.test(l) || l.startsWith('-')) return whole();
  }
  if (indent < 0 && trailerStart !== i) return whole();
  const headText = lines.slice(0, nodesLine).join('\n');
  const headDoc = headText.trim() === '' ? {} : parseYamlText(headText, source, 0);
  const trailText = lines.slice(trailerStart).join('\n');
  const trailDoc = trailText.trim() === '' ? {} : parseYamlText(trailText, source, trailerStart);
  if (!headDoc || typeof headDoc !== 'object' || Array.isArray(headDoc)) throw fileError(source, '1', 'not a zkctl backup: expected a mapping with format, version and nodes');
  if (!trailDoc || typeof trailDoc !== 'object' || Array.isArray(trailDoc)) throw fileError(source, `${trailerStart + 1}`, 'unexpected content after the nodes');
  const header = { ...(headDoc as Record<string, unknown>) };
  for (const [key, v] of Object.entries(trailDoc as Record<string, unknown>)) {
    if (key === 'nodes' || key in header) throw fileError(source, `${trailerStart + 1}`, `duplicate key "${key}"`);
    header[key] = v;
  }
  const items: RawBackup['items'] = [];
  for (let s = 0; s < starts.length; s++) {
    const a = starts[s];
    // Blank lines at the end belong to the item (a keep-chomping block scalar may own them).
    const b = s + 1 < starts.length ? starts[s + 1] : trailerStart;
    let value: unknown = indent === 0 ? fastItem(lines, a, b) : undefined;
    if (value === undefined) {
      const chunk = lines
        .slice(a, b)
        .map((l) => (l.slice(0, indent).trim() === '' ? l.slice(indent) : l))
        .join('\n') + '\n';
      const v = parseYamlText(chunk, source, a);
      if (!Array.isArray(v) || v.length !== 1) throw fileError(source, `${a + 1}`, 'expected one node per list item');
      value = v[0];
    }
    items.push({ value, where: `${a + 1}` });
  }
  return { header, items, endWhere: `${lines.length}` };
}

const NODE_KEYS = new Set(['path', 'type', 'ttl', 'owner', 'acl', 'data', 'base64']);
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

function validateRelPath(p: string): string | undefined {
  if (p === '.') return undefined;
  if (p.startsWith('/')) return 'path must be relative to the backup root (no leading /; "." is the root)';
  try {
    validatePath(`/${p}`);
  } catch (e) {
    return (e as Error).message.replace(/^invalid path "\/(.*)"/, 'invalid path "$1"');
  }
  return undefined;
}

function validateBackup(raw: RawBackup, source: string): Backup {
  const h = raw.header;
  const hw = '';
  if (h.format !== BACKUP_FORMAT) {
    throw fileError(source, hw, `not a zkctl backup (format is ${h.format === undefined ? 'missing' : JSON.stringify(h.format)}, expected "${BACKUP_FORMAT}")`);
  }
  if (typeof h.version !== 'number' || !Number.isInteger(h.version)) throw fileError(source, hw, 'missing or invalid "version"');
  if (h.version > BACKUP_VERSION) throw fileError(source, hw, `backup format version ${h.version} is newer than this zkctl understands (${BACKUP_VERSION}): upgrade zkctl`);
  if (h.version < 1) throw fileError(source, hw, `invalid version ${h.version}`);
  for (const key of Object.keys(h)) {
    if (!['format', 'version', 'root', 'source', 'created', 'count'].includes(key)) throw fileError(source, hw, `unknown top-level key "${key}"`);
  }
  if (h.count === undefined) throw fileError(source, raw.endWhere, `no "count" at the end: the file is truncated (or was not written by zkctl export)`);
  if (typeof h.count !== 'number' || !Number.isInteger(h.count) || h.count < 0) throw fileError(source, raw.endWhere, '"count" must be a number');
  if (h.count !== raw.items.length) {
    throw fileError(source, raw.endWhere, `"count" says ${h.count} nodes but the file has ${raw.items.length}: the file is truncated or was edited`);
  }
  const header: BackupHeader = { format: BACKUP_FORMAT, version: h.version, root: typeof h.root === 'string' ? h.root : '/' };
  if (typeof h.source === 'string') header.source = h.source;
  if (typeof h.created === 'string') header.created = h.created;

  const nodes: BackupNode[] = [];
  const byPath = new Map<string, BackupNode>();
  for (const { value, where } of raw.items) {
    const at = (msg: string, p?: unknown): BackupFileError =>
      fileError(source, where, `${typeof p === 'string' ? `node ${JSON.stringify(p)}: ` : ''}${msg}`);
    if (!value || typeof value !== 'object' || Array.isArray(value)) throw at('a node must be a mapping with path, type, acl and data');
    const o = value as Record<string, unknown>;
    for (const key of Object.keys(o)) if (!NODE_KEYS.has(key)) throw at(`unknown field "${key}" (known: ${[...NODE_KEYS].join(', ')})`, o.path);
    if (typeof o.path !== 'string') throw at('"path" is missing or not a string');
    const path = o.path;
    const bad = validateRelPath(path);
    if (bad) throw at(bad, path);
    const type = (o.type ?? 'persistent') as NodeKind;
    if (!NODE_KINDS.includes(type)) throw at(`unknown type ${JSON.stringify(o.type)} (${NODE_KINDS.join(', ')})`, path);
    const n: BackupNode = { path, type, acl: OPEN_ACL_UNSAFE, data: Buffer.alloc(0) };
    if (type === 'ttl') {
      if (typeof o.ttl !== 'number' || !Number.isSafeInteger(o.ttl) || o.ttl <= 0) throw at('a ttl node needs "ttl": a positive number of ms', path);
      n.ttlMs = o.ttl;
    } else if (o.ttl !== undefined) throw at('"ttl" is only for type ttl', path);
    if (o.owner !== undefined) {
      if (typeof o.owner !== 'string') throw at('"owner" must be a string', path);
      n.owner = o.owner;
    }
    if (o.acl !== undefined) {
      if (!Array.isArray(o.acl)) throw at('"acl" must be a list of scheme:id:perms', path);
      if (o.acl.length === 0) throw at('"acl" must not be empty (ZooKeeper refuses an empty ACL)', path);
      n.acl = o.acl.map((a) => {
        if (typeof a !== 'string') throw at('"acl" entries must be strings scheme:id:perms', path);
        try {
          return parseAclEntry(a);
        } catch (e) {
          throw at((e as Error).message, path);
        }
      });
    }
    if (o.data !== undefined && o.base64 !== undefined) throw at('give either "data" or "base64", not both', path);
    if (o.data !== undefined) {
      if (typeof o.data !== 'string') throw at('"data" must be a string (quote it)', path);
      n.data = Buffer.from(o.data, 'utf8');
    } else if (o.base64 !== undefined) {
      if (typeof o.base64 !== 'string' || !BASE64.test(o.base64.replace(/\s+/g, ''))) throw at('"base64" is not valid base64', path);
      n.data = Buffer.from(o.base64.replace(/\s+/g, ''), 'base64');
    }
    if (byPath.has(path)) throw at('duplicate path', path);
    byPath.set(path, n);
    nodes.push(n);
  }
  if (nodes.length > 0 && !byPath.has('.')) throw fileError(source, raw.items[0].where, 'the backup has no root node (path ".")');
  const itemWhere = new Map(raw.items.map((it, i) => [nodes[i], it.where]));
  for (const n of nodes) {
    if (n.path === '.') continue;
    const p = byPath.get(relParent(n.path));
    if (!p) throw fileError(source, itemWhere.get(n) ?? '', `node ${JSON.stringify(n.path)}: its parent ${JSON.stringify(relParent(n.path))} is not in the backup`);
    if (p.type === 'ephemeral') throw fileError(source, itemWhere.get(n) ?? '', `node ${JSON.stringify(n.path)}: its parent is ephemeral (ephemeral nodes cannot have children)`);
  }
  // Parents first, whatever order the file used (stable: file order within a depth).
  const ordered = nodes.map((n, i) => ({ n, i, d: relDepth(n.path) }));
  ordered.sort((a, b) => a.d - b.d || a.i - b.i);
  return { header, nodes: ordered.map((x) => x.n) };
}

/* ------------------------------------------------------------------ */
/* Transactions (multi with container and TTL creates)                */

/** An op of a transaction. Unlike Session.multi, creates may be containers or TTL nodes. */
export type TxnOp =
  | { op: 'create'; path: string; data: Buffer; acl: ACL[]; type: Exclude<NodeKind, 'ephemeral'>; ttlMs?: number }
  | { op: 'set'; path: string; data: Buffer; version: number }
  | { op: 'delete'; path: string; version: number }
  | { op: 'check'; path: string; version: number };

/** Bytes `op` takes in a multi request (for batching under jute.maxbuffer). */
export function txnOpSize(o: TxnOp, chrootLen = 0): number {
  const pathLen = 4 + Buffer.byteLength(o.path) + chrootLen;
  switch (o.op) {
    case 'create':
      return 9 + pathLen + 4 + o.data.length + 4 + o.acl.reduce((s, a) => s + 12 + Buffer.byteLength(a.id.scheme) + Buffer.byteLength(a.id.id), 0) + 4 + (o.type === 'ttl' ? 8 : 0);
    case 'set':
      return 9 + pathLen + 4 + o.data.length + 4;
    default:
      return 9 + pathLen + 4;
  }
}

function createFlag(type: Exclude<NodeKind, 'ephemeral'>): number {
  return type === 'container' ? 4 : type === 'ttl' ? 5 : 0;
}

/**
 * Run `ops` as one ZooKeeper transaction (all or nothing). Throws a ZkError
 * naming the first failing op (`opIndex`), like Session.multi.
 */
export async function transaction(session: Session, ops: TxnOp[], what = 'transaction'): Promise<MultiResult[]> {
  return session.multi(
    ops.map((o): MultiOp => (o.op === 'create' ? { op: 'create', path: o.path, data: o.data, acl: o.acl, flags: createFlag(o.type), ttlMs: o.ttlMs } : o)),
    what,
  );
}

/** Split ops into transactions of at most `maxBytes` each (an op larger than that goes alone). */
export function batchOps(ops: TxnOp[], maxBytes: number, chrootLen = 0): TxnOp[][] {
  const out: TxnOp[][] = [];
  let cur: TxnOp[] = [];
  let size = 0;
  for (const o of ops) {
    const s = txnOpSize(o, chrootLen);
    if (cur.length > 0 && size + s > maxBytes) {
      out.push(cur);
      cur = [];
      size = 0;
    }
    cur.push(o);
    size += s;
  }
  if (cur.length > 0) out.push(cur);
  return out;
}

/* ------------------------------------------------------------------ */
/* Import planning                                                    */

export type ImportMode = 'create' | 'merge' | 'overwrite';

export type PlanAction = 'create' | 'update' | 'acl' | 'delete' | 'keep' | 'skip' | 'type';

/** One line of the plan (what --dry-run lists). */
export interface PlanEntry {
  action: PlanAction;
  path: string;
  detail: string;
}

interface Existing {
  stat: Stat;
  data: Buffer;
  acl: ACL[];
  type: NodeKind;
  ttlMs?: number;
}

export interface ImportPlan {
  target: string;
  mode: ImportMode;
  /** Transactional writes, in order: creates (parents first), data updates, deletes (children first). */
  ops: TxnOp[];
  /** ACL changes of existing nodes (multi cannot set ACLs): applied after the transactions. */
  aclOps: Array<{ path: string; acl: ACL[]; aversion: number; old: ACL[] }>;
  /** What each delete removes (to undo it). */
  deleted: Map<string, Existing>;
  /** Old data of updated nodes (to undo). */
  updated: Map<string, { data: Buffer; version: number }>;
  entries: PlanEntry[];
  counts: { create: number; update: number; acl: number; delete: number; keep: number; skip: number; unchanged: number; type: number };
}

export interface PlanOptions {
  window?: number;
  signal?: AbortSignal;
  onProgress?: (phase: string, n: number) => void;
}

function dataDetail(a: Buffer, b: Buffer): string {
  return `data ${a.length} -> ${b.length} bytes`;
}

/**
 * Work out what importing `backup` at `target` does, reading the target
 * (writes nothing). Refuses (NODE_EXISTS, exit 4) a non-empty target in mode
 * 'create'; a missing parent is NO_NODE (exit 3).
 */
export async function planImport(session: Session, backup: Backup, target: string, mode: ImportMode, opts: PlanOptions = {}): Promise<ImportPlan> {
  target = validatePath(target);
  assertNotReserved(target, session.chroot, 'import into');
  const plan: ImportPlan = {
    target,
    mode,
    ops: [],
    aclOps: [],
    deleted: new Map(),
    updated: new Map(),
    entries: [],
    counts: { create: 0, update: 0, acl: 0, delete: 0, keep: 0, skip: 0, unchanged: 0, type: 0 },
  };
  if (backup.nodes.length === 0) return plan;
  const st = await session.exists(target);
  const existing = new Map<string, Existing>();
  if (!st) {
    if (target !== '/') {
      const parent = parentOf(target);
      if (!(await session.exists(parent))) {
        const e = await session.noNode(parent);
        if (e instanceof ChrootMissingError) throw e;
        throw Object.assign(e, {
          hint: `the parent of ${target} must exist: create it first (zkctl create ${parent})`,
        }) as ZkError;
      }
    }
  } else {
    if (mode === 'create' && (st.numChildren > 0 || st.dataLength > 0) && !(target === '/' && !session.chroot && st.numChildren === 1 && (await onlyZookeeper(session)))) {
      throw new ZkctlError(`${target}: not empty (${st.numChildren} children, ${st.dataLength} bytes of data): refusing to import over it`, 4, {
        hint: 'use --merge (add what is missing) or --overwrite (make it exactly the backup), or pick another path',
      });
    }
    let n = 0;
    for await (const info of walk(session, target, { withData: true, withAcl: true, window: opts.window, signal: opts.signal, prune: pruneReserved(session, target) })) {
      const k = kindOf(info.stat);
      existing.set(relPath(target, info.path), { stat: info.stat, data: info.data ?? Buffer.alloc(0), acl: info.acl ?? [], type: k.type, ttlMs: k.ttlMs });
      if (++n % 1000 === 0) opts.onProgress?.('read', n);
    }
  }
  const inBackup = new Set<string>();
  const skippedEphemeral = new Set<string>();
  for (const n of backup.nodes) {
    inBackup.add(n.path);
    const path = absPath(target, n.path);
    assertNotReserved(path, session.chroot, 'import');
    const ex = existing.get(n.path);
    if (n.type === 'ephemeral') {
      plan.counts.skip++;
      skippedEphemeral.add(n.path);
      plan.entries.push({ action: 'skip', path, detail: `ephemeral${n.owner ? ` (owner ${n.owner})` : ''}: not re-created` });
      continue;
    }
    if (!ex) {
      plan.ops.push({ op: 'create', path, data: n.data, acl: n.acl, type: n.type, ...(n.type === 'ttl' ? { ttlMs: n.ttlMs } : {}) });
      plan.counts.create++;
      plan.entries.push({ action: 'create', path, detail: `${n.type}${n.type === 'ttl' ? ` ttl=${n.ttlMs}ms` : ''}, ${n.data.length} bytes` });
      continue;
    }
    const dataDiff = !ex.data.equals(n.data);
    const aclDiff = !aclEqual(ex.acl, n.acl);
    // Only ephemeral-ness can be read back (containers and TTL nodes look persistent).
    const typeDiff = ex.type === 'ephemeral';
    // An existing but empty target root in mode 'create' takes the backup root's data and ACL.
    const write = mode === 'overwrite' || (mode === 'create' && n.path === '.');
    if (!dataDiff && !aclDiff && !typeDiff) {
      plan.counts.unchanged++;
      continue;
    }
    if (!write) {
      plan.counts.keep++;
      plan.entries.push({ action: 'keep', path, detail: `exists, differs (${[dataDiff && 'data', aclDiff && 'acl', typeDiff && 'type'].filter(Boolean).join(', ')}): left as it is` });
      continue;
    }
    if (dataDiff) {
      plan.ops.push({ op: 'set', path, data: n.data, version: ex.stat.version });
      plan.updated.set(path, { data: ex.data, version: ex.stat.version });
      plan.counts.update++;
      plan.entries.push({ action: 'update', path, detail: dataDetail(ex.data, n.data) });
    }
    if (aclDiff) {
      plan.aclOps.push({ path, acl: n.acl, aversion: ex.stat.aversion, old: ex.acl });
      plan.counts.acl++;
      plan.entries.push({ action: 'acl', path, detail: `${ex.acl.map(formatAclEntry).join(',')} -> ${n.acl.map(formatAclEntry).join(',')}` });
    }
    if (typeDiff) {
      plan.counts.type++;
      plan.entries.push({ action: 'type', path, detail: `is ${ex.type}, backup says ${n.type}: the type of an existing node is not changed` });
    }
  }
  if (mode === 'overwrite') {
    // Extra nodes go, children first (reverse depth-first order), after the creates and updates.
    const extras = [...existing.keys()].filter((rel) => !inBackup.has(rel));
    extras.sort((a, b) => relDepth(b) - relDepth(a) || (a < b ? 1 : a > b ? -1 : 0));
    for (const rel of extras) {
      const ex = existing.get(rel)!;
      const path = absPath(target, rel);
      plan.ops.push({ op: 'delete', path, version: ex.stat.version });
      plan.deleted.set(path, ex);
      plan.counts.delete++;
      plan.entries.push({ action: 'delete', path, detail: `not in the backup (${ex.type}, ${ex.data.length} bytes)` });
    }
  }
  return plan;
}

async function onlyZookeeper(session: Session): Promise<boolean> {
  const { children } = await session.getChildren('/');
  return children.length === 1 && children[0] === 'zookeeper';
}

/* ------------------------------------------------------------------ */
/* Import execution with rollback                                     */

/** Default transaction size: under ZooKeeper's default jute.maxbuffer (1 MiB) with room for headers. */
export const DEFAULT_TXN_BYTES = 1_000_000;

export interface ApplyOptions {
  /** Largest transaction (bytes of request). Default DEFAULT_TXN_BYTES. */
  maxTxnBytes?: number;
  signal?: AbortSignal;
  onProgress?: (phase: 'write' | 'rollback', done: number, total: number) => void;
  /** Test hook: called before each transaction (index from 0); throwing simulates a failure. */
  beforeTxn?: (index: number, count: number) => void | Promise<void>;
}

export interface ApplyResult {
  transactions: number;
  /** True when everything went in one transaction (atomic and isolated). */
  atomic: boolean;
  created: number;
  updated: number;
  aclChanged: number;
  deleted: number;
}

type Undo =
  | { kind: 'created'; path: string; node: TxnOp & { op: 'create' } }
  | { kind: 'set'; path: string; old: Buffer; version: number; newData: Buffer }
  | { kind: 'deleted'; path: string; ex: Existing }
  | { kind: 'acl'; path: string; old: ACL[]; aversion: number };

/** Import failed and was rolled back (fully, or with `leftovers`). Keeps the first error's exit code. */
export class ImportFailedError extends ZkctlError {
  readonly leftovers: string[];
  constructor(message: string, exitCode: number, leftovers: string[], opts: { hint?: string; cause?: unknown } = {}) {
    super(message, exitCode, opts);
    this.leftovers = leftovers;
  }
}

/**
 * Carry out a plan: transactions of at most maxTxnBytes in order, then the
 * ACL changes. When it all fits in one transaction the import is atomic.
 * Otherwise, when any step fails (or the signal aborts), the steps already
 * done are undone in reverse order (compare-and-set; nodes changed by someone
 * else meanwhile are left and reported) and an ImportFailedError is thrown.
 */
export async function applyPlan(session: Session, plan: ImportPlan, opts: ApplyOptions = {}): Promise<ApplyResult> {
  const maxBytes = opts.maxTxnBytes ?? DEFAULT_TXN_BYTES;
  const batches = batchOps(plan.ops, maxBytes, session.chroot.length);
  const total = batches.length + plan.aclOps.length;
  const res: ApplyResult = { transactions: batches.length, atomic: batches.length <= 1 && plan.aclOps.length === 0, created: 0, updated: 0, aclChanged: 0, deleted: 0 };
  const undo: Undo[] = [];
  let step = 0;
  const record = (batch: TxnOp[], results?: MultiResult[]): void => {
    batch.forEach((o, i) => {
      if (o.op === 'create') {
        undo.push({ kind: 'created', path: o.path, node: o });
        res.created++;
      } else if (o.op === 'set') {
        const r = results?.[i];
        const version = r && r.op === 'set' ? r.stat.version : (plan.updated.get(o.path)?.version ?? 0) + 1;
        undo.push({ kind: 'set', path: o.path, old: plan.updated.get(o.path)!.data, version, newData: o.data });
        res.updated++;
      } else if (o.op === 'delete') {
        undo.push({ kind: 'deleted', path: o.path, ex: plan.deleted.get(o.path)! });
        res.deleted++;
      }
    });
  };
  const checkAbort = (): void => {
    if (opts.signal?.aborted) throw new InterruptedError('interrupted');
  };
  try {
    for (let i = 0; i < batches.length; i++) {
      checkAbort();
      await opts.beforeTxn?.(i, batches.length);
      const batch = batches[i];
      try {
        const results = await transaction(session, batch, batches.length > 1 ? `transaction ${i + 1}/${batches.length}` : 'transaction');
        record(batch, results);
      } catch (e) {
        // A lost connection leaves the outcome unknown: find out whether it was applied.
        if (isConnectionProblem(e) && (await batchApplied(session, batch, plan))) record(batch);
        throw e;
      }
      opts.onProgress?.('write', ++step, total);
    }
    for (const a of plan.aclOps) {
      checkAbort();
      const st = await session.setACL(a.path, a.acl, a.aversion);
      undo.push({ kind: 'acl', path: a.path, old: a.old, aversion: st.aversion });
      res.aclChanged++;
      opts.onProgress?.('write', ++step, total);
    }
  } catch (e) {
    if (undo.length === 0) throw e;
    const leftovers = await rollback(session, undo, maxBytes, opts);
    const first = (e as Error).message.split('\n')[0];
    const code = e instanceof ZkctlError ? e.exitCode : 1;
    if (leftovers.length === 0) {
      throw new ImportFailedError(`${first}; rolled back: nothing imported (${undo.length} changes undone)`, code, [], { cause: e });
    }
    throw new ImportFailedError(
      `${first}; rollback incomplete: ${leftovers.length} change(s) could not be undone: ${leftovers.slice(0, 5).join(', ')}${leftovers.length > 5 ? ', ...' : ''}`,
      code,
      leftovers,
      { cause: e, hint: 'someone changed those nodes meanwhile, or the connection is gone: inspect them (zkctl diff / zkctl tree)' },
    );
  }
  return res;
}

/** After a connection loss during a transaction: was it applied? (transactions are atomic: probe one op) */
async function batchApplied(session: Session, batch: TxnOp[], plan: ImportPlan): Promise<boolean> {
  try {
    await session.whenConnected();
    const o = batch[0];
    if (o.op === 'create') {
      const st = await session.exists(o.path);
      return !!st;
    }
    if (o.op === 'delete') return !(await session.exists(o.path));
    if (o.op === 'set') {
      const st = await session.exists(o.path);
      return !!st && st.version === (plan.updated.get(o.path)?.version ?? -2) + 1;
    }
  } catch {
    /* cannot tell: assume it was (rollback tolerates missing nodes) */
    return true;
  }
  return false;
}

async function rollback(session: Session, undo: Undo[], maxBytes: number, opts: ApplyOptions): Promise<string[]> {
  const leftovers: string[] = [];
  try {
    await session.whenConnected();
  } catch {
    return undo.map((u) => u.path);
  }
  // ACLs first (they were applied last), then the transactional changes in reverse.
  const txnUndo: TxnOp[] = [];
  const rev = undo.slice().reverse();
  for (const u of rev) {
    if (u.kind === 'acl') {
      try {
        await session.setACL(u.path, u.old, u.aversion);
      } catch (e) {
        if (!isZkCode(e, ZkCode.NO_NODE)) leftovers.push(u.path);
      }
    } else if (u.kind === 'created') txnUndo.push({ op: 'delete', path: u.path, version: -1 });
    else if (u.kind === 'set') txnUndo.push({ op: 'set', path: u.path, data: u.old, version: u.version });
    else if (u.ex.type !== 'ephemeral') {
      txnUndo.push({ op: 'create', path: u.path, data: u.ex.data, acl: u.ex.acl, type: u.ex.type, ...(u.ex.type === 'ttl' ? { ttlMs: u.ex.ttlMs } : {}) });
    } else leftovers.push(`${u.path} (ephemeral: cannot be re-created)`);
  }
  const batches = batchOps(txnUndo, maxBytes, session.chroot.length);
  let done = 0;
  for (const batch of batches) {
    try {
      await transaction(session, batch, 'rollback');
    } catch (e) {
      if (isConnectionProblem(e)) {
        try {
          await session.whenConnected();
        } catch {
          /* fall through to one-by-one, which reports */
        }
      }
      // One by one, tolerating what is already undone; report the rest.
      for (const o of batch) {
        try {
          await transaction(session, [o], 'rollback');
        } catch (e2) {
          if (o.op === 'delete' && isZkCode(e2, ZkCode.NO_NODE)) continue;
          if (o.op === 'create' && isZkCode(e2, ZkCode.NODE_EXISTS)) continue;
          leftovers.push(o.path);
        }
      }
    }
    opts.onProgress?.('rollback', ++done, batches.length);
  }
  return leftovers;
}

/** Rows for diff-like listings of a plan. */
export function planSummary(plan: ImportPlan): string {
  const c = plan.counts;
  const parts = [`${c.create} to create`];
  if (c.update) parts.push(`${c.update} data updates`);
  if (c.acl) parts.push(`${c.acl} ACL changes`);
  if (c.delete) parts.push(`${c.delete} to delete`);
  if (c.keep) parts.push(`${c.keep} existing left as they are`);
  if (c.type) parts.push(`${c.type} type mismatches`);
  if (c.skip) parts.push(`${c.skip} ephemeral skipped`);
  if (c.unchanged) parts.push(`${c.unchanged} unchanged`);
  return parts.join(', ');
}

/** Does `inner` lie within (or equal) `outer`? */
export function isWithin(outer: string, inner: string): boolean {
  return outer === '/' || inner === outer || inner.startsWith(`${outer}/`);
}
