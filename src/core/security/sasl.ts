/**
 * SASL DIGEST-MD5 client (RFC 2831), as ZooKeeper servers with
 * `org.apache.zookeeper.server.auth.DigestLoginModule` accept it. GSSAPI/Kerberos is out of scope.
 *
 * The exchange ZooKeeper 3.8 runs (verified on Debian's 3.8 against a server JAAS `Server` section):
 * 1. the client sends an empty token (opcode 102, GetSASLRequest); the server answers the
 *    challenge: realm="zk-sasl-md5", nonce, qop="auth", charset=utf-8, algorithm=md5-sess;
 * 2. the client sends the digest-response (digest-uri "zookeeper/zk-sasl-md5"); the server
 *    answers `rspauth=...` (which proves it knew the password too), and the session carries
 *    the identity `sasl:<user>`;
 * 3. a wrong password (or any request before SASL on a server that requires it) is answered with
 *    error -124 (SESSIONCLOSEDREQUIRESASLAUTH) and the connection closed.
 *
 * Failure semantics: every malformed challenge or a wrong rspauth is a SaslError (the caller
 * ends the session: exit 7). The password is never part of a message.
 */
import { createHash, randomBytes } from 'node:crypto';
import { ExitCode, ZkctlError } from '../errors.js';

/** ZooKeeper's SASL service and server name (ZooKeeperSaslServer / ZooKeeperSaslClient). */
export const ZK_SASL_PROTOCOL = 'zookeeper';
export const ZK_SASL_SERVER_NAME = 'zk-sasl-md5';

export interface SaslCredentials {
  user: string;
  password: string;
}

/** A SASL failure: exit 7 (authentication failed). */
export class SaslError extends ZkctlError {
  constructor(message: string, opts: { hint?: string } = {}) {
    super(message, ExitCode.NO_AUTH, opts);
  }
}

/** The hint every SASL failure carries: where the credentials come from. */
export const SASL_HINT = 'SASL DIGEST-MD5 credentials come from --sasl USER with --sasl-password-file FILE or $ZKCTL_SASL_PASSWORD, or --jaas FILE (a Client section), or the context\'s sasl field';

/** Parse a DIGEST-MD5 challenge: comma-separated key=value or key="quoted value" pairs. */
export function parseDirectives(text: string): Map<string, string> {
  const out = new Map<string, string>();
  let i = 0;
  const n = text.length;
  while (i < n) {
    while (i < n && (text[i] === ',' || text[i] === ' ' || text[i] === '\t')) i++;
    if (i >= n) break;
    const eq = text.indexOf('=', i);
    if (eq < 0) throw new SaslError(`malformed SASL challenge (no '=' after "${text.slice(i, i + 20)}")`);
    const key = text.slice(i, eq).trim().toLowerCase();
    i = eq + 1;
    let value = '';
    if (text[i] === '"') {
      i++;
      while (i < n && text[i] !== '"') {
        if (text[i] === '\\' && i + 1 < n) i++;
        value += text[i];
        i++;
      }
      if (i >= n) throw new SaslError('malformed SASL challenge (unterminated quoted value)');
      i++;
    } else {
      const end = text.indexOf(',', i);
      value = text.slice(i, end < 0 ? n : end).trim();
      i = end < 0 ? n : end;
    }
    // RFC 2831: realm may repeat; the first is kept (ZooKeeper sends one).
    if (!out.has(key)) out.set(key, value);
  }
  return out;
}

const md5 = (...parts: Array<Buffer | string>): Buffer => {
  const h = createHash('md5');
  for (const p of parts) h.update(p);
  return h.digest();
};
const hex = (b: Buffer): string => b.toString('hex');
const quote = (s: string): string => `"${s.replace(/(["\\])/g, '\\$1')}"`;

/** RFC 2831 2.1.2.1: with charset=utf-8, strings that fit ISO 8859-1 are hashed as 8859-1 (as Java does). */
function encode(s: string, utf8: boolean): Buffer {
  // eslint-disable-next-line no-control-regex
  if (!utf8 || /^[\u0000-\u00ff]*$/.test(s)) return Buffer.from(s, 'latin1');
  return Buffer.from(s, 'utf8');
}

