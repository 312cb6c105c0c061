/**
 * The Java client's configuration file (what zkCli.sh takes with `-client-configuration FILE`,
 * ZKClientConfig): a Java properties file. zkctl reads its TLS part so that an operator reuses
 * what their Java clients already use:
 *
 *   zookeeper.client.secure=true
 *   zookeeper.ssl.keyStore.location / .password / .passwordPath / .type   (PEM, PKCS12; JKS refused)
 *   zookeeper.ssl.trustStore.location / .password / .passwordPath / .type
 *   zookeeper.ssl.hostnameVerification=false
 *
 * Other keys are ignored. A store's type comes from `.type`, else from the file name (.pem, .p12,
 * .pfx, .jks), as ZooKeeper's X509Util does.
 */
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { UsageError } from '../errors.js';
import type { TlsSettings } from './tls.js';

/** Parse a Java properties file (key=value, key: value or key value; # and ! comments; \ escapes and continuations). */
export function parseJavaProperties(text: string): Map<string, string> {
  const out = new Map<string, string>();
  const lines = text.split(/\r\n|\r|\n/);
  for (let i = 0; i < lines.length; i++) {
    let line = lines[i]!.replace(/^[ \t\f]+/, '');
    if (line === '' || line.startsWith('#') || line.startsWith('!')) continue;
    // A line ending in an odd number of backslashes continues on the next (leading blanks dropped).
    while (/(^|[^\\])(\\\\)*\\$/.test(line) && i + 1 < lines.length) line = line.slice(0, -1) + lines[++i]!.replace(/^[ \t\f]+/, '');
    let k = 0;
    let key = '';
    for (; k < line.length; k++) {
      const c = line[k]!;
      if (c === '\\' && k + 1 < line.length) {
        key += unescape(line[++k]!);
        continue;
      }
      if (c === '=' || c === ':' || c === ' ' || c === '\t' || c === '\f') break;
      key += c;
    }
    // Separator: blanks, then at most one = or :, then blanks.
    while (k < line.length && /[ \t\f]/.test(line[k]!)) k++;
    if (k < line.length && (line[k] === '=' || line[k] === ':')) k++;
    while (k < line.length && /[ \t\f]/.test(line[k]!)) k++;
    let value = '';
    for (; k < line.length; k++) {
      const c = line[k]!;
      if (c === '\\' && k + 1 < line.length) {
        const n = line[++k]!;
        if (n === 'u' && /^[0-9a-fA-F]{4}$/.test(line.slice(k + 1, k + 5))) {
          value += String.fromCharCode(parseInt(line.slice(k + 1, k + 5), 16));
          k += 4;
        } else value += unescape(n);
        continue;
      }
      value += c;
    }
    out.set(key, value);
  }
  return out;
}

function unescape(c: string): string {
  return c === 't' ? '\t' : c === 'n' ? '\n' : c === 'r' ? '\r' : c === 'f' ? '\f' : c;
}

type StoreType = 'PEM' | 'PKCS12' | 'JKS' | 'BCFKS';

function storeType(declared: string | undefined, location: string, key: string, file: string): StoreType {
  const t = (declared ?? '').trim().toUpperCase();
  if (t === 'PEM' || t === 'PKCS12' || t === 'JKS' || t === 'BCFKS') return t;
  if (t !== '') throw new UsageError(`${file}: ${key}.type ${JSON.stringify(declared)} is not a store type zkctl reads (PEM, PKCS12)`);
  if (/\.(pem|crt|cer|key)$/i.test(location)) return 'PEM';
  if (/\.(p12|pfx|pkcs12)$/i.test(location)) return 'PKCS12';
  if (/\.jks$/i.test(location)) return 'JKS';
  throw new UsageError(`${file}: cannot tell the type of ${location}: set ${key}.type (PEM or PKCS12)`);
}

function refuseJks(type: StoreType, location: string, file: string): void {
  if (type === 'PEM' || type === 'PKCS12') return;
  throw new UsageError(
    `${file}: ${location} is a ${type} store, which zkctl cannot read: convert it to PKCS12 with \`keytool -importkeystore -srckeystore ${location} -destkeystore ${location.replace(/\.[A-Za-z]+$/, '')}.p12 -deststoretype pkcs12\` and point the .location and .type at it`,
  );
}

/**
 * The TLS settings a client-configuration file gives: undefined when it does not ask for TLS
 * (zookeeper.client.secure is not true). Paths are taken relative to the file's directory.
 * Throws UsageError (exit 2) for an unreadable file or a store zkctl cannot read.
 */
export function tlsFromClientConfig(path: string): TlsSettings | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'latin1');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new UsageError(`cannot read the client configuration ${path}: ${code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : (code ?? (e as Error).message)}`);
  }
  const p = parseJavaProperties(text);
  const get = (k: string): string | undefined => {
    const v = p.get(`zookeeper.${k}`);
    return v === undefined || v.trim() === '' ? undefined : v.trim();
  };
  if ((get('client.secure') ?? 'false').toLowerCase() !== 'true') return undefined;
  const at = (loc: string): string => (isAbsolute(loc) ? loc : resolve(dirname(path), loc));
  const password = (store: string): string | undefined => {
    const direct = p.get(`zookeeper.ssl.${store}.password`);
    if (direct !== undefined && direct !== '') return direct;
    const file = get(`ssl.${store}.passwordPath`);
    if (!file) return undefined;
    try {
      return readFileSync(at(file), 'utf8').split(/\r?\n/)[0];
    } catch (e) {
      throw new UsageError(`${path}: cannot read zookeeper.ssl.${store}.passwordPath ${at(file)}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
  };
  const s: TlsSettings = { source: `client configuration ${path}` };
  const ks = get('ssl.keyStore.location');
  if (ks) {
    const type = storeType(get('ssl.keyStore.type'), ks, 'zookeeper.ssl.keyStore', path);
    refuseJks(type, ks, path);
    if (type === 'PEM') {
      // ZooKeeper's PEM keystore holds the key and the certificate chain in one file.
      s.cert = at(ks);
      s.key = at(ks);
    } else {
      s.pfx = at(ks);
      const pw = password('keyStore');
      if (pw !== undefined) s.pfxPassword = pw;
    }
  }
  const ts = get('ssl.trustStore.location');
  if (ts) {
    const type = storeType(get('ssl.trustStore.type'), ts, 'zookeeper.ssl.trustStore', path);
    refuseJks(type, ts, path);
    if (type === 'PEM') s.ca = at(ts);
    else {
      s.caPfx = at(ts);
      const pw = password('trustStore');
      if (pw !== undefined) s.caPfxPassword = pw;
    }
  }
  const hv = get('ssl.hostnameVerification');
  if (hv !== undefined && hv.toLowerCase() === 'false') s.verifyHostname = false;
  return s;
}
