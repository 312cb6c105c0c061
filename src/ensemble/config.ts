/**
 * The local ensemble's spec and the files rendered from it: zoo.cfg, the
 * dynamic config file, myid, the logging config. Pure functions, no I/O.
 *
 * Port layout (documented in `zkctl ensemble up --help`): member i (1-based)
 *   client port    = basePort + i - 1            (2181, 2182, 2183)
 *   quorum port    = basePort + 10000 + i - 1    (12181, 12182, 12183)
 *   election port  = basePort + 20000 + i - 1    (22181, 22182, 22183)
 *   admin port     = adminPort + i - 1           (only when adminPort is set)
 *   secure port    = basePort + 5000 + i - 1     (7181, 7182, 7183; only with TLS)
 * so ensembles whose base ports differ by at least their size run side by side.
 * Everything binds 127.0.0.1 only.
 */
import { createHash, randomBytes } from 'node:crypto';
import { UsageError } from '../core/errors.js';

export const QUORUM_PORT_OFFSET = 10000;
export const ELECTION_PORT_OFFSET = 20000;
/** secureClientPort = client port + this, for ensembles started with --tls. */
export const SECURE_PORT_OFFSET = 5000;
export const LOCAL_HOST = '127.0.0.1';
export const MAX_SIZE = 9;

export const DEFAULTS = {
  name: 'local',
  size: 3,
  basePort: 2181,
  tickTime: 2000,
  initLimit: 10,
  syncLimit: 5,
} as const;

/** What `ensemble.json` records. */
export interface EnsembleSpec {
  /** File format version. */
  format: 1;
  name: string;
  size: number;
  basePort: number;
  tickTime: number;
  initLimit: number;
  syncLimit: number;
  /** First admin server port, when the AdminServer is enabled. */
  adminPort?: number;
  /** The ZooKeeper release directory it was created with (absent: Debian's package / ZOOKEEPER_HOME at start). */
  zkHome?: string;
  /** Members also serve clients over TLS (secureClientPort, mutual TLS), with certificates in `tls/`. */
  tls?: true;
  /** Clients must authenticate with SASL DIGEST-MD5 as this user (password in sasl.secret, JAAS in sasl-jaas.conf). */
  sasl?: { user: string };
  createdAt: string;
}

export interface MemberPorts {
  id: number;
  clientPort: number;
  quorumPort: number;
  electionPort: number;
  adminPort?: number;
  /** secureClientPort (TLS ensembles only). */
  securePort?: number;
}

export interface SpecInput {
  name?: string;
  size?: number;
  basePort?: number;
  tickTime?: number;
  adminPort?: number;
  zkHome?: string;
  tls?: boolean;
  /** Require SASL DIGEST-MD5 from clients, with this user (`ensemble up --sasl`). */
  saslUser?: string;
}

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

function intIn(what: string, v: number, min: number, max: number): number {
  if (!Number.isInteger(v) || v < min || v > max) throw new UsageError(`${what} must be an integer from ${min} to ${max} (got ${v})`);
  return v;
}

/** Validate input and fill defaults. Throws UsageError. */
export function makeSpec(input: SpecInput, now: Date = new Date()): EnsembleSpec {
  const name = input.name ?? DEFAULTS.name;
  if (!NAME_RE.test(name)) throw new UsageError(`invalid ensemble name '${name}'`, 'use letters, digits, dot, dash and underscore (max 63 characters)');
  const size = intIn('size', input.size ?? DEFAULTS.size, 1, MAX_SIZE);
  const maxBase = 65535 - ELECTION_PORT_OFFSET - (size - 1);
  const basePort = intIn('base port', input.basePort ?? DEFAULTS.basePort, 1024, maxBase);
  const tickTime = intIn('tick time', input.tickTime ?? DEFAULTS.tickTime, 100, 60000);
  const spec: EnsembleSpec = {
    format: 1,
    name,
    size,
    basePort,
    tickTime,
    initLimit: DEFAULTS.initLimit,
    syncLimit: DEFAULTS.syncLimit,
    createdAt: now.toISOString(),
  };
  if (input.adminPort !== undefined) spec.adminPort = intIn('admin port', input.adminPort, 1024, 65535 - (size - 1));
  if (input.zkHome) spec.zkHome = input.zkHome;
  if (input.tls) spec.tls = true;
  if (input.saslUser !== undefined) spec.sasl = { user: checkSaslUser(input.saslUser) };
  return spec;
}

