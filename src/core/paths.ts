/** Znode path validation and helpers (the rules of ZooKeeper's PathUtils.validatePath). */
import { UsageError } from './errors.js';

/**
 * Throws a UsageError saying what is wrong with `path`, or returns it normalised.
 * One trailing-slash rule everywhere (commands, the shell and its Tab completion):
 * a single trailing slash is accepted and dropped (`/app/` is `/app`; `/` stays `/`).
 * Except with `sequential`: there `/app/` is refused (dropping the slash would make `/app0000000001`,
 * a sibling, where `/app/0000000001` may have been meant).
 */
export function validatePath(path: string, opts: { sequential?: boolean } = {}): string {
  const given = path;
  const fail = (why: string, hint?: string): never => {
    throw new UsageError(`invalid path ${JSON.stringify(given)}: ${why}`, hint);
  };
  if (typeof path !== 'string' || path.length === 0) fail('path is empty', 'give an absolute path such as /app/config');
  if (path[0] !== '/') fail('path must start with /', `did you mean /${path}?`);
  if (path.length === 1) return path;
  if (path.endsWith('/') && opts.sequential) fail('the parent of a sequential node must not end with /', 'name a prefix, e.g. /app/job-');
  if (path.endsWith('/') && !path.endsWith('//')) path = path.slice(0, -1);
  const parts = path.split('/').slice(1);
  for (const part of parts) {
    if (part.length === 0) fail('empty segment (//) in path', `did you mean ${given.replace(/\/{2,}/g, '/').replace(/(.)\/$/, '$1')}?`);
    if (part === '.' || part === '..') fail(`relative segment "${part}" is not allowed`);
  }
  for (let i = 0; i < path.length; i++) {
    const c = path.charCodeAt(i);
    if (c === 0) fail('path contains a NUL character');
    if ((c > 0 && c < 0x1f) || (c > 0x7f && c < 0x9f) || (c > 0xd800 && c < 0xf8ff) || (c > 0xfff0 && c < 0xffff)) {
      fail(`path contains an invalid character (U+${c.toString(16).padStart(4, '0')})`);
    }
  }
  return path;
}

export function joinPath(parent: string, child: string): string {
  return parent === '/' ? `/${child}` : `${parent}/${child}`;
}

export function parentOf(path: string): string {
  const i = path.lastIndexOf('/');
  return i <= 0 ? '/' : path.slice(0, i);
}

export function baseName(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

/** True for /zookeeper and everything under it (the server's own subtree), as the server sees the path. */
export function isReserved(path: string): boolean {
  return path === '/zookeeper' || path.startsWith('/zookeeper/');
}

/** `path` as the server sees it under `chroot` ('' or e.g. /app): chroot + path. */
export function serverPath(path: string, chroot = ''): string {
  const c = chroot.replace(/\/+$/, '');
  if (!c) return path;
  return path === '/' ? c : `${c}${path}`;
}

/**
 * The /zookeeper guard for writers, on the server-side path: a UsageError when
 * `path` (under `chroot`) is in the server's own subtree. Under a chroot such as
 * /app, /zookeeper is an ordinary node; under /zookeeper (or below it) every path is refused.
 */
export function assertNotReserved(path: string, chroot = '', what = 'write'): void {
  const real = serverPath(path, chroot);
  if (!isReserved(real)) return;
  const where = real === path ? '' : ` (${real} on the server, through the chroot ${chroot})`;
  throw new UsageError(`refusing to ${what} ${path}${where}: /zookeeper is the server's own subtree`);
}
