/**
 * Compare two subtrees (same or different ensembles) node by node: presence,
 * data (bytes), ACL, ephemeral or not.
 *
 * Both trees are walked at once with the pipelined walker, which delivers
 * nodes depth-first with children sorted by name; the two ordered streams are
 * merged like a sorted-file join, so memory stays at the walkers' windows
 * whatever the size of the trees.
 */
import { aclEqual, formatAcl, isRedacted } from './acl.js';
import { kindOf, pruneReserved, relPath } from './backup.js';
import type { ACL, Stat } from './protocol/records.js';
import type { Session } from './session.js';
import { type NodeInfo, walk } from './tree.js';

export type DiffKind = 'only-a' | 'only-b' | 'changed';

export interface DiffEntry {
  kind: DiffKind;
  /** Relative to both roots: '.' for the roots themselves. */
  path: string;
  /** For 'changed': what differs. */
  what: Array<'data' | 'acl' | 'ephemeral'>;
  /** Human summary of the difference. */
  detail: string;
}

export interface TreeDiffOptions {
  window?: number;
  /** Do not compare data. */
  ignoreData?: boolean;
  /** Do not compare ACLs. */
  ignoreAcl?: boolean;
  /** Leave ephemeral nodes out on both sides. */
  ignoreEphemeral?: boolean;
  signal?: AbortSignal;
}

export interface TreeDiffCounts {
  onlyA: number;
  onlyB: number;
  changed: number;
  same: number;
  /** Nodes whose ACL the server redacted on either side (digest hashes hidden without ADMIN): compared as shown. */
  redacted: number;
}

/** Compare two relative paths in the walker's order (depth-first, children sorted by name). */
export function compareRel(a: string, b: string): number {
  if (a === b) return 0;
  if (a === '.') return -1;
  if (b === '.') return 1;
  const sa = a.split('/');
  const sb = b.split('/');
  const n = Math.min(sa.length, sb.length);
  for (let i = 0; i < n; i++) {
    if (sa[i] !== sb[i]) return sa[i] < sb[i] ? -1 : 1;
  }
  return sa.length - sb.length;
}

function preview(b: Buffer): string {
  const s = b.toString('utf8');
  if (b.length <= 40 && Buffer.from(s, 'utf8').equals(b)) return JSON.stringify(s);
  return `${b.length} bytes`;
}

interface Side {
  rel: string;
  stat: Stat;
  data?: Buffer;
  acl?: ACL[];
}

async function* side(session: Session, root: string, opts: TreeDiffOptions): AsyncGenerator<Side> {
  const w = walk(session, root, {
    withData: !opts.ignoreData,
    withAcl: !opts.ignoreAcl,
    window: opts.window,
    signal: opts.signal,
    prune: pruneReserved(session, root),
  });
  for await (const n of w as AsyncIterable<NodeInfo>) {
    if (opts.ignoreEphemeral && kindOf(n.stat).type === 'ephemeral') continue;
    yield { rel: relPath(root, n.path), stat: n.stat, data: n.data, acl: n.acl };
  }
}

/** The differences, in tree order. `counts` (filled as it goes) also counts equal nodes. */
export async function* diffTrees(
  a: { session: Session; root: string },
  b: { session: Session; root: string },
  opts: TreeDiffOptions = {},
  counts: TreeDiffCounts = { onlyA: 0, onlyB: 0, changed: 0, same: 0, redacted: 0 },
): AsyncGenerator<DiffEntry> {
  const ia = side(a.session, a.root, opts)[Symbol.asyncIterator]();
  const ib = side(b.session, b.root, opts)[Symbol.asyncIterator]();
  try {
    // Fetch both heads at once: the walks run concurrently.
    let [ra, rb] = await Promise.all([ia.next(), ib.next()]);
    while (!ra.done || !rb.done) {
      const c = ra.done ? 1 : rb.done ? -1 : compareRel(ra.value.rel, rb.value.rel);
      if (c < 0) {
        const x = ra.value as Side;
        counts.onlyA++;
        yield { kind: 'only-a', path: x.rel, what: [], detail: `only in A${kindOf(x.stat).type === 'ephemeral' ? ' (ephemeral)' : ''}` };
        ra = await ia.next();
        continue;
      }
      if (c > 0) {
        const y = rb.value as Side;
        counts.onlyB++;
        yield { kind: 'only-b', path: y.rel, what: [], detail: `only in B${kindOf(y.stat).type === 'ephemeral' ? ' (ephemeral)' : ''}` };
        rb = await ib.next();
        continue;
      }
      const x = ra.value as Side;
      const y = rb.value as Side;
      const what: DiffEntry['what'] = [];
      const details: string[] = [];
      if (!opts.ignoreData && x.data && y.data && !x.data.equals(y.data)) {
        what.push('data');
        details.push(`data ${preview(x.data)} -> ${preview(y.data)}`);
      }
      if (!opts.ignoreAcl && x.acl && y.acl) {
        if (x.acl.some(isRedacted) || y.acl.some(isRedacted)) counts.redacted++;
        if (!aclEqual(x.acl, y.acl)) {
          what.push('acl');
          details.push(`acl ${x.acl.map(formatAcl).join(',')} -> ${y.acl.map(formatAcl).join(',')}`);
        }
      }
      const ea = kindOf(x.stat).type === 'ephemeral';
      const eb = kindOf(y.stat).type === 'ephemeral';
      if (ea !== eb) {
        what.push('ephemeral');
        details.push(ea ? 'ephemeral -> persistent' : 'persistent -> ephemeral');
      }
      if (what.length > 0) {
        counts.changed++;
        yield { kind: 'changed', path: x.rel, what, detail: details.join('; ') };
      } else counts.same++;
      [ra, rb] = await Promise.all([ia.next(), ib.next()]);
    }
  } finally {
    await Promise.all([ia.return?.(undefined), ib.return?.(undefined)]);
  }
}

export function describeDiffCounts(c: TreeDiffCounts): string {
  const parts: string[] = [];
  if (c.onlyA) parts.push(`${c.onlyA} only in A`);
  if (c.onlyB) parts.push(`${c.onlyB} only in B`);
  if (c.changed) parts.push(`${c.changed} changed`);
  parts.push(`${c.same} equal`);
  return parts.join(', ');
}
