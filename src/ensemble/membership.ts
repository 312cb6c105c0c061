/**
 * Membership changes of a LOCAL ensemble with ZooKeeper's dynamic reconfig:
 * add a member (start a new server, then `reconfig -add`) and remove one
 * (`reconfig -remove`, then stop it). Both refuse changes that would leave no
 * quorum, and wait until the new configuration is committed and served.
 *
 * Adding follows the ZooKeeper reconfig guide: the joiner starts with the last
 * committed membership plus itself listed as an OBSERVER (so it can never form
 * a quorum of its own), finds and syncs with the leader as a non-voting member,
 * and is then added with reconfig (participant, or observer with `observer`),
 * as a compare-and-set on the config version that was read. Its files are
 * rendered by the ensemble library like the original members' (same tick time,
 * limits, super digest); ZooKeeper rewrites every member's zoo.cfg and dynamic
 * file itself on each reconfig.
 *
 * The new member's id is the lowest id a removed member left free, else one
 * above the highest; its ports follow the layout of config.ts (base + id - 1).
 * After each committed change the membership ZooKeeper committed (ids and roles)
 * is recorded in the ensemble's roster (`membership.json`, roster.ts), which the
 * rest of the ensemble library reads: status, up/start/down and the connect
 * string cover exactly those members, and observers do not count for the quorum.
 * ensemble.json's `size` is the highest id with files: removing the highest
 * member shrinks it (and deletes that member's directory); removing a lower one
 * leaves a hole, with the member's directory kept (stopped).
 *
 * No oclif, no chalk, never prints (progress through a callback).
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileSafeSync } from '../core/file-write.js';
import { ConnectionError, ExitCode, UsageError, ZkctlError } from '../core/errors.js';
import { Session } from '../core/session.js';
import {
  type DynamicConfig,
  type ServerSpec,
  clientAddress,
  configOnly,
  formatServerSpec,
  majority,
  participants,
  readDynamicConfig,
  reconfigure,
  renderServers,
} from '../core/config/dynamic.js';
import { ELECTION_PORT_OFFSET, LOCAL_HOST, memberPorts, renderMyid, renderZooCfg, superDigest, type EnsembleSpec } from './config.js';
import { conf } from '../core/fourlw.js';
import { issueMemberCert } from './certs.js';
import { clientAddresses, load, type LocalEnsemble } from './local.js';
import { MEMBERSHIP_FILE, readRecordedRoster, rosterFromConfig, writeRoster, type RosterMember } from './roster.js';
import { isPortFree, lockHolderAlive, processStartTime, sleep, withPidLock } from './proc.js';
import { memberStatus, type MemberStatus } from './status.js';
import { parseHostPort } from '../core/connect-string.js';

// ZooKeeper's dynamic config model (any ensemble), with the local membership changes.
export * from '../core/config/dynamic.js';

const LOCK_FILE = '.membership.lock';
const DEFAULT_WAIT_MS = 120_000;
/** Server ids stay below 255 with extendedTypesEnabled (TTL nodes). */
const MAX_ID = 254;

export interface MembershipOptions {
  /** Deadline for the whole change (start, sync, reconfig, commit). Default 120 s. */
  timeoutMs?: number;
  /** Deadline of each ZooKeeper request. Default 10 s. */
  requestTimeoutMs?: number;
  onProgress?: (message: string) => void;
  /** What the user must be told even without a TTY (an interrupted add rolled back); default onProgress. */
  onNote?: (message: string) => void;
}

export interface MemberView extends ServerSpec {
  /** leader / follower / observer / down ... as the member reports it now. */
  mode?: MemberStatus['mode'];
  address?: string;
}

export interface MembershipChange {
  ensemble: string;
  dir: string;
  action: 'add' | 'remove';
  id: number;
  role: ServerSpec['role'];
  /** The membership before and after (after = committed by ZooKeeper). */
  before: DynamicConfig;
  after: DynamicConfig;
  /** add: the new member's pid. */
  pid?: number;
  /** remove: the member process was stopped. */
  stopped?: boolean;
  members: MemberView[];
  ms: number;
}

// ---------------------------------------------------------------------------------------------
// Files

