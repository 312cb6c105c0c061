/**
 * The interactive shell's commands. They call the core (session, tree walker,
 * ACL and data helpers), never the oclif commands, and write through `out`.
 */
import { formatAcl, parseAcls } from '../acl.js';
import { kindOf } from '../backup.js';
import { formatData, type DataFormat, isUtf8 } from '../data.js';
import { parseDuration } from '../duration.js';
import { UsageError, ZkCode, ZkError } from '../errors.js';
import { assertNotReserved, baseName, validatePath } from '../paths.js';
import type { Session, Stat } from '../session.js';
import { assertDeletable, deleteTree, walk } from '../tree.js';
import { globRegExp, quoteWord, resolvePath } from './words.js';

export interface ShellContext {
  session: Session;
  cwd: string;
  prevCwd: string;
  /** Write text (a newline is NOT added). */
  out: (s: string) => void;
  /** Notes and warnings (stderr). */
  err: (s: string) => void;
  /** Aborted by Ctrl-C while a command runs. */
  signal: AbortSignal;
}

export interface ShellCommand {
  usage: string;
  summary: string;
  run: (ctx: ShellContext, args: string[]) => Promise<void>;
}

interface Parsed {
  flags: Record<string, string | true>;
  args: string[];
}

/**
 * Options: `bools` are single letters without values, `values` take one
 * (-v 3 or -v3); `long` maps long names (--name) to letters. "--" ends options.
 */
function parseOpts(words: string[], bools: string, values: string, long: Record<string, string> = {}): Parsed {
  const flags: Parsed['flags'] = {};
  const args: string[] = [];
  for (let i = 0; i < words.length; i++) {
    const w = words[i];
    if (w === '--') {
      args.push(...words.slice(i + 1));
      break;
    }
    if (w.startsWith('--') || (w.startsWith('-') && w.length > 2 && long[w.slice(1)])) {
      const name = w.replace(/^--?/, '');
      const letter = long[name];
      if (!letter) throw new UsageError(`unknown option ${w}`);
      if (values.includes(letter)) {
        if (i + 1 >= words.length) throw new UsageError(`option ${w} needs a value`);
        flags[letter] = words[++i];
      } else flags[letter] = true;
      continue;
    }
    if (w.startsWith('-') && w.length > 1 && !/^-\d/.test(w)) {
      for (let j = 1; j < w.length; j++) {
        const c = w[j];
        if (values.includes(c)) {
          const rest = w.slice(j + 1);
          if (rest) flags[c] = rest;
          else if (i + 1 < words.length) flags[c] = words[++i];
          else throw new UsageError(`option -${c} needs a value`);
          break;
        }
        if (!bools.includes(c)) throw new UsageError(`unknown option -${c}`);
        flags[c] = true;
      }
      continue;
    }
    args.push(w);
  }
  return { flags, args };
}

function maxArgs(p: Parsed, n: number, usage: string): void {
  if (p.args.length > n) throw new UsageError(`too many arguments`, `usage: ${usage}`);
}

function version(v: string | true | undefined): number {
  if (v === undefined) return -1;
  if (v === true || !/^\d+$/.test(v)) throw new UsageError(`invalid version ${String(v)}`);
  return Number(v);
}

function fmtTime(ms: number): string {
  return new Date(ms).toISOString();
}

/** Walks skip nodes this session may not read, with a note. */
function skipUnreadable(ctx: ShellContext): (path: string, e: ZkError) => 'skip' | 'throw' {
  return (path, e) => {
    if (e.code !== ZkCode.NO_AUTH) return 'throw';
    ctx.err(`${path}: not authorized (skipped)\n`);
    return 'skip';
  };
}

export function statLines(path: string, s: Stat): string {
  const k = kindOf(s);
  const rows: Array<[string, string]> = [
    ['path', path],
    ['cZxid', `0x${s.czxid.toString(16)}`],
    ['ctime', fmtTime(s.ctime)],
    ['mZxid', `0x${s.mzxid.toString(16)}`],
    ['mtime', fmtTime(s.mtime)],
    ['pZxid', `0x${s.pzxid.toString(16)}`],
    ['cversion', String(s.cversion)],
    ['dataVersion', String(s.version)],
    ['aclVersion', String(s.aversion)],
    ['ephemeralOwner', `0x${BigInt.asUintN(64, s.ephemeralOwner).toString(16)}${k.type === 'ephemeral' ? ' (ephemeral)' : ''}`],
    ['dataLength', String(s.dataLength)],
    ['numChildren', String(s.numChildren)],
  ];
  return `${rows.map(([a, b]) => `${a} = ${b}`).join('\n')}\n`;
}

