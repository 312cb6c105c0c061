/**
 * Two ensembles started at the same moment on the same ports (two CI jobs on one machine, two
 * terminals): without a machine-wide lock around "check the ports, start the servers, wait until
 * they hold them", both find the ports free and each starts servers that bind some of the ports,
 * leaving a mix of the two. With it, one starts and the other gets a clear "port in use".
 */
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { freeBasePort, load, PortInUseError, readCmdline, up } from '../../src/ensemble/index.js';
import { testPortStart } from '../helpers/zk.js';

describe('ensembles started at once on the same ports', () => {
  it('one starts whole, the other fails with a port-in-use error and leaves nothing running', async () => {
    const parent = mkdtempSync(join(process.env.ZKCTL_TEST_TMP ?? tmpdir(), 'port-race-'));
    const basePort = await freeBasePort({ start: testPortStart(), size: 3 });
    const dirs = ['a', 'b'].map((n) => join(parent, n));
    const results = await Promise.allSettled(dirs.map((dir, i) => up({ name: `race-${i}`, size: 3, basePort, dir, waitMs: 60_000 })));
    try {
      const ok = results.filter((r) => r.status === 'fulfilled');
      const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
      assert.equal(ok.length, 1, `exactly one ensemble starts: ${results.map((r) => (r.status === 'rejected' ? (r.reason as Error).message : 'ok')).join(' | ')}`);
      assert.equal(failed.length, 1);
      assert.ok(failed[0]!.reason instanceof PortInUseError, String(failed[0]!.reason));
      const winner = load(dirs[results.findIndex((r) => r.status === 'fulfilled')]!);
      const st = await winner.status();
      assert.equal(st.serving, 3, JSON.stringify(st.members.map((m) => [m.id, m.mode])));
      // Every member is the winner's own server (its own config), not one of the loser's.
      for (const id of winner.ids) {
        const pid = winner.pidOf(id);
        assert.ok(pid, `member ${id} runs`);
        assert.ok(readCmdline(pid)?.includes(winner.configPath(id)), `member ${id} (pid ${pid}) runs the winner's config`);
      }
      // The loser refused before writing anything, or at least runs nothing.
      let loserRunning: number[] = [];
      try {
        const loser = load(dirs[results.findIndex((r) => r.status === 'rejected')]!);
        loserRunning = loser.ids.filter((id) => loser.pidOf(id) !== undefined);
      } catch {
        /* no ensemble there */
      }
      assert.deepEqual(loserRunning, [], 'the loser left nothing running');
    } finally {
      for (const d of dirs) {
        try {
          await load(d).down({ purge: true });
        } catch {
          /* never created */
        }
      }
    }
  });
});
