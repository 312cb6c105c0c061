/**
 * BaseCommand: global flags, connection (lazy, closed in finally), the
 * printer, and errors -> one line on stderr + the documented exit code.
 *
 * A command: parse (done here in init), call core, hand the typed result to
 * `this.printer`, return the result (oclif prints it for --json).
 */
import { Command, Flags, type Interfaces } from '@oclif/core';
import { ExitCode, ZkctlError, exitCodeOf } from '../core/errors.js';
import { enableDebug } from '../core/debug.js';
import { Session, type SessionOptions } from '../core/session.js';
import { formatJson, OUTPUT_FORMATS, type OutputFormat, Printer, terminalWidth, toPlainData, wrapLine } from '../output/index.js';
import { OutputError, flushHeld, guardStdio, pageOutput } from '../output/stdio.js';
import { pagerCommand } from '../core/pager.js';
import { type ConnectionSettings, resolveConnection, type TlsFlags } from './context.js';
import { tlsConnectOptions } from '../core/security/tls.js';

export type FlagsOf<T extends typeof Command> = Interfaces.InferredFlags<(typeof BaseCommand)['baseFlags'] & T['flags']>;
export type ArgsOf<T extends typeof Command> = Interfaces.InferredArgs<T['args']>;

export const connectionFlags = {
  server: Flags.string({
    char: 's',
    summary: 'Ensemble to connect to: host:port[,host:port...][/chroot].',
    description: 'Defaults to $ZKCTL_SERVER, then the current context, then 127.0.0.1:2181.',
    helpGroup: 'GLOBAL',
  }),
  context: Flags.string({ summary: 'Use this context from the contexts file.', helpGroup: 'GLOBAL' }),
  timeout: Flags.string({ summary: 'Deadline for connecting and for each request (e.g. 500ms, 10s); an ensemble whose every member refuses the connection fails at once (exit 8).', helpGroup: 'GLOBAL' }),
  auth: Flags.string({ summary: 'Authenticate: scheme:credential, e.g. digest:user:password (or $ZKCTL_AUTH).', helpGroup: 'GLOBAL' }),
  sasl: Flags.string({
    summary: 'SASL DIGEST-MD5 user (DigestLoginModule servers); the password from --sasl-password-file or $ZKCTL_SASL_PASSWORD.',
    description: 'Authenticates on connect and on every reconnect, before any request; a refusal (wrong user or password, or a server that requires SASL from a client without it) is exit 7. GSSAPI/Kerberos is out of scope.',
    helpGroup: 'GLOBAL',
    exclusive: ['jaas'],
  }),
  'sasl-password-file': Flags.string({ summary: "File holding the --sasl user's password (one line).", helpGroup: 'GLOBAL', exclusive: ['jaas'] }),
  jaas: Flags.string({
    summary: "SASL credentials from a Java JAAS file's Client section (DigestLoginModule username/password), as java.security.auth.login.config.",
    helpGroup: 'GLOBAL',
  }),
  'read-only': Flags.boolean({
    summary: 'Ask for a session a read-only member may serve (canBeReadOnly: a member cut off from the quorum, started with -Dreadonlymode.enabled=true and localSessionsEnabled=true): reads work, writes fail (exit 8).',
    helpGroup: 'GLOBAL',
  }),
  tls: Flags.boolean({
    summary: 'Connect over TLS (a secureClientPort), trusting the system CAs unless --tls-ca (or $ZKCTL_TLS=1, or the context\'s tls:). Implied by any --tls-* flag.',
    description: 'The server certificate must carry the host name connected to (or --tls-server-name). A certificate refused by either side (untrusted server certificate, name mismatch, client certificate refused) fails at once with exit 7; TLS to a plain port, or plain TCP to a TLS port, fails within --timeout with exit 8.',
    helpGroup: 'GLOBAL',
  }),
  'tls-ca': Flags.string({ summary: 'TLS: PEM file of the CA(s) that signed the server certificate (or $ZKCTL_TLS_CA).', helpGroup: 'GLOBAL' }),
  'tls-cert': Flags.string({ summary: 'TLS: PEM client certificate, for servers that require one (ssl.clientAuth=need, ZooKeeper\'s default) (or $ZKCTL_TLS_CERT).', helpGroup: 'GLOBAL' }),
  'tls-key': Flags.string({ summary: 'TLS: PEM private key of --tls-cert, may be the same file (or $ZKCTL_TLS_KEY).', helpGroup: 'GLOBAL' }),
  'tls-pfx': Flags.string({ summary: 'TLS: PKCS#12 file with the client key and certificate, instead of --tls-cert/--tls-key (or $ZKCTL_TLS_PFX).', helpGroup: 'GLOBAL' }),
  'tls-pfx-password-file': Flags.string({ summary: 'TLS: file whose first line is the --tls-pfx password (or $ZKCTL_TLS_PFX_PASSWORD_FILE); never printed.', helpGroup: 'GLOBAL' }),
  'tls-server-name': Flags.string({ summary: 'TLS: the name the server certificate must carry, when it differs from the host connected to (or $ZKCTL_TLS_SERVER_NAME).', helpGroup: 'GLOBAL' }),
  'client-config': Flags.string({
    summary: 'Read TLS settings from a Java client configuration file, as zkCli.sh -client-configuration (or $ZKCTL_CLIENT_CONFIG).',
    description: 'Reads zookeeper.client.secure, zookeeper.ssl.keyStore.location/.password/.passwordPath/.type, zookeeper.ssl.trustStore.* and zookeeper.ssl.hostnameVerification; PEM and PKCS12 stores (a PKCS12 truststore is read with the openssl command); a JKS store is refused with the keytool command that converts it. --tls-* flags override it.',
    helpGroup: 'GLOBAL',
  }),
};

