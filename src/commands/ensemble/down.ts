import { Flags } from '@oclif/core';
import { BaseCommand } from '../../cli/base.js';
import { updateConfig } from '../../cli/context.js';
import { parseDuration } from '../../core/duration.js';
import { BrokenEnsembleError, salvage, type LocalEnsemble } from '../../ensemble/index.js';
import { targetEnsemble, targetFlags } from './status.js';

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
}

export default class EnsembleDown extends BaseCommand<typeof EnsembleDown> {
  static override summary = 'Stop every member of a local ensemble; --purge also deletes its data and directory.';
  static override description = `Members get SIGTERM (SIGKILL after --grace), in parallel: every process running a member's configuration (found by its pid file, else by its command line, so also one whose pid file was lost), with its process group (reaching the JVM under a \`java\` wrapper script); a member counts as stopped once its ports are released. An ensemble whose ensemble.json is unreadable is still stopped (members found from their files). Without --purge the data stays and \`ensemble up\` starts the same ensemble again; with --purge the directory (data, logs, secret) is removed, and so are contexts that pointed at it.`;
  static override examples = ['<%= config.bin %> <%= command.id %>', '<%= config.bin %> <%= command.id %> --purge', '<%= config.bin %> <%= command.id %> --name dev --purge -o json'];
  static override flags = {
    ...targetFlags,
    purge: Flags.boolean({ summary: 'Also remove the ensemble directory (data, logs, super secret) and its context.' }),
    grace: Flags.string({ summary: 'How long to wait for each member to exit after SIGTERM before SIGKILL.', default: '15s' }),
  };

  async run(): Promise<DownOutput> {
    let e: LocalEnsemble;
    try {
      e = targetEnsemble(this.flags, this.connection);
    } catch (err) {
      if (!(err instanceof BrokenEnsembleError)) throw err;
      // ensemble.json is unreadable: stop what its member files identify (pid files, command lines).
      e = salvage(err.dir);
      process.stderr.write(`zkctl: warning: ${err.message}; stopping the members found from its member files\n`);
    }
    const r = await e.down({ purge: this.flags.purge, timeoutMs: parseDuration(this.flags.grace, '--grace', { zero: true }) });
    const removedContexts: string[] = [];
    if (r.purged) {
      updateConfig((cfg) => {
        for (const [name, ctx] of Object.entries(cfg.contexts)) {
          if (ctx && typeof ctx === 'object' && ctx['ensemble-dir'] === e.dir) {
            delete cfg.contexts[name];
            removedContexts.push(name);
            if (cfg['current-context'] === name) delete cfg['current-context'];
          }
        }
      });
    }
    const out: DownOutput = { name: e.name, dir: e.dir, stopped: r.stopped, purged: r.purged, ...(r.resolvedDir ? { resolvedDir: r.resolvedDir } : {}), removedContexts };
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
