/**
 * Differences between two configuration documents, key by key.
 *
 * Keys are reported as slash-joined paths ("db/pool/size"; keys cannot hold "/").
 * A mapping that appears or disappears is reported leaf by leaf (an empty mapping
 * as one entry with the value {}); a key whose value changes between a mapping
 * and anything else is reported as the removal of the old leaves and the
 * addition of the new ones. A mapping whose shared keys changed order gets one
 * 'reorder' entry (old and new key lists).
 */
import { type ConfigMap, type ConfigValue, encodeJson } from './document.js';

export type ChangeOp = 'add' | 'change' | 'remove' | 'reorder';

export interface ConfigChange {
  op: ChangeOp;
  /** "a/b/c"; '' for the top level (reorder only). */
  key: string;
  old?: ConfigValue;
  new?: ConfigValue;
}

export interface ChangeCounts {
  added: number;
  changed: number;
  removed: number;
  reordered: number;
}

function join(prefix: string, k: string): string {
  return prefix ? `${prefix}/${k}` : k;
}

/** Leaves of a value as [key, value] (an empty mapping is a leaf {}). */
function flatten(prefix: string, v: ConfigValue, out: Array<[string, ConfigValue]>): void {
  if (v instanceof Map && v.size > 0) {
    for (const [k, x] of v) flatten(join(prefix, k), x, out);
  } else out.push([prefix, v]);
}

/** Changes that turn `from` into `to` (from undefined: everything is added). */
export function diffDocuments(from: ConfigMap | undefined, to: ConfigMap): ConfigChange[] {
  const out: ConfigChange[] = [];
  const add = (key: string, v: ConfigValue): void => {
    const leaves: Array<[string, ConfigValue]> = [];
    flatten(key, v, leaves);
    for (const [k, x] of leaves) out.push({ op: 'add', key: k, new: x });
  };
  const remove = (key: string, v: ConfigValue): void => {
    const leaves: Array<[string, ConfigValue]> = [];
    flatten(key, v, leaves);
    for (const [k, x] of leaves) out.push({ op: 'remove', key: k, old: x });
  };
  const walk = (a: ConfigMap, b: ConfigMap, prefix: string): void => {
    const sharedA = [...a.keys()].filter((k) => b.has(k));
    const sharedB = [...b.keys()].filter((k) => a.has(k));
    if (sharedA.some((k, i) => sharedB[i] !== k)) out.push({ op: 'reorder', key: prefix, old: [...a.keys()], new: [...b.keys()] });
    for (const [k, nv] of b) {
      const key = join(prefix, k);
      if (!a.has(k)) {
        add(key, nv);
        continue;
      }
      const ov = a.get(k) as ConfigValue;
      if (ov instanceof Map && nv instanceof Map) {
        if (ov.size === 0 && nv.size > 0) {
          out.push({ op: 'remove', key, old: ov });
          add(key, nv);
        } else if (nv.size === 0 && ov.size > 0) {
          remove(key, ov);
          out.push({ op: 'add', key, new: nv });
        } else walk(ov, nv, key);
      } else if (ov instanceof Map || nv instanceof Map) {
        remove(key, ov);
        add(key, nv);
      } else if (encodeJson(ov) !== encodeJson(nv)) {
        out.push({ op: 'change', key, old: ov, new: nv });
      }
    }
    for (const [k, ov] of a) if (!b.has(k)) remove(join(prefix, k), ov);
  };
  walk(from ?? new Map(), to, '');
  return out;
}

export function countChanges(changes: ConfigChange[]): ChangeCounts {
  const c: ChangeCounts = { added: 0, changed: 0, removed: 0, reordered: 0 };
  for (const x of changes) {
    if (x.op === 'add') c.added++;
    else if (x.op === 'change') c.changed++;
    else if (x.op === 'remove') c.removed++;
    else c.reordered++;
  }
  return c;
}

