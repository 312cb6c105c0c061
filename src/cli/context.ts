/**
 * Contexts file and connection resolution.
 *
 * Server: -s/--server, else ZKCTL_SERVER, else the context (--context NAME or
 * the file's current-context), else 127.0.0.1:2181.
 * File: $XDG_CONFIG_HOME/zkctl/config.yaml (default ~/.config/zkctl/config.yaml):
 *
 *   current-context: local
 *   contexts:
 *     local:
 *       server: 127.0.0.1:2181,127.0.0.1:2182,127.0.0.1:2183
 *       auth: digest:user:password      # optional
 *       timeout: 10s                    # optional
 *       ensemble-dir: /root/.local/state/zkctl/ensembles/local   # set by `ensemble up`
 *       tls:                            # optional: connect over TLS (a secureClientPort)
 *         ca: /path/ca.pem              #   each key optional; {} = TLS with the system CAs
 *         cert: /path/client.pem
 *         key: /path/client.pem
 *         pfx: /path/client.p12         #   instead of cert/key, with pfx-password-file
 *         pfx-password-file: /path/client.p12.password
 *         server-name: zk.example.com
 *       client-config: /etc/zookeeper/client.properties   # optional: a Java client configuration (TLS part)
 *       sasl:                           # optional: SASL DIGEST-MD5 (see resolveSasl)
 *         user: bob
 *         password-file: /path/0600-file  # or jaas: /path/jaas.conf (its Client section)
 */
import { accessSync, constants, existsSync, lstatSync, mkdirSync, readFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { dirname, isAbsolute, join } from 'node:path';
import { UsageError, ZkctlError } from '../core/errors.js';
import { parseConnectString } from '../core/connect-string.js';
import { parseDuration } from '../core/duration.js';
import { FileWriteError, updateFileSync } from '../core/file-write.js';
import { parseAuthSpec } from '../core/auth.js';
import { parseYamlFile } from '../core/yaml-input.js';
import { yaml } from '../core/lazy.js';
import type { AuthInfo } from '../core/session.js';
import type { TlsSettings } from '../core/security/tls.js';
import { tlsFromClientConfig } from '../core/security/client-config.js';

/** A context's `tls:` mapping (file paths). */
export interface ContextTls {
  ca?: string;
  cert?: string;
  key?: string;
  pfx?: string;
  'pfx-password-file'?: string;
  'server-name'?: string;
}
const CONTEXT_TLS_KEYS = ['ca', 'cert', 'key', 'pfx', 'pfx-password-file', 'server-name'] as const;
import type { SaslCredentials } from '../core/security/sasl.js';
import { jaasClientCredentials } from '../core/security/jaas.js';

export interface Context {
  server: string;
  auth?: string;
  timeout?: string;
  'ensemble-dir'?: string;
  tls?: ContextTls;
  'client-config'?: string;
  /** SASL DIGEST-MD5: the user and where the password is (never the password itself). */
  sasl?: ContextSasl;
}

export interface ContextSasl {
  user?: string;
  'password-file'?: string;
  /** A JAAS file whose Client section holds user and password (instead of user/password-file). */
  jaas?: string;
}

export interface ConfigFile {
  'current-context'?: string;
  contexts: Record<string, Context>;
}

export const DEFAULT_SERVER = '127.0.0.1:2181';
export const DEFAULT_TIMEOUT_MS = 10_000;

/** $HOME, else the passwd entry's home; undefined when neither is known (an arbitrary uid with HOME unset). */
function homeOf(env: NodeJS.ProcessEnv): string | undefined {
  if (env.HOME && isAbsolute(env.HOME)) return env.HOME;
  if (env.HOME !== undefined) return undefined;
  try {
    const h = homedir();
    return h && isAbsolute(h) ? h : undefined;
  } catch {
    return undefined; // uv_os_get_passwd: no passwd entry for this uid
  }
}

/** Can `dir` (or, if it does not exist yet, its nearest existing ancestor) be written? */
function writableDir(dir: string): boolean {
  for (let d = dir; ; d = dirname(d)) {
    try {
      lstatSync(d);
    } catch {
      if (dirname(d) === d) return false;
      continue;
    }
    try {
      accessSync(d, constants.W_OK | constants.X_OK);
      return true;
    } catch {
      return false;
    }
  }
}

/**
 * $XDG_STATE_HOME/zkctl; else $HOME/.local/state/zkctl; else (no home, or one that cannot be
 * written) a private directory under $TMPDIR, beside fallbackConfigHome().
 */
export function stateDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.XDG_STATE_HOME && isAbsolute(env.XDG_STATE_HOME)) return join(env.XDG_STATE_HOME, 'zkctl');
  const home = homeOf(env);
  if (home) {
    const d = join(home, '.local', 'state', 'zkctl');
    if (existsSync(d) || writableDir(d)) return d;
  }
  return join(dirname(fallbackConfigHome()), 'state');
}

