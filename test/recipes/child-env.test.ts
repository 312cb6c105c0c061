/**
 * One policy for every child zkctl starts (issue 10 item 7): no ZKCTL_*
 * credentials in its environment (ZKCTL_AUTH, and any ZKCTL_* naming AUTH,
 * PASS, SECRET, TOKEN, CRED, KEY, SASL or JAAS), other ZKCTL_* settings kept,
 * the variables zkctl sets for the child present. Checked for lock, elect,
 * services register, watch --exec and config watch --exec.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseConfigYaml } from '../../src/core/config/document.js';
import { childEnv, hookFailure, isCredentialVar, runHook } from '../../src/core/proc.js';
import { publishConfig } from '../../src/core/recipes/config-publish.js';
import { chrootSession, type ChrootSession } from '../helpers/session.js';
import { runCli } from '../helpers/zk.js';
import { scratchDir, spawnCli, until } from './util.js';

const SECRET = 'S3cr3t-child-env';
const ENV = {
  ZKCTL_AUTH: `digest:envuser:${SECRET}`,
  ZKCTL_SASL_PASSWORD: SECRET,
  ZKCTL_TLS_KEY_PASSWORD: SECRET,
  ZKCTL_FENCING_TOKEN: '1', // an outer holder's token: replaced by the child's own, never passed down
  ZKCTL_SOME_SETTING: 'kept',
};
/** A CMD that writes its ZKCTL_* variables to FILE. */
const dump = (file: string): string => `env | grep '^ZKCTL_' | sort > '${file}'`;

function check(file: string, own: string[]): void {
  const text = readFileSync(file, 'utf8');
  assert.ok(!text.includes(SECRET), `a credential reached the child:\n${text}`);
  for (const line of text.trim().split('\n')) {
    const name = line.split('=')[0]!;
    assert.ok(!isCredentialVar(name) || name === 'ZKCTL_FENCING_TOKEN', `credential variable ${name} reached the child`);
  }
  assert.match(text, /^ZKCTL_SOME_SETTING=kept$/m, 'other ZKCTL_* settings stay');
  for (const v of own) assert.match(text, new RegExp(`^${v}=`, 'm'), `${v} set for the child`);
}

