/**
 * YAML read from users (config publish, import, the contexts file, node data):
 * parsed in time linear in its size, with duplicate keys still refused.
 *
 * The yaml library's own duplicate-key check (`uniqueKeys: true`) compares each
 * new key with every earlier key of its mapping: quadratic (40k keys took 37 s,
 * 200k keys minutes). Here the library parses with `uniqueKeys: false` and the
 * keys of each mapping go through a Map instead (same rule as the library's:
 * two scalar keys are the same when their values are ===).
 *
 * yaml is loaded on first use (src/core/lazy.ts): importing this module costs nothing.
 */
import type { Document, LineCounter, Node as YamlNode, ParseOptions, DocumentOptions, SchemaOptions, ToJSOptions } from 'yaml';
import { yaml } from './lazy.js';

export type YamlParseOptions = ParseOptions & DocumentOptions & SchemaOptions;

/** A problem in the text, at a character offset. */
export interface YamlProblem {
  /** One line, without yaml's "at line N, column M" tail. */
  message: string;
  code: string;
  /** Character offset where it is (undefined: unknown). */
  offset?: number;
  /** 1-based line and column of `offset` (undefined: unknown). */
  line?: number;
  col?: number;
}

export interface ParsedYaml {
  doc: Document.Parsed;
  lineCounter: LineCounter;
  /** The first error (syntax, duplicate key), or undefined. */
  error?: YamlProblem;
  /** The first warning, or undefined. */
  warning?: YamlProblem;
}

function problemAt(lc: LineCounter, message: string, code: string, offset: number | undefined): YamlProblem {
  const p: YamlProblem = { message: message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, ''), code, offset };
  if (offset !== undefined) {
    const lp = lc.linePos(offset);
    p.line = lp.line;
    p.col = lp.col;
  }
  return p;
}

/**
 * Parse one YAML document. `uniqueKeys` in `options` is ignored: duplicates are
 * always found (linearly) and reported as the error "Map keys must be unique".
 * `lineOffset`: the text starts that many lines into its file (for line numbers in messages).
 */
export function parseYamlDocument(text: string, options: YamlParseOptions = {}, lineOffset = 0): ParsedYaml {
  const Y = yaml();
  const lineCounter = new Y.LineCounter();
  const doc = Y.parseDocument(text, { ...options, uniqueKeys: false, lineCounter, prettyErrors: false });
  const out: ParsedYaml = { doc, lineCounter };
  const err = doc.errors[0];
  if (err) {
    out.error = problemAt(lineCounter, err.message, err.code, err.pos[0]);
    return out;
  }
  const dup = findDuplicateKey(doc, options.merge === true);
  if (dup) {
    const where = dup.first !== undefined ? `; it is also at line ${lineCounter.linePos(dup.first).line + lineOffset}` : '';
    out.error = problemAt(lineCounter, `Map keys must be unique: ${dup.key}${where}`, 'DUPLICATE_KEY', dup.offset);
    return out;
  }
  const warn = doc.warnings[0];
  if (warn) out.warning = problemAt(lineCounter, warn.message, warn.code, warn.pos[0]);
  return out;
}

/** The first duplicate key of any mapping in `doc` (aliases are not walked: their anchors are). */
export function findDuplicateKey(doc: Document.Parsed, merge = false): { key: string; offset?: number; first?: number } | undefined {
  const Y = yaml();
  const stack: unknown[] = [doc.contents];
  while (stack.length > 0) {
    const node = stack.pop();
    if (Y.isMap(node)) {
      const seen = new Map<unknown, YamlNode | null>();
      for (const pair of node.items) {
        let k: unknown = pair.key;
        if (Y.isAlias(k)) k = k.resolve(doc);
        if (Y.isScalar(k) || k === null || k === undefined) {
          const v = Y.isScalar(k) ? k.value : null;
          if (!(merge && v === '<<')) {
            if (seen.has(v)) {
              const at = (pair.key as { range?: [number, number, number] } | null)?.range?.[0];
              const firstAt = (seen.get(v) as { range?: [number, number, number] } | null)?.range?.[0];
              return { key: typeof v === 'string' ? JSON.stringify(v) : String(v), offset: at, first: firstAt };
            }
            seen.set(v, (pair.key as YamlNode | null) ?? null);
          }
        }
        if (pair.key !== null && typeof pair.key === 'object' && !Y.isAlias(pair.key)) stack.push(pair.key);
        if (pair.value !== null && typeof pair.value === 'object' && !Y.isAlias(pair.value)) stack.push(pair.value);
      }
    } else if (Y.isSeq(node)) {
      for (const item of node.items) if (item !== null && typeof item === 'object' && !Y.isAlias(item)) stack.push(item);
    }
  }
  return undefined;
}

/** How many nodes one alias may expand to before toPlain refuses (yaml's default is 100 aliases per anchor use). */
export const MAX_ALIAS_COUNT = 100;

/**
 * The document as plain JS, refusing alias bombs: the yaml library throws a bare
 * ReferenceError ("Excessive alias count indicates a resource exhaustion attack")
 * naming neither file nor line; here it is a YamlProblem at the first alias.
 */
export function toPlain(p: ParsedYaml, options: ToJSOptions = {}): { value?: unknown; error?: YamlProblem } {
  try {
    return { value: p.doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT, ...options }) };
  } catch (e) {
    if (!(e instanceof ReferenceError)) throw e;
    return { error: problemAt(p.lineCounter, aliasMessage(e), 'ALIAS', firstAliasOffset(p.doc)) };
  }
}

function aliasMessage(e: Error): string {
  return /alias count/i.test(e.message)
    ? `aliases expand to too much data (more than ${MAX_ALIAS_COUNT} uses of an anchor's content: an alias bomb?)`
    : e.message;
}

function firstAliasOffset(doc: Document.Parsed): number | undefined {
  const Y = yaml();
  let at: number | undefined;
  Y.visit(doc, {
    Alias(_k, node) {
      at = node.range?.[0];
      return Y.visit.BREAK;
    },
  });
  return at;
}

/** Parse a whole YAML file to plain JS; throws an Error "line N: problem" (the caller names the file). */
export function parseYamlFile(text: string, options: YamlParseOptions = {}): unknown {
  const parsed = parseYamlDocument(text, options);
  const plain = parsed.error ? { error: parsed.error, value: undefined } : toPlain(parsed);
  if (plain.error) throw new Error(`${plain.error.line !== undefined ? `line ${plain.error.line}: ` : ''}${plain.error.message}`);
  return plain.value;
}
