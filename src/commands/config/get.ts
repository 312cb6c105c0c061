import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../../cli/base.js';
import { type ConfigMap, encodeJson, toYaml } from '../../core/config/document.js';
import { type ConfigLayout, checkConfigPath, readConfig, readHistoryEntry } from '../../core/recipes/config-publish.js';
import { resultJson } from '../../output/config.js';

export interface ConfigGetResult {
  path: string;
  /** Publish version (0: never published by zkctl). */
  version: number;
  time?: string;
  publisher?: string;
  message?: string;
  sha256?: string;
  /** The live tree differs from what the version published (changed outside zkctl). */
  drift?: boolean;
  source: 'live' | 'history';
  /** Where the document lives: nodes (a znode per key) or document (all in PATH's data). */
  layout?: ConfigLayout;
  document: ConfigMap;
}

export default class ConfigGet extends BaseCommand<typeof ConfigGet> {
  static override summary = 'Print the document published at a path, keys in their published order.';
  static override description = `Reads the document in either layout (found in PATH's data): nodes, reassembled from the znodes under PATH, read consistently (between two reads of PATH's version), or document, from PATH's own data in one read. Either way it is always one whole version. Publishing a file and getting it back gives an equal document (same keys, same order, same value types). YAML by default; -o json prints the document as JSON; --json adds the version, time, publisher, message and layout. --version N prints a kept older version from the history.

Keys found under PATH that no publish recorded (written by other clients) are shown after the recorded ones, sorted; a note on stderr says when the live tree differs from what was published (drift). Exit 3 when PATH does not exist.`;
  static override examples = [
    '<%= config.bin %> <%= command.id %> /config/myapp',
    '<%= config.bin %> <%= command.id %> /config/myapp -o json | jq .db',
    '<%= config.bin %> <%= command.id %> /config/myapp --version 3 > app-v3.yaml',
  ];
  static override args = { path: Args.string({ required: true, description: 'path the document was published under' }) };
  static override flags = {
    version: Flags.integer({ summary: 'Print this kept version from the history instead of the live one.', min: 1 }),
  };

  protected override toSuccessJson(result: unknown): unknown {
    return result;
  }
  override logJson(json: unknown): void {
    process.stdout.write(`${resultJson(json)}\n`);
  }

  async run(): Promise<ConfigGetResult> {
    const path = checkConfigPath(this.args.path);
    const session = await this.session();
    let result: ConfigGetResult;
    if (this.flags.version !== undefined) {
      if (!(await session.exists(path))) throw await session.noNode(path);
      const e = await readHistoryEntry(session, path, this.flags.version);
      result = { path, version: e.version, time: e.time, publisher: e.publisher, sha256: e.sha256, source: 'history', document: e.document };
      if (e.message !== undefined) result.message = e.message;
    } else {
      const live = await readConfig(session, path);
      if (!live.exists) throw await session.noNode(path);
      result = { path, version: live.version, source: 'live', layout: live.layout, document: live.document };
      if (live.record) {
        result.time = live.record.time;
        result.publisher = live.record.publisher;
        if (live.record.message !== undefined) result.message = live.record.message;
        result.sha256 = live.record.sha256;
      } else process.stderr.write(`zkctl: note: ${path} was not published by zkctl; showing the tree as it is\n`);
      if (live.drift) {
        result.drift = true;
        process.stderr.write(`zkctl: note: the tree under ${path} was changed outside zkctl since version ${live.version} (drift)\n`);
      }
    }
    if (!this.jsonEnabled()) {
      if (this.outputFormat === 'json') process.stdout.write(`${encodeJson(result.document, 2)}\n`);
      else process.stdout.write(toYaml(result.document));
    }
    return result;
  }
}
