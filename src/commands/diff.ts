import { Args, Flags } from '@oclif/core';
import chalk from 'chalk';
import { BaseCommand } from '../cli/base.js';
import { otherSession, toFlags } from '../cli/other-session.js';
import { boundHeapGrowth, checkPath, interruptSignal, windowFlag } from '../cli/znode.js';
import { CheckFailedError } from '../core/errors.js';
import { type DiffEntry, type TreeDiffCounts, describeDiffCounts, diffTrees } from '../core/treediff.js';
import { formatJson, formatYaml } from '../output/index.js';
import { writeOut } from '../output/znode.js';

export interface DiffResult {
  a: string;
  b: string;
  equal: boolean;
  counts: TreeDiffCounts;
  differences: DiffEntry[];
}

export default class Diff extends BaseCommand<typeof Diff> {
  static override summary = 'Compare two subtrees node by node (presence, data, ACL); exit 12 when they differ.';
  static override description = `Walks PATH_A and PATH_B at once (pipelined, streaming: memory does not grow with the trees) and reports, by path relative to both roots ("." is the roots themselves):
  - PATH   only under PATH_A
  + PATH   only under PATH_B
  ~ PATH: what differs, A -> B (data: short text shown, else sizes; acl; ephemeral or not)

Exit 0 when the subtrees are equal, 12 when they differ (like \`config diff\`: made for scripts and CI), 3 when a root does not exist. -o json / --json print {a, b, equal, counts, differences}.

PATH_B may be on another ensemble: --to-server / --to-context (with --to-auth). ZooKeeper hides digest ACL hashes from readers without ADMIN permission ("user:x"), so such ACLs compare as shown; container and TTL nodes look persistent to clients, so node types other than ephemeral are not compared.`;
  static override examples = [
    '<%= config.bin %> <%= command.id %> /app /app-copy',
    '<%= config.bin %> <%= command.id %> /app /app --to-server zk-dr:2181 || echo "DR is out of sync"',
    '<%= config.bin %> <%= command.id %> /app /app --to-context staging --ignore-acl -o json',
  ];
  static override args = {
    a: Args.string({ required: true, description: 'first subtree (A)' }),
    b: Args.string({ required: true, description: 'second subtree (B), on --to-server if given' }),
  };
  static override flags = {
    ...toFlags,
    'ignore-acl': Flags.boolean({ summary: 'Do not compare ACLs.' }),
    'ignore-data': Flags.boolean({ summary: 'Do not compare data (presence and ACLs only).' }),
    'ignore-ephemeral': Flags.boolean({ summary: 'Leave ephemeral nodes out on both sides.' }),
    window: windowFlag,
  };

  async run(): Promise<DiffResult> {
    boundHeapGrowth();
    const a = checkPath(this.args.a);
    const b = checkPath(this.args.b);
    const sa = await this.session();
    const sb = (await otherSession(() => this.session(), (fn) => this.onCleanup(fn), this.flags)).session;
    const intr = interruptSignal();
    this.onCleanup(intr.dispose);
    const counts: TreeDiffCounts = { onlyA: 0, onlyB: 0, changed: 0, same: 0, redacted: 0 };
    const differences: DiffEntry[] = [];
    const fmt = this.outputFormat;
    const structured = this.jsonEnabled() || fmt === 'json' || fmt === 'yaml';
    const color = this.colorEnabled;
    const paint = (e: DiffEntry): string => {
      const p = e.path;
      if (e.kind === 'only-a') return color ? chalk.red(`- ${p}`) : `- ${p}`;
      if (e.kind === 'only-b') return color ? chalk.green(`+ ${p}`) : `+ ${p}`;
      return color ? chalk.yellow(`~ ${p}: ${e.detail}`) : `~ ${p}: ${e.detail}`;
    };
    let pending = '';
    for await (const e of diffTrees(
      { session: sa, root: a },
      { session: sb, root: b },
      {
        window: this.flags.window,
        ignoreAcl: this.flags['ignore-acl'],
        ignoreData: this.flags['ignore-data'],
        ignoreEphemeral: this.flags['ignore-ephemeral'],
        signal: intr.signal,
      },
      counts,
    )) {
      if (structured) differences.push(e);
      else {
        pending += `${paint(e)}\n`;
        if (pending.length > 16384) {
          await writeOut(pending);
          pending = '';
        }
      }
    }
    if (pending) await writeOut(pending);
    const equal = counts.onlyA + counts.onlyB + counts.changed === 0;
    const result: DiffResult = { a, b, equal, counts, differences };
    const bName = this.flags['to-server'] ? `${b} on ${this.flags['to-server']}` : this.flags['to-context'] ? `${b} (context ${this.flags['to-context']})` : b;
    if (this.jsonEnabled()) {
      if (!equal) this.logJson(this.toSuccessJson(result));
    } else if (fmt === 'json') await writeOut(`${formatJson(result)}\n`);
    else if (fmt === 'yaml') await writeOut(formatYaml(result));
    if (!equal) throw new CheckFailedError(`${a} and ${bName} differ: ${describeDiffCounts(counts)}`);
    if (!structured) process.stderr.write(`${a} and ${bName} are equal (${counts.same} nodes)\n`);
    return result;
  }
}