/** The last resort when there is no usable home: a private directory under the temp dir. */
export function fallbackConfigHome(): string {
  return join(tmpdir(), `zkctl-${process.getuid?.() ?? 'user'}`, 'config');
}

/**
 * The contexts file: $XDG_CONFIG_HOME/zkctl/config.yaml; else $HOME/.config/zkctl/config.yaml
 * (HOME, else the passwd entry); else, when there is no home or it can hold no contexts file
 * (HOME unset for a uid without a passwd entry, a read-only HOME without one), a private
 * directory under $TMPDIR (fallbackConfigHome()).
 */
export function configPath(env: NodeJS.ProcessEnv = process.env): string {
  if (env.XDG_CONFIG_HOME && isAbsolute(env.XDG_CONFIG_HOME)) return join(env.XDG_CONFIG_HOME, 'zkctl', 'config.yaml');
  const home = homeOf(env);
  if (home) {
    const p = join(home, '.config', 'zkctl', 'config.yaml');
    if (existsSync(p) || writableDir(dirname(p))) return p;
  }
  return join(fallbackConfigHome(), 'zkctl', 'config.yaml');
}

/** The fallback directory must be ours and private: anyone could have made it in /tmp. */
function checkFallback(path: string): void {
  const root = dirname(fallbackConfigHome());
  if (!path.startsWith(`${root}/`)) return;
  let st;
  try {
    st = lstatSync(root);
  } catch {
    return;
  }
  const uid = process.getuid?.();
  if (!st.isDirectory() || (uid !== undefined && st.uid !== uid) || (st.mode & 0o077) !== 0) {
    throw new UsageError(`${root} is not a private directory of this user: not using it for contexts`, 'set XDG_CONFIG_HOME or HOME to a writable directory');
  }
}

export function loadConfig(path = configPath()): ConfigFile {
  checkFallback(path);
  if (!existsSync(path)) return { contexts: {} };
  let doc: unknown;
  try {
    const text = readFileSync(path, 'utf8');
    doc = parseContextsText(text) ?? parseYamlFile(text);
  } catch (e) {
    throw new UsageError(`cannot read ${path}: ${(e as Error).message.split('\n')[0]}`, 'fix or remove the file');
  }
  return checkConfig(doc, path);
}

/** The file's shape: a mapping, `contexts` a mapping of names, `current-context` a name. Entries are checked when used (checkContext). */
function checkConfig(doc: unknown, path: string): ConfigFile {
  if (doc == null) return { contexts: {} };
  if (typeof doc !== 'object' || Array.isArray(doc)) throw new UsageError(`${path}: expected a mapping with current-context and contexts`, 'fix or remove the file');
  const cfg = doc as ConfigFile;
  if (cfg.contexts == null) cfg.contexts = {};
  else if (typeof cfg.contexts !== 'object' || Array.isArray(cfg.contexts)) {
    throw new UsageError(`${path}: contexts must be a mapping of NAME: {server: ...}, not ${Array.isArray(cfg.contexts) ? 'a list' : typeof cfg.contexts}`, 'fix or remove the file');
  }
  const cur = cfg['current-context'];
  if (cur === null) delete cfg['current-context'];
  else if (cur !== undefined && (typeof cur !== 'string' || cur === '')) {
    throw new UsageError(`${path}: current-context must be a context name, not ${JSON.stringify(cur)}`, 'zkctl context use NAME');
  }
  return cfg;
}

