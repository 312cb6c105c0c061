import { Flags } from '@oclif/core';
import { tlsConnectOptions } from '../../core/security/tls.js';
import chalk from 'chalk';
import { BaseCommand } from '../../cli/base.js';
import { interruptTrap } from '../../cli/stream.js';
import { parseDuration, sleepMs } from '../../core/duration.js';
import { ConnectionError, UsageError } from '../../core/errors.js';
import { parseConnectString } from '../../core/connect-string.js';
import { TopSampler, type TopRow, type TopSnapshot } from '../../ensemble/top.js';
import { latencyColumn } from '../../cli/ensemble.js';
import { renderTable, terminalWidth, wrapLine, type Column } from '../../output/index.js';

const hi = (t: string, r: TopRow): string => (r.leader ? chalk.green.bold(t) : r.mode === 'down' ? chalk.red(t) : r.mode === 'not-serving' ? chalk.yellow(t) : t);

export const topColumns: Column<TopRow>[] = [
  { header: 'ID', key: 'id', get: (r) => r.id, align: 'right', style: hi, priority: 0 },
  { header: 'ADDRESS', key: 'address', get: (r) => r.address, style: hi, priority: 1 },
  { header: 'MODE', key: 'mode', get: (r) => r.mode, style: hi, priority: 0 },
  { header: 'ZXID', key: 'zxid', get: (r) => r.zxid, priority: 2 },
  // The header, format and short form of `ensemble status` and `health` (LATENCY MIN/AVG/MAX, LAT when narrow).
  latencyColumn<TopRow>(5),
  { header: 'OUTST', key: 'outstanding', get: (r) => r.outstanding, align: 'right', priority: 4 },
  { header: 'CONNS', key: 'connections', get: (r) => r.connections, align: 'right', priority: 6 },
  { header: 'RECV', key: 'packetsReceived', get: (r) => r.packetsReceived, align: 'right', priority: 11 },
  { header: 'SENT', key: 'packetsSent', get: (r) => r.packetsSent, align: 'right', priority: 10 },
  { header: 'RECV/S', key: 'receivedPerSec', get: (r) => r.receivedPerSec, align: 'right', priority: 7 },
  { header: 'SENT/S', key: 'sentPerSec', get: (r) => r.sentPerSec, align: 'right', priority: 8 },
  { header: 'ZNODES', key: 'znodes', get: (r) => r.znodes, align: 'right', priority: 3 },
  { header: 'WATCHES', key: 'watches', get: (r) => r.watches, align: 'right', priority: 9 },
  { header: 'ERROR', key: 'error', get: (r) => r.error, priority: 1, truncate: 'end' },
];

function headline(s: TopSnapshot, servers: string): string {
  const leader = s.leader ? `leader ${s.leaderId ?? s.leader}` : 'no leader';
  return `${s.time.toISOString()}  ${servers}  ${leader}, ${s.serving}/${s.members.length} serving, ${s.quorum ? 'quorum' : 'NO quorum'}`;
}

/** One screen of the live view, fitted to `width` columns (a column never wraps; low-priority ones go first). */
export function renderTopScreen(s: TopSnapshot, hosts: string, color: boolean, width: number | undefined): string {
  let head = `${headline(s, hosts)}   (q to quit)`;
  // Too narrow: the addresses go (the table has them), then the line breaks between words.
  if (width !== undefined && head.length > width) head = `${headline(s, '')}   (q to quit)`.replace(/Z {4}/, 'Z  ');
  if (width !== undefined) head = wrapLine(head, width, 2);
  const table = renderTable(s.members, topColumns, { color, width });
  return `\u001b[H\u001b[2J${color ? chalk.bold(head) : head}\n\n${table}\n`;
}

