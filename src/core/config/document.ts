/**
 * Configuration documents: YAML text <-> typed values <-> znodes.
 *
 * The mapping (what `zkctl config publish FILE --path P` writes, and what
 * `zkctl config get P` reads back):
 *
 * - The document must be a YAML mapping (an empty document is refused; publish
 *   `{}` to mean "no keys"). Its keys become the children of P.
 * - A mapping value becomes a znode whose children are its keys; that znode's
 *   data is empty. Mappings nest to any depth (up to MAX_DEPTH).
 * - Any other value (string, integer, float, boolean, null, or a list, which
 *   may itself hold mappings and lists) becomes the data of ONE znode, as
 *   canonical JSON in UTF-8: no insignificant white space, object keys in
 *   document order, integers as digits (any size), floats always with a '.'
 *   or an exponent (`1.0`, `2.5e-7`), strings JSON-escaped. So "5432" (a
 *   string) and 5432 (an integer) and 5432.0 (a float) stay distinct. Mappings
 *   inside lists are JSON objects: their keys may be any strings.
 * - Key order: ZooKeeper does not order children, so the order of every
 *   mapping's keys is recorded in the publish record (P's own data, see
 *   config-publish.ts) and `get` returns keys in that order. Keys found under P
 *   that no publish recorded (written by someone else) come after the recorded
 *   ones, sorted by name.
 * - Keys of mappings that become znodes must be valid znode names; they are
 *   never escaped or rewritten, a document with another key is refused (exit 2)
 *   naming the key and its line:column: the empty string, ".", "..", names
 *   containing "/", NUL or other characters ZooKeeper's PathUtils rejects
 *   (U+0001-U+001E, U+007F-U+009E, U+D801-U+F8FE (surrogates, so characters
 *   outside the BMP, and private use), U+FFF1-U+FFFE), and names starting with
 *   ".zkctl", which are reserved for zkctl's bookkeeping (the history child).
 * - Refused values (exit 2, with line:column): keys that are not strings
 *   (`80: http`: quote it, `"80": http`), null keys, .inf/.nan (JSON cannot
 *   hold them), tags other than YAML 1.2's core tags (!!binary, !!timestamp,
 *   !!set, custom tags), aliases that refer to themselves (loops), duplicate
 *   keys, more than one document in the file. Aliases without loops are
 *   expanded (a copy of the anchored value), up to MAX_NODES values in all.
 *   Merge keys (`<<`) are not interpreted (YAML 1.2): `<<` is an ordinary key.
 * - The YAML is read as YAML 1.2 (core schema): `yes`/`no`/`on` are strings,
 *   `2024-01-01` is a string, `0x1F` is the integer 31, `1.0` is a float.
 *
 * In memory a document is a `ConfigMap` (a Map, which keeps insertion order
 * for every key, also "80"); integers are bigint, floats are number.
 */
import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import {
  Document,
  isAlias,
  isMap,
  isPair,
  isScalar,
  isSeq,
  visit,
  type ParsedNode,
} from 'yaml';
import { UsageError } from '../errors.js';
import { scanJson } from '../json-scan.js';
import { parseYamlDocument } from '../yaml-input.js';
import { parseSimpleConfigYaml } from './yaml-fast.js';
import { validatePath } from '../paths.js';

export type ConfigScalar = null | boolean | bigint | number | string;
export type ConfigValue = ConfigScalar | ConfigValue[] | ConfigMap;
export type ConfigMap = Map<string, ConfigValue>;

/** Names starting with this are zkctl's own (the history child) and refused as keys. */
export const RESERVED_PREFIX = '.zkctl';
/** Most values (after alias expansion) in one document. */
export const MAX_NODES = 1_000_000;
/** Deepest nesting of mappings and lists. */
export const MAX_DEPTH = 200;

/** A document that cannot be read or mapped (exit 2). */
export class ConfigInputError extends UsageError {}

const CORE_TAGS = new Set(
  ['str', 'int', 'float', 'bool', 'null', 'map', 'seq'].map((t) => `tag:yaml.org,2002:${t}`),
);

export function isConfigMap(v: unknown): v is ConfigMap {
  return v instanceof Map;
}

/**
 * Why `key` cannot be a znode name, or undefined when it can.
 */
/** Names that are always valid znode names (other than . and .., checked before). */
const SIMPLE_KEY = /^[A-Za-z0-9_.-]+$/;

