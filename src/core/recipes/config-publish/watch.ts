/**
 * Watching a configuration: one event per committed version, read consistently.
 */
import { ConnectionError, ExitCode, ZkctlError } from '../../errors.js';
import type { Session } from '../../session.js';
import { type ConfigMap } from '../../config/document.js';
import { type ConfigChange, diffDocuments } from '../../config/diff.js';

import { checkConfigPath, type HistoryEntry, type LiveConfig } from './layout.js';
import { readConfig, readHistoryEntry } from './read.js';
import { RefreshLoop } from '../refresh.js';

export interface ConfigVersionEvent {
  kind: 'version';
  path: string;
  version: number;
  time?: string;
  publisher?: string;
  message?: string;
  rollbackOf?: number;
  sha256: string;
  document: ConfigMap;
  /** 'live': read from the tree; 'history': a version that was superseded before it could be read, from the history. */
  source: 'live' | 'history';
  /** The version current when the watch started. */
  initial: boolean;
  /** Changes from the previous reported version (absent for the first). */
  changes?: ConfigChange[];
  /** The live tree differs from what that version published (changed outside zkctl). */
  drift?: boolean;
}

export type ConfigWatchEvent =
  | ConfigVersionEvent
  | { kind: 'deleted'; path: string }
  | { kind: 'missed'; path: string; from: number; to: number };

export interface WatchConfigOptions {
  signal?: AbortSignal;
  /** Report the version current at the start (default true). */
  initial?: boolean;
  /** Report versions that were superseded before they could be read, from the history (default true). */
  catchUp?: boolean;
  /** Called for each event, in order; the watch waits for it (back-pressure for reload hooks). */
  onEvent: (e: ConfigWatchEvent) => void | Promise<void>;
  /** Notes for people (waiting for the path, connection trouble). */
  onNote?: (msg: string) => void;
}

/**
 * Watch P's data (the commit point of every publish) and report every new
 * version, each read consistently. Resolves when `signal` aborts (or rejects
 * with a non-connection error). Survives connection loss (re-reads when the
 * session is back).
 */
export async function watchConfig(session: Session, path: string, opts: WatchConfigOptions): Promise<void> {
  checkConfigPath(path, session.chroot);
  const signal = opts.signal;
  let last: { version: number; document: ConfigMap } | undefined;
  let deleted = false;
  let first = true;
  let noted = false;
  let reconnected = false;

  /** One read of P (consistent), and the events it makes. */
  const readOnce = async (): Promise<void> => {
    if (signal?.aborted) return;
    // After a notification the server has the change: no sync needed then.
    const live: LiveConfig = await readConfig(session, path, { watcher: () => loop.schedule(), sync: first || reconnected });
    reconnected = false;
    if (signal?.aborted) return;
    if (!live.exists || !live.record) {
      if (last && !deleted && !live.exists) {
        deleted = true;
        await opts.onEvent({ kind: 'deleted', path });
      }
      if (!noted) {
        opts.onNote?.(live.exists ? `${path} has not been published yet; waiting` : `${path} does not exist; waiting for a publish`);
        noted = true;
      }
      first = false;
      return;
    }
    deleted = false;
    const rec = live.record;
    if (last && rec.version === last.version) return;
    if (first && opts.initial === false) {
      last = { version: rec.version, document: live.document };
      first = false;
      return;
    }
    if (last && rec.version > last.version + 1 && opts.catchUp !== false) {
      let from = last.version + 1;
      for (let v = last.version + 1; v < rec.version && !signal?.aborted; v++) {
        let entry: HistoryEntry | undefined;
        try {
          entry = await readHistoryEntry(session, path, v);
        } catch (e) {
          if (!(e instanceof ZkctlError && e.exitCode === ExitCode.NO_NODE)) throw e;
        }
        if (!entry) continue;
        if (v > from) await opts.onEvent({ kind: 'missed', path, from, to: v - 1 });
        from = v + 1;
        const ev: ConfigVersionEvent = {
          kind: 'version',
          path,
          version: v,
          time: entry.time,
          publisher: entry.publisher,
          sha256: entry.sha256,
          document: entry.document,
          source: 'history',
          initial: false,
          changes: diffDocuments(last.document, entry.document),
          ...(entry.message !== undefined ? { message: entry.message } : {}),
          ...(entry.rollbackOf !== undefined ? { rollbackOf: entry.rollbackOf } : {}),
        };
        await opts.onEvent(ev);
        last = { version: v, document: entry.document };
      }
      if (from < rec.version) await opts.onEvent({ kind: 'missed', path, from, to: rec.version - 1 });
    }
    const ev: ConfigVersionEvent = {
      kind: 'version',
      path,
      version: rec.version,
      time: rec.time,
      publisher: rec.publisher,
      sha256: rec.sha256,
      document: live.document,
      source: 'live',
      initial: first,
      ...(rec.message !== undefined ? { message: rec.message } : {}),
      ...(rec.rollbackOf !== undefined ? { rollbackOf: rec.rollbackOf } : {}),
      ...(last ? { changes: diffDocuments(last.document, live.document) } : {}),
      ...(live.drift ? { drift: true } : {}),
    };
    first = false;
    last = { version: rec.version, document: live.document };
    await opts.onEvent(ev);
  };

  // One read at a time; notifications and reconnects while one runs (or while onEvent runs: the
  // watch waits for it) make one more read after it.
  let failed: ((e: unknown) => void) | undefined;
  const loop = new RefreshLoop(session, readOnce, {
    onError: (e) => {
      if (signal?.aborted) return;
      if (e instanceof ConnectionError || (e instanceof ZkctlError && e.exitCode === ExitCode.CONNECTION)) {
        opts.onNote?.(`read failed (${e.message}); retrying`);
        loop.later(1000);
        return;
      }
      failed?.(e);
    },
  });
  const onState = (s: string): void => {
    if (s === 'reconnected' || s === 'connected') reconnected = true;
    else if (s === 'suspended') opts.onNote?.('connection lost; waiting to reconnect');
  };
  session.on('state', onState);
  try {
    await new Promise<void>((resolve, reject) => {
      const onAbort = (): void => {
        loop.stop();
        resolve();
      };
      failed = (e) => {
        loop.stop();
        signal?.removeEventListener('abort', onAbort);
        reject(e);
      };
      if (signal?.aborted) return onAbort();
      signal?.addEventListener('abort', onAbort, { once: true });
      void loop.start();
    });
  } finally {
    loop.stop();
    session.removeListener('state', onState);
    // A read or an onEvent in progress ends first (what the caller's hook is doing included).
    await loop.settled();
  }
}
