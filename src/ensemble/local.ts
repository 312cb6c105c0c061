/**
 * Local ensemble lifecycle: real ZooKeeper servers (QuorumPeerMain) started
 * detached on 127.0.0.1, supervised through pid files.
 *
 * Layout of an ensemble directory (default $XDG_STATE_HOME/zkctl/ensembles/<name>,
 * i.e. ~/.local/state/zkctl/ensembles/<name>; mode 0700):
 *   ensemble.json               the spec (name, size, ports, tick time)
 *   super.secret                the super user's password (0600)
 *   log4j.properties, logback.xml   server logging config (INFO to stdout)
 *   members/<id>/zoo.cfg        static config (ZooKeeper rewrites it after the first election)
 *   members/<id>/zoo.cfg.dynamic    server.N lines (ZooKeeper writes zoo.cfg.dynamic.<version>)
 *   members/<id>/data/myid      and the snapshots / transaction logs
 *   members/<id>/zookeeper.pid  pid of the running member
 *   members/<id>/zookeeper.log  the member's stdout/stderr (server log)
 *   membership.json             which ids are members now, with roles, and external servers, after
 *                               `ensemble add` / `ensemble remove`, a raw `zkctl reconfig` on the
 *                               ensemble, or `ensemble sync` (roster.ts, sync.ts; absent: members 1..size)
 * Ensembles created with an explicit dir outside the default root are recorded
 * in $XDG_STATE_HOME/zkctl/ensembles.json so that list() and load(name) find them.
 */
import { spawn } from 'node:child_process';
import {
  chmodSync,
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  unlinkSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { writeFileSafeSync } from '../core/file-write.js';
import { ConnectionError, UsageError, ZkctlError } from '../core/errors.js';
import {
  checkSpec,
  DEFAULTS,
  MAX_SIZE,
  ELECTION_PORT_OFFSET,
  QUORUM_PORT_OFFSET,
  DEFAULT_JVM_FLAGS,
  generatePassword,
  LOCAL_HOST,
  makeSpec,
  memberPorts,
  renderDynamicConfig,
  renderLog4jProperties,
  renderLogbackXml,
  renderMyid,
  renderZooCfg,
  superDigest,
  type EnsembleSpec,
  type MemberPorts,
  type SpecInput,
} from './config.js';
import { findPortHolder, isPidAlive, isPortFree, PortInUseError, readCmdline, sleep, withPidLock } from './proc.js';
import { ensembleStatus, isServing, memberStatus, parseConnectString, summarize, type EnsembleStatus, type HostPort, type MemberStatus } from './status.js';
import { findZooKeeper, QUORUM_PEER_MAIN, type ZkInstall } from './zk-install.js';
import { readExternal, readRoster, votingIds, type ExternalMember, type MemberRole, type RosterMember } from './roster.js';

// ---------------------------------------------------------------------------------------------
// Types

export interface EnvOptions {
  /** Environment for XDG_STATE_HOME, HOME, ZOOKEEPER_HOME, JAVA_HOME, PATH (default process.env). */
  env?: NodeJS.ProcessEnv;
}

export type ProgressEvent =
  | { kind: 'created'; dir: string }
  | { kind: 'starting'; member: number }
  | { kind: 'started'; member: number; pid: number }
  | { kind: 'waiting'; message: string }
  | { kind: 'ready'; elapsedMs: number };

export interface UpOptions extends EnvOptions, SpecInput {
  /** Ensemble directory (default $XDG_STATE_HOME/zkctl/ensembles/<name>). */
  dir?: string;
  /** Deadline for the quorum to form (default 60 000 ms). */
  waitMs?: number;
  /** JVM flags replacing the defaults (heap, GC). */
  jvmFlags?: readonly string[];
  /** Progress callback (the CLI prints these on a TTY; core never prints). */
  onProgress?: (e: ProgressEvent) => void;
}

export interface MemberDescription extends MemberPorts {
  /** participant (votes) or observer. */
  role: MemberRole;
  host: string;
  /** "127.0.0.1:2181" */
  address: string;
  running: boolean;
  pid?: number;
  dir: string;
  configPath: string;
  logPath: string;
  dataDir: string;
}

export interface EnsembleDescription {
  name: string;
  dir: string;
  /** Number of members (ids can have holes after `ensemble remove`). */
  size: number;
  /** Number of voting members (participants). */
  votingSize: number;
  basePort: number;
  tickTime: number;
  adminPort?: number;
  connectString: string;
  /** File holding the super user's password (digest auth `super:<password>`). */
  superSecretPath: string;
  createdAt: string;
  members: MemberDescription[];
  running: number;
}

export interface LocalMemberStatus extends MemberStatus {
  id: number;
  role: MemberRole;
  pid?: number;
  /** Our members: the process runs. External servers: it answers. */
  running: boolean;
  /** A server in the configuration that zkctl did not start (roster.ts): asked, never started or stopped. */
  external?: true;
}

export interface LocalEnsembleStatus extends EnsembleStatus {
  name: string;
  dir: string;
  connectString: string;
  members: LocalMemberStatus[];
  leader?: LocalMemberStatus;
}

export interface UpResult extends EnsembleDescription {
  /** Every member was already running: nothing was started. */
  alreadyRunning: boolean;
  /** The directory was created by this call. */
  created: boolean;
  /** Members this call started. */
  started: number[];
  elapsedMs: number;
  status: LocalEnsembleStatus;
}

export interface MemberActionResult {
  id: number;
  pid?: number;
  /** stop/kill: it was running; start: it was already running. */
  wasRunning: boolean;
  /** stop: 'SIGTERM', or 'SIGKILL' when it had to be forced. */
  signal?: NodeJS.Signals;
  ms: number;
  /** start/restart with waiting: how it serves now. */
  status?: LocalMemberStatus;
}

export interface EnsembleSummary {
  name: string;
  dir: string;
  /** Number of members. */
  size: number;
  basePort: number;
  connectString: string;
  running: number;
}

export type MemberRef = number | string;

const ENSEMBLE_FILE = 'ensemble.json';
const SECRET_FILE = 'super.secret';
const LOCK_FILE = '.lock';
const PID_FILE = 'zookeeper.pid';
const LOG_FILE = 'zookeeper.log';
const LOG_ROTATE_BYTES = 10 * 1024 * 1024;
const DEFAULT_WAIT_MS = 60_000;
const DEFAULT_STOP_MS = 15_000;

// ---------------------------------------------------------------------------------------------
// State directory and registry

/** $XDG_STATE_HOME/zkctl (default ~/.local/state/zkctl). */
export function stateRoot(env: NodeJS.ProcessEnv = process.env): string {
  const xdg = env.XDG_STATE_HOME;
  const base = xdg && isAbsolute(xdg) ? xdg : join(env.HOME || homedir(), '.local', 'state');
  return join(base, 'zkctl');
}

/** Where named ensembles live by default. */
export function ensemblesRoot(env: NodeJS.ProcessEnv = process.env): string {
  return join(stateRoot(env), 'ensembles');
}

export function defaultEnsembleDir(name: string, env: NodeJS.ProcessEnv = process.env): string {
  return join(ensemblesRoot(env), name);
}

function registryPath(env: NodeJS.ProcessEnv): string {
  return join(stateRoot(env), 'ensembles.json');
}

function readRegistry(env: NodeJS.ProcessEnv): string[] {
  try {
    const v = JSON.parse(readFileSync(registryPath(env), 'utf8')) as { dirs?: unknown };
    return Array.isArray(v.dirs) ? v.dirs.filter((d): d is string => typeof d === 'string') : [];
  } catch {
    return [];
  }
}

function writeRegistry(env: NodeJS.ProcessEnv, dirs: string[]): void {
  const p = registryPath(env);
  mkdirSync(dirname(p), { recursive: true, mode: 0o700 });
  atomicWrite(p, JSON.stringify({ dirs: [...new Set(dirs)] }, null, 2) + '\n');
}

function register(env: NodeJS.ProcessEnv, dir: string): void {
  if (dirname(dir) === ensemblesRoot(env)) return;
  const dirs = readRegistry(env);
  if (!dirs.includes(dir)) writeRegistry(env, [...dirs, dir]);
}

function unregister(env: NodeJS.ProcessEnv, dir: string): void {
  const dirs = readRegistry(env);
  if (dirs.includes(dir)) writeRegistry(env, dirs.filter((d) => d !== dir));
}

/** Atomic (temp file + fsync + rename) through the one file writer, core/file-write.ts. */
function atomicWrite(path: string, text: string): void {
  writeFileSafeSync(path, text);
}

function isEnsembleDir(dir: string): boolean {
  return existsSync(join(dir, ENSEMBLE_FILE));
}

function readSpec(dir: string): EnsembleSpec {
  const p = join(dir, ENSEMBLE_FILE);
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(p, 'utf8'));
  } catch (e) {
    throw new UsageError(`cannot read ${p}: ${(e as Error).message}`);
  }
  return checkSpec(raw, p);
}

