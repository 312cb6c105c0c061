/** A ZooKeeper release directory (--zk-home / ZOOKEEPER_HOME) instead of Debian's package. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freeBasePort, load, up } from '../../src/ensemble/index.js';
import { testPortStart } from '../helpers/zk.js';

const debianJar = '/usr/share/java/zookeeper.jar';

test('a 1-member ensemble from a release-style directory (lib/zookeeper-X.Y.Z.jar)', { skip: !existsSync(debianJar) && 'no Debian zookeeper jar to build a release dir from' }, async () => {
  const scratch = mkdtempSync(join(process.env.ZKCTL_TEST_TMP ?? tmpdir(), 'zkhome-'));
  const home = join(scratch, 'apache-zookeeper-3.8.0-bin');
  const dir = join(scratch, 'ens');
  mkdirSync(join(home, 'lib'), { recursive: true });
  // The Debian jar's manifest Class-Path brings its dependencies; add the log4j binding like a 3.5-3.7 release.
  symlinkSync(debianJar, join(home, 'lib', 'zookeeper-3.8.0.jar'));
  symlinkSync('/usr/share/java/slf4j-log4j12.jar', join(home, 'lib', 'slf4j-log4j12-1.7.32.jar'));
  symlinkSync('/usr/share/java/log4j-1.2.jar', join(home, 'lib', 'log4j-1.2.17.jar'));
  try {
    const basePort = await freeBasePort({ start: testPortStart(), size: 1 });
    const r = await up({ name: 'zkhome', size: 1, basePort, dir, zkHome: home, waitMs: 60_000 });
    assert.equal(r.status.members[0]?.mode, 'leader', 'a quorum of one (standaloneEnabled=false)');
    const e = load(dir);
    assert.equal(e.spec.zkHome, home, 'recorded, so start/restart use it again');
    const argv = (await import('node:fs')).readFileSync(`/proc/${r.members[0]!.pid}/cmdline`, 'utf8').split('\0');
    assert.ok(argv.some((a) => a.includes(join(home, 'lib', 'zookeeper-3.8.0.jar'))), 'runs from the release dir');
    const rs = await e.restart(1);
    assert.equal(rs.status?.mode, 'leader');
    await e.down({ purge: true });
  } finally {
    if (existsSync(join(dir, 'ensemble.json'))) await load(dir).down({ purge: true });
    rmSync(scratch, { recursive: true, force: true });
  }
});
