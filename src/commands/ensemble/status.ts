import { BaseCommand } from '../../cli/base.js';
import { resolveStatusTarget, statusColumns, summaryLine, targetFlags, targetInput } from '../../cli/ensemble.js';
import { parseDuration } from '../../core/duration.js';
import { ConnectionError } from '../../core/errors.js';
import { tlsConnectOptions } from '../../core/security/tls.js';
import { ensembleStatus, statusView, type StatusView } from '../../ensemble/index.js';
import { describeChanges, statusWithDrift } from '../../ensemble/sync.js';

export default class EnsembleStatus extends BaseCommand<typeof EnsembleStatus> {
  static override summary = 'Show every member: mode, zxid, epoch, latency, connections, znodes, pid.';
  static override description = `Asks each member for its four-letter words (srvr, mntr, conf) in parallel, with a deadline (--timeout, default 2s per member). A member that does not answer is "down"; one that answers but does not serve (electing, no quorum) is "not-serving"; a local member whose process runs but does not answer (paused with SIGSTOP, hung) is "not-answering", as in \`ensemble ls\`. A local member's process is found by its pid file, else by its command line (one whose pid file was lost is still asked). Former members (removed, files kept) that still run are named in a warning on stderr (in JSON/YAML: "formerRunning").

A local ensemble's members are those recorded by zkctl (membership.json, kept in step by \`ensemble add/remove\`, \`zkctl reconfig\` and \`ensemble sync\`). Servers in its configuration that zkctl did not start are listed too, with PID "external" (in JSON: "external": true); they count for the quorum, zkctl never starts or stops them. When the recorded membership differs from ZooKeeper's configuration (/zookeeper/config, read when a member serves), a one-line warning goes to stderr ("drift" in JSON): \`zkctl ensemble sync\` records the committed membership.

Which ensemble: --name/--dir pick a local ensemble; otherwise the current context (set by \`ensemble up\`), -s/--server or ZKCTL_SERVER. Any ensemble works: for one zkctl did not start, the members are the hosts of the connect string (ids come from each server's own config, pids are not known).

Exit 0 when at least one member answers, 8 when none does (the table is printed either way).`;
  static override examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> --name dev -o json',
    '<%= config.bin %> <%= command.id %> -s zk1:2181,zk2:2181,zk3:2181',
    "<%= config.bin %> <%= command.id %> -o plain | awk '$3 == \"leader\" {print $1}'",
  ];
  static override flags = { ...targetFlags };

  async run(): Promise<StatusView> {
    const timeoutMs = this.flags.timeout ? parseDuration(this.flags.timeout, 'timeout') : 2000;
    const conn = this.connection;
    const target = resolveStatusTarget(targetInput(this.flags, conn));
    let view: StatusView;
    if ('local' in target) {
      const e = target.local;
      const mw = e.membershipWarning();
      if (mw) process.stderr.write(`zkctl: warning: ${mw}\n`);
      const checked = await statusWithDrift(e, { timeoutMs });
      view = statusView(checked.status, { name: e.name, dir: e.dir, connectString: e.connectString });
      if (checked.drift) {
        view.drift = { version: checked.drift.version, changes: checked.drift.changes };
        process.stderr.write(`zkctl: warning: the membership recorded for ensemble '${e.name}' differs from ZooKeeper's configuration (version ${checked.drift.version}): ${describeChanges(checked.drift.changes)} (run: zkctl ensemble sync)\n`);
      }
      const former = checked.formerRunning;
      if (former.length > 0) {
        view.formerRunning = former;
        // Text output has no column for them: said on stderr, TTY or not (JSON/YAML carry formerRunning).
        const textOut = !this.jsonEnabled() && this.outputFormat !== 'json' && this.outputFormat !== 'yaml';
        if (textOut)
          process.stderr.write(`zkctl: warning: former member${former.length > 1 ? 's' : ''} ${former.map((f) => `${f.id} (pid ${f.pid})`).join(', ')} of ensemble '${e.name}' still running, not in its membership; \`zkctl ensemble stop ID\` or \`ensemble down\` stops ${former.length > 1 ? 'them' : 'it'}\n`);
      }
    } else {
      // Members given by address, with TLS settings: ask them over TLS (a secureClientPort answers four-letter words to a client it trusts).
      const tls = conn.tls ? tlsConnectOptions(conn.tls) : undefined;
      view = statusView(await ensembleStatus(target.servers, { timeoutMs, ...(tls ? { tls } : {}) }), { connectString: target.servers });
      if (tls) this.progress(`asked over TLS: ${target.servers}`);
    }
    if (!this.jsonEnabled()) this.printer.rows(view.members, statusColumns, view);
    if (this.outputFormat === 'table') this.progress(summaryLine(view));
    if (view.members.every((m) => m.mode === 'down' || m.mode === 'not-answering')) {
      throw new ConnectionError(`no member of ${view.name ? `ensemble '${view.name}'` : view.connectString} answers`, {
        hint: view.name ? 'start it with `zkctl ensemble up`' : 'check the addresses and that 4lw.commands.whitelist includes srvr',
      });
    }
    return view;
  }
}