/** A context entry as the file has it, checked: a mapping whose server is a connect string, auth and timeout strings. */
export function checkContext(entry: unknown, name: string, path: string): Context {
  const where = `${path}: context "${name}"`;
  if (entry == null || typeof entry !== 'object' || Array.isArray(entry)) throw new UsageError(`${where} is empty or not a mapping`, `set it again: zkctl context set ${name} --server HOST:PORT`);
  const c = entry as Record<string, unknown>;
  for (const key of ['server', 'auth', 'timeout', 'ensemble-dir', 'client-config']) {
    const v = c[key];
    if (v !== undefined && v !== null && typeof v !== 'string') {
      throw new UsageError(`${where}: ${key} must be a string${key === 'server' ? ' (host:port[,host:port...][/chroot])' : ''}, not ${typeof v === 'object' ? JSON.stringify(v) : `the ${typeof v} ${String(v)}`}`, 'quote it, or zkctl context set');
    }
  }
  if (typeof c.server !== 'string' || c.server === '') throw new UsageError(`${where} has no server`, `zkctl context set ${name} --server HOST:PORT`);
  if (c.tls !== undefined && c.tls !== null) {
    const t = c.tls;
    if (typeof t !== 'object' || Array.isArray(t)) throw new UsageError(`${where}: tls must be a mapping of ${CONTEXT_TLS_KEYS.join(', ')} (file paths; {} for the system CAs)`);
    for (const [k, v] of Object.entries(t as Record<string, unknown>)) {
      if (!(CONTEXT_TLS_KEYS as readonly string[]).includes(k)) throw new UsageError(`${where}: tls has an unknown key ${JSON.stringify(k)} (known: ${CONTEXT_TLS_KEYS.join(', ')})`);
      if (v !== null && typeof v !== 'string') throw new UsageError(`${where}: tls.${k} must be a string (a file path${k === 'server-name' ? ' or a name' : ''})`);
    }
  }
  if (c.sasl !== undefined && c.sasl !== null) {
    const sasl = c.sasl as Record<string, unknown>;
    const keys = ['user', 'password-file', 'jaas'];
    if (typeof sasl !== 'object' || Array.isArray(sasl) || Object.entries(sasl).some(([k, v]) => !keys.includes(k) || typeof v !== 'string')) {
      throw new UsageError(`${where}: sasl must be a mapping of user, password-file (or jaas) to strings`, 'e.g. sasl: {user: bob, password-file: /path/to/0600-file}');
    }
  }
  return c as unknown as Context;
}

/** A plain scalar YAML reads as this very string: no quoting, spaces, comments, flow or block syntax, and not a number, boolean or null. */
const PLAIN = /^[A-Za-z0-9_/][A-Za-z0-9_.,:/@%+=-]*$/;
const NOT_A_STRING = /^(?:[-+]?(?:\d[\d_]*)?\.?\d*(?:[eE][-+]?\d+)?|0x[0-9a-fA-F_]+|0o[0-7_]+|0b[01_]+|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)|true|True|TRUE|false|False|FALSE|null|Null|NULL|y|Y|yes|Yes|YES|n|N|no|No|NO|on|On|ON|off|Off|OFF|[-+]?[\d._]+(?:[eE][-+]?\d+)?)$/;
const plainString = (v: string): boolean => PLAIN.test(v) && !NOT_A_STRING.test(v) && !v.includes(': ') && !v.endsWith(':');

