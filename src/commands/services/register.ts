import { spawn } from 'node:child_process';
import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../../cli/base.js';
import { commandAfterDashDash } from '../../cli/hold.js';
import { formatDuration, parseDuration } from '../../core/duration.js';
import { UsageError } from '../../core/errors.js';
import { childEnv } from '../../core/proc.js';
import { DEFAULT_BASE_PATH, makeInstance, type ReplacedBy, ServiceRegistration } from '../../core/recipes/services.js';

export interface RegisterResult {
  service: string;
  id: string;
  path: string;
  address: string;
  port: number;
  weight?: number;
  session: string;
  /** The session timeout the server granted (ms). */
  sessionTimeoutMs: number;
  reregistrations: number;
  /** With -- CMD: the command's exit status. */
  exitStatus?: number;
  signal?: string;
}

export default class ServicesRegister extends BaseCommand<typeof ServicesRegister> {
  static override summary = 'Register a service instance (Curator x-discovery format) and hold it.';
  static override description = `Writes <base-path>/NAME/ID as an EPHEMERAL node holding the instance as Curator's ServiceDiscovery writes it, so Curator clients see it and zkctl sees theirs. The weight is stored in the payload as {"weight": W} (merged into a JSON-object --payload).

With -- CMD the instance is held while CMD runs and removed when it exits; zkctl exits with CMD's status. CMD gets no ZKCTL_* credential in its environment (ZKCTL_AUTH and any ZKCTL_* naming AUTH, PASS, SECRET, TOKEN, CRED, KEY, SASL or JAAS), as for every command zkctl starts. A registration is not a lock: zkctl stopping or being cut off does not stop CMD (the instance just disappears with the session). Without CMD it is held until SIGINT/SIGTERM (exit 130). Registering an id that exists replaces it.

If the session expires (zkctl was cut off from the ensemble for longer than --session-timeout, or the session was closed on the server), ZooKeeper removes the instance; zkctl keeps running (CMD too), says so on stderr, starts a new session as soon as a member can be reached and registers the instance again: same path, same id, byte-identical JSON (registrationTimeUTC unchanged, as Curator does), in the new session. Readers do not see the instance in between.

If another registrant takes the id over while zkctl holds it (zkctl or Curator registering the same id: they delete the node and write their own), zkctl does not fight it: it says so on stderr ("replaced", with the other session) and registers the instance again as soon as that node is gone (the other registrant left or was stopped).

--address must not be blank or contain whitespace or control characters, and ports are integers in 1-65535 (exit 2 otherwise). The server grants a session timeout within its bounds (by default 4s-40s, i.e. 2 and 20 ticks); when it differs from --session-timeout, zkctl says so on stderr, and the registered event carries the granted one. stdout carries the events (registered, lost, reregistered, replaced; one JSON object per line with -o json).`;
  static override examples = [
    '<%= config.bin %> <%= command.id %> web --address 10.0.0.5 --port 8080',
    '<%= config.bin %> <%= command.id %> web --port 8080 --id web-1 --weight 3 -- ./server --port 8080',
    `<%= config.bin %> <%= command.id %> api --port 9000 --payload '{"zone":"eu-1"}' --base-path /discovery`,
  ];
  static override strict = false;
  static override args = { name: Args.string({ required: true, description: 'service name' }) };
  static override flags = {
    address: Flags.string({ summary: 'Address clients connect to.', default: '127.0.0.1' }),
    port: Flags.integer({ summary: 'Port clients connect to (1-65535).', required: true, min: 1, max: 65535 }),
    id: Flags.string({ summary: 'Instance id (default: a random UUID, as Curator).' }),
    weight: Flags.string({ summary: 'Relative weight (stored as payload.weight).' }),
    payload: Flags.string({ summary: 'Payload as JSON.' }),
    'ssl-port': Flags.integer({ summary: 'SSL port (1-65535).', min: 1, max: 65535 }),
    'base-path': Flags.string({ summary: 'Discovery base path.', default: DEFAULT_BASE_PATH }),
    'session-timeout': Flags.string({ summary: 'Session timeout asked for: how long after a crash the instance stays visible (the server clamps it, 4s-40s by default; the granted one is reported).', default: '30s' }),
  };

