/**
 * zkctl for a uid with no passwd entry and no $HOME/$SHELL (containers run with
 * an arbitrary uid; issue 21): `env -i` + `setpriv --reuid=54321`. Node's
 * os.homedir()/os.userInfo() throw ENOENT there, and oclif calls both.
 * Needs root (setpriv) and a checkout that uid can read (skipped otherwise).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { repoRoot, testServer } from '../helpers/zk.js';

const UID = 54321;
const SETPRIV = ['/usr/bin/setpriv', '/bin/setpriv'].find((p) => existsSync(p));

function asNobody(args: string[], env: Record<string, string> = {}): { code: number | null; stdout: string; stderr: string } {
  const envArgs = Object.entries(env).map(([k, v]) => `${k}=${v}`);
  const r = spawnSync('/usr/bin/env', ['-i', ...envArgs, SETPRIV!, `--reuid=${UID}`, `--regid=${UID}`, '--clear-groups', process.execPath, join(repoRoot, 'bin', 'zkctl.js'), ...args], {
    cwd: '/',
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const skip = (() => {
  if (process.getuid?.() !== 0) return 'needs root (setpriv to an unknown uid)';
  if (!SETPRIV) return 'setpriv (util-linux) is not installed';
  if (spawnSync('getent', ['passwd', String(UID)]).status === 0) return `uid ${UID} has a passwd entry here`;
  // The checkout must be readable by that uid (every directory up to it searchable).
  const r = spawnSync(SETPRIV, [`--reuid=${UID}`, `--regid=${UID}`, '--clear-groups', '/bin/sh', '-c', 'test -r "$1"', 'sh', join(repoRoot, 'dist', 'cli', 'fast-path.js')]);
  if (r.status !== 0) return `the checkout ${repoRoot} is not readable by uid ${UID}`;
  return false;
})();

/** A scratch TMPDIR that uid can reach (the suite's own scratch dir is root's, 0700). */
function reachableTmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'zkctl-nopasswd-'));
  chmodSync(d, 0o1777);
  return d;
}

describe('a uid with no passwd entry, no HOME, no SHELL', { skip }, () => {
  const made: string[] = [];
  after(() => {
    for (const d of made) rmSync(d, { recursive: true, force: true });
  });

  it('runs commands, with config and state under a private temp home', () => {
    const tmp = reachableTmp();
    made.push(tmp);
    const env = { TMPDIR: tmp, PATH: '/usr/bin:/bin' };
    const ls = asNobody(['ls', '/', '-s', testServer()], env);
    assert.equal(ls.code, 0, ls.stderr);
    assert.match(ls.stdout, /zookeeper/);
    assert.equal(ls.stderr, '', 'no warning when a home can be had');
    const home = join(tmp, `zkctl-home-${UID}`);
    const st = statSync(home);
    assert.equal(st.uid, UID);
    assert.equal(st.mode & 0o777, 0o700);
    // Writes its contexts file there, and reads it back.
    const set = asNobody(['context', 'set', 'np', '--server', testServer()], env);
    assert.equal(set.code, 0, set.stderr);
    assert.ok(existsSync(join(home, '.config', 'zkctl', 'config.yaml')), 'contexts file under the temp home');
    const ls2 = asNobody(['ls', '/'], env);
    assert.equal(ls2.code, 0, ls2.stderr);
    // --help loads every plugin (the path that read os.userInfo()).
    const help = asNobody(['--help'], env);
    assert.equal(help.code, 0, help.stderr);
  });

  it('XDG_CONFIG_HOME is honoured; one warning line when no home can be had, and read-only commands still work', () => {
    const tmp = reachableTmp();
    made.push(tmp);
    // Someone else's directory where the temp home would go.
    mkdirSync(join(tmp, `zkctl-home-${UID}`), { mode: 0o755 });
    const cfg = join(tmp, 'cfg');
    mkdirSync(cfg);
    chmodSync(cfg, 0o777);
    const env = { TMPDIR: tmp, PATH: '/usr/bin:/bin', XDG_CONFIG_HOME: cfg };
    const ls = asNobody(['ls', '/', '-s', testServer()], env);
    assert.equal(ls.code, 0, ls.stderr);
    const lines = ls.stderr.trim().split('\n');
    assert.equal(lines.length, 1, ls.stderr);
    assert.match(lines[0]!, /^zkctl: no home directory for uid 54321 .*set HOME or XDG_CONFIG_HOME/);
    const set = asNobody(['context', 'set', 'np', '--server', testServer()], env);
    assert.equal(set.code, 0, set.stderr);
    assert.ok(existsSync(join(cfg, 'zkctl', 'config.yaml')), 'contexts file under XDG_CONFIG_HOME');
  });
});
