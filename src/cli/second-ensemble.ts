/**
 * A second ensemble for two-path commands (cp, diff): the --to-server,
 * --to-context and --to-auth flags and the session they name.
 */
import { Flags } from '@oclif/core';
import { Session } from '../core/session.js';
import { resolveConnection } from './context.js';

/** Flags naming a second ensemble (cp, diff). */
export const toFlags = {
  'to-server': Flags.string({
    summary: 'The second path is on this ensemble: host:port[,host:port...][/chroot].',
    helpGroup: 'SECOND ENSEMBLE',
  }),
  'to-context': Flags.string({ summary: 'The second path is on the ensemble of this context.', helpGroup: 'SECOND ENSEMBLE' }),
  'to-auth': Flags.string({
    summary: 'Authenticate to the second ensemble: scheme:credential (default: the --to-context auth; --auth is never sent there).',
    helpGroup: 'SECOND ENSEMBLE',
  }),
};

/**
 * The session for the second path: the command's own session unless --to-server
 * or --to-context names another ensemble (then a new one, closed at the end).
 * Returns the server string too (to tell whether both sides are the same place).
 */
export async function otherSession(
  own: () => Promise<Session>,
  onCleanup: (fn: () => Promise<void>) => void,
  flags: { 'to-server'?: string; 'to-context'?: string; 'to-auth'?: string; timeout?: string },
  extra: { renew?: boolean } = {},
): Promise<{ session: Session; server?: string }> {
  if (!flags['to-server'] && !flags['to-context']) return { session: await own() };
  const env = { ...process.env };
  delete env.ZKCTL_SERVER;
  delete env.ZKCTL_AUTH;
  delete env.ZKCTL_SASL_PASSWORD;
  const c = resolveConnection({ server: flags['to-server'], context: flags['to-context'], auth: flags['to-auth'], timeout: flags.timeout }, env);
  const s = await Session.connect({ connectString: c.server, timeoutMs: c.timeoutMs, auth: c.auth, ...(c.sasl ? { sasl: c.sasl } : {}), ...extra });
  onCleanup(() => s.close());
  return { session: s, server: c.server };
}
