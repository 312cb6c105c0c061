/**
 * Issue 23: a local ensemble that cleans up after every mistake. One 1-member ensemble, started
 * by the CLI through a symlinked --dir with a `java` wrapper script (no exec) as JAVA_HOME/bin/java,
 * shared by the tests of this file (run in order). Every process signalled here is one this file
 * started (found by the ensemble's own config path); read-only mounts are undone in finally.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { UsageError } from '../../src/core/errors.js';
import {
  findPortHolder,
  findProcesses,
  freeBasePort,
  isPidAlive,
  isPortFree,
  list,
  load,
  PortInUseError,
  processStartTime,
  QUORUM_PEER_MAIN,
  readCmdline,
  up,
  withPidLock,
} from '../../src/ensemble/index.js';
import { expectOk, isolatedCli, repoRoot, runCli, startFaultEnsemble, type FaultEnsemble } from '../helpers/zk.js';

const cli = isolatedCli('cleanup', 120_000);
const target = join(cli.scratch, 'target');
const link = join(cli.scratch, 'link');
const javaHome = join(cli.scratch, 'jdk');
const roConfig = join(cli.scratch, 'ro-config');
const mounted: string[] = [];

function mountReadOnly(dir: string): void {
  execFileSync('mount', ['--bind', dir, dir]);
  mounted.push(dir);
  execFileSync('mount', ['-o', 'remount,bind,ro', dir]);
}

function unmountAll(): void {
  for (const d of mounted.splice(0).reverse()) {
    try {
      execFileSync('umount', [d]);
    } catch {
      /* already gone */
    }
  }
}

/** Processes of this file's ensemble (their argv runs its member 1 config): nothing else is ever signalled. */
function ourProcesses(): number[] {
  return findProcesses((argv) => argv.includes(QUORUM_PEER_MAIN) && argv.some((a) => a.startsWith(`${target}/`) || a.startsWith(`${link}/`)));
}

/** Processes running a config under this directory. */
function ourProcessesIn(dir: string): number[] {
  return findProcesses((argv) => argv.includes(QUORUM_PEER_MAIN) && argv.some((a) => a.startsWith(`${dir}/`)));
}

