/**
 * How config results look: change lines (config diff, publish, watch), count
 * summaries, and JSON for results that hold documents. Presentation, so here
 * and not in core (core/config computes the changes and encodes documents).
 */
import { type ChangeCounts, type ConfigChange } from '../core/config/diff.js';
import { type ConfigValue, encodeJson, floatText } from '../core/config/document.js';

export function describeCounts(c: ChangeCounts): string {
  const parts = [`${c.added} added`, `${c.changed} changed`, `${c.removed} removed`];
  if (c.reordered) parts.push(`${c.reordered} reordered`);
  return parts.join(', ');
}

export interface RenderStyle {
  add?: (s: string) => string;
  remove?: (s: string) => string;
  change?: (s: string) => string;
}

/**
 * One line per change:
 *   + key: value
 *   - key: value
 *   ~ key: old -> new
 *   ~ key (key order): [a, b] -> [b, a]
 * Values are canonical JSON on one line.
 */
export function renderChanges(changes: ConfigChange[], style: RenderStyle = {}): string {
  const id = (s: string): string => s;
  const add = style.add ?? id;
  const rem = style.remove ?? id;
  const chg = style.change ?? id;
  return changes
    .map((c) => {
      const key = c.key === '' ? '(top level)' : c.key;
      switch (c.op) {
        case 'add':
          return add(`+ ${key}: ${encodeJson(c.new ?? null)}`);
        case 'remove':
          return rem(`- ${key}: ${encodeJson(c.old ?? null)}`);
        case 'change':
          return chg(`~ ${key}: ${encodeJson(c.old ?? null)} -> ${encodeJson(c.new ?? null)}`);
        default:
          return chg(`~ ${key} (key order): ${fmtKeys(c.old)} -> ${fmtKeys(c.new)}`);
      }
    })
    .join('\n');
}

function fmtKeys(v: ConfigValue | undefined): string {
  return Array.isArray(v) ? `[${v.map((x) => String(x)).join(', ')}]` : '[]';
}

/**
 * JSON text for a result that may hold documents (Maps) anywhere: Maps keep
 * their order (and, as documents, their float/integer distinction), bigints
 * are digits, Buffers base64, undefined fields dropped. `indent` 0: one line.
 */
export function resultJson(value: unknown, indent = 2): string {
  const pad = ' '.repeat(indent);
  const enc = (x: unknown, cur: string, inDoc: boolean): string | undefined => {
    if (x === undefined || typeof x === 'function') return undefined;
    if (x === null) return 'null';
    if (typeof x === 'bigint') return x.toString();
    if (typeof x === 'number') return !Number.isFinite(x) ? 'null' : inDoc ? floatText(x) : JSON.stringify(x);
    if (typeof x === 'string' || typeof x === 'boolean') return JSON.stringify(x);
    if (Buffer.isBuffer(x)) return JSON.stringify(x.toString('base64'));
    if (x instanceof Date) return JSON.stringify(x.toISOString());
    const next = cur + pad;
    const nl = indent ? '\n' : '';
    const sep = indent ? ': ' : ':';
    if (Array.isArray(x)) {
      if (x.length === 0) return '[]';
      return `[${nl}${x.map((i) => `${next}${enc(i, next, inDoc) ?? 'null'}`).join(`,${nl}`)}${nl}${cur}]`;
    }
    const isDoc = inDoc || x instanceof Map;
    const entries: Array<[string, unknown]> = x instanceof Map ? [...x].map(([k, v]) => [String(k), v]) : Object.entries(x as Record<string, unknown>);
    const parts = entries.map(([k, v]) => [k, enc(v, next, isDoc)] as const).filter(([, v]) => v !== undefined);
    if (parts.length === 0) return '{}';
    return `{${nl}${parts.map(([k, v]) => `${next}${JSON.stringify(k)}${sep}${v}`).join(`,${nl}`)}${nl}${cur}}`;
  };
  return enc(value, '', false) ?? 'null';
}
