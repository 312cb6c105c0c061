/**
 * Consistent reads of a configuration: the tree under P read between two reads
 * of P's stat (again when P's version moved meanwhile), and the kept history.
 */
import { ExitCode, ZkCode, ZkctlError, isZkCode } from '../../errors.js';
import { joinPath } from '../../paths.js';
import { RequestWindow } from '../../pipeline.js';
import { type Stat } from '../../protocol/records.js';
import type { Session, WatchEvent } from '../../session.js';
import { configDigest } from '../../config/document.js';

import { checkConfigPath, decodeHistory, entryName, HISTORY_NODE, type HistoryEntry, historyPath, interpretTree, type LiveConfig, type LiveNode, parseRecord, recordLayout } from './layout.js';

/** Read the raw subtree below `root` (history excluded), pipelined (500 requests in flight at most). */
export async function readTree(session: Session, root: { path: string; data: Buffer; stat: Stat }): Promise<LiveNode> {
  const win = new RequestWindow(500);
  const top: LiveNode = { name: '', path: root.path, data: root.data, stat: root.stat, children: [] };
  const fill = async (node: LiveNode, isRoot: boolean): Promise<void> => {
    if (node.stat.numChildren === 0) return;
    let names: string[];
    try {
      names = (await win.run(() => session.getChildren(node.path))).children;
    } catch (e) {
      if (isZkCode(e, ZkCode.NO_NODE)) return;
      throw e;
    }
    if (isRoot) names = names.filter((n) => n !== HISTORY_NODE);
    const kids = await Promise.all(
      names.map(async (name): Promise<LiveNode | undefined> => {
        const p = joinPath(node.path, name);
        try {
          const r = await win.run(() => session.get(p));
          return { name, path: p, data: r.data, stat: r.stat, children: [] };
        } catch (e) {
          if (isZkCode(e, ZkCode.NO_NODE)) return undefined;
          throw e;
        }
      }),
    );
    node.children = kids.filter((k): k is LiveNode => k !== undefined);
    await Promise.all(node.children.map((c) => fill(c, false)));
  };
  await fill(top, true);
  return top;
}

/**
 * Read the live configuration at P, consistently: the tree is read between two
 * reads of P's stat and read again if P changed in between. Syncs first (unless
 * `sync: false`), so it sees everything committed before the call. With `watcher`, a
 * data watch is left on P (or an existence watch when P is missing).
 */
export async function readConfig(
  session: Session,
  path: string,
  opts: { watcher?: (ev: WatchEvent) => void; attempts?: number; sync?: boolean } = {},
): Promise<LiveConfig> {
  checkConfigPath(path, session.chroot);
  const attempts = opts.attempts ?? 10;
  // The server this session talks to may lag behind the leader: catch up first, so that what
  // another client published before this call is seen (and a publish does not plan from a
  // stale version and fail its version check for nothing).
  if (opts.sync !== false) await session.sync(path);
  for (let attempt = 0; attempt < attempts; attempt++) {
    const watcher = attempt === 0 ? opts.watcher : undefined;
    let top: { data: Buffer; stat: Stat };
    try {
      top = await session.get(path, watcher);
    } catch (e) {
      if (!isZkCode(e, ZkCode.NO_NODE)) throw e;
      if (watcher) {
        const st = await session.exists(path, watcher);
        if (st) continue; // created in between: read it
      }
      return { path, exists: false, foreignData: false, version: 0, document: new Map(), drift: false, layout: 'nodes' };
    }
    const rec0 = parseRecord(top.data);
    if (rec0 !== undefined && rec0 !== 'foreign' && recordLayout(rec0) === 'document') {
      // One znode: this one read is the whole version.
      const document = rec0.document ?? new Map();
      return {
        path,
        exists: true,
        record: rec0,
        foreignData: false,
        version: rec0.version,
        stat: top.stat,
        document,
        drift: configDigest(document) !== rec0.sha256,
        layout: 'document',
      };
    }
    const tree = await readTree(session, { path, ...top });
    const after = await session.exists(path);
    if (!after || after.version !== top.stat.version || after.mzxid !== top.stat.mzxid) continue;
    const rec = rec0;
    const record = rec === 'foreign' ? undefined : rec;
    const document = interpretTree(tree, record && record.layout !== 'document' ? record.layout : undefined);
    return {
      path,
      exists: true,
      record,
      foreignData: rec === 'foreign',
      version: record?.version ?? 0,
      stat: top.stat,
      document,
      tree,
      drift: record ? configDigest(document) !== record.sha256 : false,
      layout: 'nodes',
    };
  }
  throw new ZkctlError(`${path} kept changing while it was read (${attempts} attempts)`, ExitCode.FAILURE, { hint: 'publishes are arriving faster than they can be read; try again' });
}

export async function historyVersions(session: Session, path: string): Promise<number[]> {
  try {
    const { children } = await session.getChildren(historyPath(path));
    return children
      .filter((n) => /^\d{10}$/.test(n))
      .map(Number)
      .sort((a, b) => a - b);
  } catch (e) {
    if (isZkCode(e, ZkCode.NO_NODE)) return [];
    throw e;
  }
}

/** Kept versions, oldest first (the document of each included). */
export async function configHistory(session: Session, path: string): Promise<HistoryEntry[]> {
  checkConfigPath(path, session.chroot);
  await session.sync(path);
  if (!(await session.exists(path))) throw await session.noNode(path);
  const versions = await historyVersions(session, path);
  const hist = historyPath(path);
  const entries = await Promise.all(
    versions.map(async (v) => {
      const p = joinPath(hist, entryName(v));
      try {
        return decodeHistory((await session.get(p)).data, p);
      } catch (e) {
        if (isZkCode(e, ZkCode.NO_NODE)) return undefined; // pruned meanwhile
        throw e;
      }
    }),
  );
  return entries.filter((e): e is HistoryEntry => e !== undefined);
}

/** One kept version; ZkctlError exit 3 when it is not (or no longer) kept. */
export async function readHistoryEntry(session: Session, path: string, version: number): Promise<HistoryEntry> {
  checkConfigPath(path, session.chroot);
  await session.sync(path);
  const p = joinPath(historyPath(path), entryName(version));
  try {
    return decodeHistory((await session.get(p)).data, p);
  } catch (e) {
    if (!isZkCode(e, ZkCode.NO_NODE)) throw e;
    const kept = await historyVersions(session, path);
    throw new ZkctlError(`version ${version} of ${path} is not in its history`, ExitCode.NO_NODE, {
      hint: kept.length ? `kept versions: ${kept[0]}..${kept[kept.length - 1]}` : 'no history is kept at this path',
    });
  }
}
