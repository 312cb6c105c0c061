import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../../cli/base.js';
import { assertWritable } from '../../cli/znode.js';
import { commandAfterDashDash } from '../../cli/hold.js';
import { formatDuration, parseDuration } from '../../core/duration.js';
import { UsageError } from '../../core/errors.js';
import { holdTrap, interruptedStatus } from '../../cli/stream.js';
import { Child, childEnv, exitStatusOf } from '../../core/proc.js';
import { DEFAULT_BASE_PATH, instancePath, makeInstance, type ReplacedBy, ServiceRegistration } from '../../core/recipes/services.js';
import { sessionHex } from '../../core/session-id.js';

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
  signal?: NodeJS.Signals;
}

export default class ServicesRegister extends BaseCommand<typeof ServicesRegister> {
  static override summary = 'Register a service instance (Curator x-discovery format) and hold it.';
  static override description = `Writes <base-path>/NAME/ID as an EPHEMERAL node holding the instance as Curator's ServiceDiscovery writes it, so Curator clients see it and zkctl sees theirs. The weight is stored in the payload as {"weight": W} (merged into a JSON-object --payload).

With -- CMD the instance is held while CMD runs and removed when it exits; zkctl exits with CMD's status. CMD gets no ZKCTL_* credential in its environment (ZKCTL_AUTH and any ZKCTL_* naming AUTH, PASS, SECRET, TOKEN, CRED, KEY, SASL or JAAS), as for every command zkctl starts. A registration is not a lock: zkctl being cut off from the ensemble does not stop CMD (the instance just disappears with the session). But CMD does not outlive zkctl: SIGINT/SIGTERM/SIGHUP to zkctl go to CMD, and if zkctl is killed outright (SIGKILL, OOM killer) a reaper (as for \`lock -- CMD\`) kills CMD and what it started. Without CMD the instance is held until SIGINT/SIGTERM/SIGHUP.

On a signal zkctl removes the instance with a short deadline (1.5s, best effort: the node is ephemeral and goes with the session anyway, also when no quorum can be reached) and exits with the signal's code: 130 (SIGINT), 143 (SIGTERM), 129 (SIGHUP).

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
    assertWritable(instancePath(inst.name, inst.id, f['base-path']), this.connection.server, 'register under');
    const askedTimeoutMs = parseDuration(f['session-timeout'], '--session-timeout');
    if (askedTimeoutMs > 2 ** 31 - 1) throw new UsageError(`--session-timeout ${f['session-timeout']}: too long (the protocol carries at most 2^31-1 ms; servers grant 40s by default)`);
    // (Under 1 s is asked as 1 s: the wire client derives its connect timeout from it, and every
    // server clamps such a value to its minimum anyway, 2 ticks.)
    const session = await this.session({ renew: true, sessionTimeoutMs: Math.max(1000, askedTimeoutMs) });
    const reg = new ServiceRegistration(session, inst, f['base-path']);
    // Trapped from here on: a signal while registering is acted on as soon as register() returns.
    const trap = holdTrap();
    this.onCleanup(() => trap.dispose());
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
      note(`${session.describeLoss().replace(/^session/, `session ${result.session}`)}: ${reg.path} goes with it; registering it again in a new session`);
      if (!this.jsonEnabled()) ev('lost', { session: result.session });
    });
    reg.on('reregistered', () => {
      result.reregistrations++;
      const renewed = session.sessionIdHex !== result.session;
      result.session = session.sessionIdHex;
      const after = lostAt !== undefined ? ` ${((Date.now() - lostAt) / 1000).toFixed(1)}s after the session was lost` : '';
      note(renewed ? `re-registered ${reg.path} in a new session ${session.sessionIdHex}${after}` : `${reg.path} was missing (deleted by someone else, or not there after a reconnect): re-registered (session ${session.sessionIdHex})`);
      lostAt = undefined;
      if (!this.jsonEnabled()) ev('reregistered', { session: session.sessionIdHex });
    });
    reg.on('replaced', (r: ReplacedBy) => {
      const by = r.owner === 0n ? 'a persistent node' : `session ${sessionHex(r.owner)}`;
      note(`${reg.path} was replaced by another registrant of id ${inst.id} (${by}); not fighting it: registering again when it is gone`);
      if (!this.jsonEnabled()) ev('replaced', { by: r.owner === 0n ? 'persistent' : sessionHex(r.owner) });
    });
    reg.on('error', (e: Error) => note(`re-registration failed: ${e.message} (retrying)`));
    this.onCleanup(() => reg.unregister().catch(() => undefined));
    // On a signal: unregister with a short deadline, best effort (the node is ephemeral: it goes
    // with the session anyway), then exit with the signal's code, also without a quorum.
    const unregisterOnSignal = async (sig: NodeJS.Signals): Promise<void> => {
      session.timeoutMs = Math.min(session.timeoutMs, SIGNAL_UNREGISTER_MS); // the close in finally, too
      try {
        await reg.unregister({ timeoutMs: SIGNAL_UNREGISTER_MS });
        if (!this.jsonEnabled()) ev('unregistered', { signal: sig });
      } catch (e) {
        note(`could not remove ${reg.path} within ${formatDuration(SIGNAL_UNREGISTER_MS)} (${(e as Error).message}); it goes when session ${session.sessionIdHex} ends`);
      }
    };

    if (cmd.length === 0) {
      const sig = await new Promise<NodeJS.Signals>((resolve) => {
        if (trap.received) resolve(trap.received);
        trap.onSignal(resolve);
      });
      result.signal = sig;
      await unregisterOnSignal(sig);
      process.exitCode = signalExit(sig);
      return result;
    }

    // CMD runs under the reaper `lock` uses (core/proc.ts): if zkctl dies without cleaning up
    // (SIGKILL, OOM), CMD and what it started die with it. Signals to zkctl go to CMD.
    let child: Child;
    try {
      child = await Child.start(cmd[0]!, cmd.slice(1), { env: childEnv(), ownGroup: !process.stdin.isTTY, killOnParentDeath: true });
    } catch (e) {
      process.stderr.write(`zkctl: ${(e as Error).message}\n`);
      await reg.unregister().catch(() => undefined);
      process.exitCode = 127;
      result.exitStatus = 127;
      return result;
    }
    const c = child;
    const untrap = trap.onSignal((s) => {
      result.signal ??= s;
      c.forward(s);
    });
    if (trap.received) {
      result.signal = trap.received;
      c.forward(trap.received);
    }
    const exit = await c.exited;
    await new Promise<void>((r) => setImmediate(r)); // a signal that came with CMD's exit (Ctrl-C on a terminal)
    if (!result.signal && trap.received) result.signal = trap.received;
    untrap();
    // Whatever is left of a stopped job dies before the registration is removed.
    await c.finish(!!result.signal || exit.signal !== null);
    const status = exitStatusOf(exit);
    result.exitStatus = status;
    if (result.signal) {
      await unregisterOnSignal(result.signal);
      process.exitCode = signalExit(result.signal);
      return result;
    }
    await reg.unregister();
    if (!this.jsonEnabled()) ev('unregistered', { status });
    process.exitCode = status;
    return result;
  }
}

/** How long `services register` tries to remove its node after a signal before it exits anyway. */
const SIGNAL_UNREGISTER_MS = 1500;

/** The shell's code for a process a signal ended: 130 (SIGINT), 143 (SIGTERM), 129 (SIGHUP). */
function signalExit(sig: NodeJS.Signals): number {
  return interruptedStatus(sig, true);
}
