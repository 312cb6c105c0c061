/**
 * Paging long output, for the shell and the one-shot commands alike.
 *
 * `pagerCommand()` says which pager (or none); `Pager` holds the text until it fills the screen
 * and only then starts the pager (shorter output is written directly: no pager flashes by),
 * and notices when the pager goes away early (q in less), so the writer can stop.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import type { Writable } from 'node:stream';
import { childEnv } from './proc.js';

/**
 * Which pager long output goes through: $ZKCTL_PAGER, else $PAGER, else `less -FRX` (quits at
 * once when the text fits the screen, keeps colours, leaves the text on the screen). No pager:
 * an empty value or `cat` (as git), --no-pager, a stdout that is not a terminal, JSON output,
 * or a CI run (CI set, and not "false" or "0").
 */
export function pagerCommand(opts: { isTTY: boolean; noPager?: boolean; json?: boolean; env?: NodeJS.ProcessEnv }): string | undefined {
  if (!opts.isTTY || opts.noPager || opts.json) return undefined;
  const env = opts.env ?? process.env;
  const ci = env.CI;
  if (ci !== undefined && ci !== '' && ci !== 'false' && ci !== '0') return undefined;
  const cmd = (env.ZKCTL_PAGER ?? env.PAGER ?? 'less -FRX').trim();
  return cmd === '' || cmd === 'cat' ? undefined : cmd;
}

function newlines(s: string | Buffer): number {
  let n = 0;
  if (typeof s === 'string') {
    for (let i = s.indexOf('\n'); i >= 0; i = s.indexOf('\n', i + 1)) n++;
  } else {
    for (let i = s.indexOf(0x0a); i >= 0; i = s.indexOf(0x0a, i + 1)) n++;
  }
  return n;
}

export interface PagerOptions {
  /** The screen's height: text is held until it fills all but one line (default 24). */
  rows?: number;
  /** The screen's width: long lines count as several (default 80). */
  columns?: number;
  /** Just before the pager starts (it owns the terminal from then on). */
  onStart?: () => void;
}

/** A pager fed with text (run by /bin/sh -c, on the terminal, with the environment of every child zkctl starts). */
export class Pager {
  private held: Array<string | Buffer> = [];
  private heldLines = 0;
  private heldChars = 0;
  private child?: ChildProcess;
  private exited?: Promise<void>;
  private goneListeners: Array<() => void> = [];
  /** The pager has exited (the user quit it, or it failed): whatever is still written is dropped. */
  gone = false;

  constructor(
    readonly command: string,
    private readonly opts: PagerOptions = {},
  ) {}

  /** The pager's input once it has started. */
  get input(): Writable | undefined {
    return this.child?.stdin ?? undefined;
  }

  get started(): boolean {
    return this.child !== undefined;
  }

  /** Called once when the pager exits before its input ended (the reader quit early). */
  onGone(fn: () => void): void {
    if (this.gone) fn();
    else this.goneListeners.push(fn);
  }

  /** Keep `s` back; true when what is held fills the screen (time to `start()`). */
  hold(s: string | Buffer): boolean {
    this.held.push(s);
    this.heldLines += newlines(s);
    this.heldChars += s.length;
    const rows = this.opts.rows && this.opts.rows > 0 ? this.opts.rows : 24;
    const cols = this.opts.columns && this.opts.columns > 0 ? this.opts.columns : 80;
    return this.heldLines >= rows - 1 || this.heldChars >= (rows - 1) * cols;
  }

  /** What was held and not handed to a pager (the output ended before it filled the screen). */
  takeHeld(): Buffer {
    const b = Buffer.concat(this.held.map((s) => (typeof s === 'string' ? Buffer.from(s) : s)));
    this.held = [];
    return b;
  }

  /** Start the pager and hand it what was held; its input (write errors on it are the caller's to listen for). */
  start(): Writable {
    this.opts.onStart?.();
    const child = spawn('/bin/sh', ['-c', this.command], { stdio: ['pipe', 'inherit', 'inherit'], env: childEnv() });
    this.child = child;
    this.exited = new Promise((resolve) => {
      const done = (): void => {
        if (!this.gone) {
          this.gone = true;
          for (const fn of this.goneListeners.splice(0)) fn();
        }
        resolve();
      };
      child.on('error', done);
      child.on('close', done);
    });
    const held = this.takeHeld();
    if (held.length) child.stdin!.write(held);
    return child.stdin!;
  }

  /** No more input: wait for the pager to exit (the reader pages to the end and quits). */
  async finish(): Promise<void> {
    if (!this.child) return;
    if (!this.gone) this.child.stdin!.end();
    await this.exited;
  }
}
