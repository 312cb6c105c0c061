import { Args } from '@oclif/core';
import { BaseCommand } from '../cli/base.js';
import { ATOMICITY_HELP, type ImportResult, modeFlags, readBackupFile, runImport } from '../cli/import.js';
import { assertWritable, boundHeapGrowth, checkPath, windowFlag } from '../cli/znode.js';

export default class Import extends BaseCommand<typeof Import> {
  static override summary = 'Restore a subtree from a backup file (zkctl export).';
  static override description = `Recreates the backup's root at PATH with everything under it: data byte for byte, ACLs, and node types (persistent, container, TTL). Ephemeral nodes in the backup are listed as skipped, never created (they belong to a session).

PATH must not exist, or be an empty node (no children, no data); its parent must exist. A non-empty PATH is refused (exit 4) unless --merge (add only what is missing) or --overwrite (make the subtree exactly the backup: create, update data and ACLs, delete nodes not in the backup; the type of an existing node is not changed). --dry-run lists what would change and writes nothing.

The whole file is read and validated before anything is written: a malformed file (bad YAML/JSON, unknown fields, bad paths or ACLs, a truncated file) is a one-line error naming the line (YAML) or node (JSON), exit 2, nothing written. FILE "-" reads stdin.

${ATOMICITY_HELP}

Restoring ACLs that deny you CREATE on a node with children (e.g. read-only nodes) needs credentials those ACLs grant (e.g. --auth digest:super:...): without them the import fails with exit 7 and is rolled back.`;
  static override examples = [
    '<%= config.bin %> <%= command.id %> app.yaml /app',
    '<%= config.bin %> <%= command.id %> app.yaml /app-restored --dry-run',
    '<%= config.bin %> <%= command.id %> app.json /app --overwrite',
    'gunzip -c full.json.gz | <%= config.bin %> <%= command.id %> - / --merge',
  ];
  static override args = {
    file: Args.string({ required: true, description: 'backup file (zkctl export), "-" for stdin' }),
    path: Args.string({ required: true, description: 'where the backup root goes' }),
  };
  static override flags = { ...modeFlags, window: windowFlag };

  async run(): Promise<ImportResult> {
    boundHeapGrowth();
    const target = checkPath(this.args.path);
    assertWritable(target, this.connection.server, 'import into');
    const backup = await readBackupFile(this.args.file);
    const session = await this.session({ renew: true });
    return runImport(this.printer, session, backup, target, this.flags, `import ${this.args.file === '-' ? 'stdin' : this.args.file}`);
  }
}
