import v8 from 'node:v8';
/**
 * What the znode commands (ls, get, create, rm, find, acl ...) share on the
 * CLI side: path arguments checked before connecting, the version / data /
 * ACL flags, the /zookeeper guard, Ctrl-C as an AbortSignal, and how walks
 * treat nodes they may not read.
 */
import { Args, Flags } from '@oclif/core';
import { ExitCode, ZkCode, type ZkError, ZkctlError, UsageError } from '../core/errors.js';
import { assertNotReserved, validatePath } from '../core/paths.js';
import { parseConnectString } from '../core/connect-string.js';
import { interruptTrap } from './stream.js';

/** A required PATH argument. */
export const pathArg = (description = 'znode path, e.g. /app/config') => Args.string({ required: true, description });

/** Check a path given on the command line (exit 2 before connecting when it is bad). */
export function checkPath(path: string | undefined, opts: { sequential?: boolean } = {}): string {
  if (path === undefined) throw new UsageError('missing PATH', 'give an absolute path such as /app/config');
  return validatePath(path, opts);
}

/** The chroot part of a connect string ('' when none). */
export function chrootOf(server: string): string {
  return parseConnectString(server).chroot;
}

/**
 * Writers refuse the server's own /zookeeper subtree (quota and config live
 * there and are managed by the server), judged on the server-side path
 * (chroot + path): under a chroot /app, /zookeeper is an ordinary node; under
 * the chroot /zookeeper, everything is refused.
 */
export function assertWritable(path: string, server: string, what = 'write'): void {
  assertNotReserved(path, chrootOf(server), what);
}

export const versionFlag = Flags.string({
  char: 'v',
  summary: 'Only if the node is at this version (compare-and-set; exit 5 otherwise).',
  helpValue: 'VERSION',
});

export const fileFlag = Flags.string({ char: 'f', summary: 'Read the data from this file ("-": stdin).', helpValue: 'FILE' });

export const windowFlag = Flags.integer({
  summary: 'Most requests in flight at once while walking.',
  default: 1000,
  min: 1,
  max: 100_000,
  helpGroup: 'WALK',
});

/** An AbortSignal that Ctrl-C (SIGINT) and SIGTERM trip (cli/stream.ts); call the returned `dispose` when done. */
export function interruptSignal(): { signal: AbortSignal; dispose: () => void } {
  const trap = interruptTrap();
  return { signal: trap.signal, dispose: () => trap.dispose() };
}

/**
 * Walk error policy for read-only walks (find, grep, du, tree, ls -R,
 * ephemerals): a node this session may not read (NO_AUTH) is skipped with a
 * note on stderr, the walk goes on, and the command ends with exit 7 (like
 * find(1) going on past unreadable directories).
 */
export class Unreadable {
  readonly paths: string[] = [];
  /** `note` writes a line (no newline given); `hint` says how to authenticate (the shell: addauth). */
  constructor(
    private readonly note: (text: string) => void = (t) => process.stderr.write(`zkctl: ${t}\n`),
    private readonly hint = 'authenticate with --auth scheme:credential',
  ) {}
  readonly onError = (path: string, err: ZkError): 'skip' | 'throw' => {
    if (err.code !== ZkCode.NO_AUTH) return 'throw';
    this.paths.push(path);
    this.note(`${path}: not authorized (skipped)`);
    return 'skip';
  };
  /** Throw exit 7 when something was skipped. */
  check(): void {
    if (this.paths.length > 0) {
      throw new ZkctlError(`${this.paths.length} node(s) could not be read (not authorized)`, ExitCode.NO_AUTH, { hint: this.hint });
    }
  }
}

/**
 * Tree walks allocate a lot of short-lived buffers; V8's default heap growth
 * lets RSS run to several times what is live (100k-node export: 307 MB peak,
 * ~50 MB live). Growing the heap by 30% at a time keeps peak memory near what
 * is in use, at a small GC cost. Call once at the start of a walking command.
 */
export function boundHeapGrowth(): void {
  try {
    v8.setFlagsFromString('--heap-growing-percent=30');
  } catch {
    /* an unknown flag in another V8: only memory is at stake */
  }
}
