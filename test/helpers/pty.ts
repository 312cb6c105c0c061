/**
 * Pseudo-terminal helpers: zkctl (or any shell line) run under util-linux `script -qfec`, so that
 * its stdin, stdout and stderr are a terminal. Tests that need one skip with `noScript` where
 * script(1) is missing.
 */
import { type ChildProcessWithoutNullStreams, execFileSync, spawn } from 'node:child_process';
import { join } from 'node:path';
import { until } from '../recipes/util.js';
import { repoRoot } from './zk.js';

/** util-linux script(1) is installed. */
export const hasScript = (() => {
  try {
    execFileSync('script', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

/** A test's `skip` where script(1) is missing (false where it is there). */
export const noScript: false | string = hasScript ? false : 'util-linux script(1) is not installed';

/** `s` quoted for sh: one word, whatever it holds. */
export const shq = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

/** The text a terminal shows: escape sequences (CSI, OSC) and carriage returns taken out. */
// eslint-disable-next-line no-control-regex
export const stripTerminal = (s: string): string => s.replace(/\u001b\[[0-9;?]*[A-Za-z]|\u001b\][^\u0007]*\u0007/g, '').replace(/\r/g, '');

/** The shell words that run this checkout's zkctl with `args`. */
export const zkctlLine = (args: string[] = []): string => [process.execPath, join(repoRoot, 'bin', 'zkctl.js'), ...args].map(shq).join(' ');

export interface ScriptRun {
  /** script(1) itself. */
  proc: ChildProcessWithoutNullStreams;
  /** Everything the terminal got so far (stdout and stderr of script(1)), as it came. */
  out(): string;
  /** script(1) has closed. */
  ended(): boolean;
  /** Resolves when script(1) has closed. */
  done: Promise<void>;
}

/** Run the shell line `sh` on a pseudo-terminal (`script -qfec sh /dev/null`, in the repository). */
export function spawnScript(sh: string, env: NodeJS.ProcessEnv = process.env): ScriptRun {
  const proc = spawn('script', ['-qfec', sh, '/dev/null'], { cwd: repoRoot, env, stdio: ['pipe', 'pipe', 'pipe'] });
  const chunks: Buffer[] = [];
  proc.stdout.on('data', (d: Buffer) => chunks.push(d));
  proc.stderr.on('data', (d: Buffer) => chunks.push(d));
  proc.stdin.on('error', () => undefined);
  let closed = false;
  const done = new Promise<void>((r) => proc.on('close', () => ((closed = true), r())));
  return { proc, out: () => Buffer.concat(chunks).toString('utf8'), ended: () => closed, done };
}

export interface ScriptStep {
  /** Holds on the terminal's text (stripTerminal'd) when `keys` may be typed. */
  ready: (screen: string) => boolean;
  keys: string;
}

/**
 * `sh` on a pseudo-terminal until script(1) ends; each step's keys typed once its `ready` holds
 * (waited for up to 60 s each); script(1) is killed after `killMs`. Resolves with what the
 * terminal got, as it came (stripTerminal gives the text).
 */
export async function onScript(sh: string, opts: { env?: NodeJS.ProcessEnv; steps?: ScriptStep[]; killMs: number }): Promise<string> {
  const run = spawnScript(sh, opts.env);
  const kill = setTimeout(() => run.proc.kill('SIGKILL'), opts.killMs);
  try {
    for (const s of opts.steps ?? []) {
      await until(() => run.ended() || s.ready(stripTerminal(run.out())), 'the screen', () => stripTerminal(run.out()), 60_000);
      run.proc.stdin.write(s.keys);
    }
    await run.done;
  } finally {
    clearTimeout(kill);
  }
  return run.out();
}
