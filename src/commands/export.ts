import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../cli/base.js';
import { boundHeapGrowth, checkPath, interruptSignal, windowFlag } from '../cli/znode.js';
import { type BackupFormat, type ExportSummary, exportTree, formatFromFileName } from '../core/backup.js';
import { type FileSink, openFileSink, resolveWriteTarget } from '../core/file-write.js';
import { writeOut } from '../output/stdio.js';

export interface ExportResult extends ExportSummary {
  file?: string;
}

export default class Export extends BaseCommand<typeof Export> {
  static override summary = 'Back up a subtree to a file: data (binary-safe), ACLs and node types.';
  static override description = `Writes a zkctl-backup file to --file, or to stdout (\`> file\` works too). The format is YAML unless --format json, a .json file name, or (to stdout) -o json / --json ask for JSON. (-f/--file names the file because -o is the global output format.) Restore it with \`zkctl import FILE PATH\`.

What is kept: every node's data byte for byte (UTF-8 text as "data", anything else as "base64"), its ACL, and whether it is ephemeral. Ephemeral nodes are listed (with the owning session) but import never re-creates them. Container and TTL nodes are exported as persistent: ZooKeeper does not tell clients a node is one (their stat says ephemeralOwner 0); the file format can name them (type: container / type: ttl with ttl: MS) and import creates them so. Not kept: stat fields (versions, zxids, times, so parents' sequence counters restart on import) and the difference between null and empty data. Exporting / leaves the server's own /zookeeper subtree out.

The file lists nodes parents first (depth-first, children sorted by name) and ends with their count, so a truncated file is refused on import. The export streams: nodes are fetched with pipelined requests (--window) and written as they come, never holding the whole tree in memory. It is not a point-in-time snapshot: nodes changed during the export are read as they are when reached.

Reading a node's data and ACL needs READ permission, and ZooKeeper shows digest ACLs in full only with ADMIN permission: a node that cannot be read completely fails the export (exit 7) rather than giving a backup that would not restore it (see --allow-redacted). Authenticate with --auth as needed (digest:super:... reads everything).

File format (version 1), YAML or JSON with the same fields: format: zkctl-backup, version: 1, root (informational), then nodes, a list, parents first, of {path: relative to the root ("." is the root itself, then "a", "a/b"), type: persistent | ephemeral | container | ttl (with ttl: MS), acl: [scheme:id:perms, ...], data: UTF-8 text, or base64: any bytes (neither: empty data)}, and last count: the number of nodes.

With --file a regular file is written under a temporary name (FILE.partial-PID, mode 0600) and renamed over FILE when complete, so FILE is never half-written; a symbolic link is followed and its target replaced; a character device or FIFO (/dev/stdout, a named pipe) is written in place, never replaced; a directory is refused (exit 2). A write error (a full disk: ENOSPC) ends the export with exit 1 naming the file, and the partial file is removed. A summary goes to stdout. Progress goes to stderr on a terminal.`;
  static override examples = [
    '<%= config.bin %> <%= command.id %> /app --file app.yaml',
    '<%= config.bin %> <%= command.id %> /app -f app.json',
    '<%= config.bin %> <%= command.id %> /app > app.yaml',
    '<%= config.bin %> <%= command.id %> / --format json | gzip > full.json.gz',
  ];
  static override args = { path: Args.string({ required: true, description: 'root of the subtree to export' }) };
  static override flags = {
    file: Flags.string({ char: 'f', summary: 'Write the backup to this file (default: stdout).', helpValue: 'FILE' }),
    format: Flags.string({ summary: 'File format (default: from the file name, else yaml).', options: ['yaml', 'json'] }),
    window: windowFlag,
    'allow-redacted': Flags.boolean({
      summary: 'Write digest ACLs the server redacted ("user:x") instead of failing (exit 7).',
      description: 'ZooKeeper 3.6+ shows a digest ACL\'s hash only to sessions with ADMIN permission on the node. Without it the backup cannot restore that ACL.',
    }),
  };

  async run(): Promise<ExportResult | undefined> {
    boundHeapGrowth();
    const root = checkPath(this.args.path);
    const file = this.flags.file === '-' ? undefined : this.flags.file;
    // A directory, a block device or a socket is refused before any work (exit 2); a device or
    // FIFO is written in place, a symlink is followed (core/file-write.ts).
    const target = file ? resolveWriteTarget(file) : undefined;
    let format = this.flags.format as BackupFormat | undefined;
    if (!format && file) format = formatFromFileName(file);
    // To stdout, --json / -o json ask for the JSON flavour.
    if (!format && !file && this.outputFormat === 'json') format = 'json';
    format ??= 'yaml';
    const session = await this.session();
    const intr = interruptSignal();
    this.onCleanup(intr.dispose);

    const tty = !!process.stderr.isTTY;
    let lastProgress = 0;
    const onProgress = (n: number): void => {
      if (!tty) return;
      const now = Date.now();
      if (now - lastProgress < 200) return;
      lastProgress = now;
      process.stderr.write(`\rexporting ${root}: ${n} nodes`);
    };
    const clearProgress = (): void => {
      if (tty && lastProgress > 0) process.stderr.write('\r\x1b[K');
    };

    let sink: FileSink | undefined;
    let write: (s: string) => Promise<void>;
    if (target) {
      const opened = await openFileSink(target, { private: true, signal: intr.signal });
      sink = opened;
      // However the export ends before commit (error, Ctrl-C), no partial file is left.
      this.onCleanup(() => opened.abort());
      write = (s: string) => opened.write(s);
    } else {
      // A reader that goes away (`| head`) cuts the backup short: that is a failure (exit 1), never exit 0.
      write = (s: string) => writeOut(s, { what: 'the backup to stdout', closedIsError: true });
    }

    const sum = await exportTree(session, root, write, { format, window: this.flags.window, source: this.connection.server, signal: intr.signal, onProgress, allowRedacted: this.flags['allow-redacted'] });
    clearProgress();
    if (sink && file) {
      // Backups may hold secrets: the file is 0600 (core/file-write.ts `private`).
      await sink.commit();
      const result: ExportResult = { ...sum, file };
      const extra = [sum.ephemeral && `${sum.ephemeral} ephemeral`, sum.containers && `${sum.containers} container`, sum.ttl && `${sum.ttl} ttl`]
        .filter(Boolean)
        .join(', ');
      this.printer.text(`exported ${sum.nodes} nodes${extra ? ` (${extra})` : ''}, ${sum.bytes} bytes of data, from ${root} to ${file}`, result);
      return result;
    }
    if (tty) process.stderr.write(`exported ${sum.nodes} nodes from ${root}\n`);
    return undefined;
  }
}
