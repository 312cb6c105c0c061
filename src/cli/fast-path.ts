/**
 * Start-up, run by the launcher (bin/zkctl.js):
 * - `fastPath`: `zkctl --version` answered from package.json with oclif's
 *   exact format, without importing @oclif/core (which alone costs about as
 *   much as starting node). Returns true when it handled the invocation.
 * - `importOclif`: @oclif/core from the start-up bundles (src/cli/vendor.ts),
 *   without the parts of its import that do nothing for zkctl.
 * - `oclifLoadOptions`: what oclif's config loads for this invocation (the
 *   core plugins only when the command may need them).
 */
import { existsSync, readFileSync } from 'node:fs';
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
 * loads zkctl and its three core plugins, @oclif/plugin-help, -autocomplete and -plugins, with
 * their package.json files and manifests. For a command or topic of zkctl's own (a file or
 * folder under the `oclif.commands` folder) run without `--help`/`-h`, this returns zkctl's
 * package.json without the core plugins: none of them has a hook such a run fires, and nothing in
 * zkctl's commands looks at other plugins. User plugins (`zkctl plugins install`) load as always.
 * Help, `plugins`, `autocomplete`, no or an unknown command: the default. `binUrl` is the
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