export function keyProblem(key: string): string | undefined {
  if (key.length === 0) return 'the empty string is not a znode name';
  if (key === '.' || key === '..') return `"${key}" is not a znode name`;
  if (key.includes('/')) return 'a znode name cannot contain "/"';
  if (key.startsWith(RESERVED_PREFIX)) return `names starting with "${RESERVED_PREFIX}" are reserved for zkctl`;
  if (SIMPLE_KEY.test(key)) return undefined; // the common case, without validatePath (hot for 200k keys)
  try {
    validatePath(`/${key}`);
  } catch (e) {
    const m = /: (path contains .*)$/.exec((e as Error).message);
    if (/[\ud800-\udfff]/.test(key)) return 'ZooKeeper does not accept characters outside the Basic Multilingual Plane (e.g. emoji) in znode names';
    return m ? (m[1] ?? '').replace(/^path/, 'the name') : 'not a valid znode name';
  }
  return undefined;
}

function fmtKeyPath(parts: string[]): string {
  return parts.length === 0 ? '(top level)' : parts.join('/');
}

/**
 * Parse YAML text into a document, enforcing every rule above.
 * `source` names the input in messages ("app.yaml", "-").
 */
export function parseConfigYaml(text: string, source = '-', opts: { fast?: boolean } = {}): ConfigMap {
  // The common simple shape without the yaml library (7 s for 200k keys): same result or undefined (yaml-fast.ts).
  if (opts.fast !== false) {
    const fast = parseSimpleConfigYaml(text, { maxNodes: MAX_NODES, maxDepth: MAX_DEPTH, keyProblem });
    if (fast) return fast as ConfigMap;
  }
  // Linear in the number of keys (yaml-input.ts); duplicate keys are still an error.
  const parsed = parseYamlDocument(text, {
    intAsBigInt: true,
    merge: false,
    schema: 'core',
    version: '1.2',
    strict: true,
  });
  const { doc, lineCounter: lc } = parsed;
  const at = (offset: number | undefined): string => {
    if (offset === undefined) return source;
    const p = lc.linePos(offset);
    return `${source}:${p.line}:${p.col}`;
  };
  const problem = parsed.error ?? parsed.warning;
  if (problem) {
    let msg = problem.message;
    if (problem.code === 'MULTIPLE_DOCS') msg = 'the file holds more than one YAML document (---)';
    throw new ConfigInputError(`${at(problem.offset)}: invalid YAML: ${msg}`);
  }
  if (doc.contents === null || (isScalar(doc.contents) && doc.contents.value === null && !doc.contents.source)) {
    throw new ConfigInputError(`${source}: the document is empty`, 'to publish no keys at all, write {}');
  }
  let count = 0;
  const stack = new Set<unknown>();
  const fail = (node: unknown, msg: string, hint?: string): never => {
    const range = (node as { range?: [number, number, number] } | null)?.range;
    throw new ConfigInputError(`${at(range?.[0])}: ${msg}`, hint);
  };

  const conv = (node: unknown, keyPath: string[], znodeMap: boolean, depth: number): ConfigValue => {
    if (++count > MAX_NODES) fail(node, `the document has more than ${MAX_NODES} values (after expanding aliases)`);
    if (depth > MAX_DEPTH) fail(node, `nesting deeper than ${MAX_DEPTH} levels at ${fmtKeyPath(keyPath)}`);
    if (node === null || node === undefined) return null;
    if (isAlias(node)) {
      const target = node.resolve(doc);
      if (!target) fail(node, `alias *${node.source} refers to no anchor`);
      if (stack.has(target)) fail(node, `alias *${node.source} at ${fmtKeyPath(keyPath)} refers to a value that contains it (a loop)`);
      stack.add(target);
      try {
        return conv(target, keyPath, znodeMap, depth);
      } finally {
        stack.delete(target);
      }
    }
    const tag = (node as { tag?: string }).tag;
    if (tag !== undefined && !CORE_TAGS.has(tag)) {
      const short = tag.replace(/^tag:yaml\.org,2002:/, '!!');
      fail(node, `tag ${short} at ${fmtKeyPath(keyPath)} is not supported`, 'only YAML 1.2 core values (strings, numbers, booleans, null, lists, mappings) can be published; e.g. base64 text as a plain string');
    }
    if (isScalar(node)) {
      let v: unknown = node.value;
      if (tag === 'tag:yaml.org,2002:float' && typeof v !== 'number') v = Number(String(v));
      if (tag === 'tag:yaml.org,2002:int' && typeof v === 'string' && /^[-+]?\d+$/.test(v)) v = BigInt(v);
      if (typeof v === 'number' && !Number.isFinite(v)) {
        fail(node, `${String(node.source ?? v)} at ${fmtKeyPath(keyPath)} cannot be stored (values are stored as JSON, which has no infinity or NaN)`, 'quote it to store a string');
      }
      if (v === null || typeof v === 'string' || typeof v === 'boolean' || typeof v === 'bigint' || typeof v === 'number') return v;
      return fail(node, `unsupported value at ${fmtKeyPath(keyPath)}`);
    }
    if (isSeq(node)) {
      stack.add(node);
      try {
        return node.items.map((item, i) => conv(item, [...keyPath, `[${i}]`], false, depth + 1));
      } finally {
        stack.delete(node);
      }
    }
    if (isMap(node)) {
      stack.add(node);
      try {
        const out: ConfigMap = new Map();
        for (const pair of node.items) {
          if (!isPair(pair)) fail(node, `unsupported mapping entry at ${fmtKeyPath(keyPath)}`);
          let k: unknown = pair.key;
          if (isAlias(k)) k = k.resolve(doc);
          if (k === null || k === undefined || (isScalar(k) && k.value === null)) {
            fail(pair.key ?? node, `a key at ${fmtKeyPath(keyPath)} is null`, 'keys must be strings');
          }
          if (!isScalar(k) || typeof k.value !== 'string') {
            if (!isScalar(k)) fail(pair.key, `a key at ${fmtKeyPath(keyPath)} is ${isSeq(k) ? 'a list' : isMap(k) ? 'a mapping' : 'not a scalar'}, not a string`, 'keys must be strings');
            const shown = String((k as { source?: string }).source ?? (k as { value: unknown }).value);
            fail(pair.key, `key ${shown} at ${fmtKeyPath(keyPath)} is not a string`, `quote it: "${shown}"`);
          }
          const key = (k as { value: string }).value;
          if (znodeMap) {
            const why = keyProblem(key);
            if (why) {
              fail(pair.key, `key ${JSON.stringify(key)} at ${fmtKeyPath(keyPath)} cannot become a znode: ${why}`, 'rename the key (zkctl does not escape names), or move this mapping into a list, whose items are stored as JSON');
            }
          }
          const childIsZnodeMap = znodeMap;
          out.set(key, conv(pair.value, [...keyPath, key], childIsZnodeMap, depth + 1));
        }
        return out;
      } finally {
        stack.delete(node);
      }
    }
    return fail(node, `unsupported YAML node at ${fmtKeyPath(keyPath)}`);
  };

  const contents = doc.contents as ParsedNode;
  if (!isMap(contents) && !(isAlias(contents) && isMap(contents.resolve(doc)))) {
    fail(contents, 'the document must be a mapping (its keys become the children of the path)');
  }
  return conv(contents, [], true, 0) as ConfigMap;
}

