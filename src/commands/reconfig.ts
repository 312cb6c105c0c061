import { Flags } from '@oclif/core';
import { BaseCommand } from '../cli/base.js';
import { configResult, type EnsembleConfigResult, followMembers, memberColumns, targetInput } from '../cli/ensemble.js';
import { UsageError, ZkCode, ZkError, ZkctlError } from '../core/errors.js';
import { parseConfigVersion, parseServerSpec, readDynamicConfig, reconfigure } from '../core/config/dynamic.js';
import { describeMembers } from '../ensemble/membership.js';
import { describeChanges, localEnsembleFor, syncRoster, type RosterChange } from '../ensemble/sync.js';
import type { Session } from '../core/session.js';
import type { DynamicConfig } from '../core/config/dynamic.js';
import { hostsOf } from '../core/connect-string.js';

/** What a raw reconfig did to the records of a local ensemble zkctl runs (when it was one). */
export interface LocalFollowUp {
  ensemble: string;
  dir: string;
  /** membership.json was rewritten to the committed configuration. */
  updated: boolean;
  changes: RosterChange[];
  /** Contexts whose server list was changed. */
  contexts: string[];
  /** The ensemble's connect string now (its own members). */
  connectString?: string;
  /** Former members whose process still runs (`zkctl ensemble stop ID` / `ensemble down` stop them). */
  formerRunning?: Array<{ id: number; pid: number }>;
  /** Why the records could not be updated (the reconfig itself succeeded). */
  error?: string;
}

export interface ReconfigResult extends EnsembleConfigResult {
  /** The config version before (as read, or --from-version). */
  from: string;
  /** Set when the ensemble is a local one this machine runs: how its records followed. */
  local?: LocalFollowUp;
}

export default class Reconfig extends BaseCommand<typeof Reconfig> {
  static override summary = "Change any ensemble's membership with ZooKeeper's dynamic reconfig.";
  static override description = `Incremental: --add server specs and/or --remove member ids. Non-incremental: --members gives the whole new membership. A server spec is ZooKeeper's: server.ID=HOST:QUORUM_PORT:ELECTION_PORT[:participant|observer][;[CLIENT_HOST:]CLIENT_PORT] (the "server." prefix is optional); flags repeat or take comma-separated lists.

Needs a super user or the reconfig ACL: --auth digest:super:PASSWORD (or ZKCTL_AUTH / the context); the ensemble must run with reconfigEnabled=true. With --from-version (hex, as \`zkctl ensemble config\` prints it) the change applies only if the configuration is still that version: exit 5 (BAD_VERSION) when it moved. Prints the new configuration once ZooKeeper has committed it.

A joining server must already run (started with the current membership plus itself, see the ZooKeeper reconfig guide; for local ensembles \`zkctl ensemble add\` does all of it). ZooKeeper refuses a new configuration whose voting members do not have a synced quorum (exit 1).

On a local ensemble zkctl runs (the context's ensemble, or the one serving the connect string), its records follow the committed configuration, read back after the change, under the lock \`ensemble add/remove\` use: the roster (membership.json) gets the members and roles, a removed member keeps its files and keeps running (it is no longer counted or started; \`ensemble stop ID\` or \`ensemble down\` stop it), a server zkctl did not start is recorded as external (\`ensemble status\` asks it and shows PID "external"; zkctl never starts or stops it), and contexts pointing at the ensemble get its members' addresses. A line on stderr (and "local" in JSON) says what was updated; if that fails, a warning says so and the exit status stays 0 (\`zkctl ensemble sync\` retries).`;
  static override examples = [
    '<%= config.bin %> <%= command.id %> --auth digest:super:secret --add "server.4=10.0.0.4:2888:3888:participant;2181"',
    '<%= config.bin %> <%= command.id %> --auth digest:super:secret --remove 3 --from-version 100000004',
    '<%= config.bin %> <%= command.id %> --auth digest:super:secret --members "server.1=zk1:2888:3888;2181,server.2=zk2:2888:3888;2181,server.3=zk3:2888:3888;2181"',
  ];
  static override flags = {
    add: Flags.string({ summary: 'Server spec to add (or change).', multiple: true, exclusive: ['members'] }),
    remove: Flags.string({ summary: 'Member id to remove.', multiple: true, exclusive: ['members'] }),
    members: Flags.string({ summary: 'The whole new membership (server specs).', multiple: true, exclusive: ['add', 'remove'] }),
    'from-version': Flags.string({ summary: 'Apply only if the config is at this version (hex); else exit 5.' }),
  };

