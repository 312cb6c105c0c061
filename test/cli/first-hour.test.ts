/**
 * A newcomer's first hour (issue 11): unknown commands, zkCli names, -h, global flags before the
 * command, missing arguments, the trailing-slash rule, `create -e` without --hold.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { commandTable, rewriteArgv } from '../../src/cli/argv.js';
import { validatePath } from '../../src/core/paths.js';
import { complete } from '../../src/cli/shell/index.js';
import { chrootSession, type ChrootSession } from '../helpers/session.js';
import { repoRoot, runCli } from '../helpers/zk.js';

const oneLine = (s: string): void => assert.equal(s.trim().split('\n').length, 1, s);

describe('first hour: commands people type', { concurrency: 4 }, () => {
  let c: ChrootSession;
  before(async () => {
    c = await chrootSession('first-hour');
    await c.session.create('/app', Buffer.from('v1'));
    await c.session.create('/app/a', Buffer.from('a'));
  });
  after(async () => c.close());

  it('an unknown command: one line with a suggestion and a help hint, exit 2', async () => {
    const r = await runCli(['lss', '/']);
    assert.equal(r.code, 2);
    assert.equal(r.stdout, '');
    oneLine(r.stderr);
    assert.equal(r.stderr.trim(), "zkctl: unknown command 'lss'. Did you mean 'ls'? (see: zkctl --help)");
    const p = await runCli(['put', '/x', 'y']);
    assert.equal(p.code, 2);
    assert.doesNotMatch(p.stderr, /put:/);
    assert.match(p.stderr, /^zkctl: unknown command 'put' \(see: zkctl --help\)$/m);
    const t = await runCli(['ensemble', 'upp']);
    assert.equal(t.code, 2);
    assert.match(t.stderr, /unknown command 'ensemble upp'\. Did you mean 'ensemble up'\? \(see: zkctl ensemble --help\)/);
  });

  it("zkCli's names: delete, deleteall, rmr, getAcl, setAcl run the zkctl command; addauth points to --auth (exit 2)", async () => {
    const s = ['-s', c.server];
    await c.session.create('/d1');
    await c.session.create('/d2');
    await c.session.create('/d2/k');
    await c.session.create('/d3');
    await c.session.create('/d3/k');
    assert.equal((await runCli(['delete', '/d1', ...s])).code, 0);
    assert.equal((await runCli(['deleteall', '/d2', ...s])).code, 0);
    assert.equal((await runCli(['rmr', '/d3', ...s])).code, 0);
    for (const p of ['/d1', '/d2', '/d3']) assert.equal(await c.session.exists(p), null, p);
    const g = await runCli(['getAcl', '/app', ...s]);
    assert.equal(g.code, 0, g.stderr);
    assert.match(g.stdout, /world:anyone:cdrwa/);
    const set = await runCli(['setAcl', '/app/a', 'world:anyone:cdrwa', ...s]);
    assert.equal(set.code, 0, set.stderr);
    const a = await runCli(['addauth', 'digest', 'u:p']);
    assert.equal(a.code, 2);
    oneLine(a.stderr);
    assert.match(a.stderr, /--auth digest:user:password/);
  });

  it('-h is help for every command and topic', async () => {
    for (const args of [['ls', '-h'], ['create', '-h'], ['ensemble', '-h'], ['ensemble', 'up', '-h'], ['lock', '-h'], ['-h']]) {
      const r = await runCli(args);
      assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stdout, /USAGE/, args.join(' '));
    }
  });

  it('global flags before the command are accepted', async () => {
    const r = await runCli(['-s', c.server, 'ls', '/']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^app$/m);
    const j = await runCli(['--server', c.server, '-o', 'json', '--timeout', '5s', 'get', '/app']);
    assert.equal(j.code, 0, j.stderr);
    assert.equal(JSON.parse(j.stdout).data, 'v1');
    const e = await runCli([`--server=${c.server}`, '--json', 'ls', '/app']);
    assert.equal(e.code, 0, e.stderr);
    assert.ok(JSON.stringify(JSON.parse(e.stdout)).includes('"a"'));
  });

  it('a missing argument: one line naming it, then a usage line, exit 2', async () => {
    const g = await runCli(['get']);
    assert.equal(g.code, 2);
    assert.equal(g.stderr, 'zkctl: missing argument PATH (znode path)\nusage: zkctl get PATH [flags] (see: zkctl get --help)\n');
    const cr = await runCli(['create']);
    assert.equal(cr.code, 2);
    const lines = cr.stderr.trim().split('\n');
    assert.equal(lines.length, 2, cr.stderr);
    assert.match(lines[0], /^zkctl: missing argument PATH/);
    assert.match(lines[1], /^usage: zkctl create PATH \[DATA\] \[flags\]/);
    assert.doesNotMatch(cr.stderr, /Note:|Alternatively/);
  });

  it('one trailing-slash rule: /app/ is /app in every command; // is refused with a real suggestion', async () => {
    const s = ['-s', c.server];
    const ls = await runCli(['ls', '/app/', ...s]);
    assert.equal(ls.code, 0, ls.stderr);
    assert.equal(ls.stdout.trim(), 'a');
    const get = await runCli(['get', '/app/a/', ...s]);
    assert.equal(get.code, 0, get.stderr);
    assert.equal(get.stdout, 'a');
    const cr = await runCli(['create', '/app/b/', 'x', ...s]);
    assert.equal(cr.code, 0, cr.stderr);
    assert.equal(cr.stdout.trim(), '/app/b');
    assert.equal((await c.session.get('/app/b')).data.toString(), 'x');
    // the shell's Tab completion leaves a slash after a node with children: the commands take that word as it is
    const [cands] = await complete(c.session, '/', 'ls /ap');
    assert.deepEqual(cands, ['/app/']);
    const viaCompletion = await runCli(['ls', cands[0]!, ...s]);
    assert.equal(viaCompletion.code, 0, viaCompletion.stderr);
    const bad = await runCli(['ls', '//']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /did you mean \/\?/);
    assert.equal(validatePath('/'), '/');
    assert.equal(validatePath('/a/b/'), '/a/b');
  });

  it('create -e without --hold says on stderr that the node lived only as long as the command (exit 0)', async () => {
    const r = await runCli(['create', '-e', '/app/eph', 'x', '-s', c.server]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), '/app/eph');
    oneLine(r.stderr);
    assert.match(r.stderr, /ephemeral: it lives only as long as this command.*--hold/);
  });
});

describe('argv rewriting (src/cli/argv.ts)', () => {
  const table = commandTable(`${repoRoot}dist/commands`);
  it('moves global flags after the command name, leaves what follows -- alone', () => {
    assert.deepEqual(rewriteArgv(['-s', 'h:1', 'lock', '/l', '--', 'sh', '-h'], table), { kind: 'run', argv: ['lock', '-s', 'h:1', '/l', '--', 'sh', '-h'] });
    assert.deepEqual(rewriteArgv(['-ojson', '--timeout=2s', 'ensemble', 'status'], table), { kind: 'run', argv: ['ensemble', 'status', '-ojson', '--timeout=2s'] });
    assert.deepEqual(rewriteArgv(['-h', 'lock', 'ls'], table), { kind: 'run', argv: ['lock', 'ls', '--help'] });
    assert.deepEqual(rewriteArgv(['rmr', '/x'], table), { kind: 'run', argv: ['rm', '-r', '/x'] });
    assert.deepEqual(rewriteArgv(['ensemble:up', '--size', '1'], table), { kind: 'run', argv: ['ensemble', 'up', '--size', '1'] });
    assert.deepEqual(rewriteArgv(['get', '/x', '--', '-h'], table), { kind: 'run', argv: ['get', '/x', '--', '-h'] });
  });
});