/**
 * Check a document built in code (not parsed from YAML) against the same rules:
 * znode-name keys, finite numbers, supported value types. Throws ConfigInputError.
 */
export function validateDocument(doc: ConfigMap): ConfigMap {
  let count = 0;
  const seen = new Set<unknown>();
  const check = (v: unknown, keyPath: string[], znodeMap: boolean, depth: number): void => {
    if (++count > MAX_NODES) throw new ConfigInputError(`the document has more than ${MAX_NODES} values`);
    if (depth > MAX_DEPTH) throw new ConfigInputError(`nesting deeper than ${MAX_DEPTH} levels at ${fmtKeyPath(keyPath)}`);
    if (v === null || typeof v === 'string' || typeof v === 'boolean' || typeof v === 'bigint') return;
    if (typeof v === 'number') {
      if (!Number.isFinite(v)) throw new ConfigInputError(`${v} at ${fmtKeyPath(keyPath)} cannot be stored (JSON has no infinity or NaN)`);
      return;
    }
    if (typeof v !== 'object') throw new ConfigInputError(`unsupported value (${typeof v}) at ${fmtKeyPath(keyPath)}`);
    if (seen.has(v)) throw new ConfigInputError(`a value at ${fmtKeyPath(keyPath)} contains itself`);
    seen.add(v);
    if (Array.isArray(v)) v.forEach((x, i) => check(x, [...keyPath, `[${i}]`], false, depth + 1));
    else if (v instanceof Map) {
      for (const [k, x] of v) {
        if (typeof k !== 'string') throw new ConfigInputError(`key ${String(k)} at ${fmtKeyPath(keyPath)} is not a string`);
        if (znodeMap) {
          const why = keyProblem(k);
          if (why) throw new ConfigInputError(`key ${JSON.stringify(k)} at ${fmtKeyPath(keyPath)} cannot become a znode: ${why}`);
        }
        check(x, [...keyPath, k], znodeMap, depth + 1);
      }
    } else throw new ConfigInputError(`unsupported value at ${fmtKeyPath(keyPath)}`);
    seen.delete(v);
  };
  if (!(doc instanceof Map)) throw new ConfigInputError('the document must be a mapping');
  check(doc, [], true, 0);
  return doc;
}

