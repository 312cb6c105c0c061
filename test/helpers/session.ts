/** Session helpers for tests: a chroot of one's own on the shared ensemble. */
import { ensurePath } from '../../src/core/nodes.js';
import { Session, type SessionOptions, type SessionState } from '../../src/core/session.js';
import { testServer, uniqueChroot } from './zk.js';

export interface ChrootSession {
  /** Session connected with the chroot applied (paths are relative to it). */
  session: Session;
  chroot: string;
  /** Connect string with the chroot, for the CLI (-s) or more sessions. */
  server: string;
  close(): Promise<void>;
}

/** Create every missing node of `path` (persistent, empty). */
export async function mkdirp(s: Session, path: string): Promise<void> {
  await ensurePath(s, path);
}

/** Make a unique chroot on the shared ensemble and connect inside it. */
export async function chrootSession(name: string, opts: Partial<SessionOptions> = {}): Promise<ChrootSession> {
  const chroot = uniqueChroot(name);
  const root = await Session.connect({ connectString: testServer(), timeoutMs: 10_000 });
  try {
    await mkdirp(root, chroot);
  } finally {
    await root.close();
  }
  const server = `${testServer()}${chroot}`;
  const session = await Session.connect({ connectString: server, timeoutMs: 10_000, ...opts });
  return { session, chroot, server, close: () => session.close() };
}

/** Resolves with the ms waited when the session next emits `state`; rejects after `ms`. */
export function waitForState(s: Session, state: SessionState, ms: number): Promise<number> {
  const t0 = Date.now();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      s.removeListener(state, on);
      reject(new Error(`no '${state}' within ${ms} ms (state ${s.state})`));
    }, ms);
    const on = (): void => {
      clearTimeout(timer);
      resolve(Date.now() - t0);
    };
    s.once(state, on);
  });
}

/** Wait until `cond` holds, checking every `everyMs`; throws naming `what` after `ms`. */
export async function until(what: string, cond: () => boolean | Promise<boolean>, ms = 20_000, everyMs = 50): Promise<void> {
  const end = Date.now() + ms;
  for (;;) {
    if (await cond()) return;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
