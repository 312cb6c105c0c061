import { Args } from '@oclif/core';
import { BaseCommand } from '../../cli/base.js';
import { checkContext, configPath, updateConfig } from '../../cli/context.js';
import { UsageError } from '../../core/errors.js';

export default class ContextUse extends BaseCommand<typeof ContextUse> {
  static override summary = 'Make a context the current one.';
  static override examples = ['<%= config.bin %> <%= command.id %> prod'];
  static override args = { name: Args.string({ required: true, description: 'context name' }) };

  async run(): Promise<{ current: string }> {
    const name = this.args.name;
    const path = configPath();
    updateConfig((cfg) => {
      if (!Object.prototype.hasOwnProperty.call(cfg.contexts, name)) {
        throw new UsageError(`no context named "${name}"`, `known: ${Object.keys(cfg.contexts).join(', ') || 'none'}`);
      }
      checkContext(cfg.contexts[name], name, path);
      cfg['current-context'] = name;
    }, path);
    this.printer.text(`current context: ${this.args.name}`, { current: this.args.name });
    return { current: this.args.name };
  }
}