/* ------------------------------------------------------------------ */
/* Canonical JSON                                                     */

export function floatText(n: number): string {
  if (Object.is(n, -0)) return '-0.0';
  const s = String(n);
  return /[.eE]/.test(s) ? s : `${s}.0`;
}

/**
 * Canonical JSON of a value (the leaf encoding): compact, keys in order,
 * integers as digits, floats with '.' or an exponent. With `indent`, pretty.
 */
export function encodeJson(v: ConfigValue, indent?: number): string {
  const pad = indent ? ' '.repeat(indent) : '';
  const enc = (x: ConfigValue, cur: string): string => {
    if (x === null) return 'null';
    switch (typeof x) {
      case 'boolean':
        return x ? 'true' : 'false';
      case 'bigint':
        return x.toString();
      case 'number':
        if (!Number.isFinite(x)) throw new ConfigInputError(`${x} cannot be stored as JSON`);
        return floatText(x);
      case 'string':
        return JSON.stringify(x);
    }
    const next = cur + pad;
    if (Array.isArray(x)) {
      if (x.length === 0) return '[]';
      const items = x.map((i) => enc(i, next));
      return pad ? `[\n${items.map((i) => next + i).join(',\n')}\n${cur}]` : `[${items.join(',')}]`;
    }
    if (x instanceof Map) {
      if (x.size === 0) return '{}';
      const items = [...x].map(([k, i]) => `${JSON.stringify(k)}:${pad ? ' ' : ''}${enc(i, next)}`);
      return pad ? `{\n${items.map((i) => next + i).join(',\n')}\n${cur}}` : `{${items.join(',')}}`;
    }
    throw new ConfigInputError('unsupported value');
  };
  return enc(v, '');
}

/**
 * JSON text -> value, keeping what JSON.parse loses: object key order (Map),
 * integers of any size (bigint) apart from floats (number). Throws SyntaxError
 * (a JsonScanError: the one JSON scanner, json-scan.ts).
 */
export function decodeJson(text: string): ConfigValue {
  return scanJson(text, { maxDepth: MAX_DEPTH * 4 });
}

/** The bytes of a leaf znode. */
export function encodeLeaf(v: ConfigValue): Buffer {
  return Buffer.from(encodeJson(v), 'utf8');
}

/* ------------------------------------------------------------------ */
/* YAML out, comparisons                                              */

/**
 * Plain strings that YAML 1.1 readers (PyYAML, SnakeYAML, go-yaml v2...) would take for something
 * else: booleans (yes/no/on/off), base-60 numbers (1:30), binary/underscored numbers, dates. The
 * single letters y/n are left plain (PyYAML and SnakeYAML read them as strings too).
 */
const YAML11_NOT_A_STRING =
  /^(?:yes|Yes|YES|no|No|NO|on|On|ON|off|Off|OFF|[-+]?0b[01_]+|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?|[-+]?(?:[0-9][0-9_]*)?\.?[0-9_]*_[0-9_]*(?:[eE][-+]?[0-9]+)?|\d{4}-\d\d?-\d\d?(?:(?:[Tt]|[ \t]+)\d\d?:\d\d:\d\d(?:\.\d*)?(?:[ \t]*(?:Z|[-+]\d\d?(?::\d\d)?))?)?)$/;

/**
 * The document as YAML 1.2 (block style, keys in order, floats keep their '.0'); strings a
 * YAML 1.1 reader would misread are quoted, so the output means the same to both.
 */
export function toYaml(v: ConfigValue): string {
  const doc = new Document(v);
  visit(doc, {
    Scalar(_k, node) {
      if (typeof node.value === 'number') node.minFractionDigits = 1;
      else if (typeof node.value === 'string' && YAML11_NOT_A_STRING.test(node.value)) node.type = 'QUOTE_DOUBLE';
    },
  });
  return doc.toString({ lineWidth: 0 });
}

