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

  it('refuses to replace a JSON document with broken JSON (exit 2, edit kept) unless --force', async () => {
    await s.create('/doc', Buffer.from('{"a":1}'));
    const dir = tmp();
    const state = join(dir, 'state');
    // A typical slip: a trailing comma; written the way an editor saves, with a final newline.
    const ed = script(dir, 'ed.sh', `printf '{"a":1,}\\n' > "$1"`);
    const r = await zk(['edit', '/doc'], { env: { EDITOR: ed, VISUAL: undefined, XDG_STATE_HOME: state } });
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /\/doc: not valid JSON: .+; use --force to write it anyway/);
    assert.match(r.stderr, /nothing written; your edit is saved in/);
    assert.equal((await s.get('/doc')).data.toString(), '{"a":1}');
    const kept = readdirSync(join(state, 'zkctl', 'edits'));
    assert.equal(readFileSync(join(state, 'zkctl', 'edits', kept[0]), 'utf8'), '{"a":1,}');
    ok(await zk(['edit', '/doc', '--force'], { env: { EDITOR: ed, VISUAL: undefined, XDG_STATE_HOME: state } }));
    assert.equal((await s.get('/doc')).data.toString(), '{"a":1,}');
    // Not JSON before: any text goes.
    await s.create('/num', Buffer.from('5'));
    const five = script(dir, 'five.sh', `printf 'five' > "$1"`);
    ok(await zk(['edit', '/num'], { env: { EDITOR: five, VISUAL: undefined } }));
    assert.equal((await s.get('/num')).data.toString(), 'five');
  });

  it("removes the newline the editor appends when the old data had none, and only then", async () => {
    await s.create('/nonl', Buffer.from('{"v":1}'));
    await s.create('/nl', Buffer.from('a=1\n'));
    const dir = tmp();
    const ed = script(dir, 'ed.sh', `sed -i 's/1/2/' "$1"; [ -n "$(tail -c1 "$1")" ] && printf '\\n' >> "$1"; true`);
    ok(await zk(['edit', '/nonl'], { env: { EDITOR: ed, VISUAL: undefined } }));
    assert.equal((await s.get('/nonl')).data.toString(), '{"v":2}');
    ok(await zk(['edit', '/nl'], { env: { EDITOR: ed, VISUAL: undefined } }));
    assert.equal((await s.get('/nl')).data.toString(), 'a=2\n');
    // Only the newline is added: nothing changed, nothing written.
    const touch = script(dir, 'touch.sh', `printf '\\n' >> "$1"`);
    const r = ok(await zk(['edit', '/nonl'], { env: { EDITOR: touch, VISUAL: undefined } }));
    assert.match(r.stdout, /no change/);
  });

  it('a missing node is exit 3', async () => {
    const r = await zk(['edit', '/nope'], { env: { EDITOR: 'true' } });
    assert.equal(r.code, 3);
  });
});
