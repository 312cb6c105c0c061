/**
 * Finding what it takes to run a real ZooKeeper server: a `java` binary and a
 * classpath holding org.apache.zookeeper.server.quorum.QuorumPeerMain.
 *
 * Two layouts are supported:
 *  - a release directory (`zkHome` option, else `ZOOKEEPER_HOME`): `lib/*.jar`
 *    (and `*.jar` at the top, as 3.4 releases had), with logback (3.8+) or
 *    slf4j-log4j12 + log4j 1.2 (3.5 - 3.7) for logging;
 *  - Debian's `zookeeper` package: `/usr/share/java/zookeeper.jar`, whose
 *    manifest Class-Path names its dependencies. It has no slf4j binding, so we
 *    add `slf4j-log4j12.jar` + `log4j-1.2.jar` (or `slf4j-simple.jar`) from
 *    /usr/share/java when present, otherwise the server logs nothing.
 */
import { accessSync, constants, existsSync, readdirSync, realpathSync, statSync } from 'node:fs';
import { delimiter, join, basename, resolve } from 'node:path';
import { ZkctlError, UsageError } from '../core/errors.js';

export const ZOOKEEPER_INSTALL_COMMAND = 'apt-get install -y zookeeper';
export const JAVA_INSTALL_COMMAND = 'apt-get install -y openjdk-17-jre-headless';
export const QUORUM_PEER_MAIN = 'org.apache.zookeeper.server.quorum.QuorumPeerMain';

/** How the server's slf4j output is bound: picks the logging config zkctl writes. */
export type ZkLogging = 'logback' | 'log4j' | 'simple' | 'none';

export interface ZkInstall {
  /** Absolute path of the java binary. */
  java: string;
  /** Classpath entries, in order. */
  classpath: string[];
  logging: ZkLogging;
  source: 'zk-home' | 'debian';
  /** The release directory (source 'zk-home') or /usr/share/java. */
  home: string;
  /** ZooKeeper version from the jar name ("3.8.0"), when it can be told. */
  version?: string;
}

export interface FindInstallOptions {
  /** A ZooKeeper release directory; overrides ZOOKEEPER_HOME. */
  zkHome?: string;
  /** Environment to read JAVA_HOME, ZOOKEEPER_HOME and PATH from (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** Where Debian keeps jars (tests point this elsewhere). */
  debianJavaDir?: string;
}

function isFile(p: string): boolean {
  try {
    return statSync(p).isFile();
  } catch {
    return false;
  }
}

