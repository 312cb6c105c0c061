/**
 * zkctl shell: driven through stdin (not a TTY), its completion function
 * directly, and a real terminal through tmux (send-keys / capture-pane) when
 * tmux is installed.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { complete, errorLine, splitWords, resolvePath } from '../../src/cli/shell/index.js';
import { parseAcls } from '../../src/core/acl.js';
import { ConnectionError, ZkCode, ZkError } from '../../src/core/errors.js';
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
    assert.ok(out.startsWith('/app\ncache\ncolour\nconfig\na=1\n(3 bytes, UTF-8 with control characters; base64:)\nAAEC\ncreated /app/new\nversion 1\nbye\nbye\n/app\ncZxid = 0x'), out);
    assert.match(out, /dataVersion = 0\n/);
    assert.match(out, /\/app\n├── cache\n│   └── x\n├── colour\n├── config\n└── new\n/);
    assert.match(out, /^\/app\/cache\n\/app\/colour\n\/app\/config\n/m);
    assert.match(out, /world:anyone:cdrwa\n/);
    assert.match(out, /deleted 1 node\ncache\ncolour\nconfig\n$/);
    assert.equal(r.stderr, 'get: /app/nope: no such node\n');
    assert.equal(await s.exists('/app/new'), null);
  });

  it('prints what the one-shot commands print (ls -l, stat, tree, du, count, ephemerals, whoami), create -S is sequential', async () => {
    const one = async (args: string[]): Promise<string> => {
      const r = await runCli([...args, '-s', c.server]);
      assert.equal(r.code, 0, r.stderr);
      return r.stdout;
    };
    // A subtree of its own: the other tests of this file run at the same time and change /app.
    await s.create('/cmp', Buffer.from('root'));
    await s.create('/cmp/config', Buffer.from('a=1\n'));
    await s.create('/cmp/cache');
    await s.create('/cmp/cache/x', Buffer.from([0, 1, 2]));
    await s.create('/cmp/colour', Buffer.from('red'));
    const cmds: Array<[string, string[]]> = [
      ['ls -l /cmp', ['ls', '-l', '/cmp']],
      ['stat /cmp/config', ['stat', '/cmp/config']],
      ['tree /cmp', ['tree', '/cmp']],
      ['du /cmp', ['du', '/cmp']],
      ['count /cmp', ['count', '/cmp']],
      ['ephemerals /cmp', ['ephemerals', '/cmp']],
      ['whoami', ['whoami']],
    ];
    for (const [line, args] of cmds) {
      const r = await sh(line);
      assert.equal(r.code, 0, `${line}: ${r.stderr}`);
      assert.equal(r.stdout, await one(args), line);
    }
    const q = await sh('create -p -S /seq/item- a\ncreate -s /seq/item- b\nls /seq');
    assert.equal(q.code, 0, q.stderr);
    assert.match(q.stdout, /^created \/seq\/item-0000000000\ncreated \/seq\/item-0000000001\nitem-0000000000\nitem-0000000001\n$/);
  });

  it('get -x prints a dump as xxd: offset, 16 bytes a line in groups of two, ASCII with . for the rest', async () => {
    await s.create('/hexd', Buffer.concat([Buffer.from('hello world\n'), Buffer.from([0, 1, 0x1b]), Buffer.from('ABCDEFGH')]));
    const r = await sh('get -x /hexd');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(
      r.stdout,
      '00000000: 6865 6c6c 6f20 776f 726c 640a 0001 1b41  hello world....A\n' +
        '00000010: 4243 4445 4647 48                        BCDEFGH\n',
    );
  });

  it('CMD | SHELL-COMMAND: the output goes to /bin/sh; its status is the status', async () => {
    const r = await sh('ls /app | head -1\nls -l /app | grep -c config\nls /app/cache|wc -l');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'cache\n1\n1\n');
    const f = await sh('ls /app | grep nothing-like-this');
    assert.equal(f.code, 1);
    const e = await sh('ls /app |');
    assert.equal(e.code, 2);
    assert.match(e.stderr, /nothing after \|/);
    // A quoted | is a plain character.
    const q = await sh(`create '/pipe|name' x\nls / | grep -c 'pipe|name'`);
    assert.equal(q.code, 0, q.stderr);
    assert.match(q.stdout, /\n1\n$/);
  });

  it('edit is zkctl edit: compare-and-set, JSON kept valid unless --force, the newline an editor adds removed', async () => {
    await s.create('/ed', Buffer.from('{"a":1}'));
    const dir = tmp();
    const state = join(dir, 'state');
    const script = (name: string, body: string): string => {
      const p = join(dir, name);
      writeFileSync(p, `#!/bin/sh\n${body}\n`);
      chmodSync(p, 0o755);
      return p;
    };
    const env = (ed: string): Record<string, string | undefined> => ({ EDITOR: ed, VISUAL: undefined, XDG_STATE_HOME: state });
    const good = script('good.sh', `printf '{"a":2}\\n' > "$1"`);
    const r = await runCli(['shell', '-s', c.server], { input: 'cd /ed\nedit .\nget /ed\nedit /ed', env: env(good) });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, '/ed: written (version 0 -> 1, 7 bytes)\n{"a":2}\n/ed: no change, nothing written\n');
    const bad = script('bad.sh', `printf '{"a":3,}\\n' > "$1"`);
    const b = await runCli(['shell', '-s', c.server], { input: 'edit /ed', env: env(bad) });
    assert.equal(b.code, 2);
    assert.match(b.stderr, /^edit: \/ed: not valid JSON: .+; use --force to write it anyway \(nothing written; your edit is saved in .+\)\n$/);
    assert.equal(readdirSync(join(state, 'zkctl', 'edits')).length, 1);
    assert.equal((await s.get('/ed')).data.toString(), '{"a":2}');
    const f = await runCli(['shell', '-s', c.server], { input: 'edit --force /ed\nedit /nope\nedit\nedit -f /ed', env: env(bad) });
    assert.equal(f.code, 2);
    assert.equal((await s.get('/ed')).data.toString(), '{"a":3,}');
    assert.match(f.stdout, /^\/ed: written \(version 1 -> 2, 8 bytes\)\n$/);
    assert.equal(f.stderr, 'edit: /nope: no such node\nedit: missing PATH (usage: edit [--force] PATH)\nedit: unknown option -f\n');
  });

  it('create, find and the walks are the one-shot commands: same checks, same globs, exit 7 for unreadable nodes', async () => {
    // create: a missing parent is named (with -p as the way out); kinds are checked before anything is made.
    const c1 = await sh('create /nop/x');
    assert.equal(c1.code, 3);
    assert.equal(c1.stderr, 'create: /nop: no such node (the parent of /nop/x) (create missing parents with -p)\n');
    const c2 = await sh('create -p -c -S /cs/a');
    assert.equal(c2.code, 2);
    assert.equal(c2.stderr, 'create: a container node cannot be sequential\n');
    assert.equal(await s.exists('/cs'), null, 'no parent made before the refusal');
    const c3 = await sh('create -e -c /ec');
    assert.equal(c3.stderr, 'create: -e and -c cannot be combined (a node is persistent, ephemeral, container or TTL)\n');
    // find -name: the glob of zkctl find (a [] that closes nothing is literal).
    await s.create('/gl');
    await s.create('/gl/a[]');
    await s.create('/gl/ab');
    const f = await sh("find /gl -name 'a[]'\nfind /gl -name 'a*'");
    assert.equal(f.code, 0, f.stderr);
    const one = await runCli(['find', '/gl', '--name', 'a[]', '-s', c.server]);
    assert.equal(one.stdout, '/gl/a[]\n');
    assert.equal(f.stdout, '/gl/a[]\n/gl/a[]\n/gl/ab\n');
    // A node this session may not read: skipped with a note, and exit 7 at the end (as zkctl find, tree, du, ls -l, ephemerals).
    await s.create('/lk');
    await s.create('/lk/open');
    await s.create('/lk/secret', Buffer.alloc(0), { acl: parseAcls(['digest-password:bob:pw:cdrwa']) });
    for (const line of ['find /lk', 'tree /lk', 'du /lk', 'ephemerals /lk']) {
      const r = await sh(line);
      assert.equal(r.code, 7, `${line}: ${r.stderr}`);
      const name = line.split(' ')[0];
      assert.equal(r.stderr, `/lk/secret: not authorized (skipped)\n${name}: 1 node(s) could not be read (not authorized) (add credentials with addauth SCHEME AUTH)\n`, line);
    }
    assert.equal((await runCli(['find', '/lk', '-s', c.server])).code, 7);
    assert.equal((await sh('addauth digest bob:pw\nfind /lk')).code, 0);
  });

  it('an error names the command once', () => {
    assert.equal(errorLine('get', new ConnectionError('get /x: no reply within 10s from h:1 (the request may or may not have been applied)')).text, 'get /x: no reply within 10s from h:1 (the request may or may not have been applied)\n');
    assert.equal(errorLine('getacl', new ConnectionError('getAcl /x: session closed')).text, 'getAcl /x: session closed\n');
    assert.equal(errorLine('get', new ZkError(ZkCode.NO_NODE, '/x')).text, 'get: /x: no such node\n');
    assert.equal(errorLine('getter', new ConnectionError('get /x: session closed')).text, 'getter: get /x: session closed\n');
  });

  it('addauth adds credentials to the session (whoami shows them)', async () => {
    const r = await sh('whoami\naddauth digest shelluser:pw\nwhoami');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^ip\t[^\n]+\nip\t[^\n]+\ndigest\tshelluser\nip\t[^\n]+\ndigest\tshelluser\n$/);
    const bad = await sh('addauth digest');
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /addauth: expected SCHEME and AUTH/);
  });

  it('help wraps at word boundaries', async () => {
    const r = await sh('help');
    for (const l of r.stdout.split('\n')) assert.ok(l.length <= 80, `too long: ${l}`);
    assert.match(r.stdout, /addauth SCHEME AUTH/);
    // Joined again at the line ends, the sentences are whole (no word cut in two).
    const joined = r.stdout.replace(/\n +/g, ' ').replace(/\n(?=[A-Za-z])/g, ' ');
    assert.match(joined, /Create a node \(-e ephemeral, -S sequential \(-s too, as in zkCli\), -c container, -t TTL node, -p parents\), as zkctl create\./);
    assert.match(joined, /Paths may be relative to the current node \(cd\); Tab completes commands and child names;/);
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

  it('watch: --for ends it and the next command runs; a missing path is said; bad input is a usage error', async () => {
    const r = await sh('watch /nope --data --for 300ms\npwd\nwatch --count 0 /app\nwatch');
    assert.match(r.stderr, /^watch \/nope: \/nope does not exist yet; waiting for it to be created$/m);
    assert.match(r.stderr, /^watching \/nope \((persistent|one-shot) watch\); Ctrl-C to stop$/m);
    assert.match(r.stdout, /^\/$/m, 'pwd ran after the watch ended');
    assert.match(r.stderr, /watch: invalid --count 0/);
    assert.match(r.stderr, /watch: missing PATH/);
    assert.equal(r.code, 2);
  });

  it('ephemeral nodes created in the shell live as long as the shell', async () => {
    const r = await sh('create -e /eph x\nls /\nstat /eph');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /ephemeralOwner = 0x[1-9a-f][0-9a-f]*\n/);
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
      // Keeps the tmux server up when 'sh' is killed below (a new session racing the exiting server failed).
      tm('new-session', '-d', '-s', 'keep', 'sleep 300');
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