/** Check a spec read back from ensemble.json. */
export function checkSpec(v: unknown, where: string): EnsembleSpec {
  const o = v as Partial<EnsembleSpec> | null;
  if (!o || typeof o !== 'object' || o.format !== 1 || typeof o.name !== 'string' || typeof o.size !== 'number' || typeof o.basePort !== 'number' || typeof o.tickTime !== 'number') {
    throw new UsageError(`${where} is not a zkctl ensemble description`);
  }
  return {
    format: 1,
    name: o.name,
    size: o.size,
    basePort: o.basePort,
    tickTime: o.tickTime,
    initLimit: o.initLimit ?? DEFAULTS.initLimit,
    syncLimit: o.syncLimit ?? DEFAULTS.syncLimit,
    ...(o.adminPort !== undefined ? { adminPort: o.adminPort } : {}),
    ...(o.zkHome ? { zkHome: o.zkHome } : {}),
    ...(o.tls === true ? { tls: true as const } : {}),
    ...(o.sasl && typeof o.sasl.user === 'string' ? { sasl: { user: o.sasl.user } } : {}),
    createdAt: o.createdAt ?? new Date(0).toISOString(),
  };
}

export function memberIds(spec: Pick<EnsembleSpec, 'size'>): number[] {
  return Array.from({ length: spec.size }, (_, i) => i + 1);
}

export function memberPorts(spec: Pick<EnsembleSpec, 'basePort' | 'adminPort' | 'tls'>, id: number): MemberPorts {
  const p: MemberPorts = {
    id,
    clientPort: spec.basePort + id - 1,
    quorumPort: spec.basePort + QUORUM_PORT_OFFSET + id - 1,
    electionPort: spec.basePort + ELECTION_PORT_OFFSET + id - 1,
  };
  if (spec.adminPort !== undefined) p.adminPort = spec.adminPort + id - 1;
  if (spec.tls) p.securePort = spec.basePort + SECURE_PORT_OFFSET + id - 1;
  return p;
}

/** "127.0.0.1:7181,127.0.0.1:7182,..." the members' secure client ports (TLS ensembles). */
export function secureConnectString(spec: Pick<EnsembleSpec, 'basePort' | 'size'>, ids: number[] = memberIds(spec)): string {
  return ids.map((id) => `${LOCAL_HOST}:${spec.basePort + SECURE_PORT_OFFSET + id - 1}`).join(',');
}

/** "127.0.0.1:2181,127.0.0.1:2182,127.0.0.1:2183" */
export function connectString(spec: Pick<EnsembleSpec, 'basePort' | 'size'>): string {
  return memberIds(spec)
    .map((id) => `${LOCAL_HOST}:${spec.basePort + id - 1}`)
    .join(',');
}

/** The `server.N=...` lines: participant, with the client address (3.5+ dynamic config syntax). */
export function renderDynamicConfig(spec: Pick<EnsembleSpec, 'basePort' | 'size' | 'adminPort'>): string {
  return (
    memberIds(spec)
      .map((id) => {
        const p = memberPorts(spec, id);
        return `server.${id}=${LOCAL_HOST}:${p.quorumPort}:${p.electionPort}:participant;${LOCAL_HOST}:${p.clientPort}`;
      })
      .join('\n') + '\n'
  );
}

export interface MemberPaths {
  dataDir: string;
  dynamicConfigFile: string;
  /** TLS ensembles: the member's PEM keystore (key + certificate) and the CA certificate it trusts. */
  tls?: { keyStore: string; trustStore: string };
}

/**
 * zoo.cfg for one member. Keys ZooKeeper does not know are copied into system
 * properties as `zookeeper.<key>` (QuorumPeerConfig.parseProperties), which is
 * how the super digest and the AdminServer settings reach the server without
 * appearing on the java command line.
 */
export function renderZooCfg(spec: EnsembleSpec, id: number, paths: MemberPaths, superDigestValue: string): string {
  const p = memberPorts(spec, id);
  const lines = [
    `# zkctl ensemble '${spec.name}', member ${id}. Generated by zkctl; ZooKeeper rewrites it on reconfig.`,
    `tickTime=${spec.tickTime}`,
    `initLimit=${spec.initLimit}`,
    `syncLimit=${spec.syncLimit}`,
    `dataDir=${paths.dataDir}`,
    `reconfigEnabled=true`,
    `standaloneEnabled=false`,
    // TTL nodes (create -t) need extended types; server ids stay < 255 here.
    `extendedTypesEnabled=true`,
    `4lw.commands.whitelist=*`,
    `maxClientCnxns=0`,
    `preAllocSize=4096`,
    `autopurge.snapRetainCount=3`,
    `autopurge.purgeInterval=1`,
    `quorumListenOnAllIPs=false`,
  ];
  if (p.adminPort !== undefined) {
    lines.push(`admin.enableServer=true`, `admin.serverAddress=${LOCAL_HOST}`, `admin.serverPort=${p.adminPort}`);
  } else {
    lines.push(`admin.enableServer=false`);
  }
  lines.push(`DigestAuthenticationProvider.superDigest=${superDigestValue}`);
  if (p.securePort !== undefined && paths.tls) {
    // Netty is the only connection factory that speaks TLS (the NIO one exits: "SSL isn't supported").
    // Unknown keys become zookeeper.* system properties, which is where these are read from.
    lines.push(
      `secureClientPort=${p.securePort}`,
      `secureClientPortAddress=${LOCAL_HOST}`,
      `serverCnxnFactory=org.apache.zookeeper.server.NettyServerCnxnFactory`,
      `ssl.keyStore.location=${paths.tls.keyStore}`,
      `ssl.keyStore.type=PEM`,
      `ssl.trustStore.location=${paths.tls.trustStore}`,
      `ssl.trustStore.type=PEM`,
      `ssl.clientAuth=need`,
    );
  }
  if (spec.sasl) {
    // SASL DIGEST-MD5 required of every client (verified on 3.8: error -124 and the session closed otherwise);
    // the JAAS Server section reaches the JVM as -Djava.security.auth.login.config (LocalEnsemble.javaArgs).
    lines.push(
      'authProvider.sasl=org.apache.zookeeper.server.auth.SASLAuthenticationProvider',
      'enforce.auth.enabled=true',
      'enforce.auth.schemes=sasl',
    );
  }
  lines.push(`dynamicConfigFile=${paths.dynamicConfigFile}`);
  return lines.join('\n') + '\n';
}