  async run(): Promise<RegisterResult> {
    const f = this.flags;
    const after = commandAfterDashDash(this.argv);
    const cmd = after ? [after.command, ...after.args] : [];
    if (!after && (await this.parse(ServicesRegister)).argv.length > 1) {
      throw new UsageError('unexpected arguments after NAME', 'put the command after --, e.g. zkctl services register web --port 8080 -- ./server');
    }
    let payload: unknown;
    if (f.payload !== undefined) {
      try {
        payload = JSON.parse(f.payload);
      } catch (e) {
        throw new UsageError(`--payload is not JSON: ${(e as Error).message}`);
      }
    }
    const weight = f.weight !== undefined ? Number(f.weight) : undefined;
    const inst = makeInstance({ name: this.args.name, address: f.address, port: f.port, id: f.id, weight, payload, sslPort: f['ssl-port'] ?? null });
    const askedTimeoutMs = parseDuration(f['session-timeout'], '--session-timeout');
    if (askedTimeoutMs > 2 ** 31 - 1) throw new UsageError(`--session-timeout ${f['session-timeout']}: too long (the protocol carries at most 2^31-1 ms; servers grant 40s by default)`);
    // (Under 1 s is asked as 1 s: the wire client derives its connect timeout from it, and every
    // server clamps such a value to its minimum anyway, 2 ticks.)
    const session = await this.session({ renew: true, sessionTimeoutMs: Math.max(1000, askedTimeoutMs) });
    const reg = new ServiceRegistration(session, inst, f['base-path']);
    await reg.register();
    const result: RegisterResult = {
      service: inst.name,
      id: inst.id,
      path: reg.path,
      address: f.address,
      port: f.port,
      session: session.sessionIdHex,
      sessionTimeoutMs: session.negotiatedTimeoutMs,
      reregistrations: 0,
    };
    if (weight !== undefined) result.weight = weight;
    const ev = (event: string, extra: Record<string, unknown> = {}): void =>
      this.printer.event({ event, service: inst.name, id: inst.id, path: reg.path, time: new Date().toISOString(), ...extra }, `${event} ${reg.path} ${f.address}:${f.port}${Object.entries(extra).map(([k, v]) => ` ${k}=${String(v)}`).join('')}`);
    // What happens to the registration is said on stderr too (stdout carries the events as data).
    const note = (msg: string): void => void process.stderr.write(`zkctl: services register: ${msg}\n`);
    if (session.negotiatedTimeoutMs !== askedTimeoutMs) {
      note(`the server granted a session timeout of ${formatDuration(session.negotiatedTimeoutMs)}, not ${f['session-timeout']} (servers clamp it to their min/max session timeout, 2-20 ticks by default)`);
    }
    if (!this.jsonEnabled()) ev('registered', { session: session.sessionIdHex, sessionTimeoutMs: session.negotiatedTimeoutMs });
    let lostAt: number | undefined;
    reg.on('lost', () => {
      lostAt = Date.now();
      note(`session ${result.session} expired: ${reg.path} is gone with it; registering it again in a new session`);
      if (!this.jsonEnabled()) ev('lost', { session: result.session });
    });
    reg.on('reregistered', () => {
      result.reregistrations++;
      const renewed = session.sessionIdHex !== result.session;
      result.session = session.sessionIdHex;
      const after = lostAt !== undefined ? ` ${((Date.now() - lostAt) / 1000).toFixed(1)}s after the session was lost` : '';
      note(renewed ? `re-registered ${reg.path} in a new session ${session.sessionIdHex}${after}` : `${reg.path} was missing after a reconnect: re-registered (session ${session.sessionIdHex})`);
      lostAt = undefined;
      if (!this.jsonEnabled()) ev('reregistered', { session: session.sessionIdHex });
    });
    reg.on('replaced', (r: ReplacedBy) => {
      const by = r.owner === 0n ? 'a persistent node' : `session 0x${r.owner.toString(16)}`;
      note(`${reg.path} was replaced by another registrant of id ${inst.id} (${by}); not fighting it: registering again when it is gone`);
      if (!this.jsonEnabled()) ev('replaced', { by: r.owner === 0n ? 'persistent' : `0x${r.owner.toString(16)}` });
    });
    reg.on('error', (e: Error) => note(`re-registration failed: ${e.message} (retrying)`));
    this.onCleanup(() => reg.unregister().catch(() => undefined));

    if (cmd.length === 0) {
      const sig = await new Promise<NodeJS.Signals>((resolve) => {
        process.once('SIGINT', () => resolve('SIGINT'));
        process.once('SIGTERM', () => resolve('SIGTERM'));
      });
      result.signal = sig;
      await reg.unregister();
      if (!this.jsonEnabled()) ev('unregistered');
      process.exitCode = 130;
      return result;
    }

    const child = spawn(cmd[0], cmd.slice(1), { stdio: 'inherit', env: childEnv() });
    const forward = (s: NodeJS.Signals) => () => {
      result.signal = s;
      child.kill(s);
    };
    const onInt = forward('SIGINT');
    const onTerm = forward('SIGTERM');
    process.on('SIGINT', onInt);
    process.on('SIGTERM', onTerm);
    const status = await new Promise<number>((resolve) => {
      child.once('error', (e) => {
        process.stderr.write(`zkctl: cannot run ${cmd[0]}: ${e.message}\n`);
        resolve(127);
      });
      child.once('exit', (code, signal) => resolve(code ?? 128 + (signal ? signalNumber(signal) : 0)));
    });
    process.removeListener('SIGINT', onInt);
    process.removeListener('SIGTERM', onTerm);
    await reg.unregister();
    if (!this.jsonEnabled()) ev('unregistered', { status });
    result.exitStatus = status;
    process.exitCode = result.signal ? 130 : status;
    return result;
  }
}

function signalNumber(s: NodeJS.Signals): number {
  const table: Partial<Record<NodeJS.Signals, number>> = { SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGKILL: 9, SIGTERM: 15, SIGUSR1: 10, SIGUSR2: 12, SIGPIPE: 13 };
  return table[s] ?? 0;
}
