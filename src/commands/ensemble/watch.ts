import { Flags } from '@oclif/core';
import { tlsConnectOptions } from '../../core/security/tls.js';
import chalk from 'chalk';
import { BaseCommand } from '../../cli/base.js';
import { parseFor, Stream } from '../../cli/stream.js';
import { parseDuration } from '../../core/duration.js';
import { CheckFailedError, UsageError } from '../../core/errors.js';
import { parseConnectString } from '../../core/connect-string.js';
import { watchEnsemble, type TimelineEvent } from '../../ensemble/timeline.js';

export interface EnsembleWatchResult {
  servers: string;
  events: number;
  leaderChanges: number;
  reason: 'for' | 'interrupted' | 'leader-change';
}

const who = (addr: string | undefined, id: number | undefined): string => (addr === undefined ? 'none' : id !== undefined ? `${addr} (id ${id})` : addr);
const secs = (ms: number | undefined): string => `${((ms ?? 0) / 1000).toFixed(1)}s`;

export function timelineJson(e: TimelineEvent): Record<string, unknown> {
  const o: Record<string, unknown> = { ...e, time: e.time.toISOString() };
  for (const k of Object.keys(o)) if (o[k] === undefined) delete o[k];
  return o;
}

/** One event as a line; `short` (a terminal): the time of day only (UTC), the type not padded. */
export function timelineText(e: TimelineEvent, color: boolean, opts: { short?: boolean } = {}): string {
  const c = (f: (s: string) => string, s: string): string => (color ? f(s) : s);
  const type = opts.short ? e.type : e.type.padEnd(18);
  const leader = e.leader || !e.lastLeader ? who(e.leader, e.leaderId) : `none (last ${who(e.lastLeader, e.lastLeaderId)})`;
  const tail = `epoch ${e.epoch ?? '?'} zxid ${e.zxid ?? '?'}; ${e.serving}/${e.members} serving${e.quorum ? '' : ', NO quorum'}`;
  let what: string;
  switch (e.type) {
    case 'initial':
      what = `leader ${leader}; ${(e.state ?? []).map((m) => `${m.id ?? m.address}:${m.mode}`).join(' ')}`;
      break;
    case 'leader-change':
      what = e.reelected
        ? `leader ${leader} re-elected (epoch ${e.oldEpoch ?? '?'} -> ${e.epoch ?? '?'})`
        : `leader ${who(e.oldLeader, e.oldLeaderId)} -> ${c(chalk.green.bold, leader)}${e.downMs ? ` after ${secs(e.downMs)} without a leader` : ''}`;
      break;
    case 'member-down':
      what = `${c(chalk.red, who(e.member, e.memberId))} is down${e.error ? ` (${e.error})` : ''}`;
      break;
    case 'member-up':
      what = `${who(e.member, e.memberId)} is back (${e.mode})`;
      break;
    case 'quorum-lost':
      what = c(chalk.red, `quorum lost (leader ${e.leader ? who(e.leader, e.leaderId) : `none; last ${who(e.lastLeader, e.lastLeaderId)}`})`);
      break;
    case 'quorum-regained':
      what = `quorum regained after ${secs(e.downMs)}, leader ${leader}`;
      break;
    case 'follower-lag':
      what = c(chalk.yellow, `${who(e.member, e.memberId)} lags ${e.lag === null ? 'an epoch or more' : `${e.lag} transactions`} behind the leader (at ${e.memberZxid})`);
      break;
    case 'follower-caught-up':
      what = `${who(e.member, e.memberId)} caught up (at ${e.memberZxid}${e.noWritesSinceElection ? ', no writes since election' : ''})`;
      break;
  }
  const time = opts.short ? e.time.toISOString().slice(11) : e.time.toISOString();
  return `${time} ${color ? chalk.bold(type) : type} ${what}; ${tail}`;
}