async function until(cond: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) assert.fail(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

interface StatusJson {
  members: Array<{ id: number; mode: string; pid?: number; running?: boolean }>;
}

describe('ensemble cleanup (issue 23)', () => {
  let base: number;
  let clientPort: number;

  before(async () => {
    base = await freeBasePort({ start: 24000 + Math.floor(Math.random() * 1500) * 10, size: 1 });
    clientPort = base;
    mkdirSync(target);
    symlinkSync(target, link);
    mkdirSync(join(javaHome, 'bin'), { recursive: true });
    // A version-manager style shim: runs the real java as a child (no exec) and waits for it.
    writeFileSync(join(javaHome, 'bin', 'java'), '#!/bin/sh\n/usr/bin/java "$@"\nrc=$?\nexit $rc\n');
    chmodSync(join(javaHome, 'bin', 'java'), 0o755);
    mkdirSync(roConfig);
  });
  after(async () => {
    unmountAll();
    for (const pid of ourProcesses()) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
  });

  test('contexts file unwritable: up says the ensemble is up and only the context failed (exit 1)', async () => {
    mountReadOnly(roConfig);
    try {
      const r = await runCli(['ensemble', 'up', '--size', '1', '--base-port', String(base), '--dir', link, '--name', 'cleanup', '-o', 'plain'], {
        env: { ...cli.env, XDG_CONFIG_HOME: roConfig, JAVA_HOME: javaHome },
        timeoutMs: 120_000,
      });
      assert.equal(r.code, 1, `stdout: ${r.stdout}\nstderr: ${r.stderr}`);
      assert.match(r.stderr, new RegExp(`ensemble 'cleanup' is up \\(127\\.0\\.0\\.1:${clientPort}\\), but its context could not be written to ${roConfig}/zkctl/config\\.yaml: read-only file system \\(${roConfig}\\)`));
      assert.match(r.stderr, /the servers keep running: use -s 127\.0\.0\.1:/);
      assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
      assert.match(r.stdout, /\tleader\t/, 'the members table is printed');
    } finally {
      unmountAll();
    }
    assert.ok(ourProcesses().length >= 2, 'the wrapper and its JVM run');
  });

  test('down with a java wrapper that does not exec stops the JVM and releases the port', async () => {
    const jvm = (await findPortHolder(clientPort))?.pid;
    assert.ok(jvm, 'the JVM holds the client port');
    assert.match(readCmdline(jvm)?.[0] ?? '', /java$/);
    const wrapper = Number(readFileSync(join(target, 'members', '1', 'zookeeper.pid'), 'utf8').split('\n')[0]);
    assert.notEqual(wrapper, jvm, 'the pid file names the wrapper');
    const r = expectOk(await cli.zk(['ensemble', 'down', '--dir', link, '-o', 'json']));
    assert.deepEqual(JSON.parse(r.stdout).stopped, [1]);
    // "stopped" means stopped: no process of the member left, the port free at once.
    assert.equal(isPidAlive(jvm), false, 'the JVM is gone');
    assert.equal(isPidAlive(wrapper), false);
    assert.equal(await isPortFree(clientPort), true, 'the client port is released');
  });

  test('a running member whose pid file is gone: status asks it and shows its pid', async () => {
    expectOk(await cli.zk(['ensemble', 'up', '--dir', link, '-o', 'plain']));
    const e = load(link);
    const pid = e.pidOf(1)!;
    assert.ok(pid);
    unlinkSync(e.pidPath(1));
    const r = expectOk(await cli.zk(['ensemble', 'status', '--dir', link, '-o', 'json']));
    const st = JSON.parse(r.stdout) as StatusJson;
    assert.equal(st.members[0]?.mode, 'leader', r.stdout);
    assert.equal(st.members[0]?.pid, pid);
    assert.equal(list().find((s) => s.dir === e.dir)?.running, 1, 'ls counts it running');
  });

  test('a paused member is "not-answering" in both status and ls', async () => {
    const pid = load(link).pidOf(1)!;
    process.kill(pid, 'SIGSTOP');
    try {
      const r = await cli.zk(['ensemble', 'status', '--dir', link, '--timeout', '1s', '-o', 'json']);
      assert.equal(r.code, 8, 'no member answers');
      const st = JSON.parse(r.stdout) as StatusJson;
      assert.equal(st.members[0]?.mode, 'not-answering', r.stdout);
      assert.equal(st.members[0]?.pid, pid);
      const ls = expectOk(await cli.zk(['ensemble', 'ls', '-o', 'plain']));
      const row = ls.stdout.split('\n').find((l) => l.includes(`\t${link}\t`) || l.includes(`\t${target}\t`));
      assert.ok(row, ls.stdout);
      assert.match(row, /1 not-answering/);
    } finally {
      process.kill(pid, 'SIGCONT');
    }
  });

  test('a stale per-directory lock naming a live but unrelated pid does not stall up', async () => {
    const sleeper = spawn('sleep', ['60'], { stdio: 'ignore' });
    try {
      await until(() => processStartTime(sleeper.pid!) !== undefined, 5000, 'sleep to start');
      writeFileSync(join(target, '.lock'), `${sleeper.pid}\n`); // the pid-only format older zkctl wrote
      const t0 = Date.now();
      const r = await up({ dir: link, waitMs: 30_000 });
      assert.equal(r.alreadyRunning, true);
      assert.ok(Date.now() - t0 < 8000, `took ${Date.now() - t0} ms (the lock wait is 10 s)`);
    } finally {
      sleeper.kill();
    }
  });

  test('a lock file naming a reused pid (other start time, or not zkctl) is stale; a live holder is not', async () => {
    const lock = join(cli.scratch, 'test.lock');
    const sleeper = spawn('sleep', ['60'], { stdio: 'ignore' });
    const busy = (h: number): Error => new Error(`busy ${h}`);
    try {
      await until(() => processStartTime(sleeper.pid!) !== undefined, 5000, 'sleep to start');
      for (const record of [`${sleeper.pid}\n`, `${sleeper.pid} ${processStartTime(sleeper.pid!)}\n`, `${process.pid} 1\n`]) {
        writeFileSync(lock, record);
        const t0 = Date.now();
        assert.equal(await withPidLock(lock, { timeoutMs: 3000, busy }, async () => 'got it'), 'got it', record);
        assert.ok(Date.now() - t0 < 2000, `${record.trim()}: took ${Date.now() - t0} ms`);
        assert.equal(existsSync(lock), false);
      }
      // Held by a live zkctl process (this one, with its true start time): busy, named.
      writeFileSync(lock, `${process.pid} ${processStartTime(process.pid)}\n`);
      await assert.rejects(
        withPidLock(lock, { timeoutMs: 300, busy }, async () => 'no'),
        new RegExp(`busy ${process.pid}`),
      );
      unlinkSync(lock);
    } finally {
      sleeper.kill();
    }
  });

  test('corrupt ensemble.json: ls lists it as broken; down still stops its member (pid file gone too)', async () => {
    const e = load(link);
    const pid = e.pidOf(1)!;
    assert.ok(pid);
    const specText = readFileSync(join(target, 'ensemble.json'), 'utf8');
    try {
      unlinkSync(e.pidPath(1));
    } catch {
      /* already gone */
    }
    writeFileSync(join(target, 'ensemble.json'), '{"format": 1, "name": ');
    try {
      const ls = expectOk(await cli.zk(['ensemble', 'ls', '-o', 'json']));
      const row = (JSON.parse(ls.stdout) as Array<{ dir: string; running: number; broken?: string }>).find((x) => x.dir === link || x.dir === target);
      assert.ok(row, `listed: ${ls.stdout}`);
      assert.ok(row.broken, 'marked broken');
      assert.equal(row.running, 1);
      const d = await cli.zk(['ensemble', 'down', '--dir', link, '-o', 'json']);
      assert.equal(d.code, 0, d.stderr);
      assert.match(d.stderr, /broken/);
      assert.deepEqual(JSON.parse(d.stdout).stopped, [1]);
      assert.equal(isPidAlive(pid), false);
      assert.equal(await isPortFree(clientPort), true);
    } finally {
      writeFileSync(join(target, 'ensemble.json'), specText);
    }
  });

  test('a member that dies at start: the error shows the first ERROR line of its log', async () => {
    const cfg = join(target, 'members', '1', 'zoo.cfg');
    const before = readFileSync(cfg, 'utf8');
    writeFileSync(cfg, before.replace(/^tickTime=.*$/m, 'tickTime=notanumber'));
    try {
      const err = await up({ dir: link, waitMs: 60_000 }).then(
        () => assert.fail('up should fail'),
        (x: unknown) => x as Error & { hint?: string },
      );
      assert.match(err.hint ?? '', /first error: .*(ERROR|Exception)/, `${err.message} / ${err.hint}`);
      assert.doesNotMatch(err.hint ?? '', /first error: .*Exiting JVM/);
    } finally {
      writeFileSync(cfg, before);
    }
  });

  test('down --purge --dir <symlink> removes the directory it points at, and says so truthfully', async () => {
    const r = expectOk(await cli.zk(['ensemble', 'down', '--purge', '--dir', link, '-o', 'json']));
    assert.equal(JSON.parse(r.stdout).purged, true);
    assert.equal(JSON.parse(r.stdout).resolvedDir, target);
    assert.equal(existsSync(target), false, 'the data and super.secret are gone');
    assert.throws(() => lstatSync(link), /ENOENT/, 'and the link');
    assert.equal(
      list().some((s) => s.dir === link || s.dir === target),
      false,
    );
  });
});

describe('a failed first up removes only what it created', () => {
  let holder: Server;
  let port: number;
  const scratch = cli.scratch;

  before(async () => {
    port = await freeBasePort({ start: 24000 + Math.floor(Math.random() * 1500) * 10, size: 1 });
    holder = createServer();
    await new Promise<void>((r) => holder.listen(port, '127.0.0.1', () => r()));
  });
  after(async () => {
    unmountAll();
    await new Promise<void>((r) => holder.close(() => r()));
  });

  const failUp = async (dir: string): Promise<void> => {
    await assert.rejects(up({ dir, size: 1, basePort: port, waitMs: 5000 }), (e: unknown) => {
      assert.ok(e instanceof PortInUseError, String(e));
      return true;
    });
  };

  test('a pre-existing empty directory is kept (empty)', async () => {
    const d = join(scratch, 'empty-dir');
    mkdirSync(d);
    await failUp(d);
    assert.deepEqual(readdirSync(d), []);
  });

  test('a new directory (and the parents it made) are removed', async () => {
    const d = join(scratch, 'new-parent', 'new-dir');
    await failUp(d);
    assert.equal(existsSync(join(scratch, 'new-parent')), false);
  });

  test('a symlink to an empty directory: link and target kept, nothing left in the target (no secret)', async () => {
    const t = join(scratch, 'link-target');
    const l = join(scratch, 'link-dir');
    mkdirSync(t);
    symlinkSync(t, l);
    await failUp(l);
    assert.ok(lstatSync(l).isSymbolicLink());
    assert.deepEqual(readdirSync(t), []);
  });

  test('a mount point: the real error (port in use), not EBUSY; the mount is left empty', async () => {
    const m = join(scratch, 'mnt');
    mkdirSync(m);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', m]);
    mounted.push(m);
    try {
      await failUp(m);
      assert.deepEqual(readdirSync(m), []);
    } finally {
      unmountAll();
    }
  });

  test('a read-only HOME: the error names the directory, XDG_STATE_HOME and --dir', async () => {
    const home = join(scratch, 'ro-home');
    mkdirSync(home);
    mountReadOnly(home);
    try {
      const env: NodeJS.ProcessEnv = { ...process.env, HOME: home };
      delete env.XDG_STATE_HOME;
      await assert.rejects(up({ name: 'rohome', size: 1, basePort: port + 2, waitMs: 5000, env }), (e: unknown) => {
        const x = e as Error & { hint?: string };
        assert.match(x.message, new RegExp(`cannot create the ensemble directory ${home}/\\.local/state/zkctl/ensembles/rohome: read-only file system`));
        assert.match(x.hint ?? '', /XDG_STATE_HOME.*--dir/);
        return true;
      });
    } finally {
      unmountAll();
    }
  });

  test('a read-only HOME with a writable --dir: up goes on (only the registry entry is skipped)', async () => {
    const home = join(scratch, 'ro-home2');
    mkdirSync(home);
    mountReadOnly(home);
    try {
      const env: NodeJS.ProcessEnv = { ...process.env, HOME: home };
      delete env.XDG_STATE_HOME;
      // The port clash makes it fail after the registry step: the error is the port, not the registry.
      await assert.rejects(up({ dir: join(scratch, 'rw-dir'), size: 1, basePort: port, waitMs: 5000, env }), (e: unknown) => {
        assert.ok(e instanceof PortInUseError, String(e));
        return true;
      });
      assert.equal(existsSync(join(scratch, 'rw-dir')), false);
    } finally {
      unmountAll();
    }
  });

  test('a port held by a connection (not a listener) names the connection and its process', async () => {
    const local = await freeBasePort({ start: port + 1000, size: 1 });
    // An outgoing connection bound to that port without SO_REUSEADDR (as a Java or curl client's
    // ephemeral port is): a server cannot bind it. Made by a child of this test, killed in finally.
    const py = spawn('python3', ['-c', `import socket,time\ns=socket.socket()\ns.bind(('127.0.0.1',${local}))\ns.connect(('127.0.0.1',${port}))\nprint('ok',flush=True)\ntime.sleep(120)`], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    try {
      await new Promise<void>((resolve, reject) => {
        py.stdout.once('data', () => resolve());
        py.once('exit', (c) => reject(new Error(`python3 exited ${c}`)));
      });
      await assert.rejects(up({ dir: join(scratch, 'conn-held'), size: 1, basePort: local, waitMs: 5000 }), (e: unknown) => {
        assert.ok(e instanceof PortInUseError, String(e));
        assert.match(e.message, new RegExp(`port ${local} \\(client port of member 1\\) is already in use by a connection of pid ${py.pid} \\([^\\n]*python[^\\n]*\\), not a listener$`));
        return true;
      });
      assert.equal(existsSync(join(scratch, 'conn-held')), false);
    } finally {
      py.kill('SIGKILL');
    }
  });

  test('a path ZooKeeper would misread in zoo.cfg is refused up front, nothing created', async () => {
    for (const [name, why] of [
      ['bad\nline', /line break/],
      ['caf\u00e9', /non-ASCII/],
      ['back\\slash', /backslash/],
    ] as Array<[string, RegExp]>) {
      const d = join(scratch, name);
      await assert.rejects(up({ dir: d, size: 1, basePort: port + 1, waitMs: 5000 }), (e: unknown) => e instanceof UsageError && why.test(e.message) && /zoo\.cfg/.test(e.message));
      assert.equal(existsSync(d), false, JSON.stringify(d));
    }
  });
});

describe('an `ensemble add` killed while its new member starts', () => {
  let fe: FaultEnsemble;

  before(async () => {
    fe = await startFaultEnsemble(1);
  });
  after(async () => {
    await fe?.cleanup();
  });

  test('the next add rolls the half-done add back, says so, and reuses its id', async () => {
    const c = isolatedCli('addkill', 180_000);
    const child = spawn(process.execPath, [join(repoRoot, 'bin', 'zkctl.js'), 'ensemble', 'add', '--dir', fe.dir, '--observer'], {
      env: { ...process.env, XDG_CONFIG_HOME: c.configHome, NO_COLOR: '1' },
      stdio: 'ignore',
    });
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    const pidFile = fe.ensemble.pidPath(2);
    let joiner = 0;
    try {
      await until(
        () => {
          joiner = existsSync(pidFile) ? Number(readFileSync(pidFile, 'utf8').split('\n')[0]) : 0;
          return joiner > 0 && isPidAlive(joiner);
        },
        90_000,
        'the add to spawn member 2',
      );
    } finally {
      child.kill('SIGKILL'); // the zkctl we started; its member runs on, detached
      await exited;
    }
    assert.ok(existsSync(join(fe.dir, 'add-pending.json')), 'the add left its marker');
    assert.equal(fe.ensemble.pidOf(2), joiner, 'the half-added member runs');

    const r = await c.zk(['ensemble', 'add', '--dir', fe.dir, '--observer', '-o', 'json']);
    expectOk(r);
    assert.match(r.stderr, /rolled back an interrupted `ensemble add` of member 2 \(not in the committed configuration\): stopped it and removed its files/);
    const out = JSON.parse(r.stdout) as { id: number; role: string };
    assert.equal(out.id, 2, 'the id is reused');
    assert.equal(out.role, 'observer');
    assert.equal(isPidAlive(joiner), false, 'the leftover process was stopped');
    assert.equal(existsSync(join(fe.dir, 'add-pending.json')), false);
    assert.deepEqual(load(fe.dir).ids, [1, 2]);
  });

  test('a corrupt membership.json: status warns and points to ensemble sync, which rewrites it', async () => {
    const c = isolatedCli('roster', 60_000);
    const file = join(fe.dir, 'membership.json');
    writeFileSync(file, '{"members": [');
    const st = expectOk(await c.zk(['ensemble', 'status', '--dir', fe.dir, '-o', 'json']));
    assert.match(st.stderr, /membership\.json is unreadable \(not valid JSON.*`zkctl ensemble sync` rewrites it/);
    const sy = expectOk(await c.zk(['ensemble', 'sync', '--dir', fe.dir, '-o', 'json']));
    assert.equal(JSON.parse(sy.stdout).updated, true);
    assert.deepEqual(
      (JSON.parse(readFileSync(file, 'utf8')) as { members: Array<{ id: number }> }).members.map((m) => m.id),
      [1, 2],
    );
    const again = expectOk(await c.zk(['ensemble', 'status', '--dir', fe.dir, '-o', 'json']));
    assert.doesNotMatch(again.stderr, /unreadable/);
  });
});

describe('Ctrl-C during ensemble up', () => {
  test('stops the members this run started and says so (exit 130)', async () => {
    const c = isolatedCli('ctrlc', 120_000);
    const dir = join(c.scratch, 'ens');
    const basePort = await freeBasePort({ start: 24000 + Math.floor(Math.random() * 1500) * 10, size: 1 });
    const child = spawn(process.execPath, [join(repoRoot, 'bin', 'zkctl.js'), 'ensemble', 'up', '--size', '1', '--base-port', String(basePort), '--dir', dir], {
      env: { ...process.env, XDG_CONFIG_HOME: c.configHome, NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    try {
      const pidFile = join(dir, 'members', '1', 'zookeeper.pid');
      let pid = 0;
      await until(
        () => {
          pid = existsSync(pidFile) ? Number(readFileSync(pidFile, 'utf8').split('\n')[0]) : 0;
          return pid > 0;
        },
        90_000,
        'member 1 to be spawned',
      );
      child.kill('SIGINT');
      assert.equal(await exited, 130);
      assert.match(stderr, new RegExp(`interrupted \\(SIGINT\\) while starting the ensemble: stopped member 1 \\(pid ${pid}\\), started by this run; .*\`zkctl ensemble up --dir ${dir}\` starts it again`));
      assert.equal(isPidAlive(pid), false, 'the member it started is stopped');
      assert.deepEqual(ourProcessesIn(dir), [], 'no process of the ensemble is left');
    } finally {
      child.kill('SIGKILL');
      await exited;
      try {
        await load(dir).down({ purge: true });
      } catch {
        /* nothing was created */
      }
    }
  });
});
