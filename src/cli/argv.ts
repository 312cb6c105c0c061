/**
 * The one place argv is rewritten before oclif dispatches (run by the launcher, bin/zkctl.js):
 * - `-h` means `--help` everywhere (before `--`);
 * - global flags given before the command (`zkctl -s host:2181 ls /`, `--server`, `-o json`,
 *   `--timeout`, `--context`, `--auth`, `--json`, ...) move to just after the command's name;
 * - zkCli.sh's names work: `delete` (rm), `deleteall`/`rmr` (rm -r), `getAcl`/`setAcl` (acl get/set);
 *   `addauth`, `connect`, `quit` and `close` get a one-line pointer (exit 2);
 * - an unknown command gets one line ("unknown command 'lss'. Did you mean 'ls'?") and exit 2,
 *   instead of oclif's "command lss:/ not found".
 * Pure: the command table is given (see `commandTable`), nothing is printed here.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

export interface CommandTable {
  /** Is this id (words joined by spaces: "ls", "ensemble up") a command? */
  isCommand(id: string): boolean;
  /** Is it a topic ("ensemble", "ensemble drill", "lock")? */
  isTopic(id: string): boolean;
  /** Every command and topic id (for suggestions: only on the error path). */
  all(): string[];
}

/** Commands the oclif plugins add (help, autocomplete). */
const PLUGIN_COMMANDS = new Set(['help', 'autocomplete', 'autocomplete create', 'autocomplete script']);
const PLUGIN_TOPICS = new Set(['autocomplete']);

/** zkCli.sh names that run a zkctl command. */
export const ZKCLI_ALIASES: Record<string, string[]> = {
  delete: ['rm'],
  deleteall: ['rm', '-r'],
  rmr: ['rm', '-r'],
  getAcl: ['acl', 'get'],
  setAcl: ['acl', 'set'],
};

/** zkCli.sh names with no zkctl command: what to use instead. */
export const ZKCLI_POINTERS: Record<string, string> = {
  addauth: "'addauth' is zkCli.sh's; with zkctl give --auth digest:user:password (or ZKCTL_AUTH) to each command, or save it in a context: zkctl context set NAME --auth digest:user:password",
  connect: "'connect' is zkCli.sh's; with zkctl give -s host:port[,host:port...] (or ZKCTL_SERVER) to each command, or save a context: zkctl context set NAME --server host:port",
  quit: "'quit' is zkCli.sh's (each command connects and closes by itself; in 'zkctl shell', type exit)",
  close: "'close' is zkCli.sh's (each command connects and closes by itself)",
};

/** Global flags that take a value, by every spelling. */
const VALUE_FLAGS = new Set(['-s', '--server', '--context', '--timeout', '--auth', '-o', '--output']);
/** Global boolean flags. */
const BOOL_FLAGS = new Set(['--read-only', '--no-color', '--verbose', '--json', '--help']);

/** A table from a list of ids (tests). */
export function tableOf(commands: Iterable<string>, topics: Iterable<string>): CommandTable {
  const c = new Set(commands);
  const t = new Set(topics);
  return { isCommand: (id) => c.has(id), isTopic: (id) => t.has(id), all: () => [...c, ...t] };
}

/**
 * The commands and topics under `dir` (oclif's compiled commands folder), looked up in the file
 * system one id at a time (a start-up costs two or three stat calls; the full walk is for suggestions).
 */
export function commandTable(dir: string): CommandTable {
  const safe = (id: string): boolean => /^[a-z0-9_][a-z0-9_-]*( [a-z0-9_][a-z0-9_-]*)*$/i.test(id);
  const path = (id: string): string => join(dir, ...id.split(' '));
  const isDir = (p: string): boolean => {
    try {
      return statSync(p).isDirectory();
    } catch {
      return false;
    }
  };
  return {
    isCommand: (id) => PLUGIN_COMMANDS.has(id) || (safe(id) && existsSync(`${path(id)}.js`)),
    isTopic: (id) => PLUGIN_TOPICS.has(id) || (safe(id) && isDir(path(id))),
    all: () => {
      const out = [...PLUGIN_COMMANDS, ...PLUGIN_TOPICS];
      const walk = (d: string, prefix: string[]): void => {
        let names: string[];
        try {
          names = readdirSync(d);
        } catch {
          return;
        }
        for (const n of names) {
          if (n.endsWith('.js') && !n.startsWith('index.')) out.push([...prefix, n.slice(0, -3)].join(' '));
          else if (!n.includes('.') && isDir(join(d, n))) {
            out.push([...prefix, n].join(' '));
            walk(join(d, n), [...prefix, n]);
          }
        }
      };
      walk(dir, []);
      return [...new Set(out)];
    },
  };
}

export type ArgvResult = { kind: 'run'; argv: string[] } | { kind: 'error'; message: string; exitCode: number };

/** Edit distance with adjacent transpositions ("sl" for "ls"): optimal string alignment. */
export function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.length][b.length];
}

