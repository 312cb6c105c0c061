/** How `config publish` and `config rollback` print their result (diff lines + a summary line). */
import chalk from 'chalk';
import { toYaml } from '../core/config/document.js';
import { describeCounts, renderChanges, resultJson } from '../output/config.js';
import type { PublishResult } from '../core/recipes/config-publish.js';
import type { OutputFormat } from '../output/index.js';

/** What the printers need to know of a command. */
export interface OutputSettings {
  jsonEnabled(): boolean;
  readonly outputFormat: OutputFormat;
  readonly colorEnabled: boolean;
}

export type PublishOutput = Omit<PublishResult, 'document'> & { document?: PublishResult['document'] };

/** Print a publish / rollback result (diff lines + a summary line). */
export function printPublish(cmd: OutputSettings, r: PublishResult, verb = 'published'): void {
  if (cmd.jsonEnabled()) return;
  const fmt = cmd.outputFormat;
  const { document: _doc, ...out } = r;
  if (fmt === 'json') {
    process.stdout.write(`${resultJson(out)}\n`);
    return;
  }
  if (fmt === 'yaml') {
    process.stdout.write(toYaml(out as never));
    return;
  }
  const color = cmd.colorEnabled;
  const lines = renderChanges(r.changes, color ? { add: chalk.green, remove: chalk.red, change: chalk.yellow } : {});
  if (lines) process.stdout.write(`${lines}\n`);
  const counts = describeCounts(r.counts) + (r.layoutChangedFrom ? `; converted from the ${r.layoutChangedFrom} layout to the ${r.layout} layout` : '');
  let summary: string;
  if (r.dryRun) summary = r.changed ? `dry run: would publish version ${r.nextVersion} to ${r.path} (${counts}; ${r.ops} ops, ${r.requestBytes} bytes); nothing written` : `dry run: nothing to change at ${r.path} (version ${r.version})`;
  else if (!r.changed) summary = `nothing to change: ${r.path} is at version ${r.version}`;
  else summary = `${verb} version ${r.version} to ${r.path} (${counts})`;
  process.stdout.write(`${summary}\n`);
}
