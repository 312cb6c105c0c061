import { Flags } from '@oclif/core';
import { BaseCommand } from '../../cli/base.js';
import { configPath, DEFAULT_TIMEOUT_MS, loadConfig, readSecretFile, resolveConnection, setContext, type ConnectionSettings } from '../../cli/context.js';
import { ExitCode, UsageError, ZkctlError } from '../../core/errors.js';
import { formatDuration, parseDuration } from '../../core/duration.js';
import { recoverInterruptedAddNow } from '../../ensemble/membership.js';
import { autoBasePort, describeWriteFailure, load, PortInUseError, settledStatus, stopSpawnedGroups, tryLoad, up, statusView, type LocalEnsemble, type ProgressEvent, type StatusView } from '../../ensemble/index.js';
import { resolveUpTarget, statusColumns, summaryLine, targetInput } from '../../cli/ensemble.js';

export interface UpOutput extends StatusView {
  name: string;
  dir: string;
  alreadyRunning: boolean;
  started: number[];
  elapsedMs: number;
  /** The context written for it (now current). */
  context: string;
  superSecretPath: string;
  /** TLS ensembles: secure connect string, CA, client certificate, Java client configuration. */
  tls?: { connectString: string; ca: string; clientCert: string; clientConfig: string };
}

export default class EnsembleUp extends BaseCommand<typeof EnsembleUp> {
  static override summary = 'Start a local ZooKeeper ensemble (real servers) and wait for its quorum.';
  static override description = `Runs SIZE real ZooKeeper servers (QuorumPeerMain, from Debian's zookeeper package or --zk-home / ZOOKEEPER_HOME) on 127.0.0.1, detached, and waits until a quorum with exactly one leader serves. Then writes a context named after the ensemble and makes it current, so the next command just works. The status printed is taken once every follower has synced with the leader (within 10 s more), and a ready line (members serving, leader, connect string, context) goes to stderr, in pipes too.

Which ensemble: --name or --dir; without them, the current context's local ensemble (as \`ensemble kill/start/down\` do: after its members were stopped, a bare \`up\` brings them back), else (no current context, or it is not a local ensemble) the default ensemble "local", said on stderr. A new ensemble is created only when asked (--name NEW, --dir NEW, or that default). When \`up\` makes another context current, it says so on stderr.

Ports: member i serves clients on BASE+i-1, talks quorum on BASE+10000+i-1 and leader election on BASE+20000+i-1 (2181-2183, 12181-12183, 22181-22183 by default); ensembles whose base ports differ by at least their size run side by side. --base-port auto picks, for a new ensemble, a base whose client, quorum and election ports are all free and below the kernel's ephemeral port range (net.ipv4.ip_local_port_range). A port already in use is an error (exit 1) naming the port and its holder (pid and command); with -o json stdout carries {"error", "port", "holder"} too.

State lives in $XDG_STATE_HOME/zkctl/ensembles/NAME (default ~/.local/state/zkctl/ensembles/NAME) or --dir: ensemble.json, members/ID/{zoo.cfg,data,zookeeper.log,zookeeper.pid}. A super user (digest super:PASSWORD, the password in super.secret, mode 0600) can bypass ACLs; the secret is never on a command line.

Idempotent: on a running ensemble it only reports; members that are down are started. A failed first start removes only what it created (a directory you made beforehand stays). The directory's path must be printable ASCII without backslashes: ZooKeeper reads zoo.cfg as an ISO-8859-1 Java properties file.

SASL: --sasl USER:PASSWORD (or --sasl USER with the password from --sasl-password-file or $ZKCTL_SASL_PASSWORD, else a generated one) makes a new ensemble require SASL DIGEST-MD5 from every client (authProvider.sasl=SASLAuthenticationProvider, enforce.auth.enabled=true, enforce.auth.schemes=sasl; the server's JAAS Server section with DigestLoginModule in sasl-jaas.conf, mode 0600, given to each member as -Djava.security.auth.login.config). The password is kept in sasl.secret (mode 0600) and the context gets sasl: {user, password-file}, never the password itself. A client without SASL, or with a wrong password, is refused (exit 7).

Exit status: 0 when the quorum serves; 1 when the servers are up but the context could not be written (the message says the ensemble is up; use -s with the servers printed); 130 on Ctrl-C, after stopping the members this run had started (members that were running before keep running) and saying so. Reconfig is enabled (dynamic config), standalone mode is disabled, all four-letter words are allowed, the AdminServer is off unless --admin-port.`;
  static override examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> --size 5 --name five --base-port 3181',
    '<%= config.bin %> <%= command.id %> --dir ./zk --tick-time 500 -o json',
    '<%= config.bin %> <%= command.id %> --zk-home /opt/apache-zookeeper-3.8.4-bin',
    '<%= config.bin %> <%= command.id %> --name ci --base-port auto -o json',
    '<%= config.bin %> <%= command.id %> --name secure --size 1 --base-port auto --sasl bob',
  ];
  static override flags = {
    size: Flags.integer({ summary: 'Number of members, 1-9 (default 3).', min: 1, max: 9 }),
    name: Flags.string({ summary: 'Ensemble name, also the context name (default "local").' }),
    'base-port': Flags.string({
      summary: 'Client port of member 1, default 2181 (quorum ports +10000, election ports +20000); "auto": free ports below the kernel\'s ephemeral range.',
    }),
    'tick-time': Flags.integer({ summary: 'ZooKeeper tickTime in ms, default 2000 (session timeouts are 2-20 ticks).' }),
    dir: Flags.string({ summary: 'Ensemble directory (default $XDG_STATE_HOME/zkctl/ensembles/NAME).' }),
    'zk-home': Flags.string({ summary: 'ZooKeeper release directory (default $ZOOKEEPER_HOME, else Debian\'s package).' }),
    'admin-port': Flags.integer({ summary: 'Enable the AdminServer: member i listens on ADMIN-PORT+i-1 (127.0.0.1).' }),
    wait: Flags.string({ summary: 'How long to wait for the quorum.', default: '60s' }),
    tls: Flags.boolean({
      summary: 'A new ensemble that also serves clients over mutual TLS: secure client port BASE+5000+i-1; the context connects there with a client certificate.',
      description: 'Makes (with the openssl command) a CA, a certificate per member and a client certificate, all for localhost/127.0.0.1, in DIR/tls (keys mode 0600): ca.pem, member-ID.pem, client.pem (key + certificate), client.p12 with client.p12.password, and client.properties, a Java client configuration (zkCli.sh -client-configuration). Members run the Netty connection factory with ssl.clientAuth=need; the plain client port stays (for four-letter words). The context written has tls: {ca, cert, key}.',
    }),
    sasl: Flags.string({
      summary: 'Require SASL DIGEST-MD5 from clients: USER:PASSWORD, or USER (password from --sasl-password-file or $ZKCTL_SASL_PASSWORD, else generated); the context gets the credentials.',
      helpGroup: 'GLOBAL',
    }),
  };

  async run(): Promise<UpOutput> {
    const f = this.flags;
    const waitMs = parseDuration(f.wait, '--wait');
    const onProgress = (e: ProgressEvent): void => {
      if (e.kind === 'created') this.progress(`created ${e.dir}`);
      else if (e.kind === 'started') {
        startedNow.push({ member: e.member, pid: e.pid });
        this.progress(`started member ${e.member} (pid ${e.pid})`);
      } else if (e.kind === 'warning') this.progress(`warning: ${e.message}`);
      else if (e.kind === 'waiting') this.progress(`waiting for a quorum: ${e.message}`);
    };
    // Ctrl-C / SIGTERM while starting: the members this run started are stopped again (they run
    // detached and would be left serving); members that already ran are left as they were. Said on stderr.
    // Which ensemble: --name/--dir; else the current context's local ensemble (as `ensemble kill/start/down`
    // do: "bring it back" after its members were stopped); else the default 'local', said on stderr.
    let conn: ConnectionSettings | undefined;
    let connError: string | undefined;
    try {
      // --sasl here configures the ensemble, not this command's connection.
      conn = resolveConnection({ ...f, sasl: undefined, 'sasl-password-file': undefined });
    } catch (e) {
      connError = (e as Error).message; // e.g. a current-context naming no context: start the default, say why
    }
    const ut = conn ? resolveUpTarget(targetInput(f, conn)) : f.name !== undefined || f.dir !== undefined ? { from: 'flags' as const } : { from: 'default' as const, reason: connError };
    const timeoutMs = conn?.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const dirOpt = f.dir ?? ut.ensemble?.dir;
    if (ut.from === 'default') process.stderr.write(`zkctl: ${ut.reason}: using the default ensemble 'local' (--name NAME starts another)\n`);
    const target = dirOpt !== undefined ? `--dir ${dirOpt}` : `--name ${f.name ?? 'local'}`;
    let basePort: number | undefined;
    if (f['base-port'] === 'auto') {
      // A new ensemble only: an existing one keeps its ports.
      if (ut.ensemble === undefined && tryLoadTarget(f.dir, f.name) === undefined) basePort = await autoBasePort(f.size);
    } else if (f['base-port'] !== undefined) {
      basePort = parseBasePort(f['base-port']);
    }
    const sasl = f.sasl !== undefined ? parseUpSasl(f.sasl, f['sasl-password-file']) : undefined;
    const startedNow: Array<{ member: number; pid: number }> = [];
    let interrupted = false;
    let stopping: Promise<void> | undefined;
    const onSignal = (sig: NodeJS.Signals): void => {
      if (interrupted) process.exit(ExitCode.INTERRUPTED); // a second Ctrl-C: leave at once
      interrupted = true;
      const stopAll = async (): Promise<void> => {
        // up() goes on meanwhile: a member it spawns while we stop the others is stopped too.
        const done = new Set<number>();
        for (let more = startedNow; more.length > 0; more = startedNow.filter((s) => !done.has(s.pid))) {
          for (const s of more) done.add(s.pid);
          await stopSpawnedGroups(more.map((s) => s.pid), 5000);
        }
      };
      stopping = stopAll().then(
        () => {
          process.stderr.write(
            `zkctl: interrupted (${sig}) while starting the ensemble: ${startedNow.length > 0 ? `stopped ${startedNow.map((s) => `member ${s.member} (pid ${s.pid})`).join(', ')}, started by this run` : 'nothing was started'}; members that were running before keep running; \`zkctl ensemble up ${target}\` starts it again, \`zkctl ensemble down ${target}\` stops it\n`,
          );
          process.exit(ExitCode.INTERRUPTED);
        },
        () => process.exit(ExitCode.INTERRUPTED),
      );
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    this.onCleanup(() => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    });
    // An `ensemble add` killed before it finished: when the ensemble still serves, settle it before
    // starting anything (its half-added member would otherwise be started and waited for).
    const existing = ('ensemble' in ut ? ut.ensemble : undefined) ?? tryLoadTarget(f.dir, f.name);
    if (existing) {
      const mw = existing.membershipWarning();
      if (mw) process.stderr.write(`zkctl: warning: ${mw}\n`);
      const note = await recoverInterruptedAddNow(existing, timeoutMs).catch(() => undefined);
      if (note) process.stderr.write(`zkctl: ${note}\n`);
    }
    let r: Awaited<ReturnType<typeof up>>;
    const autoPicked = f['base-port'] === 'auto' && basePort !== undefined;
    try {
      for (let attempt = 1; ; attempt++) {
        try {
          r = await up({
            ...(f.name !== undefined ? { name: f.name } : {}),
            ...(dirOpt !== undefined ? { dir: dirOpt } : {}),
            ...(f.size !== undefined ? { size: f.size } : {}),
            ...(basePort !== undefined ? { basePort } : {}),
            ...(f['tick-time'] !== undefined ? { tickTime: f['tick-time'] } : {}),
            ...(f['zk-home'] !== undefined ? { zkHome: f['zk-home'] } : {}),
            ...(f['admin-port'] !== undefined ? { adminPort: f['admin-port'] } : {}),
            ...(f.tls ? { tls: true } : {}),
            ...(sasl ? { saslUser: sasl.user, ...(sasl.password !== undefined ? { saslPassword: sasl.password } : {}) } : {}),
            waitMs,
            onProgress,
          });
          break;
        } catch (e) {
          // --base-port auto picks free ports, but another zkctl may take them before this one starts its
          // members (the pick is not under the port lock): pick again, a few times, for a new ensemble only.
          if (!(autoPicked && e instanceof PortInUseError && !stopping && attempt < 5 && tryLoadTarget(f.dir, f.name) === undefined)) throw e;
          basePort = await autoBasePort(f.size);
        }
      }
    } catch (e) {
      // Interrupted: up() fails as the members it started are stopped; the signal handler says what happened and exits.
      if (stopping) await stopping;
      throw e;
    }
    if (stopping) await stopping;
    // An `ensemble add` killed before it finished: keep its member if committed, else roll it back.
    try {
      const note = await recoverInterruptedAddNow(load(r.dir), timeoutMs);
      if (note) process.stderr.write(`zkctl: ${note}\n`);
    } catch (e) {
      process.stderr.write(`zkctl: warning: could not check for an interrupted \`ensemble add\`: ${(e as Error).message}\n`);
    }
    // The context: keep what the user set on it (auth, timeout), point it at this ensemble.
    // (Started as the current context's ensemble: that context, whatever its name.)
    const contextName = ut.from === 'context' && conn?.context ? conn.context : r.name;
    let contextError: unknown;
    let previous: string | undefined;
    try {
      previous = loadConfig()['current-context'];
    } catch {
      /* unreadable: setContext says so */
    }
    const ens = load(r.dir);
    const tlsFiles = ens.tlsFiles;
    // A TLS ensemble's context connects over TLS with the client certificate.
    const server = ens.secureConnectString ?? ens.connectString;
    try {
      const saslCtx = ens.spec.sasl ? { sasl: { user: ens.spec.sasl.user, 'password-file': ens.saslSecretPath } } : {};
      setContext(contextName, { server, 'ensemble-dir': r.dir, tls: tlsFiles ? { ca: tlsFiles.ca, cert: tlsFiles.client, key: tlsFiles.client } : undefined, ...saslCtx }, { makeCurrent: true });
    } catch (e) {
      contextError = e;
    }
    // Never switch the current context silently.
    if (contextError === undefined && previous !== undefined && previous !== contextName) {
      process.stderr.write(`zkctl: context '${contextName}' (ensemble '${r.name}', ${r.connectString}) is now current, was '${previous}' (\`zkctl context use ${previous}\` switches back)\n`);
    }

    // The status to print, taken once every follower has synced with the leader (right after the
    // quorum forms they show zxid 0x0), within at most 10 s more.
    const { status } = await settledStatus(load(r.dir), r.status, Math.min(10_000, waitMs));
    const view = statusView(status, { name: r.name, dir: r.dir, connectString: r.connectString });
    const out: UpOutput = {
      ...view,
      name: r.name,
      dir: r.dir,
      alreadyRunning: r.alreadyRunning,
      started: r.started,
      elapsedMs: r.elapsedMs,
      context: contextName,
      superSecretPath: r.superSecretPath,
      ...(r.tls ? { tls: r.tls } : {}),
    };
    if (!this.jsonEnabled()) this.printer.rows(view.members, statusColumns, out);
    if (contextError !== undefined) {
      throw new ZkctlError(
        `ensemble '${r.name}' is up (${r.connectString}), but its context could not be written to ${configPath()}: ${describeWriteFailure(configPath(), contextError)}`,
        ExitCode.FAILURE,
        { hint: `the servers keep running: use -s ${r.connectString}, or make that directory writable and run \`zkctl ensemble up\` again to write the context` },
      );
    }
    const how = r.alreadyRunning ? 'already running' : `up in ${formatDuration(r.elapsedMs)}`;
    // The ready line: on stderr always (CI logs read pipes), stdout keeps the rows only.
    process.stderr.write(`ready: ${summaryLine(view)}; ${how}; context '${contextName}' is current (${server}${tlsFiles ? ', TLS with the client certificate' : ''})\n`);
    return out;
  }
}

