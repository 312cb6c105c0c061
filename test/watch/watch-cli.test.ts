/**
 * `zkctl watch` through the real binary against the shared ensemble (own chroot):
 * JSON lines for each event type, recursive, --exec environment and ordering,
 * --count / --for / Ctrl-C exit codes.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Session } from '../../src/core/session.js';
import { chrootSession, type ChrootSession } from '../helpers/session.js';
import { runCli } from '../helpers/zk.js';
import { CliStream, eventually, hex, probeUntilLive, sleep } from './util.js';

describe('zkctl watch (CLI)', () => {
  let c: ChrootSession;
  let s: Session;
  let tmp: string;
  before(async () => {
    c = await chrootSession('watch-cli');
    s = c.session;
    tmp = mkdtempSync(join(process.env.ZKCTL_TEST_TMP ?? tmpdir(), 'watch-cli-'));
  });
  after(async () => {
    await c?.close();
    rmSync(tmp, { recursive: true, force: true });
  });

  it('streams each event type as JSON lines; Ctrl-C ends it with 130', async () => {
    await s.create('/app', Buffer.from('init'));
    const w = new CliStream(['watch', '/app', '--data', '--children', '-o', 'json', '-s', c.server]);
    try {
      let from = await probeUntilLive(w, s, '/app');
      const st = await s.set('/app', Buffer.from('v1'));
      let r = await w.waitForJson('data-changed v1', (o) => o.type === 'data-changed' && o.data === 'v1', from);
      assert.equal(r.o.path, '/app');
      assert.equal(r.o.zxid, hex(st.mzxid));
      assert.equal(r.o.dataVersion, st.version);
      assert.equal(r.o.version, undefined, 'one name per field: dataVersion, as in stat -o json');
      assert.match(String(r.o.time), /^\d{4}-\d\d-\d\dT/);
      from = r.i + 1;

      const kid = await s.create('/app/kid');
      r = await w.waitForJson('children-changed +kid', (o) => o.type === 'children-changed', from);
      assert.deepEqual(r.o.added, ['kid']);
      assert.deepEqual(r.o.children, ['kid']);
      assert.equal(typeof r.o.cversion, 'number', 'children-changed: the child version, as cversion');
      assert.equal(r.o.zxid, hex(kid.stat.czxid));
      from = r.i + 1;

      await s.delete('/app/kid');
      r = await w.waitForJson('children-changed -kid', (o) => o.type === 'children-changed', from);
      assert.deepEqual(r.o.removed, ['kid']);
      from = r.i + 1;

      await s.delete('/app');
      r = await w.waitForJson('deleted', (o) => o.type === 'deleted', from);
      assert.equal(r.o.path, '/app');
      assert.equal(r.o.zxid, undefined);
      from = r.i + 1;

      const again = await s.create('/app', Buffer.from([0xff, 0x00, 0x01]));
      r = await w.waitForJson('created', (o) => o.type === 'created', from);
      assert.equal(r.o.zxid, hex(again.stat.czxid));
      assert.equal(r.o.dataVersion, 0);
      assert.equal(r.o.dataBase64, Buffer.from([0xff, 0x00, 0x01]).toString('base64'), 'binary data comes as base64');

      w.kill('SIGINT');
      const { code } = await w.exited;
      assert.equal(code, 130);
      // stdout holds nothing but JSON lines
      assert.ok(w.lines.filter((l) => l.length > 0).every((l) => l.startsWith('{')), w.lines.join('\n'));
    } finally {
      w.kill('SIGKILL');
    }
  });

  it('-r streams the changes of every descendant; plain lines without -o json', async () => {
    await s.create('/tree', Buffer.from('t'));
    const w = new CliStream(['watch', '/tree', '-r', '-o', 'json', '-s', c.server]);
    const plain = new CliStream(['watch', '/tree', '-r', '-o', 'plain', '-s', c.server]);
    try {
      // Both live once a probe shows on the plain one too.
      await eventually('plain stream live', async () => {
        await s.set('/tree', Buffer.from('probe-plain'));
        await sleep(200);
        return plain.lines.some((l) => /data-changed\s+\/tree zxid=0x[0-9a-f]+ version=\d+/.test(l)) ? true : undefined;
      });
      const from = await probeUntilLive(w, s, '/tree');
      const a = await s.create('/tree/a');
      await w.waitForJson('created a', (o) => o.type === 'created' && o.path === '/tree/a', from);
      const b = await s.create('/tree/a/b', Buffer.from('deep'));
      await w.waitForJson('created b', (o) => o.type === 'created' && o.path === '/tree/a/b', from);
      await s.set('/tree/a/b', Buffer.from('deeper'));
      await w.waitForJson('changed b', (o) => o.type === 'data-changed' && o.path === '/tree/a/b', from);
      await s.delete('/tree/a/b');
      await s.delete('/tree/a');
      await w.waitForJson('deleted a', (o) => o.type === 'deleted' && o.path === '/tree/a', from);
      const got = w.json().slice(from).map((o) => `${String(o.type)} ${String(o.path)}`);
      assert.deepEqual(got, ['created /tree/a', 'created /tree/a/b', 'data-changed /tree/a/b', 'deleted /tree/a/b', 'deleted /tree/a']);
      const ja = w.json().slice(from)[0]!;
      assert.equal(ja.zxid, hex(a.stat.czxid));
      assert.equal(w.json().slice(from)[1]!.zxid, hex(b.stat.czxid));
      await plain.waitFor('plain deleted a', () => plain.lines.some((l) => /deleted\s+\/tree\/a$/.test(l)));
    } finally {
      w.kill('SIGKILL');
      plain.kill('SIGKILL');
    }
  });

  it('--exec runs CMD per event, one at a time, in order, with the event in its environment', async () => {
    await s.create('/ex', Buffer.from('0'));
    const log = join(tmp, 'exec.log');
    const cmd = `echo "start|$ZKCTL_WATCH_EVENT|$ZKCTL_WATCH_PATH|$ZKCTL_WATCH_ZXID|$ZKCTL_WATCH_VERSION|$ZKCTL_WATCH_DATA|$(cat)|\${ZKCTL_AUTH:-noauth}" >> ${log}; sleep 0.2; echo end >> ${log}`;
    const w = new CliStream(['watch', '/ex', '--data', '-o', 'json', '--exec', cmd, '-s', c.server], { ZKCTL_AUTH: 'digest:watcher:secret' });
    try {
      const from = await probeUntilLive(w, s, '/ex');
      const stats = [];
      for (const v of ['a', 'b', 'c']) stats.push(await s.set('/ex', Buffer.from(v)));
      await w.waitForJson('three changes', (o) => o.type === 'data-changed' && o.data === 'c', from);
      const want = await eventually('exec of the last event', () => {
        const lines = readFileSync(log, 'utf8').trim().split('\n');
        return lines.length >= 2 && lines[lines.length - 1] === 'end' && lines.some((l) => l.includes('|c|c|')) ? lines : undefined;
      }, 20_000);
      // one at a time: start/end strictly alternate
      want.forEach((l, i) => assert.equal(l.startsWith('start|'), i % 2 === 0, `line ${i}: ${l}`));
      const starts = want.filter((l) => l.startsWith('start|')).map((l) => l.split('|'));
      // in order: versions never go back
      const versions = starts.map((p) => Number(p[4]));
      assert.deepEqual([...versions].sort((x, y) => x - y), versions);
      const last = starts[starts.length - 1]!;
      assert.deepEqual(last.slice(1, 7), ['data-changed', '/ex', hex(stats[2]!.mzxid), String(stats[2]!.version), 'c', 'c']);
      assert.equal(last[7], 'noauth');
      // one exec per event (after the probes)
      // Counted afresh on every poll: the event for 'c' may be seen (with --data, an earlier event's
      // read can already show 'c') before the last event line is parsed.
      const countEvents = (): number => w.json().filter((o) => o.type === 'data-changed').length;
      const events = countEvents();
      await eventually('every exec done', () => (readFileSync(log, 'utf8').trim().split('\n').length === countEvents() * 2 ? true : undefined), 20_000).catch((e: Error) => {
        // Say what was seen (a run under heavy load once ended here).
        const lines = readFileSync(log, 'utf8').trim().split('\n');
        const seen = w.json().map((o) => `${String(o.type)}${o.resync ? '(resync)' : ''}:${String(o.data ?? '')}`);
        throw new Error(`${e.message}: ${events} data-changed events then, ${w.json().filter((o) => o.type === 'data-changed').length} now; ${lines.length} log lines; events: ${seen.join(' ')}; log tail: ${lines.slice(-4).join(' / ')}; stderr: ${w.stderr.slice(-300)}`);
      });
    } finally {
      w.kill('SIGKILL');
    }
  });

  it('--count N ends with 0 after N events; --for ends with 0 after the duration', async () => {
    await s.create('/cnt', Buffer.from('0'));
    const w = new CliStream(['watch', '/cnt', '--count', '1', '-o', 'json', '-s', c.server]);
    await eventually('count reached', async () => {
      if (w.child.exitCode !== null) return true;
      await s.set('/cnt', Buffer.from('x'));
      await sleep(200);
      return undefined;
    });
    const { code } = await w.exited;
    assert.equal(code, 0);
    assert.equal(w.json().length, 1);

    const r = await runCli(['watch', '/cnt', '--for', '1s', '-s', c.server]);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(r.ms >= 1000);
  });

  it('--data shows JSON as JSON (a "json" field in -o json, compact JSON in text); a missing path is said and its creation awaited', async () => {
    const j = new CliStream(['watch', '/later', '--data', '-o', 'json', '-s', c.server]);
    const t = new CliStream(['watch', '/later', '--data', '-s', c.server]);
    try {
      await eventually('the not-yet-there notes', () => (/\/later does not exist yet; waiting for it to be created/.test(j.stderr) && /does not exist yet/.test(t.stderr) ? true : undefined), 30_000);
      await s.create('/later', Buffer.from('{\n  "port": 8080,\n  "name": "db é"\n}'));
      const r = await j.waitForJson('created', (o) => o.type === 'created', 0, 30_000);
      assert.equal(r.o.data, '{\n  "port": 8080,\n  "name": "db é"\n}');
      assert.deepEqual(r.o.json, { port: 8080, name: 'db é' });
      await eventually('the text line', () => (t.lines.some((l) => / created /.test(l)) ? true : undefined), 30_000);
      const line = t.lines.find((l) => / created /.test(l))!;
      assert.ok(line.endsWith('data={"port":8080,"name":"db é"}'), line);
      await s.set('/later', Buffer.from('plain text, no quotes'));
      await eventually('the text value', () => (t.lines.some((l) => l.endsWith('data=plain text, no quotes')) ? true : undefined), 30_000);
      await s.set('/later', Buffer.from('bell\u0007'));
      await eventually('the escaped value', () => (t.lines.some((l) => l.endsWith('data="bell\\u0007"')) ? true : undefined), 30_000);
      const k = await j.waitForJson('text value', (o) => o.data === 'plain text, no quotes', 0, 30_000);
      assert.equal(k.o.json, undefined);
    } finally {
      j.kill('SIGINT');
      t.kill('SIGINT');
    }
  });

  it('fails fast on a bad path or an unreachable server', async () => {
    const bad = await runCli(['watch', 'no-slash', '-s', c.server]);
    assert.equal(bad.code, 2);
    const down = await runCli(['watch', '/x', '-s', '127.0.0.1:1', '--timeout', '1s']);
    assert.equal(down.code, 8);
    assert.match(down.stderr, /^zkctl: /);
  });
});