/** Data for a terminal: text as is, other bytes (not UTF-8, or control characters) as a note plus base64. */
function showData(data: Buffer): string {
  if (data.length === 0) return '';
  if (isUtf8(data) && !/[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]/.test(data.toString('latin1'))) {
    const s = data.toString('utf8');
    return s.endsWith('\n') ? s : `${s}\n`;
  }
  return `(${data.length} bytes, not UTF-8; base64:)\n${data.toString('base64')}\n`;
}

export const COMMANDS: Record<string, ShellCommand> = {
  help: {
    usage: 'help [COMMAND]',
    summary: 'List commands, or show one command\'s usage.',
    run: async (ctx, args) => {
      if (args[0]) {
        const c = COMMANDS[args[0]];
        if (!c) throw new UsageError(`no command ${args[0]}`);
        ctx.out(`usage: ${c.usage}\n  ${c.summary}\n`);
        return;
      }
      const w = Math.max(...Object.values(COMMANDS).map((c) => c.usage.length));
      ctx.out(
        `${Object.values(COMMANDS)
          .map((c) => `  ${c.usage.padEnd(w)}  ${c.summary}`)
          .join('\n')}\nPaths may be relative to the current node (cd); Tab completes commands and child names; Ctrl-D or "exit" leaves.\n`,
      );
    },
  },
  pwd: {
    usage: 'pwd',
    summary: 'Print the current node.',
    run: async (ctx) => ctx.out(`${ctx.cwd}\n`),
  },
  cd: {
    usage: 'cd [PATH|-]',
    summary: 'Change the current node (no PATH: /; -: the previous one).',
    run: async (ctx, args) => {
      if (args.length > 1) throw new UsageError('too many arguments', 'usage: cd [PATH|-]');
      const target = args[0] === '-' ? ctx.prevCwd : resolvePath(ctx.cwd, args[0] ?? '/');
      validatePath(target);
      if (!(await ctx.session.exists(target))) throw await ctx.session.noNode(target);
      ctx.prevCwd = ctx.cwd;
      ctx.cwd = target;
    },
  },
  ls: {
    usage: 'ls [-l] [PATH]',
    summary: 'List children (-l: with type, size, children count, version).',
    run: async (ctx, words) => {
      const p = parseOpts(words, 'l', '');
      maxArgs(p, 1, 'ls [-l] [PATH]');
      const path = resolvePath(ctx.cwd, p.args[0]);
      const { children } = await ctx.session.getChildren(path);
      children.sort();
      if (!p.flags.l) {
        if (children.length) ctx.out(`${children.map(quoteWord).join('\n')}\n`);
        return;
      }
      const stats = await Promise.all(children.map((c) => ctx.session.exists(path === '/' ? `/${c}` : `${path}/${c}`)));
      const lines = children.map((c, i) => {
        const s = stats[i];
        if (!s) return null;
        const t = kindOf(s).type === 'ephemeral' ? 'e' : 'p';
        return `${t} ${String(s.dataLength).padStart(8)} ${String(s.numChildren).padStart(6)} v${String(s.version).padEnd(4)} ${quoteWord(c)}`;
      });
      const shown = lines.filter((l): l is string => l !== null);
      if (shown.length) ctx.out(`${shown.join('\n')}\n`);
    },
  },
  get: {
    usage: 'get [-x|-b|-j] [PATH]',
    summary: 'Print data (text; -x hex, -b base64, -j pretty JSON).',
    run: async (ctx, words) => {
      const p = parseOpts(words, 'xbj', '');
      maxArgs(p, 1, 'get [-x|-b|-j] [PATH]');
      const path = resolvePath(ctx.cwd, p.args[0]);
      const { data } = await ctx.session.get(path);
      const fmt: DataFormat | undefined = p.flags.x ? 'hex' : p.flags.b ? 'base64' : p.flags.j ? 'json' : undefined;
      if (fmt) ctx.out(`${formatData(data, fmt, path)}\n`);
      else ctx.out(showData(data));
    },
  },
  stat: {
    usage: 'stat [PATH]',
    summary: 'Print the stat (zkCli layout).',
    run: async (ctx, words) => {
      const p = parseOpts(words, '', '');
      maxArgs(p, 1, 'stat [PATH]');
      const path = resolvePath(ctx.cwd, p.args[0]);
      const s = await ctx.session.exists(path);
      if (!s) throw await ctx.session.noNode(path);
      ctx.out(statLines(path, s));
    },
  },
  create: {
    usage: 'create [-e] [-s] [-c] [-t TTL] [-p] PATH [DATA]',
    summary: 'Create a node (-e ephemeral, -s sequential, -c container, -t TTL node, -p parents).',
    run: async (ctx, words) => {
      const p = parseOpts(words, 'escp', 't');
      if (p.args.length < 1) throw new UsageError('missing PATH', 'usage: create [-e] [-s] [-c] [-t TTL] [-p] PATH [DATA]');
      maxArgs(p, 2, 'create [-e] [-s] [-c] [-t TTL] [-p] PATH [DATA]');
      const path = resolvePath(ctx.cwd, p.args[0]);
      assertNotReserved(path, ctx.session.chroot, 'create');
      const data = Buffer.from(p.args[1] ?? '', 'utf8');
      const modes = [p.flags.e, p.flags.c, p.flags.t].filter(Boolean).length;
      if (modes > 1) throw new UsageError('-e, -c and -t exclude each other');
      const mode = p.flags.e ? 'ephemeral' : p.flags.c ? 'container' : p.flags.t ? 'ttl' : 'persistent';
      const ttlMs = typeof p.flags.t === 'string' ? parseDuration(p.flags.t, 'TTL') : undefined;
      if (p.flags.p) {
        const parts = path.split('/').filter(Boolean);
        for (let i = 1; i < parts.length; i++) {
          const anc = `/${parts.slice(0, i).join('/')}`;
          try {
            await ctx.session.create(anc);
          } catch (e) {
            if (!(e instanceof ZkError && e.code === ZkCode.NODE_EXISTS)) throw e;
          }
        }
      }
      const r = await ctx.session.create(path, data, { mode, sequential: !!p.flags.s, ttlMs });
      ctx.out(`created ${r.path}${mode === 'ephemeral' ? ' (ephemeral: it goes when the shell exits)' : ''}\n`);
    },
  },
  set: {
    usage: 'set [-v VERSION] PATH DATA',
    summary: 'Set data (-v: only at that version).',
    run: async (ctx, words) => {
      const p = parseOpts(words, '', 'v');
      if (p.args.length !== 2) throw new UsageError('expected PATH and DATA', 'usage: set [-v VERSION] PATH DATA');
      const path = resolvePath(ctx.cwd, p.args[0]);
      assertNotReserved(path, ctx.session.chroot, 'set');
      const s = await ctx.session.set(path, Buffer.from(p.args[1], 'utf8'), version(p.flags.v));
      ctx.out(`version ${s.version}\n`);
    },
  },
  rm: {
    usage: 'rm [-r] [-v VERSION] PATH...',
    summary: 'Delete nodes (-r: with everything under them).',
    run: async (ctx, words) => {
      const p = parseOpts(words, 'r', 'v');
      if (p.args.length < 1) throw new UsageError('missing PATH', 'usage: rm [-r] [-v VERSION] PATH...');
      for (const a of p.args) {
        const path = resolvePath(ctx.cwd, a);
        assertDeletable(path, ctx.session.chroot);
        if (p.flags.r) {
          const n = await deleteTree(ctx.session, path, { signal: ctx.signal, version: p.flags.v ? version(p.flags.v) : undefined });
          ctx.out(`deleted ${n} node${n === 1 ? '' : 's'}\n`);
        } else await ctx.session.delete(path, version(p.flags.v));
        if (ctx.cwd === path || ctx.cwd.startsWith(`${path}/`)) ctx.out(`note: the current node ${ctx.cwd} is gone\n`);
      }
    },
  },
  tree: {
    usage: 'tree [-d DEPTH] [PATH]',
    summary: 'Draw the subtree.',
    run: async (ctx, words) => {
      const p = parseOpts(words, '', 'd');
      maxArgs(p, 1, 'tree [-d DEPTH] [PATH]');
      const path = resolvePath(ctx.cwd, p.args[0]);
      const depth = p.flags.d !== undefined ? Number(p.flags.d) : undefined;
      if (depth !== undefined && !(Number.isInteger(depth) && depth >= 0)) throw new UsageError(`invalid depth ${String(p.flags.d)}`);
      const lastAt: boolean[] = [];
      let buf = '';
      let count = 0;
      for await (const n of walk(ctx.session, path, { depth, signal: ctx.signal, onError: skipUnreadable(ctx) })) {
        count++;
        if (n.depth === 0) buf += `${n.path}\n`;
        else {
          lastAt[n.depth] = n.last;
          let prefix = '';
          for (let d = 1; d < n.depth; d++) prefix += lastAt[d] ? '    ' : '│   ';
          const more = n.children === undefined && n.stat.numChildren > 0 ? ` (+${n.stat.numChildren})` : '';
          buf += `${prefix}${n.last ? '└── ' : '├── '}${quoteWord(n.name)}${kindOf(n.stat).type === 'ephemeral' ? ' [e]' : ''}${more}\n`;
        }
        if (buf.length > 8192) {
          ctx.out(buf);
          buf = '';
        }
      }
      ctx.out(`${buf}${count - 1} node${count === 2 ? '' : 's'} below\n`);
    },
  },
  find: {
    usage: 'find [PATH] [-name GLOB] [-e] [-d DEPTH]',
    summary: 'Print paths under PATH (-name: last segment matches; -e: ephemeral only).',
    run: async (ctx, words) => {
      const p = parseOpts(words, 'e', 'nd', { name: 'n', ephemeral: 'e', maxdepth: 'd' });
      maxArgs(p, 1, 'find [PATH] [-name GLOB] [-e] [-d DEPTH]');
      const path = resolvePath(ctx.cwd, p.args[0]);
      const re = typeof p.flags.n === 'string' ? globRegExp(p.flags.n) : undefined;
      const depth = typeof p.flags.d === 'string' ? Number(p.flags.d) : undefined;
      let buf = '';
      for await (const n of walk(ctx.session, path, { depth, signal: ctx.signal, onError: skipUnreadable(ctx) })) {
        if (re && !re.test(baseName(n.path))) continue;
        if (p.flags.e && kindOf(n.stat).type !== 'ephemeral') continue;
        buf += `${n.path}\n`;
        if (buf.length > 8192) {
          ctx.out(buf);
          buf = '';
        }
      }
      if (buf) ctx.out(buf);
    },
  },
  getacl: {
    usage: 'getacl [PATH]',
    summary: 'Print the ACL (scheme:id:perms).',
    run: async (ctx, words) => {
      const p = parseOpts(words, '', '');
      maxArgs(p, 1, 'getacl [PATH]');
      const { acl } = await ctx.session.getACL(resolvePath(ctx.cwd, p.args[0]));
      ctx.out(`${acl.map(formatAcl).join('\n')}\n`);
    },
  },
  setacl: {
    usage: 'setacl [-v ACLVERSION] PATH ACL...',
    summary: 'Set the ACL, e.g. setacl /app world:anyone:r digest-password:bob:secret:cdrwa.',
    run: async (ctx, words) => {
      const p = parseOpts(words, '', 'v');
      if (p.args.length < 2) throw new UsageError('expected PATH and ACL', 'usage: setacl [-v ACLVERSION] PATH ACL...');
      const path = resolvePath(ctx.cwd, p.args[0]);
      assertNotReserved(path, ctx.session.chroot, 'change the ACL of');
      const s = await ctx.session.setACL(path, parseAcls(p.args.slice(1)), version(p.flags.v));
      ctx.out(`aclVersion ${s.aversion}\n`);
    },
  },
  sync: {
    usage: 'sync [PATH]',
    summary: 'Make the connected server catch up with the leader.',
    run: async (ctx, words) => {
      const p = parseOpts(words, '', '');
      maxArgs(p, 1, 'sync [PATH]');
      await ctx.session.sync(resolvePath(ctx.cwd, p.args[0]));
    },
  },
  exit: {
    usage: 'exit [CODE]',
    summary: 'Leave the shell (also: quit, Ctrl-D).',
    run: async () => undefined, // handled by the loop
  },
};

/** Aliases people type out of habit (zkCli). */
export const ALIASES: Record<string, string> = { quit: 'exit', ll: 'ls -l', delete: 'rm', deleteall: 'rm -r', '?': 'help' };
