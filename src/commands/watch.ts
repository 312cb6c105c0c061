import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../cli/base.js';
import { countFlag, forFlag, parseFor, Stream } from '../cli/stream.js';
import { validatePath } from '../core/paths.js';
import { eventJson, followZnode, noticeJson, noticeText, type WatchResult } from '../core/recipes/watch-stream.js';
import { loadChalk } from '../output/color.js';
import { watchEventText } from '../output/watch.js';

export type { WatchResult };

export default class Watch extends BaseCommand<typeof Watch> {
  static override summary = 'Stream the changes of a znode (or a subtree): created, deleted, data changed, children changed.';
  static override description = `One line per event: time, event, path, zxid and version (read just after the event), with --data the new data, with --children the children list. -o json prints one JSON object per line; its version is named as in 'stat -o json': dataVersion (created, data-changed) or cversion (children-changed).

With --data, data that is JSON is shown as compact JSON, other UTF-8 text as it is (quoted with escapes when it holds control characters or line breaks), binary data as base64. In -o json lines, "data" is the text (a string) and, when it parses as JSON, "json" the parsed value; binary data is "dataBase64".

A path that does not exist yet is watched all the same (a line on stderr says so): its creation is the first event.

Uses a persistent watch (persistent recursive with -r; ZooKeeper 3.6+), so no change is lost between re-arms. With -r, children changes show as created/deleted of the descendants. On an older server it falls back to one-shot watches re-armed after each event (and says so on stderr); quick successive changes may then be coalesced.

When the connection is lost (a member dies), zkctl says so on stderr (and, with -o json, as "disconnected"/"reconnected"/"session-expired" lines), reconnects to another member, re-registers the watch, then re-reads the watched nodes: what changed meanwhile is reported as events with "resync": true, and the "reconnected" line tells whether anything could have been missed ("missed": "none" | "net-only" | "unknown").

--exec CMD runs CMD with sh -c for each event, one at a time, in order, with ZKCTL_WATCH_EVENT, ZKCTL_WATCH_PATH, ZKCTL_WATCH_ZXID, ZKCTL_WATCH_VERSION, ZKCTL_WATCH_TIME and (with --data, for UTF-8 data without NUL bytes) ZKCTL_WATCH_DATA in its environment (no ZKCTL_* credential: ZKCTL_AUTH and any ZKCTL_* naming AUTH, PASS, SECRET, TOKEN, CRED, KEY, SASL or JAAS are not passed on, as for every command zkctl starts); the data also comes on its stdin. Its output goes to zkctl's stdout/stderr; a failing CMD is reported on stderr and the stream goes on. CMD runs in its own process group: when the watch ends while CMD runs (Ctrl-C, SIGTERM, --for), CMD and every process it started get SIGTERM, then SIGKILL 2 s later.

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
    count: countFlag('Stop after this many events (exit 0).'),
    for: forFlag('Stop after this long (e.g. 30s, 5m; exit 0).'),
    'one-shot': Flags.boolean({ summary: 'Use re-armed one-shot watches even when the server has persistent watches.' }),
  };

  async run(): Promise<WatchResult | undefined> {
    const path = validatePath(this.args.path);
    const forMs = parseFor(this.flags.for);
    const json = this.outputFormat === 'json';
    const color = this.printer.color;
    if (color) await loadChalk();
    const session = await this.session({ renew: true });
    const stream = new Stream({ count: this.flags.count, forMs });
    this.onCleanup(() => stream.dispose());
    const result = await followZnode(session, path, {
      recursive: this.flags.recursive,
      data: this.flags.data,
      oneShot: this.flags['one-shot'],
      exec: this.flags.exec,
      stream,
      onEvent: (e) => this.printer.event(eventJson(e, !!this.flags.children), watchEventText(e, { color, children: this.flags.children })),
      onNotice: (n) => {
        process.stderr.write(`zkctl: watch ${path}: ${noticeText(n)}\n`);
        if (json) this.printer.event(noticeJson(n), '');
      },
      onNote: (m) => process.stderr.write(`zkctl: watch ${path}: ${m}\n`),
      onHookFailed: (m) => process.stderr.write(`zkctl: watch: ${m}\n`),
      onStart: (mechanism) => this.progress(`watching ${path}${this.flags.recursive ? ' and its descendants' : ''} (${mechanism} watch); Ctrl-C to stop`),
    });
    stream.finish();
    return this.jsonEnabled() ? undefined : result;
  }
}