/**
 * The flag of a command whose output may run to thousands of lines (tree, ls, get, find, ...): having
 * it makes the command page on a terminal (see pageIfLong in BaseCommand).
 */
export const pagerFlags = {
  'no-pager': Flags.boolean({
    summary: 'Never page the output.',
    description: 'On a terminal, output longer than the screen goes through $ZKCTL_PAGER, else $PAGER, else less -FRX; an empty value or cat turns that off, as do --no-pager, -o json, a stdout that is not a terminal, and CI=true. Quitting the pager early (q) stops the command quietly (exit 0).',
  }),
};

export abstract class BaseCommand<T extends typeof Command> extends Command {
  static override baseFlags = {
    ...connectionFlags,
    output: Flags.string({
      char: 'o',
      summary: 'Output format.',
      options: [...OUTPUT_FORMATS, 'wide'],
      description: 'table on a terminal, plain otherwise. On a terminal, tables fit its width (the least important columns are left out, long paths and messages cut with …, numbers never) and event lines break between words; a pipe gets every column in full. wide: a table with more columns (ls -l, services ls, lock ls, elect ls show more); elsewhere the same as table.',
      helpGroup: 'GLOBAL',
    }),
    'no-color': Flags.boolean({ summary: 'Disable colour (also: NO_COLOR).', helpGroup: 'GLOBAL' }),
    verbose: Flags.boolean({ summary: 'Debug logging and stack traces on stderr (also: DEBUG=zkctl*).', helpGroup: 'GLOBAL' }),
  };
  static override enableJsonFlag = true;

  protected flags!: FlagsOf<T>;
  protected args!: ArgsOf<T>;
  private _session?: Session;
  private _printer?: Printer;
  private cleanups: Array<() => Promise<void> | void> = [];

  public override async init(): Promise<void> {
    // oclif is loaded now: stdout/stderr write errors are ours to report (one line, exit 1).
    guardStdio();
    await super.init();
    // oclif fills a missing argument from piped stdin (trimmed) unless told not to: `echo x | zkctl set /n`
    // would store "x", `... | zkctl ls` list the piped path. zkctl reads stdin only where asked ("-", --file -).
    for (const a of Object.values(this.ctor.args ?? {})) (a as { ignoreStdin?: boolean }).ignoreStdin = true;
    const { args, flags } = await this.parse({
      flags: this.ctor.flags,
      baseFlags: (super.ctor as typeof BaseCommand).baseFlags,
      enableJsonFlag: this.ctor.enableJsonFlag,
      args: this.ctor.args,
      strict: this.ctor.strict,
    });
    this.flags = flags as FlagsOf<T>;
    this.args = args as ArgsOf<T>;
    if (this.flags.verbose) enableDebug(true);
    this.pageIfLong();
  }

