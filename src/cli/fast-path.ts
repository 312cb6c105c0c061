/**
 * Start-up, run by the launcher (bin/zkctl.js):
 * - `fastPath`: `zkctl --version` answered from package.json with oclif's
 *   exact format, without importing @oclif/core (which alone costs about as
 *   much as starting node). Returns true when it handled the invocation.
 * - `importOclif`: @oclif/core from the start-up bundles (src/cli/vendor.ts),
 *   without the parts of its import that do nothing for zkctl.
 * - `oclifLoadOptions`: what oclif's config loads for this invocation (the
 *   core plugins only when the command may need them).
 * - `ensureUserEnv` (run by importOclif): a home directory for a uid with no
 *   passwd entry and no $HOME (containers run with an arbitrary uid).
 */
import { existsSync, lstatSync, mkdirSync, readFileSync } from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import os from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Interfaces } from '@oclif/core';

export function fastPath(argv: string[], write: (s: string) => void = (s) => process.stdout.write(s)): boolean {
  if (argv.length !== 1 || (argv[0] !== '--version' && argv[0] !== '-v')) return false;
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { name: string; version: string; oclif?: { bin?: string } };
  write(`${pkg.oclif?.bin ?? pkg.name}/${pkg.version} ${process.platform}-${process.arch} node-${process.version}\n`);
  return true;
}

/**
 * Import @oclif/core: first seed the module cache from the start-up bundles
 * (one file per package instead of ~150), then import the index without its
 * Node version check: that check loads all of `semver` (~50 files) to compare
 * the running Node with @oclif/core's own engines (>=18), which zkctl's
 * engines (>=20) already imply. The switch is set only while the index loads,
 * so child processes see the caller's environment unchanged.
 */
export async function importOclif(): Promise<typeof import('@oclif/core')> {
  ensureUserEnv();
  const { seedVendorModules } = await import('./vendor.js');
  seedVendorModules();
  const key = 'OCLIF_DISABLE_ENGINE_WARNING';
  const prev = process.env[key];
  process.env[key] = '1';
  try {
    return await import('@oclif/core');
  } finally {
    if (prev === undefined) delete process.env[key];
    else process.env[key] = prev;
  }
}

/**
 * oclif's load options for `argv` (its `execute({loadOptions})`). By default (`binUrl`) oclif
 * loads zkctl and its two core plugins, @oclif/plugin-help and -autocomplete, with
 * their package.json files and manifests. For a command or topic of zkctl's own (a file or
 * folder under the `oclif.commands` folder) run without `--help`/`-h`, this returns zkctl's
 * package.json without the core plugins: none of them has a hook such a run fires, and nothing in
 * zkctl's commands looks at other plugins (zkctl takes no third-party plugins).
 * Help, `autocomplete`, no or an unknown command: the default. `binUrl` is the
 * launcher's own URL (the package root is its folder's parent).
 */
export function oclifLoadOptions(argv: string[], binUrl: string): Interfaces.LoadOptions {
  const first = argv[0];
  const end = argv.indexOf('--');
  const beforeEnd = end >= 0 ? argv.slice(0, end) : argv;
  if (!first || !/^[a-z0-9][a-z0-9-]*$/i.test(first) || beforeEnd.includes('--help') || beforeEnd.includes('-h')) return binUrl;
  const root = resolve(fileURLToPath(new URL('../', binUrl))); // the package root (bin/..), as oclif finds it
  let pjson: Interfaces.PJSON;
  try {
    pjson = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as Interfaces.PJSON;
  } catch {
    return binUrl;
  }
  const commandsDir = pjson.oclif?.commands;
  if (typeof commandsDir !== 'string') return binUrl;
  const dir = join(root, commandsDir);
  if (!existsSync(join(dir, `${first}.js`)) && !existsSync(join(dir, first))) return binUrl;
  return { root, pjson: { ...pjson, oclif: { ...pjson.oclif, plugins: [] } } };
}

/**
 * For a uid with no passwd entry (OpenShift, Kubernetes runAsUser) Node's
 * os.homedir() (without $HOME) and os.userInfo() throw ENOENT, and oclif calls
 * both while loading. Then: $HOME becomes a private directory of this uid under
 * the temp dir (created 0700; refused if it is not ours or a symlink), so config
 * and state go under $XDG_CONFIG_HOME / $XDG_STATE_HOME when set, else there;
 * and os.userInfo() answers from the uid ("uid54321", no shell). One line on
 * stderr only when no such directory can be had (then $HOME is the temp dir
 * itself, and writing config or state fails with its own message).
 */
export function ensureUserEnv(env: NodeJS.ProcessEnv = process.env, warn: (s: string) => void = (s) => void process.stderr.write(s)): void {
  let passwd = true;
  try {
    os.userInfo();
  } catch {
    passwd = false;
  }
  if (!env.HOME) {
    let home: string | undefined;
    try {
      home = os.homedir();
    } catch {
      home = undefined;
    }
    if (!home) {
      const uid = typeof process.getuid === 'function' ? process.getuid() : -1;
      const dir = join(os.tmpdir(), `zkctl-home-${uid}`);
      try {
        mkdirSync(dir, { mode: 0o700 });
      } catch {
        /* exists, or cannot be made: checked below */
      }
      let ok = false;
      try {
        const st = lstatSync(dir);
        ok = st.isDirectory() && !st.isSymbolicLink() && (uid < 0 || st.uid === uid) && (st.mode & 0o077) === 0;
      } catch {
        ok = false;
      }
      if (ok) env.HOME = dir;
      else {
        env.HOME = os.tmpdir();
        warn(`zkctl: no home directory for uid ${uid} ($HOME unset, no passwd entry) and ${dir} is not usable: set HOME or XDG_CONFIG_HOME/XDG_STATE_HOME to a writable directory\n`);
      }
    }
  }
  if (!passwd) {
    const real = os.userInfo;
    const fallback = (): os.UserInfo<string> => {
      const uid = typeof process.getuid === 'function' ? process.getuid() : -1;
      const gid = typeof process.getgid === 'function' ? process.getgid() : -1;
      return { uid, gid, username: env.USER || env.LOGNAME || `uid${uid}`, homedir: env.HOME ?? os.tmpdir(), shell: null };
    };
    const patched = ((options?: { encoding: BufferEncoding | 'buffer' }) => {
      try {
        return real(options as { encoding: BufferEncoding });
      } catch {
        return fallback();
      }
    }) as typeof os.userInfo;
    try {
      os.userInfo = patched;
      syncBuiltinESMExports();
    } catch {
      /* read-only: oclif then fails as before */
    }
  }
}
