/**
 * TLS for the client connection (ZooKeeper's secureClientPort): what the user gives (PEM files,
 * a PKCS#12 file with its password file, a server name), loaded into node's tls.connect options,
 * and node's TLS errors told in one line with the documented exit code.
 *
 * - Hostname verification is on unless `verifyHostname: false` (zookeeper.ssl.hostnameVerification=false).
 * - Files are read once, when the options are built: a missing or unreadable file is a usage error
 *   (exit 2) naming the file; a PKCS#12 password never appears in a message.
 * - ZooKeeper 3.8's secure port speaks TLS 1.2 (its default ssl.protocol): nothing is pinned here,
 *   node negotiates.
 */
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import type { ConnectionOptions, PeerCertificate } from 'node:tls';
import { ExitCode, UsageError, ZkctlError } from '../errors.js';
import { lazyRequire } from '../lazy.js';

const tlsModule = lazyRequire<typeof import('node:tls')>('node:tls');

/** What the user asked for: file paths, as flags, env, a context or a client-configuration file give them. */
export interface TlsSettings {
  /** PEM file of the certificate authorities to trust (default: node's system CAs). */
  ca?: string;
  /** PEM client certificate (chain) for mutual TLS. */
  cert?: string;
  /** PEM private key of `cert` (may be the same file as `cert`). */
  key?: string;
  /** PKCS#12 file with the client key and certificate (and maybe CAs). */
  pfx?: string;
  /** File holding the PKCS#12 password (first line). */
  pfxPasswordFile?: string;
  /** The password itself (a client-configuration file's keyStore.password); never printed. */
  pfxPassword?: string;
  /** PKCS#12 file of CAs to trust (a truststore), with its password. */
  caPfx?: string;
  caPfxPassword?: string;
  /** Name the server certificate must carry (default: the host connected to). */
  serverName?: string;
  /** Check the server certificate's name (default true). */
  verifyHostname?: boolean;
  /** Where these came from, for messages ("--tls-ca", "context prod", "client config /etc/zk/client.properties"). */
  source?: string;
}

function readSecretFile(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'is a directory' : (code ?? (e as Error).message);
    throw new UsageError(`cannot read ${what} ${path}: ${why}`);
  }
}

function firstLine(buf: Buffer): string {
  return buf.toString('utf8').split(/\r?\n/)[0] ?? '';
}

/** The PEM file holds at least one block of `label` (e.g. CERTIFICATE, PRIVATE KEY). */
function checkPem(buf: Buffer, path: string, what: string, labels: RegExp): void {
  const text = buf.toString('latin1');
  if (!/-----BEGIN [A-Z0-9 ]+-----/.test(text)) {
    throw new UsageError(`${what} ${path} is not a PEM file (no -----BEGIN ...----- block)`, 'give a PEM file, or a PKCS#12 file with --tls-pfx');
  }
  if (!labels.test(text)) throw new UsageError(`${what} ${path} holds no ${labels.source.replace(/[\\^$()|?]/g, '').replace(/-+BEGIN /, '')} block`);
}

/**
 * node's tls.connect options from the settings (files read now). Throws UsageError (exit 2) for a
 * file that cannot be read or is not what it should be, including a wrong PKCS#12 password.
 */
export function tlsConnectOptions(s: TlsSettings): ConnectionOptions {
  const o: ConnectionOptions = {};
  if (s.ca) {
    const ca = readSecretFile(s.ca, 'CA file');
    checkPem(ca, s.ca, 'CA file', /-----BEGIN (TRUSTED )?CERTIFICATE-----/);
    o.ca = ca;
  }
  if ((s.cert && !s.key) || (s.key && !s.cert)) {
    throw new UsageError(`a client certificate needs its key: give both --tls-cert and --tls-key (the same file when it holds both)${s.source ? ` (from ${s.source})` : ''}`);
  }
  if (s.cert && s.key) {
    const cert = readSecretFile(s.cert, 'client certificate');
    checkPem(cert, s.cert, 'client certificate', /-----BEGIN CERTIFICATE-----/);
    const key = readSecretFile(s.key, 'client key');
    checkPem(key, s.key, 'client key', /-----BEGIN (RSA |EC |ENCRYPTED )?PRIVATE KEY-----/);
    if (/-----BEGIN ENCRYPTED PRIVATE KEY-----/.test(key.toString('latin1'))) {
      throw new UsageError(`client key ${s.key} is encrypted`, `decrypt it (openssl pkey -in ${s.key} -out KEY.pem), or use a PKCS#12 file with --tls-pfx and --tls-pfx-password-file`);
    }
    o.cert = cert;
    o.key = key;
  }
  if (s.pfx) {
    if (s.cert) throw new UsageError('give a client certificate either as PEM (--tls-cert/--tls-key) or as PKCS#12 (--tls-pfx), not both');
    const pfx = readSecretFile(s.pfx, 'PKCS#12 file');
    const passphrase = s.pfxPassword ?? (s.pfxPasswordFile ? firstLine(readSecretFile(s.pfxPasswordFile, 'PKCS#12 password file')) : undefined);
    o.pfx = passphrase !== undefined ? [{ buf: pfx, passphrase }] : pfx;
  } else if (s.pfxPasswordFile) {
    throw new UsageError('--tls-pfx-password-file needs --tls-pfx');
  }
  if (s.caPfx) {
    // A truststore: its CA certificates (keytool writes them as trusted-certificate entries).
    readSecretFile(s.caPfx, 'truststore');
    const certs = pkcs12Certificates(s.caPfx, s.caPfxPassword);
    o.ca = o.ca ? Buffer.concat([o.ca as Buffer, Buffer.from('\n'), certs]) : certs;
  }
  if (s.serverName) {
    // SNI carries DNS names only; the name checked is serverName either way.
    if (!isIP(s.serverName)) o.servername = s.serverName;
    const name = s.serverName;
    o.checkServerIdentity = (_host: string, cert: PeerCertificate) => (s.verifyHostname === false ? undefined : tlsModule().checkServerIdentity(name, cert));
  } else if (s.verifyHostname === false) {
    o.checkServerIdentity = () => undefined;
  }
  // Build the context now: a bad key, a key that does not match its certificate or a wrong PKCS#12
  // password is a usage error before any connection, not a TLS failure at each server.
  try {
    o.secureContext = tlsModule().createSecureContext(o);
  } catch (e) {
    throw new UsageError(`cannot use the TLS files${s.source ? ` from ${s.source}` : ''}: ${describeContextError(e as Error, s)}`);
  }
  return o;
}

