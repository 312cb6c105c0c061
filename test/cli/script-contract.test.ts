/**
 * What scripts rely on (issue #11, "Scripts"): one name per field in every JSON
 * output, exit codes of rm -f / grep / set, config's PATH argument, and the
 * small commands scripts reach for. Through the real binary, on a real ensemble.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { Session } from '../../src/core/session.js';
import { STAT_JSON_FIELDS } from '../../src/output/znode.js';
import { chrootSession, type ChrootSession } from '../helpers/session.js';
import { cli, ok } from '../znode/util.js';

/** Names that once meant a stat field somewhere and must not come back. */
const ALIASES = ['version', 'czxid', 'mzxid', 'pzxid', 'aversion', 'owner', 'created', 'mtimeISO', 'dataSize', 'children_count'];
const STAT = new Set<string>(STAT_JSON_FIELDS);

/** Every key of an object (and of a nested `stat`) that names a stat field must be one of `stat -o json`'s. */
function checkNames(what: string, o: Record<string, unknown>, expectStat: string[]): void {
  const keys = Object.keys(o);
  for (const a of ALIASES) assert.ok(!keys.includes(a), `${what}: "${a}" is another name for a stat field (${keys.join(',')})`);
  for (const k of expectStat) assert.ok(keys.includes(k), `${what}: no "${k}" (${keys.join(',')})`);
  for (const k of expectStat) assert.ok(STAT.has(k), `${k} is a stat name`);
  // Same value types as `stat -o json`.
  for (const k of keys.filter((x) => STAT.has(x))) {
    const want = /Zxid$|^ephemeralOwner$|Iso$/.test(k) ? 'string' : 'number';
    assert.equal(typeof o[k], want, `${what}: ${k} is a ${want} as in stat -o json (got ${JSON.stringify(o[k])})`);
  }
}

describe('JSON output: one name per stat field', { concurrency: 1 }, () => {
  let c: ChrootSession;
  let s: Session;
  let zk: ReturnType<typeof cli>;
  let owner: Session;
  before(async () => {
    c = await chrootSession('json-names');
    s = c.session;
    zk = cli(c);
    await s.create('/app', Buffer.from('root'));
    await s.create('/app/a', Buffer.from('x'));
    await s.create('/lk');
    owner = await Session.connect({ connectString: c.server, timeoutMs: 10_000 });
    await owner.create(`/lk/_c_${randomUUID()}-lock-0000000001`, Buffer.from('me'), { mode: 'ephemeral' });
  });
  after(async () => {
    await owner.close();
    await c.close();
  });

  it('stat, get, ls -l, find -l, create, set, tree, ephemerals and lock ls use the names of stat -o json', async () => {
    const st = JSON.parse(ok(await zk(['stat', '/app', '-o', 'json'])).stdout) as Record<string, unknown>;
    assert.deepEqual(Object.keys(st).filter((k) => k !== 'path'), [...STAT_JSON_FIELDS], 'stat -o json is the stat object');
    const full = [...STAT_JSON_FIELDS];

    const g = JSON.parse(ok(await zk(['get', '/app', '-o', 'json'])).stdout) as { stat: Record<string, unknown> };
    assert.deepEqual(Object.keys(g.stat), full, 'get -o json: the same stat object');

    const ls = JSON.parse(ok(await zk(['ls', '-l', '/app', '-o', 'json'])).stdout) as Array<Record<string, unknown>>;
    checkNames('ls -l', ls[0]!, full);
    assert.deepEqual(ls[0], JSON.parse(ok(await zk(['stat', '/app/a', '-o', 'json'])).stdout), 'an ls -l row is what stat -o json says');

    const f = JSON.parse(ok(await zk(['find', '/app', '-l', '-o', 'json'])).stdout) as Array<Record<string, unknown>>;
    checkNames('find -l', f[0]!, full);

    const cr = JSON.parse(ok(await zk(['create', '/app/b', 'y', '-o', 'json'])).stdout) as { stat: Record<string, unknown> };
    assert.deepEqual(Object.keys(cr.stat), full, 'create -o json');
    const se = JSON.parse(ok(await zk(['set', '/app/b', 'z', '-o', 'json'])).stdout) as { stat: Record<string, unknown> };
    assert.deepEqual(Object.keys(se.stat), full, 'set -o json');

    const t = JSON.parse(ok(await zk(['tree', '/app', '-o', 'json'])).stdout) as Array<Record<string, unknown>>;
    checkNames('tree', t[0]!, ['dataLength', 'numChildren', 'ephemeralOwner']);
    assert.equal(t[0]!.ephemeralOwner, st.ephemeralOwner, 'tree: ephemeralOwner as stat writes it (0x0)');

    const e = JSON.parse(ok(await zk(['ephemerals', '/', '-o', 'json'])).stdout) as Array<Record<string, unknown>>;
    checkNames('ephemerals', e[0]!, ['ephemeralOwner', 'ctime', 'dataLength']);

    const l = JSON.parse(ok(await zk(['lock', 'ls', '/lk', '-o', 'json'])).stdout) as Array<Record<string, unknown>>;
    checkNames('lock ls', l[0]!, ['cZxid', 'ctime', 'ctimeIso']);
    const nodeStat = JSON.parse(ok(await zk(['stat', `/lk/${String(l[0]!.node)}`, '-o', 'json'])).stdout) as Record<string, unknown>;
    assert.equal(l[0]!.cZxid, nodeStat.cZxid);
  });
});
