import { BaseCommand } from '../../cli/base.js';
import { configPath, loadConfig } from '../../cli/context.js';
import { ZkctlError } from '../../core/errors.js';

export default class ContextCurrent extends BaseCommand<typeof ContextCurrent> {
  static override summary = 'Print the name of the current context.';
  static override description = `Prints the current-context of the contexts file (one line; -o json: {"current": NAME, "server": ...}). Exit 1, with a hint, when there is none (no file, or no current-context); exit 2 when it names no context. Note: $ZKCTL_SERVER and -s override the context for connecting, whatever this prints.`;
  static override examples = ['<%= config.bin %> <%= command.id %>', 'ctx=$(<%= config.bin %> <%= command.id %>) || echo "no context"'];

  async run(): Promise<{ current: string; server: string }> {
    const path = configPath();
    const cfg = loadConfig(path);
    const name = cfg['current-context'];
    if (name === undefined) {
      throw new ZkctlError(`no current context (${path})`, 1, { hint: 'zkctl context use NAME (zkctl context ls), or zkctl ensemble up, which makes one' });
    }
    const ctx = Object.prototype.hasOwnProperty.call(cfg.contexts, name) ? (cfg.contexts[name] as { server?: unknown } | undefined) : undefined;
    if (!ctx || typeof ctx.server !== 'string') {
      throw new ZkctlError(`${path}: current-context "${name}" names no context`, 2, { hint: 'zkctl context use NAME (zkctl context ls)' });
    }
    const result = { current: name, server: ctx.server };
    this.printer.text(name, result);
    return result;
  }
}
