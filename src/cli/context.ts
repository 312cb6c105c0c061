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
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { UsageError } from '../core/errors.js';
import { parseAuthSpec } from '../core/auth.js';
import { parseDuration } from '../core/duration.js';
import { parseYamlFile } from '../core/yaml-input.js';
import { yaml } from '../core/lazy.js';
import type { AuthInfo } from '../core/session.js';

export interface Context {
  server: string;
  auth?: string;
  timeout?: string;
  'ensemble-dir'?: string;
}

export interface ConfigFile {
  'current-context'?: string;
  contexts: Record<string, Context>;
}

export const DEFAULT_SERVER = '127.0.0.1:2181';
export const DEFAULT_TIMEOUT_MS = 10_000;

export function configPath(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_CONFIG_HOME && env.XDG_CONFIG_HOME.length > 0 ? env.XDG_CONFIG_HOME : join(homedir(), '.config');
  return join(base, 'zkctl', 'config.yaml');
}

export function loadConfig(path = configPath()): ConfigFile {
  if (!existsSync(path)) return { contexts: {} };
  let doc: unknown;
  try {
    const text = readFileSync(path, 'utf8');
    doc = parseContextsText(text) ?? parseYamlFile(text);
  } catch (e) {
    throw new UsageError(`cannot read ${path}: ${(e as Error).message.split('\n')[0]}`, 'fix or remove the file');
  }
  if (doc == null) return { contexts: {} };
  if (typeof doc !== 'object' || Array.isArray(doc)) throw new UsageError(`${path}: expected a mapping with current-context and contexts`);
  const cfg = doc as ConfigFile;
  cfg.contexts = cfg.contexts ?? {};
  return cfg;
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

/** Write atomically (temp file + rename), mode 0600 since contexts may hold credentials. */
export function saveConfig(cfg: ConfigFile, path = configPath()): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, yaml().stringify(cfg), { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, path);
}

export function setContext(name: string, ctx: Context, opts: { makeCurrent?: boolean; path?: string } = {}): void {
  const cfg = loadConfig(opts.path);
  cfg.contexts[name] = ctx;
  if (opts.makeCurrent || !cfg['current-context']) cfg['current-context'] = name;
  saveConfig(cfg, opts.path);
}

/**
 * Point every context whose ensemble-dir is `dir` at the ensemble's members now (after
 * `ensemble add` / `remove`), keeping a chroot the context's server had. Returns the contexts
 * changed; the file is written only when one changed.
 */
export function updateEnsembleContexts(dir: string, connectString: string, path = configPath()): string[] {
  const cfg = loadConfig(path);
  const changed: string[] = [];
  for (const [name, ctx] of Object.entries(cfg.contexts)) {
    if (!ctx || ctx['ensemble-dir'] !== dir) continue;
    const slash = typeof ctx.server === 'string' ? ctx.server.indexOf('/') : -1;
    const server = slash >= 0 ? `${connectString}${ctx.server.slice(slash)}` : connectString;
    if (ctx.server === server) continue;
    ctx.server = server;
    changed.push(name);
  }
  if (changed.length > 0) saveConfig(cfg, path);
  return changed;
}

export interface ConnectionSettings {
  server: string;
  auth: AuthInfo[];
  timeoutMs: number;
  /** where the server came from: flag, env, context:NAME, default */
  source: string;
  context?: string;
}

export function parseAuth(spec: string, source = '--auth'): AuthInfo {
  return parseAuthSpec(spec, source);
}

export function validateServer(server: string): string {
  const [hosts, ...rest] = server.split('/');
  const chroot = rest.length ? `/${rest.join('/')}` : '';
  if (!hosts) throw new UsageError(`invalid server "${server}"`, 'use host:port[,host:port...][/chroot]');
  for (const h of hosts.split(',')) {
    const m = /^(\[[0-9a-fA-F:]+\]|[^:\s]+)(?::(\d+))?$/.exec(h.trim());
    if (!m || (m[2] !== undefined && (Number(m[2]) < 1 || Number(m[2]) > 65535))) {
      throw new UsageError(`invalid server address "${h}" in "${server}"`, 'use host:port[,host:port...][/chroot]');
    }
  }
  if (chroot && (chroot.endsWith('/') || chroot.includes('//'))) throw new UsageError(`invalid chroot "${chroot}" in "${server}"`);
  return server;
}

/** Resolve where to connect and how, following the precedence in DESIGN.md. */
export function resolveConnection(
  flags: { server?: string; context?: string; timeout?: string; auth?: string },
  env: NodeJS.ProcessEnv = process.env,
): ConnectionSettings {
  let ctx: Context | undefined;
  let ctxName: string | undefined;
  const needContext = !flags.server && !env.ZKCTL_SERVER;
  if (flags.context || needContext) {
    const cfg = loadConfig(configPath(env));
    ctxName = flags.context ?? cfg['current-context'];
    if (flags.context && !cfg.contexts[flags.context]) {
      throw new UsageError(`no context named "${flags.context}"`, `see zkctl context ls (${configPath(env)})`);
    }
    if (ctxName) ctx = cfg.contexts[ctxName];
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
  return { server, auth: authSpec ? [parseAuth(authSpec, authFrom)] : [], timeoutMs, source, context: ctx ? ctxName : undefined };
}