/**
 * The contexts file as zkctl writes it (`saveConfig`: yaml's layout of a ConfigFile), read without
 * loading yaml, which costs a one-shot command more than its connection:
 *
 *   contexts:
 *     NAME:
 *       KEY: VALUE
 *   current-context: NAME
 *
 * with every name, key and value a plain string (see `plainString`). Anything else (comments,
 * quoting, other layouts, duplicate keys) returns undefined, and the caller parses it with yaml;
 * test/cli/startup.test.ts checks both give the same.
 */
export function parseContextsText(text: string): ConfigFile | undefined {
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  const doc: Record<string, unknown> = {};
  let contexts: Record<string, Record<string, string>> | undefined;
  let current: Record<string, string> | undefined;
  for (const line of lines) {
    let m: RegExpExecArray | null;
    if ((m = /^([a-z-]+):(?: (.*))?$/.exec(line))) {
      const [, key, value] = m;
      if (key in doc) return undefined;
      current = undefined;
      if (key === 'contexts' && value === undefined) doc[key] = contexts = {};
      else if (key === 'contexts' && value === '{}') doc[key] = {};
      else if (key === 'current-context' && value !== undefined && plainString(value)) doc[key] = value;
      else return undefined;
    } else if ((m = /^ {2}([^ ].*):$/.exec(line))) {
      const name = m[1];
      if (!contexts || !plainString(name) || Object.prototype.hasOwnProperty.call(contexts, name)) return undefined;
      contexts[name] = current = {};
    } else if ((m = /^ {4}([a-z-]+): (.+)$/.exec(line))) {
      const [, key, value] = m;
      if (!current || !plainString(value) || Object.prototype.hasOwnProperty.call(current, key)) return undefined;
      current[key] = value;
    } else {
      return undefined;
    }
  }
  // "contexts:" or "NAME:" with nothing under it is null to yaml
  if (contexts && (Object.keys(contexts).length === 0 || Object.values(contexts).some((c) => Object.keys(c).length === 0))) return undefined;
  if (!('contexts' in doc)) return undefined;
  return doc as unknown as ConfigFile;
}

/** A one-line hint for a contexts file that cannot be written. */
function unwritable(path: string, e: unknown): ZkctlError {
  if (e instanceof ZkctlError && !(e instanceof FileWriteError)) return e;
  const cause = e instanceof FileWriteError ? e.message.replace(/^cannot write [^:]*: /, '') : (e as Error).message;
  return new ZkctlError(`cannot write the contexts file ${path}: ${cause}`, 1, { hint: `${dirname(path)} must be writable; or set XDG_CONFIG_HOME to a writable directory` });
}

/**
 * Read-modify-write the contexts file under its lock (core/file-lock.ts), atomically and with
 * mode 0600 (contexts may hold credentials): concurrent `context set`, `ensemble up` ... all land.
 * `fn` changes the file's contents in place; it is written only if they changed.
 */
export function updateConfig<T>(fn: (cfg: ConfigFile) => T, path = configPath()): T {
  checkFallback(path);
  try {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  } catch (e) {
    throw unwritable(path, e);
  }
  checkFallback(path);
  let result: T | undefined;
  let wrote = false;
  try {
    wrote = updateFileSync(
      path,
      (current) => {
        let doc: unknown;
        if (current !== undefined) {
          const text = current.toString('utf8');
          try {
            doc = parseContextsText(text) ?? yaml().parse(text);
          } catch (e) {
            throw new UsageError(`cannot read ${path}: ${(e as Error).message.split('\n')[0]}`, 'fix or remove the file');
          }
        }
        const cfg = checkConfig(doc, path);
        const before = JSON.stringify(cfg);
        result = fn(cfg);
        return JSON.stringify(cfg) === before ? undefined : yaml().stringify(cfg);
      },
      { private: true },
    );
  } catch (e) {
    throw unwritable(path, e);
  }
  if (wrote && path.startsWith(`${dirname(fallbackConfigHome())}/`)) {
    process.stderr.write(`zkctl: note: no writable home directory (HOME=${process.env.HOME ?? 'unset'}); contexts are kept in ${path} (set XDG_CONFIG_HOME to keep them elsewhere)\n`);
  }
  return result as T;
}