function describeContextError(e: Error, s: TlsSettings): string {
  const m = e.message;
  if (s.pfx && /mac verify failure|bad decrypt|PKCS12|pkcs12/i.test(m)) return `${s.pfx}: wrong password or not a PKCS#12 file`;
  if (/key values mismatch/i.test(m)) return `the key ${s.key} does not belong to the certificate ${s.cert}`;
  return m.replace(/^error:[0-9A-F]+:/, '');
}

/**
 * The certificates of a PKCS#12 truststore, as one PEM buffer. node reads PKCS#12 only together with
 * a key, and keytool's truststores hold certificates alone, so they are taken out with the openssl
 * command (the password goes on its stdin, never on a command line).
 */
function pkcs12Certificates(path: string, password: string | undefined): Buffer {
  const { spawnSync } = childProcess();
  const r = spawnSync('openssl', ['pkcs12', '-in', path, '-nokeys', '-passin', 'stdin'], { input: `${password ?? ''}\n`, timeout: 10_000 });
  if (r.error) throw new UsageError(`cannot read truststore ${path}: the openssl command is needed for PKCS#12 truststores (${(r.error as NodeJS.ErrnoException).code ?? r.error.message})`, 'apt-get install -y openssl, or give the CA as PEM (--tls-ca)');
  const pem = r.stdout.toString('latin1');
  if (r.status !== 0) throw new UsageError(`cannot read truststore ${path}: ${/mac verify|invalid password/i.test(r.stderr.toString()) ? 'wrong password' : 'not a PKCS#12 file'}`);
  const certs = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g);
  if (!certs) throw new UsageError(`truststore ${path} holds no certificates`);
  return Buffer.from(certs.join('\n') + '\n');
}

const childProcess = lazyRequire<typeof import('node:child_process')>('node:child_process');

/** A node TLS error, told: exit 7 (the peer or we refused the other's certificate) or undefined (not a TLS verdict). */
export interface TlsFailure {
  message: string;
  exitCode: number;
}

/** What a TLS error from tls.connect means, in words; undefined for errors that are not about certificates. */
export function describeTlsError(err: NodeJS.ErrnoException & { reason?: string; host?: string }): TlsFailure | undefined {
  const code = err.code ?? '';
  const auth = (message: string): TlsFailure => ({ message, exitCode: ExitCode.NO_AUTH });
  switch (code) {
    case 'ERR_TLS_CERT_ALTNAME_INVALID':
      return auth(`server certificate does not match the host name (${err.reason ?? err.message}): give the name it carries with --tls-server-name`);
    case 'UNABLE_TO_VERIFY_LEAF_SIGNATURE':
    case 'UNABLE_TO_GET_ISSUER_CERT':
    case 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY':
    case 'SELF_SIGNED_CERT_IN_CHAIN':
    case 'DEPTH_ZERO_SELF_SIGNED_CERT':
    case 'CERT_SIGNATURE_FAILURE':
      return auth(`server certificate is not trusted (${code}): give its CA with --tls-ca`);
    case 'CERT_HAS_EXPIRED':
      return auth('server certificate has expired');
    case 'CERT_NOT_YET_VALID':
      return auth('server certificate is not yet valid (check the clocks)');
    case 'CERT_REVOKED':
      return auth('server certificate is revoked');
    default:
      break;
  }
  if (/ALERT_BAD_CERTIFICATE|ALERT_CERTIFICATE_REQUIRED|ALERT_HANDSHAKE_FAILURE/.test(code) || /alert (bad certificate|certificate required)/i.test(err.message)) {
    return auth('server refused the client certificate (TLS alert bad_certificate): it requires one its CA signed; give it with --tls-cert/--tls-key or --tls-pfx');
  }
  if (/ALERT_CERTIFICATE_UNKNOWN|ALERT_UNKNOWN_CA|ALERT_CERTIFICATE_EXPIRED|ALERT_CERTIFICATE_REVOKED|ALERT_ACCESS_DENIED/.test(code) || /alert (certificate unknown|unknown ca)/i.test(err.message)) {
    const alert = code.startsWith('ERR_SSL_') ? `TLS alert ${code.replace(/^ERR_SSL_(SSLV3_|TLSV1_)?ALERT_/, '').toLowerCase()}` : 'TLS alert';
    return auth(`server refused the client certificate (${alert}): it does not trust the CA that signed it`);
  }
  return undefined;
}

/** A TLS verdict on connecting (a certificate refused by either side): exit 7. */
export class TlsAuthError extends ZkctlError {
  constructor(message: string) {
    super(message, ExitCode.NO_AUTH);
  }
}
