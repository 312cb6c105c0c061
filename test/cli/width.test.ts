/**
 * Output fitted to the terminal (issue 24): on a pseudo-terminal 60 and 120 columns wide
 * (util-linux `script`, `stty cols N`), no line of `ensemble status`, `health`, `ls -l`,
 * `ensemble top` or `ensemble watch` is wider than the terminal, and numbers are never cut
 * (every zxid and id printed is whole); only text cells are shortened, with …. A pipe gets
 * every column in full.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { fitTable, truncateText, wrapLine, type Column } from '../../src/output/index.js';
import { noScript, onScript, stripTerminal, zkctlLine } from '../helpers/pty.js';
import { chrootSession, type ChrootSession } from '../helpers/session.js';
import { runCli, testServer } from '../helpers/zk.js';

interface PtyResult {
  out: string;
  lines: string[];
}

/**
 * zkctl ARGS on a pseudo-terminal `cols` wide; `keys` typed once `ready(out)` holds (for the live
 * `ensemble top`). Resolves when script(1) ends, with the text as the terminal got it.
 */
async function onTerminal(cols: number, args: string[], opts: { color?: boolean; ready?: (out: string) => boolean; keys?: string } = {}): Promise<PtyResult> {
  const env: NodeJS.ProcessEnv = { ...process.env };
  if (opts.color) delete env.NO_COLOR;
  else env.NO_COLOR = '1';
  const steps = opts.ready ? [{ ready: opts.ready, keys: opts.keys ?? '' }] : [];
  const out = stripTerminal(await onScript(`stty cols ${cols} rows 40; ${zkctlLine(args)}`, { env, steps, killMs: 90_000 }));
  return { out, lines: out.split('\n') };
}

function assertFits(r: PtyResult, cols: number): void {
  for (const l of r.lines) assert.ok([...l].length <= cols, `a line of ${[...l].length} > ${cols} columns:\n${l}\n--- all:\n${r.out}`);
}

/** Every zxid of `json` members appears whole (not cut, not broken over lines). */
function assertWhole(r: PtyResult, values: string[]): void {
  for (const v of values) assert.match(r.out, new RegExp(`(^|\\s)${v}(\\s|$)`, 'm'), `${v} is not whole in:\n${r.out}`);
}

