/**
 * Issue 10 items 6, 12 (shell), 19: long durations wait (Node's timers alone
 * fire at once past 2^31-1 ms: `get --timeout 597h` exited 8 at once, `watch
 * --for 1000h` exited 0 at once); the shell's /zookeeper guard goes through the
 * chroot; a chroot that does not exist is named.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ExitCode } from '../../src/core/errors.js';
import { Session } from '../../src/core/session.js';
import { chrootSession, type ChrootSession } from '../helpers/session.js';
import { runCli, testServer, uniqueChroot } from '../helpers/zk.js';
import { CliStream, probeUntilLive, sleep } from '../watch/util.js';

describe('long durations wait instead of ending at once', () => {
  let c: ChrootSession;
  let s: Session;
  before(async () => {
    c = await chrootSession('long-wait');
    s = c.session;
    await s.create('/x', Buffer.from('v0'));
  });
  after(async () => {
    await c?.close();
  });

  it('get --timeout 597h reads the node (exit 0, not 8)', async () => {
    const r = await runCli(['get', '/x', '--timeout', '597h', '-s', c.server]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'v0');
    assert.equal(r.stderr, '');
  });

  it('get -w --for 597h waits for the change', async () => {
    await s.create('/w', Buffer.from('w0'));
    const run = runCli(['get', '-w', '/w', '--for', '597h', '-s', c.server], { timeoutMs: 60_000 });
    let done = false;
    void run.then(() => (done = true));
    // It may not have set its watch yet: change the node until it reports a change.
    for (let i = 1; !done && i < 400; i++) {
      await s.set('/w', Buffer.from(`w${i}`));
      await sleep(100);
    }
    const r = await run;
    assert.equal(r.code, 0, `exit ${r.code}: ${r.stderr}`);
    assert.match(r.stdout, /^w\d+$/);
    assert.doesNotMatch(r.stderr, /TimeoutOverflowWarning/);
  });

  it('watch --for 1000h keeps watching until Ctrl-C', async () => {
    await s.create('/live', Buffer.from(''));
    const w = new CliStream(['watch', '/live', '--for', '1000h', '-o', 'json', '-s', c.server]);
    try {
      await probeUntilLive(w, s, '/live');
      await s.set('/live', Buffer.from('later'));
      await w.waitForJson('data-changed later', (o) => o.type === 'data-changed');
      w.kill('SIGINT');
      const { code } = await w.exited;
      assert.equal(code, ExitCode.INTERRUPTED, w.stderr);
      assert.doesNotMatch(w.stderr, /TimeoutOverflowWarning/);
    } finally {
      w.kill('SIGKILL');
    }
  });

  it('lock --timeout 597h takes a free lock and runs the command', async () => {
    const r = await runCli(['lock', '/locks/l', '--timeout', '597h', '-s', c.server, '--', 'sh', '-c', 'echo ran']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), 'ran');
  });
});

describe('the shell guards /zookeeper on the server-side path', () => {
  it('create and set through the chroot /zookeeper are refused, nothing written', async () => {
    const root = await Session.connect({ connectString: testServer(), timeoutMs: 10_000 });
    try {
      const quota = await root.get('/zookeeper/quota');
      for (const cmd of ['create /quota/x y', 'set /quota y', 'setacl /quota world:anyone:r', 'rm /quota']) {
        const r = await runCli(['shell', '-e', '--no-history', '-s', `${testServer()}/zookeeper`], { input: `${cmd}\n` });
        assert.equal(r.code, ExitCode.USAGE, `${cmd}: exit ${r.code}: ${r.stdout} ${r.stderr}`);
        assert.match(r.stderr, /server's own subtree/, cmd);
      }
      assert.equal(await root.exists('/zookeeper/quota/x'), null);
      const after = await root.get('/zookeeper/quota');
      assert.equal(after.stat.version, quota.stat.version);
      assert.equal(after.stat.aversion, quota.stat.aversion);
    } finally {
      await root.close();
    }
  });
});

describe('a chroot that does not exist is named', () => {
  const chroot = uniqueChroot('missing');
  const server = (): string => `${testServer()}${chroot}`;
  const cases: Array<[string, string[]]> = [
    ['ls /', ['ls', '/']],
    ['get', ['get', '/x']],
    ['stat', ['stat', '/x']],
    ['create', ['create', '/x', 'y']],
    ['create -p', ['create', '-p', '/a/b', 'y']],
    ['set', ['set', '/x', 'y']],
    ['rm', ['rm', '/x']],
    ['rm -r', ['rm', '-r', '/x']],
    ['config get', ['config', 'get', '/cfg']],
  ];
  for (const [name, args] of cases) {
    it(name, async () => {
      const r = await runCli([...args, '-s', server()]);
      assert.equal(r.code, ExitCode.NO_NODE, `exit ${r.code}: ${r.stderr}`);
      assert.match(r.stderr, new RegExp(`^zkctl: chroot ${chroot} does not exist on the server.*create it first: zkctl create ${chroot} --server ${testServer().replace(/[.]/g, '\\.')};`));
      assert.equal(r.stderr.trimEnd().split('\n').length, 1, r.stderr);
    });
  }

  it('import names the chroot, not "zkctl create /"', async () => {
    const r = await runCli(['import', '-', '/t', '-s', server()], {
      input: 'format: zkctl-backup\nversion: 1\nnodes:\n- path: .\n  data: x\ncount: 1\n',
    });
    assert.equal(r.code, ExitCode.NO_NODE, r.stderr);
    assert.match(r.stderr, new RegExp(`chroot ${chroot} does not exist`));
    assert.doesNotMatch(r.stderr, /zkctl create \/\)/);
  });

  it('an existing chroot keeps the plain message', async () => {
    const c = await chrootSession('chroot-exists');
    try {
      const r = await runCli(['get', '/nope', '-s', c.server]);
      assert.equal(r.code, ExitCode.NO_NODE);
      assert.match(r.stderr, /^zkctl: \/nope: no such node/);
    } finally {
      await c.close();
    }
  });
});