export function renderMyid(id: number): string {
  return `${id}\n`;
}

/** A SASL user name that fits a JAAS option name (`user_<name>`) and a DIGEST-MD5 username. */
export function checkSaslUser(user: string): string {
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(user)) throw new UsageError(`invalid SASL user '${user}'`, 'use letters, digits, dot, dash and underscore (max 64 characters)');
  return user;
}

/** The server's JAAS file: the Server section DigestLoginModule reads (user_<name>="<password>"). Holds the password: mode 0600. */
export function renderServerJaas(user: string, password: string): string {
  const q = (s: string): string => s.replace(/(["\\])/g, '\\$1');
  return ['Server {', '  org.apache.zookeeper.server.auth.DigestLoginModule required', `  user_${checkSaslUser(user)}="${q(password)}";`, '};', ''].join('\n');
}

/** `super:<base64(sha1("super:" + password))>`, as DigestAuthenticationProvider.generateDigest makes it. */
export function superDigest(password: string, user = 'super'): string {
  const hash = createHash('sha1').update(`${user}:${password}`, 'utf8').digest('base64');
  return `${user}:${hash}`;
}

/** A fresh random password (URL-safe, no ':' so it fits digest:super:<pw>). */
export function generatePassword(): string {
  return randomBytes(24).toString('base64url');
}

const LOG_PATTERN = '%d{ISO8601} - %-5p [%t:%C{1}@%L] - %m%n';

/** log4j 1.2: INFO and up to stdout, which zkctl points at the member's log file. */
export function renderLog4jProperties(): string {
  return [
    '# zkctl: server logs go to stdout, which is the member log file',
    'log4j.rootLogger=INFO, CONSOLE',
    'log4j.appender.CONSOLE=org.apache.log4j.ConsoleAppender',
    'log4j.appender.CONSOLE.Threshold=INFO',
    'log4j.appender.CONSOLE.layout=org.apache.log4j.PatternLayout',
    `log4j.appender.CONSOLE.layout.ConversionPattern=${LOG_PATTERN}`,
    '',
  ].join('\n');
}

/** logback (ZooKeeper 3.8+ releases): same as above. */
export function renderLogbackXml(): string {
  return [
    '<!-- zkctl: server logs go to stdout, which is the member log file -->',
    '<configuration>',
    '  <appender name="CONSOLE" class="ch.qos.logback.core.ConsoleAppender">',
    '    <encoder><pattern>%d{ISO8601} [myid:%X{myid}] - %-5p [%t:%C{1}@%L] - %m%n</pattern></encoder>',
    '  </appender>',
    '  <root level="INFO"><appender-ref ref="CONSOLE"/></root>',
    '</configuration>',
    '',
  ].join('\n');
}

/** JVM flags sized for small (2-core) machines and fast start-up. */
export const DEFAULT_JVM_FLAGS: readonly string[] = [
  '-Xms32m',
  '-Xmx256m',
  '-XX:+UseSerialGC',
  '-XX:TieredStopAtLevel=1',
  '-Xshare:auto',
  '-XX:-UsePerfData',
  '-XX:+ExitOnOutOfMemoryError',
  '-Djava.net.preferIPv4Stack=true',
  '-Dzookeeper.jmx.log4j.disable=true',
  // Empty containers and expired TTL nodes are reaped every second (default 60 s): a local
  // ensemble is for development and drills, where waiting a minute hides behaviour.
  '-Dznode.container.checkIntervalMs=1000',
];
