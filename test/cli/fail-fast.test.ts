/**
 * Connecting to an ensemble that is down (issue 11): when every member refuses TCP (nothing listens),
 * a command fails with exit 8 at once instead of waiting out --timeout; members that do not answer at
 * all (black-holed with nftables, a table of the test's own) are still waited for.
 */
import assert from 'node:assert/strict';
import { createServer, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { nftAvailable, NftTable } from '../session/nft.js';
import { onScript, noScript, zkctlLine } from '../helpers/pty.js';
import { runCli, startFaultEnsemble, type FaultEnsemble } from '../helpers/zk.js';

const skip = await nftAvailable();

describe('fail fast when every member refuses', { skip }, () => {
  let fe: FaultEnsemble;
  let nft: NftTable;
  const port = (id: number): number => fe.ensemble.ports(id).clientPort;
  const all = (): string => [1, 2, 3].map((id) => `127.0.0.1:${port(id)}`).join(',');

  before(async () => {
    fe = await startFaultEnsemble(3);
    nft = await NftTable.create();
  });
  after(async () => {
    await nft?.destroy();
    await fe?.cleanup();
  });

  it('one member black-holed: the command still succeeds through the others', async () => {
    await nft.drop(port(1));
    try {
      // member 1 first in the list: whatever the shuffled order, the command must get through
      const r = await runCli(['ls', '/', '-s', all(), '--timeout', '15s'], { timeoutMs: 40_000 });
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^zookeeper$/m);
    } finally {
      await nft.heal();
    }
  });

  it('every member down: exit 8 in well under the 10 s default, with the refusal named', async () => {
    await fe.ensemble.down();
    // zkctl's own start-up on this machine now (it takes seconds at load 20): a usage error loads as much
    const base = await runCli(['ls', '//'], { timeoutMs: 30_000 });
    assert.equal(base.code, 2, base.stderr);
    const r = await runCli(['ls', '/', '-s', all()], { timeoutMs: 30_000 });
    assert.equal(r.code, 8, r.stderr);
    assert.equal(r.stdout, '');
    // 2.5 s over start-up at most (it takes under 1 s on a quiet machine); the wait it replaces is the 10 s default
    assert.ok(r.ms < Math.min(base.ms + 2500, 9000), `took ${r.ms} ms (start-up alone ${base.ms} ms): ${r.stderr}`);
    assert.match(r.stderr, /^zkctl: cannot reach ZooKeeper .*refused/);
    assert.match(r.stderr, new RegExp(`127\\.0\\.0\\.1:${port(2)} \\(refused\\)`));
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  });

  it('every member down but one black-holed: no fast failure, the --timeout is waited for', async () => {
    await nft.drop(port(3));
    try {
      const r = await runCli(['ls', '/', '-s', all(), '--timeout', '2s'], { timeoutMs: 30_000 });
      assert.equal(r.code, 8, r.stderr);
      assert.ok(r.ms >= 1900, `took ${r.ms} ms: ${r.stderr}`);
      assert.match(r.stderr, /within 2s/);
    } finally {
      await nft.heal();
    }
  });
});

describe('"connecting to HOST:PORT..." while a connect takes over 1 s', () => {
  it('on a terminal (stderr is a pty) it is said; in a pipe it is not', { skip: noScript }, async () => {
    const sockets: Socket[] = [];
    const silent = createServer((c) => {
      sockets.push(c); // accepts TCP, never answers the handshake
      c.on('error', () => undefined);
    });
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const port = (silent.address() as { port: number }).port;
    try {
      const args = ['ls', '/', '-s', `127.0.0.1:${port}`, '--timeout', '2500ms'];
      const out = await onScript(zkctlLine(args), { killMs: 60_000 });
      assert.match(out, new RegExp(`connecting to 127\\.0\\.0\\.1:${port}\\.\\.\\.`), out);
      assert.match(out, /cannot reach ZooKeeper within 2\.5s/, out);
      const piped = await runCli(args, { timeoutMs: 20_000 });
      assert.equal(piped.code, 8);
      assert.doesNotMatch(piped.stderr, /connecting to/);
    } finally {
      for (const c of sockets) c.destroy();
      await new Promise((r) => silent.close(r));
    }
  });
});
