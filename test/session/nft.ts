/**
 * Network faults for the session tests, with nftables (root) on loopback: a table of our own
 * (never anyone else's, never a flush of the ruleset) whose rules match only the client ports
 * of the test's own fault ensemble; and `ss -K` to kill established client connections.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';

const run = promisify(execFile);

export async function nftAvailable(): Promise<string | undefined> {
  if (process.getuid?.() !== 0) return 'needs root (nftables)';
  try {
    await run('nft', ['--version']);
    await run('ss', ['-V']);
    return undefined;
  } catch {
    return 'nft or ss is not installed';
  }
}

export class NftTable {
  private constructor(readonly name: string) {}

  static async create(): Promise<NftTable> {
    const name = `zkctl_session_${process.pid}_${randomBytes(3).toString('hex')}`;
    await run('nft', ['add', 'table', 'inet', name]);
    await run('nft', ['add', 'chain', 'inet', name, 'out', '{ type filter hook output priority 0 ; policy accept ; }']);
    return new NftTable(name);
  }

  /** Packets to 127.0.0.1:port vanish (a black hole: connects get no answer). */
  async drop(port: number): Promise<void> {
    await run('nft', ['add', 'rule', 'inet', this.name, 'out', 'ip', 'daddr', '127.0.0.1', 'tcp', 'dport', String(port), 'drop']);
  }

  /** Packets to 127.0.0.1:port are answered with a TCP reset (connects are refused). */
  async reject(port: number): Promise<void> {
    await run('nft', ['add', 'rule', 'inet', this.name, 'out', 'ip', 'daddr', '127.0.0.1', 'tcp', 'dport', String(port), 'reject', 'with', 'tcp', 'reset']);
  }

  /** Remove every rule of this table (the network is whole again). */
  async heal(): Promise<void> {
    await run('nft', ['flush', 'chain', 'inet', this.name, 'out']);
  }

  async destroy(): Promise<void> {
    await run('nft', ['delete', 'table', 'inet', this.name]).catch(() => undefined);
  }
}

/** Kill the established client connections to 127.0.0.1:port (the client sees a reset). */
export async function killConnections(port: number): Promise<void> {
  await run('ss', ['-K', 'dst', '127.0.0.1', 'dport', '=', `:${port}`]);
}