describe('output fitted to the terminal', { skip: noScript }, () => {
  let c: ChrootSession;
  const long = `a-rather-long-node-name-to-see-how-listings-fit-${'x'.repeat(30)}-0000000001`;
  before(async () => {
    c = await chrootSession('width');
    await c.session.create('/dir');
    await c.session.create(`/dir/${long}`, Buffer.from('v'));
    await c.session.create('/dir/short', Buffer.from('12345'));
  });
  after(async () => c.close());

  for (const cols of [60, 120]) {
    it(`ensemble status and health at ${cols} columns`, async () => {
      const st = await onTerminal(cols, ['ensemble', 'status', '-s', testServer()], { color: true });
      assertFits(st, cols);
      assert.match(st.out, /\bID\b.*\bMODE\b.*\bZXID\b/);
      // Numbers are never cut: three whole zxids (hex, bounded by spaces), no … anywhere.
      assert.equal((st.out.match(/(^|\s)0x[0-9a-f]+(\s|$)/gm) ?? []).length, 3, st.out);
      assert.ok(!st.out.includes('…'), st.out);
      const h = await onTerminal(cols, ['health', '-s', testServer()]);
      assertFits(h, cols);
      assert.match(h.out, /healthy/);
      assert.equal((h.out.match(/(^|\s)0x[0-9a-f]+(\s|$)/gm) ?? []).length, 3, h.out);
      assert.ok(!h.out.includes('…'), h.out);
    });

    it(`ls -l at ${cols} columns cuts only the name, with …; a pipe gets it whole`, async () => {
      const r = await onTerminal(cols, ['ls', '-l', '/dir', '-s', c.server]);
      assertFits(r, cols);
      assert.match(r.out, /…[a-z-]*x-0000000001$/m, r.out);
      assertWhole(r, ['short']);
      const rows = r.lines.filter((l) => /short$/.test(l));
      assert.match(rows[0], /^\s*0\s+5\s/, 'the version and data length are whole');
      const piped = await runCli(['ls', '-l', '/dir', '-s', c.server, '-o', 'table']);
      assert.ok(piped.stdout.includes(long), piped.stdout);
      assert.match(piped.stdout, /EPHEMERAL OWNER/);
    });

    it(`ensemble top at ${cols} columns`, async () => {
      const r = await onTerminal(cols, ['ensemble', 'top', '-s', testServer(), '--interval', '500ms'], { color: true, ready: (o) => /(leader|follower)[\s\S]*(leader|follower)[\s\S]*(leader|follower)/.test(o), keys: 'q' });
      assertFits(r, cols);
      assert.match(r.out, /\bID\b.*\bMODE\b.*\bZXID\b/);
      assert.ok((r.out.match(/(^|\s)0x[0-9a-f]+(\s|$)/gm) ?? []).length >= 3, r.out);
      assert.ok(!r.out.includes('…'), r.out);
      if (cols >= 120) assert.match(r.out, /ZNODES/);
    });

    it(`ensemble watch at ${cols} columns breaks lines between words`, async () => {
      const r = await onTerminal(cols, ['ensemble', 'watch', '-s', testServer(), '--for', '1s']);
      assertFits(r, cols);
      assert.match(r.out, /initial/);
      assert.match(r.out, /zxid\s+0x[0-9a-f]+;/);
    });
  }

  it('get of empty data: "(0 bytes)" on a terminal, nothing in a pipe', async () => {
    await c.session.create('/empty');
    const r = await onTerminal(80, ['get', '/empty', '-s', c.server]);
    assert.match(r.out, /^\(0 bytes\)$/m, r.out);
    const piped = await runCli(['get', '/empty', '-s', c.server]);
    assert.equal(piped.code, 0, piped.stderr);
    assert.equal(piped.stdout, '');
  });

  it('fitTable: drops by priority, cuts only text columns; wrapLine never splits a word', () => {
    const cols: Array<Column<string[]>> = [
      { header: 'ID', get: (r) => r[0], priority: 0 },
      { header: 'NUMBER', get: (r) => r[1], priority: 5 },
      { header: 'PATH', get: (r) => r[2], priority: 0, truncate: 'start' },
      { header: 'EXTRA', get: (r) => r[3], priority: 9 },
    ];
    assert.deepEqual(fitTable(cols, [2, 12, 40, 8], undefined, 2, 0).keep, [0, 1, 2, 3]);
    // Text columns give way first (down to 10 characters), then columns go by priority.
    const f = fitTable(cols, [2, 12, 40, 8], 40, 2, 0);
    assert.deepEqual(f.keep, [0, 1, 2, 3]);
    assert.deepEqual(f.widths, [2, 12, 12, 8]);
    const g = fitTable(cols, [2, 12, 40, 8], 30, 2, 0);
    assert.deepEqual(g.keep, [0, 1, 2]);
    assert.deepEqual(g.widths, [2, 12, 12]);
    assert.deepEqual(fitTable(cols, [2, 12, 40, 8], 20, 2, 0).keep, [0, 2]);
    assert.equal(truncateText('/a/b/c/d/name', 6, 'start'), '…/name');
    const w = wrapLine('12:00:00.000Z leader-change leader 127.0.0.1:2181 -> 127.0.0.1:2182; epoch 3 zxid 0x300000000', 30);
    for (const l of w.split('\n')) assert.ok(l.length <= 30, w);
    assert.match(w, /127\.0\.0\.1:2181/);
    assert.match(w, /0x300000000/);
  });
});
