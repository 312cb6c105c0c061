/**
 * Shell completion: znode path candidates for a prefix, and the bash / zsh
 * scripts that ask for them (`zkctl __complete-path PREFIX`).
 */
import type { Session } from './session.js';

/** Full paths of the children of PREFIX's parent whose names start with PREFIX's last segment. */
export async function completePath(session: Session, prefix: string, limit = 500): Promise<string[]> {
  if (!prefix.startsWith('/')) return [];
  const i = prefix.lastIndexOf('/');
  const parent = i === 0 ? '/' : prefix.slice(0, i);
  const partial = prefix.slice(i + 1);
  const { children } = await session.getChildren(parent);
  const base = parent === '/' ? '' : parent;
  return children
    .filter((c) => c.startsWith(partial))
    .sort()
    .slice(0, limit)
    .map((c) => `${base}/${c}`);
}

/** Top-level words and each topic's subcommands, from oclif command ids ("config:publish"). */
export function commandTree(ids: readonly string[]): { top: string[]; subs: Record<string, string[]> } {
  const top = new Set<string>();
  const subs: Record<string, Set<string>> = {};
  for (const id of ids) {
    if (id.startsWith('_')) continue;
    const [first, second] = id.split(':');
    top.add(first!);
    if (second) (subs[first!] ??= new Set()).add(second);
  }
  return { top: [...top].sort(), subs: Object.fromEntries(Object.entries(subs).map(([k, v]) => [k, [...v].sort()])) };
}

const CONN_FLAGS = '-s|--server|--context|--auth';

export function bashScript(bin: string, ids: readonly string[]): string {
  const { top, subs } = commandTree(ids);
  const cases = Object.entries(subs)
    .map(([t, s]) => `      ${t}) COMPREPLY=( $(compgen -W "${s.join(' ')}" -- "$cur") ) ;;`)
    .join('\n');
  return `# ${bin} completion for bash: commands, topics' subcommands and znode paths.
# Load it with: source <(${bin} completion bash)   (or save it under /etc/bash_completion.d/)
_${bin}_complete() {
  local cur="\${COMP_WORDS[COMP_CWORD]}"
  if [[ "$cur" == /* ]]; then
    local -a conn=()
    local i
    for ((i = 1; i < COMP_CWORD; i++)); do
      case "\${COMP_WORDS[i]}" in
        ${CONN_FLAGS}) conn+=("\${COMP_WORDS[i]}" "\${COMP_WORDS[i+1]}") ;;
      esac
    done
    local IFS=$'\\n'
    COMPREPLY=( $(${bin} __complete-path "\${conn[@]}" -- "$cur" 2>/dev/null) )
    compopt -o nospace 2>/dev/null
    return 0
  fi
  if [[ $COMP_CWORD -eq 1 ]]; then
    COMPREPLY=( $(compgen -W "${top.join(' ')}" -- "$cur") )
  elif [[ $COMP_CWORD -eq 2 ]]; then
    case "\${COMP_WORDS[1]}" in
${cases}
    esac
  fi
  return 0
}
complete -F _${bin}_complete ${bin}
`;
}

export function zshScript(bin: string, ids: readonly string[]): string {
  const { top, subs } = commandTree(ids);
  const cases = Object.entries(subs)
    .map(([t, s]) => `      ${t}) compadd -- ${s.join(' ')} ;;`)
    .join('\n');
  return `#compdef ${bin}
# ${bin} completion for zsh: commands, topics' subcommands and znode paths.
# Load it with: source <(${bin} completion zsh)   (after compinit)
_${bin}() {
  local cur=\${words[CURRENT]}
  if [[ $cur == /* ]]; then
    local -a conn paths
    local i
    for ((i = 2; i < CURRENT; i++)); do
      case \${words[i]} in
        ${CONN_FLAGS}) conn+=(\${words[i]} \${words[i+1]}) ;;
      esac
    done
    paths=(\${(f)"$(${bin} __complete-path $conn -- $cur 2>/dev/null)"})
    compadd -S '' -- $paths
  elif (( CURRENT == 2 )); then
    compadd -- ${top.join(' ')}
  elif (( CURRENT == 3 )); then
    case \${words[2]} in
${cases}
    esac
  fi
}
compdef _${bin} ${bin}
`;
}