/** Replace the whole file (under the lock). Prefer updateConfig: this loses concurrent changes. */
export function saveConfig(cfg: ConfigFile, path = configPath()): void {
  updateConfig((c) => {
    c.contexts = cfg.contexts;
    if (cfg['current-context'] === undefined) delete c['current-context'];
    else c['current-context'] = cfg['current-context'];
  }, path);
}

/** Create or update the context `name`: `ctx` is merged over what the context had. */
export function setContext(name: string, ctx: Partial<Context> & { server: string }, opts: { makeCurrent?: boolean; path?: string } = {}): void {
  updateConfig((cfg) => {
    const prev = cfg.contexts[name];
    cfg.contexts[name] = { ...(prev && typeof prev === 'object' ? prev : {}), ...ctx };
    if (opts.makeCurrent || !cfg['current-context']) cfg['current-context'] = name;
  }, opts.path);
}

/**
 * Point every context whose ensemble-dir is `dir` at the ensemble's members now (after
 * `ensemble add` / `remove`), keeping a chroot the context's server had (a context with tls: at
 * the secure client ports, when the ensemble has them). Returns the contexts
 * changed; the file is written only when one changed.
 */
export function updateEnsembleContexts(dir: string, connectString: string, path = configPath(), secureConnectString?: string): string[] {
  if (!existsSync(path)) return [];
  return updateConfig((cfg) => {
    const changed: string[] = [];
    for (const [name, ctx] of Object.entries(cfg.contexts)) {
      if (!ctx || typeof ctx !== 'object' || ctx['ensemble-dir'] !== dir) continue;
      let chroot = '';
      try {
        chroot = parseConnectString(ctx.server).chroot;
      } catch {
        /* an unreadable server string is replaced by the ensemble's */
      }
      // A context that connects over TLS follows the secure client ports.
      const server = `${ctx.tls && secureConnectString ? secureConnectString : connectString}${chroot}`;
      if (ctx.server === server) continue;
      ctx.server = server;
      changed.push(name);
    }
    return changed;
  }, path);
}

export interface ConnectionSettings {
  server: string;
  auth: AuthInfo[];
  timeoutMs: number;
  /** Connect over TLS with these files (undefined: plain TCP). */
  tls?: TlsSettings;
  /** SASL DIGEST-MD5 credentials, when any source gives them (resolveSasl). */
  sasl?: SaslCredentials;
  /** where the server came from: flag, env, context:NAME, default */
  source: string;
  context?: string;
}

export function parseAuth(spec: string, source = '--auth'): AuthInfo {
  return parseAuthSpec(spec, source);
}

export function validateServer(server: string): string {
  parseConnectString(server);
  return server;
}

/** The contexts file's current-context names no context (exit 2). */
export class DanglingContextError extends UsageError {}

/** The TLS flags (src/cli/base.ts connectionFlags). */
export interface TlsFlags {
  tls?: boolean;
  'tls-ca'?: string;
  'tls-cert'?: string;
  'tls-key'?: string;
  'tls-pfx'?: string;
  'tls-pfx-password-file'?: string;
  'tls-server-name'?: string;
  'client-config'?: string;
}

/** TLS flag -> (env variable, context key, settings field). */
const TLS_FIELDS = [
  ['tls-ca', 'ZKCTL_TLS_CA', 'ca', 'ca'],
  ['tls-cert', 'ZKCTL_TLS_CERT', 'cert', 'cert'],
  ['tls-key', 'ZKCTL_TLS_KEY', 'key', 'key'],
  ['tls-pfx', 'ZKCTL_TLS_PFX', 'pfx', 'pfx'],
  ['tls-pfx-password-file', 'ZKCTL_TLS_PFX_PASSWORD_FILE', 'pfx-password-file', 'pfxPasswordFile'],
  ['tls-server-name', 'ZKCTL_TLS_SERVER_NAME', 'server-name', 'serverName'],
] as const;