/** Atomic (temp file + fsync + rename) through the one file writer, core/file-write.ts. */
function atomicWrite(path: string, text: string): void {
  writeFileSafeSync(path, text);
}

function writeSpec(dir: string, spec: EnsembleSpec): void {
  atomicWrite(join(dir, 'ensemble.json'), JSON.stringify(spec, null, 2) + '\n');
}

/** Ids of members removed with `ensemble remove` that left a hole below the highest id. */
export function removedMembers(ens: LocalEnsemble): number[] {
  const active = new Set(ens.ids);
  return Array.from({ length: ens.spec.size }, (_, i) => i + 1).filter((id) => !active.has(id));
}

/** Member ids of the local ensemble that are still members (the roster: LocalEnsemble.ids). */
export function activeMemberIds(ens: LocalEnsemble): number[] {
  return ens.ids;
}

/** Record the membership of a committed configuration: our members and external servers (roster.ts). */
function recordConfig(dir: string, spec: EnsembleSpec, cfg: DynamicConfig): RosterMember[] {
  const rec = rosterFromConfig(dir, spec, cfg);
  writeRoster(dir, rec.members, rec.external);
  return rec.members;
}

// ---------------------------------------------------------------------------------------------
// An `ensemble add` that did not finish (killed while its member started)

/** Written by addMember before it writes the new member's files; removed when the add ends either way. */
const PENDING_ADD_FILE = 'add-pending.json';

interface PendingAdd {
  id: number;
  /** "PID START-TIME" of the zkctl process doing the add. */
  holder: string;
  /** ensemble.json and membership.json as they were before the add (roster null: there was none). */
  spec: EnsembleSpec;
  roster: RosterMember[] | null;
}

function writePendingAdd(dir: string, p: PendingAdd): void {
  atomicWrite(join(dir, PENDING_ADD_FILE), JSON.stringify(p, null, 2) + '\n');
}

function readPendingAdd(dir: string): PendingAdd | undefined {
  try {
    const v = JSON.parse(readFileSync(join(dir, PENDING_ADD_FILE), 'utf8')) as Partial<PendingAdd>;
    if (v && typeof v.id === 'number' && typeof v.holder === 'string' && v.spec && typeof v.spec === 'object') return v as PendingAdd;
  } catch {
    /* none, or unreadable: nothing to roll back from */
  }
  return undefined;
}

/**
 * Finish what an interrupted `ensemble add` left (call under the membership lock, with the
 * configuration ZooKeeper committed): if ZooKeeper committed the new member, it is kept;
 * otherwise its process is stopped, its files removed and ensemble.json / membership.json put
 * back as they were, so the next add reuses its id. Returns what was done, in words, or undefined.
 */
export async function recoverInterruptedAdd(ensIn: LocalEnsemble, committed: Pick<DynamicConfig, 'servers'>): Promise<string | undefined> {
  const p = readPendingAdd(ensIn.dir);
  if (!p) return undefined;
  if (lockHolderAlive(p.holder)) return undefined; // still going (another process's add holds the lock)
  const ens = load(ensIn.dir);
  if (committed.servers.some((s) => s.id === p.id)) {
    rmSync(join(ens.dir, PENDING_ADD_FILE), { force: true });
    return `an interrupted \`ensemble add\` had already committed member ${p.id}: kept`;
  }
  let stopped = false;
  if (existsSync(ens.configPath(p.id))) {
    stopped = (await ens.stop(p.id, { timeoutMs: 10_000 })).wasRunning;
    rmSync(ens.memberDir(p.id), { recursive: true, force: true });
  }
  writeSpec(ens.dir, p.spec);
  restoreRoster(ens.dir, p.roster ?? undefined);
  rmSync(join(ens.dir, PENDING_ADD_FILE), { force: true });
  return `rolled back an interrupted \`ensemble add\` of member ${p.id} (not in the committed configuration): ${stopped ? 'stopped it and ' : ''}removed its files; its id is free again`;
}

/**
 * recoverInterruptedAdd for callers without a session (`ensemble up`): reads the committed
 * configuration, under the membership lock. Best effort: undefined when nothing was pending or
 * the ensemble cannot be asked.
 */
