/**
 * Java's JAAS login configuration (`-Djava.security.auth.login.config=FILE`), read for the
 * credentials a ZooKeeper client uses: the `Client` section with
 * `org.apache.zookeeper.server.auth.DigestLoginModule required username="..." password="...";`.
 *
 * Grammar (javax.security.auth.login.ConfigFile): `Name { Module Flag key=value ...; ... };`,
 * values quoted or bare, comments `//` and `/* *\/`. Only DIGEST-MD5 is in scope: a Client section
 * using Kerberos (Krb5LoginModule, GSSAPI) is refused with a message that says so.
 */
import { readFileSync } from 'node:fs';
import { UsageError } from '../errors.js';
import type { SaslCredentials } from './sasl.js';

export const DIGEST_LOGIN_MODULE = 'org.apache.zookeeper.server.auth.DigestLoginModule';

export interface JaasEntry {
  module: string;
  flag: string;
  options: Record<string, string>;
}

/** Sections by name, each a list of login module entries. Throws Error with a plain message on bad syntax. */
export function parseJaas(text: string): Map<string, JaasEntry[]> {
  const tokens: string[] = [];
  const re = /\s+|\/\/[^\n]*|\/\*[\s\S]*?\*\/|"((?:[^"\\]|\\.)*)"|([{};=])|([^\s{};="]+)/y;
  let m: RegExpExecArray | null;
  let pos = 0;
  const QUOTED = '\u0000';
  while (pos < text.length) {
    re.lastIndex = pos;
    m = re.exec(text);
    if (!m) throw new Error(`unreadable text at offset ${pos}`);
    pos = re.lastIndex;
    if (m[1] !== undefined) tokens.push(QUOTED + m[1].replace(/\\(.)/g, '$1'));
    else if (m[2] !== undefined) tokens.push(m[2]);
    else if (m[3] !== undefined) tokens.push(m[3]);
  }
  const out = new Map<string, JaasEntry[]>();
  let i = 0;
  const next = (what: string): string => {
    const t = tokens[i++];
    if (t === undefined) throw new Error(`unexpected end of file (expected ${what})`);
    return t;
  };
  const plain = (t: string): string => (t.startsWith(QUOTED) ? t.slice(1) : t);
  while (i < tokens.length) {
    const name = plain(next('a section name'));
    if (next("'{'") !== '{') throw new Error(`expected '{' after ${name}`);
    const entries: JaasEntry[] = [];
    for (;;) {
      const t = next("a login module or '}'");
      if (t === '}') break;
      const entry: JaasEntry = { module: plain(t), flag: plain(next('a control flag')), options: {} };
      for (;;) {
        const k = next("an option or ';'");
        if (k === ';') break;
        if (next("'='") !== '=') throw new Error(`expected '=' after option ${plain(k)} in section ${name}`);
        const v = next('a value');
        entry.options[plain(k)] = plain(v);
      }
      entries.push(entry);
    }
    if (tokens[i] === ';') i++;
    out.set(name, entries);
  }
  return out;
}

/** The DIGEST-MD5 credentials of a JAAS file's client section (default `Client`, as zookeeper.sasl.clientconfig). */
export function jaasClientCredentials(path: string, section = 'Client'): SaslCredentials {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new UsageError(`--jaas ${path}: cannot read it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  let sections: Map<string, JaasEntry[]>;
  try {
    sections = parseJaas(text);
  } catch (e) {
    throw new UsageError(`--jaas ${path}: not a JAAS login configuration (${(e as Error).message})`, `expected ${section} { ${DIGEST_LOGIN_MODULE} required username="USER" password="PASSWORD"; };`);
  }
  const entries = sections.get(section);
  if (!entries) {
    const names = [...sections.keys()];
    throw new UsageError(`--jaas ${path}: no ${section} section${names.length ? ` (it has ${names.join(', ')})` : ''}`, `a ZooKeeper client reads ${section} { ${DIGEST_LOGIN_MODULE} required username="USER" password="PASSWORD"; };`);
  }
  const digest = entries.find((e) => e.module === DIGEST_LOGIN_MODULE);
  if (!digest) {
    const mods = entries.map((e) => e.module).join(', ');
    const kerberos = /Krb5LoginModule|kerberos|gssapi/i.test(mods);
    throw new UsageError(
      `--jaas ${path}: the ${section} section uses ${mods || 'no login module'}${kerberos ? ': GSSAPI/Kerberos is out of scope for zkctl' : ''}; zkctl speaks SASL DIGEST-MD5 only (${DIGEST_LOGIN_MODULE})`,
    );
  }
  const { username, password } = digest.options;
  if (!username || password === undefined || password === '') {
    throw new UsageError(`--jaas ${path}: the ${section} section's DigestLoginModule needs username="..." and password="..."`);
  }
  return { user: username, password };
}
