/**
 * Paging (issue 24): on a pseudo-terminal (util-linux `script`), tree, ls, get and find hand output
 * longer than the screen to $PAGER (here a small script that records that it ran, keeps what it
 * reads and quits after a few lines, as q in less does); shorter output, a pipe, --no-pager,
 * PAGER=cat, an empty ZKCTL_PAGER, -o json and CI=true are never paged. A pager that quits early
 * stops the walk (DEBUG=zkctl:walk says "stopped" with fewer nodes than the tree has), quietly,
 * exit 0, in the one-shot commands and in the shell alike.
 */
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { hasScript, onScript, shq, stripTerminal, zkctlLine } from '../helpers/pty.js';
import { chrootSession, type ChrootSession } from '../helpers/session.js';
import { runCli } from '../helpers/zk.js';

const N = 2000;

describe('paging on a terminal', { skip: hasScript ? false : 'util-linux script(1) is not installed', concurrency: 4 }, () => {
  let cs: ChrootSession;
  const dir = mkdtempSync(join(process.env.ZKCTL_TEST_TMP ?? tmpdir(), 'zkpager-'));
  let runs = 0;
  const big = 'x'.repeat(80).concat('\n').repeat(100);

  before(async () => {
    cs = await chrootSession('pager');
    await cs.session.create('/many');
    // Long names: the listing (~240 KB) is far more than a pipe holds (64 KB), so the walk is still
    // writing, held by back-pressure, when the pager quits after its first lines (on a fast machine a
    // short listing fitted in the pipe whole and the walk ended before the pager did).
    await Promise.all(Array.from({ length: N }, (_v, i) => cs.session.create(`/many/n${String(i).padStart(4, '0')}-${'p'.repeat(100)}`)));
    await cs.session.create('/few');
    for (const n of ['a', 'b', 'c']) await cs.session.create(`/few/${n}`);
    await cs.session.create('/big', Buffer.from(big));
  });
  after(async () => {
    await cs?.close();
  });

  /** A pager script of its own: records that it ran, keeps the first `lines` lines it reads (all: 0), then quits. */
  function pager(lines: number): { cmd: string; ran: () => boolean; got: () => string } {
    const n = ++runs;
    const log = join(dir, `ran-${n}`);
    const out = join(dir, `got-${n}`);
    const cmd = join(dir, `pager-${n}.sh`);
    writeFileSync(cmd, `#!/bin/sh\necho ran > ${shq(log)}\n${lines > 0 ? `head -n ${lines}` : 'cat'} > ${shq(out)}\n`);
    chmodSync(cmd, 0o755);
    return { cmd, ran: () => existsSync(log), got: () => (existsSync(out) ? readFileSync(out, 'utf8') : '') };
  }

  /**
   * `sh` on a pseudo-terminal 100x40 (zkctl stands for the CLI); `lines` typed one by one, each
   * once `ready(screen)` holds. Resolves when script(1) ends, with the screen's text.
   */
  async function onTerminal(sh: string, env: NodeJS.ProcessEnv, steps: Array<{ ready: (s: string) => boolean; line: string }> = []): Promise<string> {
    const zk = zkctlLine();
    // The suite may itself run under CI=true: the cases set it where they mean it.
    const full: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1' };
    delete full.CI;
    for (const [k, v] of Object.entries(env)) {
      if (v === undefined) delete full[k];
      else full[k] = v;
    }
    const out = await onScript(`stty cols 100 rows 40; zkctl() { ${zk} "$@"; }; ${sh}; echo "rc=$?"`, {
      env: full,
      steps: steps.map((s) => ({ ready: s.ready, keys: `${s.line}\n` })),
      killMs: 120_000,
    });
    return stripTerminal(out);
  }

  const walkLine = (out: string): RegExpExecArray | null => /zkctl:walk walk of \/many (done|stopped): (\d+) nodes/.exec(out);

  it('tree longer than the screen goes through $PAGER; quitting it stops the walk: exit 0, nothing on stderr', async () => {
    const p = pager(5);
    const out = await onTerminal(`zkctl -s ${cs.server} tree /many --window 1`, { PAGER: p.cmd, ZKCTL_PAGER: undefined, DEBUG: 'zkctl:walk' });
    assert.ok(p.ran(), out);
    assert.equal(p.got().split('\n').length, 6, p.got());
    assert.match(p.got(), /^\/many\n/);
    const w = walkLine(out);
    assert.ok(w, out);
    assert.equal(w[1], 'stopped', out);
    assert.ok(Number(w[2]) < N, out);
    assert.match(out, /rc=0/);
    assert.doesNotMatch(out, /EPIPE|Error|zkctl: /, out);
  });

  it('ls, find and get page what is longer than the screen, whole; ZKCTL_PAGER wins over PAGER', async () => {
    for (const args of ['ls /many', 'find /many --name "n1*"', 'get /big']) {
      const p = pager(0);
      const out = await onTerminal(`zkctl -s ${cs.server} ${args}`, { ZKCTL_PAGER: p.cmd, PAGER: '/bin/false' });
      assert.ok(p.ran(), `${args}: ${out}`);
      assert.match(out, /rc=0/, args);
      if (args.startsWith('get')) assert.equal(p.got(), big, args);
      else if (args.startsWith('ls')) assert.equal(p.got().split('\n').length, N + 1, args);
      else assert.equal(p.got().split('\n').length, 1000 + 1, args);
    }
  });

  it('output that fits the screen, --no-pager, PAGER=cat, ZKCTL_PAGER= , -o json and CI=true are not paged', async () => {
    const cases: Array<[string, NodeJS.ProcessEnv, number]> = [
      ['ls /few', {}, 3],
      ['ls /many --no-pager', {}, N],
      ['ls /many', { PAGER: 'cat', ZKCTL_PAGER: undefined }, N],
      ['ls /many', { ZKCTL_PAGER: '' }, N],
      ['ls /many -o json', {}, N],
      ['ls /many', { CI: 'true' }, N],
    ];
    for (const [args, env, names] of cases) {
      const p = pager(0);
      const out = await onTerminal(`zkctl -s ${cs.server} ${args}`, { PAGER: p.cmd, ...env });
      assert.ok(!p.ran(), `${args} ${JSON.stringify(env)} was paged`);
      assert.match(out, /rc=0/, args);
      assert.equal(out.match(/\bn\d{4}\b|\b[abc]\n/g)?.length ?? 0, names, `${args} ${JSON.stringify(env)}`);
    }
  });

  it('a pipe is never paged, even with PAGER set', async () => {
    const p = pager(0);
    const r = await runCli(['-s', cs.server, 'tree', '/many'], { env: { PAGER: p.cmd, ZKCTL_PAGER: p.cmd } });
    assert.equal(r.code, 0, r.stderr);
    assert.ok(!p.ran());
    assert.equal(r.stdout.split('\n').length, N + 2);
  });

  it('in the shell: quitting the pager stops the command quietly and the next one runs', async () => {
    const p = pager(5);
    const prompt = (n: number) => (s: string) => (s.match(/\/> /g) ?? []).length >= n;
    const out = await onTerminal(`zkctl -s ${cs.server} shell`, { PAGER: p.cmd, ZKCTL_PAGER: undefined, DEBUG: 'zkctl:walk' }, [
      { ready: prompt(1), line: 'tree /many' },
      { ready: (s) => prompt(2)(s) && walkLine(s) !== null, line: 'ls /few' },
      { ready: (s) => /\nc\n/.test(s) && prompt(3)(s), line: 'exit' },
    ]);
    assert.ok(p.ran(), out);
    const w = walkLine(out);
    assert.equal(w?.[1], 'stopped', out);
    assert.doesNotMatch(out, /interrupted|EPIPE/, out);
    assert.match(out, /\na\nb\nc\n/);
    assert.match(out, /rc=0/);
  });
});