  /** A command with --no-pager pages its output on a terminal (src/output/stdio.ts pageOutput). */
  private pageIfLong(): void {
    if ((this.ctor.flags as Record<string, unknown> | undefined)?.['no-pager'] !== pagerFlags['no-pager']) return;
    const f = this.flags as { 'no-pager'?: boolean };
    const cmd = pagerCommand({ isTTY: !!process.stdout.isTTY, noPager: f['no-pager'], json: this.outputFormat === 'json' });
    if (cmd) pageOutput(cmd, { rows: process.stdout.rows, columns: process.stdout.columns });
  }

  /** Output format: --json, -o, else table on a TTY and plain in pipes. */
  /** -o wide: a table with the columns narrow tables leave out. */
  get wide(): boolean {
    return (this.flags.output as string | undefined) === 'wide';
  }

  get outputFormat(): OutputFormat {
    if (this.jsonEnabled()) return 'json';
    const o = this.flags.output as OutputFormat | 'wide' | undefined;
    if (o === 'wide') return 'table';
    if (o) return o;
    return process.stdout.isTTY ? 'table' : 'plain';
  }

  get colorEnabled(): boolean {
    return !!process.stdout.isTTY && !this.flags['no-color'] && !('NO_COLOR' in process.env) && process.env.TERM !== 'dumb';
  }

  get printer(): Printer {
    this._printer ??= new Printer({ format: this.outputFormat, color: this.colorEnabled, resultPrintedElsewhere: this.jsonEnabled(), width: () => terminalWidth() });
    return this._printer;
  }

  /** Where to connect, from flags, env and the contexts file. */
  get connection(): ConnectionSettings {
    return resolveConnection(this.flags as { server?: string; context?: string; timeout?: string; auth?: string; sasl?: string; 'sasl-password-file'?: string; jaas?: string } & TlsFlags);
  }

  /** Connect (once) with the resolved settings. */
  protected async session(extra: Partial<SessionOptions> = {}): Promise<Session> {
    if (this._session) return this._session;
    const c = this.connection;
    // --timeout bounds connecting even where a command gives its requests another deadline
    // (lock and elect use --timeout as the wait for the lock).
    this._session = await Session.connect({
      connectString: c.server,
      timeoutMs: c.timeoutMs,
      auth: c.auth,
      ...(c.sasl ? { sasl: c.sasl } : {}),
      readOnly: !!(this.flags as { 'read-only'?: boolean })['read-only'],
      ...(c.tls ? { tls: tlsConnectOptions(c.tls) } : {}),
      // An ensemble that is down (every member refuses) fails in well under a second, not at --timeout.
      failFastRefused: true,
      onSlowConnect: process.stderr.isTTY ? (server) => void process.stderr.write(`connecting to ${server}...\n`) : undefined,
      ...extra,
      connectTimeoutMs: Math.min(extra.connectTimeoutMs ?? c.timeoutMs, c.timeoutMs, extra.timeoutMs ?? c.timeoutMs),
    });
    return this._session;
  }

  /** Run `fn` when the command ends, however it ends (before the session closes). */
  protected onCleanup(fn: () => Promise<void> | void): void {
    this.cleanups.push(fn);
  }

  /** Progress / notes for people: stderr, only on a TTY. */
  protected progress(msg: string): void {
    const width = terminalWidth(process.stderr);
    if (width !== undefined) process.stderr.write(`${wrapLine(msg, width, 2)}\n`);
  }

  protected override toSuccessJson(result: unknown): unknown {
    return toPlainData(result);
  }

  protected override async catch(err: Interfaces.CommandError): Promise<void> {
    const code = errorExitCode(err);
    process.exitCode = code;
    // What was held for the pager comes before the error message.
    flushHeld();
    // The reader of stdout went away (`ls | head`): a quiet end, nothing to say.
    if (err instanceof OutputError && err.quiet) return;
    const verbose = this.flags?.verbose || /zkctl/.test(process.env.DEBUG ?? '');
    // An error that carries facts for scripts: with -o json / --json, one JSON object on stdout too.
    if (err instanceof ZkctlError && err.details && this.flags && (this.flags.json || this.flags.output === 'json')) {
      try {
        process.stdout.write(`${formatJson({ error: err.message, ...(err.hint ? { hint: err.hint } : {}), exitCode: code, ...err.details })}\n`);
      } catch {
        /* stdout gone: stderr still says it */
      }
    }
    process.stderr.write(`${formatError(err, this.id, usageLine(this.id, this.ctor.args))}\n`);
    if (verbose && err.stack) process.stderr.write(`${err.stack}\n`);
  }

