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
  accessSync,
  constants as fsConstants,
  chmodSync,
  closeSync,
  existsSync,
  lstatSync,
  realpathSync,
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
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { ConnectionError, ExitCode, UsageError, ZkctlError } from '../core/errors.js';
import {
  DEFAULTS,
  MAX_SIZE,
  ELECTION_PORT_OFFSET,
  QUORUM_PORT_OFFSET,
  DEFAULT_JVM_FLAGS,
  generatePassword,
  LOCAL_HOST,
  makeSpec,
  memberIds,
  memberPorts,
  secureConnectString,
  renderDynamicConfig,
  renderLog4jProperties,
  renderLogbackXml,
  renderMyid,
  renderZooCfg,
  renderServerJaas,
  superDigest,
  type EnsembleSpec,
  type MemberPorts,
  type SpecInput,
} from './config.js';
import { basename as pathBasename } from 'node:path';
import { makeEnsembleCerts, TLS_DIR, tlsPaths, type EnsembleTlsPaths } from './certs.js';
import {
  ephemeralPortRange,
  findPortHolder,
  findProcesses,
  inTimeWait,
  isPidAlive,
  isListening,
  isPortFree,
  isStopped,
  PortInUseError,
  processGroup,
  processStartTime,
  readCmdline,
  sleep,
  waitUntil,
  withEnsembleLock,
  withPortLock,
  ENSEMBLE_LOCK_FILE,
  PORT_BIND_WAIT_MS,
} from './proc.js';
import { atomicWrite, ENSEMBLE_FILE, ensemblesRoot, registryPath, stateRoot, defaultEnsembleDir, isEnsembleDir, readRegistry, readSpec, register, safeSpec, unregister, writeRegistry } from './store.js';
export { stateRoot, ensemblesRoot, defaultEnsembleDir } from './store.js';
import { parseConnectString, parseHostPort } from '../core/connect-string.js';
import { isServing, memberStatus, summarize, type EnsembleStatus, type HostPort, type MemberStatus } from './status.js';
import { findZooKeeper, nettyJars, QUORUM_PEER_MAIN, type ZkInstall } from './zk-install.js';
import { MEMBERSHIP_FILE, membershipFileProblem, readExternal, readRoster, votingIds, type ExternalMember, type MemberRole, type RosterMember } from './roster.js';

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
  | { kind: 'ready'; elapsedMs: number }
  /** Something the user should know (the CLI shows it on a TTY; a port error repeats it). */
  | { kind: 'warning'; message: string };

export interface UpOptions extends EnvOptions, SpecInput {
  /** Ensemble directory (default $XDG_STATE_HOME/zkctl/ensembles/<name>). */
  dir?: string;
  /** Deadline for the quorum to form (default 60 000 ms). */
  waitMs?: number;
  /** JVM flags replacing the defaults (heap, GC). */
  jvmFlags?: readonly string[];
  /** With `saslUser`, a new ensemble's SASL password (default: a generated one). */
  saslPassword?: string;
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
  /** TLS ensembles: the secure client ports and the files a client needs. */
  tls?: { connectString: string; ca: string; clientCert: string; clientConfig: string };
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
  /** Running members whose process does not answer (paused with SIGSTOP): "not-answering". */
  notAnswering: number;
  /** Why ensemble.json cannot be read (the ensemble is listed from its member files). */
  broken?: string;
}

export type MemberRef = number | string;

const SECRET_FILE = 'super.secret';
/** `ensemble up --sasl`: the SASL user's password (0600) and the server's JAAS file (0600, it holds the password too). */
const SASL_SECRET_FILE = 'sasl.secret';
const SASL_JAAS_FILE = 'sasl-jaas.conf';
const PID_FILE = 'zookeeper.pid';
const LOG_FILE = 'zookeeper.log';
const LOG_ROTATE_BYTES = 10 * 1024 * 1024;
const DEFAULT_WAIT_MS = 60_000;
const DEFAULT_STOP_MS = 15_000;
/** Mode of a local member whose process runs but does not answer (status and ls say the same). */
export const NOT_ANSWERING = 'not-answering' as const;

