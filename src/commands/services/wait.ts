import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../../cli/base.js';
import { endWait, outcomeFields, outcomeTail, waitSignals } from '../../cli/wait.js';
import { parseDuration } from '../../core/duration.js';
import { DEFAULT_BASE_PATH } from '../../core/recipes/services.js';
import { waitForService, type ServiceSeen } from '../../core/recipes/wait.js';

export interface ServicesWaitResult extends Record<string, unknown> {
  service: string;
  count: number;
  probe: boolean;
  met: boolean;
  elapsedMs: number;
  /** What the last check saw: instances registered (and, with --probe, answering). */
  seen: ServiceSeen | null;
  checks: number;
  connected: boolean;
  lastError?: string;
  interrupted?: boolean;
}

export default class ServicesWait extends BaseCommand<typeof ServicesWait> {
  static override summary = 'Wait until N instances of a service are registered (and, with --probe, answer TCP): for CI jobs.';
  static override description = `Counts the enabled, usable instances of NAME (as \`services ls\` and \`services pick\` see them) in a watched cache: the count is checked again whenever ZooKeeper reports a change, and after every reconnect. With --probe an instance counts only when a TCP connect to its address:port succeeds (probed every 500ms while not met: a port has no watch).

--timeout is the deadline for the whole wait, connecting included (default 10s, or the context's timeout). Exit 0 as soon as --count instances are there; 10 when not within --timeout: one line on stderr says what was seen last, and with -o json (or yaml, --json) stdout carries the report ({service, count, probe, met, elapsedMs, seen: {registered, answering, instances: [{id, address, port, answering, probeError}]}, checks, connected}); with -o json it is printed when met too. 8 when no server could be reached within --timeout, 130 on Ctrl-C (143 on SIGTERM).`;
  static override examples = [
    '<%= config.bin %> <%= command.id %> web --count 3 --timeout 60s',
    '<%= config.bin %> <%= command.id %> web --count 2 --probe --timeout 2m -o json',
  ];
  static override args = { name: Args.string({ required: true, description: 'service name' }) };
  static override flags = {
    count: Flags.integer({ summary: 'How many instances (at least).', min: 1, default: 1 }),
    probe: Flags.boolean({ summary: 'Count only instances that answer a TCP connect to their address:port.' }),
    'base-path': Flags.string({ summary: 'Discovery base path.', default: DEFAULT_BASE_PATH }),
  };

  async run(): Promise<ServicesWaitResult> {
    const f = this.flags;
    const name = this.args.name;
    const waitMs = f.timeout !== undefined ? parseDuration(f.timeout, '--timeout') : this.connection.timeoutMs;
    const t0 = Date.now();
    const sigs = waitSignals();
    this.onCleanup(() => sigs.dispose());
    const session = await this.session({ renew: true, connectTimeoutMs: waitMs });
    const outcome = await waitForService(session, name, {
      count: f.count,
      probe: f.probe,
      basePath: f['base-path'],
      timeoutMs: Math.max(0, waitMs - (Date.now() - t0)),
      signal: sigs.signal,
    });
    const result: ServicesWaitResult = {
      service: name,
      count: f.count,
      probe: f.probe,
      ...outcomeFields(outcome, t0),
    };
    const what = `${f.count} instance${f.count === 1 ? '' : 's'} of ${name}${f.probe ? ' answering' : ' registered'}`;
    const s = outcome.seen;
    const lastSeen = !s
      ? 'nothing (no check completed)'
      : `${s.registered} registered${s.answering !== undefined ? `, ${s.answering} answering` : ''}${s.instances.filter((i) => i.answering === false).length > 0 ? ` (${s.instances.filter((i) => i.answering === false).slice(0, 3).map((i) => `${i.address}:${i.port} ${i.probeError ?? 'no answer'}`).join(', ')})` : ''}`;
    return endWait(this, result, outcome, {
      signal: sigs.received(),
      progress: (m) => this.progress(m),
      metLine: `${what} (after ${(result.elapsedMs / 1000).toFixed(1)}s)`,
      notMet: () => `not ${what}${outcome.interrupted ? '' : ` within ${f.timeout ?? `${waitMs}ms`}`}: last seen ${lastSeen}${outcomeTail(outcome)}`,
    });
  }
}
