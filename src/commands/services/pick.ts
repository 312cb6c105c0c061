import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../../cli/base.js';
import { Dispatcher, NoInstanceError, STRATEGIES, tcpProbe, type Endpoint, type StrategyName } from '../../core/dispatch/index.js';
import { DEFAULT_BASE_PATH, instanceProblem, readInstances } from '../../core/recipes/services.js';

export interface PickResult {
  service: string;
  id: string;
  address: string;
  port: number;
  hostPort: string;
  strategy: StrategyName;
  /** Instances skipped because the probe failed. */
  skipped: string[];
}

export default class ServicesPick extends BaseCommand<typeof ServicesPick> {
  static override summary = 'Print address:port of one healthy instance of a service.';
  static override description = `Reads the instances once and picks one with --strategy (default random; with --key, consistent-hash and sticky map the same key to the same instance while membership is unchanged). Healthy means: registered, enabled, with a usable address (not blank, no whitespace or control characters) and an integer port in 1-65535; with --probe also accepting a TCP connection (a failing instance is skipped and the next pick tried). Records that are not usable instances are skipped with a warning on stderr. A one-shot weighted-round-robin pick is a weighted random choice. Exit 3 when there is none.`;
  static override examples = [
    '<%= config.bin %> <%= command.id %> web',
    'curl http://$(<%= config.bin %> <%= command.id %> web --probe)/health',
    '<%= config.bin %> <%= command.id %> cache --strategy consistent-hash --key user-42',
  ];
  static override args = { name: Args.string({ required: true, description: 'service name' }) };
  static override flags = {
    strategy: Flags.string({ summary: 'Selection strategy.', options: [...STRATEGIES], default: 'random' }),
    key: Flags.string({ summary: 'Request key (consistent-hash, sticky).' }),
    probe: Flags.boolean({ summary: 'Check the instance accepts a TCP connection; try others when not.' }),
    seed: Flags.integer({ summary: 'Seed for the random choices (reproducible picks).' }),
    'base-path': Flags.string({ summary: 'Discovery base path.', default: DEFAULT_BASE_PATH }),
  };

  async run(): Promise<PickResult> {
    const session = await this.session();
    const name = this.args.name;
    const { instances, unreadable } = await readInstances(session, name, this.flags['base-path']);
    // Records a client cannot use are skipped, and said so (stderr: stdout is the pick).
    for (const u of unreadable) process.stderr.write(`zkctl: ${u.path}: ${u.error}\n`);
    for (const r of instances) {
      const problem = instanceProblem(r.instance);
      if (problem !== undefined) process.stderr.write(`zkctl: ${r.path}: skipped: ${problem}\n`);
    }
    const d = new Dispatcher({ strategy: this.flags.strategy as StrategyName, seed: this.flags.seed, send: async () => undefined });
    d.setMembers(instances.map((r) => r.instance));
    const tried = new Set<Endpoint>();
    const skipped: string[] = [];
    const timeoutMs = Math.min(this.connection.timeoutMs, 2000);
    for (;;) {
      const ep = d.size > tried.size ? d.pick(this.flags.key, tried) : undefined;
      if (!ep) {
        throw new NoInstanceError(
          d.size === 0 ? `no healthy instance of service "${name}"` : `no instance of service "${name}" accepted a connection (${skipped.join(', ')})`,
        );
      }
      if (this.flags.probe) {
        try {
          await tcpProbe(ep, timeoutMs);
        } catch {
          tried.add(ep);
          skipped.push(ep.id);
          continue;
        }
      }
      const r: PickResult = { service: name, id: ep.id, address: ep.address, port: ep.port, hostPort: ep.hostPort, strategy: d.strategyName, skipped };
      if (!this.jsonEnabled()) this.printer.text(ep.hostPort, r);
      return r;
    }
  }
}