export async function recoverInterruptedAddNow(ens: LocalEnsemble, timeoutMs = 10_000): Promise<string | undefined> {
  if (!readPendingAdd(ens.dir)) return undefined;
  return withMembershipLock(ens.dir, 30_000, async () => {
    const session = await superSession(load(ens.dir), timeoutMs);
    try {
      return await recoverInterruptedAdd(ens, await readDynamicConfig(session));
    } finally {
      await session.close();
    }
  });
}

/** Is a process running on this id's files (member or not)? */
function runsOn(ens: LocalEnsemble, id: number): boolean {
  return existsSync(ens.configPath(id)) && ens.isRunning(id);
}

/** Put membership.json back as it was (absent, or these members). */
function restoreRoster(dir: string, recorded: RosterMember[] | undefined): void {
  if (recorded) writeRoster(dir, recorded);
  else rmSync(join(dir, MEMBERSHIP_FILE), { force: true });
}

/**
 * Serialize membership changes of one ensemble across processes (`ensemble add/remove`, and
 * bringing the roster in line with ZooKeeper's configuration, sync.ts).
 */
export async function withMembershipLock<T>(dir: string, timeoutMs: number, fn: () => Promise<T>): Promise<T> {
  const lock = join(dir, LOCK_FILE);
  return withPidLock(
    lock,
    {
      timeoutMs,
      busy: (holder) =>
        new ZkctlError(`another membership change of ${dir} is running (zkctl pid ${holder})`, ExitCode.FAILURE, { hint: `wait for it, or remove ${lock} if that process is gone` }),
    },
    fn,
  );
}

// ---------------------------------------------------------------------------------------------
// Helpers

/**
 * A super-user session to the ensemble; `avoid` leaves a member out of the connect string (the
 * one being removed: it stops serving clients once the change commits, and could drop the
 * connection before the reconfig reply arrives).
 */
async function superSession(ens: LocalEnsemble, timeoutMs: number, avoid?: number): Promise<Session> {
  const ids = ens.ids.filter((i) => i !== avoid);
  const connectString = ids.length > 0 ? clientAddresses(ens.spec, ids) : ens.connectString;
  return Session.connect({ connectString, timeoutMs, auth: [{ scheme: 'digest', credential: ens.superAuth() }], ...ens.sessionSasl() });
}

/** Status of every configured member (four-letter words, in parallel). */
async function statuses(cfg: DynamicConfig, timeoutMs = 2000): Promise<Map<number, MemberStatus>> {
  const out = new Map<number, MemberStatus>();
  await Promise.all(
    cfg.servers.map(async (s) => {
      const addr = clientAddress(s);
      if (!addr) return;
      const hp = parseHostPort(addr);
      if (hp) out.set(s.id, await memberStatus(hp, { timeoutMs, mntr: false }));
    }),
  );
  return out;
}

function isVoting(st: MemberStatus | undefined): boolean {
  return st?.mode === 'leader' || st?.mode === 'follower';
}

function views(cfg: DynamicConfig, st: Map<number, MemberStatus>): MemberView[] {
  return cfg.servers.map((s) => {
    const v: MemberView = { ...s };
    const m = st.get(s.id);
    if (m) v.mode = m.mode;
    const a = clientAddress(s);
    if (a) v.address = a;
    return v;
  });
}

/** The members of a configuration with the mode each reports now (four-letter words, in parallel). Works for any ensemble. */
export async function describeMembers(cfg: DynamicConfig, timeoutMs = 2000): Promise<MemberView[]> {
  return views(cfg, await statuses(cfg, timeoutMs));
}

