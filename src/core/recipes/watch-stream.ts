/**
 * `zkctl watch` and the shell's `watch`: a znode event stream (watchers.ts) run until --count
 * events, --for or an interrupt (a StreamControl), each event handed to the caller to show and,
 * with `exec`, to a hook (runHook: one at a time, in order, no ZKCTL_* credential in its
 * environment). Also what an event says as data (JSON lines, the data's text form, the hook's
 * variables); colours and printing are the caller's.
 */
import type { Session } from '../session.js';
import { hookFailure, runHook } from '../proc.js';
import type { StreamControl } from '../stream.js';
import { watchZnode, type WatchMechanism, type WatchNotice, type ZnodeEvent, type ZnodeWatch } from './watchers.js';

export interface WatchResult {
  path: string;
  mechanism: WatchMechanism;
  recursive: boolean;
  events: number;
  /** Why the stream ended. */
  reason: 'count' | 'for' | 'interrupted';
}

export interface FollowOptions {
  recursive?: boolean;
  data?: boolean;
  /** Re-armed one-shot watches even when the server has persistent ones. */
  oneShot?: boolean;
  /** Ends the stream: --count, --for, Ctrl-C. */
  stream: StreamControl;
  /** A shell command run for each event (sh -c), the data on its stdin. */
  exec?: string;
  /** Show an event (called before its hook). */
  onEvent: (e: ZnodeEvent) => void;
  /** A connection notice (disconnected, reconnected, session-expired). */
  onNotice: (n: WatchNotice) => void;
  /** A note for people: no persistent watches, the path does not exist yet. */
  onNote: (msg: string) => void;
  /** A hook failed ("--exec for created /a exited with 3"); the stream goes on. */
  onHookFailed: (msg: string) => void;
  /** The watch is registered. */
  onStart?: (mechanism: WatchMechanism) => void;
}

export const zxidHex = (z: bigint | undefined): string | undefined => (z === undefined ? undefined : `0x${z.toString(16)}`);

/** Data as UTF-8 text when it is valid UTF-8, else undefined. */
export function utf8(b: Buffer): string | undefined {
  const s = b.toString('utf8');
  return Buffer.from(s, 'utf8').equals(b) ? s : undefined;
}

