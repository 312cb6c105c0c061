/**
 * A fast path for the common shape of a `config publish` file: nested block
 * mappings whose keys and values are single-line plain or quoted scalars, with
 * blank lines and comments. The yaml library needs ~7 s for 200k such keys
 * (issue 10.8); this reads them in a fraction of that.
 *
 * It only ever returns a result the yaml library path (parseConfigYaml's slow
 * path) would return for the same text: plain scalars are resolved by the
 * library's own core-schema tags (the same `test` and `resolve` it uses), and
 * anything outside the subset - anchors, aliases, tags, flow collections,
 * sequences, block or multi-line scalars, escapes other than JSON's, tabs,
 * control characters, directives, document markers, duplicate keys, keys that
 * cannot become znodes, non-finite numbers, odd indentation, any error at all -
 * makes it return undefined, and the caller parses with the library, which
 * gives the result or the exact error (with its line numbers) as before.
 * test/config/yaml-fast.test.ts compares both paths over generated documents.
 */
import { yaml } from '../lazy.js';

export type FastValue = string | bigint | number | boolean | null | FastMap;
export interface FastMap extends Map<string, FastValue> {}

interface ScalarTag {
  default?: boolean | 'key';
  test?: RegExp;
  collection?: string;
  resolve: (value: string, onError: (msg: string) => void, options: { intAsBigInt: boolean }) => unknown;
}

let plainTags: { value: ScalarTag[]; key: ScalarTag[] } | undefined;
function tags(): { value: ScalarTag[]; key: ScalarTag[] } {
  if (!plainTags) {
    const Y = yaml();
    const schema = new Y.Schema({ schema: 'core', merge: false, intAsBigInt: true } as ConstructorParameters<typeof Y.Schema>[0]) as unknown as { tags: ScalarTag[]; compat?: unknown };
    if (schema.compat) throw new Error('yaml-fast: unexpected compat schema');
    const all = schema.tags.filter((t) => !t.collection && t.test);
    plainTags = { value: all.filter((t) => t.default === true), key: all.filter((t) => t.default === true || t.default === 'key') };
  }
  return plainTags;
}

const BAIL = Symbol('bail');
const MAYBE_NOT_STRING = /^[-+.0-9~nNtTfF]/;
const RESOLVE_OPTS = { intAsBigInt: true };

/** A plain scalar as the library resolves it (core schema), or BAIL. */
function resolvePlain(s: string, atKey: boolean): unknown {
  // every core-schema tag (null, bool, int, float) needs one of these first characters; others are strings
  if (s.length > 0 && !MAYBE_NOT_STRING.test(s)) return s;
  const list = atKey ? tags().key : tags().value;
  let failed = false;
  for (const t of list) {
    if (t.test!.test(s)) {
      const v = t.resolve(s, () => (failed = true), RESOLVE_OPTS);
      if (failed) return BAIL;
      if (v !== null && typeof v === 'object') return yaml().isScalar(v) ? (v as { value: unknown }).value : BAIL;
      return v;
    }
  }
  return s;
}

/** Characters that make the whole text go to the library (controls, tabs, CR, BOM, non-characters, lone surrogates). */
// eslint-disable-next-line no-control-regex
const ODD_CHARS = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u2028\u2029\ufeff\ufffe\uffff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
/** A plain scalar may not start with these (or they change its meaning). */
const PLAIN_START_BAD = /^[-?:,[\]{}#&*!|>'"%@`]/;
/** JSON escapes, which YAML double-quoted scalars read the same way. */
const JSON_ESCAPES = /\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4})/g;

interface Scanned {
  value: unknown;
  /** Index just after the scalar and any trailing spaces. */
  end: number;
}

/** A scalar starting at `i` of `line` and ending before `: ` (key) or the line's end / comment (value). BAIL if unsure. */
function scanScalar(line: string, i: number, atKey: boolean): Scanned | typeof BAIL {
  const c = line.charCodeAt(i);
  if (c === 0x22 /* " */) {
    const close = line.indexOf('"', i + 1);
    if (close < 0) return BAIL;
    let raw = line.slice(i + 1, close);
    // an escaped quote (\") would end the scan early: only accept when no backslash precedes the closing quote
    if (raw.includes('\\')) {
      if (raw.endsWith('\\')) return BAIL;
      if (raw.replace(JSON_ESCAPES, '').includes('\\')) return BAIL;
      try {
        raw = JSON.parse(`"${raw}"`) as string;
      } catch {
        return BAIL;
      }
    }
    let end = close + 1;
    while (line.charCodeAt(end) === 0x20) end++;
    return { value: raw, end };
  }
  if (c === 0x27 /* ' */) {
    let j = i + 1;
    let out = '';
    for (;;) {
      const q = line.indexOf("'", j);
      if (q < 0) return BAIL;
      out += line.slice(j, q);
      if (line.charCodeAt(q + 1) === 0x27) {
        out += "'";
        j = q + 2;
      } else {
        j = q + 1;
        break;
      }
    }
    while (line.charCodeAt(j) === 0x20) j++;
    return { value: out, end: j };
  }
  // plain
  const rest = line.slice(i);
  if (rest.length === 0) return BAIL;
  if (PLAIN_START_BAD.test(rest)) {
    // "-" followed by a non-space starts a plain scalar (-5, -x); "?" and ":" likewise, but keep it simple
    if (!(c === 0x2d && rest.length > 1 && rest.charCodeAt(1) !== 0x20)) return BAIL;
  }
  let end: number;
  if (atKey) {
    // the key ends at the first ": " or ":" at the end of the line
    let k = line.indexOf(':', i);
    while (k >= 0 && k + 1 < line.length && line.charCodeAt(k + 1) !== 0x20) k = line.indexOf(':', k + 1);
    if (k < 0) return BAIL;
    end = k;
    const text = line.slice(i, end);
    if (text.includes(' #')) return BAIL;
    const trimmed = text.trimEnd();
    const v = resolvePlain(trimmed, true);
    if (v === BAIL) return BAIL;
    return { value: v, end };
  }
  const hash = line.indexOf(' #', i);
  end = hash < 0 ? line.length : hash + 1;
  const text = line.slice(i, hash < 0 ? line.length : hash).trimEnd();
  // ": " or a final ":" inside a value is a nested mapping (an error in a compact one): not ours
  if (text.includes(': ') || text.endsWith(':')) return BAIL;
  const v = resolvePlain(text, false);
  if (v === BAIL) return BAIL;
  return { value: v, end };
}

