/**
 * Bad input: each case ends with exit 2, one line on stderr, nothing on stdout,
 * and nothing written to ZooKeeper.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { maxRequestBytes } from '../../src/core/data.js';
import { ExitCode } from '../../src/core/errors.js';
import { Session } from '../../src/core/session.js';
import { chrootSession, type ChrootSession } from '../helpers/session.js';
import { runCli, testServer } from '../helpers/zk.js';

describe('bad input: exit 2, one line, nothing written', { concurrency: 6 }, () => {
  let c: ChrootSession;
  let s: Session;
  let dir: string;
  let countBefore: number;
  let root: Session;
  let zkBefore: string;
  const zkState = async (): Promise<string> => {
    const kids = (await root.getChildren('/zookeeper')).children.sort();
    const quotaKids = (await root.getChildren('/zookeeper/quota')).children.sort();
    const quota = await root.get('/zookeeper/quota');
    const acl = await root.getACL('/zookeeper');
    return JSON.stringify([kids, quotaKids, quota.data.toString('hex'), quota.stat.version, quota.stat.aversion, acl.stat.aversion]);
  };
  before(async () => {
    c = await chrootSession('znode-bad-input');
    s = c.session;
    await s.create('/x', Buffer.from('orig'));
    await s.create('/q');
    countBefore = await s.getAllChildrenNumber('/');
    dir = mkdtempSync(join(process.env.ZKCTL_TEST_TMP ?? tmpdir(), 'zkbad-'));
    // under the 1 MiB file check, over the request limit once path and header are added
    writeFileSync(join(dir, 'big'), Buffer.alloc(maxRequestBytes() - 10, 0x61));
    writeFileSync(join(dir, 'huge'), Buffer.alloc(maxRequestBytes() + 1000, 0x61));
    writeFileSync(join(dir, 'backup.yaml'), 'format: zkctl-backup\nversion: 1\nnodes:\n- path: .\n  data: x\n- path: quota\n  data: hacked\ncount: 2\n');
    writeFileSync(join(dir, 'cfg.yaml'), 'a: 1\n');
    root = await Session.connect({ connectString: testServer(), timeoutMs: 10_000 });
    zkBefore = await zkState();
  });
  after(async () => {
    // nothing was written anywhere in the chroot
    assert.equal(await s.getAllChildrenNumber('/'), countBefore);
    const { data, stat } = await s.get('/x');
    assert.equal(data.toString(), 'orig');
    assert.equal(stat.version, 0);
    assert.equal(stat.aversion, 0);
    assert.equal((await s.getChildren('/q')).children.length, 0);
    assert.equal(await zkState(), zkBefore);
    await root.close();
    await c.close();
  });

  const cases: Array<[string, string[], RegExp, { input?: Buffer; noChroot?: boolean; chroot?: string; secret?: string; env?: Record<string, string> }?]> = [
    ['relative path', ['create', 'x/y', 'data'], /must start with \//],
    ['relative path (get)', ['get', 'x'], /must start with \//],
    ['empty path', ['create', '', 'data'], /empty/],
    ['empty path (ls)', ['ls', ''], /./],
    // one trailing slash is accepted and dropped (/x/ is /x); two are an empty segment, with a real suggestion
    ['two trailing slashes', ['create', '/x//', 'data'], /empty segment \(\/\/\) in path \(did you mean \/x\?\)/],
    ['two trailing slashes (set)', ['set', '/x//', 'data'], /did you mean \/x\?/],
    ['ls //', ['ls', '//'], /empty segment \(\/\/\) in path \(did you mean \/\?\)/],
    ['double slash', ['create', '/q//y', 'data'], /\/\//],
    ['dot segment', ['create', '/q/./y'], /relative segment/],
    ['dot-dot segment', ['set', '/q/../x', 'data'], /relative segment/],
    ['dot-dot segment (rm)', ['rm', '-r', '/q/..'], /relative segment/],
    ['sequential with a trailing-slash parent', ['create', '-S', '/q/', 'data'], /sequential/],
    ['negative version (set)', ['set', '/x', 'new', '-v', '-1'], /non-negative/],
    ['non-numeric version (set)', ['set', '/x', 'new', '-v', 'abc'], /non-negative/],
    ['non-numeric version (rm)', ['rm', '/x', '-v', '1.5'], /non-negative/],
    ['negative version (acl set)', ['acl', 'set', '/x', 'world:anyone:r', '-v', '-2'], /non-negative/],
    ['malformed ACL (create)', ['create', '/q/n', '--acl', 'world:anyone:q'], /invalid ACL/],
    ['malformed ACL (no perms)', ['create', '/q/n', '--acl', 'digest:bob'], /invalid ACL/],
    ['malformed ACL (acl set)', ['acl', 'set', '/x', 'bogus'], /invalid ACL/],
    ['malformed ACL (bad ip)', ['acl', 'set', '/x', 'ip:10.0.0.300:r'], /invalid ACL/],
    ['unreadable --file (missing)', ['create', '/q/n', '--file', '/nonexistent/zkctl'], /cannot read --file/],
    ['unreadable --file (directory)', ['set', '/x', '--file', '/'], /cannot read --file/],
    ['both DATA and --file', ['set', '/x', 'data', '--file', '/etc/hostname'], /not both/],
    ['data over the server limit (--file, create)', ['create', '/q/n', '--file', '@big'], /data too large/],
    ['data over the server limit (--file, set)', ['set', '/x', '--file', '@big'], /data too large/],
    ['data file far over the limit', ['set', '/x', '--file', '@huge'], /data too large/],
    ['data over the server limit (stdin)', ['set', '/x', '-'], /data too large/, { input: Buffer.alloc(maxRequestBytes() + 10) }],
    ['container and ephemeral', ['create', '-c', '-e', '/q/n'], /cannot be combined/],
    ['bad TTL', ['create', '-t', 'soon', '/q/n'], /invalid TTL/],
    ['bad --min-size', ['find', '/', '--min-size', 'big'], /invalid --min-size/],
    ['bad --regex', ['find', '/', '--regex', '('], /invalid --regex/],
    ['bad grep pattern', ['grep', '/', '['], /invalid PATTERN/],
    ['unknown --format', ['get', '/x', '--format', 'xml'], /./],
    ['rm /', ['rm', '-r', '/'], /refusing to delete \//],
    ['create under /zookeeper', ['create', '/zookeeper/x', 'data'], /\/zookeeper/, { noChroot: true }],
    ['set /zookeeper/quota', ['set', '/zookeeper/quota', 'data'], /\/zookeeper/, { noChroot: true }],
    ['rm -r /zookeeper', ['rm', '-r', '/zookeeper'], /\/zookeeper/, { noChroot: true }],
    ['acl set /zookeeper', ['acl', 'set', '/zookeeper', 'world:anyone:r'], /\/zookeeper/, { noChroot: true }],
    ['lock under /zookeeper', ['lock', '/zookeeper/l', '--', 'true'], /refusing to lock \/zookeeper\/l/, { noChroot: true }],
    ['elect under /zookeeper', ['elect', '/zookeeper/e', '--id', 'a', '--', 'true'], /refusing to campaign on \/zookeeper\/e/, { noChroot: true }],
    ['services register under /zookeeper', ['services', 'register', 'web', '--port', '1', '--base-path', '/zookeeper/svc'], /refusing to register under \/zookeeper\/svc\/web/, { noChroot: true }],
    // (-s before --: the runner's own -s lands in CMD, never run)
    ['lock through the chroot /zookeeper', ['lock', '-s', `${testServer()}/zookeeper`, '/quota/l', '--', 'true'], /\/zookeeper\/quota\/l on the server/, { noChroot: true }],
    // issue 10.12: the guard is on the server-side path (chroot + path)
    ['create through the chroot /zookeeper', ['create', '/quota/x', 'y'], /\/zookeeper\/quota\/x on the server/, { chroot: '/zookeeper' }],
    ['create -p through the chroot /zookeeper/quota', ['create', '-p', '/a/b', 'y'], /\/zookeeper\/quota\/a\/b on the server/, { chroot: '/zookeeper/quota' }],
    ['set through the chroot /zookeeper', ['set', '/quota', 'data'], /server's own subtree/, { chroot: '/zookeeper' }],
    ['set / through the chroot /zookeeper/quota', ['set', '/', 'data'], /server's own subtree/, { chroot: '/zookeeper/quota' }],
    ['rm -r through the chroot /zookeeper', ['rm', '-r', '/quota'], /server's own subtree/, { chroot: '/zookeeper' }],
    ['acl set through the chroot /zookeeper', ['acl', 'set', '/quota', 'world:anyone:r'], /server's own subtree/, { chroot: '/zookeeper' }],
    ['import through the chroot /zookeeper', ['import', '@backup.yaml', '/'], /server's own subtree/, { chroot: '/zookeeper' }],
    ['config publish through the chroot /zookeeper', ['config', 'publish', '/quota/cfg', '@cfg.yaml'], /server's own subtree/, { chroot: '/zookeeper' }],
    ['cp to the chroot /zookeeper', ['cp', '/x', '/quota/copy', '--to-server', `${testServer()}/zookeeper`], /server's own subtree/],
    // issue 10.20: one rule for every --for (and --timeout): positive
    ['get -w --for 0', ['get', '-w', '--for', '0', '/x'], /--for must be positive/],
    ['watch --for 0', ['watch', '/x', '--for', '0s'], /--for must be positive/],
    ['config watch --for 0', ['config', 'watch', '/q', '--for', '0'], /--for must be positive/],
    ['elect watch --for 0', ['elect', 'watch', '/q', '--for', '0ms'], /--for must be positive/],
    ['lock --timeout 0', ['lock', '/q/l', '--timeout', '0', '--', 'true'], /--timeout must be positive/],
    ['--timeout 0', ['get', '/x', '--timeout', '0'], /--timeout must be positive/],
    // issue 10.6: durations past what a timer can hold are refused, never wrapped to "at once"
    ['--timeout too long', ['get', '/x', '--timeout', '9999999999h'], /--timeout "9999999999h" is too long/],
    ['get -w --for too long', ['get', '-w', '/x', '--for', '9999999999h'], /--for "9999999999h" is too long/],
    ['watch --for too long', ['watch', '/x', '--for', '9999999999h'], /--for "9999999999h" is too long/],
    // issue 10.10: a digest credential without a user (the password would be taken as the user)
    ['--auth digest without a user', ['whoami', '--auth', 'digest:S3cr3t'], /--auth value: digest needs user:password, but no user was given/, { secret: 'S3cr3t' }],
    ['--auth digest with an empty user', ['get', '/x', '--auth', 'digest::S3cr3t'], /the user is empty/, { secret: 'S3cr3t' }],
    ['ZKCTL_AUTH digest without a user', ['whoami'], /invalid ZKCTL_AUTH value: digest needs user:password/, { secret: 'S3cr3t', env: { ZKCTL_AUTH: 'digest:S3cr3t' } }],
    // issue 10.11: oclif's parse errors never repeat a value typed with = (a misspelt --auth)
    ['misspelt --auth with =', ['ls', '/', '--aut=digest:u:S3cr3t'], /Nonexistent flag: --aut=…/, { secret: 'S3cr3t' }],
    ['unexpected NAME=VALUE argument', ['ls', '/', 'auth=digest:u:S3cr3t'], /Unexpected argument: auth=…/, { secret: 'S3cr3t' }],
  ];

  for (const [name, args0, msg, opts] of cases) {
    it(name, async () => {
      const args = args0.map((a) => (a.startsWith('@') ? join(dir, a.slice(1)) : a));
      const server = opts?.noChroot ? testServer() : opts?.chroot ? `${testServer()}${opts.chroot}` : c.server;
      const r = await runCli([...args, '-s', server], { input: opts?.input, env: { ZKCTL_AUTH: undefined, ...opts?.env } });
      if (opts?.secret) assert.ok(!r.stderr.includes(opts.secret), `the secret is shown: ${r.stderr}`);
      assert.equal(r.code, ExitCode.USAGE, `exit ${r.code}: ${r.stderr}`);
      assert.equal(r.stdout, '');
      const lines = r.stderr.trimEnd().split('\n');
      assert.equal(lines.length, 1, `one line expected: ${r.stderr}`);
      assert.match(lines[0], /^zkctl: /);
      assert.match(lines[0], msg);
    });
  }

  it('the session layer refuses a NUL in a path (argv cannot carry one)', async () => {
    await assert.rejects(s.create('/q/a\u0000b'), (e: unknown) => (e as { exitCode?: number }).exitCode === ExitCode.USAGE && /NUL/.test((e as Error).message));
  });
});
