import { Args } from '@oclif/core';
import { BaseCommand } from '../cli/base.js';
import { UsageError } from '../core/errors.js';
import { bashScript, zshScript } from '../core/completion.js';

export default class Completion extends BaseCommand<typeof Completion> {
  static override summary = 'Print a bash or zsh completion script (commands and znode paths).';
  static override description = `Completes command names, topics' subcommands, and znode paths: a word starting with / is completed from the children on the server (zkctl get /a<TAB> -> /app), using the -s/--server, --context and --auth given on the line, else the usual connection (ZKCTL_SERVER, the current context). The lookup gives up after 1.5 s and stays silent on errors. No slash is added: type / and TAB again to go deeper (commands refuse a trailing slash).

bash: source <(zkctl completion bash) in ~/.bashrc. zsh: source <(zkctl completion zsh) in ~/.zshrc, after compinit. ('zkctl autocomplete' sets up oclif's completion of commands and flags instead, without paths.)`;
  static override examples = ['source <(<%= config.bin %> <%= command.id %> bash)', '<%= config.bin %> <%= command.id %> zsh > "${fpath[1]}/_zkctl"'];
  static override args = { shell: Args.string({ required: true, description: 'bash or zsh', options: ['bash', 'zsh'] }) };

  async run(): Promise<void> {
    const ids = this.config.commands.filter((c) => !c.hidden).map((c) => c.id);
    const bin = this.config.bin;
    if (this.args.shell === 'bash') process.stdout.write(bashScript(bin, ids));
    else if (this.args.shell === 'zsh') process.stdout.write(zshScript(bin, ids));
    else throw new UsageError(`unknown shell ${this.args.shell}`, 'bash or zsh');
  }
}