export interface FastLimits {
  maxNodes: number;
  maxDepth: number;
  /** Why a key cannot become a znode, or undefined. */
  keyProblem: (key: string) => string | undefined;
}

/**
 * The document `text` as nested Maps when it is in the simple subset and valid
 * (every key a string that can become a znode, no duplicates, finite numbers,
 * within the limits); otherwise undefined (use the library).
 */
export function parseSimpleConfigYaml(text: string, limits: FastLimits): FastMap | undefined {
  if (text.length === 0 || ODD_CHARS.test(text)) return undefined;
  const root: FastMap = new Map();
  // open mappings, innermost last: their indentation and Map
  const indents: number[] = [];
  const maps: FastMap[] = [];
  // a key written as `key:` with no value, waiting to learn whether a nested mapping follows
  let pendingKey: string | undefined;
  let pendingIndent = -1;
  let count = 1;
  let pos = 0;
  const n = text.length;
  while (pos < n) {
    let eol = text.indexOf('\n', pos);
    if (eol < 0) eol = n;
    const line = text.slice(pos, eol);
    pos = eol + 1;
    let ind = 0;
    while (line.charCodeAt(ind) === 0x20) ind++;
    if (ind === line.length || line.charCodeAt(ind) === 0x23 /* # */) continue; // blank or comment line
    if (ind === 0) {
      const c0 = line.charCodeAt(0);
      // directives, document markers
      if (c0 === 0x25 /* % */ || line.startsWith('---') || line.startsWith('...')) return undefined;
    }
    // where does this line belong?
    if (maps.length === 0) {
      if (ind !== 0) return undefined;
      indents.push(0);
      maps.push(root);
    } else if (pendingKey !== undefined && ind > pendingIndent) {
      if (indents.length >= limits.maxDepth) return undefined;
      const child: FastMap = new Map();
      maps[maps.length - 1]!.set(pendingKey, child);
      indents.push(ind);
      maps.push(child);
      pendingKey = undefined;
    } else {
      if (pendingKey !== undefined) {
        maps[maps.length - 1]!.set(pendingKey, null);
        pendingKey = undefined;
      }
      while (indents.length > 0 && ind < indents[indents.length - 1]!) {
        indents.pop();
        maps.pop();
      }
      if (indents.length === 0 || ind !== indents[indents.length - 1]) return undefined;
    }
    const map = maps[maps.length - 1]!;
    const k = scanScalar(line, ind, true);
    if (k === BAIL || typeof k.value !== 'string') return undefined;
    const key = k.value;
    if (line.charCodeAt(k.end) !== 0x3a /* : */) return undefined;
    // implicit keys are limited to 1024 characters by YAML; stay well inside
    if (k.end - ind > 1000) return undefined;
    if (key === '<<' || map.has(key) || limits.keyProblem(key) !== undefined) return undefined;
    if (++count > limits.maxNodes) return undefined;
    let vi = k.end + 1;
    if (vi < line.length && line.charCodeAt(vi) !== 0x20) return undefined;
    while (line.charCodeAt(vi) === 0x20) vi++;
    if (vi === line.length || line.charCodeAt(vi) === 0x23 /* # */) {
      // `key:` alone: a nested mapping follows, or the value is null
      if (vi < line.length && line.charCodeAt(vi - 1) !== 0x20) return undefined;
      pendingKey = key;
      pendingIndent = ind;
      map.set(key, null); // keeps the key's place in the order (set again below)
      continue;
    }
    const v = scanScalar(line, vi, false);
    if (v === BAIL) return undefined;
    if (v.end < line.length) {
      // after a quoted scalar: only a comment may follow
      if (line.charCodeAt(v.end) !== 0x23 || line.charCodeAt(v.end - 1) !== 0x20) return undefined;
    }
    if (typeof v.value === 'number' && !Number.isFinite(v.value)) return undefined;
    map.set(key, v.value as FastValue);
  }
  if (pendingKey !== undefined) maps[maps.length - 1]!.set(pendingKey, null);
  if (root.size === 0) return undefined;
  return root;
}