// ---------------------------------------------------------------------------------------------
// Locking (create / start / destroy are serialized per directory)

/** In-process serialization per directory (the file lock below serializes processes). */
const inProcess = new Map<string, Promise<unknown>>();

async function withLock<T>(dir: string, timeoutMs: number, fn: () => Promise<T>): Promise<T> {
  const prev = inProcess.get(dir) ?? Promise.resolve();
  const run = prev.catch(() => undefined).then(() => withFileLock(dir, timeoutMs, fn));
  inProcess.set(dir, run);
  try {
    return await run;
  } finally {
    if (inProcess.get(dir) === run) inProcess.delete(dir);
  }
}

/** How long startMembers keeps the port lock while new members bind their ports. */
const PORT_BIND_WAIT_MS = 15_000;

/**
 * One machine-wide lock (in the temp dir) around "check the ports are free, start the servers,
 * wait until they hold them": two zkctl processes starting ensembles on overlapping ports at the
 * same moment would otherwise both find the ports free and start a mix of each other's members.
 */
async function withPortLock<T>(fn: () => Promise<T>): Promise<T> {
  const lock = join(tmpdir(), 'zkctl-ports.lock');
  return withPidLock(
    lock,
    {
      timeoutMs: 120_000,
      busy: (holder) => new ZkctlError(`another zkctl (pid ${holder}) has been starting ZooKeeper servers for 2 minutes`, undefined, { hint: `wait for it, or remove ${lock} if that process is gone` }),
    },
    fn,
  );
}

async function withFileLock<T>(dir: string, timeoutMs: number, fn: () => Promise<T>): Promise<T> {
  const lock = join(dir, LOCK_FILE);
  return withPidLock(
    lock,
    {
      timeoutMs,
      // Our own pid is stale here: this process serializes itself above.
      ownPidIsStale: true,
      busy: (holder) => new ZkctlError(`ensemble directory ${dir} is busy (locked by zkctl pid ${holder})`, undefined, { hint: `wait for it, or remove ${lock} if that process is gone` }),
    },
    fn,
  );
}

function readFileSafe(p: string): string {
  try {
    return readFileSync(p, 'utf8');
  } catch {
    return '';
  }
}

// ---------------------------------------------------------------------------------------------
// LocalEnsemble

export class LocalEnsemble {
  readonly dir: string;
  readonly spec: EnsembleSpec;
  private readonly env: NodeJS.ProcessEnv;
  private install?: ZkInstall;

  constructor(dir: string, spec: EnsembleSpec, opts: EnvOptions = {}) {
    this.dir = resolve(dir);
    this.spec = spec;
    this.env = opts.env ?? process.env;
  }

