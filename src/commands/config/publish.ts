import { Flags } from '@oclif/core';
import { BaseCommand } from '../../cli/base.js';
import { configPathAndFile, configPathFileArgs, deprecatedPathFlag } from '../../cli/config-args.js';
import { type PublishOutput, printPublish } from '../../cli/publish-output.js';
import { UsageError } from '../../core/errors.js';
import { loadConfigFile } from '../../core/config/document.js';
import { type ConfigLayout, DEFAULT_HISTORY_KEEP, MAX_HISTORY_KEEP, checkConfigPath, publishConfig } from '../../core/recipes/config-publish.js';
import { resultJson } from '../../output/config.js';

/** The mapping rules, shown by `config publish --help` (kept in step with src/core/config/document.ts). */
export const MAPPING_HELP = `MAPPING (YAML 1.2, core schema)
The document must be a mapping; its keys become the children of PATH. A mapping value becomes a znode (empty data) whose children are its keys, to any depth. Any other value becomes ONE znode whose data is canonical JSON (UTF-8, compact): strings "quoted", integers as digits (any size), floats always with a '.' or exponent (1.0), true, false, null, and lists (which may hold mappings and lists, stored inside that JSON). So "5432", 5432 and 5432.0 stay distinct, and the node data is readable by any JSON parser.
Key order: ZooKeeper does not order children, so every mapping's key order is recorded in PATH's own data (the publish record) and \`config get\` returns the keys in that order.
Keys are never escaped: a key that is not a valid znode name is refused (exit 2, with its line:column): "", ".", "..", keys containing "/" or characters ZooKeeper rejects (control characters, surrogates / characters outside the BMP, U+FFF1-U+FFFE), and keys starting with ".zkctl" (reserved for zkctl; the history lives in PATH/.zkctl-history). Inside lists any string key is fine (it is JSON there).
Refused (exit 2, nothing written): invalid YAML (line:column), an empty file, non-string keys (80: x - quote it, "80": x), .inf/.nan, tags beyond the core ones (!!binary, !!timestamp, !!set, custom), aliases that contain themselves, duplicate keys, several documents, and a transaction over ZooKeeper's request limit (jute.maxbuffer, 1048575 bytes; servers with a larger limit: set ZKCTL_JUTE_MAXBUFFER). Aliases without loops are expanded; \`<<\` is a plain key.

LAYOUTS (--layout, recorded in PATH's data: later commands detect it)
nodes: (default) one znode per key, as above.
document: the whole document as canonical JSON inside PATH's own data, next to the publish record ({"zkctl":"config",...,"layout":"document","version":N,...,"document":{...}}), with no key znodes. It is bounded by one znode: over jute.maxbuffer (1048575 bytes, less 1 KiB for the reply) it is refused (exit 2) naming the size; use --layout nodes then.
Later publishes, rollbacks, get, watch, diff and history find the layout themselves. Naming the other layout of an existing config converts it, in the same one transaction (the key znodes are removed or created with the new record).

ATOMICITY AND VERSIONS: WHO SEES WHOLE VERSIONS
The whole publish is ONE transaction (multi): check(PATH, version read), the deletes, creates and sets, the history entry, and set(PATH, new publish record). Of two publishers racing from the same version exactly one wins, the other exits 5 with nothing written. What a reader sees depends on how it reads:
- Readers that watch PATH itself (its data is the commit point of every publish) and read the tree consistently (between two reads of PATH's version), as \`zkctl config get\` and \`zkctl config watch\` do, see whole versions only, in both layouts.
- Readers that cache the tree node by node (Curator CuratorCache / TreeCache, kazoo TreeCache, anything applying each znode's notification as it arrives) DO see half-applied publishes in the nodes layout: ZooKeeper notifies every changed znode on its own, so between two notifications such a cache mixes two versions.
- In the document layout every reader sees whole versions, node-by-node caches included: the configuration is one znode, changed by one write.
Every publish bumps PATH's publish version (1, 2, ...) and keeps the last --keep documents (time, message, publisher) under PATH/.zkctl-history.
Without --prune, live keys that the file does not have are kept (in their place); publishing a document equal to the live one writes nothing (no new version). The publisher recorded is user@host, or $ZKCTL_PUBLISHER. New nodes get PATH's ACL.`;