/** Wait until every reachable member serves the config `version` and the quorum serves. */
async function waitCommitted(cfg: DynamicConfig, endAt: number, want: (st: Map<number, MemberStatus>) => string | undefined): Promise<Map<number, MemberStatus>> {
  let why = '';
  for (;;) {
    const st = await statuses(cfg, 1500);
    const voters = participants(cfg);
    const serving = voters.filter((s) => isVoting(st.get(s.id))).length;
    const leaders = [...st.values()].filter((m) => m.mode === 'leader').length;
    why = serving < majority(voters.length) ? `${serving} of ${voters.length} voting members serve` : leaders !== 1 ? `${leaders} leaders` : '';
    if (!why) {
      // Every serving member reports the new version (conf); members that are down are not waited for.
      const versions = await Promise.all(
        cfg.servers.map(async (s) => {
          const m = st.get(s.id);
          if (!m || !(m.mode === 'leader' || m.mode === 'follower' || m.mode === 'observer')) return undefined;
          try {
            return (await conf(m.host, m.port, { timeoutMs: 1500 })).configVersion;
          } catch {
            return undefined;
          }
        }),
      );
      const stale = cfg.servers.filter((s, i) => versions[i] !== undefined && versions[i]!.toLowerCase() !== cfg.versionHex);
      why = stale.length ? `member${stale.length > 1 ? 's' : ''} ${stale.map((s) => s.id).join(', ')} still on an older configuration` : want(st) ?? '';
      if (!why) return st;
    }
    if (Date.now() >= endAt) throw new ConnectionError(`the new configuration (version ${cfg.versionHex}) was committed but the ensemble did not settle in time: ${why}`, { hint: 'see zkctl ensemble status and the member logs' });
    await sleep(300);
  }
}

function checkQuorumNow(cfg: DynamicConfig, st: Map<number, MemberStatus>): void {
  const voters = participants(cfg);
  const live = voters.filter((s) => isVoting(st.get(s.id)));
  if (live.length < majority(voters.length)) {
    throw new ZkctlError(`the ensemble has no quorum now (${live.length} of ${voters.length} voting members serve); refusing to reconfigure`, ExitCode.CONNECTION, {
      hint: 'bring members back first (zkctl ensemble start ID)',
    });
  }
}

// ---------------------------------------------------------------------------------------------
// Add

export interface AddOptions extends MembershipOptions {
  /** Add the member as an observer (no vote) instead of a participant. */
  observer?: boolean;
  jvmFlags?: readonly string[];
}