  get name(): string {
    return this.spec.name;
  }
  /**
   * The members now, with roles: membership.json when `ensemble add` / `remove` changed the
   * membership, else 1..spec.size (roster.ts). Read from the directory on every call.
   */
  roster(): RosterMember[] {
    return readRoster(this.dir, this.spec);
  }
  /** Number of members (not the highest id: removing a member below the highest leaves a hole). */
  get size(): number {
    return this.roster().length;
  }
  /** Number of voting members (participants; observers do not vote). */
  get votingSize(): number {
    return votingIds(this.roster()).length;
  }
  /** Client addresses of the members, observers included. */
  get connectString(): string {
    return clientAddresses(this.spec, this.ids);
  }
  /** Member ids now, ascending. */
  get ids(): number[] {
    return this.roster().map((m) => m.id);
  }
  /** Servers in the recorded configuration that zkctl did not start (not in ids, never started or stopped). */
  externalMembers(): ExternalMember[] {
    return readExternal(this.dir);
  }
  /** Former members: ids whose files are still here but that are no longer members (removed with reconfig). */
  formerMembers(): number[] {
    const ids = new Set(this.ids);
    return this.idsWithFiles()
      .filter((id) => !ids.has(id))
      .sort((a, b) => a - b);
  }
  get superSecretPath(): string {
    return join(this.dir, SECRET_FILE);
  }

  memberDir(id: number): string {
    return join(this.dir, 'members', String(id));
  }
  configPath(id: number): string {
    return join(this.memberDir(id), 'zoo.cfg');
  }
  dataDir(id: number): string {
    return join(this.memberDir(id), 'data');
  }
  pidPath(id: number): string {
    return join(this.memberDir(id), PID_FILE);
  }
  /** The member's log file (server log at INFO plus JVM output); also of a removed member whose files are kept. */
  logPath(id: MemberRef): string {
    return join(this.memberDir(this.checkId(id, false)), LOG_FILE);
  }
  ports(id: number): MemberPorts {
    return memberPorts(this.spec, id);
  }

  /** The super user's password (digest scheme, user `super`). */
  superPassword(): string {
    return readFileSync(this.superSecretPath, 'utf8').trim();
  }
  /** `super:<password>`, for `--auth digest:...` / addAuthInfo('digest', ...). */
  superAuth(): string {
    return `super:${this.superPassword()}`;
  }

  /**
   * Validate a numeric member id ('leader' needs resolveMember): a member now, or with
   * member=false also a former member whose files are still there (to stop it, read its log).
   */
  private checkId(id: MemberRef, member = true): number {
    const n = typeof id === 'number' ? id : /^\d+$/.test(id.trim()) ? Number(id.trim()) : NaN;
    const ids = this.ids;
    if (Number.isInteger(n) && ids.includes(n)) return n;
    const hint = `use a member id (${ids.join(', ')})${typeof id === 'string' ? " or 'leader'" : ''}`;
    if (Number.isInteger(n) && n >= 1 && existsSync(this.configPath(n))) {
      if (!member) return n;
      throw new UsageError(`member ${n} is no longer a member of ensemble '${this.name}' (removed)`, `${hint}; \`zkctl ensemble add\` adds a member`);
    }
    throw new UsageError(`no member '${id}' in ensemble '${this.name}'`, hint);
  }

  /** Ids with files under members/ (members, and removed members whose files are kept). */
  private idsWithFiles(): number[] {
    let names: string[] = [];
    try {
      names = readdirSync(join(this.dir, 'members'));
    } catch {
      /* no members dir */
    }
    return names.filter((d) => /^\d+$/.test(d)).map(Number).filter((id) => id >= 1 && existsSync(this.configPath(id)));
  }

  /** Is this pid our member's QuorumPeerMain (not a reused pid)? */
  private isOurs(pid: number, id: number): boolean {
    if (!isPidAlive(pid)) return false;
    const argv = readCmdline(pid);
    if (!argv) return process.platform !== 'linux';
    return argv.includes(QUORUM_PEER_MAIN) && argv.includes(this.configPath(id));
  }

  /** The live pid of a member (or of a removed member still running), or undefined (no pid file, or a stale one). */
  pidOf(id: MemberRef): number | undefined {
    const n = this.checkId(id, false);
    const pid = Number(readFileSafe(this.pidPath(n)).trim());
    if (!pid) return undefined;
    return this.isOurs(pid, n) ? pid : undefined;
  }

  isRunning(id: MemberRef): boolean {
    return this.pidOf(id) !== undefined;
  }

  members(): MemberDescription[] {
    return this.roster().map(({ id, role }) => {
      const pid = this.pidOf(id);
      const ports = this.ports(id);
      const m: MemberDescription = {
        ...ports,
        role,
        host: LOCAL_HOST,
        address: `${LOCAL_HOST}:${ports.clientPort}`,
        running: pid !== undefined,
        dir: this.memberDir(id),
        configPath: this.configPath(id),
        logPath: join(this.memberDir(id), LOG_FILE),
        dataDir: this.dataDir(id),
      };
      if (pid !== undefined) m.pid = pid;
      return m;
    });
  }

  describe(): EnsembleDescription {
    const members = this.members();
    const d: EnsembleDescription = {
      name: this.name,
      dir: this.dir,
      size: members.length,
      votingSize: members.filter((m) => m.role === 'participant').length,
      basePort: this.spec.basePort,
      tickTime: this.spec.tickTime,
      connectString: clientAddresses(this.spec, members.map((m) => m.id)),
      superSecretPath: this.superSecretPath,
      createdAt: this.spec.createdAt,
      members,
      running: members.filter((m) => m.running).length,
    };
    if (this.spec.adminPort !== undefined) d.adminPort = this.spec.adminPort;
    return d;
  }

  /**
   * Status of every member (four-letter words; members whose process is not running are 'down'
   * without asking). The quorum is a majority of the voting members (observers do not vote).
   */
  async status(opts: { timeoutMs?: number } = {}): Promise<LocalEnsembleStatus> {
    const timeoutMs = opts.timeoutMs ?? 2000;
    const roster = this.roster();
    const external = this.externalMembers();
    const ours = Promise.all(
      roster.map(async ({ id, role }): Promise<LocalMemberStatus> => {
        const ports = this.ports(id);
        const pid = this.pidOf(id);
        if (pid === undefined) {
          return { id, role, host: LOCAL_HOST, port: ports.clientPort, address: `${LOCAL_HOST}:${ports.clientPort}`, mode: 'down', error: 'not running', running: false, ms: 0 };
        }
        const st = await memberStatus({ host: LOCAL_HOST, port: ports.clientPort }, { timeoutMs });
        return { ...st, id, role, pid, running: true };
      }),
    );
    // External servers are asked like any server (they have no pid here).
    const theirs = Promise.all(
      external.map(async ({ id, role, address }): Promise<LocalMemberStatus> => {
        let hp: HostPort | undefined;
        try {
          hp = address ? parseConnectString(address)[0] : undefined;
        } catch {
          hp = undefined;
        }
        if (!hp) return { id, role, host: '', port: 0, address: '', mode: 'down', error: 'no client address in its server spec', running: false, ms: 0, external: true };
        const st = await memberStatus(hp, { timeoutMs });
        return { ...st, id, role, running: st.mode !== 'down', external: true };
      }),
    );
    const members = [...(await ours), ...(await theirs)].sort((a, b) => a.id - b.id);
    const voting = votingIds(roster).length + external.filter((x) => x.role === 'participant').length;
    const { leader, ...sum } = summarize(members, voting);
    const cs = clientAddresses(this.spec, roster.map((m) => m.id));
    const out: LocalEnsembleStatus = { ...sum, members, name: this.name, dir: this.dir, connectString: cs };
    if (leader) out.leader = leader as LocalMemberStatus;
    return out;
  }

