/**
 * Every stop reaches the whole job (issue 21, issue 10 item 1). CMD is a shell
 * script whose real work is a grandchild writing a heartbeat file every 50 ms;
 * after each kind of stop, that grandchild must be dead and no heartbeat may
 * follow. Mostly under a pseudo-terminal (util-linux `script`), where CMD stays
 * in the terminal's foreground group:
 * - fencing (the holder's link silenced by a TCP proxy), lock and elect;
 * - `lock revoke`;
 * - SIGKILL of zkctl (its reaper kills the job), lock and elect;
 * - Ctrl-C typed at the terminal;
 * - SIGSTOP of zkctl (the issue-10 repro): its reaper misses zkctl's heartbeat
 *   and stops the job before the session can expire, so a second contender's
 *   CMD never overlaps it; lock and elect, with and without a terminal.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync } from 'node:child_process';
import { chmodSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { TcpProxy } from '../helpers/proxy.js';
import { noScript, shq, spawnScript, zkctlLine } from '../helpers/pty.js';
import { chrootSession, type ChrootSession } from '../helpers/session.js';
import { runCli, testServer } from '../helpers/zk.js';
import { children, scratchDir, spawnCli, until } from './util.js';

/** Live (not zombie) process? */
function alive(pid: number): boolean {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = s.slice(s.lastIndexOf(')') + 2, s.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

/** A process's /proc stat line (state, ppid, pgrp, session...), for failure messages. */
function procState(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').trim();
  } catch {
    return 'gone';
  }
}

/** ps's view of every process (for failure messages). */
function psTree(): string {
  try {
    return execFileSync('ps', ['-eo', 'pid,ppid,pgid,sid,stat,args'], { encoding: 'utf8' }).split('\n').filter((l) => /zkctl|job\.sh|hb|gc|reaper|sleep/.test(l)).join('\n');
  } catch (e) {
    return String(e);
  }
}

/** The reapers of zkctl `pid` (its children named zkctl-reaper): their kernel wait channel, stack, fds and children. */
function reaperState(pid: number): string {
  const out: string[] = [];
  const rd = (f: string): string => {
    try {
      return readFileSync(f, 'utf8').trim();
    } catch (e) {
      return `(${(e as NodeJS.ErrnoException).code})`;
    }
  };
  try {
    const ps = execFileSync('ps', ['-eo', 'pid=,ppid=,stat=,args='], { encoding: 'utf8' }).split('\n');
    for (const l of ps) {
      const [p, pp] = l.trim().split(/\s+/);
      if (Number(pp) !== pid || !l.includes('zkctl-reaper')) continue;
      let fds = '';
      try {
        fds = execFileSync('ls', ['-l', `/proc/${p}/fd`], { encoding: 'utf8' });
      } catch (e) {
        fds = String(e);
      }
      const kids = ps.filter((k) => k.trim().split(/\s+/)[1] === p).map((k) => k.slice(0, 200));
      out.push(`reaper ${p}: wchan ${rd(`/proc/${p}/wchan`)}; stack ${rd(`/proc/${p}/stack`)}; fdinfo0 ${rd(`/proc/${p}/fdinfo/0`)}; fds ${fds}; children ${kids.join(' | ') || 'none'}`);
    }
  } catch (e) {
    out.push(String(e));
  }
  return out.join('\n') || `no reaper child of ${pid}`;
}

/** The job script: notes zkctl's pid ($PPID), starts the heartbeat grandchild, waits. */
function jobScript(dir: string): string {
  const p = join(dir, 'job.sh');
  writeFileSync(
    p,
    `#!/bin/sh
d="$1"
echo "$PPID" > "$d/zkctl.pid"
sh -c 'echo $$ > "$1/gc.pid"; while :; do date +%s%3N >> "$1/hb"; sleep 0.05; done' gc "$d" &
wait
`,
  );
  chmodSync(p, 0o755);
  return p;
}

const readPid = (f: string): number => (existsSync(f) ? Number(readFileSync(f, 'utf8').trim()) || 0 : 0);
const lastBeat = (dir: string): number => {
  const f = join(dir, 'hb');
  if (!existsSync(f)) return 0;
  const lines = readFileSync(f, 'utf8').trim().split('\n');
  return Number(lines.at(-1)) || 0;
};

interface PtyRun {
  /** script(1) itself. */
  proc: ChildProcess;
  out(): string;
  type(s: string): void;
  /** zkctl's exit: its code, and when the test saw it. */
  exited: Promise<{ code: number; at: number }>;
  /** End the terminal session (the shell waits for a line once zkctl is done). */
  close(): void;
}

/**
 * zkctl ARGS typed at a shell on a pseudo-terminal (`script -qfec`). The shell
 * (bash, no job control: zkctl and CMD share its foreground group) stays after
 * zkctl exits, until a line is typed: when the session leader exits, the kernel
 * SIGHUPs the foreground group, which would kill a left-over CMD and hide the
 * very defect these tests look for. zkctl's exit code goes to `exitFile`.
 */
function ptyCli(args: string[], exitFile: string, env: Record<string, string> = {}): PtyRun {
  const shell = `${zkctlLine(args)}; echo $? > ${shq(exitFile)}; read line`;
  const { proc, out } = spawnScript(`bash -c ${shq(shell)}`, { ...process.env, ...env });
  let gone = false;
  proc.on('exit', () => {
    gone = true;
    setTimeout(() => {
      proc.stdout?.destroy();
      proc.stderr?.destroy();
    }, 2000).unref();
  });
  const exited = (async () => {
    await until(() => existsSync(exitFile) && readFileSync(exitFile, 'utf8').trim() !== '', 'zkctl to exit', () => (gone ? `script(1) ended early: ${out()}` : out()), 60_000);
    return { code: Number(readFileSync(exitFile, 'utf8').trim()), at: Date.now() };
  })();
  const close = (): void => {
    if (gone) return;
    proc.stdin!.write('\n');
    setTimeout(() => proc.kill('SIGKILL'), 5000).unref();
  };
  return { proc, out, type: (s) => proc.stdin!.write(s), exited, close };
}

/** Start a holder (on a pty or not) running the job; resolves once the grandchild beats. */
async function startHolder(kind: 'lock' | 'elect', server: string, path: string, dir: string, extra: string[], pty: boolean) {
  const args = [kind, '-s', server, path, ...(kind === 'elect' ? ['--id', 'holder'] : []), ...extra, '--', jobScript(dir), dir];
  const trace = { ZKCTL_REAPER_TRACE: join(dir, 'reaper.trace') };
  const run = pty ? ptyCli(args, join(dir, 'zkctl.exit'), trace) : spawnCli(args, { env: trace });
  const out = (): string => ('out' in run ? run.out() : `${run.stdout()}${run.stderr()}`);
  await until(() => readPid(join(dir, 'gc.pid')) > 0 && lastBeat(dir) > 0, `${kind} holder's job to start`, out);
  return { run, out, gc: readPid(join(dir, 'gc.pid')), zkctl: readPid(join(dir, 'zkctl.pid')) };
}

/** The job's grandchild is dead and wrote nothing after `at` (ms). */
async function assertJobGone(dir: string, gc: number, at: number, out: () => string, within = 0): Promise<void> {
  if (within > 0) await until(() => !alive(gc), `grandchild ${gc} to die`, out, within);
  assert.ok(!alive(gc), `the job's grandchild (pid ${gc}) outlived the stop:\n${out().slice(-1500)}`);
  const last = lastBeat(dir);
  assert.ok(last <= at, `a heartbeat at ${last} followed the stop at ${at}`);
}

function cleanup(h: { run: unknown }, ...pids: number[]): void {
  if (h.run && typeof (h.run as PtyRun).close === 'function') (h.run as PtyRun).close();
  for (const p of pids) {
    if (p > 1) {
      try {
        process.kill(p, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
  }
}

describe('the whole job is stopped (pseudo-terminal and not)', { skip: noScript }, () => {
  let cs: ChrootSession;
  let proxy: TcpProxy;
  before(async () => {
    cs = await chrootSession('job');
    proxy = await TcpProxy.start(testServer().split(',')[0]!);
  });
  after(async () => {
    await proxy.close();
    await cs.close();
  });

  for (const kind of ['lock', 'elect'] as const) {
    it(`${kind} on a terminal: fencing stops the grandchild too`, async () => {
      proxy.forward();
      const dir = scratchDir(`job-fence-${kind}`);
      const h = await startHolder(kind, `${proxy.address}${cs.chroot}`, `/fence-${kind}`, dir, ['--session-timeout', '4s', '--grace', '1s'], true);
      try {
        proxy.silence();
        const { code, at } = await h.run.exited;
        assert.equal(code, 11, h.out());
        await until(() => /lost: .*was stopped with SIG(TERM|KILL)/.test(h.out()), 'the message lost: .*was stopped…', () => h.out(), 10_000); // a terminal's output can arrive after the exit
        await assertJobGone(dir, h.gc, at, h.out);
      } finally {
        proxy.forward();
        cleanup(h, h.zkctl, h.gc);
      }
    });

    it(`${kind} on a terminal: SIGKILL of zkctl, its reaper kills the grandchild too`, async () => {
      const dir = scratchDir(`job-kill-${kind}`);
      const h = await startHolder(kind, cs.server, `/kill-${kind}`, dir, ['--session-timeout', '6s'], true);
      try {
        assert.ok(h.zkctl > 1 && alive(h.zkctl), 'zkctl pid');
        process.kill(h.zkctl, 'SIGKILL');
        await h.run.exited;
        await until(() => !alive(h.gc), `grandchild ${h.gc} to die after zkctl's SIGKILL`, h.out, 5000);
        await assertJobGone(dir, h.gc, Date.now(), h.out);
      } finally {
        cleanup(h, h.zkctl, h.gc);
      }
    });
  }

  it('lock on a terminal: `lock revoke` stops the grandchild too', async () => {
    const dir = scratchDir('job-revoke');
    const h = await startHolder('lock', cs.server, '/revoke', dir, ['--revocable', '--grace', '1s'], true);
    try {
      const r = await runCli(['lock', 'revoke', '-s', cs.server, '/revoke']);
      assert.equal(r.code, 0, r.stderr);
      const { code, at } = await h.run.exited;
      assert.equal(code, 11, h.out());
      await until(() => /revoked: .*was stopped with SIGTERM/.test(h.out()), 'the message revoked: .*was stop…', () => h.out(), 10_000); // a terminal's output can arrive after the exit
      await assertJobGone(dir, h.gc, at, h.out);
    } finally {
      cleanup(h, h.zkctl, h.gc);
    }
  });

  it('lock on a terminal: Ctrl-C stops the grandchild too (it ignores SIGINT, as background jobs of sh do)', async () => {
    const dir = scratchDir('job-ctrlc');
    const h = await startHolder('lock', cs.server, '/ctrlc', dir, ['--grace', '1s'], true);
    try {
      (h.run as PtyRun).type('\x03');
      const { code, at } = await h.run.exited;
      assert.equal(code, 130, h.out());
      await assertJobGone(dir, h.gc, at, h.out);
      assert.deepEqual(await children(cs.session, '/ctrlc'), [], 'released');
    } finally {
      cleanup(h, h.zkctl, h.gc);
    }
  });

  for (const [kind, pty] of [
    ['lock', false],
    ['elect', false],
    ['lock', true],
    ['elect', true],
  ] as const) {
    it(`${kind}${pty ? ' on a terminal' : ''}: zkctl SIGSTOPped, its reaper stops the job before a second contender runs (issue 10.1)`, async () => {
      const dir = scratchDir(`job-stop-${kind}`);
      const path = `/stopped-${kind}-${pty ? 'tty' : 'notty'}`;
      const h = await startHolder(kind, cs.server, path, dir, ['--session-timeout', '6s', '--grace', '1s'], pty);
      let second: ReturnType<typeof spawnCli> | undefined;
      try {
        process.kill(h.zkctl, 'SIGSTOP');
        const stoppedAt = Date.now();
        const mark = join(dir, 'second');
        second = spawnCli([kind, '-s', cs.server, path, ...(kind === 'elect' ? ['--id', 'second'] : []), '--', 'sh', '-c', `date +%s%3N > ${mark}`]);
        const s = await second.exited;
        assert.equal(s.code, 0, second.stderr());
        const started = Number(readFileSync(mark, 'utf8').trim());
        const last = lastBeat(dir);
        assert.ok(!alive(h.gc), `the stopped holder's job (grandchild ${h.gc}, ${procState(h.gc)}) was still running when the second contender's CMD ran ${started - stoppedAt} ms after the SIGSTOP (last beat ${last - stoppedAt} ms after it); ${reaperState(h.zkctl)}\nprocesses: ${psTree()}\nreaper: ${existsSync(join(dir, 'reaper.trace')) ? readFileSync(join(dir, 'reaper.trace'), 'utf8') : '(no trace)'}\n${h.out().slice(-1500)}`);
        assert.ok(last < started, `overlap: the holder's job beat at ${last}, the second contender's CMD started at ${started}`);
        process.stderr.write(`# ${kind}${pty ? ' (pty)' : ''}: last beat ${last - stoppedAt} ms after SIGSTOP, second CMD ${started - stoppedAt} ms after it\n`);
        process.kill(h.zkctl, 'SIGCONT');
        // script(1) stops itself when its child stops (job-control emulation): let it go on too.
        if (pty && (h.run as PtyRun).proc.pid) process.kill((h.run as PtyRun).proc.pid!, 'SIGCONT');
        const { code } = await h.run.exited;
        assert.equal(code, 11, h.out());
        await until(() => /did not run for over 1s .*reaper stopped the command/.test(h.out()), 'the message did not run for ove…', () => h.out(), 10_000); // a terminal's output can arrive after the exit
      } finally {
        cleanup(h, h.zkctl, h.gc);
        second?.child.kill('SIGKILL');
      }
    });
  }
});

/** The reaper of zkctl `zkctl` (its child named zkctl-reaper), 0 if none. */
function reaperOf(zkctl: number): number {
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      if (!readFileSync(`/proc/${d}/cmdline`, 'utf8').includes('zkctl-reaper')) continue;
      const st = readFileSync(`/proc/${d}/stat`, 'utf8');
      if (Number(st.slice(st.lastIndexOf(')') + 2).split(' ')[1]) === zkctl) return Number(d);
    } catch {
      /* gone */
    }
  }
  return 0;
}

describe('a job nothing would guard is stopped', { skip: noScript }, () => {
  let cs: ChrootSession;
  before(async () => {
    cs = await chrootSession('unguarded');
  });
  after(async () => {
    await cs.close();
  });

  for (const pty of [false, true]) {
    it(`lock${pty ? ' on a terminal' : ''}: its reaper killed while the job runs, zkctl stops the whole job (nothing would stop it should zkctl stop), then releases`, async () => {
      const dir = scratchDir(`job-reaperkill-${pty ? 'tty' : 'notty'}`);
      const path = `/reaperkill-${pty ? 'tty' : 'notty'}`;
      const h = await startHolder('lock', cs.server, path, dir, ['--session-timeout', '6s', '--grace', '1s'], pty);
      try {
        const reaper = reaperOf(h.zkctl);
        assert.ok(reaper > 0, `zkctl ${h.zkctl} has a reaper`);
        process.kill(reaper, 'SIGKILL');
        let t: NodeJS.Timeout | undefined;
        const { code, at } = await Promise.race([
          h.run.exited,
          new Promise<never>((_, rej) => (t = setTimeout(() => rej(new Error(`zkctl did not stop the job within 30 s of its reaper's death:\n${h.out().slice(-1500)}`)), 30_000))),
        ]).finally(() => clearTimeout(t));
        assert.equal(code, 11, h.out());
        await until(() => /still held, but the command was stopped: its reaper.*has ended/.test(h.out()), 'the message about the reaper', h.out, 10_000);
        await assertJobGone(dir, h.gc, at, h.out, 5000);
        assert.deepEqual(await children(cs.session, path), [], 'released after the job was gone');
      } finally {
        cleanup(h, h.zkctl, h.gc);
      }
    });
  }
});

describe('only the connected member goes silent (issue 21, Low)', () => {
  let cs: ChrootSession;
  let proxies: TcpProxy[] = [];
  before(async () => {
    cs = await chrootSession('member');
    proxies = await Promise.all(testServer().split(',').slice(0, 2).map((m) => TcpProxy.start(m)));
  });
  after(async () => {
    for (const p of proxies) await p.close();
    await cs.close();
  });

  it('lock: zkctl moves to another member before fencing, and the hold and CMD survive', async () => {
    const T = 4000;
    const dir = scratchDir('job-member');
    const server = `${proxies.map((p) => p.address).join(',')}${cs.chroot}`;
    const h = await startHolder('lock', server, '/member', dir, ['--session-timeout', '4s', '--grace', '1s'], false);
    try {
      const active = proxies.find((p) => p.connections > 0);
      assert.ok(active, 'the holder is connected through one of the proxies');
      const other = proxies.find((p) => p !== active)!;
      let ended = false;
      void h.run.exited.then(() => (ended = true));
      active.silence();
      const silencedAt = Date.now();
      // Two session timeouts later the holder still runs and its job still beats: it moved to
      // the other member in time (without the move it is fenced at T/2).
      await until(
        () => {
          assert.ok(!ended, `the holder ended: ${h.out()}`);
          return Date.now() - silencedAt > 2 * T;
        },
        'two session timeouts to pass',
        h.out,
      );
      assert.ok(other.connections > 0, 'moved to the other member');
      assert.ok(alive(h.gc) && Date.now() - lastBeat(dir) < 1000, `the job stopped: ${h.out()}`);
      assert.doesNotMatch(h.out(), /stopping|lost/);
      // The lock is still held by the holder's session.
      assert.equal((await children(cs.session, '/member')).length, 1);
    } finally {
      for (const p of proxies) p.forward();
      cleanup(h, h.zkctl, h.gc);
    }
  });
});
