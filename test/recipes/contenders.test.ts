import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fencingSchedule, newNodePrefix, NODE_NAME_PATTERNS, parseContenderName, sortContenders } from '../../src/core/recipes/contenders.js';
import { parseCons } from '../../src/core/recipes/owners.js';

describe('contender node names', () => {
  it('writes the formats byte for byte', () => {
    for (const f of ['curator', 'curator-latch', 'kazoo'] as const) {
      const name = `${newNodePrefix(f)}0000000042`;
      assert.match(name, NODE_NAME_PATTERNS[f], `${f}: ${name}`);
      const p = parseContenderName(name)!;
      assert.equal(p.format, f);
      assert.equal(p.seq, 42);
    }
    assert.equal(newNodePrefix('curator').length, 3 + 36 + 1 + 5);
    assert.equal(newNodePrefix('kazoo').length, 32 + 8);
  });

  it('orders by the number after the last marker, across formats', () => {
    const names = [
      '6846f5d6ed3a4056ab9fbf181b599509__lock__0000000007',
      '_c_838af487-dbaf-4c22-a962-acad77e88a49-lock-0000000003',
      'not-a-contender',
      '_c_838af487-dbaf-4c22-a962-acad77e88a49-latch-0000000010',
      'lock-0000000005',
      'x-lock-lock-0000000001',
    ];
    const sorted = sortContenders(names);
    assert.deepEqual(
      sorted.map((p) => [p.seq, p.format]),
      [
        [1, 'other'],
        [3, 'curator'],
        [5, 'other'],
        [7, 'kazoo'],
        [10, 'curator-latch'],
      ],
    );
    assert.equal(sorted[0]!.prefix, 'x-lock-lock-');
  });

  it('derives the fencing schedule from the session timeout', () => {
    assert.deepEqual(fencingSchedule(30_000, 5000), { sessionTimeoutMs: 30_000, stopAfterMs: 15_000, graceMs: 5000, killByMs: 20_000 });
    const s4 = fencingSchedule(4000, 1000);
    assert.deepEqual(s4, { sessionTimeoutMs: 4000, stopAfterMs: 2000, graceMs: 1000, killByMs: 3000 });
    const tight = fencingSchedule(4000, 5000);
    assert.equal(tight.stopAfterMs, 1333);
    assert.ok(tight.killByMs <= 3200 && tight.graceMs < 5000);
    for (const T of [4000, 6000, 10_000, 30_000, 40_000]) {
      for (const g of [0, 500, 5000, 60_000]) {
        const s = fencingSchedule(T, g);
        assert.ok(s.stopAfterMs >= T / 3 - 1 && s.stopAfterMs <= T / 2, `stop ${JSON.stringify(s)}`);
        assert.ok(s.stopAfterMs + s.graceMs <= T * 0.8, `kill by 0.8 T ${JSON.stringify(s)}`);
      }
    }
  });

  it('parses cons lines into session -> client address', () => {
    const m = parseCons([
      '/127.0.0.1:54824[1](queued=0,recved=12,sent=12,sid=0x200001364890003,lop=PING,est=1764086669079,to=30000,lcxid=0x5,lzxid=0xffffffffffffffff,lresp=412,llat=0,minlat=0,avglat=0,maxlat=2)',
      ' /127.0.0.1:54830[0](queued=0,recved=1,sent=0)',
      '',
    ]);
    assert.deepEqual([...m], [['0x200001364890003', '127.0.0.1:54824']]);
  });
});