export default class ConfigPublish extends BaseCommand<typeof ConfigPublish> {
  static override summary = 'Publish a YAML document under a path in one transaction, versioned: a znode per key (--layout nodes) or one znode (--layout document).';
  static override usage = ['<%= command.id %> PATH FILE [--dry-run] [--prune] [-m TEXT] [--expect-version N] [--keep N] [--force] [--layout nodes|document]'];
  static override description = `Readers that cache the tree node by node (Curator CuratorCache, kazoo TreeCache) see half-applied publishes in the default nodes layout; --layout document keeps the whole document in PATH's own data, which every reader sees whole (see LAYOUTS and ATOMICITY below).

Shows the plan as a diff on stdout (+ added, ~ changed, - removed, one key per line with its value as JSON; -o json for an object) and applies it in one ZooKeeper transaction guarded by the version of PATH. FILE is read from stdin when it is "-". The old form, FILE with -p/--path PATH, still works (with a deprecation note on stderr).

${MAPPING_HELP}

Exit codes: 0 published (or nothing to change), 2 bad input or too large, 5 another publish won the race or --expect-version did not match, 8 connection.`;
  static override examples = [
    '<%= config.bin %> <%= command.id %> /config/myapp app.yaml -m "raise pool size"',
    '<%= config.bin %> <%= command.id %> /config/myapp app.yaml --dry-run',
    '<%= config.bin %> <%= command.id %> /config/myapp app.yaml --prune --expect-version 7 -o json',
    'render-config | <%= config.bin %> <%= command.id %> /config/myapp -',
    '<%= config.bin %> <%= command.id %> /config/myapp app.yaml --layout document',
  ];
  static override args = configPathFileArgs;
  static override flags = {
    path: deprecatedPathFlag,
    'dry-run': Flags.boolean({ summary: 'Show the plan; write nothing.' }),
    prune: Flags.boolean({ summary: 'Remove live keys that the file does not have.' }),
    message: Flags.string({ char: 'm', summary: 'Why: kept in the history with the time and publisher.' }),
    'expect-version': Flags.integer({ summary: 'Publish only if PATH is at this publish version now (0: never published); else exit 5.', min: 0 }),
    keep: Flags.integer({ summary: `History entries to keep (0 keeps none).`, default: DEFAULT_HISTORY_KEEP, min: 0, max: MAX_HISTORY_KEEP }),
    force: Flags.boolean({ summary: 'Publish a new version even when nothing changed.' }),
    layout: Flags.string({ summary: 'nodes (one znode per key; default for a new path) or document (all in PATH\'s data: whole versions for every reader). Default: the layout PATH has.', options: ['nodes', 'document'] }),
  };

  protected override toSuccessJson(result: unknown): unknown {
    return result;
  }
  override logJson(json: unknown): void {
    process.stdout.write(`${resultJson(json)}\n`);
  }

  async run(): Promise<PublishOutput> {
    const given = configPathAndFile('config publish', this.args, this.flags.path);
    const path = checkConfigPath(given.path);
    if (this.flags.message !== undefined && this.flags.message.length > 4096) throw new UsageError('--message is longer than 4096 characters');
    const doc = await loadConfigFile(given.file);
    const session = await this.session();
    const r = await publishConfig(session, path, doc, {
      prune: this.flags.prune,
      dryRun: this.flags['dry-run'],
      keep: this.flags.keep,
      force: this.flags.force,
      ...(this.flags.layout !== undefined ? { layout: this.flags.layout as ConfigLayout } : {}),
      ...(this.flags.message !== undefined ? { message: this.flags.message } : {}),
      ...(this.flags['expect-version'] !== undefined ? { expectVersion: this.flags['expect-version'] } : {}),
    });
    const { document: _doc, ...out } = r;
    printPublish(this, r);
    return out;
  }
}
