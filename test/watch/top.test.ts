/** `zkctl ensemble top` without a terminal: one snapshot of every member of the shared ensemble. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseConnectString } from '../../src/core/connect-string.js';
import { TopSampler } from '../../src/ensemble/top.js';
import { topColumns } from '../../src/commands/ensemble/top.js';
import { runCli, testServer } from '../helpers/zk.js';

describe('ensemble top', () => {
  it('prints one JSON snapshot and exits 0 when stdout is not a terminal', async () => {
    const r = await runCli(['ensemble', 'top', '-s', testServer(), '-o', 'json']);
    assert.equal(r.code, 0, r.stderr);
    const snap = JSON.parse(r.stdout) as { quorum: boolean; leader: string; members: Array<Record<string, unknown>> };
    assert.equal(snap.quorum, true);
    assert.equal(snap.members.length, 3);
    const leaders = snap.members.filter((m) => m.leader === true);
    assert.equal(leaders.length, 1);
    assert.equal(leaders[0]!.mode, 'leader');
    assert.equal(snap.leader, leaders[0]!.address);
    for (const m of snap.members) {
      for (const k of ['zxid', 'latencyMin', 'latencyAvg', 'latencyMax', 'outstanding', 'connections', 'packetsReceived', 'packetsSent', 'znodes', 'watches']) {
        assert.ok(m[k] !== undefined, `${String(m.address)} has ${k}`);
      }
    }
    const plain = await runCli(['ensemble', 'top', '-s', testServer()]);
    assert.equal(plain.code, 0, plain.stderr);
    assert.equal(plain.stdout.trim().split('\n').length, 3);
  });

  it('names the latency column as health and ensemble status do (LATENCY MIN/AVG/MAX; LAT when the terminal is narrow)', async () => {
    const [top, health] = await Promise.all([runCli(['ensemble', 'top', '-s', testServer(), '-o', 'table']), runCli(['health', '-s', testServer(), '-o', 'table'])]);
    assert.equal(top.code, 0, top.stderr);
    assert.equal(health.code, 0, health.stderr);
    const header = (out: string): string | undefined => out.split('\n').find((l) => /\bZXID\b/.test(l));
    assert.match(header(top.stdout) ?? '', /\bLATENCY MIN\/AVG\/MAX\b/, top.stdout);
    assert.match(header(health.stdout) ?? '', /\bLATENCY MIN\/AVG\/MAX\b/, health.stdout);
    const lat = topColumns.find((c) => c.key === 'latency');
    assert.equal(lat?.shortHeader, 'LAT');
  });

  it('computes packet rates from the previous sample', async () => {
    const t = new TopSampler(parseConnectString(testServer()).servers);
    const first = await t.sample();
    assert.ok(first.members.every((m) => m.receivedPerSec === undefined));
    await new Promise((r) => setTimeout(r, 300));
    const second = await t.sample();
    assert.ok(second.members.every((m) => typeof m.receivedPerSec === 'number' && m.receivedPerSec >= 0));
    assert.ok(second.members.every((m) => typeof m.id === 'number'));
  });

  it('exits 8 when no member answers', async () => {
    const r = await runCli(['ensemble', 'top', '-s', '127.0.0.1:1', '-o', 'json']);
    assert.equal(r.code, 8);
  });
});
