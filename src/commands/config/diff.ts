import { Flags } from '@oclif/core';
import chalk from 'chalk';
import { BaseCommand } from '../../cli/base.js';
import { configPathAndFile, configPathFileArgs, deprecatedPathFlag } from '../../cli/config-args.js';
import { CheckFailedError } from '../../core/errors.js';
import { loadConfigFile, toYaml } from '../../core/config/document.js';
import { type ChangeCounts, type ConfigChange, countChanges, diffDocuments } from '../../core/config/diff.js';
import { checkConfigPath, mergeKeep, readConfig } from '../../core/recipes/config-publish.js';
import { describeCounts, renderChanges, resultJson } from '../../output/config.js';

export interface ConfigDiffResult {
  path: string;
  file: string;
  /** Publish version live now (0: never published). */
  version: number;
  exists: boolean;
  equal: boolean;
  changes: ConfigChange[];
  counts: ChangeCounts;
}

export default class ConfigDiff extends BaseCommand<typeof ConfigDiff> {
  static override summary = 'Compare a YAML file with the document live at a path (drift check; exit 12 when they differ).';
  static override usage = ['<%= command.id %> PATH FILE [--ignore-extra] [--ignore-order]'];
  static override description = `Reads the live document consistently and compares it with FILE, key by key, the way \`config publish --prune\` would change it: "+ key: value" is only in the file, "- key: value" is only live, "~ key: live -> file" differs, "(key order)" lines say the order of a mapping's keys differs. Exit 0 when they are equal, 12 when they differ (for CI; a PATH that does not exist differs from any file with keys), 2 for a bad file.

--ignore-extra does not count live keys the file lacks (what \`config publish\` without --prune leaves alone); --ignore-order does not count key order. The old form, FILE with -p/--path PATH, still works (with a deprecation note on stderr).`;
  static override examples = [
    '<%= config.bin %> <%= command.id %> /config/myapp app.yaml',
    '<%= config.bin %> <%= command.id %> /config/myapp app.yaml -o json',
    '<%= config.bin %> <%= command.id %> /config/myapp app.yaml --ignore-order || echo "drift!"',
  ];
  static override args = configPathFileArgs;
  static override flags = {
    path: deprecatedPathFlag,
    'ignore-extra': Flags.boolean({ summary: 'Live keys that the file does not have are not drift.' }),
    'ignore-order': Flags.boolean({ summary: 'Key order is not drift.' }),
  };

  protected override toSuccessJson(result: unknown): unknown {
    return result;
  }
  override logJson(json: unknown): void {
    process.stdout.write(`${resultJson(json)}\n`);
  }

  async run(): Promise<ConfigDiffResult> {
    const given = configPathAndFile('config diff', this.args, this.flags.path);
    const path = checkConfigPath(given.path);
    const doc = await loadConfigFile(given.file);
    const session = await this.session();
    const live = await readConfig(session, path);
    const target = this.flags['ignore-extra'] ? mergeKeep(doc, live.document) : doc;
    let changes = diffDocuments(live.document, target);
    if (this.flags['ignore-order']) changes = changes.filter((c) => c.op !== 'reorder');
    const counts = countChanges(changes);
    const result: ConfigDiffResult = { path, file: given.file, version: live.version, exists: live.exists, equal: changes.length === 0, changes, counts };
    const fmt = this.outputFormat;
    if (this.jsonEnabled()) {
      /* printed by oclif */
    } else if (fmt === 'json') process.stdout.write(`${resultJson(result)}\n`);
    else if (fmt === 'yaml') process.stdout.write(toYaml(result as never));
    else {
      const lines = renderChanges(changes, this.colorEnabled ? { add: chalk.green, remove: chalk.red, change: chalk.yellow } : {});
      if (lines) process.stdout.write(`${lines}\n`);
    }
    const where = live.exists ? `${path} (version ${live.version})` : `${path} (does not exist)`;
    if (changes.length > 0) {
      if (this.jsonEnabled()) this.logJson(result);
      throw new CheckFailedError(`${given.file} differs from ${where}: ${describeCounts(counts)}`);
    }
    if (fmt === 'table' || fmt === 'plain') process.stderr.write(`${given.file} matches ${where}\n`);
    return result;
  }
}
