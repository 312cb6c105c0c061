/**
 * The one JSON scanner. JSON.parse loses what zkctl needs in two places: a
 * config document's key order and big integers (config/document.ts decodeJson),
 * and where a broken file goes wrong (Node 20's JSON.parse messages do not
 * always give a position: the backup reader). Both scan with scanJson.
 *
 * Values: objects as Map (key order kept), integers as bigint, other numbers as
 * number. A problem throws JsonScanError with the offset (`at`) and what was
 * expected.
 */

/** Where and why JSON text is not valid. */
export class JsonScanError extends SyntaxError {
  constructor(
    readonly what: string,
    readonly at: number,
  ) {
    super(`${what} at offset ${at}`);
  }
}

export type JsonValue = null | boolean | bigint | number | string | JsonValue[] | Map<string, JsonValue>;

export interface ScanOptions {
  /** Deeper nesting is refused ('nesting too deep'). Default: no limit. */
  maxDepth?: number;
  /** Check only, build no values (returns null). */
  checkOnly?: boolean;
}

const NUM = /-?(?:0|[1-9]\d*)(\.\d+)?([eE][-+]?\d+)?/y;
const HEX4 = /^[0-9a-fA-F]{4}$/;

/** Scan `text` as one JSON value (whitespace around it allowed). */
export function scanJson(text: string, opts: ScanOptions = {}): JsonValue {
  const maxDepth = opts.maxDepth ?? Infinity;
  const build = !opts.checkOnly;
  let i = 0;
  const n = text.length;
  const ws = (): void => {
    while (i < n) {
      const c = text.charCodeAt(i);
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) i++;
      else break;
    }
  };
  const fail = (what: string): never => {
    throw new JsonScanError(what, i);
  };
  const ch = (): string => (i < n ? JSON.stringify(text[i]) : 'end of file (truncated?)');
  const str = (): string => {
    const start = i;
    let escaped = false;
    i++; // opening quote
    for (;;) {
      if (i >= n) fail('unterminated string (truncated?)');
      const c = text.charCodeAt(i);
      if (c === 0x22) break;
      if (c < 0x20) fail('control character in a string (escape it)');
      if (c === 0x5c) {
        escaped = true;
        const e = text[i + 1];
        if (e === 'u') {
          if (!HEX4.test(text.slice(i + 2, i + 6))) fail('invalid \\u escape');
          i += 6;
        } else if (e !== undefined && '"\\/bfnrt'.includes(e)) i += 2;
        else fail('invalid escape in a string');
      } else i++;
    }
    i++;
    if (!build) return '';
    return escaped ? (JSON.parse(text.slice(start, i)) as string) : text.slice(start + 1, i - 1);
  };
  const val = (depth: number): JsonValue => {
    if (depth > maxDepth) fail('nesting too deep');
    ws();
    const c = text[i];
    if (c === '{') {
      i++;
      const m = new Map<string, JsonValue>();
      ws();
      if (text[i] === '}') {
        i++;
        return m;
      }
      for (;;) {
        ws();
        if (text[i] !== '"') fail(`expected a "key" but found ${ch()}`);
        const k = str();
        ws();
        if (text[i] !== ':') fail(`expected ":" but found ${ch()}`);
        i++;
        const v = val(depth + 1);
        if (build) m.set(k, v);
        ws();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === '}') {
          i++;
          return m;
        }
        fail(`expected "," or "}" but found ${ch()}`);
      }
    }
    if (c === '[') {
      i++;
      const a: JsonValue[] = [];
      ws();
      if (text[i] === ']') {
        i++;
        return a;
      }
      for (;;) {
        const v = val(depth + 1);
        if (build) a.push(v);
        ws();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === ']') {
          i++;
          return a;
        }
        fail(`expected "," or "]" but found ${ch()}`);
      }
    }
    if (c === '"') return str();
    if (text.startsWith('true', i)) {
      i += 4;
      return true;
    }
    if (text.startsWith('false', i)) {
      i += 5;
      return false;
    }
    if (text.startsWith('null', i)) {
      i += 4;
      return null;
    }
    NUM.lastIndex = i;
    const m = c === '-' || (c !== undefined && c >= '0' && c <= '9') ? NUM.exec(text) : null;
    if (!m) return fail(c === '-' || (c !== undefined && c >= '0' && c <= '9') ? 'invalid number' : `unexpected ${ch()}`);
    i = NUM.lastIndex;
    if (!build) return null;
    if (m[1] === undefined && m[2] === undefined) return BigInt(m[0]);
    return Number(m[0]);
  };
  const v = val(0);
  ws();
  if (i < n) fail(`unexpected ${ch()} after the end of the JSON value`);
  return v;
}

/**
 * Where JSON text first goes wrong: [offset, what], or [length, 'invalid JSON']
 * when the scanner finds nothing wrong.
 */
export function jsonErrorAt(text: string): [number, string] {
  try {
    // Deep enough for any file JSON.parse refused for another reason; bounded so the scan cannot overflow the stack.
    scanJson(text, { checkOnly: true, maxDepth: 5000 });
  } catch (e) {
    if (e instanceof JsonScanError) return [e.at, e.what];
    throw e;
  }
  return [text.length, 'invalid JSON'];
}
