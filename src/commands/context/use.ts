import { Args } from '@oclif/core';
import { BaseCommand } from '../../cli/base.js';
import { loadConfig, saveConfig } from '../../cli/context.js';
import { UsageError } from '../../core/errors.js';

export default class ContextUse extends BaseCommand<typeof ContextUse> {
  static override summary = 'Make a context the current one.';
  static override examples = ['<%= config.bin %> <%= command.id %> prod'];
  static override args = { name: Args.string({ required: true, description: 'context name' }) };

  async run(): Promise<{ current: string }> {
    const cfg = loadConfig();
    if (!cfg.contexts[this.args.name]) {
      throw new UsageError(`no context named "${this.args.name}"`, `known: ${Object.keys(cfg.contexts).join(', ') || 'none'}`);
    }
    cfg['current-context'] = this.args.name;
    saveConfig(cfg);
    this.printer.text(`current context: ${this.args.name}`, { current: this.args.name });
    return { current: this.args.name };
  }
}