const truthy = (v: string | undefined): boolean => v !== undefined && /^(1|true|yes|on)$/i.test(v.trim());

/**
 * TLS settings, field by field: flag > env ZKCTL_TLS_* > --client-config / ZKCTL_CLIENT_CONFIG /
 * the context's client-config > the context's tls mapping. TLS is on when any of them gives a
 * field, --tls / ZKCTL_TLS=1 asks for it (the system CAs), the context has `tls:`, or a client
 * configuration says zookeeper.client.secure=true.
 */
export function resolveTls(flags: TlsFlags, env: NodeJS.ProcessEnv, ctx: Context | undefined, ctxName: string | undefined): TlsSettings | undefined {
  const ccPath = flags['client-config'] ?? (env.ZKCTL_CLIENT_CONFIG || undefined) ?? ctx?.['client-config'];
  const fromCc = ccPath ? tlsFromClientConfig(ccPath) : undefined;
  const ctxTls = ctx?.tls && typeof ctx.tls === 'object' ? ctx.tls : undefined;
  let on = !!flags.tls || truthy(env.ZKCTL_TLS) || ctxTls !== undefined || fromCc !== undefined;
  const s: TlsSettings = { ...(fromCc ?? {}) };
  const sources: string[] = fromCc?.source ? [fromCc.source] : [];
  if (ctxTls) sources.push(`context ${ctxName}`);
  for (const [flag, envName, ctxKey, field] of TLS_FIELDS) {
    const v = flags[flag] ?? (env[envName] || undefined) ?? (fromCc && field in fromCc ? undefined : (ctxTls?.[ctxKey] ?? undefined));
    if (v === undefined) continue;
    on = true;
    if (flags[flag] !== undefined) sources.push(`--${flag}`);
    else if (env[envName]) sources.push(envName);
    // A PEM pair or a PKCS#12 file: the one given by the stronger source replaces the other.
    if (field === 'pfx') {
      delete s.cert;
      delete s.key;
    } else if (field === 'cert' || field === 'key') {
      delete s.pfx;
      delete s.pfxPassword;
    }
    s[field] = v;
  }
  if (!on) return undefined;
  const uniq = [...new Set(sources)];
  if (uniq.length) s.source = uniq.join(', ');
  else delete s.source;
  return s;
}

/** Resolve where to connect and how, following the precedence in DESIGN.md. */
export function resolveConnection(
  flags: { server?: string; context?: string; timeout?: string; auth?: string; sasl?: string; 'sasl-password-file'?: string; jaas?: string } & TlsFlags,
  env: NodeJS.ProcessEnv = process.env,
): ConnectionSettings {
  let ctx: Context | undefined;
  let ctxName: string | undefined;
  const needContext = !flags.server && !env.ZKCTL_SERVER;
  if (flags.context || needContext) {
    const path = configPath(env);
    const cfg = loadConfig(path);
    ctxName = flags.context ?? cfg['current-context'];
    if (flags.context && !Object.prototype.hasOwnProperty.call(cfg.contexts, flags.context)) {
      throw new UsageError(`no context named "${flags.context}"`, `see zkctl context ls (${path})`);
    }
    if (ctxName) {
      // A current-context naming nothing must not quietly become 127.0.0.1:2181 (another ensemble).
      if (!Object.prototype.hasOwnProperty.call(cfg.contexts, ctxName)) {
        throw new DanglingContextError(`${path}: current-context "${ctxName}" names no context`, 'zkctl context use NAME (zkctl context ls), or -s HOST:PORT');
      }
      ctx = checkContext(cfg.contexts[ctxName], ctxName, path);
    }
  }
  let server: string;
  let source: string;
  if (flags.server) {
    server = flags.server;
    source = 'flag';
  } else if (env.ZKCTL_SERVER) {
    server = env.ZKCTL_SERVER;
    source = 'env ZKCTL_SERVER';
  } else if (ctx?.server) {
    server = ctx.server;
    source = `context ${ctxName}`;
  } else {
    server = DEFAULT_SERVER;
    source = 'default';
  }
  validateServer(server);
  const authSpec = flags.auth ?? env.ZKCTL_AUTH ?? ctx?.auth;
  const timeoutSpec = flags.timeout ?? ctx?.timeout;
  const timeoutMs = timeoutSpec ? parseDuration(timeoutSpec, '--timeout') : DEFAULT_TIMEOUT_MS;
  if (timeoutMs <= 0) throw new UsageError('--timeout must be positive');
  const authFrom = flags.auth !== undefined ? '--auth' : env.ZKCTL_AUTH !== undefined ? 'ZKCTL_AUTH' : `auth of context ${ctxName}`;
  const tls = resolveTls(flags, env, ctx, ctxName);
  const sasl = resolveSasl(flags, env, ctx?.sasl ?? undefined, ctxName);
  return { server, auth: authSpec ? [parseAuth(authSpec, authFrom)] : [], timeoutMs, ...(sasl ? { sasl } : {}), source, context: ctx ? ctxName : undefined, ...(tls ? { tls } : {}) };
}

