import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../cli/base.js';
import { assertWritable, checkPath, chrootOf, fileFlag, interruptSignal } from '../cli/znode.js';
import { parseAcls } from '../core/acl.js';
import { assertRequestFits, readData } from '../core/data.js';
import { ExitCode, UsageError, ZkctlError } from '../core/errors.js';
import { createKind, createNode } from '../core/nodes.js';
import { OPEN_ACL_UNSAFE, type Session } from '../core/session.js';
import { statJson } from '../output/znode.js';

export interface CreateResult {
  path: string;
  stat: Record<string, unknown>;
}

export default class Create extends BaseCommand<typeof Create> {
  static override summary = 'Create a znode; prints the path created.';
  static override description = `The data comes from the DATA argument (UTF-8), --file, or stdin (DATA "-"); none means empty. A sequential node (-S) gets a 10-digit suffix from the server: the real path is what is printed.

Note: -s is --server, as in every zkctl command; sequential is -S / --sequential.

Node kinds: persistent (default), -e ephemeral (it lives as long as the session, so it is deleted when zkctl exits, which a note on stderr says; --hold keeps it until Ctrl-C), -c container (the server deletes it once its last child is gone), -t TTL (deleted when it has had no children and no change for that long; needs extendedTypesEnabled=true on the server). -p creates missing parents (persistent, empty, open ACL).

ACLs (--acl, repeatable or comma-separated): scheme:id:perms with perms from cdrwa, e.g. world:anyone:r, ip:10.0.0.0/8:cdrwa, digest:user:BASE64SHA1:cdrwa, auth::cdrwa, and digest-password:user:password:cdrwa (the digest is computed locally). Default: world:anyone:cdrwa.

Refused with exit 2 before anything is sent: a bad path, a sequential path ending in /, the /zookeeper subtree, data larger than the server accepts (about 1 MB per request; see ZKCTL_JUTE_MAXBUFFER), a malformed ACL, an unreadable --file.`;
  static override examples = [
    '<%= config.bin %> <%= command.id %> /app/config \'{"pool": 10}\'',
    '<%= config.bin %> <%= command.id %> -p /app/blobs/logo --file logo.png',
    'echo hello | <%= config.bin %> <%= command.id %> /app/greeting -',
    '<%= config.bin %> <%= command.id %> -S /app/queue/item- job-42',
    '<%= config.bin %> <%= command.id %> -e /app/members/me --hold',
    '<%= config.bin %> <%= command.id %> -t 10m /app/leases/x',
    '<%= config.bin %> <%= command.id %> /app/secret s3cr3t --acl digest-password:ops:pw:cdrwa --acl world:anyone:r',
  ];
  static override args = {
    path: Args.string({ required: true, description: 'znode path (with -S: the prefix the server suffixes)' }),
    data: Args.string({ description: 'data (UTF-8); "-" reads stdin' }),
  };
  static override flags = {
    file: fileFlag,
    ephemeral: Flags.boolean({ char: 'e', summary: 'Ephemeral: deleted when the session ends.' }),
    sequential: Flags.boolean({ char: 'S', summary: 'Sequential: the server appends a 10-digit counter.' }),
    container: Flags.boolean({ char: 'c', summary: 'Container: deleted by the server after its last child goes.' }),
    ttl: Flags.string({ char: 't', summary: 'TTL node: deleted after this long without children or changes (e.g. 10m).', helpValue: 'DURATION' }),
    parents: Flags.boolean({ char: 'p', summary: 'Create missing parents (persistent, empty).' }),
    acl: Flags.string({ summary: 'ACL of the new node (repeatable): scheme:id:perms.', multiple: true, multipleNonGreedy: true, helpValue: 'ACL' }),
    hold: Flags.boolean({ summary: 'With -e: keep the session (and the node) until Ctrl-C.', description: 'If the server says the session expired, the node is gone with it: zkctl says so and exits 9. With no reply from any server for a whole session timeout, the session is presumed lost and zkctl exits 9 saying so (the servers may still hold the session and the node until they expire it).' }),
  };

  async run(): Promise<CreateResult> {
    const f = this.flags;
    const path = checkPath(this.args.path, { sequential: f.sequential });
    const server = this.connection.server;
    assertWritable(path, server, 'create');
    const { mode, ttlMs } = createKind(f);
    if (f.hold && !f.ephemeral) throw new UsageError('--hold is for ephemeral nodes (-e)');
    const acl = f.acl ? parseAcls(f.acl) : OPEN_ACL_UNSAFE;
    const data = await readData({ arg: this.args.data, file: f.file });
    const serverPath = `${chrootOf(server)}${path}`;
    assertRequestFits(serverPath, data, acl, mode === 'ttl' ? 8 : 0);

    const session = await this.session();
    const opts = { mode, sequential: f.sequential, acl, ttlMs };
    // With --hold, catch Ctrl-C before the node exists: a script that signals as soon as it
    // sees the node must get a clean exit, not a process killed by the default handler.
    const intr = f.hold ? interruptSignal() : undefined;
    try {
      const created = await createNode(session, path, data, { ...opts, parents: f.parents });
      const result = { path: created.path, stat: statJson(created.stat) };
      if (!this.jsonEnabled()) this.printer.text(created.path, result);
      if (intr) await holdUntilInterrupted(session, intr.signal);
      // A warning, not progress: on stderr in pipes too (a script's `create -e` is the one that needs it).
      else if (mode === 'ephemeral') process.stderr.write(`zkctl: note: ${created.path} is ephemeral: it lives only as long as this command and is deleted as zkctl exits (use --hold to keep it until Ctrl-C)\n`);
      return result;
    } finally {
      intr?.dispose();
    }
  }
}

/** Keep the session open until `signal` aborts (Ctrl-C / SIGTERM), or until the session is lost. */
async function holdUntilInterrupted(session: Session, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return;
  await new Promise<void>((resolve, reject) => {
    signal.addEventListener('abort', () => resolve());
    session.once('lost', () => {
      const l = session.lastLoss;
      // Only a server that said "expired" proves the node is gone; after silence it may still be there.
      reject(new ZkctlError(l && !l.byServer ? session.describeLoss() : 'session expired (the server said so): the ephemeral node is gone', ExitCode.SESSION_EXPIRED));
    });
  });
}
