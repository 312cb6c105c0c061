import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../../cli/base.js';
import { resolve } from 'node:path';
import { type Context, type ContextSasl, type ContextTls, configPath, parseAuth, resolveSasl, updateConfig, validateServer } from '../../cli/context.js';
import { jaasClientCredentials } from '../../core/security/jaas.js';
import { parseDuration } from '../../core/duration.js';
import { UsageError } from '../../core/errors.js';

export default class ContextSet extends BaseCommand<typeof ContextSet> {
  static override summary = 'Create or update a context.';
  static override description =
    'Stores the server (and optionally auth, timeout, TLS and SASL settings) under NAME. The file is written atomically with mode 0600. --tls-ca/--tls-cert/--tls-key/--tls-pfx/--tls-pfx-password-file/--tls-server-name are kept as the context\'s tls: mapping (file paths made absolute; --tls alone: TLS with the system CAs), --client-config as its client-config; the files are read when the context is used. SASL: --sasl USER --sasl-password-file FILE stores sasl: {user, password-file} (the file\'s absolute path, never the password), --jaas FILE stores sasl: {jaas}.';
  static override examples = [
    '<%= config.bin %> <%= command.id %> prod --server zk1:2181,zk2:2181,zk3:2181/app --use',
    '<%= config.bin %> <%= command.id %> ops --server 10.0.0.5:2181 --auth digest:ops:secret --timeout 5s',
    '<%= config.bin %> <%= command.id %> secure --server zk1:2281 --tls-ca ca.pem --tls-cert client.pem --tls-key client.pem',
    '<%= config.bin %> <%= command.id %> kafka --server zk1:2181 --sasl kafka --sasl-password-file /etc/zkctl/kafka.password',
  ];
  static override args = { name: Args.string({ required: true, description: 'context name' }) };
  static override flags = {
    use: Flags.boolean({ summary: 'Also make it the current context.' }),
  };

  async run(): Promise<{ name: string; server: string; current: boolean }> {
    if (this.flags.server !== undefined) validateServer(this.flags.server);
    if (this.flags.auth) parseAuth(this.flags.auth);
    if (this.flags.timeout) parseDuration(this.flags.timeout, 'timeout');
    const sasl = contextSasl(this.flags);
    const name = this.args.name;
    // Read-modify-write under the file's lock: concurrent `context set`s all land.
    const { server, current } = updateConfig((cfg) => {
      const had = cfg.contexts[name];
      const prev: Partial<Context> = had && typeof had === 'object' && !Array.isArray(had) ? had : {};
      const server = this.flags.server ?? (typeof prev.server === 'string' ? prev.server : undefined);
      if (!server) throw new UsageError(`context "${name}" needs a server`, 'pass --server host:port[,host:port...][/chroot]');
      validateServer(server);
      const next: Context = { ...prev, server };
      if (this.flags.auth) next.auth = this.flags.auth;
      if (this.flags.timeout) next.timeout = this.flags.timeout;
      const f = this.flags;
      const tlsFlags: Array<[keyof ContextTls, string | undefined]> = [
        ['ca', f['tls-ca']],
        ['cert', f['tls-cert']],
        ['key', f['tls-key']],
        ['pfx', f['tls-pfx']],
        ['pfx-password-file', f['tls-pfx-password-file']],
      ];
      if (f.tls || f['tls-server-name'] !== undefined || tlsFlags.some(([, v]) => v !== undefined)) {
        const tls: ContextTls = { ...(prev.tls && typeof prev.tls === 'object' ? prev.tls : {}) };
        for (const [k, v] of tlsFlags) if (v !== undefined) tls[k] = resolve(v);
        if (f['tls-server-name'] !== undefined) tls['server-name'] = f['tls-server-name'];
        next.tls = tls;
      }
      if (f['client-config'] !== undefined) next['client-config'] = resolve(f['client-config']);
      if (sasl) next.sasl = sasl;
      cfg.contexts[name] = next;
      if (this.flags.use || !cfg['current-context'] || !Object.prototype.hasOwnProperty.call(cfg.contexts, cfg['current-context'])) cfg['current-context'] = name;
      return { server, current: cfg['current-context'] === name };
    }, configPath());
    const result = { name, server, current };
    this.printer.text(`context ${name}: ${server}${result.current ? ' (current)' : ''}`, result);
    return result;
  }
}

/** --sasl USER --sasl-password-file FILE, or --jaas FILE: checked now (readable, well-formed), stored as absolute paths. */
function contextSasl(f: { sasl?: string; 'sasl-password-file'?: string; jaas?: string }): ContextSasl | undefined {
  if (f.jaas !== undefined) {
    jaasClientCredentials(f.jaas);
    return { jaas: resolve(f.jaas) };
  }
  if (f.sasl === undefined && f['sasl-password-file'] === undefined) return undefined;
  if (f.sasl === undefined || f['sasl-password-file'] === undefined) {
    throw new UsageError('a context stores SASL as --sasl USER with --sasl-password-file FILE (the password itself is never stored), or --jaas FILE');
  }
  resolveSasl(f, {}, undefined);
  return { user: f.sasl, 'password-file': resolve(f['sasl-password-file']) };
}
