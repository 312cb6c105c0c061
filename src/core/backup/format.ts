/**
 * The zkctl-backup file format (YAML or JSON): node kinds, paths relative to the
 * backup root, the writer and the reader/validator. Export and import build on
 * it (export.ts, import.ts); ACL text is acl.ts's, JSON scanning json-scan.ts's.
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
import { formatAcl, parseStoredAcl } from '../acl.js';
import { UsageError } from '../errors.js';
import { jsonErrorAt } from '../json-scan.js';
import { validatePath } from '../paths.js';
import { sessionHex } from '../session-id.js';
import { type ACL, OPEN_ACL_UNSAFE, type Stat } from '../protocol/records.js';
import { parseYamlDocument, toPlain, type YamlProblem } from '../yaml-input.js';

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
  return { type: 'ephemeral', owner: sessionHex(o) };
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

export function relParent(rel: string): string {
  const i = rel.lastIndexOf('/');
  return i < 0 ? '.' : rel.slice(0, i);
}

export function relDepth(rel: string): number {
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
    o.acl = n.acl.map(formatAcl);
    if (n.data.length > 0) {
      if (text !== undefined) o.data = text;
      else o.base64 = n.data.toString('base64');
    }
    return `${index > 0 ? ',\n' : ''}${JSON.stringify(o)}`;
  }
  let s = `- path: ${yamlString(n.path)}\n  type: ${n.type}\n`;
  if (n.type === 'ttl') s += `  ttl: ${n.ttlMs}\n`;
  if (n.owner !== undefined) s += `  owner: ${JSON.stringify(n.owner)}\n`;
  s += `  acl: [${n.acl.map((a) => yamlString(formatAcl(a))).join(', ')}]\n`;
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
          return parseStoredAcl(a);
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


/** Does `inner` lie within (or equal) `outer`? */
export function isWithin(outer: string, inner: string): boolean {
  return outer === '/' || inner === outer || inner.startsWith(`${outer}/`);
}
