/**
 * Who owns a session: the client address of each session connected to the
 * ensemble, from the `cons` four-letter word of every server (best effort:
 * servers that do not answer, or do not allow `cons`, are skipped).
 */
import { parseHostPort } from '../connect-string.js';
import { cons } from '../fourlw.js';
import { sessionHex } from '../session-id.js';

/** One `cons` line: ` /127.0.0.1:50412[1](queued=0,recved=9,sent=9,sid=0x10000a1b2c30001,...)`. */
const CONS_LINE = /^\/?(.+?)\[\d+\]\((.*)\)\s*$/;

/** Parse `cons` lines into session id (lower-case hex, "0x...") -> client address. */
export function parseCons(lines: readonly string[], into = new Map<string, string>()): Map<string, string> {
  for (const line of lines) {
    const m = CONS_LINE.exec(line.trim());
    if (!m) continue;
    const sid = /(?:^|,)sid=(0x[0-9a-fA-F]+)/.exec(m[2] ?? '');
    if (sid) into.set(sessionHex(BigInt(sid[1]!)), m[1]!);
  }
  return into;
}

/**
 * Session id -> client address ("host:port" as the server sees it) over all
 * `servers` ("host:port"). Never throws; an empty map when nothing answered.
 */
export async function sessionClients(servers: readonly string[], timeoutMs = 1500): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  await Promise.all(
    servers.map(async (s) => {
      try {
        const { host, port } = parseHostPort(s);
        parseCons(await cons(host, port, { timeoutMs }), out);
      } catch {
        /* not an address, not serving, not whitelisted, unreachable */
      }
    }),
  );
  return out;
}
