/**
 * Credentials as operators write them (--auth, ZKCTL_AUTH, a context's auth):
 * scheme:credential, e.g. digest:user:password. The one place that checks
 * them; messages never repeat the credential (it is a secret).
 */
import { UsageError } from './errors.js';
import type { AuthInfo } from './session.js';

/** Parse and check `spec`; `source` names where it came from in messages ("--auth", "ZKCTL_AUTH", ...). */
export function parseAuthSpec(spec: string, source = '--auth'): AuthInfo {
  const i = spec.indexOf(':');
  if (i <= 0 || i === spec.length - 1) throw new UsageError(`invalid ${source} value: expected scheme:credential`, 'e.g. digest:user:password');
  const scheme = spec.slice(0, i);
  const credential = spec.slice(i + 1);
  if (!/^[A-Za-z][A-Za-z0-9_.-]*$/.test(scheme)) throw new UsageError(`invalid ${source} value: the scheme must be a word (e.g. digest)`, 'e.g. digest:user:password');
  if (scheme === 'digest') {
    const j = credential.indexOf(':');
    if (j < 0) throw new UsageError(`invalid ${source} value: digest needs user:password, but no user was given`, 'use digest:user:password');
    if (j === 0) throw new UsageError(`invalid ${source} value: digest needs user:password, but the user is empty`, 'use digest:user:password');
  }
  return { scheme, credential };
}
