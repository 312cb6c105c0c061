import { Args } from '@oclif/core';
import { BaseCommand } from '../../cli/base.js';
import { updateConfig } from '../../cli/context.js';
import { UsageError } from '../../core/errors.js';

export default class ContextRm extends BaseCommand<typeof ContextRm> {
  static override summary = 'Remove a context.';
  static override examples = ['<%= config.bin %> <%= command.id %> old-staging'];
  static override args = { name: Args.string({ required: true, description: 'context name' }) };

  async run(): Promise<{ removed: string }> {
    const name = this.args.name;
    updateConfig((cfg) => {
      if (!Object.prototype.hasOwnProperty.call(cfg.contexts, name)) throw new UsageError(`no context named "${name}"`);
      delete cfg.contexts[name];
      if (cfg['current-context'] === name) delete cfg['current-context'];
    });
    this.printer.text(`removed context ${this.args.name}`, { removed: this.args.name });
    return { removed: this.args.name };
  }
}
