import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../cli/base.js';
import { endWait, outcomeFields, outcomeTail, waitSignals } from '../cli/wait.js';
import { parseDuration } from '../core/duration.js';
import { UsageError } from '../core/errors.js';
import { validatePath } from '../core/paths.js';
import { describeNodeCondition, waitForNode, type NodeCondition, type NodeSeen } from '../core/recipes/wait.js';

export interface WaitResult extends Record<string, unknown> {
  path: string;
  /** exists, gone, children, data */
  condition: NodeCondition['kind'];
  /** --children N / --data V */
  want?: number | string;
  met: boolean;
  elapsedMs: number;
  /** What the last check saw. */
  seen: NodeSeen | null;
  checks: number;
  connected: boolean;
  lastError?: string;
  interrupted?: boolean;
}

export default class Wait extends BaseCommand<typeof Wait> {
  static override summary = 'Wait until a znode exists, is gone, has N children or holds a value (for CI jobs, instead of sleep loops).';
  static override description = `Exactly one condition: --exists, --gone, --children N (at least N children; the node must exist) or --data V (the node's data is exactly V, as UTF-8). Driven by ZooKeeper watches, not polling: each read leaves a watch and the next check comes when the server says the node changed; after a reconnect (or a new session) it checks again, since changes made meanwhile are not replayed.

--timeout is the deadline for the whole wait, connecting included (default 10s, or the context's timeout). Exit 0 as soon as the condition holds; 10 when it did not within --timeout: one line on stderr says what was seen last, and with -o json (or yaml, --json) stdout carries the report ({path, condition, want, met, elapsedMs, seen: {exists, version, children, data}, checks, connected, lastError}); with -o json it is printed when the condition is met too. Connection lost meanwhile: it keeps waiting for a reconnect until the deadline. 8 when no server could be reached at all within --timeout, 7 when not allowed to read the node, 130 on Ctrl-C (143 on SIGTERM).`;
  static override examples = [
    '<%= config.bin %> <%= command.id %> /app/ready --exists --timeout 60s',
    '<%= config.bin %> <%= command.id %> /locks/deploy --gone --timeout 5m',
    '<%= config.bin %> <%= command.id %> /services/web --children 3 --timeout 30s -o json',
    '<%= config.bin %> <%= command.id %> /app/state --data ready --timeout 2m',
  ];
  static override args = { path: Args.string({ required: true, description: 'znode path' }) };
  static override flags = {
    exists: Flags.boolean({ summary: 'Until the node exists.', exclusive: ['gone', 'children', 'data'] }),
    gone: Flags.boolean({ summary: 'Until the node does not exist.', exclusive: ['exists', 'children', 'data'] }),
    children: Flags.integer({ summary: 'Until the node has at least N children.', min: 0, exclusive: ['exists', 'gone', 'data'] }),
    data: Flags.string({ summary: "Until the node's data is exactly V (UTF-8).", exclusive: ['exists', 'gone', 'children'] }),
  };

  async run(): Promise<WaitResult> {
    const f = this.flags;
    const path = this.args.path;
    validatePath(path);
    let cond: NodeCondition;
    if (f.exists) cond = { kind: 'exists' };
    else if (f.gone) cond = { kind: 'gone' };
    else if (f.children !== undefined) cond = { kind: 'children', count: f.children };
    else if (f.data !== undefined) cond = { kind: 'data', value: Buffer.from(f.data, 'utf8') };
    else throw new UsageError('say what to wait for: --exists, --gone, --children N or --data V', 'e.g. zkctl wait /app/ready --exists --timeout 60s');
    const waitMs = f.timeout !== undefined ? parseDuration(f.timeout, '--timeout') : this.connection.timeoutMs;
    const t0 = Date.now();
    const sigs = waitSignals();
    this.onCleanup(() => sigs.dispose());
    const session = await this.session({ renew: true, connectTimeoutMs: waitMs });
    const outcome = await waitForNode(session, path, cond, { timeoutMs: Math.max(0, waitMs - (Date.now() - t0)), signal: sigs.signal });
    const result: WaitResult = {
      path,
      condition: cond.kind,
      ...(cond.kind === 'children' ? { want: cond.count } : cond.kind === 'data' ? { want: f.data } : {}),
      ...outcomeFields(outcome, t0),
    };
    const want = describeNodeCondition(cond);
    return endWait(this, result, outcome, {
      signal: sigs.received(),
      progress: (m) => this.progress(m),
      metLine: `${path} ${want} (after ${(result.elapsedMs / 1000).toFixed(1)}s)`,
      notMet: () => `${path} ${notMetText(cond)}${outcome.interrupted ? '' : ` within ${f.timeout ?? `${waitMs}ms`}`}: last seen ${describeSeen(outcome.seen)}${outcomeTail(outcome)}`,
    });
  }
}

function notMetText(c: NodeCondition): string {
  if (c.kind === 'exists') return 'did not appear';
  if (c.kind === 'gone') return 'was not gone';
  if (c.kind === 'children') return `did not get ${c.count} ${c.count === 1 ? 'child' : 'children'}`;
  return `did not hold ${JSON.stringify(c.value.toString('utf8'))}`;
}

function describeSeen(s: NodeSeen | undefined): string {
  if (!s) return 'nothing (no check completed)';
  if (!s.exists) return 'no such node';
  const parts = [`exists (version ${s.version ?? '?'})`];
  if (s.children !== undefined) parts[0] = `exists with ${s.children} ${s.children === 1 ? 'child' : 'children'}`;
  if (s.data !== undefined) parts.push(`data ${JSON.stringify(s.data.length > 80 ? `${s.data.slice(0, 80)}…` : s.data)}`);
  if (s.dataBase64 !== undefined) parts.push(`data (not UTF-8, base64) ${s.dataBase64.slice(0, 80)}`);
  return parts.join(', ');
}
