import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../../cli/base.js';
import { DEFAULT_HISTORY_KEEP, MAX_HISTORY_KEEP, checkConfigPath, rollbackConfig } from '../../core/recipes/config-publish.js';
import { type PublishOutput, printPublish } from '../../cli/publish-output.js';
import { resultJson } from '../../output/config.js';

export default class ConfigRollback extends BaseCommand<typeof ConfigRollback> {
  static override summary = 'Publish a kept older version again (a new version with that document).';
  static override description = `Reads version VERSION from PATH's history and publishes its document exactly (keys not in it are removed), as a new version whose record says which version it restored. Like every publish it is one transaction guarded by the version read: exit 5 when another publish comes first (or --expect-version does not match), exit 3 when VERSION is not kept. Shows the changes as a diff.`;
  static override examples = [
    '<%= config.bin %> <%= command.id %> /config/myapp --to 7',
    '<%= config.bin %> <%= command.id %> /config/myapp --to 7 --dry-run',
    '<%= config.bin %> <%= command.id %> /config/myapp --to 7 --expect-version 9 -m "bad pool size in 8 and 9"',
  ];
  static override args = { path: Args.string({ required: true, description: 'path the document was published under' }) };
  static override flags = {
    to: Flags.integer({ summary: 'The version to restore (see config history).', required: true, min: 1 }),
    'dry-run': Flags.boolean({ summary: 'Show the changes; write nothing.' }),
    message: Flags.string({ char: 'm', summary: 'Why (default: "rollback to version N").' }),
    'expect-version': Flags.integer({ summary: 'Only if PATH is at this publish version now; else exit 5.', min: 0 }),
    keep: Flags.integer({ summary: 'History entries to keep (0 keeps none).', default: DEFAULT_HISTORY_KEEP, min: 0, max: MAX_HISTORY_KEEP }),
  };

  protected override toSuccessJson(result: unknown): unknown {
    return result;
  }
  override logJson(json: unknown): void {
    process.stdout.write(`${resultJson(json)}\n`);
  }

  async run(): Promise<PublishOutput> {
    const path = checkConfigPath(this.args.path);
    const session = await this.session();
    const r = await rollbackConfig(session, path, this.flags.to, {
      dryRun: this.flags['dry-run'],
      keep: this.flags.keep,
      ...(this.flags.message !== undefined ? { message: this.flags.message } : {}),
      ...(this.flags['expect-version'] !== undefined ? { expectVersion: this.flags['expect-version'] } : {}),
    });
    printPublish(this, r, `rolled back to version ${this.flags.to}: published`);
    const { document: _d, ...out } = r;
    return out;
  }
}