describe('the environment of every child zkctl starts', () => {
  let cs: ChrootSession;
  before(async () => {
    cs = await chrootSession('childenv');
  });
  after(async () => {
    await cs.close();
  });

  it('childEnv drops credentials and keeps the rest', () => {
    const env = childEnv({ ZKCTL_LOCK_PATH: '/x' }, { PATH: '/bin', ...ENV });
    assert.deepEqual(Object.keys(env).sort(), ['PATH', 'ZKCTL_LOCK_PATH', 'ZKCTL_SOME_SETTING']);
  });

  it('runHook, the one hook runner of the streams (watch, config watch, the shell): the strict rule, not just ZKCTL_AUTH', async () => {
    // The lenient rule one copy had (drop ZKCTL_AUTH only) lets ZKCTL_SASL_PASSWORD and ZKCTL_TLS_KEY_PASSWORD through: fails here.
    const f = join(scratchDir('env-hook'), 'env');
    const r = await runHook(`${dump(f)}; cat > '${f}.in'; exit 3`, { env: { ZKCTL_WATCH_EVENT: 'created' }, input: 'stdin data', baseEnv: { PATH: process.env.PATH, ...ENV } });
    check(f, ['ZKCTL_WATCH_EVENT']);
    assert.doesNotMatch(readFileSync(f, 'utf8'), /ZKCTL_(SASL|TLS_KEY)_PASSWORD|ZKCTL_AUTH=/);
    assert.equal(readFileSync(`${f}.in`, 'utf8'), 'stdin data');
    assert.equal(r.ok, false);
    assert.equal(!r.ok && hookFailure(r), 'exited with 3');
  });

  it('lock -- CMD', async () => {
    const f = join(scratchDir('env-lock'), 'env');
    const r = await runCli(['lock', '-s', cs.server, '/envlock', '--', 'sh', '-c', dump(f)], { env: ENV });
    assert.equal(r.code, 0, r.stderr);
    check(f, ['ZKCTL_LOCK_PATH', 'ZKCTL_LOCK_NODE', 'ZKCTL_FENCING_TOKEN']);
    assert.doesNotMatch(readFileSync(f, 'utf8'), /^ZKCTL_FENCING_TOKEN=1$/m, "the outer token is replaced by the lock's");
  });

  it("lock's reaper: no start-up files (even with SHLVL unset, as under cron), no credentials in its environment", async () => {
    const dir = scratchDir('env-reaper');
    // bash runs ~/.bashrc when its stdin is a socket and SHLVL is unset: this one would say so.
    writeFileSync(join(dir, '.bashrc'), `echo sourced >> '${dir}/bashrc-ran'\n`);
    const trace = join(dir, 'trace');
    // CMD finds its sibling, the reaper (a child of zkctl named zkctl-reaper), waits until it is armed, and copies its environment.
    const cmd = `for i in $(seq 100); do grep -q armed '${trace}' 2>/dev/null && break; sleep 0.05; done
for d in /proc/[0-9]*; do
  [ "$d" = /proc/$$ ] && continue
  tr '\\0' ' ' < $d/cmdline 2>/dev/null | grep -q zkctl-reaper || continue
  set -- $(sed 's/^.*) //' $d/stat); [ "$2" = "$PPID" ] || continue
  tr '\\0' '\\n' < $d/environ > '${dir}/reaper-env'
done`;
    const r = await runCli(['lock', '-s', cs.server, '/envreaper', '--', 'sh', '-c', cmd], { env: { ...ENV, HOME: dir, SHLVL: undefined, BASH_ENV: join(dir, '.bashrc'), ZKCTL_REAPER_TRACE: trace } });
    assert.equal(r.code, 0, r.stderr);
    assert.match(readFileSync(trace, 'utf8'), /armed/);
    assert.ok(existsSync(join(dir, 'reaper-env')), 'the CMD found its reaper');
    const env = readFileSync(join(dir, 'reaper-env'), 'utf8');
    assert.ok(!env.includes(SECRET), `a credential reached the reaper:\n${env}`);
    assert.doesNotMatch(env, /^ZKCTL_(AUTH|SOME_SETTING)=/m);
    assert.ok(!existsSync(join(dir, 'bashrc-ran')), 'the reaper ran a start-up file');
  });

  it('elect -- CMD', async () => {
    const f = join(scratchDir('env-elect'), 'env');
    const r = await runCli(['elect', '-s', cs.server, '/envelect', '--id', 'e1', '--', 'sh', '-c', dump(f)], { env: ENV });
    assert.equal(r.code, 0, r.stderr);
    check(f, ['ZKCTL_ELECTION_PATH', 'ZKCTL_LEADER_ID', 'ZKCTL_FENCING_TOKEN']);
  });

  it('services register -- CMD', async () => {
    const f = join(scratchDir('env-reg'), 'env');
    const r = await runCli(['services', 'register', 'envsvc', '--port', '47995', '-s', cs.server, '--', 'sh', '-c', dump(f)], { env: ENV });
    assert.equal(r.code, 0, r.stderr);
    check(f, []);
  });

  it('watch --exec', async () => {
    const f = join(scratchDir('env-watch'), 'env');
    await cs.session.create('/envwatch', Buffer.from('0'));
    const w = spawnCli(['watch', '/envwatch', '--data', '--count', '1', '--exec', dump(f), '-s', cs.server], { env: ENV });
    try {
      let n = 0;
      // The watch may not be armed yet: change the node until the hook has run.
      await until(
        async () => {
          if (existsSync(f)) return true;
          await cs.session.set('/envwatch', Buffer.from(String(++n)));
          return false;
        },
        'the --exec hook to run',
        () => w.stderr(),
      );
      assert.equal((await w.exited).code, 0, w.stderr());
      check(f, ['ZKCTL_WATCH_EVENT', 'ZKCTL_WATCH_PATH']);
    } finally {
      w.child.kill('SIGKILL');
    }
  });

  it('config watch --exec', async () => {
    const f = join(scratchDir('env-cfg'), 'env');
    await publishConfig(cs.session, '/envcfg', parseConfigYaml('n: 1\n'));
    const r = await runCli(['config', 'watch', '/envcfg', '--count', '1', '--exec', dump(f), '-s', cs.server], { env: ENV });
    assert.equal(r.code, 0, r.stderr);
    check(f, ['ZKCTL_CONFIG_VERSION', 'ZKCTL_CONFIG_PATH']);
  });
});
