/**
 * Each member's ZooKeeper version, from the `srvr` four-letter word (whitelisted by
 * default since 3.5), asked of all members at once, each with its own deadline.
 * A member that does not answer is reported, never thrown.
 */
import type { ConnectionOptions as TlsConnectionOptions } from 'node:tls';
import { parseConnectString } from '../core/connect-string.js';
import { fourLetterWord, NOT_SERVING, parseSrvr } from '../core/fourlw.js';

export interface ServerVersion {
  address: string;
  /** Reached and answered (version known, or "not serving"). */
  reachable: boolean;
  /** "3.8.0-..." as the server prints it; null when unknown. */
  version: string | null;
  mode: string | null;
  error?: string;
}

/** `tls`: ask over TLS with these options (secure client ports). */
export async function serverVersions(connectString: string, timeoutMs: number, tls?: TlsConnectionOptions): Promise<ServerVersion[]> {
  const { servers } = parseConnectString(connectString);
  return Promise.all(
    servers.map(async ({ host, port }): Promise<ServerVersion> => {
      const address = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
      try {
        const text = await fourLetterWord(host, port, 'srvr', { timeoutMs, ...(tls ? { tls } : {}) });
        if (text.includes(NOT_SERVING)) return { address, reachable: true, version: null, mode: 'not-serving', error: 'not serving requests (electing or no quorum)' };
        if (text.trim() === '' || /not in the whitelist/i.test(text)) return { address, reachable: true, version: null, mode: null, error: "'srvr' is not in the server's 4lw.commands.whitelist" };
        const s = parseSrvr(text, address);
        return { address, reachable: true, version: s.version.split(',')[0]!.trim().replace(/-\$\{[^}]*\}$/, ''), mode: s.mode };
      } catch (e) {
        return { address, reachable: false, version: null, mode: null, error: (e as Error).message.replace(`${address}: `, '') };
      }
    }),
  );
}