function isExecutableFile(p: string): boolean {
  if (!isFile(p)) return false;
  try {
    accessSync(p, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The java binary: $JAVA_HOME/bin/java, else `java` on PATH, else /usr/bin/java. */
export function findJava(env: NodeJS.ProcessEnv = process.env, fallback: string | null = '/usr/bin/java'): string {
  const candidates: string[] = [];
  if (env.JAVA_HOME) candidates.push(join(env.JAVA_HOME, 'bin', 'java'));
  for (const dir of (env.PATH ?? '').split(delimiter)) if (dir) candidates.push(join(dir, 'java'));
  if (fallback) candidates.push(fallback);
  for (const c of candidates) if (isExecutableFile(c)) return resolve(c);
  throw new ZkctlError(`Java not found (JAVA_HOME, PATH): install it with \`${JAVA_INSTALL_COMMAND}\``, undefined, {
    hint: 'or set JAVA_HOME to a JDK/JRE 11+ directory',
  });
}

function jarsIn(dir: string): string[] {
  try {
    return readdirSync(dir)
      .filter((f) => f.endsWith('.jar'))
      .sort()
      .map((f) => join(dir, f));
  } catch {
    return [];
  }
}

function versionFromJarName(p: string): string | undefined {
  const m = /^zookeeper-(\d+\.\d+\.\d+[^/]*?)\.jar$/.exec(basename(p));
  return m?.[1];
}

function loggingFromJars(jars: string[]): ZkLogging {
  const names = jars.map((j) => basename(j));
  if (names.some((n) => n.startsWith('logback-classic'))) return 'logback';
  if (
    names.some((n) => n.startsWith('slf4j-log4j12') || n.startsWith('slf4j-reload4j')) &&
    names.some((n) => /^(log4j-1|log4j-1\.2|reload4j)/.test(n))
  )
    return 'log4j';
  if (names.some((n) => n.startsWith('slf4j-simple'))) return 'simple';
  return 'none';
}

/** A ZooKeeper release directory: lib/*.jar (+ top-level *.jar). */
export function installFromHome(home: string, java: string): ZkInstall {
  const dir = resolve(home);
  if (!existsSync(dir)) throw new UsageError(`ZooKeeper home ${dir} does not exist`, 'pass a ZooKeeper release directory (with lib/*.jar) to --zk-home / ZOOKEEPER_HOME');
  const jars = [...jarsIn(join(dir, 'lib')), ...jarsIn(dir)];
  const zkJar = jars.find((j) => /^zookeeper-\d.*\.jar$/.test(basename(j)) && !/-(tests|sources|javadoc)\.jar$/.test(j) && !basename(j).startsWith('zookeeper-jute'));
  if (!zkJar)
    throw new UsageError(
      `ZooKeeper home ${dir} has no zookeeper-<version>.jar in lib/`,
      'pass a ZooKeeper binary release directory (apache-zookeeper-X.Y.Z-bin) to --zk-home / ZOOKEEPER_HOME',
    );
  return { java, classpath: jars, logging: loggingFromJars(jars), source: 'zk-home', home: dir, version: versionFromJarName(zkJar) };
}

/** Debian's package: /usr/share/java/zookeeper.jar plus an slf4j binding. */
export function installFromDebian(javaDir: string, java: string): ZkInstall | undefined {
  const zkJar = join(javaDir, 'zookeeper.jar');
  if (!isFile(zkJar)) return undefined;
  // Debian ships zookeeper.jar plus a zookeeper-<version>.jar symlink to it.
  let version: string | undefined;
  try {
    version = versionFromJarName(realpathSync(zkJar));
    if (!version) {
      const real = realpathSync(zkJar);
      const named = readdirSync(javaDir).find((f) => /^zookeeper-\d+\.\d+\.\d+[^/]*\.jar$/.test(f) && realpathSync(join(javaDir, f)) === real);
      if (named) version = versionFromJarName(named);
    }
  } catch {
    /* version unknown */
  }
  const classpath = [zkJar];
  let logging: ZkLogging = 'none';
  const log4jBinding = join(javaDir, 'slf4j-log4j12.jar');
  const log4j = join(javaDir, 'log4j-1.2.jar');
  const simple = join(javaDir, 'slf4j-simple.jar');
  if (isFile(log4jBinding) && isFile(log4j)) {
    classpath.push(log4jBinding, log4j);
    logging = 'log4j';
  } else if (isFile(simple)) {
    classpath.push(simple);
    logging = 'simple';
  }
  // The manifest's Class-Path lacks the servlet API the AdminServer (Jetty) needs.
  const servlet = join(javaDir, 'servlet-api.jar');
  if (isFile(servlet)) classpath.push(servlet);
  return { java, classpath, logging, source: 'debian', home: javaDir, version };
}

/**
 * Find java and ZooKeeper. Throws a ZkctlError whose message names the exact
 * install command when either is missing.
 */
export function findZooKeeper(opts: FindInstallOptions = {}): ZkInstall {
  const env = opts.env ?? process.env;
  const home = opts.zkHome ?? (env.ZOOKEEPER_HOME || undefined);
  // Check ZooKeeper first: without it, java alone is of no use, and the message should say so.
  const javaDir = opts.debianJavaDir ?? '/usr/share/java';
  if (!home && !isFile(join(javaDir, 'zookeeper.jar'))) {
    throw new ZkctlError(`ZooKeeper not found (${javaDir}/zookeeper.jar, ZOOKEEPER_HOME): install it with \`${ZOOKEEPER_INSTALL_COMMAND}\``, undefined, {
      hint: 'or pass --zk-home / set ZOOKEEPER_HOME to a ZooKeeper release directory',
    });
  }
  const java = findJava(env);
  if (home) return installFromHome(home, java);
  const inst = installFromDebian(javaDir, java);
  if (!inst) throw new ZkctlError(`ZooKeeper not found: install it with \`${ZOOKEEPER_INSTALL_COMMAND}\``);
  return inst;
}

/**
 * What the Netty connection factory (TLS, secureClientPort) needs beyond the stock classpath.
 * Debian's zookeeper.jar manifest lacks netty-codec and netty-resolver: the server binds the
 * secure port, then every connection dies with NoClassDefFoundError (ByteToMessageDecoder).
 * A release directory's lib/ has them already.
 */
export function nettyJars(inst: ZkInstall): string[] {
  if (inst.source !== 'debian') return [];
  const names = ['netty-common', 'netty-buffer', 'netty-transport', 'netty-handler', 'netty-codec', 'netty-resolver', 'netty-transport-native-unix-common', 'netty-transport-native-epoll'];
  return names.map((n) => join(inst.home, `${n}.jar`)).filter((j) => isFile(j) && !inst.classpath.includes(j));
}