/** UTF-8 data that parses as JSON: the parsed value. */
function parsedJson(t: string): { value: unknown } | undefined {
  if (!/^\s*[[{"0-9tfn-]/.test(t)) return undefined;
  try {
    return { value: JSON.parse(t) };
  } catch {
    return undefined;
  }
}

/**
 * Data in an event line: JSON data as compact JSON, other text as it is, except text with control
 * characters or line breaks, which is quoted with escapes (nothing reaches the terminal raw).
 */
export function dataText(b: Buffer): string {
  const t = utf8(b);
  if (t === undefined) return `<${b.length} bytes, base64 ${b.toString('base64')}>`;
  const j = parsedJson(t);
  if (j) return JSON.stringify(j.value);
  // eslint-disable-next-line no-control-regex
  return /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/.test(t) ? JSON.stringify(t) : t;
}

/** The JSON line of an event (zxids in hex, data as text or base64; data that is JSON also parsed, as "json"). */
export function eventJson(e: ZnodeEvent, withChildren: boolean): Record<string, unknown> {
  const o: Record<string, unknown> = { type: e.type, time: e.time.toISOString(), path: e.path };
  if (e.zxid !== undefined) o.zxid = zxidHex(e.zxid);
  // Named as in `stat -o json`: the data version of created/data-changed, the child version of children-changed.
  if (e.version !== undefined) o[e.type === 'children-changed' ? 'cversion' : 'dataVersion'] = e.version;
  if (e.data) {
    const t = utf8(e.data);
    if (t !== undefined) {
      o.data = t;
      const j = parsedJson(t);
      if (j) o.json = j.value;
    } else o.dataBase64 = e.data.toString('base64');
  }
  if (e.added) o.added = e.added;
  if (e.removed) o.removed = e.removed;
  if (withChildren && e.children) o.children = e.children;
  if (e.resync) o.resync = true;
  return o;
}

export function noticeJson(n: WatchNotice): Record<string, unknown> {
  const o: Record<string, unknown> = { type: n.type, time: n.time.toISOString() };
  if (n.server) o.server = n.server;
  if (n.downMs !== undefined) o.downMs = n.downMs;
  if (n.newSession !== undefined) o.newSession = n.newSession;
  if (n.changes !== undefined) o.changes = n.changes;
  if (n.missed) o.missed = n.missed;
  return o;
}

export function noticeText(n: WatchNotice): string {
  switch (n.type) {
    case 'disconnected':
      return `disconnected${n.server ? ` from ${n.server}` : ''}; reconnecting (the watch is re-registered on reconnect)`;
    case 'session-expired':
      return 'session expired: events may have been missed; starting a new session';
    case 'reconnected': {
      const after = n.downMs !== undefined ? ` after ${(n.downMs / 1000).toFixed(1)}s` : '';
      const what = n.newSession ? 'in a new session' : 'same session';
      const missed =
        n.missed === 'none'
          ? 'nothing changed meanwhile'
          : n.missed === 'net-only'
            ? `${n.changes} change(s) while disconnected, reported below as resync events (intermediate states not seen)`
            : 'events while disconnected may have been missed (subtree too large to compare)';
      return `reconnected${n.server ? ` to ${n.server}` : ''}${after} (${what}); ${missed}`;
    }
  }
}

/** The variables a hook gets for an event. */
export function watchHookEnv(e: ZnodeEvent): Record<string, string | undefined> {
  const env: Record<string, string | undefined> = {
    ZKCTL_WATCH_EVENT: e.type,
    ZKCTL_WATCH_PATH: e.path,
    ZKCTL_WATCH_ZXID: zxidHex(e.zxid) ?? '',
    ZKCTL_WATCH_VERSION: e.version !== undefined ? String(e.version) : '',
    ZKCTL_WATCH_TIME: e.time.toISOString(),
  };
  if (e.resync) env.ZKCTL_WATCH_RESYNC = '1';
  if (e.data) {
    const t = utf8(e.data);
    if (t !== undefined && !t.includes('\0')) env.ZKCTL_WATCH_DATA = t;
  }
  return env;
}

/**
 * Watch `path` until the stream ends: resolves with why (and how many events), or rejects with
 * the watch's own failure (the session gone for good). The watch is removed however it ends; a
 * running hook is stopped when the stream ends (SIGTERM, SIGKILL 2 s later).
 */
export async function followZnode(session: Session, path: string, o: FollowOptions): Promise<WatchResult> {
  const s = o.stream;
  let watch: ZnodeWatch | undefined;
  let hook: Promise<unknown> | undefined;
  try {
    watch = await watchZnode(session, path, {
      recursive: o.recursive,
      data: o.data,
      mechanism: o.oneShot ? 'one-shot' : 'auto',
      onEvent: async (e) => {
        if (!s.take()) return;
        o.onEvent(e);
        if (o.exec) {
          const r = await (hook = runHook(o.exec, { env: watchHookEnv(e), input: e.data ?? Buffer.alloc(0), signal: s.signal }));
          if (!r.ok) o.onHookFailed('error' in r ? `--exec: ${r.error.message}` : `--exec for ${e.type} ${e.path} ${hookFailure(r)}`);
        }
        s.settle();
      },
      onNotice: o.onNotice,
    });
    if (watch.fellBack) {
      o.onNote('the server has no persistent watches (ZooKeeper < 3.6): using one-shot watches re-armed after each event; changes in quick succession may be coalesced');
    }
    // A failed look (connection trouble) says nothing: the watch itself reports the connection.
    const st = await session.exists(path).catch(() => 'unknown' as const);
    if (st === null) o.onNote(`${path} does not exist yet; waiting for it to be created`);
    o.onStart?.(watch.mechanism);
    // A failed stream (the session gone for good, a broken pipe) ends with its error.
    const reason = await Promise.race([s.ended, watch.done.then(() => new Promise<never>(() => undefined))]);
    return { path, mechanism: watch.mechanism, recursive: !!o.recursive, events: s.events, reason };
  } finally {
    s.dispose();
    await watch?.stop();
    await hook; // stopped with the stream: gone before zkctl is

  }
}
