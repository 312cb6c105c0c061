/**
 * An interactive ZooKeeper shell for debugging sessions: a prompt with a
 * current node (cd), the everyday commands (see ./commands.ts), Tab completion
 * of command and child names (getChildren), and a history file. Driven by a
 * pipe (not a TTY) it reads one command per line, prints no prompt, and ends
 * with the status of the last command, like sh.
 *
 * Core: writes only to the streams it is given.
 */
import { appendFileSync, chmodSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { withFileLockSync } from '../file-lock.js';
import { updateFileSync } from '../file-write.js';
import { dirname } from 'node:path';
import { createInterface, type Interface } from 'node:readline';
import { ExitCode, UsageError, ZkctlError } from '../errors.js';
import type { Session } from '../session.js';
import { ALIASES, COMMANDS, type ShellContext } from './commands.js';
import { quoteWord, resolvePath, splitWords } from './words.js';

export { COMMANDS, ALIASES } from './commands.js';
export { splitWords, resolvePath } from './words.js';

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

function errorLine(cmd: string, e: unknown): { text: string; code: number } {
  const err = e as Error & { hint?: string };
  const code = e instanceof ZkctlError ? e.exitCode : ExitCode.FAILURE;
  let msg = (err?.message ?? String(e)).split('\n')[0];
  if (e instanceof ZkctlError && e.hint) msg += ` (${e.hint})`;
  return { text: `${cmd}: ${msg}\n`, code };
}

/** Run the shell until end of input or `exit`; resolves with the exit status. */
export async function runShell(opts: ShellOptions): Promise<number> {
  const { session, interactive } = opts;
  const out = (s: string): void => {
    opts.output.write(s);
  };
  const historySize = opts.historySize ?? 1000;
  const history = interactive && opts.historyFile ? loadHistory(opts.historyFile, historySize) : [];
  const ctx: ShellContext = {
    session,
    cwd: opts.cwd ?? '/',
    prevCwd: opts.cwd ?? '/',
    out,
    err: (s) => opts.errorOutput.write(s),
    signal: new AbortController().signal,
  };
  let running: AbortController | undefined;

  const rl: Interface = createInterface({
    input: opts.input,
    output: interactive ? opts.output : undefined,
    terminal: interactive,
    history,
    historySize,
    removeHistoryDuplicates: true,
    completer: interactive
      ? (line: string, cb: (err: Error | null, result: [string[], string]) => void) => {
          complete(session, ctx.cwd, line).then(
            (r) => cb(null, r),
            () => cb(null, [[], line]),
          );
        }
      : undefined,
  });
  const prompt = (): string => `${opts.label ? `${opts.label} ` : ''}${ctx.cwd}> `;
  if (interactive) {
    rl.on('SIGINT', () => {
      if (running) {
        running.abort();
        return;
      }
      // Ctrl-C at the prompt: drop the line, like bash.
      out('^C\n');
      (rl as unknown as { line: string }).line = '';
      rl.setPrompt(prompt());
      rl.prompt();
    });
  }
  const onLost = (): void => {
    opts.errorOutput.write('zkctl: the session expired (ephemeral nodes created here are gone); continuing with a new session\n');
  };
  session.on('lost', onLost);

  let status = 0;
  const it = rl[Symbol.asyncIterator]();
  try {
    for (;;) {
      if (interactive) {
        rl.setPrompt(prompt());
        rl.prompt();
      }
      const next = await it.next();
      if (next.done) break;
      const line = next.value as string;
      if (line.trim() === '') continue;
      if (interactive && opts.historyFile) saveHistory(opts.historyFile, line);
      let words: string[];
      try {
        words = splitWords(line);
      } catch (e) {
        const r = errorLine('zkctl', e);
        opts.errorOutput.write(r.text);
        status = r.code;
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
            opts.errorOutput.write(`exit: invalid status ${words[1]}\n`);
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
        opts.errorOutput.write(r.text);
        status = r.code;
        if (opts.stopOnError) break;
        continue;
      }
      running = new AbortController();
      ctx.signal = running.signal;
      try {
        await cmd.run(ctx, words.slice(1));
        status = 0;
      } catch (e) {
        const r = errorLine(name, e);
        opts.errorOutput.write(r.text);
        status = r.code;
        if (opts.stopOnError) break;
      } finally {
        running = undefined;
      }
    }
  } finally {
    session.removeListener('lost', onLost);
    if (interactive) out('\n');
    rl.close();
  }
  return status;
}
