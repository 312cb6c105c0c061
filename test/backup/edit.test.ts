/** zkctl edit with fake $EDITOR scripts. */
import assert from 'node:assert/strict';
import { chmodSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Session } from '../../src/core/session.js';
import { chrootSession, type ChrootSession } from '../helpers/session.js';
import { repoRoot } from '../helpers/zk.js';
import { cli, ok, tmp } from './util.js';

function script(dir: string, name: string, body: string): string {
  const p = join(dir, name);
  writeFileSync(p, `#!/bin/sh\n${body}\n`);
  chmodSync(p, 0o755);
  return p;
}

describe('edit', { concurrency: 3 }, () => {
  let c: ChrootSession;
  let s: Session;
  let zk: ReturnType<typeof cli>;
  before(async () => {
    c = await chrootSession('edit');
    s = c.session;
    zk = cli(c);
  });
  after(async () => c.close());

  it('writes the edited data back with compare-and-set; the temp file is 0600 and removed', async () => {
    await s.create('/cfg', Buffer.from('a=1\n'));
    const dir = tmp();
    const log = join(dir, 'log');
    const ed = script(dir, 'ed.sh', `stat -c '%a %n' "$1" > ${log}; stat -c '%a' "$(dirname "$1")" >> ${log}; printf 'b=2\\n' >> "$1"`);
    const r = ok(await zk(['edit', '/cfg'], { env: { EDITOR: ed, VISUAL: undefined } }));
    assert.match(r.stdout, /\/cfg: written \(version 0 -> 1, 8 bytes\)/);
    const { data, stat } = await s.get('/cfg');
    assert.equal(data.toString(), 'a=1\nb=2\n');
    assert.equal(stat.version, 1);
    const [fileLine, dirMode] = readFileSync(log, 'utf8').trim().split('\n');
    const [mode, file] = fileLine.split(' ');
    assert.equal(mode, '600');
    assert.equal(dirMode, '700');
    assert.match(file, /zkctl-edit-.*\/cfg$/);
    assert.equal(existsSync(file), false);
  });

  it('an unchanged file writes nothing', async () => {
    await s.create('/same', Buffer.from('x'));
    const r = ok(await zk(['edit', '/same'], { env: { EDITOR: 'true', VISUAL: undefined } }));
    assert.match(r.stdout, /no change/);
    assert.equal((await s.exists('/same'))?.version, 0);
  });

  it('a change by someone else meanwhile: exit 5, nothing written, the edit is kept', async () => {
    await s.create('/race', Buffer.from('v0'));
    const dir = tmp();
    const state = join(dir, 'state');
    // The "editor" lets another client write the node, then edits the file.
    const ed = script(dir, 'ed.sh', `"${process.execPath}" "${join(repoRoot, 'bin', 'zkctl.js')}" set /race theirs -s "${c.server}" >/dev/null || exit 9\nprintf 'mine' > "$1"`);
    const r = await zk(['edit', '/race'], { env: { EDITOR: ed, VISUAL: undefined, XDG_STATE_HOME: state } });
    assert.equal(r.code, 5, r.stderr);
    assert.match(r.stderr, /changed while you were editing.*nothing written.*saved in/);
    assert.equal((await s.get('/race')).data.toString(), 'theirs');
    const kept = readdirSync(join(state, 'zkctl', 'edits'));
    assert.equal(kept.length, 1);
    assert.equal(readFileSync(join(state, 'zkctl', 'edits', kept[0]), 'utf8'), 'mine');
  });

  it('an editor that fails writes nothing (exit 1); $VISUAL wins over $EDITOR; EDITOR may carry arguments', async () => {
    await s.create('/fail', Buffer.from('keep'));
    const dir = tmp();
    const bad = script(dir, 'bad.sh', `printf 'garbage' > "$1"; exit 3`);
    const r = await zk(['edit', '/fail'], { env: { EDITOR: bad, VISUAL: undefined } });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /exited with status 3: nothing written/);
    assert.equal((await s.get('/fail')).data.toString(), 'keep');
    const good = script(dir, 'good.sh', `printf "$1" > "$2"`);
    ok(await zk(['edit', '/fail'], { env: { EDITOR: bad, VISUAL: `${good} from-visual` } }));
    assert.equal((await s.get('/fail')).data.toString(), 'from-visual');
  });

  it('a missing node is exit 3', async () => {
    const r = await zk(['edit', '/nope'], { env: { EDITOR: 'true' } });
    assert.equal(r.code, 3);
  });
});
