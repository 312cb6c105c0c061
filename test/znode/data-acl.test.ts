/**
 * Data sources and formats, versions and sizes, ACL parsing (core, called directly),
 * and the request-size check against the real server's limit.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { digestId, formatAcl, parseAcl, parseAcls, splitAclList } from '../../src/core/acl.js';
import {
  assertRequestFits,
  formatBytes,
  formatData,
  maxRequestBytes,
  parseSize,
  parseVersion,
  readData,
  requestSize,
} from '../../src/core/data.js';
import { ExitCode } from '../../src/core/errors.js';
import { OPEN_ACL_UNSAFE } from '../../src/core/session.js';
import { chrootSession } from '../helpers/session.js';

const usage = (e: unknown): boolean => (e as { exitCode?: number }).exitCode === ExitCode.USAGE;

describe('data', () => {
  it('reads the argument, a file, stdin; refuses both, unreadable files and directories', async () => {
    const dir = mkdtempSync(join(process.env.ZKCTL_TEST_TMP ?? tmpdir(), 'zkdata-'));
    const f = join(dir, 'blob');
    writeFileSync(f, Buffer.from([0, 1, 2, 255]));
    assert.deepEqual(await readData({ arg: 'héllo' }), Buffer.from('héllo'));
    assert.deepEqual(await readData({ file: f }), Buffer.from([0, 1, 2, 255]));
    assert.deepEqual(await readData({ arg: '-' }, Readable.from([Buffer.from('a'), Buffer.from('b')])), Buffer.from('ab'));
    assert.deepEqual(await readData({}), Buffer.alloc(0));
    await assert.rejects(readData({ arg: 'x', file: f }), usage);
    await assert.rejects(readData({ file: join(dir, 'missing') }), usage);
    await assert.rejects(readData({ file: dir }), usage);
    const huge = join(dir, 'huge');
    writeFileSync(huge, Buffer.alloc(maxRequestBytes() + 1));
    await assert.rejects(readData({ file: huge }), usage);
  });

  it('formats: utf8, hex, base64, json and yaml pretty-print, invalid structured data is exit 2', () => {
    const b = Buffer.from('{"a":[1,2]}');
    assert.equal(formatData(b, 'hex'), b.toString('hex'));
    assert.equal(formatData(b, 'base64'), b.toString('base64'));
    assert.equal(formatData(b, 'utf8'), '{"a":[1,2]}');
    assert.equal(formatData(b, 'json'), '{\n  "a": [\n    1,\n    2\n  ]\n}');
    assert.equal(formatData(b, 'yaml'), 'a:\n  - 1\n  - 2');
    assert.equal(formatData(Buffer.from('a: 1\nb: [x]\n'), 'yaml'), 'a: 1\nb:\n  - x');
    assert.throws(() => formatData(Buffer.from('not json'), 'json'), usage);
    assert.throws(() => formatData(Buffer.alloc(0), 'json'), usage);
    assert.throws(() => formatData(Buffer.from([0xff, 0xfe]), 'json'), usage);
    assert.throws(() => formatData(Buffer.from('a: b: c'), 'yaml'), usage);
    assert.throws(() => formatData(Buffer.from('{"a":1,"a":2}'), 'yaml'), usage);
  });

  it('versions are non-negative integers; sizes take k/M suffixes', () => {
    assert.equal(parseVersion('0'), 0);
    assert.equal(parseVersion('42'), 42);
    assert.equal(parseVersion(undefined), undefined);
    for (const bad of ['-1', 'abc', '1.5', '', ' ', '99999999999']) assert.throws(() => parseVersion(bad), usage, bad);
    assert.equal(parseSize('512'), 512);
    assert.equal(parseSize('10k'), 10240);
    assert.equal(parseSize('1M'), 1048576);
    assert.equal(parseSize('1.5KiB'), 1536);
    assert.throws(() => parseSize('lots'), usage);
    assert.equal(formatBytes(1536), '1.5 KiB');
    assert.equal(formatBytes(12), '12 B');
  });

  it('the request-size check matches the server limit exactly (create and set)', async () => {
    const c = await chrootSession('znode-size');
    try {
      const s = c.session;
      const sp = `${c.chroot}/big`;
      const max = maxRequestBytes();
      const fits = max - requestSize(sp, Buffer.alloc(0), OPEN_ACL_UNSAFE);
      assert.doesNotThrow(() => assertRequestFits(sp, Buffer.alloc(fits), OPEN_ACL_UNSAFE));
      assert.throws(() => assertRequestFits(sp, Buffer.alloc(fits + 1), OPEN_ACL_UNSAFE), usage);
      // the largest request the check lets through is accepted by the server
      await s.create('/big', Buffer.alloc(fits));
      assert.equal((await s.exists('/big'))!.dataLength, fits);
      const setFits = max - requestSize(sp, Buffer.alloc(0));
      assert.throws(() => assertRequestFits(sp, Buffer.alloc(setFits + 1)), usage);
      await s.set('/big', Buffer.alloc(setFits));
      assert.equal((await s.exists('/big'))!.dataLength, setFits);
    } finally {
      await c.close();
    }
  });
});

describe('acl', () => {
  it('parses the schemes and round-trips', () => {
    assert.deepEqual(parseAcl('world:anyone:r'), { perms: 1, id: { scheme: 'world', id: 'anyone' } });
    assert.deepEqual(parseAcl('ip:10.0.0.0/8:cdrwa'), { perms: 31, id: { scheme: 'ip', id: '10.0.0.0/8' } });
    assert.deepEqual(parseAcl('auth::rw'), { perms: 3, id: { scheme: 'auth', id: '' } });
    const hash = 'bob:ikIaKsbtGweaHnb/jKn7OHqbunM=';
    assert.deepEqual(parseAcl(`digest:${hash}:cdrwa`), { perms: 31, id: { scheme: 'digest', id: hash } });
    assert.equal(digestId('bob', 'pw'), hash);
    assert.deepEqual(parseAcl('digest-password:bob:pw:ra'), { perms: 17, id: { scheme: 'digest', id: hash } });
    for (const s of ['world:anyone:cdrwa', 'ip:127.0.0.1:r', `digest:${hash}:dw`, 'auth::a', 'x509:CN=a,OU=b:r']) {
      assert.equal(formatAcl(parseAcl(s)), s);
    }
  });

  it('splits comma-separated lists without breaking ids that hold commas', () => {
    assert.deepEqual(splitAclList('world:anyone:r,auth::cdrwa'), ['world:anyone:r', 'auth::cdrwa']);
    assert.deepEqual(splitAclList('x509:CN=a,OU=b:r,world:anyone:r'), ['x509:CN=a,OU=b:r', 'world:anyone:r']);
    assert.equal(parseAcls(['world:anyone:r,ip:10.1.2.3:cdrwa', 'auth::a']).length, 3);
  });

  it('malformed ACLs are usage errors', () => {
    for (const bad of [
      'world',
      'world:anyone',
      'world:anyone:',
      'world:anyone:rx',
      'world:bob:r',
      'ip:999.1.1.1:r',
      'ip:10.0.0.0/33:r',
      'digest:bob:r',
      'digest:bob:nothash:r',
      'digest-password:bob:r',
      'nosuch:x:r',
      ':x:r',
    ]) {
      assert.throws(() => parseAcl(bad), usage, bad);
    }
    assert.throws(() => parseAcls([]), usage);
  });
});