  async run(): Promise<ReconfigResult> {
    const split = (v: string[] | undefined): string[] => (v ?? []).flatMap((s) => s.split(/,(?=\s*(?:server\.)?\d+\s*=)/)).map((s) => s.trim()).filter(Boolean);
    const add = split(this.flags.add);
    const members = split(this.flags.members);
    const remove = (this.flags.remove ?? []).flatMap((s) => s.split(',')).map((s) => s.trim()).filter(Boolean);
    for (const id of remove) if (!/^\d+$/.test(id)) throw new UsageError(`invalid member id '${id}' in --remove`);
    const fromVersion = this.flags['from-version'] !== undefined ? parseConfigVersion(this.flags['from-version']) : undefined;
    // Validate everything before connecting.
    const req = { add, remove: remove.map(Number), members, ...(fromVersion !== undefined ? { fromVersion } : {}) };
    for (const s of [...add, ...members]) parseServerSpec(s);
    if (add.length + remove.length + members.length === 0) throw new UsageError('nothing to change', 'give --add, --remove or --members');

    const c = this.connection;
    const session = await this.session({ connectString: hostsOf(c.server) });
    const current = await readDynamicConfig(session);
    const unknown = req.remove.filter((id) => !current.servers.some((s) => s.id === id));
    if (unknown.length > 0) {
      throw new UsageError(`--remove: ${unknown.join(', ')} ${unknown.length > 1 ? 'are' : 'is'} not in the configuration (members: ${current.servers.map((s) => s.id).join(', ')})`);
    }
    const before = fromVersion === undefined ? current.versionHex : fromVersion.toString(16);
    let after;
    try {
      after = await reconfigure(session, req);
    } catch (e) {
      if (e instanceof ZkError && (e.code === ZkCode.NO_AUTH || e.code === ZkCode.AUTH_FAILED)) {
        throw new ZkctlError(`reconfig: ${e.message}`, e.exitCode, { hint: 'reconfig needs the super user: --auth digest:super:PASSWORD (local ensembles: the password is in super.secret in the ensemble dir)' });
      }
      if (e instanceof ZkError && e.code === ZkCode.BAD_VERSION) {
        throw new ZkctlError(`reconfig: the configuration is no longer version ${before}`, e.exitCode, { hint: 'see zkctl ensemble config, then retry with the new version' });
      }
      throw e;
    }
    const view = await describeMembers(after, Math.min(2000, c.timeoutMs));
    const result: ReconfigResult = { ...configResult(after.versionHex, view), from: before };
    const local = await this.followLocal(current, session);
    if (local) result.local = local;
    if (!this.jsonEnabled()) {
      if (this.outputFormat === 'json' || this.outputFormat === 'yaml') this.printer.object(result as unknown as Record<string, unknown>);
      else {
        this.printer.rows(view, memberColumns);
        const line = `committed config version ${after.versionHex} (was ${before}): ${result.participants} participants, ${result.observers} observers`;
        if (this.outputFormat === 'table') this.printer.text(line);
        else process.stderr.write(`${line}\n`);
      }
    }
    return result;
  }

  /** A local ensemble's roster and contexts follow the committed configuration (see the description). */
  private async followLocal(current: DynamicConfig, session: Session): Promise<LocalFollowUp | undefined> {
    const c = this.connection;
    const ens = localEnsembleFor(targetInput({}, c), current);
    if (!ens) return undefined;
    try {
      const r = await syncRoster(ens, { session, timeoutMs: c.timeoutMs });
      const contexts = followMembers(ens.dir);
      const out: LocalFollowUp = { ensemble: r.ensemble, dir: r.dir, updated: r.updated, changes: r.changes, contexts, connectString: r.connectString, formerRunning: r.formerRunning };
      const parts = [r.updated ? `updated local ensemble '${r.ensemble}' to config version ${r.version}: ${describeChanges(r.changes)}` : `local ensemble '${r.ensemble}' already matches config version ${r.version}`];
      if (contexts.length > 0) parts.push(`context${contexts.length > 1 ? 's' : ''} ${contexts.map((x) => `'${x}'`).join(', ')} now ${r.connectString}`);
      if (r.formerRunning.length > 0) {
        const ids = r.formerRunning.map((f) => f.id).join(', ');
        parts.push(`former member${r.formerRunning.length > 1 ? 's' : ''} ${ids} still running (zkctl ensemble stop ID, or ensemble down, stops ${r.formerRunning.length > 1 ? 'them' : 'it'})`);
      }
      if (r.updated || contexts.length > 0) process.stderr.write(`zkctl: ${parts.join('; ')}\n`);
      else this.progress(`zkctl: ${parts.join('; ')}`);
      return out;
    } catch (e) {
      const msg = e instanceof Error ? e.message : String(e);
      process.stderr.write(`zkctl: warning: the reconfig was committed, but the records of local ensemble '${ens.name}' were not updated: ${msg} (run: zkctl ensemble sync --dir ${ens.dir})\n`);
      return { ensemble: ens.name, dir: ens.dir, updated: false, changes: [], contexts: [], error: msg };
    }
  }
}