export default class EnsembleWatch extends BaseCommand<typeof EnsembleWatch> {
  static override summary = "Follow an ensemble's leader timeline: leader changes, members down/back, quorum lost/regained, lagging followers.";
  static override description = `Polls every member of the connect string with four-letter words (srvr; conf for the server ids) every --interval and prints one line per event, each with the time, the leader (old and new for a leader change), its epoch and zxid. The first line ("initial") is the state when watching starts. -o json prints one JSON object per line.

Works on any ensemble: the members are the hosts of -s/--server, $ZKCTL_SERVER or the current context (the chroot is ignored). A member is down when its port refuses connections, or when it does not answer two polls in a row. A follower lags when it is more than --lag-threshold transactions (or two epochs) behind the leader for longer than --lag-for. Lag is counted in transactions: after an election the leader's zxid starts its new epoch at 0 while an idle follower still shows the previous epoch's last zxid; that follower is in sync (no writes since election), and one in the previous epoch is behind by the leader's writes since plus what it misses of the previous epoch. States between two polls are not seen: an election shorter than --interval shows only as the new leader.

Exit 0 after --for, 130 on Ctrl-C; with --fail-on-change, 12 at the first leader change (for CI).`;
  static override examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> -s zk1:2181,zk2:2181,zk3:2181 -o json',
    '<%= config.bin %> <%= command.id %> --for 10m --fail-on-change   # in CI, around a rolling restart that must not move the leader',
  ];
  static override flags = {
    for: Flags.string({ summary: 'Stop after this long (e.g. 30s, 10m; exit 0).' }),
    'fail-on-change': Flags.boolean({ summary: 'Exit 12 at the first leader change.' }),
    interval: Flags.string({ summary: 'How often each member is polled.', default: '250ms' }),
    'lag-threshold': Flags.integer({ summary: 'Transactions behind the leader that count as lagging.', default: 1000, min: 0 }),
    'lag-for': Flags.string({ summary: 'How long a follower must stay behind to be reported.', default: '1s' }),
  };

  async run(): Promise<EnsembleWatchResult | undefined> {
    const servers = this.connection.server;
    const members = parseConnectString(servers).servers;
    const intervalMs = parseDuration(this.flags.interval, '--interval');
    if (intervalMs < 50) throw new UsageError('--interval must be at least 50ms');
    const forMs = parseFor(this.flags.for);
    const lagForMs = parseDuration(this.flags['lag-for'], '--lag-for', { zero: true });
    const color = this.printer.color;

    const stream = new Stream<'leader-change'>({ forMs });
    this.onCleanup(() => stream.dispose());

    let events = 0;
    let leaderChanges = 0;
    let change: TimelineEvent | undefined;
    this.progress(`watching ${members.map((m) => `${m.host}:${m.port}`).join(', ')} every ${intervalMs}ms; Ctrl-C to stop`);
    const tls = this.connection.tls ? tlsConnectOptions(this.connection.tls) : undefined;
    await watchEnsemble(members, {
      ...(tls ? { tls } : {}),
      intervalMs,
      lagThreshold: this.flags['lag-threshold'],
      lagForMs,
      signal: stream.signal,
      onEvent: (e) => {
        if (stream.signal.aborted) return;
        events++;
        this.printer.event(timelineJson(e), timelineText(e, color, { short: this.printer.width !== undefined }));
        if (e.type === 'leader-change') {
          leaderChanges++;
          if (this.flags['fail-on-change'] && !change) {
            change = e;
            stream.end('leader-change');
          }
        }
      },
    });
    if (change) {
      throw new CheckFailedError(
        change.reelected ? `leader ${who(change.leader, change.leaderId)} was re-elected (epoch ${change.oldEpoch} -> ${change.epoch})` : `leader changed: ${who(change.oldLeader, change.oldLeaderId)} -> ${who(change.leader, change.leaderId)}`,
      );
    }
    stream.finish();
    const result: EnsembleWatchResult = { servers, events, leaderChanges, reason: (stream.reason ?? 'interrupted') as EnsembleWatchResult['reason'] };
    return this.jsonEnabled() ? undefined : result;
  }
}
