import { join } from 'node:path';
import { Flags } from '@oclif/core';
import { BaseCommand } from '../cli/base.js';
import { stateDir } from '../cli/context.js';
import { checkPath } from '../cli/znode.js';
import { formatHostPort, parseConnectString } from '../core/connect-string.js';
import { parseDuration } from '../core/duration.js';
import { UsageError } from '../core/errors.js';
import { pagerCommand } from '../core/pager.js';
import { runShell } from '../cli/shell/index.js';

/** $XDG_STATE_HOME/zkctl/shell_history (default ~/.local/state/zkctl/shell_history). */
export function historyPath(env: NodeJS.ProcessEnv = process.env): string {
  return join(stateDir(env), 'shell_history');
}

/** "h1:2181,h2:2181,h3:2181/app" -> "h1:2181,…/app" for the prompt. */
function shortServer(server: string): string {
  const { servers, chroot } = parseConnectString(server);
  return `${formatHostPort(servers[0]!)}${servers.length > 1 ? ',…' : ''}${chroot}`;
}

export default class Shell extends BaseCommand<typeof Shell> {
  static override summary = 'Interactive shell: cd, ls, get, stat, create, set, rm, tree, find, ACLs, with Tab completion and history.';
  static override description = `One session for a whole debugging session. Paths may be relative to the current node (cd, pwd; . and .. work). Commands: help, cd, pwd, ls [-l], get [-x|-b|-j], stat, create [-e|-c|-t TTL] [-S] [-p], set [-v], edit [--force] (as zkctl edit: the editor gets the terminal), rm [-r] [-v], tree [-d], find [-name GLOB] [-e], count, du, ephemerals, getacl, setacl, addauth SCHEME AUTH, whoami, sync, watch [-r] [--data] [--children] [--count N] [--for D] PATH (until Ctrl-C, which returns to the prompt), exit (zkCli habits work too: quit, delete, deleteall, ll, create -s). ls -l, stat, tree, du, ephemerals and whoami print what the one-shot commands print. Quote words with ' or ". CMD | SHELL-COMMAND sends a command's output to a shell command (run by /bin/sh), e.g. ls -l | grep lock.

On a terminal: Tab completes command names and child names (one getChildren per Tab), Up/Down walk the history, kept in $XDG_STATE_HOME/zkctl/shell_history (default ~/.local/state/zkctl/shell_history, mode 0600, last 1000 lines). Ctrl-C stops the running command at once, even one waiting for a lost quorum ("interrupted"; or clears the line); Ctrl-Z suspends the shell (fg resumes it); Ctrl-D or exit leaves. Output longer than the screen goes through $ZKCTL_PAGER, else $PAGER, else less -FRX (--no-pager, or an empty ZKCTL_PAGER / PAGER, turns that off). Tab asks before listing more than 100 candidates. Lines with credentials (addauth, digest:..., digest-password:...) are never written to the history. Colours (prompt, errors, notes) on a colour terminal; NO_COLOR or --no-color turns them off.

The connection is shown: a line above the prompt when it is lost, comes back, or the session expires, and the prompt starts with [disconnected] while there is none ([read-only] on a read-only member). An expired session is replaced by a new one (ephemeral nodes created in the shell are then gone: a note says so).

Not on a terminal (commands piped in): no prompt and no history; each line is run in turn, errors go to stderr, and the exit status is that of the last command (like sh), or of the first failing one with --errexit.`;
  static override examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> --cd /app',
    "printf 'cd /app\\nls -l\\nget config\\n' | <%= config.bin %> <%= command.id %>",
  ];
  static override flags = {
    cd: Flags.string({ summary: 'Start in this node.', helpValue: 'PATH' }),
    errexit: Flags.boolean({ char: 'e', summary: 'Stop at the first failing command (and exit with its status).' }),
    'no-history': Flags.boolean({ summary: 'Neither read nor write the history file.' }),
    'session-timeout': Flags.string({ summary: 'Session timeout to ask the server for (it may grant less or more).', default: '30s', helpValue: 'DURATION' }),
    'no-pager': Flags.boolean({ summary: 'Never page long output (also: ZKCTL_PAGER= or PAGER=).' }),
  };

  async run(): Promise<void> {
    const cwd = this.flags.cd ? checkPath(this.flags.cd) : '/';
    const sessionTimeoutMs = parseDuration(this.flags['session-timeout'], '--session-timeout');
    if (sessionTimeoutMs <= 0) throw new UsageError('--session-timeout must be positive', 'e.g. --session-timeout 30s');
    const session = await this.session({ renew: true, sessionTimeoutMs });
    if (!(await session.exists(cwd))) throw await session.noNode(cwd);
    const interactive = !!process.stdin.isTTY && !!process.stdout.isTTY;
    const c = this.connection;
    const status = await runShell({
      session,
      input: process.stdin,
      output: process.stdout,
      errorOutput: process.stderr,
      interactive,
      historyFile: this.flags['no-history'] ? undefined : historyPath(),
      cwd,
      label: interactive ? `zk:${c.context ?? shortServer(c.server)}` : undefined,
      stopOnError: this.flags.errexit,
      format: process.stdout.isTTY ? 'table' : 'plain',
      color: this.colorEnabled,
      promptColor: this.colorEnabled && !!process.stderr.isTTY,
      pager: interactive ? pagerCommand({ isTTY: true, noPager: this.flags['no-pager'] }) : undefined,
    });
    if (status !== 0) process.exitCode = status;
  }
}
