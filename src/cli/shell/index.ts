/**
 * An interactive ZooKeeper shell for debugging sessions: a prompt with a
 * current node (cd), the everyday commands (see ./commands.ts), Tab completion
 * of command and child names (getChildren), and a history file. Driven by a
 * pipe (not a TTY) it reads one command per line, prints no prompt, and ends
 * with the status of the last command, like sh.
 *
 * Writes only to the streams it is given.
 */
import { appendFileSync, chmodSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { withFileLockSync } from '../../core/file-lock.js';
import { updateFileSync } from '../../core/file-write.js';
import { dirname } from 'node:path';
import { spawn } from 'node:child_process';
import { createInterface, type Interface } from 'node:readline';
import { ExitCode, InterruptedError, UsageError, ZkctlError } from '../../core/errors.js';
import { childEnv } from '../../core/proc.js';
import type { Session } from '../../core/session.js';
import type { OutputFormat } from '../../output/index.js';
import { ALIASES, COMMANDS, type ShellContext } from './commands.js';
import { noStyle, shellStyle, shellView } from './view.js';
import { quoteWord, resolvePath, splitPipe, splitWords } from './words.js';

export { COMMANDS, ALIASES } from './commands.js';
export { splitWords, splitPipe, resolvePath } from './words.js';

export interface ShellOptions {
  session: Session;
  input: NodeJS.ReadableStream;
  output: NodeJS.WritableStream;
  errorOutput: NodeJS.WritableStream;
  /** Prompt, line editing, completion and history (a terminal). */
  interactive: boolean;
  /** Where history is kept (interactive only). */
  historyFile?: string;
  historySize?: number;
  /** Initial current node. Default '/'. */
  cwd?: string;
  /** Shown in the prompt (e.g. the server). */
  label?: string;
  /** Stop at the first failing command (scripts). */
  stopOnError?: boolean;
  /** How listings, stats and tables look: the one-shot commands' printers in this format ('table' on a terminal, else 'plain'). */
  format: OutputFormat;
  /** Colour in those printers. */
  color: boolean;
  /** Colour for the prompt, errors and notes (interactive only). */
  promptColor?: boolean;
  /** Interactive only: long output goes through this command (run by /bin/sh), e.g. "less -FRX"; undefined: never page. */
  pager?: string;
  /** Ask before listing more completions than this (readline's completion-query-items). Default 100. */
  completionQueryItems?: number;
}

/**
 * Lines never written to the history file (nor kept for Up): credentials.
 * addauth lines, and any scheme:user:password text of digest / digest-password / sasl / super.
 */
export function isSecretLine(line: string): boolean {
  const first = line.trim().split(/\s+/)[0] ?? '';
  if (first === 'addauth') return true;
  return /\b(digest|digest-password|sasl|super)\s*:/i.test(line);
}

/** Complete `line` (the text left of the cursor): [candidates, the part they replace]. */
export async function complete(session: Session, cwd: string, line: string): Promise<[string[], string]> {
  const m = /(\S*)$/.exec(line);
  const word = m ? m[1] : '';
  const before = line.slice(0, line.length - word.length);
  if (before.trim() === '') {
    const names = [...Object.keys(COMMANDS), ...Object.keys(ALIASES).filter((a) => /^[a-z]+$/.test(a))].sort();
    const hits = names.filter((n) => n.startsWith(word));
    return [hits.length === 1 ? [`${hits[0]} `] : hits, word];
  }
  if (word.startsWith('-')) return [[], word];
  const slash = word.lastIndexOf('/');
  const dirPart = slash >= 0 ? word.slice(0, slash + 1) : '';
  const prefix = slash >= 0 ? word.slice(slash + 1) : word;
  const dir = resolvePath(cwd, dirPart === '' ? '.' : dirPart);
  let children: string[];
  try {
    ({ children } = await session.getChildren(dir));
  } catch {
    return [[], word];
  }
  const hits = children.filter((c) => c.startsWith(prefix)).sort();
  if (hits.length === 1) {
    const full = resolvePath(dir, hits[0]);
    let more = false;
    try {
      more = ((await session.exists(full))?.numChildren ?? 0) > 0;
    } catch {
      /* no hint */
    }
    return [[`${dirPart}${quoteWord(hits[0])}${more ? '/' : ' '}`], word];
  }
  return [hits.map((h) => `${dirPart}${quoteWord(h)}`), word];
}

function loadHistory(file: string, size: number): string[] {
  try {
    if (!existsSync(file)) return [];
    const lines = readFileSync(file, 'utf8').split('\n').filter((l) => l.trim() !== '');
    // Keep the file from growing without bound.
    if (lines.length > size * 2) {
      // Under the file's lock, from what is there now (another shell may have appended meanwhile).
      updateFileSync(file, (cur) => `${(cur?.toString('utf8') ?? '').split('\n').filter((l) => l.trim() !== '').slice(-size).join('\n')}\n`, { private: true, lockTimeoutMs: 1000 });
    }
    return lines.slice(-size).reverse(); // readline wants the newest first
  } catch {
    return [];
  }
}

function saveHistory(file: string, line: string): void {
  try {
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    withFileLockSync(
      `${file}.lock`,
      () => {
        const fresh = !existsSync(file);
        appendFileSync(file, `${line.replace(/\n/g, ' ').trimEnd()}\n`, { mode: 0o600 });
        if (fresh) chmodSync(file, 0o600);
      },
      { timeoutMs: 1000 },
    );
  } catch {
    /* history is best effort */
  }
}

/** The line for a failed command: "CMD: message (hint)", the command named once (a request's own message may start with it: "get /x: no reply ..."). */
export function errorLine(cmd: string, e: unknown): { text: string; code: number } {
  const err = e as Error & { hint?: string };
  const code = e instanceof ZkctlError ? e.exitCode : ExitCode.FAILURE;
  let msg = (err?.message ?? String(e)).split('\n')[0];
  if (e instanceof ZkctlError && e.hint) msg += ` (${e.hint})`;
  const named = msg.toLowerCase().startsWith(`${cmd.toLowerCase()} `);
  return { text: named ? `${msg}\n` : `${cmd}: ${msg}\n`, code };
}

type TtyIn = NodeJS.ReadableStream & { isTTY?: boolean; setRawMode?: (on: boolean) => unknown; pause: () => unknown; resume: () => unknown };

/**
 * Where a command's output goes: straight to the output, into `| CMD` (run by /bin/sh), or,
 * interactive with a pager, held until it fills the screen and then handed to the pager.
 */
class Sink {
  private child?: ReturnType<typeof spawn>;
  private childDone?: Promise<number>;
  private held: string[] = [];
  private heldLines = 0;
  private broken = false;
  private ended = false;
  constructor(
    private readonly direct: (s: string) => void,
    private readonly opts: { pipe?: string; pager?: string; rows?: number; beforeChild?: () => void; readerGone?: () => void },
  ) {
    if (opts.pipe !== undefined) this.start(opts.pipe);
  }

  private start(cmd: string): void {
    this.opts.beforeChild?.();
    const child = spawn('/bin/sh', ['-c', cmd], { stdio: ['pipe', 'inherit', 'inherit'], env: childEnv() });
    this.child = child;
    // The reader went away (head, q in less) before the output ended: fine, and the command stops.
    const gone = (): void => {
      if (this.broken || this.ended) return;
      this.broken = true;
      this.opts.readerGone?.();
    };
    child.stdin!.on('error', gone);
    child.on('close', gone);
    this.childDone = new Promise((resolve) => {
      child.on('error', (e) => {
        this.direct(`zkctl: cannot run ${cmd}: ${e.message}\n`);
        resolve(127);
      });
      child.on('close', (code, sig) => resolve(code ?? (sig ? 128 : 1)));
    });
  }

  get piped(): boolean {
    return this.child !== undefined;
  }

  write(s: string): void {
    if (this.child) {
      if (!this.broken) this.child.stdin!.write(s);
      return;
    }
    if (this.opts.pager === undefined) {
      this.direct(s);
      return;
    }
    this.held.push(s);
    for (let i = s.indexOf('\n'); i >= 0; i = s.indexOf('\n', i + 1)) this.heldLines++;
    if (this.heldLines >= (this.opts.rows ?? 24) - 1) {
      this.start(this.opts.pager);
      const all = this.held.join('');
      this.held = [];
      this.write(all);
    }
  }

  /** All written: wait for the child (pager or pipe) to finish; its exit status (0 without one). */
  async end(): Promise<number> {
    if (!this.child) {
      if (this.held.length) this.direct(this.held.join(''));
      this.held = [];
      return 0;
    }
    this.ended = true;
    this.child.stdin!.end();
    return this.childDone!;
  }

  /** Stop a pipe child now (Ctrl-C while it still runs). */
  kill(): void {
    try {
      this.child?.kill('SIGTERM');
    } catch {
      /* gone */
    }
  }
}

/** Run the shell until end of input or `exit`; resolves with the exit status. */
export async function runShell(opts: ShellOptions): Promise<number> {
  const { session, interactive } = opts;
  const style = interactive ? await shellStyle(!!opts.promptColor) : noStyle;
  const output = opts.output as NodeJS.WritableStream & { columns?: number; rows?: number };
  const input = opts.input as TtyIn;
  // The last character written to the terminal: a prompt or a notice starts on a fresh line.
  let lastChar = '\n';
  const track = (s: string): void => {
    if (s.length) lastChar = s[s.length - 1];
  };
  const write = (s: string): void => {
    track(s);
    opts.output.write(s);
  };
  const writeErr = (s: string): void => {
    track(s);
    opts.errorOutput.write(s);
  };
  const freshLine = (): string => (interactive && lastChar !== '\n' ? '\n' : '');
  const historySize = opts.historySize ?? 1000;
  const history = interactive && opts.historyFile ? loadHistory(opts.historyFile, historySize) : [];
  const ctx: ShellContext = {
    session,
    cwd: opts.cwd ?? '/',
    prevCwd: opts.cwd ?? '/',
    out: write,
    err: writeErr,
    signal: new AbortController().signal,
    view: await shellView(opts.format, opts.color),
    width: () => (interactive && output.columns ? output.columns : 80),
    withTerminal: async (fn) => {
      if (!interactive) return fn();
      takeTty();
      try {
        return await fn();
      } finally {
        giveBackTty();
      }
    },
  };
  let running: AbortController | undefined;
  /** A child (pager, `| CMD`) owns the terminal: no raw mode, readline not reading. */
  let childOwnsTty = false;
  const setRaw = (on: boolean): void => {
    if (interactive && input.isTTY && typeof input.setRawMode === 'function') input.setRawMode(on);
  };
  /** Hand the terminal to a child (pager, `| CMD`, editor): cooked mode, readline not reading. */
  const takeTty = (): void => {
    childOwnsTty = true;
    rl.pause();
    setRaw(false);
  };
  /** Take it back: raw mode, reading again, output starts on a fresh line. */
  const giveBackTty = (): void => {
    childOwnsTty = false;
    lastChar = '\n';
    setRaw(true);
    rl.resume();
  };

  const queryItems = opts.completionQueryItems ?? 100;
  /** The key before this one was Tab (readline lists candidates on a second Tab). */
  let prevWasTab = false;
  let rl!: Interface;
  /** Ask "Display all N possibilities? (y or n)" and read one key (readline is paused while completing). */
  const askDisplayAll = (n: number): Promise<boolean> =>
    new Promise((resolve) => {
      write(`\r\nDisplay all ${n} possibilities? (y or n)`);
      const saved = input.listeners('keypress') as Array<(...a: unknown[]) => void>;
      input.removeAllListeners('keypress');
      const onKey = (str: string | undefined, key: { name?: string; ctrl?: boolean } | undefined): void => {
        const yes = str === 'y' || str === 'Y' || str === ' ';
        const no = str === 'n' || str === 'N' || key?.name === 'escape' || (key?.ctrl && key.name === 'c') || key?.name === 'backspace';
        if (!yes && !no) return;
        input.removeListener('keypress', onKey);
        for (const l of saved) input.on('keypress', l);
        input.pause();
        prevWasTab = false;
        resolve(yes);
      };
      input.on('keypress', onKey);
      input.resume();
    });

  rl = createInterface({
    input: opts.input,
    output: interactive ? opts.output : undefined,
    terminal: interactive,
    history,
    historySize,
    removeHistoryDuplicates: true,
    completer: interactive
      ? (line: string, cb: (err: Error | null, result: [string[], string]) => void) => {
          const again = prevWasTab;
          complete(session, ctx.cwd, line).then(
            async (r) => {
              const [hits, word] = r;
              // A long list: nothing on the first Tab, the question on the second (as readline in bash).
              const common = hits.length > 1 && hits.every((h) => h.startsWith(word)) && commonPrefix(hits).length > word.length;
              if (hits.length > queryItems && !common) {
                if (!again) {
                  cb(null, [[], word]);
                  return;
                }
                const yes = await askDisplayAll(hits.length);
                if (!yes) {
                  write('\r\n');
                  cb(null, [[], word]);
                  setImmediate(() => rl.prompt(true));
                  return;
                }
              }
              cb(null, r);
            },
            () => cb(null, [[], line]),
          );
        }
      : undefined,
  });
  if (interactive) {
    // Any other key ends a run of Tabs.
    input.on('keypress', (_s: unknown, key: { name?: string; ctrl?: boolean } | undefined) => {
      prevWasTab = key?.name === 'tab';
      // Typed ahead while a command runs: readline echoes it, so the line is no longer fresh.
      if (running && !childOwnsTty && !key?.ctrl && key?.name !== 'return' && key?.name !== 'enter') lastChar = ' ';
    });
  }
  const promptText = (): string => {
    const marks: string[] = [];
    const st = session.state;
    if (st === 'suspended' || st === 'connecting' || st === 'lost') marks.push('[disconnected]');
    else if (session.readOnly) marks.push('[read-only]');
    const m = marks.length ? `${style.mark(marks.join(' '))} ` : '';
    return `${m}${style.prompt(`${opts.label ? `${opts.label} ` : ''}${ctx.cwd}>`)} `;
  };
  let atPrompt = false;
  const showPrompt = (): void => {
    rl.setPrompt(promptText());
    if (lastChar !== '\n') write('\n');
    atPrompt = true;
    rl.prompt();
    lastChar = ' ';
  };
  /** A line above the prompt (the line being typed is kept), or on a fresh line while a command runs. */
  const notice = (text: string): void => {
    if (!interactive) {
      opts.errorOutput.write(`${text}\n`);
      return;
    }
    if (atPrompt && !childOwnsTty) {
      opts.output.write('\r\u001b[K');
      opts.errorOutput.write(`${style.note(text)}\n`);
      lastChar = '\n';
      rl.setPrompt(promptText());
      rl.prompt(true);
      lastChar = ' ';
    } else writeErr(`${freshLine()}${style.note(text)}\n`);
  };

  let current: Sink | undefined;
  const interrupt = (): void => {
    if (running) {
      // Like a terminal's ^C: echoed, and what was typed ahead is dropped.
      if (!childOwnsTty) write('^C');
      const r = rl as unknown as { line: string; cursor: number };
      r.line = '';
      r.cursor = 0;
      running.abort();
      current?.kill();
      return;
    }
    // Ctrl-C at the prompt: drop the line, like bash.
    write('^C\n');
    (rl as unknown as { line: string }).line = '';
    showPrompt();
  };
  // Ctrl-Z (and SIGTSTP from elsewhere): give the terminal back in cooked mode and stop; on
  // SIGCONT (fg / bg) take it again in raw mode, resume reading and redraw the prompt.
  const suspend = (): void => {
    if (!childOwnsTty) setRaw(false);
    process.kill(process.pid, 'SIGSTOP');
  };
  const onCont = (): void => {
    if (childOwnsTty) return;
    setRaw(true);
    rl.resume();
    if (atPrompt) {
      rl.setPrompt(promptText());
      rl.prompt(true);
    }
  };
  const onChildSigint = (): void => interrupt();
  if (interactive) {
    rl.on('SIGINT', interrupt);
    rl.on('SIGTSTP', suspend);
    process.on('SIGTSTP', suspend);
    process.on('SIGCONT', onCont);
  }
  const onState = (st: string): void => {
    if (!interactive) return;
    if (st === 'suspended') notice(`zkctl: disconnected${session.server ? ` from ${session.server}` : ''}; reconnecting (requests wait up to the --timeout)`);
    else if (st === 'reconnected') {
      notice(`zkctl: reconnected to ${session.server ?? 'the ensemble'} (session ${session.sessionIdHex})${session.readOnly ? ': a read-only member (writes fail)' : ''}`);
    }
  };
  const onLost = (): void => {
    notice('zkctl: the session expired (ephemeral nodes created here are gone); continuing with a new session');
  };
  session.on('state', onState);
  session.on('lost', onLost);

  let status = 0;
  const it = rl[Symbol.asyncIterator]();
  try {
    for (;;) {
      if (interactive) showPrompt();
      const next = await it.next();
      atPrompt = false;
      lastChar = '\n';
      if (next.done) break;
      const line = next.value as string;
      if (line.trim() === '') continue;
      if (interactive && isSecretLine(line)) {
        // readline put it in its history already: take it out again (Up must not bring it back).
        const h = (rl as unknown as { history: string[] }).history;
        if (h[0] === line) h.shift();
      } else if (interactive && opts.historyFile) saveHistory(opts.historyFile, line);
      let words: string[];
      let pipe: string | undefined;
      try {
        const parts = splitPipe(line);
        pipe = parts.pipe;
        words = splitWords(parts.command);
        if (pipe !== undefined && pipe.trim() === '') throw new UsageError('nothing after |', 'e.g. ls /app | head');
      } catch (e) {
        const r = errorLine('zkctl', e);
        writeErr(style.error(r.text));
        status = r.code;
        if (opts.stopOnError) break;
        continue;
      }
      if (words.length === 0) continue;
      let name = words[0];
      if (ALIASES[name]) {
        const exp = splitWords(ALIASES[name]);
        name = exp[0];
        words = [...exp, ...words.slice(1)];
      }
      if (name === 'exit') {
        if (words[1] !== undefined) {
          if (!/^\d+$/.test(words[1])) {
            writeErr(style.error(`exit: invalid status ${words[1]}\n`));
            status = ExitCode.USAGE;
            continue;
          }
          status = Number(words[1]);
        }
        break;
      }
      const cmd = COMMANDS[name];
      if (!cmd) {
        const r = errorLine(name, new UsageError('unknown command', 'type help'));
        writeErr(style.error(r.text));
        status = r.code;
        if (opts.stopOnError) break;
        continue;
      }
      const run = new AbortController();
      running = run;
      /** The pager or `| CMD` quit before the output ended: the command stops, quietly. */
      let readerGone = false;
      // The command gets its own context: once interrupted, whatever it still writes is dropped.
      const sink = new Sink(write, {
        pipe,
        pager: interactive && !cmd.noPager ? opts.pager : undefined,
        rows: output.rows,
        beforeChild: () => {
          if (!interactive) return;
          takeTty();
          process.on('SIGINT', onChildSigint);
        },
        readerGone: () => {
          readerGone = true;
          run.abort();
        },
      });
      current = sink;
      const runCtx: ShellContext = {
        ...ctx,
        signal: run.signal,
        out: (s) => {
          if (!run.signal.aborted) sink.write(s);
        },
        err: (s) => {
          if (!run.signal.aborted) writeErr(s);
        },
      };
      const aborted = new Promise<never>((_, reject) => run.signal.addEventListener('abort', () => reject(new InterruptedError())));
      aborted.catch(() => undefined); // handled where raced; never unhandled
      const work = cmd.run(runCtx, words.slice(1));
      work.catch(() => undefined); // an interrupted command may still fail later: nobody listens
      try {
        await Promise.race([work, aborted]);
        ctx.cwd = runCtx.cwd;
        ctx.prevCwd = runCtx.prevCwd;
        const piped = await Promise.race([sink.end(), aborted]);
        status = sink.piped && pipe !== undefined ? piped : 0;
      } catch (e) {
        sink.kill();
        if (readerGone) {
          status = pipe !== undefined ? await sink.end() : 0;
          continue;
        }
        const r = errorLine(name, e);
        writeErr(`${e instanceof InterruptedError && interactive ? freshLine() : ''}${style.error(r.text)}`);
        status = r.code;
        if (opts.stopOnError) break;
      } finally {
        running = undefined;
        current = undefined;
        if (childOwnsTty) {
          process.removeListener('SIGINT', onChildSigint);
          giveBackTty();
        }
      }
    }
  } finally {
    session.removeListener('lost', onLost);
    session.removeListener('state', onState);
    process.removeListener('SIGTSTP', suspend);
    process.removeListener('SIGCONT', onCont);
    if (interactive) write('\n');
    rl.close();
  }
  return status;
}

function commonPrefix(words: string[]): string {
  if (words.length === 0) return '';
  let p = words[0];
  for (const w of words) while (!w.startsWith(p)) p = p.slice(0, -1);
  return p;
}