export default class EnsembleTop extends BaseCommand<typeof EnsembleTop> {
  static override summary = 'A live table of every member (like zktop): mode, zxid, latency, outstanding, connections, packets, znodes, watches.';
  static override description = `Asks every member of the connect string (-s, $ZKCTL_SERVER or the current context) for srvr and mntr every --interval and redraws the table; the leader is highlighted. RECV/S and SENT/S are packet rates since the previous refresh. The table fits the terminal's width: on a narrow one the least important columns (RECV, SENT, WATCHES, ...) are left out. Press q (or Ctrl-C) to quit; Ctrl-Z suspends it like top(1) (the screen is restored, and redrawn on fg).

When stdout is not a terminal, or with -o json/yaml/plain, it prints one snapshot and exits (exit 8 when no member answers).`;
  static override examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> -s zk1:2181,zk2:2181,zk3:2181 --interval 2s',
    '<%= config.bin %> <%= command.id %> -o json | jq ".members[] | {address, mode, outstanding}"',
  ];
  static override flags = {
    interval: Flags.string({ summary: 'Refresh interval.', default: '1s' }),
  };

  async run(): Promise<TopSnapshot> {
    const servers = this.connection.server;
    const members = parseConnectString(servers).servers;
    const intervalMs = parseDuration(this.flags.interval, '--interval');
    if (intervalMs < 100) throw new UsageError('--interval must be at least 100ms');
    const tls = this.connection.tls ? tlsConnectOptions(this.connection.tls) : undefined;
    const sampler = new TopSampler(members, { timeoutMs: Math.min(2000, Math.max(500, intervalMs)), ...(tls ? { tls } : {}) });
    const hosts = members.map((m) => `${m.host}:${m.port}`).join(',');
    const live = !!process.stdout.isTTY && this.outputFormat === 'table' && !this.jsonEnabled();
    if (!live) {
      const snap = await sampler.sample();
      if (!this.jsonEnabled()) {
        this.printer.rows(snap.members, topColumns, snap);
        if (this.outputFormat === 'table') this.progress(headline(snap, hosts));
      }
      if (snap.members.every((m) => m.mode === 'down')) throw new ConnectionError(`no member of ${hosts} answers`);
      return snap;
    }
    return this.loop(sampler, hosts, intervalMs);
  }

  /** Redraw until q / Ctrl-C. */
  private async loop(sampler: TopSampler, hosts: string, intervalMs: number): Promise<TopSnapshot> {
    const out = process.stdout;
    const stdin = process.stdin;
    let quit: ((code: number) => void) | undefined;
    const done = new Promise<number>((r) => (quit = r));
    const raw = !!stdin.isTTY;
    let last: TopSnapshot | undefined;
    const draw = (snap: TopSnapshot): void => {
      out.write(renderTopScreen(snap, hosts, this.colorEnabled, terminalWidth(out)));
    };
    // Ctrl-Z (and SIGTSTP from elsewhere), like top(1): leave the alternate screen, give the
    // terminal back in cooked mode, stop; on fg (SIGCONT) take it again and redraw at once.
    // Between the resume and the SIGCONT handler, timers may fire: no drawing on the normal screen.
    let suspended = false;
    const suspend = (): void => {
      suspended = true;
      out.write('\u001b[?25h\u001b[?1049l');
      if (raw) stdin.setRawMode(false);
      process.kill(process.pid, 'SIGSTOP');
    };
    const onCont = (): void => {
      suspended = false;
      if (raw) stdin.setRawMode(true);
      out.write('\u001b[?1049h\u001b[?25l');
      if (last) draw(last);
    };
    const onKey = (b: Buffer): void => {
      const k = b.toString();
      if (k === 'q' || k === 'Q') quit?.(0);
      else if (k === '\u0003') quit?.(130);
      else if (k === '\u001a') suspend();
    };
    const trap = interruptTrap();
    trap.signal.addEventListener('abort', () => quit?.(130));
    process.on('SIGTSTP', suspend);
    process.on('SIGCONT', onCont);
    if (raw) {
      stdin.setRawMode(true);
      stdin.resume();
      stdin.on('data', onKey);
    }
    out.write('\u001b[?1049h\u001b[?25l'); // alternate screen, hide cursor
    this.onCleanup(() => {
      out.write('\u001b[?25h\u001b[?1049l');
      trap.dispose();
      process.removeListener('SIGTSTP', suspend);
      process.removeListener('SIGCONT', onCont);
      if (raw) {
        stdin.removeListener('data', onKey);
        stdin.setRawMode(false);
        stdin.pause();
      }
    });
    let code: number | undefined;
    void done.then((c) => (code = c));
    while (code === undefined) {
      const t0 = Date.now();
      last = await sampler.sample();
      if (code !== undefined) break;
      if (!suspended) draw(last);
      const wait = Math.max(0, intervalMs - (Date.now() - t0));
      await Promise.race([done, sleepMs(wait)]);
    }
    if (code === 130) process.exitCode = 130;
    return last!;
  }
}
