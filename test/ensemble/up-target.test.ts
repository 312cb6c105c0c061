/**
 * Which ensemble `ensemble up` means (issue 24, block 2), `down --purge` of the current context,
 * `down --if-exists`, `--base-port auto` and a port clash with -o json. Private XDG dirs: the
 * contexts file and the ensemble registry are this file's own.
 */
import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { parse as yamlParse, stringify as yamlStringify } from 'yaml';
import { ephemeralPortRange, freeBasePort, load } from '../../src/ensemble/index.js';
import { expectOk, isolatedCli, testPortStart } from '../helpers/zk.js';

const { scratch, configHome, stateHome, zk } = isolatedCli('up-target', 120_000, { ownState: true });
const tag = randomBytes(3).toString('hex');
const first = { name: `first-${tag}`, dir: join(scratch, `first-${tag}`) };
const second = { name: `second-${tag}`, dir: join(scratch, `second-${tag}`) };

function config(): { 'current-context'?: string; contexts: Record<string, { server: string; 'ensemble-dir'?: string }> } {
  return yamlParse(readFileSync(join(configHome, 'zkctl', 'config.yaml'), 'utf8'));
}

describe('ensemble up: which ensemble, contexts, ports', () => {
  after(async () => {
    for (const d of [first.dir, second.dir]) if (existsSync(join(d, 'ensemble.json'))) await load(d).down({ purge: true });
  });

  test('--base-port auto: every port free and below the kernel ephemeral range', async () => {
    const r = expectOk(await zk(['ensemble', 'up', '--name', first.name, '--dir', first.dir, '--size', '1', '--base-port', 'auto', '-o', 'json']));
    const out = JSON.parse(r.stdout) as { name: string; context: string };
    assert.equal(out.name, first.name);
    const e = load(first.dir);
    const p = e.ports(1);
    const low = ephemeralPortRange()?.[0] ?? 32768;
    for (const port of [p.clientPort, p.quorumPort, p.electionPort]) assert.ok(port < low, `port ${port} lies in the ephemeral range from ${low}`);
    assert.equal(config()['current-context'], first.name);
  });

  test('a bare `up` after the members were killed brings the current context\'s ensemble back (no new "local")', async () => {
    expectOk(await zk(['ensemble', 'kill', '1']));
    const r = expectOk(await zk(['ensemble', 'up', '-o', 'json']));
    const out = JSON.parse(r.stdout) as { name: string; dir: string; started: number[]; context: string };
    assert.equal(out.name, first.name, r.stderr);
    assert.equal(out.dir, first.dir);
    assert.deepEqual(out.started, [1]);
    assert.equal(out.context, first.name);
    assert.equal(config()['current-context'], first.name);
    assert.ok(!existsSync(join(stateHome!, 'zkctl', 'ensembles', 'local')), 'a "local" ensemble was created');
    assert.doesNotMatch(r.stderr, /now current/);
  });

  test('up --name NEW makes it current and says so on stderr', async () => {
    const r = expectOk(await zk(['ensemble', 'up', '--name', second.name, '--dir', second.dir, '--size', '1', '--base-port', 'auto', '-o', 'plain']));
    assert.match(r.stderr, new RegExp(`context '${second.name}' .*is now current, was '${first.name}'`));
    assert.equal(config()['current-context'], second.name);
  });

  test('down --purge of the current context\'s ensemble says there is no current context now', async () => {
    const r = expectOk(await zk(['ensemble', 'down', '--purge', '-o', 'json']));
    const out = JSON.parse(r.stdout) as { name: string; removedContexts: string[]; currentContext?: string | null };
    assert.equal(out.name, second.name);
    assert.deepEqual(out.removedContexts, [second.name]);
    assert.equal(out.currentContext, null);
    assert.match(r.stderr, /no current context; run zkctl context use NAME/);
    assert.equal(config()['current-context'], undefined);
    assert.ok(config().contexts[first.name], 'the other context stays');
  });

  test('down --if-exists of a missing ensemble: exit 0 and one line on stderr; without it exit 2', async () => {
    const r = expectOk(await zk(['ensemble', 'down', '--name', `nope-${tag}`, '--purge', '--if-exists']));
    assert.equal(r.stdout, '');
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, /nothing to stop/);
    const plain = await zk(['ensemble', 'down', '--name', `nope-${tag}`]);
    assert.equal(plain.code, 2, plain.stderr);
  });

  test('down --name/--dir works when the current-context names no context (was exit 2); without them it stays exit 2', async () => {
    const path = join(configHome, 'zkctl', 'config.yaml');
    const saved = readFileSync(path, 'utf8');
    writeFileSync(path, yamlStringify({ ...config(), 'current-context': `ghost-${tag}` }));
    try {
      const none = expectOk(await zk(['ensemble', 'down', '--name', `nope-${tag}`, '--if-exists']));
      assert.match(none.stderr, /nothing to stop/);
      const r = expectOk(await zk(['ensemble', 'down', '--dir', first.dir, '-o', 'json']));
      const out = JSON.parse(r.stdout) as { name: string; stopped: number[] };
      assert.equal(out.name, first.name);
      assert.deepEqual(out.stopped, [1]);
      const bare = await zk(['ensemble', 'down', '--if-exists']);
      assert.equal(bare.code, 2, bare.stderr);
      assert.match(bare.stderr, new RegExp(`current-context "ghost-${tag}" names no context`));
    } finally {
      writeFileSync(path, saved);
    }
  });

  test('a port clash: exit 1, one line naming port and holder, and a JSON error with -o json', async () => {
    const base = await freeBasePort({ start: testPortStart(), size: 1 });
    const srv: Server = createServer();
    await new Promise<void>((res, rej) => {
      srv.once('error', rej);
      srv.listen(base, '127.0.0.1', () => res());
    });
    try {
      const dir = join(scratch, `clash-${tag}`);
      const r = await zk(['ensemble', 'up', '--name', `clash-${tag}`, '--dir', dir, '--size', '1', '--base-port', String(base), '-o', 'json']);
      assert.equal(r.code, 1, r.stderr);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      assert.match(r.stderr, new RegExp(`port ${base} .*pid ${process.pid}`));
      const j = JSON.parse(r.stdout) as { error: string; port: number; holder: { pid: number; command: string } };
      assert.equal(j.port, base);
      assert.equal(j.holder.pid, process.pid);
      assert.match(j.error, new RegExp(`port ${base}`));
      assert.ok(!existsSync(join(dir, 'ensemble.json')), 'nothing half-made is left');
    } finally {
      srv.close();
    }
  });
});
