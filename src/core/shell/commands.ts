/**
 * The interactive shell's commands. They call the core (session, tree walker,
 * ACL and data helpers), never the oclif commands, and write through `out`.
 */
import { formatAcl, parseAcls } from '../acl.js';
import { parseAuthSpec } from '../auth.js';
import { kindOf } from '../backup.js';
import { formatData, hexDump, type DataFormat } from '../data.js';
import { parseDuration } from '../duration.js';
import { UsageError, ZkCode, ZkError } from '../errors.js';
import { assertNotReserved, baseName, validatePath } from '../paths.js';
import type { Id, Session, Stat } from '../session.js';
import { assertDeletable, deleteTree, duTree, type DuRow, type NodeInfo, walk } from '../tree.js';
import { globRegExp, quoteWord, resolvePath } from './words.js';
import { sessionHex } from '../session-id.js';

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
  /** How results look: the same printers as the one-shot commands (given by the CLI). */
  view: ShellView;
  /** Terminal width (80 when not a terminal). */
  width: () => number;
}

/** A row of ls -l / find -l (the one-shot commands' ZnodeRow). */
export interface ShellZnodeRow {
  path: string;
  name: string;
  stat: Stat;
}

/** An ephemeral node, as `zkctl ephemerals` lists it. */
export interface ShellEphemeralRow {
  path: string;
  ephemeralOwner: string;
  ctime: number;
  dataLength: number;
}

/**
 * The printers the shell shares with the one-shot commands (src/output): the CLI passes them
 * in, so that `ls -l`, `stat`, `tree`, ... look the same in both. Each returns text ending
 * with a newline ('' for nothing).
 */
export interface ShellView {
  znodeRows: (rows: ShellZnodeRow[]) => Promise<string>;
  stat: (path: string, s: Stat) => string;
  /** One line of `tree` (lastAt: per depth, is the node there the last child). */
  treeLine: (n: NodeInfo, lastAt: boolean[]) => string;
  du: (rows: DuRow[]) => string;
  ephemerals: (rows: ShellEphemeralRow[]) => string;
  ids: (ids: Id[]) => string;
  /** Data for the terminal (text as is, else a safe form); '' for none. */
  data: (data: Buffer, path: string) => string;
}