/** Start a new member and add it with reconfig; resolves once the new configuration is committed and served. */
export async function addMember(ensIn: LocalEnsemble, opts: AddOptions = {}): Promise<MembershipChange> {
  const t0 = Date.now();
  const endAt = t0 + (opts.timeoutMs ?? DEFAULT_WAIT_MS);
  const reqMs = opts.requestTimeoutMs ?? 10_000;
  const progress = opts.onProgress ?? ((): void => undefined);
  const role: ServerSpec['role'] = opts.observer ? 'observer' : 'participant';
  return withMembershipLock(ensIn.dir, 30_000, async () => {
    const session = await superSession(load(ensIn.dir), reqMs);
    try {
      const before = await readDynamicConfig(session);
      const recovered = await recoverInterruptedAdd(ensIn, before);
      if (recovered) (opts.onNote ?? progress)(recovered);
      const ens = load(ensIn.dir);
      const st = await statuses(before);
      checkQuorumNow(before, st);
      const voters = participants(before);
      const live = voters.filter((s) => isVoting(st.get(s.id))).length;
      if (role === 'participant' && live + 1 < majority(voters.length + 1)) {
        throw new UsageError(`adding a participant would leave ${live + 1} of ${voters.length + 1} voting members serving, not a majority; refusing`);
      }
      const recorded = readRecordedRoster(ens.dir, ens.spec);
      const roster = ens.roster();
      const taken = new Set([...before.servers.map((s) => s.id), ...roster.map((m) => m.id)]);
      const holes = Array.from({ length: ens.spec.size }, (_, i) => i + 1).filter((x) => !taken.has(x) && !runsOn(ens, x));
      const id = holes[0] ?? Math.max(ens.spec.size, ...taken) + 1;
      if (id > MAX_ID) throw new UsageError(`no member id left (ids must stay below ${MAX_ID + 1})`);
      if (ens.spec.basePort + ELECTION_PORT_OFFSET + id - 1 > 65535) throw new UsageError(`member ${id} would need ports above 65535 (base port ${ens.spec.basePort})`);
      const ports = memberPorts(ens.spec, id);
      for (const [p, what] of [
        [ports.clientPort, 'client'],
        [ports.quorumPort, 'quorum'],
        [ports.electionPort, 'election'],
        ...(ports.adminPort !== undefined ? [[ports.adminPort, 'admin'] as [number, string]] : []),
        ...(ports.securePort !== undefined ? [[ports.securePort, 'secure client'] as [number, string]] : []),
      ] as Array<[number, string]>) {
        if (!(await isPortFree(p, LOCAL_HOST))) throw new UsageError(`port ${p} (${what} port of the new member ${id}) is in use`, 'stop whatever holds it; zkctl member ports are base + id - 1 (+10000 quorum, +20000 election)');
      }
      const spec: ServerSpec = {
        id,
        host: LOCAL_HOST,
        quorumPort: ports.quorumPort,
        electionPort: ports.electionPort,
        role,
        clientHost: LOCAL_HOST,
        clientPort: ports.clientPort,
      };

      // Files: the joiner knows the committed membership plus itself as an observer.
      progress(`writing the files of member ${id}`);
      const oldSpec = ens.spec;
      // If this process dies from here until the add ends, the next add/remove/sync/up rolls it back.
      writePendingAdd(ens.dir, { id, holder: `${process.pid} ${processStartTime(process.pid) ?? ''}`.trim(), spec: oldSpec, roster: recorded ?? null });
      const memberDir = ens.memberDir(id);
      rmSync(memberDir, { recursive: true, force: true });
      mkdirSync(ens.dataDir(id), { recursive: true, mode: 0o700 });
      writeFileSync(join(ens.dataDir(id), 'myid'), renderMyid(id));
      const dyn = join(memberDir, 'zoo.cfg.dynamic');
      writeFileSync(dyn, renderServers([...before.servers.filter((s) => s.id !== id), { ...spec, role: 'observer' }]));
      const newSpec: EnsembleSpec = { ...oldSpec, size: Math.max(oldSpec.size, id) };
      // A TLS ensemble: the joiner gets its certificate from the ensemble's CA, and a secure client port.
      const tls = ens.tlsFiles ? { keyStore: await issueMemberCert(ens.dir, ens.name, id), trustStore: ens.tlsFiles.ca } : undefined;
      writeFileSync(ens.configPath(id), renderZooCfg(newSpec, id, { dataDir: ens.dataDir(id), dynamicConfigFile: dyn, ...(tls ? { tls } : {}) }, superDigest(ens.superPassword())), { mode: 0o600 });
      writeSpec(ens.dir, newSpec);
      // A member from now on (start() only starts members); undone below if the change fails.
      writeRoster(ens.dir, [...roster.filter((m) => m.id !== id), { id, role }]);
      const grown = load(ens.dir);

      const undo = async (): Promise<void> => {
        try {
          await grown.stop(id, { timeoutMs: 10_000 });
        } catch {
          /* best effort */
        }
        rmSync(memberDir, { recursive: true, force: true });
        writeSpec(ens.dir, oldSpec);
        restoreRoster(ens.dir, recorded);
        rmSync(join(ens.dir, PENDING_ADD_FILE), { force: true });
      };

      let pid: number | undefined;
      let after: DynamicConfig;
      try {
        progress(`starting member ${id} (${LOCAL_HOST}:${ports.clientPort}) and waiting for it to sync with the leader`);
        const started = await grown.start(id, { wait: true, timeoutMs: Math.max(5000, endAt - Date.now()), ...(opts.jvmFlags ? { jvmFlags: opts.jvmFlags } : {}) });
        pid = started.pid;
        progress(`reconfig: adding ${formatServerSpec(spec)} (from config version ${before.versionHex})`);
        after = await reconfigure(session, { add: [formatServerSpec(spec)], fromVersion: before.version });
      } catch (e) {
        progress(`undoing: stopping member ${id} and removing its files`);
        await undo();
        throw e;
      }
      recordConfig(ens.dir, newSpec, after);
      rmSync(join(ens.dir, PENDING_ADD_FILE), { force: true });
      progress(`committed config version ${after.versionHex}; waiting for the members to serve it`);
      const final = await waitCommitted(after, endAt, (s) => {
        const m = s.get(id)?.mode;
        if (role === 'observer') return m === 'observer' ? undefined : `member ${id} is ${m ?? 'unknown'}, not yet observer`;
        return m === 'leader' || m === 'follower' ? undefined : `member ${id} is ${m ?? 'unknown'}, not yet voting`;
      });
      const change: MembershipChange = { ensemble: ens.name, dir: ens.dir, action: 'add', id, role, before: configOnly(before), after, members: views(after, final), ms: Date.now() - t0 };
      if (pid !== undefined) change.pid = pid;
      return change;
    } finally {
      await session.close();
    }
  });
}