/** Ordered equality (key order counts). */
export function configEquals(a: ConfigValue, b: ConfigValue): boolean {
  return encodeJson(a) === encodeJson(b);
}

/** sha256 (hex) of the canonical JSON of the document. */
export function configDigest(doc: ConfigMap): string {
  return createHash('sha256').update(encodeJson(doc), 'utf8').digest('hex');
}

/** Build a document from plain JS data (objects, arrays; integral numbers become integers). */
export function fromPlain(v: unknown): ConfigValue {
  if (v === null || v === undefined) return null;
  if (typeof v === 'number') return Number.isInteger(v) ? BigInt(v) : v;
  if (typeof v === 'string' || typeof v === 'boolean' || typeof v === 'bigint') return v;
  if (Array.isArray(v)) return v.map(fromPlain);
  if (v instanceof Map) return new Map([...v].map(([k, x]) => [String(k), fromPlain(x)]));
  if (typeof v === 'object') return new Map(Object.entries(v as Record<string, unknown>).map(([k, x]) => [k, fromPlain(x)]));
  throw new ConfigInputError(`unsupported value (${typeof v})`);
}

/** Plain JS data for JSON printers (integers as numbers when safe; key order of integer-like keys is JS's). */
export function toPlain(v: ConfigValue): unknown {
  if (typeof v === 'bigint') return v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= BigInt(Number.MIN_SAFE_INTEGER) ? Number(v) : v.toString();
  if (Array.isArray(v)) return v.map(toPlain);
  if (v instanceof Map) return Object.fromEntries([...v].map(([k, x]) => [k, toPlain(x)]));
  return v;
}

/**
 * Every mapping that becomes a znode, by its key path ('' for the document,
 * 'a/b' below), with its keys in order. This is what the publish record keeps.
 */
export function layoutOf(doc: ConfigMap): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  const walk = (m: ConfigMap, p: string): void => {
    out[p] = [...m.keys()];
    for (const [k, v] of m) if (v instanceof Map) walk(v, p ? `${p}/${k}` : k);
  };
  walk(doc, '');
  return out;
}

/** Number of znodes below P that the document makes (mappings and leaves). */
export function countNodes(doc: ConfigMap): { maps: number; leaves: number } {
  let maps = 0;
  let leaves = 0;
  const walk = (m: ConfigMap): void => {
    for (const v of m.values()) {
      if (v instanceof Map) {
        maps++;
        walk(v);
      } else leaves++;
    }
  };
  walk(doc);
  return { maps, leaves };
}


/** Largest YAML file read (the document must fit in one ~1 MB transaction anyway). */
export const MAX_FILE_BYTES = 16 * 1024 * 1024;

/**
 * Read and parse a YAML file ("-": stdin). Unreadable files, files that are not
 * UTF-8, and every refused document are ConfigInputErrors (exit 2).
 */
export async function loadConfigFile(file: string, stdin: NodeJS.ReadableStream = process.stdin): Promise<ConfigMap> {
  let buf: Buffer;
  if (file === '-') {
    const chunks: Buffer[] = [];
    let total = 0;
    for await (const c of stdin) {
      const b = typeof c === 'string' ? Buffer.from(c) : (c as Buffer);
      total += b.length;
      if (total > MAX_FILE_BYTES) throw new ConfigInputError(`stdin: more than ${MAX_FILE_BYTES} bytes`);
      chunks.push(b);
    }
    buf = Buffer.concat(chunks);
  } else {
    try {
      const st = await stat(file);
      if (st.isDirectory()) throw new ConfigInputError(`${file}: is a directory`);
      if (st.size > MAX_FILE_BYTES) throw new ConfigInputError(`${file}: ${st.size} bytes is far over what one publish can hold (about 1 MB)`);
      buf = await readFile(file);
    } catch (e) {
      if (e instanceof ConfigInputError) throw e;
      const err = e as NodeJS.ErrnoException;
      throw new ConfigInputError(`cannot read ${file}: ${err.code === 'ENOENT' ? 'no such file' : err.code === 'EACCES' ? 'permission denied' : err.message}`);
    }
  }
  const source = file === '-' ? 'stdin' : file;
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(buf);
  } catch {
    throw new ConfigInputError(`${source}: not UTF-8 text`, 'YAML files must be UTF-8');
  }
  return parseConfigYaml(text, source);
}