  protected override async finally(err: Error | undefined): Promise<void> {
    for (const fn of this.cleanups.reverse()) {
      try {
        await fn();
      } catch {
        /* best effort */
      }
    }
    if (this._session) await this._session.close().catch(() => undefined);
    flushHeld();
    await super.finally(err);
  }
}

/** oclif's own parse errors carry `oclif.exit`; ours carry exitCode. */
export function errorExitCode(err: unknown): number {
  if (err instanceof ZkctlError) return err.exitCode;
  const oc = (err as { oclif?: { exit?: number } }).oclif;
  if (oc && typeof oc.exit === 'number') return oc.exit === 0 ? 0 : ExitCode.USAGE;
  if ((err as { code?: string }).code === 'EPIPE') return ExitCode.OK;
  return exitCodeOf(err);
}

/** `usage: zkctl get PATH [FORMAT] [flags]` from a command's argument definitions. */
export function usageLine(commandId: string | undefined, args: Record<string, { required?: boolean }> | undefined): string {
  const names = Object.entries(args ?? {}).map(([name, a]) => (a.required ? name.toUpperCase() : `[${name.toUpperCase()}]`));
  return `usage: zkctl ${(commandId ?? '').replace(/:/g, ' ')} ${[...names, '[flags]'].join(' ')}`.replace(/ +/g, ' ');
}

export function formatError(err: unknown, commandId?: string, usage?: string): string {
  const e = err as Error & { hint?: string; oclif?: unknown; args?: Array<{ name?: string; description?: string }> };
  // oclif's "Missing 1 required arg:\npath  znode path\n\nNote: ...": one line naming the argument, then the usage.
  if (e.oclif && Array.isArray(e.args) && /^Missing \d+ required arg/.test(e.message ?? '')) {
    const named = e.args.filter((a) => a.name);
    const what = named.map((a) => `${a.name!.toUpperCase()}${a.description ? ` (${a.description})` : ''}`).join(', ');
    const see = `zkctl ${commandId ? commandId.replace(/:/g, ' ') + ' ' : ''}--help`;
    return `zkctl: missing argument${named.length === 1 ? '' : 's'} ${what || '(see usage)'}\n${usage ?? `usage: ${see}`} (see: ${see})`;
  }
  // One line: oclif's multi-line errors ("The following errors occurred:\n  --a cannot also be provided when using --b\nSee more help...") are folded.
  const lines = (e.message ?? String(err))
    .split('\n')
    .map((l) => l.trim().replace(/^Error:\s*/, ''))
    .filter((l) => l && !/^The following errors? occurred:?$/i.test(l) && !/^See more help with --help$/i.test(l));
  let msg = lines.join('; ');
  if (e.oclif) msg = hideTypedValues(msg);
  if (e instanceof ZkctlError) {
    if (e.hint) msg += ` (${e.hint})`;
  } else if (e.oclif) {
    msg += ` (see: zkctl ${commandId ? commandId.replace(/:/g, ' ') + ' ' : ''}--help)`;
  }
  return `zkctl: ${msg}`;
}

/**
 * oclif's parse errors repeat what was typed ("Nonexistent flag: --aut=digest:u:S3cr3t"):
 * a value given with = may be a secret (a misspelt --auth), so every NAME=VALUE word of
 * the command line shows as NAME=… (the flag's name only).
 */
export function hideTypedValues(msg: string, argv: readonly string[] = process.argv.slice(2)): string {
  for (const a of argv) {
    const i = a.indexOf('=');
    if (i < 0 || i === a.length - 1) continue;
    msg = msg.split(a).join(`${a.slice(0, i)}=…`);
  }
  // Whatever oclif quotes that the argv did not match as a whole (e.g. --flag=value inside a longer word).
  return msg.replace(/(Nonexistent flags?: |Unexpected arguments?: )(.*)$/, (_m, head: string, rest: string) => head + rest.replace(/(-{0,2}[^\s=,]+)=[^,]*/g, '$1=…'));
}
