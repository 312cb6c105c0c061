/**
 * Start-up fast path, run by the launcher before oclif loads: `zkctl --version`
 * answered from package.json with oclif's exact format, without importing
 * @oclif/core (which alone costs about as much as starting node).
 * Returns true when it handled the invocation.
 */
import { readFileSync } from 'node:fs';

export function fastPath(argv: string[], write: (s: string) => void = (s) => process.stdout.write(s)): boolean {
  if (argv.length !== 1 || (argv[0] !== '--version' && argv[0] !== '-v')) return false;
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { name: string; version: string; oclif?: { bin?: string } };
  write(`${pkg.oclif?.bin ?? pkg.name}/${pkg.version} ${process.platform}-${process.arch} node-${process.version}\n`);
  return true;
}
