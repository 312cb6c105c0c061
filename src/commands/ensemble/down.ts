import { Flags } from '@oclif/core';
import { BaseCommand } from '../../cli/base.js';
import { updateConfig } from '../../cli/context.js';
import { parseDuration } from '../../core/duration.js';
import { BrokenEnsembleError, NoEnsembleError, salvage, type LocalEnsemble } from '../../ensemble/index.js';
import { targetEnsemble, targetFlags } from '../../cli/ensemble.js';

export interface DownOutput {
  name: string;
  dir: string;
  /** Members that were running and were stopped. */
  stopped: number[];
  purged: boolean;
  /** With --purge through a symlink: the directory it pointed at (removed too, with the link). */
  resolvedDir?: string;
  /** Contexts removed with --purge (they pointed at the removed ensemble). */
  removedContexts: string[];
  /** With --purge, when the current context was removed: null (no current context now). */
  currentContext?: string | null;
}

/** `down --if-exists` of an ensemble that does not exist. */
export interface DownNothing {
  exists: false;
  message: string;
}

export default class EnsembleDown extends BaseCommand<typeof EnsembleDown> {
  static override summary = 'Stop every member of a local ensemble; --purge also deletes its data and directory.';
  static override description = `Members get SIGTERM (SIGKILL after --grace), in parallel: every process running a member's configuration (found by its pid file, else by its command line, so also one whose pid file was lost), with its process group (reaching the JVM under a \`java\` wrapper script); a member counts as stopped once its ports are released. An ensemble whose ensemble.json is unreadable is still stopped (members found from their files). Without --purge the data stays and \`ensemble up\` starts the same ensemble again; with --purge the directory (data, logs, secret) is removed, and so are contexts that pointed at it; when that removes the current context, a line on stderr says there is no current context now (and "currentContext": null in JSON).

Which ensemble: --name/--dir, else the current context's local ensemble, else "local". A missing ensemble is exit 2; with --if-exists it is exit 0 with one line on stderr (for traps: \`trap 'zkctl ensemble down --name ci --purge --if-exists' EXIT\`).`;
  static override examples = ['<%= config.bin %> <%= command.id %>', '<%= config.bin %> <%= command.id %> --purge', '<%= config.bin %> <%= command.id %> --name dev --purge -o json', '<%= config.bin %> <%= command.id %> --name ci --purge --if-exists'];
  static override flags = {
    ...targetFlags,
    purge: Flags.boolean({ summary: 'Also remove the ensemble directory (data, logs, super secret) and its context.' }),
    'if-exists': Flags.boolean({ summary: 'No such ensemble is not an error: exit 0, with one line on stderr.' }),
    grace: Flags.string({ summary: 'How long to wait for each member to exit after SIGTERM before SIGKILL.', default: '15s' }),
  };

  async run(): Promise<DownOutput | DownNothing> {
    let e: LocalEnsemble;
    try {
      e = targetEnsemble(this.flags, () => this.connection);
    } catch (err) {
      if (err instanceof NoEnsembleError && this.flags['if-exists']) {
        process.stderr.write(`zkctl: nothing to stop: ${err.message}\n`);
        const none: DownNothing = { exists: false, message: err.message };
        if (!this.jsonEnabled() && (this.outputFormat === 'json' || this.outputFormat === 'yaml')) this.printer.object(none as unknown as Record<string, unknown>);
        return none;
      }
      if (!(err instanceof BrokenEnsembleError)) throw err;
      // ensemble.json is unreadable: stop what its member files identify (pid files, command lines).
      e = salvage(err.dir);
      process.stderr.write(`zkctl: warning: ${err.message}; stopping the members found from its member files\n`);
    }
    const r = await e.down({ purge: this.flags.purge, timeoutMs: parseDuration(this.flags.grace, '--grace', { zero: true }) });
    const removedContexts: string[] = [];
    let removedCurrent: string | undefined;
    if (r.purged) {
      updateConfig((cfg) => {
        for (const [name, ctx] of Object.entries(cfg.contexts)) {
          if (ctx && typeof ctx === 'object' && ctx['ensemble-dir'] === e.dir) {
            delete cfg.contexts[name];
            removedContexts.push(name);
            if (cfg['current-context'] === name) {
              delete cfg['current-context'];
              removedCurrent = name;
            }
          }
        }
      });
    }
    const out: DownOutput = { name: e.name, dir: e.dir, stopped: r.stopped, purged: r.purged, ...(r.resolvedDir ? { resolvedDir: r.resolvedDir } : {}), removedContexts };
    if (removedCurrent !== undefined) {
      // What is current afterwards: nothing (commands would otherwise fall back to 127.0.0.1:2181 unannounced).
      out.currentContext = null;
      process.stderr.write(`zkctl: context '${removedCurrent}' was current and is removed with the ensemble: no current context; run zkctl context use NAME (zkctl context ls)\n`);
    }
    if (!this.jsonEnabled()) {
      this.printer.object(out as unknown as Record<string, unknown>, {
        fields: [
          ['name', out.name],
          ['stopped', out.stopped.length > 0 ? out.stopped.join(',') : 'none (nothing was running)'],
          ['dir', out.purged ? `${out.dir}${out.resolvedDir ? ` -> ${out.resolvedDir}` : ''} (removed)` : out.dir],
          ...(removedContexts.length > 0 ? ([['contexts removed', removedContexts.join(',')]] as Array<[string, unknown]>) : []),
        ],
      });
    }
    return out;
  }
}