/**
 * SASL DIGEST-MD5 credentials: --jaas FILE (its Client section); else the user from --sasl USER,
 * else the context's sasl.user, with the password from --sasl-password-file FILE, else
 * $ZKCTL_SASL_PASSWORD, else the context's sasl.password-file; else the context's sasl.jaas.
 * None of them: no SASL ($ZKCTL_SASL_PASSWORD alone turns nothing on). A user without a password
 * (or a password without a user) is a usage error; no message ever holds the password.
 */
export function resolveSasl(
  flags: { sasl?: string; 'sasl-password-file'?: string; jaas?: string },
  env: NodeJS.ProcessEnv,
  ctx: ContextSasl | undefined,
  ctxName?: string,
): SaslCredentials | undefined {
  if (flags.jaas !== undefined) return jaasClientCredentials(flags.jaas);
  const user = flags.sasl ?? ctx?.user;
  const userFrom = flags.sasl !== undefined ? '--sasl' : `the sasl.user of context ${ctxName}`;
  if (user === undefined) {
    if (flags['sasl-password-file'] !== undefined) throw new UsageError('--sasl-password-file needs --sasl USER', 'e.g. --sasl bob --sasl-password-file ./bob.password');
    if (ctx?.jaas) return jaasClientCredentials(ctx.jaas);
    return undefined;
  }
  if (user === '' || /[\u0000-\u001f]/.test(user)) throw new UsageError(`${userFrom}: the SASL user must be a non-empty name without control characters`);
  let password: string | undefined;
  if (flags['sasl-password-file'] !== undefined) password = readSecretFile(flags['sasl-password-file'], '--sasl-password-file');
  else if (env.ZKCTL_SASL_PASSWORD !== undefined && env.ZKCTL_SASL_PASSWORD !== '') password = env.ZKCTL_SASL_PASSWORD;
  else if (ctx?.['password-file']) password = readSecretFile(ctx['password-file'], `the sasl.password-file of context ${ctxName}`);
  if (password === undefined) {
    throw new UsageError(`SASL user '${user}' (${userFrom}) has no password`, 'give --sasl-password-file FILE or $ZKCTL_SASL_PASSWORD (or password-file in the context\'s sasl field)');
  }
  return { user, password };
}

/** A secret kept in a file (one line; a trailing newline is not part of it). */
export function readSecretFile(path: string, what: string): string {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new UsageError(`${what} ${path}: cannot read it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  const secret = text.replace(/\r?\n$/, '');
  if (secret === '') throw new UsageError(`${what} ${path}: the file is empty`);
  if (secret.includes('\n')) throw new UsageError(`${what} ${path}: expected one line (the password), found several`);
  return secret;
}