  /** A member id from a number, "2" or "leader" (asks the members who leads). */
  async resolveMember(ref: MemberRef, opts: { timeoutMs?: number } = {}): Promise<number> {
    return this.resolveRef(ref, true, opts);
  }

  /** resolveMember; with member=false a removed member whose files are kept is accepted too (stop, kill). */
  private async resolveRef(ref: MemberRef, member: boolean, opts: { timeoutMs?: number } = {}): Promise<number> {
    if (typeof ref === 'string' && ref.trim().toLowerCase() === 'leader') {
      const st = await this.status(opts);
      if (!st.leader) throw new ConnectionError(`ensemble '${this.name}' has no leader right now (${describeModes(st)})`);
      return st.leader.id;
    }
    return this.checkId(ref, member);
  }

  private zk(): ZkInstall {
    if (!this.install) this.install = findZooKeeper({ ...(this.spec.zkHome ? { zkHome: this.spec.zkHome } : {}), env: this.env });
    return this.install;
  }

  /** Throw PortInUseError if a port this member needs is taken (adopting our own orphaned member). */
  private async checkPorts(id: number, adopt: boolean): Promise<number | undefined> {
    const p = this.ports(id);
    const need: Array<[number, string]> = [
      [p.clientPort, `client port of member ${id}`],
      [p.quorumPort, `quorum port of member ${id}`],
      [p.electionPort, `election port of member ${id}`],
    ];
    if (p.adminPort !== undefined) need.push([p.adminPort, `admin port of member ${id}`]);
    for (const [port, what] of need) {
      if (await isPortFree(port, LOCAL_HOST)) continue;
      let holder = await findPortHolder(port);
      if (!holder) {
        // Nobody we can see holds it: often a process that is just exiting. Give it a moment.
        const end = Date.now() + 3000;
        let free = false;
        while (!free && Date.now() < end) {
          await sleep(100);
          free = await isPortFree(port, LOCAL_HOST);
        }
        if (free) continue;
        holder = await findPortHolder(port);
      }
      if (adopt && holder?.argv && holder.argv.includes(QUORUM_PEER_MAIN) && holder.argv.includes(this.configPath(id))) {
        return holder.pid; // our member, running without (or with a lost) pid file
      }
      throw new PortInUseError(port, what, holder, `stop that process or choose another base port (this ensemble uses ${this.spec.basePort}..)`);
    }
    return undefined;
  }

  private ensureLoggingConfig(): void {
    const l4j = join(this.dir, 'log4j.properties');
    const lb = join(this.dir, 'logback.xml');
    if (!existsSync(l4j)) writeFileSync(l4j, renderLog4jProperties());
    if (!existsSync(lb)) writeFileSync(lb, renderLogbackXml());
  }

  private javaArgs(id: number, inst: ZkInstall, jvmFlags: readonly string[]): string[] {
    const logging: string[] = [];
    if (inst.logging === 'log4j') logging.push(`-Dlog4j.configuration=file:${join(this.dir, 'log4j.properties')}`);
    else if (inst.logging === 'logback') logging.push(`-Dlogback.configurationFile=${join(this.dir, 'logback.xml')}`);
    else if (inst.logging === 'simple')
      logging.push('-Dorg.slf4j.simpleLogger.defaultLogLevel=info', '-Dorg.slf4j.simpleLogger.showDateTime=true', "-Dorg.slf4j.simpleLogger.dateTimeFormat=yyyy-MM-dd HH:mm:ss,SSS");
    return [...jvmFlags, `-Dzookeeper.log.dir=${this.memberDir(id)}`, ...logging, '-cp', inst.classpath.join(':'), QUORUM_PEER_MAIN, this.configPath(id)];
  }

  private childEnv(): NodeJS.ProcessEnv {
    const env: NodeJS.ProcessEnv = {};
    for (const [k, v] of Object.entries(this.env)) {
      // zkctl's own settings (auth!) have no business in the server's environment.
      if (k.startsWith('ZKCTL_')) continue;
      env[k] = v;
    }
    return env;
  }

  /** Spawn one member detached (no waiting). Assumes ports were checked. */
  private spawnMember(id: number, jvmFlags: readonly string[]): number {
    const inst = this.zk();
    this.ensureLoggingConfig();
    const log = join(this.memberDir(id), LOG_FILE);
    try {
      if (statSync(log).size > LOG_ROTATE_BYTES) renameSync(log, `${log}.1`);
    } catch {
      /* no log yet */
    }
    const fd = openSync(log, 'a', 0o600);
    let pid: number | undefined;
    try {
      writeSync(fd, `\n=== zkctl: starting member ${id} of ensemble '${this.name}' at ${new Date().toISOString()} ===\n`);
      const child = spawn(inst.java, this.javaArgs(id, inst, jvmFlags), {
        cwd: this.memberDir(id),
        detached: true,
        stdio: ['ignore', fd, fd],
        env: this.childEnv(),
      });
      child.on('error', () => {
        /* reported through the missing pid / the wait */
      });
      child.unref();
      pid = child.pid;
    } finally {
      closeSync(fd);
    }
    if (!pid) throw new ZkctlError(`could not start member ${id} (${inst.java})`, undefined, { hint: `see ${log}` });
    writeFileSync(this.pidPath(id), `${pid}\n`);
    return pid;
  }

