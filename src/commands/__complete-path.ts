import { Args } from '@oclif/core';
import { BaseCommand } from '../cli/base.js';
import { completePath } from '../core/completion.js';

/** Hidden: znode paths for shell completion (one per line); silent on every error; at most ~1.5 s. */
export default class CompletePath extends BaseCommand<typeof CompletePath> {
  static override hidden = true;
  static override summary = 'Znode paths starting with PREFIX, for shell completion.';
  static override args = { prefix: Args.string({ description: 'path prefix', default: '/' }) };

  async run(): Promise<void> {
    try {
      const session = await this.session({ timeoutMs: Math.min(this.connection.timeoutMs, 1500) });
      const paths = await completePath(session, this.args.prefix);
      if (paths.length > 0) process.stdout.write(`${paths.join('\n')}\n`);
    } catch {
      /* completion stays silent */
    }
  }

  protected override async catch(): Promise<void> {
    /* silent, exit 0: a shell completing a word must never see an error */
  }
}
