import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../../cli/base.js';
import { type Context, loadConfig, parseAuth, saveConfig, validateServer } from '../../cli/context.js';
import { parseDuration } from '../../core/duration.js';
import { UsageError } from '../../core/errors.js';

export default class ContextSet extends BaseCommand<typeof ContextSet> {
  static override summary = 'Create or update a context.';
  static override description =
    'Stores the server (and optionally auth and timeout) under NAME. The file is written atomically with mode 0600.';
  static override examples = [
    '<%= config.bin %> <%= command.id %> prod --server zk1:2181,zk2:2181,zk3:2181/app --use',
    '<%= config.bin %> <%= command.id %> ops --server 10.0.0.5:2181 --auth digest:ops:secret --timeout 5s',
  ];
  static override args = { name: Args.string({ required: true, description: 'context name' }) };
  static override flags = {
    use: Flags.boolean({ summary: 'Also make it the current context.' }),
  };

  async run(): Promise<{ name: string; server: string; current: boolean }> {
    const cfg = loadConfig();
    const prev: Partial<Context> = cfg.contexts[this.args.name] ?? {};
    const server = this.flags.server ?? prev.server;
    if (!server) throw new UsageError(`context "${this.args.name}" needs a server`, 'pass --server host:port[,host:port...][/chroot]');
    validateServer(server);
    if (this.flags.auth) parseAuth(this.flags.auth);
    if (this.flags.timeout) parseDuration(this.flags.timeout, 'timeout');
    const next: Context = { ...prev, server };
    if (this.flags.auth) next.auth = this.flags.auth;
    if (this.flags.timeout) next.timeout = this.flags.timeout;
    cfg.contexts[this.args.name] = next;
    if (this.flags.use || !cfg['current-context']) cfg['current-context'] = this.args.name;
    saveConfig(cfg);
    const result = { name: this.args.name, server, current: cfg['current-context'] === this.args.name };
    this.printer.text(`context ${this.args.name}: ${server}${result.current ? ' (current)' : ''}`, result);
    return result;
  }
}
