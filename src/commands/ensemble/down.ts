import { Flags } from '@oclif/core';
import { BaseCommand } from '../../cli/base.js';
import { updateConfig } from '../../cli/context.js';
import { parseDuration } from '../../core/duration.js';
import { targetEnsemble, targetFlags } from './status.js';

export interface DownOutput {
  name: string;
  dir: string;
  /** Members that were running and were stopped. */
  stopped: number[];
  purged: boolean;
  /** Contexts removed with --purge (they pointed at the removed ensemble). */
  removedContexts: string[];
}

export default class EnsembleDown extends BaseCommand<typeof EnsembleDown> {
  static override summary = 'Stop every member of a local ensemble; --purge also deletes its data and directory.';
  static override description = `Members get SIGTERM (SIGKILL after --grace), in parallel. Without --purge the data stays and \`ensemble up\` starts the same ensemble again; with --purge the directory (data, logs, secret) is removed, and so are contexts that pointed at it.`;
  static override examples = ['<%= config.bin %> <%= command.id %>', '<%= config.bin %> <%= command.id %> --purge', '<%= config.bin %> <%= command.id %> --name dev --purge -o json'];
  static override flags = {
    ...targetFlags,
    purge: Flags.boolean({ summary: 'Also remove the ensemble directory (data, logs, super secret) and its context.' }),
    grace: Flags.string({ summary: 'How long to wait for each member to exit after SIGTERM before SIGKILL.', default: '15s' }),
  };

  async run(): Promise<DownOutput> {
    const e = targetEnsemble(this.flags, this.connection);
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
    const out: DownOutput = { name: e.name, dir: e.dir, stopped: r.stopped, purged: r.purged, removedContexts };
    if (!this.jsonEnabled()) {
      this.printer.object(out as unknown as Record<string, unknown>, {
        fields: [
          ['name', out.name],
          ['stopped', out.stopped.length > 0 ? out.stopped.join(',') : 'none (nothing was running)'],
          ['dir', out.purged ? `${out.dir} (removed)` : out.dir],
          ...(removedContexts.length > 0 ? ([['contexts removed', removedContexts.join(',')]] as Array<[string, unknown]>) : []),
        ],
      });
    }
    return out;
  }
}
