/**
 * zkctl shell: driven through stdin (not a TTY), its completion function
 * directly, and a real terminal through tmux (send-keys / capture-pane) when
 * tmux is installed.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { complete, splitWords, resolvePath } from '../../src/core/shell/index.js';
import type { Session } from '../../src/core/session.js';
import { chrootSession, type ChrootSession } from '../helpers/session.js';
import { type CliResult, repoRoot, runCli } from '../helpers/zk.js';

const tmp = (): string => mkdtempSync(join(process.env.ZKCTL_TEST_TMP ?? tmpdir(), 'zkshell-'));

describe('shell', { concurrency: 3 }, () => {
  let c: ChrootSession;
  let s: Session;
  const sh = (input: string, args: string[] = []): Promise<CliResult> => runCli(['shell', '-s', c.server, ...args], { input });
  before(async () => {
    c = await chrootSession('shell');
    s = c.session;
    await s.create('/app', Buffer.from('root'));
    await s.create('/app/config', Buffer.from('a=1\n'));
    await s.create('/app/cache');
    await s.create('/app/cache/x', Buffer.from([0, 1, 2]));
    await s.create('/app/colour', Buffer.from('red'));
    await s.create('/other');
  });
  after(async () => c.close());

  it('words and paths', () => {
    assert.deepEqual(splitWords(`set /a 'two words' "say \\"hi\\"" x\\ y # comment`), ['set', '/a', 'two words', 'say "hi"', 'x y']);
    assert.throws(() => splitWords('get "open'), /unterminated/);
    assert.equal(resolvePath('/app', 'config'), '/app/config');
    assert.equal(resolvePath('/app/cache', '../config'), '/app/config');
    assert.equal(resolvePath('/app', '/other/'), '/other');
    assert.equal(resolvePath('/app', '..'), '/');
    assert.equal(resolvePath('/', '../..'), '/');
  });

  it('runs commands from stdin: no prompt, relative paths, output on stdout, errors on stderr, status of the last command', async () => {
    const r = await sh(
      [
        'cd /app',
        'pwd',
        'ls',
        'get config',
        'get cache/x',
        'create new "hello world"',
        'set new bye',
        'get ./new',
        'cd cache',
        'get ../new',
        'cd -',
        'pwd',
        'stat config',
        'tree',
        'find / -name c*',
        'getacl config',
        'get nope',
        'rm -r new',
        'ls',
      ].join('\n'),
    );
    assert.equal(r.code, 0, r.stderr);
    const out = r.stdout;
    assert.ok(out.startsWith('/app\ncache\ncolour\nconfig\na=1\n(3 bytes, not UTF-8; base64:)\nAAEC\ncreated /app/new\nversion 1\nbye\nbye\n/app\npath = /app/config\n'), out);
    assert.match(out, /dataVersion = 0\n/);
    assert.match(out, /\/app\n├── cache\n│   └── x\n├── colour\n├── config\n└── new\n5 nodes below\n/);
    assert.match(out, /^\/app\/cache\n\/app\/colour\n\/app\/config\n/m);
    assert.match(out, /world:anyone:cdrwa\n/);
    assert.match(out, /deleted 1 node\ncache\ncolour\nconfig\n$/);
    assert.equal(r.stderr, 'get: /app/nope: no such node\n');
    assert.equal(await s.exists('/app/new'), null);
  });

  it('exit status: the last command (like sh), exit CODE, --errexit stops at the first failure', async () => {
    assert.equal((await sh('get /nope')).code, 3);
    assert.equal((await sh('get /nope\nls /')).code, 0);
    assert.equal((await sh('exit 7\nget /nope')).code, 7);
    const e = await sh('create /e1\ncreate /e1\ncreate /e2', ['--errexit']);
    assert.equal(e.code, 4);
    assert.match(e.stderr, /create: \/e1: node already exists/);
    assert.equal(await s.exists('/e2'), null);
    const u = await sh('frobnicate');
    assert.equal(u.code, 2);
    assert.match(u.stderr, /frobnicate: unknown command \(type help\)/);
    const h = await sh('help');
    assert.match(h.stdout, /cd \[PATH\|-\]/);
  });

  it('ephemeral nodes created in the shell live as long as the shell', async () => {
    const r = await sh('create -e /eph x\nls /\nstat /eph');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /ephemeralOwner = 0x[0-9a-f]+ \(ephemeral\)/);
    assert.equal(await s.exists('/eph'), null);
  });

  it('completes command names and child names (relative and absolute)', async () => {
    assert.deepEqual(await complete(s, '/', 'ge'), [['get', 'getacl'], 'ge']);
    assert.deepEqual(await complete(s, '/', 'tr'), [['tree '], 'tr']);
    assert.deepEqual(await complete(s, '/', 'ls /ap'), [['/app/'], '/ap']);
    assert.deepEqual(await complete(s, '/app', 'get co'), [['colour', 'config'], 'co']);
    assert.deepEqual(await complete(s, '/app', 'get conf'), [['config '], 'conf']);
    assert.deepEqual(await complete(s, '/app', 'get cache/'), [['cache/x '], 'cache/']);
    assert.deepEqual(await complete(s, '/app/cache', 'ls ../c'), [['../cache', '../colour', '../config'], '../c']);
    assert.deepEqual(await complete(s, '/', 'ls /nope/'), [[], '/nope/']);
  });

  const hasTmux = spawnSync('tmux', ['-V']).status === 0;
  it('on a terminal (tmux): prompt, Tab completion, history file, Ctrl-C, Ctrl-D', { skip: !hasTmux && 'tmux not installed' }, async () => {
    const sock = `zkctl-test-${randomBytes(4).toString('hex')}`;
    const state = tmp();
    const tm = (...args: string[]): string => execFileSync('tmux', ['-L', sock, ...args], { encoding: 'utf8' });
    const screen = (): string => tm('capture-pane', '-p', '-t', 'sh');
    const waitFor = async (re: RegExp, what: string): Promise<string> => {
      const deadline = Date.now() + 20_000;
      for (;;) {
        const text = screen();
        if (re.test(text)) return text;
        if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}; screen:\n${text}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    };
    // Keys one at a time: a burst of bytes counts as a paste, where readline inserts Tab literally.
    const keys = async (...ks: string[]): Promise<void> => {
      for (const k of ks) {
        tm('send-keys', '-t', 'sh', k);
        await new Promise((r) => setTimeout(r, 150));
      }
    };
    const cmd = `env XDG_STATE_HOME=${state} "${process.execPath}" "${join(repoRoot, 'bin', 'zkctl.js')}" shell -s "${c.server}"; echo "EXITED $?"; sleep 30`;
    const start = (): void => void tm('new-session', '-d', '-s', 'sh', '-x', '150', '-y', '40', cmd);
    try {
      start();
      await waitFor(/ \/>\s*$/m, 'the prompt');
      await keys('cd /a', 'Tab');
      await waitFor(/\/> cd \/app\/$/m, 'completion of /a');
      await keys('Enter');
      await waitFor(/ \/app>\s*$/m, 'the /app prompt');
      await keys('get co', 'Tab');
      await keys('Tab');
      await waitFor(/colour\s+config/, 'the list of candidates');
      await keys('n', 'Tab');
      await waitFor(/\/app> get config\s*$/m, 'completion of config');
      await keys('Enter');
      await waitFor(/^a=1$/m, 'the data');
      await keys('half a line', 'C-c');
      await waitFor(/half a line\^C\n.* \/app>\s*$/m, 'Ctrl-C clearing the line');
      await keys('C-d');
      await waitFor(/EXITED 0/, 'exit on Ctrl-D');
      const hist = join(state, 'zkctl', 'shell_history');
      assert.equal(readFileSync(hist, 'utf8'), 'cd /app/\nget config\n');
      assert.equal(statSync(hist).mode & 0o777, 0o600);
      // A new shell finds the history: Up brings back the last command.
      tm('kill-session', '-t', 'sh');
      start();
      await waitFor(/ \/>\s*$/m, 'the prompt again');
      await keys('Up');
      await waitFor(/\/> get config$/m, 'history recall');
      await keys('C-u', 'exit 4', 'Enter');
      await waitFor(/EXITED 4/, 'exit 4');
    } finally {
      try {
        tm('kill-server');
      } catch {
        /* gone */
      }
    }
    assert.ok(existsSync(state));
  });
});
