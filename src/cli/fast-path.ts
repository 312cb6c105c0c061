/**
 * Start-up, run by the launcher (bin/zkctl.js):
 * - `fastPath`: `zkctl --version` answered from package.json with oclif's
 *   exact format, without importing @oclif/core (which alone costs about as
 *   much as starting node). Returns true when it handled the invocation.
 * - `importOclif`: @oclif/core from the start-up bundles (src/cli/vendor.ts),
 *   without the parts of its import that do nothing for zkctl.
 */
import { readFileSync } from 'node:fs';

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
