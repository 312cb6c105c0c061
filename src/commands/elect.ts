import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../cli/base.js';
import { assertWritable } from '../cli/znode.js';
import { resolveConnection } from '../cli/context.js';
import { commandAfterDashDash, FENCING_HELP, holdFlags, parseHoldFlags, runHeld } from '../cli/hold.js';
import { UsageError } from '../core/errors.js';
import { holdTrap } from '../cli/stream.js';
import { ELECTION_FORMATS, Election, type ElectionFormat } from '../core/recipes/election.js';

export interface ElectResult {
  path: string;
  id: string;
  node: string;
  fencingToken: bigint;
  sessionId: string;
  waitedMs: number;
  /** With a command: its exit status. */
  status?: number;
}

export default class Elect extends BaseCommand<typeof Elect> {
  static override summary = 'Campaign for leadership; run a command while leader, or hold until interrupted.';
  static override description = `Candidates queue under PATH as ephemeral sequential nodes (data = --id, by default this host's IP address as for lock: Curator's default for lock nodes); the first one leads, every other watches only the one ahead of it. Node formats: curator-latch (Curator LeaderLatch, _c_<uuid>-latch-<seq>, the default), curator-selector (Curator LeaderSelector: a mutex on PATH, _c_<uuid>-lock-<seq>) and kazoo (kazoo Election: a kazoo Lock on PATH, <hex>__lock__<seq>).

When elected: with -- CMD ARGS, runs CMD with ZKCTL_ELECTION_PATH, ZKCTL_LEADER_ID, ZKCTL_LEADER_NODE and ZKCTL_FENCING_TOKEN (the node's czxid) in its environment and exits with its status once it ends (resigning); without CMD, prints the leader node and leads until SIGINT/SIGTERM (exit 130). On exit, zkctl resigns (deletes its node) so the next candidate takes over at once.

Leadership can be lost during a partition: CMD is then stopped as 'zkctl lock' stops it, and zkctl exits 11. ${FENCING_HELP}

Here --timeout bounds the campaign (exit 10); the deadline for connecting and for each request comes from the context (default 10s).`;
  static override examples = [
    '<%= config.bin %> <%= command.id %> /election/scheduler --id "$(hostname)" -- ./scheduler --serve',
    '<%= config.bin %> <%= command.id %> /election/app --id node-2 --format kazoo   # with kazoo Election("/election/app", "...")',
    '<%= config.bin %> <%= command.id %> /election/app --id node-3 --timeout 1m -- ./take-over.sh',
  ];
  static override usage = ['<%= command.id %> PATH [--id ID] [--format curator-latch|curator-selector|kazoo] [--timeout DURATION] [--grace DURATION] [--session-timeout DURATION] [-- CMD [ARGS...]]'];
  static override strict = false;
  static override args = { path: Args.string({ required: true, description: 'election path, e.g. /election/scheduler' }) };
  static override flags = {
    id: Flags.string({ summary: 'This candidate\'s id, stored in its node and shown by "elect ls" and "elect watch" (default: this host\'s IP address, as for lock).' }),
    format: Flags.string({ summary: 'Node format.', options: [...ELECTION_FORMATS], default: 'curator-latch' }),
    timeout: Flags.string({ summary: 'Campaign at most this long (then exit 10).' }),
    ...holdFlags,
  };

  async run(): Promise<ElectResult> {
    const cmd = commandAfterDashDash(this.argv);
    if (!cmd && (await this.parse(Elect)).argv.length > 1) {
      throw new UsageError('unexpected arguments after PATH', 'put the command after --, e.g. zkctl elect /election/x --id me -- ./serve.sh');
    }
    assertWritable(this.args.path, this.connection.server, 'campaign on');
    const hs = parseHoldFlags(this.flags);
    const trap = holdTrap();
    this.onCleanup(() => trap.dispose());
    const { timeoutMs } = resolveConnection({ ...this.flags, timeout: undefined });
    const session = await this.session({ timeoutMs, sessionTimeoutMs: hs.sessionTimeoutMs });
    const election = new Election(session, this.args.path, { id: this.flags.id, format: this.flags.format as ElectionFormat, graceMs: hs.graceMs });
    election.on('candidate', (c) => this.progress(`candidate ${c.node}: ${c.position} ahead`));
    try {
      const l = await election.campaign({ timeoutMs: hs.waitMs, signal: trap.signal });
      const result: ElectResult = { path: l.path, id: l.id, node: l.node, fencingToken: l.fencingToken, sessionId: l.sessionId, waitedMs: l.waitedMs };
      if (!cmd) this.printer.text(l.node, result);
      else this.progress(`elected: ${l.node}; running ${cmd.command}`);
      const r = await runHeld({
        hold: election,
        schedule: l.schedule,
        what: `leadership of ${this.args.path}`,
        trap,
        command: cmd,
        env: { ZKCTL_ELECTION_PATH: l.path, ZKCTL_LEADER_ID: l.id, ZKCTL_LEADER_NODE: l.node, ZKCTL_FENCING_TOKEN: l.fencingToken.toString() },
      });
      result.status = r.status;
      process.exitCode = r.status;
      return result;
    } finally {
      await election.resign(Math.min(timeoutMs, 5000));
    }
  }
}
