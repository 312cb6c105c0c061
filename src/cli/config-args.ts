/**
 * `config publish|diff PATH FILE`: the config path is the first argument, as in
 * config get/history/rollback/watch. The old `-p/--path` flag still works (then
 * the one argument is FILE) with a one-line deprecation note on stderr.
 */
import { Args, Flags } from '@oclif/core';
import { UsageError } from '../core/errors.js';

export const configPathFileArgs = {
  path: Args.string({ description: 'znode path the document is published under' }),
  file: Args.string({ description: 'YAML file ("-": stdin)' }),
};

export const deprecatedPathFlag = Flags.string({
  char: 'p',
  summary: 'Deprecated: give PATH as the first argument.',
  hidden: true,
  helpValue: 'PATH',
});

/** PATH and FILE from `PATH FILE`, or (deprecated) `FILE --path PATH`. */
export function configPathAndFile(cmd: string, args: { path?: string; file?: string }, flagPath: string | undefined, warn: (s: string) => void = (s) => process.stderr.write(`${s}\n`)): { path: string; file: string } {
  const usage = `zkctl ${cmd} PATH FILE`;
  if (flagPath !== undefined) {
    if (args.file !== undefined) throw new UsageError(`both --path ${flagPath} and two arguments given`, `give the path once: ${usage}`);
    if (args.path === undefined) throw new UsageError('missing FILE', `usage: ${usage}`);
    warn(`zkctl: warning: --path is deprecated; give the path as the first argument: ${usage}`);
    return { path: flagPath, file: args.path };
  }
  if (args.path === undefined) throw new UsageError('missing PATH and FILE', `usage: ${usage}`);
  if (args.file === undefined) {
    throw new UsageError(`missing FILE (or PATH): '${args.path}' alone`, `usage: ${usage} (the path comes first, as in zkctl config get PATH)`);
  }
  if (!args.path.startsWith('/') && args.file.startsWith('/')) {
    throw new UsageError(`'${args.path}' is not a znode path`, `the path comes first: zkctl ${cmd} ${args.file} ${args.path}`);
  }
  return { path: args.path, file: args.file };
}
