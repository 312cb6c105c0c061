/**
 * Peers written with other clients (real Apache Curator through test/recipes/CuratorPeer.java,
 * kazoo through kazoo_peer.py) as child processes: the jars, the javac step, and the process
 * handle every interop suite uses.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot, runAsync } from '../helpers/zk.js';
import { scratchDir } from './util.js';

/**
 * Curator 5.4 and what it needs, from Debian's packages: the classes the peer loads come from exactly
 * these jars (checked with java -verbose:class); guava.jar carries failureaccess, and the ZooKeeper
 * client needs neither netty nor jackson.
 */
export const CURATOR_CP = ['curator-recipes', 'curator-framework', 'curator-client', 'zookeeper', 'zookeeper-jute', 'guava', 'slf4j-api'].map((j) => `/usr/share/java/${j}.jar`);

/** Why the Curator suites cannot run here (for node:test's `skip`), or false. */
export const curatorSkip: string | false = (() => {
  const missing = CURATOR_CP.filter((j) => !existsSync(j));
  if (missing.length > 0) return `Curator jars missing (${missing.join(', ')}): apt-get install libcurator-recipes-java`;
  if (spawnSync('javac', ['-version']).status !== 0) return 'javac missing: apt-get install openjdk-17-jdk-headless';
  return false;
})();

/** A short-lived client JVM: start-up matters more than peak speed (about half the start-up time). */
const JVM_FLAGS = ['-XX:TieredStopAtLevel=1', '-XX:+UseSerialGC', '-Xshare:auto'];

/** Compile CuratorPeer.java into a fresh directory; returns it. */
export async function compileCuratorPeer(): Promise<string> {
  const classDir = scratchDir('curator-peer');
  // Not spawnSync: javac takes 30 s and more on a loaded machine, and a blocked event loop sends
  // no pings, so the suite's open sessions expired on the server (seen in a fresh-clone run).
  const c = await runAsync('javac', ['-nowarn', '-d', classDir, '-cp', CURATOR_CP.join(':'), join(repoRoot, 'test', 'recipes', 'CuratorPeer.java')]);
  assert.equal(c.status, 0, c.stderr);
  return classDir;
}

/** `java ... CuratorPeer <args>` as [command, args] for startPeer. */
export function curatorCommand(classDir: string, args: string[]): [string, string[]] {
  return ['java', [...JVM_FLAGS, '-cp', [classDir, ...CURATOR_CP].join(':'), 'CuratorPeer', ...args]];
}

/** A peer process: its output so far, its exit, and `finish` (stdin EOF: it releases and exits). */
export interface PeerProcess {
  proc: ChildProcess;
  out(): string;
  /** stderr without SLF4J's start-up noise. */
  err(): string;
  exited: Promise<number | null>;
  /** Close stdin (the peer releases / closes and exits) and wait for its exit code. */
  finish(): Promise<number | null>;
}

/** Start a peer; `running` gets a function that SIGKILLs it (for the suite's cleanup). */
export function startPeer(cmd: string, args: string[], running: Array<() => void>): PeerProcess {
  const proc = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  running.push(() => proc.kill('SIGKILL'));
  let out = '';
  let err = '';
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  proc.stdin!.on('error', () => undefined);
  const exited = new Promise<number | null>((r) => proc.on('exit', (c) => r(c)));
  return {
    proc,
    out: () => out,
    err: () => err.replace(/^SLF4J: .*\n/gm, ''),
    exited,
    finish: async () => {
      proc.stdin!.end();
      return exited;
    },
  };
}
