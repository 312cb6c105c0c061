import { Args, Flags } from '@oclif/core';
import chalk from 'chalk';
import { BaseCommand } from '../../cli/base.js';
import { countFlag, forFlag, parseFor, Stream } from '../../cli/stream.js';
import { hookFailure, runHook } from '../../core/proc.js';
import { encodeJson, toYaml } from '../../core/config/document.js';
import { type ConfigVersionEvent, type ConfigWatchEvent, checkConfigPath, watchConfig } from '../../core/recipes/config-publish.js';
import { renderChanges, resultJson } from '../../output/config.js';

export default class ConfigWatch extends BaseCommand<typeof ConfigWatch> {
  static override summary = 'Print every new version of a published document; optionally run a reload hook for each.';
  static override description = `Watches PATH's data only: every publish changes it in the same transaction as the keys, so it is the commit point, and each version is read consistently (never half a publish), in either layout (nodes: the tree is read between two reads of PATH's version; document: PATH's data is the whole document). Readers that instead cache the tree node by node (Curator CuratorCache, kazoo TreeCache) see half-applied publishes in the nodes layout: publish with --layout document for them. Prints the current version first (initial), then each new one: the whole document as a YAML stream ("--- # version N ..." then the document), or with --diff only the changes; -o json prints one JSON object per line ({"event":"version","version":N,...,"document":{...}}).

Versions superseded before they could be read are printed from the history (source "history"); versions no longer kept there are reported as missed.

--exec CMD runs CMD (with /bin/sh) after the initial version and after each new one, with the document on stdin (YAML; --exec-format json for JSON) and ZKCTL_CONFIG_VERSION, ZKCTL_CONFIG_PATH and ZKCTL_CONFIG_SHA256 in its environment (no ZKCTL_* credential is passed on: ZKCTL_AUTH and any ZKCTL_* naming AUTH, PASS, SECRET, TOKEN, CRED, KEY, SASL or JAAS, as for every command zkctl starts): a reload hook. Runs never overlap; when versions arrive during a run, the next run gets the newest one. The hook's output goes to stderr (stdout carries the watch stream); a failing hook is reported and the watch goes on. CMD runs in its own process group: when the watch ends while CMD runs (Ctrl-C, SIGTERM, --for), CMD and every process it started get SIGTERM, then SIGKILL 2 s later.

Stops after --count versions (the initial one included) or --for a duration (exit 0), else runs until Ctrl-C / SIGTERM (exit 130). Survives reconnects and session expiry.`;
  static override examples = [
    '<%= config.bin %> <%= command.id %> /config/myapp',
    '<%= config.bin %> <%= command.id %> /config/myapp --diff',
    '<%= config.bin %> <%= command.id %> /config/myapp --exec \'cat > /etc/myapp.yaml && systemctl reload myapp\'',
    '<%= config.bin %> <%= command.id %> /config/myapp -o json --count 2 --for 10m',
  ];
  static override args = { path: Args.string({ required: true, description: 'path the document is published under' }) };
  static override flags = {
    diff: Flags.boolean({ summary: 'Print the changes from the previous version instead of whole documents.' }),
    exec: Flags.string({ summary: 'Run this shell command for each version, document on stdin.' }),
    'exec-format': Flags.string({ summary: 'Format of the document given to --exec.', options: ['yaml', 'json'], default: 'yaml' }),
    count: countFlag('Stop after this many versions (the initial one included).'),
    for: forFlag('Stop after this long (e.g. 30s, 10m).'),
  };

  async run(): Promise<{ versions: number; hookRuns: number; hookFailures: number }> {
    const path = checkConfigPath(this.args.path);
    const forMs = parseFor(this.flags.for);
    const session = await this.session({ renew: true });
    const stream = new Stream({ count: this.flags.count, forMs });
    this.onCleanup(() => stream.dispose());

    let hookRuns = 0;
    let hookFailures = 0;
    const fmt = this.outputFormat;
    const color = this.colorEnabled;
    const header = (e: ConfigVersionEvent): string =>
      `version ${e.version}${e.time ? ` at ${e.time}` : ''}${e.publisher ? ` by ${e.publisher}` : ''}${e.rollbackOf !== undefined ? ` (rollback to ${e.rollbackOf})` : ''}${e.message ? `: ${e.message.replace(/\s+/g, ' ')}` : ''}${e.initial ? ' (initial)' : ''}${e.source === 'history' ? ' (from history)' : ''}`;

    const print = (e: ConfigWatchEvent): void => {
      if (fmt === 'json') {
        const { kind, ...rest } = e;
        const o: Record<string, unknown> = { event: kind, ...rest };
        if (e.kind === 'version') {
          if (this.flags.diff && !e.initial) delete o.document;
          else delete o.changes;
        }
        process.stdout.write(`${resultJson(o, 0)}\n`);
        return;
      }
      if (e.kind === 'deleted') {
        process.stdout.write(`--- # ${e.path} was deleted\n`);
        return;
      }
      if (e.kind === 'missed') {
        process.stdout.write(`--- # versions ${e.from}..${e.to} were superseded and are no longer in the history\n`);
        return;
      }
      if (this.flags.diff && e.changes) {
        const lines = renderChanges(e.changes, color ? { add: chalk.green, remove: chalk.red, change: chalk.yellow } : {});
        process.stdout.write(`# ${header(e)}\n${lines ? `${lines}\n` : ''}`);
      } else {
        process.stdout.write(`--- # ${header(e)}\n${toYaml(e.document)}`);
      }
    };

    const hook = this.flags.exec;
    const runHookFor = async (e: ConfigVersionEvent): Promise<void> => {
      hookRuns++;
      const r = await runHook(hook!, {
        env: { ZKCTL_CONFIG_VERSION: String(e.version), ZKCTL_CONFIG_PATH: e.path, ZKCTL_CONFIG_SHA256: e.sha256 },
        input: this.flags['exec-format'] === 'json' ? `${encodeJson(e.document, 2)}\n` : toYaml(e.document),
        output: 'stderr',
        signal: stream.signal,
      });
      if (r.ok) return;
      hookFailures++;
      process.stderr.write(`zkctl: --exec ${'error' in r ? '' : `for version ${e.version} `}${hookFailure(r)}\n`);
    };

    // Hooks run for 'live' versions only (the newest at that moment); a version read while a
    // hook runs waits for it, so the next run gets the newest one.
    await watchConfig(session, path, {
      signal: stream.signal,
      onNote: (m) => this.progress(`zkctl: ${m}`),
      onEvent: async (e) => {
        if (stream.signal.aborted) return;
        if (e.kind === 'version') stream.take();
        print(e);
        if (e.kind === 'version' && hook && e.source === 'live') await runHookFor(e);
        stream.settle();
      },
    });
    stream.finish();
    return { versions: stream.events, hookRuns, hookFailures };
  }
}
