import { spawn } from 'node:child_process';
import { Args, Flags } from '@oclif/core';
import chalk from 'chalk';
import { BaseCommand } from '../cli/base.js';
import { parseDuration, setTimer } from '../core/duration.js';
import { validatePath } from '../core/paths.js';
import { childEnv } from '../core/proc.js';
import { watchZnode, type WatchNotice, type ZnodeEvent, type ZnodeWatch } from '../core/recipes/watchers.js';

export interface WatchResult {
  path: string;
  mechanism: 'persistent' | 'one-shot';
  recursive: boolean;
  events: number;
  /** Why the stream ended. */
  reason: 'count' | 'for' | 'interrupted';
}

const zxidHex = (z: bigint | undefined): string | undefined => (z === undefined ? undefined : `0x${z.toString(16)}`);

/** Data as UTF-8 text when it is valid UTF-8, else undefined. */
function utf8(b: Buffer): string | undefined {
  const s = b.toString('utf8');
  return Buffer.from(s, 'utf8').equals(b) ? s : undefined;
}

/** UTF-8 data that parses as JSON: the parsed value. */
function parsedJson(t: string): { value: unknown } | undefined {
  if (!/^\s*[[{"0-9tfn-]/.test(t)) return undefined;
  try {
    return { value: JSON.parse(t) };
  } catch {
    return undefined;
  }
}

/**
 * Data in an event line: JSON data as compact JSON, other text as it is, except text with control
 * characters or line breaks, which is quoted with escapes (nothing reaches the terminal raw).
 */
export function dataText(b: Buffer): string {
  const t = utf8(b);
  if (t === undefined) return `<${b.length} bytes, base64 ${b.toString('base64')}>`;
  const j = parsedJson(t);
  if (j) return JSON.stringify(j.value);
  // eslint-disable-next-line no-control-regex
  return /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/.test(t) ? JSON.stringify(t) : t;
}

/** The JSON line of an event (zxids in hex, data as text or base64; data that is JSON also parsed, as "json"). */
export function eventJson(e: ZnodeEvent, withChildren: boolean): Record<string, unknown> {
  const o: Record<string, unknown> = { type: e.type, time: e.time.toISOString(), path: e.path };
  if (e.zxid !== undefined) o.zxid = zxidHex(e.zxid);
  // Named as in `stat -o json`: the data version of created/data-changed, the child version of children-changed.
  if (e.version !== undefined) o[e.type === 'children-changed' ? 'cversion' : 'dataVersion'] = e.version;
  if (e.data) {
    const t = utf8(e.data);
    if (t !== undefined) {
      o.data = t;
      const j = parsedJson(t);
      if (j) o.json = j.value;
    } else o.dataBase64 = e.data.toString('base64');
  }
  if (e.added) o.added = e.added;
  if (e.removed) o.removed = e.removed;
  if (withChildren && e.children) o.children = e.children;
  if (e.resync) o.resync = true;
  return o;
}

function noticeJson(n: WatchNotice): Record<string, unknown> {
  const o: Record<string, unknown> = { type: n.type, time: n.time.toISOString() };
  if (n.server) o.server = n.server;
  if (n.downMs !== undefined) o.downMs = n.downMs;
  if (n.newSession !== undefined) o.newSession = n.newSession;
  if (n.changes !== undefined) o.changes = n.changes;
  if (n.missed) o.missed = n.missed;
  return o;
}

function noticeText(n: WatchNotice): string {
  switch (n.type) {
    case 'disconnected':
      return `disconnected${n.server ? ` from ${n.server}` : ''}; reconnecting (the watch is re-registered on reconnect)`;
    case 'session-expired':
      return 'session expired: events may have been missed; starting a new session';
    case 'reconnected': {
      const after = n.downMs !== undefined ? ` after ${(n.downMs / 1000).toFixed(1)}s` : '';
      const what = n.newSession ? 'in a new session' : 'same session';
      const missed =
        n.missed === 'none'
          ? 'nothing changed meanwhile'
          : n.missed === 'net-only'
            ? `${n.changes} change(s) while disconnected, reported below as resync events (intermediate states not seen)`
            : 'events while disconnected may have been missed (subtree too large to compare)';
      return `reconnected${n.server ? ` to ${n.server}` : ''}${after} (${what}); ${missed}`;
    }
  }
}

export default class Watch extends BaseCommand<typeof Watch> {
  static override summary = 'Stream the changes of a znode (or a subtree): created, deleted, data changed, children changed.';
  static override description = `One line per event: time, event, path, zxid and version (read just after the event), with --data the new data, with --children the children list. -o json prints one JSON object per line; its version is named as in 'stat -o json': dataVersion (created, data-changed) or cversion (children-changed).

With --data, data that is JSON is shown as compact JSON, other UTF-8 text as it is (quoted with escapes when it holds control characters or line breaks), binary data as base64. In -o json lines, "data" is the text (a string) and, when it parses as JSON, "json" the parsed value; binary data is "dataBase64".

A path that does not exist yet is watched all the same (a line on stderr says so): its creation is the first event.

Uses a persistent watch (persistent recursive with -r; ZooKeeper 3.6+), so no change is lost between re-arms. With -r, children changes show as created/deleted of the descendants. On an older server it falls back to one-shot watches re-armed after each event (and says so on stderr); quick successive changes may then be coalesced.

When the connection is lost (a member dies), zkctl says so on stderr (and, with -o json, as "disconnected"/"reconnected"/"session-expired" lines), reconnects to another member, re-registers the watch, then re-reads the watched nodes: what changed meanwhile is reported as events with "resync": true, and the "reconnected" line tells whether anything could have been missed ("missed": "none" | "net-only" | "unknown").

--exec CMD runs CMD with sh -c for each event, one at a time, in order, with ZKCTL_WATCH_EVENT, ZKCTL_WATCH_PATH, ZKCTL_WATCH_ZXID, ZKCTL_WATCH_VERSION, ZKCTL_WATCH_TIME and (with --data, for UTF-8 data without NUL bytes) ZKCTL_WATCH_DATA in its environment (no ZKCTL_* credential: ZKCTL_AUTH and any ZKCTL_* naming AUTH, PASS, SECRET, TOKEN, CRED, KEY, SASL or JAAS are not passed on, as for every command zkctl starts); the data also comes on its stdin. Its output goes to zkctl's stdout/stderr; a failing CMD is reported on stderr and the stream goes on.

Ends after --count events or --for a duration (exit 0), or on Ctrl-C (exit 130).`;
  static override examples = [
    '<%= config.bin %> <%= command.id %> /app/config --data',
    '<%= config.bin %> <%= command.id %> /services -r -o json',
    "<%= config.bin %> <%= command.id %> /app/config --exec 'systemctl reload app' ",
    '<%= config.bin %> <%= command.id %> /jobs --children --count 1 --for 30s',
  ];
  static override args = { path: Args.string({ required: true, description: 'znode path to watch' }) };
  static override flags = {
    recursive: Flags.boolean({ char: 'r', summary: 'Watch every descendant too (persistent recursive watch).' }),
    children: Flags.boolean({ summary: 'Show the children list with children-changed events (added/removed are always shown).' }),
    data: Flags.boolean({ summary: 'Show the new data with created and data-changed events.' }),
    exec: Flags.string({ summary: 'Run this shell command for each event (sh -c), one at a time, in order.' }),
    count: Flags.integer({ summary: 'Stop after this many events (exit 0).', min: 1 }),
    for: Flags.string({ summary: 'Stop after this long (e.g. 30s, 5m; exit 0).' }),
    'one-shot': Flags.boolean({ summary: 'Use re-armed one-shot watches even when the server has persistent watches.' }),
  };

  async run(): Promise<WatchResult | undefined> {
    const path = validatePath(this.args.path);
    const forMs = this.flags.for !== undefined ? parseDuration(this.flags.for, '--for') : undefined;
    const json = this.outputFormat === 'json';
    const color = this.printer.color;
    const session = await this.session({ renew: true });

    let count = 0;
    let finish!: (reason: WatchResult['reason']) => void;
    const ended = new Promise<WatchResult['reason']>((resolve) => (finish = resolve));
    let child: ReturnType<typeof spawn> | undefined;

    const onEvent = async (e: ZnodeEvent): Promise<void> => {
      if (this.flags.count !== undefined && count >= this.flags.count) return;
      count++;
      const obj = eventJson(e, !!this.flags.children);
      this.printer.event(obj, this.eventText(e, color));
      if (this.flags.exec) await this.runExec(this.flags.exec, e, (c) => (child = c));
      if (this.flags.count !== undefined && count >= this.flags.count) finish('count');
    };
    const onNotice = (n: WatchNotice): void => {
      process.stderr.write(`zkctl: watch ${path}: ${noticeText(n)}\n`);
      if (json) this.printer.event(noticeJson(n), '');
    };

    const onSignal = (): void => finish('interrupted');
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    const timer = forMs !== undefined ? setTimer(() => finish('for'), forMs) : undefined;
    let watch: ZnodeWatch | undefined;
    this.onCleanup(async () => {
      process.removeListener('SIGINT', onSignal);
      process.removeListener('SIGTERM', onSignal);
      timer?.clear();
      await watch?.stop();
    });

    watch = await watchZnode(session, path, {
      recursive: this.flags.recursive,
      data: this.flags.data,
      mechanism: this.flags['one-shot'] ? 'one-shot' : 'auto',
      onEvent,
      onNotice,
    });
    if (watch.fellBack) {
      process.stderr.write(
        `zkctl: watch ${path}: the server has no persistent watches (ZooKeeper < 3.6): using one-shot watches re-armed after each event; changes in quick succession may be coalesced\n`,
      );
    }
    // A failed look (connection trouble) says nothing: the watch itself reports the connection.
    const st = await session.exists(path).catch(() => 'unknown' as const);
    if (st === null) process.stderr.write(`zkctl: watch ${path}: ${path} does not exist yet; waiting for it to be created\n`);
    this.progress(`watching ${path}${this.flags.recursive ? ' and its descendants' : ''} (${watch.mechanism} watch); Ctrl-C to stop`);

    // A failed stream (the session gone for good, a broken pipe) ends the command with its error.
    const reason = await Promise.race([ended, watch.done.then(() => new Promise<never>(() => undefined))]);
    await watch.stop();
    if (reason === 'interrupted' && child && child.exitCode === null) await stopChild(child);
    if (reason === 'interrupted') process.exitCode = 130;
    const result: WatchResult = { path, mechanism: watch.mechanism, recursive: !!this.flags.recursive, events: count, reason };
    return this.jsonEnabled() ? undefined : result;
  }

  private eventText(e: ZnodeEvent, color: boolean): string {
    const type = e.type.padEnd(16);
    const parts = [e.time.toISOString(), color ? typeColor(e.type)(type) : type, e.path];
    if (e.zxid !== undefined) parts.push(`zxid=${zxidHex(e.zxid)}`);
    if (e.version !== undefined) parts.push(`version=${e.version}`);
    if (e.added?.length) parts.push(`added=${e.added.join(',')}`);
    if (e.removed?.length) parts.push(`removed=${e.removed.join(',')}`);
    if (this.flags.children && e.children) parts.push(`children=${e.children.join(',')}`);
    if (e.data) parts.push(`data=${dataText(e.data)}`);
    if (e.resync) parts.push(color ? chalk.yellow('(resync)') : '(resync)');
    return parts.join(' ');
  }

  /** Run CMD for one event and wait for it. */
  private runExec(cmd: string, e: ZnodeEvent, track: (c: ReturnType<typeof spawn>) => void): Promise<void> {
    const env = childEnv(); // no ZKCTL_* credentials (one policy for every child, see core/proc.ts)
    env.ZKCTL_WATCH_EVENT = e.type;
    env.ZKCTL_WATCH_PATH = e.path;
    env.ZKCTL_WATCH_ZXID = zxidHex(e.zxid) ?? '';
    env.ZKCTL_WATCH_VERSION = e.version !== undefined ? String(e.version) : '';
    env.ZKCTL_WATCH_TIME = e.time.toISOString();
    if (e.resync) env.ZKCTL_WATCH_RESYNC = '1';
    if (e.data) {
      const t = utf8(e.data);
      if (t !== undefined && !t.includes('\0')) env.ZKCTL_WATCH_DATA = t;
    }
    return new Promise<void>((resolve) => {
      const c = spawn('sh', ['-c', cmd], { stdio: ['pipe', 'inherit', 'inherit'], env });
      track(c);
      c.stdin?.on('error', () => undefined);
      c.stdin?.end(e.data ?? Buffer.alloc(0));
      c.on('error', (err) => {
        process.stderr.write(`zkctl: watch: --exec: ${err.message}\n`);
        resolve();
      });
      c.on('close', (code, signal) => {
        if (code !== 0) process.stderr.write(`zkctl: watch: --exec for ${e.type} ${e.path} ${signal ? `was killed by ${signal}` : `exited with ${code}`}\n`);
        resolve();
      });
    });
  }
}

function typeColor(t: ZnodeEvent['type']): (s: string) => string {
  switch (t) {
    case 'created':
      return chalk.green;
    case 'deleted':
      return chalk.red;
    case 'data-changed':
      return chalk.cyan;
    default:
      return chalk.magenta;
  }
}

/** Ask a running --exec child to stop (it usually got the terminal's SIGINT too), then force it. */
async function stopChild(c: ReturnType<typeof spawn>): Promise<void> {
  const exited = new Promise<void>((r) => c.once('close', () => r()));
  c.kill('SIGTERM');
  const t = setTimeout(() => c.kill('SIGKILL'), 2000);
  await exited;
  clearTimeout(t);
}