// ---------------------------------------------------------------------------------------------
// Remove

export interface RemoveOptions extends MembershipOptions {
  /** Grace before SIGKILL when stopping the removed member. Default 15 s. */
  graceMs?: number;
}

/** Remove a member with reconfig, then stop it; resolves once the new configuration is committed and served. */
export async function removeMember(ensIn: LocalEnsemble, id: number, opts: RemoveOptions = {}): Promise<MembershipChange> {
  const t0 = Date.now();
  const endAt = t0 + (opts.timeoutMs ?? DEFAULT_WAIT_MS);
  const reqMs = opts.requestTimeoutMs ?? 10_000;
  const progress = opts.onProgress ?? ((): void => undefined);
  if (!Number.isInteger(id) || id < 1) throw new UsageError(`invalid member id '${id}'`);
  return withMembershipLock(ensIn.dir, 30_000, async () => {
    let ens = load(ensIn.dir);
    const session = await superSession(ens, reqMs, id);
    let before: DynamicConfig;
    let after: DynamicConfig;
    let target: ServerSpec;
    try {
      before = await readDynamicConfig(session);
      const recovered = await recoverInterruptedAdd(ens, before);
      if (recovered) {
        (opts.onNote ?? progress)(recovered);
        ens = load(ensIn.dir);
      }
      const t = before.servers.find((s) => s.id === id);
      if (!t) {
        throw new UsageError(`member ${id} is not in the configuration of ensemble '${ens.name}' (version ${before.versionHex}: ${before.servers.map((s) => s.id).join(', ')})`);
      }
      target = t;
      if (!ens.ids.includes(id)) throw new UsageError(`member ${id} is not a member of the local ensemble '${ens.name}' (members ${ens.ids.join(', ')})`);
      const st = await statuses(before);
      checkQuorumNow(before, st);
      if (target.role === 'participant') {
        const remaining = participants(before).filter((s) => s.id !== id);
        if (remaining.length === 0) throw new UsageError(`member ${id} is the last voting member; refusing to remove it`);
        const live = remaining.filter((s) => isVoting(st.get(s.id))).length;
        if (live < majority(remaining.length)) {
          throw new UsageError(
            `removing member ${id} would leave ${live} of ${remaining.length} voting members serving, not a majority; refusing`,
            'start the members that are down first, or remove a member that is down',
          );
        }
      }
      progress(`reconfig: removing member ${id} (from config version ${before.versionHex})`);
      after = await reconfigure(session, { remove: [id], fromVersion: before.version });
    } finally {
      await session.close();
    }
    // Committed: record the membership ZooKeeper has now before anything else can fail.
    const roster = recordConfig(ens.dir, ens.spec, after);
    progress(`committed config version ${after.versionHex}; stopping member ${id}`);
    const stopped = await ens.stop(id, { timeoutMs: opts.graceMs ?? 15_000 });
    // Shrink the spec when the highest member went (its files go), else the removed member's
    // files stay, stopped, in a hole.
    const members = new Set(roster.map((m) => m.id));
    let size = ens.spec.size;
    while (size > 0 && !members.has(size) && !runsOn(ens, size)) {
      rmSync(ens.memberDir(size), { recursive: true, force: true });
      size--;
    }
    if (size !== ens.spec.size) writeSpec(ens.dir, { ...ens.spec, size });
    progress('waiting for the remaining members to serve the new configuration');
    const final = await waitCommitted(after, endAt, () => undefined);
    const change: MembershipChange = {
      ensemble: ens.name,
      dir: ens.dir,
      action: 'remove',
      id,
      role: target.role,
      before: configOnly(before),
      after,
      stopped: stopped.wasRunning,
      members: views(after, final),
      ms: Date.now() - t0,
    };
    return change;
  });
}
