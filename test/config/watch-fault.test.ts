/**
 * watchConfig across a partition (its refresh loop's session-loss handling): the watcher talks to
 * one member through a TCP proxy; while the link is silent a new version is published; once the
 * link is back the watch reports it (the server does not replay what changed while no server held
 * the watch: the reconnect asks for a read). Aborting ends it and leaves no session listener.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { fromPlain, type ConfigMap } from '../../src/core/config/document.js';
import { publishConfig, watchConfig, type ConfigWatchEvent } from '../../src/core/recipes/config-publish.js';
import { Session } from '../../src/core/session.js';
import { TcpProxy } from '../helpers/proxy.js';
import { chrootSession, type ChrootSession, until } from '../helpers/session.js';
import { testServer } from '../helpers/zk.js';

describe('config watch across a partition', () => {
  let cs: ChrootSession;
  let proxy: TcpProxy;
  before(async () => {
    cs = await chrootSession('config-watch-fault');
    proxy = await TcpProxy.start(testServer().split(',')[0]!);
  });
  after(async () => {
    await proxy?.close();
    await cs?.close();
  });

  it('reports the version published while the link was silent once it is back, and ends cleanly', async () => {
    const doc = (k: number): ConfigMap => fromPlain({ gen: k }) as ConfigMap;
    await publishConfig(cs.session, '/cfg', doc(1));
    const ws = await Session.connect({ connectString: `${proxy.address}${cs.chroot}`, timeoutMs: 2000, sessionTimeoutMs: 10_000 });
    const baseline = ['state', 'connected', 'reconnected'].map((ev) => ws.listenerCount(ev));
    const ac = new AbortController();
    const versions: number[] = [];
    const notes: string[] = [];
    const watching = watchConfig(ws, '/cfg', {
      signal: ac.signal,
      onEvent: (e: ConfigWatchEvent) => {
        if (e.kind === 'version') versions.push(e.version);
      },
      onNote: (m) => notes.push(m),
    });
    try {
      await until('the initial version', () => versions.includes(1));
      proxy.silence();
      await until('the watcher noticed the silence', () => notes.some((n) => n.includes('connection lost')), 30_000);
      await publishConfig(cs.session, '/cfg', doc(2));
      proxy.forward();
      await until('version 2 reported after the reconnect', () => versions.includes(2), 30_000);
      assert.deepEqual(versions, [1, 2]);
    } finally {
      proxy.forward();
      ac.abort();
      await watching;
      assert.deepEqual(
        ['state', 'connected', 'reconnected'].map((ev) => ws.listenerCount(ev)),
        baseline,
        'no session listener left',
      );
      await ws.close();
    }
  });
});
