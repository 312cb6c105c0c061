/**
 * `edit`: a znode's data in an editor, written back with compare-and-set. Shared by
 * `zkctl edit` and the shell's `edit`; the caller says how the editor gets the terminal.
 *
 * Reads the data and its version, writes them to a private temporary file (0600 in a 0700
 * directory), runs the editor, and writes the file back only when it changed, the node is still
 * at the version read, and (without `force`) the text is still JSON if the old data was. An edit
 * that is not written is kept in `keepDir`. The temporary file is removed whatever happens
 * (kept only when the edit could not be saved elsewhere).
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assertRequestFits, brokenJson, isUtf8, trimEditorNewline } from './data.js';
import { ExitCode, ZkCode, ZkctlError, isZkCode } from './errors.js';
import { FileWriteError, writeFileSafeSync } from './file-write.js';
import { assertNotReserved, baseName } from './paths.js';
import { childEnv } from './proc.js';
import type { Session } from './session.js';

export interface EditResult {
  path: string;
  changed: boolean;
  /** Version after the write (or as read, when unchanged). */
  version: number;
  bytes: number;
}

export interface EditOptions {
  /** $VISUAL, else $EDITOR, else vi; run by /bin/sh with the file as $1 (it may carry arguments). */
  editor: string;
  /** Write text that is not JSON over old data that was. */
  force?: boolean;
  /** Where an edit that is not written is kept ($XDG_STATE_HOME/zkctl/edits). */
  keepDir: string;
  /** A note for people (binary data), without a trailing newline. */
  note: (text: string) => void;
  /** Run the editor on the file; its exit status. Default: runEditor (the terminal as it is). */
  run?: (editor: string, file: string) => Promise<number>;
  /** Told a clean-up to run should the process end while the editor runs (it runs anyway at the end). */
  onCleanup?: (fn: () => void) => void;
}

/** The editor people asked for: $VISUAL, else $EDITOR, else vi. */
export function editorOf(env: NodeJS.ProcessEnv = process.env): string {
  return env.VISUAL || env.EDITOR || 'vi';
}

/** Run the editor on `file`; resolves with its exit status. Ctrl-C belongs to the editor meanwhile. */
export function runEditor(editor: string, file: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const ignore = (): void => undefined;
    process.on('SIGINT', ignore);
    // Through the shell, so EDITOR may carry arguments ("code --wait"); the file is passed as $1.
    const child = spawn('/bin/sh', ['-c', `${editor} "$1"`, 'zkctl-edit', file], { stdio: 'inherit', env: childEnv() });
    child.on('error', (e) => {
      process.removeListener('SIGINT', ignore);
      reject(e);
    });
    child.on('exit', (code, signal) => {
      process.removeListener('SIGINT', ignore);
      resolve(code ?? (signal ? 128 : 1));
    });
  });
}

/** Edit `path` (already validated) on `session`; see the module comment. Resolves with what was done and the version read. */
export async function editNode(session: Session, path: string, opts: EditOptions): Promise<{ result: EditResult; readVersion: number }> {
  assertNotReserved(path, session.chroot, 'edit');
  const { data, stat } = await session.get(path);
  if (data.length > 0 && !isUtf8(data)) opts.note(`${path} holds binary data (not UTF-8); it is edited byte for byte`);
  const dir = mkdtempSync(join(tmpdir(), 'zkctl-edit-'));
  const name = (baseName(path) || 'root').replace(/[^A-Za-z0-9._-]+/g, '_');
  const file = join(dir, name);
  let keepTemp = false;
  const cleanup = (): void => {
    if (!keepTemp) rmSync(dir, { recursive: true, force: true });
  };
  opts.onCleanup?.(cleanup);
  /** Keep an edit that is not written (the temporary file stays when it cannot be saved); the hint to give. */
  const keep = (edited: Buffer, saved: (where: string) => string, unsaved: (why: string) => string): string => {
    const where = join(opts.keepDir, `${name}.${new Date().toISOString().replace(/[:.]/g, '-')}`);
    try {
      mkdirSync(opts.keepDir, { recursive: true, mode: 0o700 });
      writeFileSafeSync(where, edited, { private: true });
      return saved(where);
    } catch (w) {
      keepTemp = true;
      return unsaved(w instanceof FileWriteError ? w.message.replace(/^cannot write [^:]*: /, '') : (w as Error).message);
    }
  };
  try {
    writeFileSafeSync(file, data, { private: true });
    let code: number;
    try {
      code = await (opts.run ?? runEditor)(opts.editor, file);
    } catch (e) {
      throw new ZkctlError(`cannot run the editor "${opts.editor}": ${(e as Error).message}`, ExitCode.FAILURE, { hint: 'set $EDITOR' });
    }
    if (code !== 0) throw new ZkctlError(`the editor exited with status ${code}: nothing written`, ExitCode.FAILURE);
    const edited = trimEditorNewline(data, readFileSync(file));
    if (edited.equals(data)) return { result: { path, changed: false, version: stat.version, bytes: data.length }, readVersion: stat.version };
    assertRequestFits(`${session.chroot}${path}`, edited);
    const broken = opts.force ? undefined : brokenJson(data, edited);
    if (broken !== undefined) {
      const hint = keep(
        edited,
        (w) => `nothing written; your edit is saved in ${w}`,
        (why) => `nothing written; your edit could not be saved (${why}); it is kept in ${file}`,
      );
      throw new ZkctlError(`${path}: not valid JSON: ${broken}; use --force to write it anyway`, ExitCode.USAGE, { hint });
    }
    try {
      const st = await session.set(path, edited, stat.version);
      return { result: { path, changed: true, version: st.version, bytes: edited.length }, readVersion: stat.version };
    } catch (e) {
      if (!isZkCode(e, ZkCode.BAD_VERSION)) throw e;
      const hint = keep(
        edited,
        (w) => `your edit is saved in ${w}; run zkctl edit again and merge it`,
        (why) => `your edit could not be saved in ${opts.keepDir} (${why}); it is kept in ${file}`,
      );
      throw new ZkctlError(`${path} changed while you were editing (it is no longer at version ${stat.version}): nothing written`, ExitCode.BAD_VERSION, { hint });
    }
  } finally {
    cleanup();
  }
}
