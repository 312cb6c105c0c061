import { Flags } from '@oclif/core';
import chalk from 'chalk';
import { BaseCommand } from '../../../cli/base.js';
import { interruptTrap } from '../../../cli/stream.js';
import { parseDuration } from '../../../core/duration.js';
import { CheckFailedError, InterruptedError } from '../../../core/errors.js';
import { runFailoverDrill, type DrillProgress, type DrillReport, type DrillRound } from '../../../ensemble/drill.js';
import type { Column } from '../../../output/index.js';
import { targetEnsemble, targetFlags } from '../../../cli/ensemble.js';

const ms = (v: number | null | undefined): string => (v === null || v === undefined ? '-' : `${v}`);

const columns: Column<DrillRound>[] = [
  { header: 'ROUND', key: 'round', get: (r) => r.round, align: 'right' },
  { header: 'KILLED', key: 'killed', get: (r) => r.killed, align: 'right' },
  { header: 'NEW LEADER', key: 'newLeader', get: (r) => r.newLeader, align: 'right' },
  { header: 'EPOCH', key: 'epoch', get: (r) => `${r.oldEpoch ?? '?'}->${r.newEpoch ?? '?'}` },
  { header: 'ELECTION MS', key: 'electionMs', get: (r) => r.electionMs, align: 'right' },
  {
    header: 'WRITE GAP MS',
    key: 'gapMs',
    get: (r) => r.gapMs,
    align: 'right',
    style: (t, r) => (r.gapMs > 1000 ? chalk.yellow(t) : t),
  },
  { header: 'PER WRITER', key: 'gapsMs', get: (r) => r.gapsMs.join('/') },
  { header: 'RETRIES', key: 'retries', get: (r) => r.retries, align: 'right' },
  { header: 'RESTART MS', key: 'restartMs', get: (r) => r.restartMs, align: 'right' },
  { header: 'CATCH-UP MS', key: 'catchUpMs', get: (r) => ms(r.catchUpMs), align: 'right' },
];

function progressText(p: DrillProgress): string {
  switch (p.kind) {
    case 'writers-ready':
      return `${p.writers} writers writing under ${p.path}`;
    case 'kill':
      return `round ${p.round}: SIGKILL leader ${p.member}${p.epoch !== undefined ? ` (epoch ${p.epoch})` : ''}`;
    case 'elected':
      return `round ${p.round}: member ${p.member} leads after ${p.ms} ms`;
    case 'writes-resumed':
      return `round ${p.round}: every writer wrote again; worst gap ${p.gapMs} ms`;
    case 'rejoined':
      return `round ${p.round}: member ${p.member} serves again after ${p.restartMs} ms, caught up ${p.catchUpMs === null ? 'NOT within the deadline' : `${p.catchUpMs} ms later`}`;
    case 'verifying':
      return `verifying ${p.writes} acknowledged writes`;
  }
}

