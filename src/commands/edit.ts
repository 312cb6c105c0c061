import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../cli/base.js';
import { stateDir } from '../cli/context.js';
import { assertWritable, checkPath, chrootOf } from '../cli/znode.js';
import { assertRequestFits, brokenJson, isUtf8, trimEditorNewline } from '../core/data.js';
import { ExitCode, ZkCode, ZkctlError, isZkCode } from '../core/errors.js';
import { FileWriteError, writeFileSafeSync } from '../core/file-write.js';
import { baseName } from '../core/paths.js';
import { childEnv } from '../core/proc.js';

export interface EditResult {
  path: string;
  changed: boolean;
  /** Version after the write (or as read, when unchanged). */
  version: number;
  bytes: number;
}

/** Run the editor on `file`; resolves with its exit code. Ctrl-C belongs to the editor meanwhile. */
function runEditor(editor: string, file: string): Promise<number> {
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

export default class Edit extends BaseCommand<typeof Edit> {
  static override summary = "Edit a znode's data in $EDITOR and write it back with compare-and-set.";
  static override description = `Reads the data and its version, writes it to a private temporary file (mode 0600, in a 0700 directory under $TMPDIR), opens $VISUAL, else $EDITOR, else vi on it, and when the editor exits 0 writes the file back only if it changed, and only if the node is still at the version read (compare-and-set). The temporary file is removed afterwards, whatever happens.

- unchanged: nothing is written (exit 0)
- the node changed meanwhile (someone else wrote it): nothing is written, exit 5; your edited text is kept in $XDG_STATE_HOME/zkctl/edits/ (mode 0600) so it is not lost
- the editor exits non-zero: nothing is written, exit 1
- the node was deleted meanwhile: exit 3
- the old data was a JSON object or array and the edited text is not valid JSON: nothing is written, exit 2 (the parser's message says where); your edited text is kept in $XDG_STATE_HOME/zkctl/edits/; --force writes it anyway

When the old data did not end with a newline, the one newline an editor adds at the end of the file is removed before writing. Otherwise the bytes are edited as they are (no decoding); data that is not UTF-8 text may not survive a text editor.`;
  static override examples = [
    '<%= config.bin %> <%= command.id %> /app/config',
    'EDITOR="code --wait" <%= config.bin %> <%= command.id %> /app/config.json',
  ];
  static override args = { path: Args.string({ required: true, description: 'znode to edit' }) };
  static override flags = {
    force: Flags.boolean({ summary: 'Write the edited text even when the old data was JSON and the new text is not.' }),
  };

  async run(): Promise<EditResult> {
    const path = checkPath(this.args.path);
    assertWritable(path, this.connection.server, 'edit');
    const session = await this.session({ renew: true });
    const { data, stat } = await session.get(path);
    if (data.length > 0 && !isUtf8(data)) process.stderr.write(`zkctl: note: ${path} holds binary data (not UTF-8); it is edited byte for byte\n`);
    const editor = process.env.VISUAL || process.env.EDITOR || 'vi';
    const dir = mkdtempSync(join(tmpdir(), 'zkctl-edit-'));
    const name = (baseName(path) || 'root').replace(/[^A-Za-z0-9._-]+/g, '_');
    const file = join(dir, name);
    let keepTemp = false;
    this.onCleanup(() => {
      if (!keepTemp) rmSync(dir, { recursive: true, force: true });
    });
    writeFileSafeSync(file, data, { private: true });

    let code: number;
    try {
      code = await runEditor(editor, file);
    } catch (e) {
      throw new ZkctlError(`cannot run the editor "${editor}": ${(e as Error).message}`, ExitCode.FAILURE, { hint: 'set $EDITOR' });
    }
    if (code !== 0) throw new ZkctlError(`the editor exited with status ${code}: nothing written`, ExitCode.FAILURE);
    const edited = trimEditorNewline(data, readFileSync(file));
    if (edited.equals(data)) {
      const result: EditResult = { path, changed: false, version: stat.version, bytes: data.length };
      this.printer.text(`${path}: no change, nothing written`, result);
      return result;
    }
    assertRequestFits(`${chrootOf(this.connection.server)}${path}`, edited);
    const broken = this.flags.force ? undefined : brokenJson(data, edited);
    if (broken !== undefined) {
      const kept = this.keepEdit(name, edited);
      if (!kept.saved) keepTemp = true;
      throw new ZkctlError(`${path}: not valid JSON: ${broken}; use --force to write it anyway`, ExitCode.USAGE, {
        hint: kept.saved ? `nothing written; your edit is saved in ${kept.saved}` : `nothing written; your edit could not be saved (${kept.why}); it is kept in ${file}`,
      });
    }
    try {
      const st = await session.set(path, edited, stat.version);
      const result: EditResult = { path, changed: true, version: st.version, bytes: edited.length };
      this.printer.text(`${path}: written (version ${stat.version} -> ${st.version}, ${edited.length} bytes)`, result);
      return result;
    } catch (e) {
      if (isZkCode(e, ZkCode.BAD_VERSION)) {
        const kept = this.keepEdit(name, edited);
        // Do not lose the edit: when it cannot be saved, the temporary file is kept.
        if (!kept.saved) keepTemp = true;
        throw new ZkctlError(`${path} changed while you were editing (it is no longer at version ${stat.version}): nothing written`, ExitCode.BAD_VERSION, {
          hint: kept.saved ? `your edit is saved in ${kept.saved}; run zkctl edit again and merge it` : `your edit could not be saved in ${join(stateDir(), 'edits')} (${kept.why}); it is kept in ${file}`,
        });
      }
      throw e;
    }
  }

  /** Save an edit that was not written in $XDG_STATE_HOME/zkctl/edits (0600). */
  private keepEdit(name: string, edited: Buffer): { saved?: string; why?: string } {
    const keep = join(stateDir(), 'edits');
    const saved = join(keep, `${name}.${new Date().toISOString().replace(/[:.]/g, '-')}`);
    try {
      mkdirSync(keep, { recursive: true, mode: 0o700 });
      writeFileSafeSync(saved, edited, { private: true });
      return { saved };
    } catch (w) {
      return { why: w instanceof FileWriteError ? w.message.replace(/^cannot write [^:]*: /, '') : (w as Error).message };
    }
  }
}