export interface ShellCommand {
  usage: string;
  summary: string;
  run: (ctx: ShellContext, args: string[]) => Promise<void>;
  /** Output never goes through the pager (short, or a stream that runs until Ctrl-C). */
  noPager?: boolean;
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

/** Walks skip nodes this session may not read, with a note. */
function skipUnreadable(ctx: ShellContext): (path: string, e: ZkError) => 'skip' | 'throw' {
  return (path, e) => {
    if (e.code !== ZkCode.NO_AUTH) return 'throw';
    ctx.err(`${path}: not authorized (skipped)\n`);
    return 'skip';
  };
}

/** Wrap `text` at word boundaries to `width` columns; continuation lines get `indent` spaces. */
export function wrapWords(text: string, width: number, indent: number): string {
  const lines: string[] = [];
  let cur = '';
  for (const w of text.split(/ +/)) {
    if (cur && cur.length + 1 + w.length > width) {
      lines.push(cur);
      cur = ' '.repeat(indent) + w;
    } else cur = cur ? `${cur} ${w}` : w;
  }
  if (cur) lines.push(cur);
  return lines.join('\n');
}

function znodeRow(path: string, name: string, stat: Stat): ShellZnodeRow {
  return { path, name, stat };
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
      const cols = Math.max(40, ctx.width() - 1);
      const w = Math.min(Math.max(...Object.values(COMMANDS).map((c) => c.usage.length)), Math.floor(cols / 2));
      const lines = Object.values(COMMANDS).map((c) => {
        // A usage longer than the column gets a line of its own.
        const head = c.usage.length > w ? `  ${c.usage}\n${' '.repeat(w + 4)}` : `  ${c.usage.padEnd(w)}  `;
        return `${head}${wrapWords(c.summary, cols - (w + 4), 0).replace(/\n/g, `\n${' '.repeat(w + 4)}`)}`;
      });
      const tail = 'Paths may be relative to the current node (cd); Tab completes commands and child names; CMD | SHELL-COMMAND pipes the output (e.g. ls -l | grep lock); Ctrl-C stops a command; Ctrl-Z suspends; Ctrl-D or "exit" leaves.';
      ctx.out(`${lines.join('\n')}\n${wrapWords(tail, cols, 0)}\n`);
    },
  },
  pwd: {
    noPager: true,
    usage: 'pwd',
    summary: 'Print the current node.',
    run: async (ctx) => ctx.out(`${ctx.cwd}\n`),
  },
  cd: {
    noPager: true,
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
    summary: 'List children (-l: version, data length, children, ephemeral owner, mtime, as zkctl ls -l).',
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
      const rows: ShellZnodeRow[] = [];
      for await (const n of walk(ctx.session, path, { depth: 1, includeRoot: false, signal: ctx.signal, onError: skipUnreadable(ctx) })) rows.push(znodeRow(n.path, n.name, n.stat));
      ctx.out(await ctx.view.znodeRows(rows));
    },
  },
  get: {
    usage: 'get [-x|-b|-j] [PATH]',
    summary: 'Print data (text; -x hex dump as xxd: offsets, hex, ASCII; -b base64, -j pretty JSON).',
    run: async (ctx, words) => {
      const p = parseOpts(words, 'xbj', '');
      maxArgs(p, 1, 'get [-x|-b|-j] [PATH]');
      const path = resolvePath(ctx.cwd, p.args[0]);
      const { data } = await ctx.session.get(path);
      const fmt: DataFormat | undefined = p.flags.x ? 'hex' : p.flags.b ? 'base64' : p.flags.j ? 'json' : undefined;
      if (fmt === 'hex') ctx.out(data.length > 0 ? `${hexDump(data)}\n` : ctx.view.data(data, path));
      else if (fmt) ctx.out(`${formatData(data, fmt, path)}\n`);
      else ctx.out(ctx.view.data(data, path));
    },
  },
  stat: {
    usage: 'stat [PATH]',
    summary: 'Print the stat (zkCli layout, as zkctl stat).',
    run: async (ctx, words) => {
      const p = parseOpts(words, '', '');
      maxArgs(p, 1, 'stat [PATH]');
      const path = resolvePath(ctx.cwd, p.args[0]);
      const s = await ctx.session.exists(path);
      if (!s) throw await ctx.session.noNode(path);
      ctx.out(ctx.view.stat(path, s));
    },
  },
  create: {
    usage: 'create [-e] [-S] [-c] [-t TTL] [-p] PATH [DATA]',
    summary: 'Create a node (-e ephemeral, -S sequential (-s too, as in zkCli), -c container, -t TTL node, -p parents), as zkctl create.',
    noPager: true,
    run: async (ctx, words) => {
      const p = parseOpts(words, 'eSscp', 't', { ephemeral: 'e', sequential: 'S', container: 'c', parents: 'p', ttl: 't' });
      if (p.flags.s) p.flags.S = true;
      if (p.args.length < 1) throw new UsageError('missing PATH', 'usage: create [-e] [-S] [-c] [-t TTL] [-p] PATH [DATA]');
      maxArgs(p, 2, 'create [-e] [-S] [-c] [-t TTL] [-p] PATH [DATA]');
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
      if (p.flags.c && p.flags.S) throw new UsageError('a container node cannot be sequential');
      const r = await ctx.session.create(path, data, { mode, sequential: !!p.flags.S, ttlMs });
      ctx.out(`created ${r.path}${mode === 'ephemeral' ? ' (ephemeral: it goes when the shell exits)' : ''}\n`);
    },
  },
  set: {
    noPager: true,
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
    noPager: true,
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
    summary: 'Draw the subtree (as zkctl tree).',
    run: async (ctx, words) => {
      const p = parseOpts(words, '', 'd');
      maxArgs(p, 1, 'tree [-d DEPTH] [PATH]');
      const path = resolvePath(ctx.cwd, p.args[0]);
      const depth = p.flags.d !== undefined ? Number(p.flags.d) : undefined;
      if (depth !== undefined && !(Number.isInteger(depth) && depth >= 0)) throw new UsageError(`invalid depth ${String(p.flags.d)}`);
      const lastAt: boolean[] = [];
      let buf = '';
      for await (const n of walk(ctx.session, path, { depth, signal: ctx.signal, onError: skipUnreadable(ctx) })) {
        lastAt[n.depth] = n.last;
        buf += ctx.view.treeLine(n, lastAt);
        if (buf.length > 8192) {
          ctx.out(buf);
          buf = '';
        }
      }
      ctx.out(buf);
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
    noPager: true,
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
    noPager: true,
    usage: 'sync [PATH]',
    summary: 'Make the connected server catch up with the leader.',
    run: async (ctx, words) => {
      const p = parseOpts(words, '', '');
      maxArgs(p, 1, 'sync [PATH]');
      await ctx.session.sync(resolvePath(ctx.cwd, p.args[0]));
    },
  },
  count: {
    usage: 'count [PATH]',
    summary: 'Number of nodes under PATH, not counting it (one request; as zkctl count).',
    noPager: true,
    run: async (ctx, words) => {
      const p = parseOpts(words, '', '');
      maxArgs(p, 1, 'count [PATH]');
      ctx.out(`${await ctx.session.getAllChildrenNumber(resolvePath(ctx.cwd, p.args[0]))}\n`);
    },
  },
  du: {
    usage: 'du [-d DEPTH] [PATH]',
    summary: 'Data bytes and node counts per subtree, largest first (as zkctl du).',
    run: async (ctx, words) => {
      const p = parseOpts(words, '', 'd', { depth: 'd' });
      maxArgs(p, 1, 'du [-d DEPTH] [PATH]');
      const depth = p.flags.d !== undefined ? Number(p.flags.d) : 1;
      if (!(Number.isInteger(depth) && depth >= 0)) throw new UsageError(`invalid depth ${String(p.flags.d)}`);
      const rows = await duTree(ctx.session, resolvePath(ctx.cwd, p.args[0]), { depth, signal: ctx.signal, onError: skipUnreadable(ctx) });
      ctx.out(ctx.view.du(rows));
    },
  },
  ephemerals: {
    usage: 'ephemerals [--owner SESSION] [PATH]',
    summary: 'Ephemeral nodes under PATH (default /) with their owner sessions (as zkctl ephemerals).',
    run: async (ctx, words) => {
      const p = parseOpts(words, '', 'o', { owner: 'o' });
      maxArgs(p, 1, 'ephemerals [--owner SESSION] [PATH]');
      let owner: bigint | undefined;
      if (typeof p.flags.o === 'string') {
        const m = /^(0x)?([0-9a-f]{1,16})$/i.exec(p.flags.o.trim());
        if (!m) throw new UsageError(`invalid --owner "${p.flags.o}"`, 'a session id in hex, e.g. 0x100000b3770000a');
        owner = BigInt.asIntN(64, BigInt(`0x${m[2]}`));
      }
      const rows: ShellEphemeralRow[] = [];
      for await (const n of walk(ctx.session, resolvePath(ctx.cwd, p.args[0] ?? '/'), { signal: ctx.signal, onError: skipUnreadable(ctx) })) {
        const eo = n.stat.ephemeralOwner;
        if (eo === 0n || (owner !== undefined && eo !== owner)) continue;
        rows.push({ path: n.path, ephemeralOwner: sessionHex(eo), ctime: n.stat.ctime, dataLength: n.stat.dataLength });
      }
      ctx.out(ctx.view.ephemerals(rows));
    },
  },
  whoami: {
    usage: 'whoami',
    summary: 'The identities the server gives this session (as zkctl whoami).',
    noPager: true,
    run: async (ctx, words) => {
      maxArgs(parseOpts(words, '', ''), 0, 'whoami');
      ctx.out(ctx.view.ids(await ctx.session.whoAmI()));
    },
  },
  addauth: {
    usage: 'addauth SCHEME AUTH',
    summary: 'Add credentials to the session, e.g. addauth digest user:password (never saved in the history).',
    noPager: true,
    run: async (ctx, words) => {
      const p = parseOpts(words, '', '');
      if (p.args.length !== 2) throw new UsageError('expected SCHEME and AUTH', 'usage: addauth SCHEME AUTH, e.g. addauth digest user:password');
      const info = parseAuthSpec(`${p.args[0]}:${p.args[1]}`, 'addauth');
      ctx.session.addAuth(info);
      // The server answers nothing for good credentials; whoAmI (queued after the auth packet) shows the result.
      let ids: Id[] | undefined;
      try {
        ids = await ctx.session.whoAmI();
      } catch {
        /* a server before 3.7 has no whoAmI */
      }
      ctx.out(ids ? ctx.view.ids(ids) : `added ${info.scheme} credentials\n`);
    },
  },
  exit: {
    noPager: true,
    usage: 'exit [CODE]',
    summary: 'Leave the shell (also: quit, Ctrl-D).',
    run: async () => undefined, // handled by the loop
  },
};

/** Aliases people type out of habit (zkCli). */
export const ALIASES: Record<string, string> = { quit: 'exit', ll: 'ls -l', delete: 'rm', deleteall: 'rm -r', '?': 'help' };
