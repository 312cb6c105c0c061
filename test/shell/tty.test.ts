/**
 * zkctl shell and ensemble top on a real terminal (tmux), as people use them: job control
 * (Ctrl-Z, fg) under an interactive bash, Ctrl-C of a request waiting on a lost quorum, the
 * connection state shown above the prompt, secrets kept out of the history, the question
 * before listing hundreds of completions.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Session } from '../../src/core/session.js';
import { chrootSession, type ChrootSession } from '../helpers/session.js';
import { type FaultEnsemble, repoRoot, startFaultEnsemble } from '../helpers/zk.js';

const hasTmux = spawnSync('tmux', ['-V']).status === 0;
const tmp = (): string => mkdtempSync(join(process.env.ZKCTL_TEST_TMP ?? tmpdir(), 'zktty-'));
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const zkctl = `"${process.execPath}" "${join(repoRoot, 'bin', 'zkctl.js')}"`;

/** A tmux server of our own with one window running an interactive bash (job control on). */
class Term {
  readonly sock = `zkctl-tty-${randomBytes(4).toString('hex')}`;
  constructor(env: Record<string, string>, width = 120) {
    // A person at a terminal: not a CI job (under CI=true, as .ci/run sets, zkctl never pages).
    const envs = Object.entries({ CI: '', ...env }).map(([k, v]) => `${k}=${v}`);
    this.tm('new-session', '-d', '-s', 't', '-x', String(width), '-y', '40', 'env', ...envs, 'PS1=bash$ ', 'bash', '--norc', '--noprofile', '-i');
  }
  tm(...args: string[]): string {
    return execFileSync('tmux', ['-L', this.sock, ...args], { encoding: 'utf8' });
  }
  screen(): string {
    return this.tm('capture-pane', '-p', '-J', '-t', 't');
  }
  async waitFor(re: RegExp, what: string, ms = 30_000): Promise<string> {
    const deadline = Date.now() + ms;
    for (;;) {
      const text = this.screen();
      if (re.test(text)) return text;
      if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}; screen:\n${text}`);
      await sleep(100);
    }
  }
  /** Keys one at a time (a burst counts as a paste for readline). */
  async keys(...ks: string[]): Promise<void> {
    for (const k of ks) {
      this.tm('send-keys', '-t', 't', k);
      await sleep(120);
    }
  }
  async line(text: string): Promise<void> {
    this.tm('send-keys', '-t', 't', '-l', text);
    await sleep(150);
    await this.keys('Enter');
  }
  /** The process bash runs in the foreground or as a stopped job (its only child). */
  async job(): Promise<number> {
    const bash = Number(this.tm('list-panes', '-t', 't', '-F', '#{pane_pid}').trim());
    const deadline = Date.now() + 20_000;
    for (;;) {
      const kids = readdirSync(`/proc/${bash}/task`).flatMap((t) => readFileSync(`/proc/${bash}/task/${t}/children`, 'utf8').trim().split(/\s+/).filter(Boolean));
      if (kids.length === 1) return Number(kids[0]);
      if (Date.now() > deadline) assert.fail(`bash has ${kids.length} children`);
      await sleep(100);
    }
  }
  kill(): void {
    try {
      this.tm('kill-server');
    } catch {
      /* gone */
    }
  }
}

/** The process state letter from /proc/PID/stat (T: stopped). */
function procState(pid: number): string {
  const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return s.slice(s.lastIndexOf(')') + 2, s.lastIndexOf(')') + 3);
}

async function waitState(pid: number, want: string, what: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (procState(pid) !== want) {
    if (Date.now() > deadline) assert.fail(`${what}: process state ${procState(pid)}, not ${want}`);
    await sleep(50);
  }
}

describe('shell and top on a terminal', { skip: !hasTmux && 'tmux not installed', concurrency: 2 }, () => {
  let c: ChrootSession;
  let s: Session;
  before(async () => {
    c = await chrootSession('tty');
    s = c.session;
    await s.create('/app', Buffer.from('root'));
    await s.create('/app/config', Buffer.from('a=1\n'));
    await s.create('/many');
    await Promise.all(Array.from({ length: 300 }, (_, i) => s.create(`/many/n${String(i).padStart(3, '0')}`)));
  });
  after(async () => c.close());

  it('Ctrl-Z stops the shell with the terminal cooked; fg gives back a working prompt; secrets stay out of the history', async () => {
    const state = tmp();
    const t = new Term({ XDG_STATE_HOME: state, NO_COLOR: '1', PAGER: '' });
    try {
      await t.waitFor(/bash\$ $/m, 'bash');
      await t.line(`${zkctl} shell -s "${c.server}"`);
      await t.waitFor(/ \/> $/m, 'the prompt');
      const pid = await t.job();
      await t.keys('cd ap');
      await t.keys('C-z');
      await waitState(pid, 'T', 'after Ctrl-Z');
      await t.waitFor(/Stopped.*\n(.*\n)*bash\$ $/m, 'bash reporting the stopped job');
      // The terminal is cooked again for bash: stty shows canonical mode and echo.
      await t.line('stty -a | tr " " "\\n" | grep -x -e icanon -e echo -e isig | sort | tr "\\n" " "; echo');
      await t.waitFor(/^echo icanon isig $/m, 'a cooked terminal');
      await t.line('fg');
      await waitState(pid, 'S', 'after fg');
      // The line typed before Ctrl-Z is redrawn and still being edited.
      await t.waitFor(/ \/> cd ap$/m, 'the prompt redrawn with the line');
      await t.keys('p', 'Enter');
      await t.waitFor(/ \/app> $/m, 'cd run after fg');
      await t.line('get config');
      await t.waitFor(/^a=1\n.* \/app> $/m, 'a command run and its output echoed');
      // Secrets are never written to the history file.
      await t.line('addauth digest bob:s3cret');
      await t.waitFor(/^\s*digest\s+bob\s*$/m, 'addauth');
      await t.line('setacl /app/config digest-password:bob:s3cret:cdrwa world:anyone:r');
      await t.waitFor(/aclVersion 1/, 'setacl');
      await t.line('whoami');
      await t.waitFor(/whoami\n(.*\n)*\s*digest\s+bob\s*\n(.*\n)*.* \/app> $/m, 'whoami');
      await t.keys('Up');
      await t.waitFor(/ \/app> whoami$/m, 'Up recalls whoami');
      await t.keys('Up');
      await t.waitFor(/ \/app> get config$/m, 'Up skips the secret lines');
      await t.keys('C-u', 'C-d');
      await t.waitFor(/bash\$ $/m, 'the shell ended');
      const hist = readFileSync(join(state, 'zkctl', 'shell_history'), 'utf8');
      assert.equal(hist, 'cd app\nget config\nwhoami\n');
    } finally {
      t.kill();
    }
  });

  it('watch streams the changes of a node until Ctrl-C, which returns to the prompt; --count ends it by itself', async () => {
    await s.create('/w', Buffer.from('v0'));
    const t = new Term({ XDG_STATE_HOME: tmp(), NO_COLOR: '1', PAGER: '' });
    try {
      await t.waitFor(/bash\$ $/m, 'bash');
      await t.line(`${zkctl} shell -s "${c.server}" --no-history`);
      await t.waitFor(/ \/> $/m, 'the prompt');
      const pid = await t.job();
      await t.line('cd w');
      await t.waitFor(/ \/w> $/m, 'cd');
      await t.line('watch . --data');
      await t.waitFor(/^watching \/w \(persistent watch\); Ctrl-C to stop$/m, 'the watch registered');
      await s.set('/w', Buffer.from('{"v":1}'));
      await t.waitFor(/ data-changed +\/w zxid=0x[0-9a-f]+ version=1 data=\{"v":1\}$/m, 'the event line, as zkctl watch prints it');
      await t.keys('C-c');
      await t.waitFor(/^watch: interrupted\n.* \/w> $/m, 'the prompt after Ctrl-C');
      assert.notEqual(procState(pid), 'Z', 'the shell still runs');
      await t.keys('C-l');
      await t.line('get /w');
      await t.waitFor(/^\{"v":1\}\n.* \/w> $/m, 'a command works after the interrupted watch');
      await t.keys('C-l');
      await t.line('watch /w --count 1');
      await t.waitFor(/^watching \/w \(persistent watch\); Ctrl-C to stop$/m, 'the watch registered again');
      await s.set('/w', Buffer.from('two'));
      await t.waitFor(/ data-changed +\/w zxid=0x[0-9a-f]+ version=2\n.* \/w> $/m, '--count 1: the event, then the prompt');
      await t.keys('C-d');
      await t.waitFor(/bash\$ $/m, 'the shell ended');
    } finally {
      t.kill();
    }
  });

  it('Tab on 300 children asks "Display all 300 possibilities? (y or n)" first; long output goes through $PAGER', async () => {
    const t = new Term({ XDG_STATE_HOME: tmp(), NO_COLOR: '1', PAGER: 'sed s/^/PAGED:/' });
    try {
      await t.waitFor(/bash\$ $/m, 'bash');
      await t.line(`${zkctl} shell -s "${c.server}" --no-history`);
      await t.waitFor(/ \/> $/m, 'the prompt');
      await t.keys('ls /many/', 'Tab', 'Tab');
      await t.waitFor(/Display all 300 possibilities\? \(y or n\)$/m, 'the question');
      assert.doesNotMatch(t.screen(), /n299/);
      await t.keys('n');
      await t.waitFor(/ \/> ls \/many\/n$/m, 'the line back after n');
      assert.doesNotMatch(t.screen(), /n299/);
      await t.keys('Tab', 'Tab');
      await t.waitFor(/Display all 300 possibilities\? \(y or n\)\n(.*\n)*.* \/> ls \/many\/n$|Display all 300 possibilities\? \(y or n\)$/m, 'the question again');
      await t.keys('y');
      await t.waitFor(/n299[^\n]*\n(.*\n)*.* \/> ls \/many\/n$/m, 'the list after y');
      await t.keys('C-u', 'C-l');
      // Longer than the screen: paged. Short: not.
      await t.line('ls /many');
      await t.waitFor(/^PAGED:n299\n.* \/> $/m, 'ls through the pager');
      await t.keys('C-l');
      await t.line('ls /app');
      await t.waitFor(/^config\n.* \/> $/m, 'a short listing, not paged');
      await t.keys('C-d');
      await t.waitFor(/bash\$ $/m, 'the shell ended');
    } finally {
      t.kill();
    }
  });

  it('edit: the editor gets the terminal (cooked, the keys it reads), the prompt works after', async () => {
    await s.create('/tty-ed', Buffer.from('old'));
    const dir = tmp();
    const log = join(dir, 'stty');
    // An "editor" that reads a line from the terminal and writes it as the new text.
    const ed = join(dir, 'ed.sh');
    writeFileSync(ed, `#!/bin/sh\nstty -a | tr ' ' '\\n' | grep -x -e icanon -e echo | sort | tr '\\n' ' ' > ${log}\nprintf 'EDITOR> '\nIFS= read -r line\nprintf '%s' "$line" > "$1"\n`);
    chmodSync(ed, 0o755);
    const t = new Term({ XDG_STATE_HOME: tmp(), NO_COLOR: '1', EDITOR: ed, VISUAL: '' });
    try {
      await t.waitFor(/bash\$ $/m, 'bash');
      await t.line(`${zkctl} shell -s "${c.server}" --no-history`);
      await t.waitFor(/ \/> $/m, 'the prompt');
      await t.line('edit /tty-ed');
      await t.waitFor(/^EDITOR> $/m, 'the editor');
      await t.line('typed in the editor');
      await t.waitFor(/\/tty-ed: written \(version 0 -> 1, 19 bytes\)\n.* \/> $/m, 'written, and the prompt');
      assert.equal(readFileSync(log, 'utf8'), 'echo icanon ');
      assert.equal((await s.get('/tty-ed')).data.toString(), 'typed in the editor');
      // The shell reads and echoes again.
      await t.line('get /tty-ed');
      await t.waitFor(/get \/tty-ed\ntyped in the editor\n.* \/> $/m, 'a command after the editor');
      await t.keys('C-d');
      await t.waitFor(/bash\$ $/m, 'the shell ended');
    } finally {
      t.kill();
    }
  });

  it('ensemble top: Ctrl-Z leaves the alternate screen and stops; fg redraws; q quits', async () => {
    const t = new Term({ XDG_STATE_HOME: tmp(), NO_COLOR: '1' }, 160);
    try {
      await t.waitFor(/bash\$ $/m, 'bash');
      await t.line(`echo BEFORE-TOP; ${zkctl} ensemble top -s "${c.server.split('/')[0]}" --interval 500ms`);
      await t.waitFor(/\(q to quit\)/, 'the table');
      const pid = await t.job();
      assert.doesNotMatch(t.screen(), /BEFORE-TOP/, 'not on the alternate screen');
      await t.keys('C-z');
      await waitState(pid, 'T', 'after Ctrl-Z');
      const sc = await t.waitFor(/Stopped.*\n(.*\n)*bash\$ $/m, 'bash reporting the stopped job');
      assert.match(sc, /BEFORE-TOP/, 'the normal screen is back');
      await t.line('fg');
      await waitState(pid, 'S', 'after fg');
      await t.waitFor(/\(q to quit\)/, 'the table redrawn');
      await t.keys('q');
      await t.waitFor(/BEFORE-TOP(.*\n)*bash\$ $/m, 'top ended, screen restored');
    } finally {
      t.kill();
    }
  });

  describe('with a private ensemble', () => {
    let fe: FaultEnsemble | undefined;
    const paused = new Set<number>();
    before(async () => {
      fe = await startFaultEnsemble(3, { name: `tty-${randomBytes(2).toString('hex')}` });
    });
    after(async () => {
      for (const p of paused) {
        try {
          process.kill(p, 'SIGCONT');
        } catch {
          /* gone */
        }
      }
      await fe?.cleanup();
    });

    it('Ctrl-C returns at once from a request waiting on a lost quorum; the connection state is shown', async () => {
      const ens = fe!;
      const t = new Term({ XDG_STATE_HOME: tmp(), NO_COLOR: '1' });
      try {
        await t.waitFor(/bash\$ $/m, 'bash');
        // An 8 s session: a silent connection is dropped after 5.3 s (failing the request written
        // on it), the session given up after 8 s. Ctrl-C comes before.
        await t.line(`${zkctl} shell -s "${ens.connectString}" --timeout 120s --session-timeout 8s --no-history`);
        await t.waitFor(/ \/> $/m, 'the prompt');
        const pids = [1, 2, 3].map((i) => ens.ensemble.pidOf(i)!);
        for (const p of pids) {
          process.kill(p, 'SIGSTOP');
          paused.add(p);
        }
        await t.line('get /zookeeper/config');
        await sleep(300);
        const t0 = Date.now();
        await t.keys('C-c');
        await t.waitFor(/get \/zookeeper\/config\n\^C\nget: interrupted\n(.*\n)*.*\/> $/m, 'the prompt after Ctrl-C');
        const took = Date.now() - t0;
        assert.ok(took < 4000, `the prompt came back after ${took} ms`);
        await t.waitFor(/zkctl: disconnected/, 'the disconnected notice', 20_000);
        await t.waitFor(/\[disconnected\] .*\/> $/m, 'the prompt marked while disconnected');
        await t.waitFor(/zkctl: the session expired/, 'the expiry notice', 20_000);
        for (const p of pids) {
          process.kill(p, 'SIGCONT');
          paused.delete(p);
        }
        await t.waitFor(/zkctl: reconnected to 127\.0\.0\.1:\d+ \(session 0x[0-9a-f]+\)\n.*\/> $/m, 'the reconnected notice', 60_000);
        assert.doesNotMatch(t.screen().split('\n').filter(Boolean).pop()!, /\[disconnected\]/);
        await t.line('ls /');
        await t.waitFor(/^zookeeper\n.*\/> $/m, 'a command works again');
        await t.keys('C-d');
        await t.waitFor(/bash\$ $/m, 'the shell ended');
      } finally {
        t.kill();
      }
    });
  });
});

assert.ok(existsSync(repoRoot));