/**
 * One DIGEST-MD5 client exchange. `first()` is the initial (empty) token; `respond(challenge)`
 * answers each server token: the digest-response to the challenge, then an empty token after
 * checking rspauth (`complete` is then true).
 */
export class DigestMd5Client {
  complete = false;
  private step = 0;
  private expectedRspauth = '';

  constructor(
    private readonly creds: SaslCredentials,
    private readonly opts: { protocol?: string; serverName?: string; cnonce?: string } = {},
  ) {}

  first(): Buffer {
    return Buffer.alloc(0);
  }

  respond(token: Buffer): Buffer {
    if (this.step === 0) {
      // A server without a JAAS Server section answers the first token with an empty one (seen on 3.8).
      if (token.length === 0) throw new SaslError('the server offers no SASL (it answered with an empty challenge: no JAAS Server section, or not a SASL-enabled ZooKeeper)', {
          hint: 'connect without --sasl/--jaas (and without a context sasl field), or enable SASL on the server',
        });
      this.step = 1;
      return this.digestResponse(token.toString('utf8'));
    }
    if (this.step === 1) {
      const d = parseDirectives(token.toString('utf8'));
      const rsp = d.get('rspauth');
      if (rsp === undefined) throw new SaslError('the server did not confirm the SASL exchange (no rspauth)');
      if (rsp.toLowerCase() !== this.expectedRspauth) throw new SaslError('the server failed SASL mutual authentication (wrong rspauth): it does not know this password');
      this.step = 2;
      this.complete = true;
      return Buffer.alloc(0);
    }
    throw new SaslError('unexpected SASL token after the exchange completed');
  }

  private digestResponse(text: string): Buffer {
    const d = parseDirectives(text);
    const nonce = d.get('nonce');
    if (!nonce) throw new SaslError('malformed SASL challenge (no nonce)');
    const algorithm = d.get('algorithm');
    if (algorithm !== 'md5-sess') throw new SaslError(`unsupported SASL challenge (algorithm ${algorithm ?? 'missing'}; DIGEST-MD5 needs md5-sess)`);
    const qops = (d.get('qop') ?? 'auth').split(',').map((q) => q.trim());
    if (!qops.includes('auth')) throw new SaslError(`unsupported SASL challenge (qop ${qops.join(',')}; zkctl speaks qop=auth)`);
    const utf8 = (d.get('charset') ?? '').toLowerCase() === 'utf-8';
    const realm = d.get('realm') ?? this.opts.serverName ?? ZK_SASL_SERVER_NAME;
    const digestUri = `${this.opts.protocol ?? ZK_SASL_PROTOCOL}/${this.opts.serverName ?? ZK_SASL_SERVER_NAME}`;
    const cnonce = this.opts.cnonce ?? randomBytes(24).toString('base64');
    const nc = '00000001';
    const qop = 'auth';
    const { user, password } = this.creds;
    const userHash = md5(encode(user, utf8), ':', encode(realm, utf8), ':', encode(password, utf8));
    const ha1 = hex(md5(userHash, `:${nonce}:${cnonce}`));
    const kd = (a2: string): string => hex(md5(`${ha1}:${nonce}:${nc}:${cnonce}:${qop}:${hex(md5(a2))}`));
    const response = kd(`AUTHENTICATE:${digestUri}`);
    this.expectedRspauth = kd(`:${digestUri}`);
    const parts = [
      ...(utf8 ? ['charset=utf-8'] : []),
      `username=${quote(user)}`,
      `realm=${quote(realm)}`,
      `nonce=${quote(nonce)}`,
      `nc=${nc}`,
      `cnonce=${quote(cnonce)}`,
      `digest-uri=${quote(digestUri)}`,
      'maxbuf=65536',
      `response=${response}`,
      `qop=${qop}`,
    ];
    return Buffer.from(parts.join(','), utf8 ? 'utf8' : 'latin1');
  }
}