export default class DrillFailover extends BaseCommand<typeof DrillFailover> {
  static override summary = 'Failover drill on a local ensemble: kill the leader under write load, measure, verify nothing acknowledged was lost.';
  static override description = `Writers (--writers, each with its own session) keep creating sequenced nodes at --rate per second. Each round SIGKILLs the current leader and measures the election (from the kill until a surviving member reports itself leader; srvr polled every 25 ms), the write gap (per writer, the longest time between two acknowledged writes around the kill; the round's gap is the worst writer's), the restart (the killed member started again, until it serves) and the catch-up (until its zxid reaches the leader's).

After the last round every acknowledged write is read back: none may be missing, each writer's writes must be in order, and a write acknowledged before another was sent must come before it in zxid order.

Prints one row per round and a summary (p50/max write gap; goal: median gap <= 1s), or the whole report with -o json. Exit 12 when anything acknowledged was lost or reordered. The written nodes (under --path) are deleted afterwards unless --keep.

Client-side settings that shape the gap: the writers' request deadline (--request-timeout, which also bounds each connection handshake, to its share per member) and session timeout (--session-timeout). The writers' sessions reconnect to the other members at once (every member of the connect string is tried before a pause of at most 200 ms).`;
  static override examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> --rounds 10 --writers 4 -o json > drill.json',
    '<%= config.bin %> <%= command.id %> --name dev --rounds 2',
  ];
  static override flags = {
    ...targetFlags,
    rounds: Flags.integer({ summary: 'How many times the leader is killed.', default: 5, min: 1 }),
    writers: Flags.integer({ summary: 'Concurrent writers (one session each).', default: 2, min: 1, max: 64 }),
    rate: Flags.integer({ summary: 'Writes per second per writer (0: as fast as acknowledged).', default: 100, min: 0 }),
    settle: Flags.string({ summary: 'Steady writing before each kill.', default: '1.5s' }),
    'request-timeout': Flags.string({ summary: "Writers' request deadline (also bounds their handshakes).", default: '2s' }),
    'session-timeout': Flags.string({ summary: "Writers' session timeout.", default: '10s' }),
    path: Flags.string({ summary: 'Where the writers write (a child per run).', default: '/zkctl/drill' }),
    keep: Flags.boolean({ summary: 'Keep the written nodes.' }),
  };

  async run(): Promise<DrillReport> {
    const ens = targetEnsemble(this.flags, () => this.connection);
    const ac = interruptTrap();
    this.onCleanup(() => ac.dispose());
    this.progress(`failover drill on ensemble '${ens.name}' (${ens.connectString}): ${this.flags.rounds} rounds, ${this.flags.writers} writers`);
    let report: DrillReport;
    try {
      report = await runFailoverDrill(ens, {
        rounds: this.flags.rounds,
        writers: this.flags.writers,
        rate: this.flags.rate,
        settleMs: parseDuration(this.flags.settle, '--settle', { zero: true }),
        requestTimeoutMs: parseDuration(this.flags['request-timeout'], '--request-timeout'),
        sessionTimeoutMs: parseDuration(this.flags['session-timeout'], '--session-timeout'),
        basePath: this.flags.path,
        keep: this.flags.keep,
        signal: ac.signal,
        onProgress: (p) => this.progress(progressText(p)),
      });
    } catch (e) {
      if (ac.signal.aborted) throw new InterruptedError('drill interrupted (the killed member may still be down: zkctl ensemble up restarts it)');
      throw e;
    }
    const s = report.summary;
    const v = report.verification;
    if (!this.jsonEnabled()) {
      if (this.outputFormat === 'json' || this.outputFormat === 'yaml') this.printer.object(report as unknown as Record<string, unknown>);
      else {
        this.printer.rows(report.rounds, columns);
        this.printer.text(
          [
            `write gap p50 ${s.gapP50Ms} ms, max ${s.gapMaxMs} ms (goal: median <= ${s.gapGoalMs} ms: ${s.gapGoalMet ? 'met' : 'MISSED'}); election p50 ${s.electionP50Ms} ms, max ${s.electionMaxMs} ms; catch-up max ${ms(s.catchUpMaxMs)} ms`,
            `writes: ${v.acknowledged} acknowledged, ${v.lost} lost, ${v.reordered} reordered${v.mismatched ? `, ${v.mismatched} mismatched` : ''}${v.unacknowledgedPresent ? ` (${v.unacknowledgedPresent} unacknowledged write(s) found committed)` : ''}: ${s.ok ? 'OK' : 'FAILED'}`,
            `ensemble '${report.ensemble}' (${report.size} members, tickTime ${report.tickTime} ms); writers: ${s.writers} at ${report.ratePerWriter}/s, session timeout ${report.sessionTimeoutMs} ms, request timeout ${report.requestTimeoutMs} ms`,
          ].join('\n'),
        );
      }
    }
    if (!s.ok) {
      const ex = [...v.lostPaths.slice(0, 3), ...v.reorderedExamples.slice(0, 3)].join('; ');
      throw new CheckFailedError(`drill: ${v.lost} acknowledged write(s) lost, ${v.reordered} reordered, ${v.mismatched} mismatched${ex ? ` (e.g. ${ex})` : ''}`);
    }
    return report;
  }
}
