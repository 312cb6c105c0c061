import { Args } from '@oclif/core';
import { BaseCommand } from '../../cli/base.js';
import { loadConfig, saveConfig } from '../../cli/context.js';
import { UsageError } from '../../core/errors.js';

export default class ContextRm extends BaseCommand<typeof ContextRm> {
  static override summary = 'Remove a context.';
  static override examples = ['<%= config.bin %> <%= command.id %> old-staging'];
  static override args = { name: Args.string({ required: true, description: 'context name' }) };

  async run(): Promise<{ removed: string }> {
    const cfg = loadConfig();
    if (!cfg.contexts[this.args.name]) throw new UsageError(`no context named "${this.args.name}"`);
    delete cfg.contexts[this.args.name];
    if (cfg['current-context'] === this.args.name) delete cfg['current-context'];
    saveConfig(cfg);
    this.printer.text(`removed context ${this.args.name}`, { removed: this.args.name });
    return { removed: this.args.name };
  }
}