  /**
   * Start members that are not running (all when ids is omitted) and return who was started.
   * Ports of all of them are checked before any is spawned.
   */
  async startMembers(
    ids: number[] = this.ids,
    opts: { jvmFlags?: readonly string[]; onProgress?: (e: ProgressEvent) => void; /** adopt our own member running without a pid file (default true) */ adopt?: boolean } = {},
  ): Promise<Array<{ id: number; pid: number; adopted: boolean }>> {
    return withLock(this.dir, 10_000, async () => {
      const todo = ids.filter((id) => !this.isRunning(id));
      if (todo.length === 0) return [];
      this.zk(); // missing java / ZooKeeper: fail before anything else
      return withPortLock(() => this.checkAndSpawn(todo, opts));
    });
  }

  /** startMembers' work, under the machine-wide port lock: check every port, spawn, wait until they are bound. */
  private async checkAndSpawn(
    todo: number[],
    opts: { jvmFlags?: readonly string[]; onProgress?: (e: ProgressEvent) => void; adopt?: boolean },
  ): Promise<Array<{ id: number; pid: number; adopted: boolean }>> {
    {
      const adopted = new Map<number, number>();
      for (const id of todo) {
        const pid = await this.checkPorts(id, opts.adopt ?? true);
        if (pid !== undefined) adopted.set(id, pid);
      }
      const out: Array<{ id: number; pid: number; adopted: boolean }> = [];
      for (const id of todo) {
        const a = adopted.get(id);
        if (a !== undefined) {
          writeFileSync(this.pidPath(id), `${a}\n`);
          out.push({ id, pid: a, adopted: true });
          continue;
        }
        opts.onProgress?.({ kind: 'starting', member: id });
        const pid = this.spawnMember(id, opts.jvmFlags ?? DEFAULT_JVM_FLAGS);
        opts.onProgress?.({ kind: 'started', member: id, pid });
        out.push({ id, pid, adopted: false });
      }
      // Hold the port lock until the new members have bound their client and election ports
      // (the JVM takes them within a second or two; a member that dies or is slow is left to
      // the caller's own wait), so another zkctl checking the same ports sees them taken.
      const end = Date.now() + PORT_BIND_WAIT_MS;
      for (const { id, pid, adopted: a } of out) {
        if (a) continue;
        const p = this.ports(id);
        while (Date.now() < end && isPidAlive(pid) && ((await isPortFree(p.clientPort, LOCAL_HOST)) || (await isPortFree(p.electionPort, LOCAL_HOST)))) await sleep(50);
      }
      return out;
    }
  }

  /** Start one member; with wait (default true) until it serves again. */
  async start(ref: MemberRef, opts: { wait?: boolean; timeoutMs?: number; jvmFlags?: readonly string[] } = {}): Promise<MemberActionResult> {
    const t0 = Date.now();
    const id = await this.resolveMember(ref);
    const before = this.pidOf(id);
    let pid = before;
    if (before === undefined) {
      const started = await this.startMembers([id], opts.jvmFlags ? { jvmFlags: opts.jvmFlags } : {});
      pid = started[0]?.pid ?? this.pidOf(id);
    }
    const r: MemberActionResult = { id, wasRunning: before !== undefined, ms: 0 };
    if (pid !== undefined) r.pid = pid;
    if (opts.wait !== false) r.status = await this.waitForMember(id, opts.timeoutMs ?? DEFAULT_WAIT_MS);
    r.ms = Date.now() - t0;
    return r;
  }

  /** SIGTERM, wait (deadline), then SIGKILL. */
  async stop(ref: MemberRef, opts: { timeoutMs?: number } = {}): Promise<MemberActionResult> {
    const t0 = Date.now();
    const id = await this.resolveRef(ref, false);
    const pid = this.pidOf(id);
    if (pid === undefined) {
      this.removePidFile(id);
      return { id, wasRunning: false, ms: Date.now() - t0 };
    }
    let signal: NodeJS.Signals = 'SIGTERM';
    signalPid(pid, 'SIGTERM');
    if (!(await waitDead(pid, opts.timeoutMs ?? DEFAULT_STOP_MS))) {
      signal = 'SIGKILL';
      signalPid(pid, 'SIGKILL');
      if (!(await waitDead(pid, 5000))) throw new ZkctlError(`member ${id} (pid ${pid}) did not exit after SIGKILL`);
    }
    this.removePidFile(id);
    return { id, pid, wasRunning: true, signal, ms: Date.now() - t0 };
  }

  /** SIGKILL at once (a crash, for drills). */
  async kill(ref: MemberRef, opts: { timeoutMs?: number } = {}): Promise<MemberActionResult> {
    const t0 = Date.now();
    const id = await this.resolveRef(ref, false);
    const pid = this.pidOf(id);
    if (pid === undefined) {
      this.removePidFile(id);
      return { id, wasRunning: false, ms: Date.now() - t0 };
    }
    signalPid(pid, 'SIGKILL');
    if (!(await waitDead(pid, opts.timeoutMs ?? 5000))) throw new ZkctlError(`member ${id} (pid ${pid}) did not exit after SIGKILL`);
    this.removePidFile(id);
    return { id, pid, wasRunning: true, signal: 'SIGKILL', ms: Date.now() - t0 };
  }

  /** stop + start + wait until it serves. */
  async restart(ref: MemberRef, opts: { timeoutMs?: number; wait?: boolean } = {}): Promise<MemberActionResult> {
    const t0 = Date.now();
    const id = await this.resolveMember(ref);
    const stopped = await this.stop(id, opts);
    const started = await this.start(id, opts);
    return { ...started, wasRunning: stopped.wasRunning, ms: Date.now() - t0 };
  }