/** Do two paths name the same existing file (symlinks resolved)? */
function samePath(a: string, b: string): boolean {
  try {
    return realpathSync(a) === realpathSync(b);
  } catch {
    return false;
  }
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
  /** Set when ensemble.json is unreadable and the spec was pieced together from the member files (salvage()). */
  readonly broken?: string;
  private readonly env: NodeJS.ProcessEnv;
  private install?: ZkInstall;

  constructor(dir: string, spec: EnsembleSpec, opts: EnvOptions & { broken?: string } = {}) {
    this.dir = resolve(dir);
    this.spec = spec;
    this.env = opts.env ?? process.env;
    if (opts.broken !== undefined) this.broken = opts.broken;
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
  /** A warning when membership.json exists but cannot be used (members fall back to 1..size), else undefined. */
  membershipWarning(): string | undefined {
    const why = membershipFileProblem(this.dir);
    if (why === undefined) return undefined;
    return `${join(this.dir, MEMBERSHIP_FILE)} is unreadable (${why}): ensemble '${this.name}' is taken to have members 1..${this.spec.size}, which may bring back a removed member; \`zkctl ensemble sync\` rewrites it from ZooKeeper's configuration`;
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
  /** TLS ensembles: the members' secure client ports (secureClientPort), else undefined. */
  get secureConnectString(): string | undefined {
    return this.spec.tls ? secureConnectString(this.spec, this.ids) : undefined;
  }
  /** TLS ensembles: the CA, client certificate and Java client configuration zkctl made. */
  get tlsFiles(): EnsembleTlsPaths | undefined {
    return this.spec.tls ? tlsPaths(this.dir) : undefined;
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

  /** The SASL credentials clients need (`ensemble up --sasl`), or undefined when the ensemble does not require SASL. */
  saslCredentials(): { user: string; password: string } | undefined {
    if (!this.spec.sasl) return undefined;
    return { user: this.spec.sasl.user, password: readFileSync(this.saslSecretPath, 'utf8').replace(/\n$/, '') };
  }
  /** Session options for zkctl's own sessions to this ensemble: its SASL credentials when it requires SASL. */
  sessionSasl(): { sasl?: { user: string; password: string } } {
    const sasl = this.saslCredentials();
    return sasl ? { sasl } : {};
  }
  /** The file holding the SASL user's password (mode 0600). */
  get saslSecretPath(): string {
    return join(this.dir, SASL_SECRET_FILE);
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

  /** Does this argv run our member's server (QuorumPeerMain on its zoo.cfg)? A java wrapper's argv does too. */
  private runsMember(argv: string[], id: number): boolean {
    const i = argv.indexOf(QUORUM_PEER_MAIN);
    if (i < 0 || i + 1 >= argv.length) return false;
    const cfg = argv[i + 1]!;
    const mine = this.configPath(id);
    if (cfg === mine) return true;
    // The same file through another path (the ensemble dir is a symlink, or was given through one).
    return samePath(cfg, mine);
  }

  /** The pid file: "PID\nSTART-TIME" (start time absent in files older zkctl wrote). */
  private pidFile(id: number): { pid: number; start?: string } | undefined {
    const [pidText, start] = readFileSafe(this.pidPath(id)).trim().split(/\s+/);
    const pid = Number(pidText);
    if (!Number.isInteger(pid) || pid <= 0) return undefined;
    return start ? { pid, start } : { pid };
  }

  /**
   * Is this pid our member's process (not a reused pid)? Its command line runs the member's
   * config, and when the pid file recorded a start time, the process started then.
   */
  private isOurs(pid: number, id: number, start?: string): boolean {
    if (!isPidAlive(pid)) return false;
    const now = processStartTime(pid);
    if (start && now !== undefined && now !== start) return false;
    const argv = readCmdline(pid);
    if (!argv) return process.platform !== 'linux';
    return this.runsMember(argv, id);
  }

  /** The pid file's pid when it is our member's process, else undefined (no adoption). */
  private recordedPid(id: number): number | undefined {
    const f = this.pidFile(id);
    return f && this.isOurs(f.pid, id, f.start) ? f.pid : undefined;
  }

  /**
   * Every live process running this member's config: the pid file's and any other, found by
   * command line (a member whose pid file was lost, the JVM under a `java` wrapper script).
   */
  private processesOf(id: number): number[] {
    const out = new Set<number>();
    const rec = this.recordedPid(id);
    if (rec !== undefined) out.add(rec);
    for (const pid of findProcesses((argv) => this.runsMember(argv, id))) out.add(pid);
    return [...out].sort((a, b) => a - b);
  }

  /**
   * The live pid of a member (or of a removed member still running), or undefined: the pid
   * file's when it names our process, else the process running the member's config found by
   * its command line (the same adoption `up` does; the JVM rather than a wrapper script).
   */
  pidOf(id: MemberRef): number | undefined {
    const n = this.checkId(id, false);
    const rec = this.recordedPid(n);
    if (rec !== undefined) return rec;
    const found = findProcesses((argv) => this.runsMember(argv, n));
    const jvm = found.find((pid) => /^java(\.exe)?$/.test(pathBasename(readCmdline(pid)?.[0] ?? '')));
    return jvm ?? found[found.length - 1];
  }

  isRunning(id: MemberRef): boolean {
    return this.pidOf(id) !== undefined;
  }

  /** A running member whose process is stopped (SIGSTOP): it cannot answer. */
  isPaused(id: MemberRef): boolean {
    const pid = this.pidOf(id);
    return pid !== undefined && isStopped(pid);
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
    if (this.spec.tls) {
      const t = tlsPaths(this.dir);
      d.tls = { connectString: secureConnectString(this.spec, members.map((m) => m.id)), ca: t.ca, clientCert: t.client, clientConfig: t.clientProperties };
    }
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
        // Its process runs but it does not answer (paused with SIGSTOP, or hung): not "down".
        if (st.mode === 'down') return { ...st, mode: NOT_ANSWERING, id, role, pid, running: true, ...(isStopped(pid) ? { error: 'process is stopped (SIGSTOP); SIGCONT resumes it' } : {}) };
        return { ...st, id, role, pid, running: true };
      }),
    );
    // External servers are asked like any server (they have no pid here).
    const theirs = Promise.all(
      external.map(async ({ id, role, address }): Promise<LocalMemberStatus> => {
        let hp: HostPort | undefined;
        try {
          hp = address ? parseHostPort(address) : undefined;
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
    if (p.securePort !== undefined) need.push([p.securePort, `secure client port of member ${id}`]);
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
      if (adopt && holder?.argv && this.runsMember(holder.argv, id)) {
        return holder.pid; // our member, running without (or with a lost) pid file
      }
      throw new PortInUseError(port, what, holder, `stop that process or choose another base port (this ensemble uses ${this.spec.basePort}..)`, { timeWait: inTimeWait(port) });
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
    const classpath = this.spec.tls ? [...inst.classpath, ...nettyJars(inst)] : inst.classpath;
    // The JAAS file's path (not its contents) on the command line: the server's SASL login reads it.
    const sasl = this.spec.sasl ? [`-Djava.security.auth.login.config=${join(this.dir, SASL_JAAS_FILE)}`] : [];
    return [...jvmFlags, `-Dzookeeper.log.dir=${this.memberDir(id)}`, ...sasl, ...logging, '-cp', classpath.join(':'), QUORUM_PEER_MAIN, this.configPath(id)];
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
    writeFileSync(this.pidPath(id), pidRecord(pid));
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
    return withEnsembleLock(this.dir, 10_000, async () => {
      // Without adoption (a directory made just now) only a process the pid file names counts.
      const adopt = opts.adopt ?? true;
      const todo = ids.filter((id) => (adopt ? !this.isRunning(id) : this.recordedPid(id) === undefined));
      // Our members running without (or with a stale) pid file: record the process we found.
      if (adopt) for (const id of ids) if (!todo.includes(id) && this.recordedPid(id) === undefined) this.writePidFile(id);
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
          writeFileSync(this.pidPath(id), pidRecord(a));
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
        // (Looked up, not probed by binding: a probe that binds the port could take it from the JVM binding it.)
        while (Date.now() < end && isPidAlive(pid) && !((await isListening(p.clientPort, LOCAL_HOST)) && (await isListening(p.electionPort, LOCAL_HOST)))) await sleep(50);
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

  /**
   * SIGTERM, wait (deadline), then SIGKILL; every process running the member's config (also one
   * whose pid file was lost, and the JVM under a `java` wrapper script: its process group is
   * signalled when the member's process leads it, as spawnMember makes it), then wait until
   * its ports are released.
   */
  async stop(ref: MemberRef, opts: { timeoutMs?: number } = {}): Promise<MemberActionResult> {
    const id = await this.resolveRef(ref, false);
    return this.terminate(id, 'SIGTERM', opts.timeoutMs ?? DEFAULT_STOP_MS);
  }

  /** SIGKILL at once (a crash, for drills); the member's process group too, as stop. */
  async kill(ref: MemberRef, opts: { timeoutMs?: number } = {}): Promise<MemberActionResult> {
    const id = await this.resolveRef(ref, false);
    return this.terminate(id, 'SIGKILL', opts.timeoutMs ?? 5000);
  }

  private async terminate(id: number, first: NodeJS.Signals, timeoutMs: number): Promise<MemberActionResult> {
    const t0 = Date.now();
    const main = this.pidOf(id);
    const pids = this.processesOf(id);
    if (main !== undefined && !pids.includes(main)) pids.push(main);
    if (pids.length === 0) {
      this.removePidFile(id);
      return { id, wasRunning: false, ms: Date.now() - t0 };
    }
    const groups = signalMemberProcesses(pids, first);
    let signal: NodeJS.Signals = first;
    if (!(await waitUntil(() => !pids.some(isPidAlive), timeoutMs, 50))) {
      if (first === 'SIGKILL') throw new ZkctlError(`member ${id} (pid ${pids.filter(isPidAlive).join(', ')}) did not exit after SIGKILL`);
      signal = 'SIGKILL';
      signalMemberProcesses(pids, 'SIGKILL');
      if (!(await waitUntil(() => !pids.some(isPidAlive), 5000, 50))) throw new ZkctlError(`member ${id} (pid ${pids.filter(isPidAlive).join(', ')}) did not exit after SIGKILL`);
    }
    await this.waitPortsReleased(id, groups);
    this.removePidFile(id);
    return { id, pid: main ?? pids[0]!, wasRunning: true, signal, ms: Date.now() - t0 };
  }

  /**
   * After the member's processes exited: its ports must be released before it counts as stopped.
   * A process of the member's still holding one (a child of a wrapper in its group, one found
   * now by its command line) is killed; a port still held by one of ours after the deadline is
   * an error, never "stopped".
   */
  private async waitPortsReleased(id: number, groups: Set<number>, timeoutMs = 10_000): Promise<void> {
    if (this.spec.basePort === 0) return; // salvaged without a port layout: only the processes are known
    const p = this.ports(id);
    const ports = [p.clientPort, p.quorumPort, p.electionPort, ...(p.adminPort !== undefined ? [p.adminPort] : [])];
    const end = Date.now() + timeoutMs;
    for (const port of ports) {
      for (;;) {
        if (await isPortFree(port, LOCAL_HOST)) break;
        const holder = await findPortHolder(port);
        const ours = holder !== undefined && !holder.connection && ((holder.argv && this.runsMember(holder.argv, id)) || groups.has(processGroup(holder.pid) ?? -1));
        // Not ours (another program took the port, or a connection that is not a listener): not our business.
        if (holder !== undefined && !ours) break;
        if (holder === undefined && inTimeWait(port)) break;
        if (Date.now() >= end) {
          throw new ZkctlError(
            `member ${id} of ensemble '${this.name}' was signalled, but port ${port} is still held${holder ? ` by pid ${holder.pid} (${holder.command})` : ''}`,
            undefined,
            { hint: 'it may still be running: see `zkctl ensemble status`, and stop that process' },
          );
        }
        if (holder && ours) signalPid(holder.pid, 'SIGKILL');
        await sleep(100);
      }
    }
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
  async down(opts: { purge?: boolean; timeoutMs?: number } = {}): Promise<{ stopped: number[]; purged: boolean; dir: string; resolvedDir?: string }> {
    const ids = [...new Set([...this.ids, ...this.idsWithFiles()])].sort((a, b) => a - b);
    const results = await Promise.all(ids.map((id) => this.stop(id, opts)));
    const stopped = results.filter((r) => r.wasRunning).map((r) => r.id);
    let purged = false;
    let resolvedDir: string | undefined;
    if (opts.purge) {
      resolvedDir = purgeDir(this.dir);
      unregister(this.env, this.dir);
      purged = true;
    }
    return { stopped, purged, dir: this.dir, ...(resolvedDir ? { resolvedDir } : {}) };
  }

  private writePidFile(id: number): void {
    const pid = this.pidOf(id);
    try {
      if (pid !== undefined) writeFileSync(this.pidPath(id), pidRecord(pid));
    } catch {
      /* read-only: the process is still found by its command line */
    }
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

/**
 * "; first error: ..." from the member's last start in its log (the first ERROR / Exception line
 * after zkctl's start marker: the cause, not the "Exiting JVM with code 2" that follows it), or "".
 */
function lastErrorLine(log: string): string {
  const text = readFileSafe(log).slice(-200_000);
  if (!text) return '';
  const mark = text.lastIndexOf('=== zkctl: starting member');
  const lines = (mark >= 0 ? text.slice(mark) : text).split('\n');
  const i = lines.findIndex((l) => /\bERROR\b|Exception\b|\bError:/.test(l));
  if (i < 0) return '';
  // An ERROR line ("Unexpected exception, exiting abnormally") is followed by the exception that says why.
  const cause = lines.slice(i + 1, i + 4).find((l) => /^\S*(Exception|Error)\b/.test(l.trim()));
  return `; first error: ${lines[i]!.trim().slice(0, 300)}${cause ? ` (${cause.trim().slice(0, 300)})` : ''}`;
}

/** A pid file's text: "PID\nSTART-TIME\n" (the start time tells a reused pid apart). */
function pidRecord(pid: number): string {
  const start = processStartTime(pid);
  return start ? `${pid}\n${start}\n` : `${pid}\n`;
}

function signalPid(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ESRCH') throw e;
  }
}

/**
 * Signal a member's processes; a process that leads its own process group (spawnMember starts
 * members detached, so the process zkctl started does) gets the signal for its whole group,
 * which reaches the JVM a `java` wrapper script started without exec. Returns those groups.
 */
function signalMemberProcesses(pids: number[], sig: NodeJS.Signals): Set<number> {
  const groups = new Set<number>();
  for (const pid of pids) {
    if (processGroup(pid) === pid) {
      groups.add(pid);
      try {
        process.kill(-pid, sig);
        continue;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ESRCH') throw e;
      }
    }
    signalPid(pid, sig);
  }
  return groups;
}

// ---------------------------------------------------------------------------------------------
// Module-level operations

/**
 * Remove an ensemble directory for good (`down --purge`). A symlink is resolved: the directory
 * it points at is removed (what holds the data and the secret), then the link. Refuses a
 * directory without ensemble.json; throws when something is still there afterwards, so nothing
 * is ever reported removed that is not.
 */
function purgeDir(dir: string): string | undefined {
  let real = dir;
  let link = false;
  try {
    link = lstatSync(dir).isSymbolicLink();
    real = realpathSync(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    if (link) rmSync(dir, { force: true }); // a dangling link to a directory already gone
    return undefined; // already gone
  }
  if (!isEnsembleDir(real)) throw new ZkctlError(`refusing to remove ${real}: no ${ENSEMBLE_FILE} in it`);
  try {
    rmSync(real, { recursive: true, force: true });
  } catch (e) {
    throw new ZkctlError(`could not remove ${real}: ${(e as Error).message}`, undefined, { hint: 'the members are stopped; remove what is left by hand' });
  }
  if (existsSync(real)) throw new ZkctlError(`could not remove ${real}: it is still there`, undefined, { hint: 'the members are stopped; remove what is left by hand' });
  if (link) rmSync(dir, { force: true });
  return link ? real : undefined;
}

function looksLikePath(s: string): boolean {
  return s.includes('/') || s === '.' || s === '..' || s.startsWith('~');
}

/**
 * An ensemble directory whose ensemble.json cannot be read. `ensemble down` still stops (and
 * with --purge removes) it through salvage(); `ensemble ls` lists it as broken.
 */
export class BrokenEnsembleError extends UsageError {
  readonly dir: string;
  readonly reason: string;
  constructor(dir: string, reason: string) {
    super(`ensemble in ${dir} is broken: ${reason}`, '`zkctl ensemble down --dir DIR` still stops its members (found by their pid files and command lines); `--purge` removes it');
    this.dir = dir;
    this.reason = reason;
  }
}

/** No local ensemble by that name, in that directory, or serving those servers (`ensemble down --if-exists` passes over it). */
export class NoEnsembleError extends UsageError {}

function loadDir(dir: string, env: NodeJS.ProcessEnv): LocalEnsemble {
  let spec: EnsembleSpec;
  try {
    spec = readSpec(dir);
  } catch (e) {
    throw new BrokenEnsembleError(dir, (e as Error).message);
  }
  return new LocalEnsemble(dir, spec, { env });
}

/**
 * The ensemble in a directory whose ensemble.json is unreadable, pieced together from its member
 * files: ids from members/*, the port layout from a member's server line in its dynamic config
 * (client port = base + id - 1), roles from membership.json. Enough to find, stop and purge its
 * members (their processes are told by pid file and command line, as always).
 */
export function salvage(dir: string, opts: EnvOptions = {}): LocalEnsemble {
  const env = opts.env ?? process.env;
  const abs = resolve(dir);
  let reason = 'unreadable';
  try {
    readSpec(abs);
    return load(abs, opts);
  } catch (e) {
    reason = (e as Error).message;
  }
  let ids: number[] = [];
  try {
    ids = readdirSync(join(abs, 'members'))
      .filter((d) => /^\d+$/.test(d))
      .map(Number)
      .filter((id) => id >= 1 && existsSync(join(abs, 'members', String(id), 'zoo.cfg')))
      .sort((a, b) => a - b);
  } catch {
    /* no members dir */
  }
  let basePort = 0;
  let adminPort: number | undefined;
  for (const id of ids) {
    const mdir = join(abs, 'members', String(id));
    let files: string[] = [];
    try {
      files = readdirSync(mdir).filter((f) => f.startsWith('zoo.cfg'));
    } catch {
      continue;
    }
    for (const f of files) {
      const text = readFileSafe(join(mdir, f));
      const m = new RegExp(`^server\\.${id}=[^;\\n]*;[^:\\n]*:(\\d+)\\s*$`, 'm').exec(text);
      if (m && basePort === 0) basePort = Number(m[1]) - (id - 1);
      const a = /^admin\.serverPort=(\d+)\s*$/m.exec(text);
      if (a && adminPort === undefined) adminPort = Number(a[1]) - (id - 1);
    }
    if (basePort > 0) break;
  }
  const spec: EnsembleSpec = {
    format: 1,
    name: pathBasename(abs),
    size: ids.length > 0 ? ids[ids.length - 1]! : 0,
    basePort: basePort > 0 ? basePort : 0,
    tickTime: DEFAULTS.tickTime,
    initLimit: DEFAULTS.initLimit,
    syncLimit: DEFAULTS.syncLimit,
    createdAt: new Date(0).toISOString(),
    ...(adminPort !== undefined ? { adminPort } : {}),
  };
  return new LocalEnsemble(abs, spec, { env, broken: reason });
}

/** Load an ensemble by name (default root, then registered dirs) or by directory. */
export function load(nameOrDir: string, opts: EnvOptions = {}): LocalEnsemble {
  const env = opts.env ?? process.env;
  if (looksLikePath(nameOrDir)) {
    const dir = resolve(nameOrDir.startsWith('~/') ? join(env.HOME || homedir(), nameOrDir.slice(2)) : nameOrDir);
    if (!isEnsembleDir(dir)) throw new NoEnsembleError(`no zkctl ensemble in ${dir} (no ${ENSEMBLE_FILE})`, 'start one with `zkctl ensemble up --dir DIR`');
    return loadDir(dir, env);
  }
  const def = defaultEnsembleDir(nameOrDir, env);
  if (isEnsembleDir(def)) return loadDir(def, env);
  const found = readRegistry(env)
    .filter((d) => isEnsembleDir(d))
    .map((d) => ({ d, spec: safeSpec(d) }))
    .filter((x): x is { d: string; spec: EnsembleSpec } => x.spec?.name === nameOrDir)
    .sort((a, b) => b.spec.createdAt.localeCompare(a.spec.createdAt));
  const first = found[0];
  if (first) return new LocalEnsemble(first.d, first.spec, { env });
  const broken = readRegistry(env).find((d) => isEnsembleDir(d) && pathBasename(d) === nameOrDir && !safeSpec(d));
  if (broken) return loadDir(broken, env);
  throw new NoEnsembleError(`no local ensemble named '${nameOrDir}' (looked in ${ensemblesRoot(env)} and the directories registered in ${registryPath(env)})`, 'see `zkctl ensemble ls`, or start it with `zkctl ensemble up`');
}

/** Like load(), but undefined instead of an error when there is no such ensemble. */
export function tryLoad(nameOrDir: string, opts: EnvOptions = {}): LocalEnsemble | undefined {
  try {
    return load(nameOrDir, opts);
  } catch (e) {
    if (e instanceof NoEnsembleError) return undefined;
    throw e;
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
    // An unreadable ensemble.json: listed as broken, from its member files (never silently left out).
    const e = spec ? new LocalEnsemble(dir, spec, { env }) : salvage(dir, { env });
    const ids = e.ids;
    const running = ids.filter((id) => e.isRunning(id));
    const s: EnsembleSummary = {
      name: e.spec.name,
      dir,
      size: ids.length,
      basePort: e.spec.basePort,
      connectString: e.spec.basePort > 0 ? clientAddresses(e.spec, ids) : '',
      running: running.length,
      notAnswering: running.filter((id) => e.isPaused(id)).length,
    };
    if (e.broken !== undefined) s.broken = e.broken;
    out.push(s);
  }
  return out.sort((a, b) => a.name.localeCompare(b.name) || a.dir.localeCompare(b.dir));
}

/** The local ensemble whose members are exactly these servers (connect string or list), if any. */
export function findLocalByServers(servers: string, opts: EnvOptions = {}): LocalEnsemble | undefined {
  let hps;
  try {
    hps = parseConnectString(servers).servers;
  } catch {
    return undefined;
  }
  const norm = (h: string): string => (h === 'localhost' ? LOCAL_HOST : h);
  const want = new Set(hps.map((h) => `${norm(h.host)}:${h.port}`));
  for (const s of list(opts)) {
    if (s.broken !== undefined || !s.connectString) continue;
    const have = new Set(parseConnectString(s.connectString).servers.map((h) => `${h.host}:${h.port}`));
    if ([...want].every((w) => have.has(w))) return load(s.dir, opts);
  }
  return undefined;
}

/**
 * A warning when the ensemble's ports lie in the kernel's ephemeral port range
 * (net.ipv4.ip_local_port_range): outgoing connections take ports there at random, so such a
 * port is often found taken by a connection. Undefined when none does.
 */
function ephemeralOverlap(ens: LocalEnsemble): string | undefined {
  const range = ephemeralPortRange();
  if (!range) return undefined;
  const inside = ens.ids.flatMap((id) => {
    const p = ens.ports(id);
    return [p.clientPort, p.quorumPort, p.electionPort].filter((x) => x >= range[0] && x <= range[1]);
  });
  if (inside.length === 0) return undefined;
  return `port${inside.length > 1 ? 's' : ''} ${inside.slice(0, 4).join(', ')}${inside.length > 4 ? ', ...' : ''} of ensemble '${ens.name}' lie in the kernel's ephemeral port range ${range[0]}-${range[1]}, where outgoing connections take ports at random: a port can be found in use at any start; a base port below ${Math.max(1024, range[0] - 20000 - MAX_SIZE)} avoids that`;
}

/** What a first `up` created, to undo exactly that when it fails. */
interface Created {
  /** The first directory mkdir -p made (dir itself or an ancestor), or undefined when dir existed. */
  firstNewDir?: string;
  /** Top-level entries written into dir. */
  files: string[];
}

/**
 * Make the ensemble directory (and its parents), mode 0700. Returns the first directory made,
 * undefined when it existed. A read-only or unwritable state directory is a one-line error naming
 * it and the ways around it.
 */
function makeStateDir(dir: string, isDefault: boolean, env: NodeJS.ProcessEnv): string | undefined {
  try {
    return mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (e) {
    const where = isDefault ? stateRoot(env) : dir;
    throw new ZkctlError(`cannot create the ensemble directory ${dir}: ${describeWriteFailure(dir, e)}`, undefined, {
      hint: isDefault ? `${where} must be writable: set XDG_STATE_HOME to a writable directory, or pass --dir` : 'pass a writable --dir',
    });
  }
}

/**
 * Why a file or directory could not be written, in words: node reports `mkdir -p` on a
 * read-only file system as ENOENT, so the nearest existing ancestor is asked whether it is
 * writable ("read-only file system: /home/u", "permission denied: /etc").
 */
export function describeWriteFailure(path: string, err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  let dir = resolve(path);
  while (!existsSync(dir) && dirname(dir) !== dir) dir = dirname(dir);
  try {
    accessSync(dir, fsConstants.W_OK);
  } catch (e) {
    const c = (e as NodeJS.ErrnoException).code;
    if (c === 'EROFS') return `read-only file system (${dir})`;
    if (c === 'EACCES' || c === 'EPERM') return `permission denied (${dir} is not writable)`;
  }
  if (code === 'EROFS') return `read-only file system (${dir})`;
  if (code === 'EACCES' || code === 'EPERM') return `permission denied (${dir})`;
  return (err as Error).message;
}

/** Undo a failed first start: the directories this run made, else the files it wrote (keeping the user's directory). */
function undoCreate(dir: string, made: Created): void {
  if (made.firstNewDir) {
    rmSync(made.firstNewDir, { recursive: true, force: true });
    return;
  }
  for (const f of [...made.files, ENSEMBLE_LOCK_FILE]) rmSync(join(dir, f), { recursive: true, force: true });
}

/** Run a cleanup after a failure; the original error is what is thrown, a cleanup failure only added to its hint. */
function withCleanup(err: unknown, cleanup: () => void): unknown {
  try {
    cleanup();
  } catch (c) {
    const note = `cleaning up what this run created failed too: ${(c as Error).message}`;
    if (err instanceof ZkctlError) {
      const e = err as unknown as { hint?: string };
      e.hint = e.hint ? `${e.hint}; ${note}` : note;
    }
  }
  return err;
}

/**
 * Paths go into zoo.cfg, which ZooKeeper reads as a Java properties file (ISO-8859-1, backslash
 * escapes, one key=value per line) and rewrites raw as UTF-8 on every reconfig: a non-ASCII
 * character, a backslash or a line break in the ensemble directory would be misread or inject
 * a line. Refused up front, with the reason.
 */
export function checkConfigPath(dir: string): void {
  const bad = /[^\x20-\x7e]|\\/.exec(dir);
  if (!bad) return;
  const c = bad[0];
  const what = c === '\n' || c === '\r' ? 'a line break' : c === '\\' ? 'a backslash' : c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f ? 'a control character' : `a non-ASCII character ('${c}')`;
  throw new UsageError(
    `cannot use ${JSON.stringify(dir)} as an ensemble directory: it contains ${what}, which ZooKeeper would misread in zoo.cfg (a Java properties file, ISO-8859-1, rewritten as UTF-8 on reconfig)`,
    'choose a directory whose path is printable ASCII without backslashes (--dir, or XDG_STATE_HOME)',
  );
}

/** Create every file of a new ensemble in an existing directory; returns the top-level entries written. */
async function createEnsembleFiles(dir: string, spec: EnsembleSpec, written: string[], saslPassword?: string): Promise<void> {
  chmodSync(dir, 0o700);
  const password = generatePassword();
  written.push(SECRET_FILE);
  writeFileSync(join(dir, SECRET_FILE), password, { mode: 0o600 });
  chmodSync(join(dir, SECRET_FILE), 0o600);
  if (spec.sasl) {
    const saslPw = saslPassword ?? generatePassword();
    written.push(SASL_SECRET_FILE, SASL_JAAS_FILE);
    writeFileSync(join(dir, SASL_SECRET_FILE), `${saslPw}\n`, { mode: 0o600 });
    chmodSync(join(dir, SASL_SECRET_FILE), 0o600);
    writeFileSync(join(dir, SASL_JAAS_FILE), renderServerJaas(spec.sasl.user, saslPw), { mode: 0o600 });
    chmodSync(join(dir, SASL_JAAS_FILE), 0o600);
  }
  const digest = superDigest(password);
  const e = new LocalEnsemble(dir, spec);
  const dynamic = renderDynamicConfig(spec);
  let tls: EnsembleTlsPaths | undefined;
  if (spec.tls) {
    written.push(TLS_DIR);
    tls = await makeEnsembleCerts(dir, spec.name, memberIds(spec));
  }
  written.push('members');
  for (const id of e.ids) {
    mkdirSync(e.dataDir(id), { recursive: true, mode: 0o700 });
    writeFileSync(join(e.dataDir(id), 'myid'), renderMyid(id));
    const dynPath = join(e.memberDir(id), 'zoo.cfg.dynamic');
    writeFileSync(dynPath, dynamic);
    const paths = { dataDir: e.dataDir(id), dynamicConfigFile: dynPath, ...(tls ? { tls: { keyStore: tls.member(id), trustStore: tls.ca } } : {}) };
    writeFileSync(e.configPath(id), renderZooCfg(spec, id, paths, digest), { mode: 0o600 });
  }
  written.push('log4j.properties', 'logback.xml');
  writeFileSync(join(dir, 'log4j.properties'), renderLog4jProperties());
  writeFileSync(join(dir, 'logback.xml'), renderLogbackXml());
  // Written last: its presence marks a complete ensemble directory.
  written.push(ENSEMBLE_FILE);
  atomicWrite(join(dir, ENSEMBLE_FILE), JSON.stringify(spec, null, 2) + '\n');
}

function conflicts(spec: EnsembleSpec, input: SpecInput): string[] {
  const out: string[] = [];
  if (input.size !== undefined && input.size !== spec.size) out.push(`size ${spec.size}`);
  if (input.basePort !== undefined && input.basePort !== spec.basePort) out.push(`base port ${spec.basePort}`);
  if (input.tickTime !== undefined && input.tickTime !== spec.tickTime) out.push(`tick time ${spec.tickTime}`);
  if (input.adminPort !== undefined && input.adminPort !== spec.adminPort) out.push(`admin port ${spec.adminPort ?? 'disabled'}`);
  if (input.tls && !spec.tls) out.push('no TLS');
  if (input.saslUser !== undefined && input.saslUser !== spec.sasl?.user) out.push(spec.sasl ? `SASL user '${spec.sasl.user}'` : 'no SASL');
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
  let made: Created | undefined;
  let spec: EnsembleSpec;
  if (isEnsembleDir(dir)) {
    spec = readSpec(dir);
    const diff = conflicts(spec, opts);
    if (opts.name !== undefined && opts.name !== spec.name) diff.push(`name '${spec.name}'`);
    if (diff.length > 0) {
      throw new UsageError(`ensemble '${spec.name}' in ${dir} already exists with ${diff.join(', ')}`, 'omit those options, or remove it first with `zkctl ensemble down --purge`');
    }
  } else {
    if (existsSync(dir) && readdirSync(dir).filter((f) => f !== ENSEMBLE_LOCK_FILE).length > 0) {
      throw new UsageError(`${dir} exists and is not a zkctl ensemble directory`, 'choose an empty or new directory');
    }
    checkConfigPath(dir);
    findZooKeeper({ ...(opts.zkHome ? { zkHome: opts.zkHome } : {}), env }); // fail before writing anything
    // What this run creates, so that a failed first start removes exactly that: the directories
    // it made (mkdir -p returns the first), else only the files it wrote into the user's directory.
    made = { firstNewDir: makeStateDir(dir, opts.dir === undefined, env), files: [] };
    const m = made;
    try {
      await withEnsembleLock(dir, 10_000, async () => {
        if (!isEnsembleDir(dir)) {
          const s = fresh;
          if (opts.zkHome) s.zkHome = resolve(opts.zkHome);
          await createEnsembleFiles(dir, s, m.files, opts.saslPassword);
          created = true;
        }
      });
    } catch (e) {
      throw withCleanup(e, () => undoCreate(dir, m));
    }
    spec = readSpec(dir);
    if (created) opts.onProgress?.({ kind: 'created', dir });
  }
  try {
    register(env, dir);
  } catch (e) {
    // A read-only state dir (HOME) with a writable --dir: the ensemble works, only its name is not recorded.
    opts.onProgress?.({ kind: 'warning', message: `could not record ${dir} in ${registryPath(env)} (${describeWriteFailure(registryPath(env), e)}): \`ensemble ls\` and --name will not find it; use --dir` });
  }
  const ens = new LocalEnsemble(dir, spec, { env });
  const eph = ephemeralOverlap(ens);
  if (eph) opts.onProgress?.({ kind: 'warning', message: eph });
  let started: Array<{ id: number; pid: number; adopted: boolean }>;
  try {
    // A directory made just now has no members of its own to adopt: a server using its paths
    // would be a leftover of an ensemble removed while running.
    started = await ens.startMembers(ens.ids, { adopt: !created, ...(opts.jvmFlags ? { jvmFlags: opts.jvmFlags } : {}), ...(opts.onProgress ? { onProgress: opts.onProgress } : {}) });
  } catch (e) {
    // Nothing was started (ports are checked before any spawn): do not leave a half-made ensemble
    // behind, but remove only what this run created; a cleanup error never hides the cause.
    if (created && made && ens.ids.every((id) => !ens.isRunning(id))) {
      const m = made;
      throw withCleanup(e, () => {
        undoCreate(dir, m);
        unregister(env, dir);
      });
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
export async function freeBasePort(opts: { start?: number; size?: number; step?: number; attempts?: number; /** Highest base port to try. */ end?: number } = {}): Promise<number> {
  const size = opts.size ?? 3;
  const step = Math.max(opts.step ?? 10, size);
  const start = opts.start ?? 21810;
  const attempts = opts.attempts ?? 500;
  const end = Math.min(opts.end ?? 65535, 65535 - ELECTION_PORT_OFFSET - (size - 1));
  // Ports a default ensemble (base 2181, up to 9 members) will want, even if it is not running now.
  const reserved = (p: number): boolean =>
    [0, QUORUM_PORT_OFFSET, ELECTION_PORT_OFFSET].some((off) => p >= DEFAULTS.basePort + off && p < DEFAULTS.basePort + off + MAX_SIZE);
  for (let i = 0, base = start; i < attempts && base <= end; i++, base += step) {
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

/**
 * `ensemble up --base-port auto`: a base port whose client, quorum and election ports are all free
 * now and all lie below the kernel's ephemeral port range (net.ipv4.ip_local_port_range), where an
 * outgoing connection can take a port at any moment; also clear of the default ensemble's ports.
 * Tries 10000, 10010, ... up to the highest base that fits, then 3000, 3010, ... (a probe, not a
 * reservation: up() still fails with PortInUseError if another process wins a race).
 */
export async function autoBasePort(size: number = DEFAULTS.size): Promise<number> {
  const low = ephemeralPortRange()?.[0] ?? 32768;
  const highest = Math.min(low, 65536) - 1 - ELECTION_PORT_OFFSET - (size - 1);
  const first = Math.min(10_000, Math.max(1024, highest));
  const step = Math.max(10, size);
  const tries: Array<{ start: number; end: number }> = [
    { start: first, end: highest },
    { start: 3000, end: Math.min(first - 1, highest) },
  ];
  for (const t of tries) {
    if (t.end < t.start) continue;
    try {
      return await freeBasePort({ start: t.start, end: t.end, size, step, attempts: Math.floor((t.end - t.start) / step) + 1 });
    } catch {
      /* nothing free there: the next span */
    }
  }
  throw new ZkctlError(`no free base port for a ${size}-member ensemble below the kernel's ephemeral port range (${low}-)`, ExitCode.FAILURE, {
    hint: 'choose one with --base-port PORT',
  });
}

/** Settings that pick the local ensemble a command means (src/cli/ensemble.ts resolves them). */
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
  /** The context in use, if any (for messages). */
  contextName?: string;
}
