/**
 * Certificates for a local TLS ensemble (`ensemble up --tls`), made with the openssl command (no
 * hand-made ASN.1): a CA, one server certificate per member and one client certificate, all with
 * SAN DNS:localhost, IP:127.0.0.1 (Java and node check the server's; ZooKeeper checks the client's
 * against its address too). Keys are RSA 2048, PKCS#8 ("BEGIN PRIVATE KEY": ZooKeeper's PEM
 * keystore refuses PKCS#1), files holding a key are mode 0600.
 *
 * <ensemble>/tls/
 *   ca.pem, ca.key            the CA (ca.key 0600)
 *   member-ID.pem             member ID's key + certificate (its PEM keystore, 0600)
 *   client.pem                the client's key + certificate (0600)
 *   client.p12                the same as PKCS#12, password in client.p12.password (0600)
 *   client.properties         a Java client configuration (zkCli.sh -client-configuration)
 */
import { execFile } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { ZkctlError } from '../core/errors.js';

export const TLS_DIR = 'tls';
export const OPENSSL_INSTALL_COMMAND = 'apt-get install -y openssl';

/** The files of an ensemble's TLS material. */
export interface EnsembleTlsPaths {
  dir: string;
  ca: string;
  caKey: string;
  client: string;
  clientP12: string;
  clientP12Password: string;
  clientProperties: string;
  member(id: number): string;
}

export function tlsPaths(ensembleDir: string): EnsembleTlsPaths {
  const dir = join(ensembleDir, TLS_DIR);
  return {
    dir,
    ca: join(dir, 'ca.pem'),
    caKey: join(dir, 'ca.key'),
    client: join(dir, 'client.pem'),
    clientP12: join(dir, 'client.p12'),
    clientP12Password: join(dir, 'client.p12.password'),
    clientProperties: join(dir, 'client.properties'),
    member: (id: number) => join(dir, `member-${id}.pem`),
  };
}

function openssl(args: string[], opts: { input?: string } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile('openssl', args, { timeout: 60_000, maxBuffer: 4 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (!err) return resolve(stdout);
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return reject(new ZkctlError(`the openssl command is needed to make the ensemble's certificates: install it with \`${OPENSSL_INSTALL_COMMAND}\``));
      reject(new ZkctlError(`openssl ${args[0]} failed: ${String(stderr).trim().split('\n')[0] ?? err.message}`));
    });
    if (opts.input !== undefined) child.stdin?.end(opts.input);
  });
}

const SAN = 'subjectAltName=DNS:localhost,IP:127.0.0.1';

/** A key and a certificate signed by the CA, written as one PEM file (key first), mode 0600. */
async function issue(p: EnsembleTlsPaths, out: string, cn: string, usage: string, days: number): Promise<void> {
  const key = `${out}.key.tmp`;
  const csr = `${out}.csr.tmp`;
  const crt = `${out}.crt.tmp`;
  const ext = `${out}.ext.tmp`;
  try {
    await openssl(['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', key]);
    chmodSync(key, 0o600);
    await openssl(['req', '-new', '-key', key, '-subj', `/CN=${cn}`, '-out', csr]);
    writeFileSync(ext, `${SAN}\nbasicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=${usage}\n`);
    const serial = `0x${randomBytes(12).toString('hex')}`;
    await openssl(['x509', '-req', '-in', csr, '-CA', p.ca, '-CAkey', p.caKey, '-set_serial', serial, '-days', String(days), '-sha256', '-extfile', ext, '-out', crt]);
    writeFileSync(out, readFileSync(key, 'utf8') + readFileSync(crt, 'utf8'), { mode: 0o600 });
    chmodSync(out, 0o600);
  } finally {
    for (const f of [key, csr, crt, ext]) rmSync(f, { force: true });
  }
}

/**
 * Make the CA, a certificate for each member in `ids`, the client certificate (PEM and PKCS#12)
 * and a Java client configuration, in `<ensembleDir>/tls` (mode 0700).
 */
export async function makeEnsembleCerts(ensembleDir: string, name: string, ids: number[], days = 825): Promise<EnsembleTlsPaths> {
  const p = tlsPaths(ensembleDir);
  mkdirSync(p.dir, { recursive: true, mode: 0o700 });
  chmodSync(p.dir, 0o700);
  await openssl(['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', p.caKey]);
  chmodSync(p.caKey, 0o600);
  await openssl([
    'req', '-x509', '-new', '-key', p.caKey, '-sha256', '-days', String(days), '-subj', `/CN=zkctl local CA (${name})`,
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign', '-out', p.ca,
  ]);
  await Promise.all([
    ...ids.map((id) => issue(p, p.member(id), `zkctl member ${id} (${name})`, 'serverAuth,clientAuth', days)),
    issue(p, p.client, `zkctl client (${name})`, 'clientAuth', days),
  ]);
  const password = randomBytes(18).toString('base64url');
  writeFileSync(p.clientP12Password, `${password}\n`, { mode: 0o600 });
  chmodSync(p.clientP12Password, 0o600);
  await openssl(['pkcs12', '-export', '-in', p.client, '-inkey', p.client, '-certfile', p.ca, '-name', 'client', '-passout', 'stdin', '-out', p.clientP12], { input: `${password}\n` });
  chmodSync(p.clientP12, 0o600);
  writeFileSync(p.clientProperties, renderClientProperties(p), { mode: 0o600 });
  return p;
}

/** A member added later (`ensemble add`): its certificate from the ensemble's CA. */
export async function issueMemberCert(ensembleDir: string, name: string, id: number, days = 825): Promise<string> {
  const p = tlsPaths(ensembleDir);
  await issue(p, p.member(id), `zkctl member ${id} (${name})`, 'serverAuth,clientAuth', days);
  return p.member(id);
}

/** The Java client's configuration for this ensemble: zkCli.sh -server HOST:SECUREPORT -client-configuration FILE. */
export function renderClientProperties(p: EnsembleTlsPaths): string {
  return [
    '# zkctl: a Java client configuration for this TLS ensemble (zkCli.sh -client-configuration FILE; zkctl --client-config FILE)',
    'zookeeper.client.secure=true',
    'zookeeper.clientCnxnSocket=org.apache.zookeeper.ClientCnxnSocketNetty',
    `zookeeper.ssl.keyStore.location=${p.client}`,
    'zookeeper.ssl.keyStore.type=PEM',
    `zookeeper.ssl.trustStore.location=${p.ca}`,
    'zookeeper.ssl.trustStore.type=PEM',
    '',
  ].join('\n');
}
