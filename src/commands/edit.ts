import { join } from 'node:path';
import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../cli/base.js';
import { stateDir } from '../cli/context.js';
import { assertWritable, checkPath } from '../cli/znode.js';
import { type EditResult, editNode, editorOf } from '../core/edit.js';
import { editSummary } from '../output/znode.js';

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
    const { result, readVersion } = await editNode(session, path, {
      editor: editorOf(),
      force: this.flags.force,
      keepDir: join(stateDir(), 'edits'),
      note: (text) => process.stderr.write(`zkctl: note: ${text}\n`),
      onCleanup: (fn) => this.onCleanup(fn),
    });
    this.printer.text(editSummary(result, readVersion), result);
    return result;
  }
}