  /**
   * Stop every member (in parallel), and any removed member whose files are kept and that still
   * runs; with purge, remove the directory.
   */
  async down(opts: { purge?: boolean; timeoutMs?: number } = {}): Promise<{ stopped: number[]; purged: boolean; dir: string }> {
    const ids = [...new Set([...this.ids, ...this.idsWithFiles()])].sort((a, b) => a - b);
    const results = await Promise.all(ids.map((id) => this.stop(id, opts)));
    const stopped = results.filter((r) => r.wasRunning).map((r) => r.id);
    let purged = false;
    if (opts.purge && !existsSync(this.dir)) {
      unregister(this.env, this.dir);
      purged = true; // already gone
    } else if (opts.purge) {
      if (!isEnsembleDir(this.dir)) throw new ZkctlError(`refusing to remove ${this.dir}: no ${ENSEMBLE_FILE} in it`);
      rmSync(this.dir, { recursive: true, force: true });
      unregister(this.env, this.dir);
      purged = true;
    }
    return { stopped, purged, dir: this.dir };
  }

  private removePidFile(id: number): void {
    try {
      unlinkSync(this.pidPath(id));
    } catch {
      /* none */
    }
  }

  /** Wait until the member serves (leader / follower / observer). Throws on deadline or if its process exits. */
  async waitForMember(ref: MemberRef, timeoutMs: number = DEFAULT_WAIT_MS): Promise<LocalMemberStatus> {
    const id = await this.resolveMember(ref);
    const end = Date.now() + timeoutMs;
    const port = this.ports(id).clientPort;
    const role = this.roster().find((m) => m.id === id)?.role ?? 'participant';
    let last: MemberStatus | undefined;
    for (;;) {
      const pid = this.pidOf(id);
      if (pid === undefined) {
        throw new ZkctlError(`member ${id} of ensemble '${this.name}' is not running${last ? '' : ' (it exited during start-up)'}`, undefined, {
          hint: `see ${this.logPath(id)}${lastErrorLine(this.logPath(id))}`,
        });
      }
      const remaining = end - Date.now();
      last = await memberStatus({ host: LOCAL_HOST, port }, { timeoutMs: Math.max(200, Math.min(1000, remaining)), mntr: false, conf: false });
      if (isServing(last.mode)) return { ...last, id, role, pid, running: true };
      if (Date.now() >= end) {
        throw new ConnectionError(`member ${id} of ensemble '${this.name}' did not start serving within ${fmtMs(timeoutMs)} (${last.mode})`, { hint: `see ${this.logPath(id)}` });
      }
      await sleep(Math.min(200, Math.max(0, end - Date.now())));
    }
  }

  /**
   * Wait until a quorum with exactly one leader serves; with all (default), also until every
   * running member serves (members whose process exited are not waited for).
   */
  async waitForQuorum(timeoutMs: number = DEFAULT_WAIT_MS, opts: { all?: boolean; onProgress?: (e: ProgressEvent) => void } = {}): Promise<LocalEnsembleStatus> {
    const end = Date.now() + timeoutMs;
    const all = opts.all ?? true;
    let st: LocalEnsembleStatus | undefined;
    let lastMsg = '';
    for (;;) {
      const remaining = end - Date.now();
      st = await this.status({ timeoutMs: Math.max(200, Math.min(1000, remaining)) });
      const running = st.members.filter((m) => m.running);
      const done = st.quorum && (!all || running.every((m) => isServing(m.mode)));
      if (done) return st;
      const msg = describeModes(st);
      if (msg !== lastMsg) {
        opts.onProgress?.({ kind: 'waiting', message: msg });
        lastMsg = msg;
      }
      const voters = st.members.filter((m) => m.role === 'participant');
      if (voters.filter((m) => m.running).length <= Math.floor(voters.length / 2)) {
        const dead = voters.filter((m) => !m.running);
        const logs = dead.filter((m) => !m.external).map((m) => `${this.logPath(m.id)}${lastErrorLine(this.logPath(m.id))}`);
        throw new ZkctlError(
          `ensemble '${this.name}' cannot form a quorum: member${dead.length > 1 ? 's' : ''} ${dead.map((m) => `${m.id}${m.external ? ' (external)' : ''}`).join(', ')} not running`,
          undefined,
          logs.length > 0 ? { hint: logs.join('; ') } : {},
        );
      }
      if (Date.now() >= end) {
        if (st.quorum) return st; // quorum serves; stragglers are shown as they are
        throw new ConnectionError(`ensemble '${this.name}' did not form a quorum within ${fmtMs(timeoutMs)} (${msg})`, {
          hint: `see the member logs (zkctl ensemble logs <id>) under ${join(this.dir, 'members')}`,
        });
      }
      await sleep(Math.min(200, Math.max(0, end - Date.now())));
    }
  }
}

/** "127.0.0.1:2181,127.0.0.1:2183": client addresses of these member ids. */
export function clientAddresses(spec: EnsembleSpec, ids: number[]): string {
  return ids.map((id) => `${LOCAL_HOST}:${memberPorts(spec, id).clientPort}`).join(',');
}

function describeModes(st: EnsembleStatus & { members: Array<MemberStatus & { id?: number }> }): string {
  return st.members.map((m) => `${m.id ?? m.address}: ${m.mode}`).join(', ');
}

function fmtMs(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}

/** "; last error: ..." from the tail of a log, or "". */
function lastErrorLine(log: string): string {
  const text = readFileSafe(log);
  if (!text) return '';
  const lines = text.slice(-20000).split('\n').filter((l) => /\b(ERROR|Exception|Error:)\b/.test(l));
  const last = lines[lines.length - 1];
  return last ? `; last error: ${last.trim().slice(0, 200)}` : '';
}

function signalPid(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ESRCH') throw e;
  }
}

