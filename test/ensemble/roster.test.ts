/**
 * The local ensemble's roster (membership.json) and what LocalEnsemble derives from it, on
 * directories with files only (no servers).
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UsageError } from '../../src/core/errors.js';
import { load, makeSpec, readRoster, summarize, writeRoster, type MemberStatus } from '../../src/ensemble/index.js';
import { activeMemberIds, removedMembers } from '../../src/ensemble/membership.js';

/** An ensemble directory with files for members 1..size and the given membership.json (none: undefined). */
function fakeEnsemble(size: number, membership?: unknown): string {
  const dir = mkdtempSync(join(process.env.ZKCTL_TEST_TMP ?? tmpdir(), 'roster-'));
  const spec = makeSpec({ name: 'roster', size, basePort: 29700 }, new Date(0));
  for (let id = 1; id <= size; id++) {
    mkdirSync(join(dir, 'members', String(id), 'data'), { recursive: true });
    writeFileSync(join(dir, 'members', String(id), 'zoo.cfg'), '# fake\n');
  }
  writeFileSync(join(dir, 'ensemble.json'), JSON.stringify(spec));
  if (membership !== undefined) writeFileSync(join(dir, 'membership.json'), JSON.stringify(membership));
  return dir;
}

describe('roster', () => {
  test('no membership.json: members 1..size, all participants', () => {
    const dir = fakeEnsemble(3);
    assert.deepEqual(readRoster(dir, { size: 3 }), [
      { id: 1, role: 'participant' },
      { id: 2, role: 'participant' },
      { id: 3, role: 'participant' },
    ]);
    const e = load(dir);
    assert.deepEqual(e.ids, [1, 2, 3]);
    assert.equal(e.size, 3);
    assert.equal(e.votingSize, 3);
    assert.equal(e.connectString, '127.0.0.1:29700,127.0.0.1:29701,127.0.0.1:29702');
  });

  test('the older {"removed": [...]} file: 1..size without those', () => {
    const dir = fakeEnsemble(3, { removed: [2] });
    const e = load(dir);
    assert.deepEqual(e.ids, [1, 3]);
    assert.deepEqual(removedMembers(e), [2]);
    assert.deepEqual(activeMemberIds(e), [1, 3]);
  });

  test('members with roles: holes, observers, connect string, descriptions', () => {
    const dir = fakeEnsemble(4, { members: [{ id: 4, role: 'observer' }, { id: 1 }, { id: 3, role: 'participant' }] });
    const e = load(dir);
    assert.deepEqual(e.roster(), [
      { id: 1, role: 'participant' },
      { id: 3, role: 'participant' },
      { id: 4, role: 'observer' },
    ]);
    assert.equal(e.size, 3);
    assert.equal(e.votingSize, 2);
    assert.equal(e.connectString, '127.0.0.1:29700,127.0.0.1:29702,127.0.0.1:29703');
    const d = e.describe();
    assert.deepEqual(
      d.members.map((m) => [m.id, m.role, m.clientPort]),
      [
        [1, 'participant', 29700],
        [3, 'participant', 29702],
        [4, 'observer', 29703],
      ],
    );
    assert.equal(d.size, 3);
    assert.equal(d.votingSize, 2);
    assert.equal(d.connectString, e.connectString);
    assert.deepEqual(removedMembers(e), [2]);
  });

  test('a removed member cannot be started, but can be stopped and its log read; unknown ids are usage errors', async () => {
    const dir = fakeEnsemble(3, { members: [{ id: 1 }, { id: 3 }] });
    const e = load(dir);
    await assert.rejects(e.start(2, { wait: false }), (err: unknown) => err instanceof UsageError && /no longer a member/.test(err.message));
    await assert.rejects(e.resolveMember('2'), UsageError);
    assert.equal(e.isRunning(2), false);
    assert.equal((await e.stop(2)).wasRunning, false);
    assert.equal(e.logPath(2), join(dir, 'members', '2', 'zookeeper.log'));
    await assert.rejects(e.stop(5), (err: unknown) => err instanceof UsageError && /use a member id \(1, 3\)/.test(err.hint ?? ''));
    const down = await e.down();
    assert.deepEqual(down.stopped, []);
  });

  test('writeRoster: sorted, one entry per id, read back', () => {
    const dir = fakeEnsemble(2);
    writeRoster(dir, [
      { id: 5, role: 'observer' },
      { id: 2, role: 'participant' },
      { id: 5, role: 'observer' },
    ]);
    assert.deepEqual(readRoster(dir, { size: 2 }), [
      { id: 2, role: 'participant' },
      { id: 5, role: 'observer' },
    ]);
  });

  test('summarize: observers serve but do not vote', () => {
    const m = (id: number, mode: MemberStatus['mode']): MemberStatus => ({ id, host: '127.0.0.1', port: 29700 + id, address: `127.0.0.1:${29700 + id}`, mode, ms: 0 });
    // 2 voting members (1, 3) of which both serve, plus an observer: quorum.
    const ok = summarize([m(1, 'leader'), m(3, 'follower'), m(4, 'observer')], 2);
    assert.equal(ok.quorum, true);
    assert.equal(ok.serving, 3);
    assert.equal(ok.votingSize, 2);
    // 3 voting members, one leader and an observer serving: no majority of voters.
    const no = summarize([m(1, 'leader'), m(2, 'down'), m(3, 'down'), m(4, 'observer')], 3);
    assert.equal(no.quorum, false);
  });
});