/** The existing ensemble `up` would start, if it exists and is readable (else up() reports). */
function tryLoadTarget(dir: string | undefined, name: string | undefined): LocalEnsemble | undefined {
  try {
    return tryLoad(dir !== undefined ? (dir.includes('/') ? dir : `./${dir}`) : (name ?? 'local'));
  } catch {
    return undefined;
  }
}

/** `ensemble up --sasl USER[:PASSWORD]`; a password-less USER takes --sasl-password-file, else $ZKCTL_SASL_PASSWORD, else none (generated). */
function parseUpSasl(v: string, passwordFile: string | undefined): { user: string; password?: string } {
  const i = v.indexOf(':');
  const user = i < 0 ? v : v.slice(0, i);
  let password = i < 0 ? undefined : v.slice(i + 1);
  if (password === '') throw new UsageError('--sasl USER:PASSWORD: the password is empty', 'give --sasl USER alone for a generated password');
  if (password === undefined && passwordFile !== undefined) password = readSecretFile(passwordFile, '--sasl-password-file');
  else if (password === undefined && process.env.ZKCTL_SASL_PASSWORD) password = process.env.ZKCTL_SASL_PASSWORD;
  // eslint-disable-next-line no-control-regex
  if (password !== undefined && /[\u0000-\u001f"\\]/.test(password)) throw new UsageError('--sasl: the password must not hold control characters, quotes or backslashes');
  return { user, ...(password !== undefined ? { password } : {}) };
}

/** --base-port: an integer port (range checked by the ensemble spec) or "auto". */
function parseBasePort(v: string): number {
  if (!/^\d+$/.test(v.trim())) throw new UsageError(`--base-port must be a port number or "auto", not ${JSON.stringify(v)}`, 'e.g. --base-port 3181, or --base-port auto');
  return Number(v.trim());
}