async function waitDead(pid: number, timeoutMs: number): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (isPidAlive(pid)) {
    if (Date.now() >= end) return false;
    await sleep(50);
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// Module-level operations

function looksLikePath(s: string): boolean {
  return s.includes('/') || s === '.' || s === '..' || s.startsWith('~');
}

/** Load an ensemble by name (default root, then registered dirs) or by directory. */
export function load(nameOrDir: string, opts: EnvOptions = {}): LocalEnsemble {
  const env = opts.env ?? process.env;
  if (looksLikePath(nameOrDir)) {
    const dir = resolve(nameOrDir.startsWith('~/') ? join(env.HOME || homedir(), nameOrDir.slice(2)) : nameOrDir);
    if (!isEnsembleDir(dir)) throw new UsageError(`no zkctl ensemble in ${dir} (no ${ENSEMBLE_FILE})`, 'start one with `zkctl ensemble up --dir DIR`');
    return new LocalEnsemble(dir, readSpec(dir), { env });
  }
  const def = defaultEnsembleDir(nameOrDir, env);
  if (isEnsembleDir(def)) return new LocalEnsemble(def, readSpec(def), { env });
  const found = readRegistry(env)
    .filter((d) => isEnsembleDir(d))
    .map((d) => ({ d, spec: safeSpec(d) }))
    .filter((x): x is { d: string; spec: EnsembleSpec } => x.spec?.name === nameOrDir)
    .sort((a, b) => b.spec.createdAt.localeCompare(a.spec.createdAt));
  const first = found[0];
  if (first) return new LocalEnsemble(first.d, first.spec, { env });
  throw new UsageError(`no local ensemble named '${nameOrDir}'`, 'see `zkctl ensemble ls`, or start it with `zkctl ensemble up`');
}

/** Like load(), but undefined instead of an error when there is no such ensemble. */
export function tryLoad(nameOrDir: string, opts: EnvOptions = {}): LocalEnsemble | undefined {
  try {
    return load(nameOrDir, opts);
  } catch (e) {
    if (e instanceof UsageError) return undefined;
    throw e;
  }
}

function safeSpec(dir: string): EnsembleSpec | undefined {
  try {
    return readSpec(dir);
  } catch {
    return undefined;
  }
}

/** Every ensemble this machine knows (default root + registered dirs), with running member counts. */
export function list(opts: EnvOptions = {}): EnsembleSummary[] {
  const env = opts.env ?? process.env;
  const root = ensemblesRoot(env);
  const dirs: string[] = [];
  try {
    for (const d of readdirSync(root)) if (isEnsembleDir(join(root, d))) dirs.push(join(root, d));
  } catch {
    /* no root yet */
  }
  const reg = readRegistry(env);
  const live = reg.filter((d) => isEnsembleDir(d));
  if (live.length !== reg.length) {
    try {
      writeRegistry(env, live);
    } catch {
      /* read-only state dir: just do not prune */
    }
  }
  for (const d of live) if (!dirs.includes(d)) dirs.push(d);
  const out: EnsembleSummary[] = [];
  for (const dir of dirs) {
    const spec = safeSpec(dir);
    if (!spec) continue;
    const e = new LocalEnsemble(dir, spec, { env });
    const ids = e.ids;
    out.push({ name: spec.name, dir, size: ids.length, basePort: spec.basePort, connectString: clientAddresses(spec, ids), running: ids.filter((id) => e.isRunning(id)).length });
  }
  return out.sort((a, b) => a.name.localeCompare(b.name) || a.dir.localeCompare(b.dir));
}

/** The local ensemble whose members are exactly these servers (connect string or list), if any. */
export function findLocalByServers(servers: string, opts: EnvOptions = {}): LocalEnsemble | undefined {
  let hps;
  try {
    hps = parseConnectString(servers);
  } catch {
    return undefined;
  }
  const norm = (h: string): string => (h === 'localhost' ? LOCAL_HOST : h);
  const want = new Set(hps.map((h) => `${norm(h.host)}:${h.port}`));
  for (const s of list(opts)) {
    const have = new Set(parseConnectString(s.connectString).map((h) => `${h.host}:${h.port}`));
    if ([...want].every((w) => have.has(w))) return load(s.dir, opts);
  }
  return undefined;
}

/** Create the directory and every file of a new ensemble. */
function createEnsembleFiles(dir: string, spec: EnsembleSpec): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  const password = generatePassword();
  writeFileSync(join(dir, SECRET_FILE), password, { mode: 0o600 });
  chmodSync(join(dir, SECRET_FILE), 0o600);
  const digest = superDigest(password);
  const e = new LocalEnsemble(dir, spec);
  const dynamic = renderDynamicConfig(spec);
  for (const id of e.ids) {
    mkdirSync(e.dataDir(id), { recursive: true, mode: 0o700 });
    writeFileSync(join(e.dataDir(id), 'myid'), renderMyid(id));
    const dynPath = join(e.memberDir(id), 'zoo.cfg.dynamic');
    writeFileSync(dynPath, dynamic);
    writeFileSync(e.configPath(id), renderZooCfg(spec, id, { dataDir: e.dataDir(id), dynamicConfigFile: dynPath }, digest), { mode: 0o600 });
  }
  writeFileSync(join(dir, 'log4j.properties'), renderLog4jProperties());
  writeFileSync(join(dir, 'logback.xml'), renderLogbackXml());
  // Written last: its presence marks a complete ensemble directory.
  atomicWrite(join(dir, ENSEMBLE_FILE), JSON.stringify(spec, null, 2) + '\n');
}

function conflicts(spec: EnsembleSpec, input: SpecInput): string[] {
  const out: string[] = [];
  if (input.size !== undefined && input.size !== spec.size) out.push(`size ${spec.size}`);
  if (input.basePort !== undefined && input.basePort !== spec.basePort) out.push(`base port ${spec.basePort}`);
  if (input.tickTime !== undefined && input.tickTime !== spec.tickTime) out.push(`tick time ${spec.tickTime}`);
  if (input.adminPort !== undefined && input.adminPort !== spec.adminPort) out.push(`admin port ${spec.adminPort ?? 'disabled'}`);
  return out;
}

/**
 * Start a local ensemble (create it first if needed) and wait until a quorum
 * with exactly one leader serves. Idempotent: on a running ensemble it returns
 * it with alreadyRunning=true; members that are down are started.
 */
