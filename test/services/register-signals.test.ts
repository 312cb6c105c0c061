/**
 * `services register -- CMD` does not leave CMD behind when zkctl is SIGKILLed (the reaper `lock`
 * uses), and a signal without a quorum ends zkctl quickly with the signal's code (issue 24, CI).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Session } from '../../src/core/session.js';
import { repoRoot, startFaultEnsemble, type FaultEnsemble } from '../helpers/zk.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function waitFor<T>(what: string, fn: () => Promise<T | undefined> | T | undefined, timeoutMs = 30_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`${what}: not in ${timeoutMs} ms`);
    await sleep(100);
  }
}

/** Alive and not a zombie. */
function running(pid: number): boolean {
  try {
    const st = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = st.slice(st.lastIndexOf(')') + 2).split(' ')[0];
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

describe('services register: signals and the reaper', () => {
  let fe: FaultEnsemble;
  let session: Session;
  const scratch = mkdtempSync(join(process.env.ZKCTL_TEST_TMP ?? tmpdir(), 'reg-sig-'));
  const env = { ...process.env, ZKCTL_SERVER: undefined, XDG_CONFIG_HOME: join(scratch, 'config') } as NodeJS.ProcessEnv;
  delete env.ZKCTL_SERVER;

  before(async () => {
    fe = await startFaultEnsemble(1);
    session = await Session.connect({ connectString: fe.connectString, timeoutMs: 10_000 });
  });
  after(async () => {
    await session?.close();
    for (const id of fe?.ensemble.ids ?? []) {
      const pid = fe.ensemble.pidOf(id);
      if (pid) {
        try {
          process.kill(pid, 'SIGCONT');
        } catch {
          /* gone */
        }
      }
    }
    await fe?.cleanup();
  });

  it('SIGKILL of zkctl: CMD dies with it', async () => {
    const pidFile = join(scratch, 'cmd.pid');
    const zk = spawn(
      process.execPath,
      [join(repoRoot, 'bin', 'zkctl.js'), 'services', 'register', 'reaped', '--port', '47001', '--id', 'r1', '-s', fe.connectString, '--', 'sh', '-c', `echo $$ > ${pidFile}; exec sleep 300`],
      { stdio: 'ignore', env },
    );
    try {
      const cmdPid = await waitFor('CMD started', () => {
        try {
          const n = Number(readFileSync(pidFile, 'utf8').trim());
          return n > 0 && running(n) ? n : undefined;
        } catch {
          return undefined;
        }
      });
      await waitFor('registered', async () => ((await session.exists('/services/reaped/r1')) ? true : undefined));
      zk.kill('SIGKILL');
      await waitFor('CMD gone after zkctl was SIGKILLed', () => (running(cmdPid) ? undefined : true), 20_000);
    } finally {
      zk.kill('SIGKILL');
    }
  });

  it('no quorum (members SIGSTOPped): SIGTERM ends zkctl within a few seconds with exit 143', async () => {
    const zk = spawn(process.execPath, [join(repoRoot, 'bin', 'zkctl.js'), 'services', 'register', 'stuck', '--port', '47002', '--id', 's1', '-s', fe.connectString], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env,
    });
    let stderr = '';
    let stdout = '';
    zk.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    zk.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>((res) => zk.once('exit', (code, signal) => res({ code, signal, at: Date.now() })));
    const pids = fe.ensemble.ids.map((id) => fe.ensemble.pidOf(id)).filter((p): p is number => p !== undefined);
    try {
      // zkctl says "registered" once it holds the node (its signal handling is in place by then).
      await waitFor('registered', () => (/^registered /m.test(stdout) ? true : undefined));
      for (const p of pids) process.kill(p, 'SIGSTOP');
      const t0 = Date.now();
      zk.kill('SIGTERM');
      const r = await Promise.race([exited, sleep(30_000).then(() => undefined)]);
      assert.ok(r, `zkctl still running 30 s after SIGTERM; stderr: ${stderr}`);
      assert.equal(r.code, 143, stderr);
      // 1.5 s for the unregister, at most as much for closing: well under the 10 s request deadline.
      assert.ok(r.at - t0 < 8000, `exit ${r.at - t0} ms after SIGTERM; stderr: ${stderr}`);
    } finally {
      for (const p of pids) process.kill(p, 'SIGCONT');
      zk.kill('SIGKILL');
    }
  });
});