/** The closest name to `word` among `names`, when close enough to be a typo. */
export function closest(word: string, names: Iterable<string>): string | undefined {
  const w = word.toLowerCase();
  const max = w.length <= 3 ? 1 : 2;
  let best: string | undefined;
  let bestD = Infinity;
  for (const n of names) {
    const d = editDistance(w, n.toLowerCase());
    if (d < bestD || (d === bestD && best !== undefined && n.length < best.length)) {
      best = n;
      bestD = d;
    }
  }
  if (best !== undefined && bestD <= max) return best;
  // a prefix of exactly one name ("ensem" -> "ensemble")
  const pre = [...names].filter((n) => n.startsWith(w));
  return w.length >= 2 && pre.length === 1 ? pre[0] : undefined;
}

/**
 * Rewrite `argv` (process.argv.slice(2)) as described at the top. Empty argv, `--version`, or
 * anything starting with a word that is not a flag or command is left to the error path.
 */
export function rewriteArgv(argv: readonly string[], table: CommandTable): ArgvResult {
  const end = argv.indexOf('--');
  const head = (end >= 0 ? argv.slice(0, end) : argv.slice()).map((a) => (a === '-h' ? '--help' : a));
  const tail = end >= 0 ? argv.slice(end) : [];

  // Leading global flags.
  const hoisted: string[] = [];
  let i = 0;
  while (i < head.length && head[i].startsWith('-')) {
    const a = head[i];
    const eq = a.indexOf('=');
    const name = a.startsWith('--') && eq > 0 ? a.slice(0, eq) : a;
    if (BOOL_FLAGS.has(a)) {
      hoisted.push(a);
      i += 1;
    } else if (VALUE_FLAGS.has(name) && eq > 0) {
      hoisted.push(a);
      i += 1;
    } else if (VALUE_FLAGS.has(a)) {
      if (i + 1 >= head.length) return { kind: 'run', argv: [...head, ...tail] }; // `zkctl -s`: oclif's own message
      hoisted.push(a, head[i + 1]);
      i += 2;
    } else if (/^-[so]./.test(a)) {
      hoisted.push(a); // -ojson, -shost:2181
      i += 1;
    } else {
      // --version, or a flag that is not global, before a command: as typed (oclif answers)
      return { kind: 'run', argv: [...head, ...tail] };
    }
  }
  let rest = head.slice(i);
  if (rest.length === 0) {
    // `zkctl --help`, `zkctl -s x`: as typed (with -h as --help)
    return { kind: 'run', argv: [...hoisted, ...tail] };
  }

  // oclif's own spelling of an id: ensemble:up
  if (rest[0].includes(':') && !rest[0].startsWith('/')) rest = [...rest[0].split(':'), ...rest.slice(1)];
  // zkCli.sh names
  const first = rest[0];
  if (first in ZKCLI_POINTERS) return { kind: 'error', message: ZKCLI_POINTERS[first], exitCode: 2 };
  if (Object.prototype.hasOwnProperty.call(ZKCLI_ALIASES, first)) rest = [...ZKCLI_ALIASES[first], ...rest.slice(1)];

  // The command: the longest run of words that names a command or topic.
  let n = 0;
  let isCommand = false;
  for (let k = 1; k <= rest.length; k++) {
    const w = rest[k - 1];
    if (w.startsWith('-')) break;
    const id = rest.slice(0, k).join(' ');
    if (table.isCommand(id)) {
      n = k;
      isCommand = true;
    } else if (table.isTopic(id)) {
      n = k;
      isCommand = false;
    } else break;
  }
  if (n === 0) {
    return { kind: 'error', message: unknownMessage(rest[0], [...table.all(), ...Object.keys(ZKCLI_ALIASES)].filter((c) => !c.includes(' '))), exitCode: 2 };
  }
  const id = rest.slice(0, n).join(' ');
  if (!isCommand && n < rest.length && !rest[n].startsWith('-')) {
    // a topic followed by a word that is not one of its commands: `ensemble upp`
    const under = table.all().filter((c) => c.startsWith(`${id} `) && !c.slice(id.length + 1).includes(' ')).map((c) => c.slice(id.length + 1));
    return { kind: 'error', message: unknownMessage(`${id} ${rest[n]}`, under.map((u) => `${id} ${u}`), id), exitCode: 2 };
  }
  return { kind: 'run', argv: [...rest.slice(0, n), ...hoisted, ...rest.slice(n), ...tail] };
}

function unknownMessage(word: string, names: string[], topic?: string): string {
  const guess = closest(word, names);
  const help = topic ? `zkctl ${topic} --help` : 'zkctl --help';
  return `unknown command '${word}'${guess ? `. Did you mean '${guess}'?` : ''} (see: ${help})`;
}

/** The launcher's entry: the commands folder next to dist/cli. */
export function rewriteProcessArgv(argv: readonly string[], commandsDir: string): ArgvResult {
  if (argv.length === 0 || !existsSync(commandsDir)) return { kind: 'run', argv: [...argv] };
  return rewriteArgv(argv, commandTable(commandsDir));
}