export async function up(opts: UpOptions = {}): Promise<UpResult> {
  const t0 = Date.now();
  const env = opts.env ?? process.env;
  const name = opts.name ?? (opts.dir && isEnsembleDir(resolve(opts.dir)) ? readSpec(resolve(opts.dir)).name : undefined);
  const fresh = makeSpec({ ...opts, ...(name ? { name } : {}) }); // validates input
  const dir = resolve(opts.dir ?? defaultEnsembleDir(fresh.name, env));
  let created = false;
  let spec: EnsembleSpec;
  if (isEnsembleDir(dir)) {
    spec = readSpec(dir);
    const diff = conflicts(spec, opts);
    if (opts.name !== undefined && opts.name !== spec.name) diff.push(`name '${spec.name}'`);
    if (diff.length > 0) {
      throw new UsageError(`ensemble '${spec.name}' in ${dir} already exists with ${diff.join(', ')}`, 'omit those options, or remove it first with `zkctl ensemble down --purge`');
    }
  } else {
    if (existsSync(dir) && readdirSync(dir).filter((f) => f !== LOCK_FILE).length > 0) {
      throw new UsageError(`${dir} exists and is not a zkctl ensemble directory`, 'choose an empty or new directory');
    }
    findZooKeeper({ ...(opts.zkHome ? { zkHome: opts.zkHome } : {}), env }); // fail before writing anything
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    await withLock(dir, 10_000, async () => {
      if (!isEnsembleDir(dir)) {
        const s = fresh;
        if (opts.zkHome) s.zkHome = resolve(opts.zkHome);
        createEnsembleFiles(dir, s);
        created = true;
      }
    });
    spec = readSpec(dir);
    if (created) opts.onProgress?.({ kind: 'created', dir });
  }
  register(env, dir);
  const ens = new LocalEnsemble(dir, spec, { env });
  let started: Array<{ id: number; pid: number; adopted: boolean }>;
  try {
    // A directory made just now has no members of its own to adopt: a server using its paths
    // would be a leftover of an ensemble removed while running.
    started = await ens.startMembers(ens.ids, { adopt: !created, ...(opts.jvmFlags ? { jvmFlags: opts.jvmFlags } : {}), ...(opts.onProgress ? { onProgress: opts.onProgress } : {}) });
  } catch (e) {
    // Nothing was started (ports are checked before any spawn): do not leave a half-made ensemble behind.
    if (created && ens.ids.every((id) => !ens.isRunning(id))) {
      rmSync(dir, { recursive: true, force: true });
      unregister(env, dir);
    }
    throw e;
  }
  const status = await ens.waitForQuorum(opts.waitMs ?? DEFAULT_WAIT_MS, opts.onProgress ? { onProgress: opts.onProgress } : {});
  const elapsedMs = Date.now() - t0;
  opts.onProgress?.({ kind: 'ready', elapsedMs });
  return {
    ...ens.describe(),
    alreadyRunning: started.every((s) => s.adopted),
    created,
    started: started.filter((s) => !s.adopted).map((s) => s.id),
    elapsedMs,
    status,
  };
}

/**
 * A base port such that every port of a `size`-member ensemble (client, quorum, election)
 * is free right now: tries start, start+step, ... (a probe, not a reservation: up() still
 * checks and fails with PortInUseError if another process wins a race).
 */
export async function freeBasePort(opts: { start?: number; size?: number; step?: number; attempts?: number } = {}): Promise<number> {
  const size = opts.size ?? 3;
  const step = Math.max(opts.step ?? 10, size);
  const start = opts.start ?? 21810;
  const attempts = opts.attempts ?? 500;
  // Ports a default ensemble (base 2181, up to 9 members) will want, even if it is not running now.
  const reserved = (p: number): boolean =>
    [0, QUORUM_PORT_OFFSET, ELECTION_PORT_OFFSET].some((off) => p >= DEFAULTS.basePort + off && p < DEFAULTS.basePort + off + MAX_SIZE);
  for (let i = 0, base = start; i < attempts && base + ELECTION_PORT_OFFSET + size - 1 <= 65535; i++, base += step) {
    let ok = true;
    for (let m = 0; m < size && ok; m++) {
      if ([0, QUORUM_PORT_OFFSET, ELECTION_PORT_OFFSET].some((off) => reserved(base + off + m))) ok = false;
    }
    for (let m = 0; m < size && ok; m++) {
      for (const off of [0, QUORUM_PORT_OFFSET, ELECTION_PORT_OFFSET]) {
        if (!(await isPortFree(base + off + m, LOCAL_HOST))) {
          ok = false;
          break;
        }
      }
    }
    if (ok) return base;
  }
  throw new ZkctlError(`no free base port for a ${size}-member ensemble from ${start}`);
}

// ---------------------------------------------------------------------------------------------
// Which ensemble a command means

export interface TargetInput extends EnvOptions {
  /** --name */
  name?: string;
  /** --dir */
  dir?: string;
  /** The resolved server string and whether it was given explicitly (flag / ZKCTL_SERVER). */
  server?: string;
  serverExplicit?: boolean;
  /** `ensemble-dir` of the context in use, if any. */
  contextEnsembleDir?: string;
}

/**
 * The local ensemble a command is about: --dir, else --name, else the context's ensemble dir
 * (unless a server was given explicitly), else the local ensemble serving that server, else
 * the ensemble named 'local'. Throws UsageError when there is none.
 */
export function resolveLocal(t: TargetInput): LocalEnsemble {
  const o = t.env ? { env: t.env } : {};
  if (t.dir) return load(t.dir.includes('/') ? t.dir : `./${t.dir}`, o);
  if (t.name) return load(t.name, o);
  if (!t.serverExplicit && t.contextEnsembleDir && isEnsembleDir(t.contextEnsembleDir)) return load(t.contextEnsembleDir, o);
  if (t.server) {
    const byServer = findLocalByServers(t.server, o);
    if (byServer) return byServer;
    if (t.serverExplicit) throw new UsageError(`${t.server} is not a local ensemble started by zkctl`, 'see `zkctl ensemble ls`; pass --name or --dir');
  }
  return load('local', o);
}

/** For status: a local ensemble when one is meant, else the servers to ask. */
export function resolveStatusTarget(t: TargetInput): { local: LocalEnsemble } | { servers: string } {
  const o = t.env ? { env: t.env } : {};
  if (t.dir || t.name) return { local: resolveLocal(t) };
  if (!t.serverExplicit && t.contextEnsembleDir && isEnsembleDir(t.contextEnsembleDir)) return { local: load(t.contextEnsembleDir, o) };
  if (t.server) {
    const byServer = findLocalByServers(t.server, o);
    return byServer ? { local: byServer } : { servers: t.server };
  }
  return { local: load('local', o) };
}
