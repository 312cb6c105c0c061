/**
 * `zkctl ensemble ...` through the real binary: exit codes, clean stdout, the context it writes.
 * One ensemble, started by the CLI itself, shared by the tests of this file (run in order).
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as yamlParse } from 'yaml';
import { freeBasePort, load } from '../../src/ensemble/index.js';
import { expectOk, runCli, testPortStart, testServer, type CliResult } from '../helpers/zk.js';

const scratch = mkdtempSync(join(process.env.ZKCTL_TEST_TMP ?? tmpdir(), 'cli-'));
const configHome = join(scratch, 'config');
const env = { XDG_CONFIG_HOME: configHome, ZKCTL_SERVER: undefined, NO_COLOR: '1' };
const name = `cli-${randomBytes(3).toString('hex')}`;
const dir = join(scratch, name);
const zk = (args: string[], opts: { timeoutMs?: number; signal?: NodeJS.Signals; signalAfterMs?: number } = {}): Promise<CliResult> =>
  runCli(args, { env, timeoutMs: opts.timeoutMs ?? 90_000, ...(opts.signal ? { signal: opts.signal, signalAfterMs: opts.signalAfterMs ?? 1000 } : {}) });

const ok = expectOk;

interface StatusJson {
  name?: string;
  leader?: number;
  quorum: boolean;
  serving: number;
  members: Array<{ id?: number; mode: string; pid?: number; zxid?: string; epoch?: number }>;
}

describe('zkctl ensemble (CLI)', () => {
  let basePort: number;

  before(async () => {
    basePort = await freeBasePort({ start: testPortStart() });
  });
  after(async () => {
    // Whatever happened, do not leave servers behind.
    if (existsSync(join(dir, 'ensemble.json'))) await load(dir).down({ purge: true });
  });

  test('up: plain table on stdout (taken once followers synced), one ready line on stderr, context written and current', async () => {
    const r = ok(await zk(['ensemble', 'up', '--name', name, '--dir', dir, '--base-port', String(basePort)]));
    // no progress on a non-TTY, but the ready line (CI logs): members, leader, connect string, context
    const cs = [0, 1, 2].map((i) => `127.0.0.1:${basePort + i}`).join(',');
    assert.match(r.stderr, new RegExp(`^ready: ensemble '${name}': leader [123], 3/3 serving, quorum; up in [^;]+; context '${name}' is current \\(${cs.replace(/\./g, '\\.')}\\)\n$`));
    const lines = r.stdout.trim().split('\n');
    assert.equal(lines.length, 3);
    const modes = lines.map((l) => l.split('\t')[2]);
    assert.deepEqual(modes.filter((m) => m === 'leader').length, 1);
    assert.deepEqual(modes.filter((m) => m === 'follower').length, 2);
    // settled: no follower still at zxid 0x0, every member at the leader's epoch
    const leaderEpoch = lines.find((l) => l.split('\t')[2] === 'leader')!.split('\t')[4];
    for (const l of lines) {
      assert.notEqual(l.split('\t')[3], '0x0', l);
      assert.equal(l.split('\t')[4], leaderEpoch, l);
    }
    assert.deepEqual(
      lines.map((l) => l.split('\t').slice(0, 2)),
      [1, 2, 3].map((i) => [String(i), `127.0.0.1:${basePort + i - 1}`]),
    );
    const cfg = yamlParse(readFileSync(join(configHome, 'zkctl', 'config.yaml'), 'utf8')) as {
      'current-context': string;
      contexts: Record<string, { server: string; 'ensemble-dir': string }>;
    };
    assert.equal(cfg['current-context'], name);
    assert.equal(cfg.contexts[name]?.server, [0, 1, 2].map((i) => `127.0.0.1:${basePort + i}`).join(','));
    assert.equal(cfg.contexts[name]?.['ensemble-dir'], dir);
  });

  test('up again: already running, --json prints one document', async () => {
    const r = ok(await zk(['ensemble', 'up', '--dir', dir, '--json']));
    const j = JSON.parse(r.stdout) as StatusJson & { alreadyRunning: boolean; started: number[]; context: string };
    assert.equal(j.alreadyRunning, true);
    assert.deepEqual(j.started, []);
    assert.equal(j.context, name);
    assert.equal(j.members.length, 3);
  });

  test('status uses the current context; -o json has ids, modes, zxids, pids', async () => {
    const r = ok(await zk(['ensemble', 'status', '-o', 'json']));
    const j = JSON.parse(r.stdout) as StatusJson;
    assert.equal(j.name, name);
    assert.equal(j.quorum, true);
    assert.equal(j.serving, 3);
    assert.ok(j.leader && j.leader >= 1 && j.leader <= 3);
    for (const m of j.members) {
      assert.ok(m.pid && m.pid > 0);
      assert.match(m.zxid ?? '', /^0x[0-9a-f]+$/);
      assert.equal(typeof m.epoch, 'number');
    }
  });

  test('status of any ensemble by connect string (the run\'s shared one), and of a dead address', async () => {
    const r = ok(await zk(['ensemble', 'status', '-s', testServer(), '-o', 'json']));
    const j = JSON.parse(r.stdout) as StatusJson;
    assert.equal(j.members.length, 3);
    assert.equal(j.members.filter((m) => m.mode === 'leader').length, 1);

    const dead = await zk(['ensemble', 'status', '-s', '127.0.0.1:1', '--timeout', '1s']);
    assert.equal(dead.code, 8, dead.stderr);
    assert.match(dead.stdout, /127\.0\.0\.1:1\tdown/);
    assert.match(dead.stderr, /^zkctl: no member of 127\.0\.0\.1:1 answers/);
  });

  test('kill leader: a new leader; start brings the old one back as follower', async () => {
    const k = ok(await zk(['ensemble', 'kill', 'leader', '-o', 'json']));
    const killed = JSON.parse(k.stdout) as { id: number; result: string; signal: string };
    assert.equal(killed.result, 'killed');
    assert.equal(killed.signal, 'SIGKILL');
    const st = await load(dir).waitForQuorum(30_000);
    assert.ok(st.leader && st.leader.id !== killed.id, 'another member leads');

    const s = ok(await zk(['ensemble', 'start', String(killed.id)]));
    const [id, result, , , mode] = s.stdout.trim().split('\t');
    assert.equal(id, String(killed.id));
    assert.equal(result, 'started');
    assert.equal(mode, 'follower');
  });

  test('stop / restart a member; bad ids are usage errors (exit 2)', async () => {
    const stop = ok(await zk(['ensemble', 'stop', '1', '--dir', dir, '-o', 'json']));
    assert.equal((JSON.parse(stop.stdout) as { result: string }).result, 'stopped');
    const again = ok(await zk(['ensemble', 'stop', '1', '-o', 'json']));
    assert.equal((JSON.parse(again.stdout) as { result: string }).result, 'not-running');
    const rs = ok(await zk(['ensemble', 'restart', '1', '-o', 'json']));
    const row = JSON.parse(rs.stdout) as { result: string; mode: string };
    assert.equal(row.result, 'started');
    assert.ok(['leader', 'follower'].includes(row.mode));

    const bad = await zk(['ensemble', 'stop', '7']);
    assert.equal(bad.code, 2);
    assert.equal(bad.stdout, '');
    assert.match(bad.stderr, /^zkctl: no member '7' in ensemble/);
    const noEns = await zk(['ensemble', 'stop', '1', '--name', 'no-such-ensemble-here']);
    assert.equal(noEns.code, 2);
  });

  test('logs: last lines, all members prefixed, and -f until Ctrl-C (exit 130)', async () => {
    const r = ok(await zk(['ensemble', 'logs', '2', '-n', '5']));
    assert.equal(r.stdout.trimEnd().split('\n').length, 5);
    const all = ok(await zk(['ensemble', 'logs', '-n', '2']));
    const prefixes = all.stdout
      .trimEnd()
      .split('\n')
      .map((l) => l.slice(0, 3));
    assert.deepEqual(prefixes, ['[1]', '[1]', '[2]', '[2]', '[3]', '[3]']);
    const f = await zk(['ensemble', 'logs', 'leader', '-f', '-n', '1'], { signal: 'SIGINT', signalAfterMs: 6000, timeoutMs: 30_000 } /* start-up alone took over 2.5 s under load once */);
    assert.equal(f.timedOut, false);
    assert.equal(f.code, 130, f.stderr);
    // The line shown first, then what the leader logged while we followed (our own status probes).
    assert.ok(f.stdout.split('\n').length >= 2, f.stdout);
  });

  test('ls lists it as current with 3/3 running', async () => {
    const r = ok(await zk(['ensemble', 'ls', '-o', 'json']));
    const rows = JSON.parse(r.stdout) as Array<{ name: string; running: number; size: number; current: boolean; dir: string }>;
    const me = rows.find((x) => x.dir === dir);
    assert.ok(me);
    assert.equal(me.name, name);
    assert.equal(me.running, 3);
    assert.equal(me.current, true);
  });

  test('up on ports in use fails with the port named (exit 1), usage errors exit 2', async () => {
    const clash = await zk(['ensemble', 'up', '--name', `${name}-x`, '--dir', `${dir}-x`, '--base-port', String(basePort + 2), '--size', '1']);
    assert.equal(clash.code, 1, clash.stderr);
    assert.equal(clash.stdout, '');
    assert.match(clash.stderr, new RegExp(`^zkctl: port ${basePort + 2} \\(client port of member 1\\) is already in use by pid \\d+`));
    const bad = await zk(['ensemble', 'up', '--size', '0', '--dir', `${dir}-y`]);
    assert.equal(bad.code, 2, bad.stderr);
    const conflict = await zk(['ensemble', 'up', '--dir', dir, '--size', '5']);
    assert.equal(conflict.code, 2, conflict.stderr);
    assert.match(conflict.stderr, /already exists with size 3/);
  });

  test('down, then down --purge removes the directory and the context', async () => {
    const d = ok(await zk(['ensemble', 'down', '-o', 'json']));
    const j = JSON.parse(d.stdout) as { stopped: number[]; purged: boolean };
    assert.deepEqual(j.stopped, [1, 2, 3]);
    assert.equal(j.purged, false);
    const st = await zk(['ensemble', 'status', '--dir', dir]);
    assert.equal(st.code, 8);
    const p = ok(await zk(['ensemble', 'down', '--dir', dir, '--purge', '-o', 'json']));
    const pj = JSON.parse(p.stdout) as { purged: boolean; removedContexts: string[] };
    assert.equal(pj.purged, true);
    assert.deepEqual(pj.removedContexts, [name]);
    assert.equal(existsSync(dir), false);
    const cfg = yamlParse(readFileSync(join(configHome, 'zkctl', 'config.yaml'), 'utf8')) as { 'current-context'?: string; contexts: Record<string, unknown> };
    assert.equal(cfg.contexts[name], undefined);
    assert.equal(cfg['current-context'], undefined);
  });
});
