/**
 * The interactive shell's commands. They call the core (session, tree walker,
 * ACL and data helpers), never the oclif commands, and write through `out`.
 */
import { join } from 'node:path';
import { formatAcl, parseAcls } from '../../core/acl.js';
import { parseAuthSpec } from '../../core/auth.js';
import { assertRequestFits, formatData, hexDump, parseVersion, type DataFormat } from '../../core/data.js';
import { editNode, editorOf, runEditor } from '../../core/edit.js';
import { UsageError } from '../../core/errors.js';
import { createKind, createNode } from '../../core/nodes.js';
import { assertNotReserved, validatePath } from '../../core/paths.js';
import type { Id, Session } from '../../core/session.js';
import { assertDeletable, deleteTree, duTree, ephemeralNodes, globToRegExp, parseSessionId, walk } from '../../core/tree.js';
import { type EphemeralRow, type ZnodeRow, editSummary, ephemeralRow } from '../../output/znode.js';
import { stateDir } from '../context.js';
import { Unreadable } from '../znode.js';
import type { ShellView } from './view.js';
import { quoteWord, resolvePath } from './words.js';
import { parseDuration } from '../../core/duration.js';
import { followZnode, noticeText } from '../../core/recipes/watch-stream.js';
import { StreamControl } from '../../core/stream.js';

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
  /** How results look: the one-shot commands' printers. */
  view: ShellView;
  /** Terminal width (80 when not a terminal). */
  width: () => number;
  /** Run `fn` while a child (an editor) owns the terminal: cooked mode, the shell not reading; taken back after. */
  withTerminal: <T>(fn: () => Promise<T>) => Promise<T>;
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

/** What a command takes, declared once; `command()` parses and checks it before `run`. */
interface CommandSpec {
  usage: string;
  summary: string;
  noPager?: boolean;
  /**
   * Options (parseOpts): `bools` single letters without values, `values` letters that take one, `long`
   * long names for letters. false: no options, every word is an argument (cd -, help, exit CODE).
   */
  opts?: false | { bools?: string; values?: string; long?: Record<string, string> };
  /**
   * How many arguments, options aside (default: 0 or 1, a PATH). Outside [min, max]: `wrong` when
   * given, else "too many arguments" or `missing` (default "missing PATH"); the hint is `hint`, else
   * "usage: USAGE".
   */
  args?: { min?: number; max?: number; missing?: string; wrong?: string; hint?: string };
  /** `p.path`: the first argument resolved against the current node (none: the current node). */
  run: (ctx: ShellContext, p: Parsed & { path: string }) => Promise<void>;
}

/** A shell command from its spec: options parsed, arguments counted, the path resolved, then run. */
function command(spec: CommandSpec): ShellCommand {
  const { min = 0, max = 1, missing = 'missing PATH', wrong, hint = `usage: ${spec.usage}` } = spec.args ?? {};
  return {
    usage: spec.usage,
    summary: spec.summary,
    ...(spec.noPager ? { noPager: true } : {}),
    run: async (ctx, words) => {
      const o = spec.opts;
      const p: Parsed = o === false ? { flags: {}, args: words } : parseOpts(words, o?.bools ?? '', o?.values ?? '', o?.long);
      const n = p.args.length;
      if (n < min || n > max) throw new UsageError(wrong ?? (n > max ? 'too many arguments' : missing), hint);
      await spec.run(ctx, { ...p, path: resolvePath(ctx.cwd, p.args[0]) });
    },
  };
}

/** -v VERSION as zkctl's --version (-1: any version). */
function version(v: string | true | undefined): number {
  return parseVersion(v === true ? '' : v) ?? -1;
}

/** Walks skip nodes this session may not read, with a note, and end with exit 7 (check()), as the one-shot commands do. */
function unreadable(ctx: ShellContext): Unreadable {
  return new Unreadable((t) => ctx.err(`${t}\n`), 'add credentials with addauth SCHEME AUTH');
}

/** A -d DEPTH value (undefined: none given). */
function depthOpt(v: string | true | undefined, dflt?: number): number | undefined {
  if (v === undefined) return dflt;
  const depth = Number(v);
  if (v === true || !(Number.isInteger(depth) && depth >= 0)) throw new UsageError(`invalid depth ${String(v)}`);
  return depth;
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

export const COMMANDS: Record<string, ShellCommand> = {
  help: command({
    usage: 'help [COMMAND]',
    summary: 'List commands, or show one command\'s usage.',
    opts: false,
    args: { max: Infinity },
    run: async (ctx, { args }) => {
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
  }),
  pwd: command({
    noPager: true,
    usage: 'pwd',
    summary: 'Print the current node.',
    opts: false,
    args: { max: Infinity },
    run: async (ctx) => ctx.out(`${ctx.cwd}\n`),
  }),
  cd: command({
    noPager: true,
    usage: 'cd [PATH|-]',
    summary: 'Change the current node (no PATH: /; -: the previous one).',
    opts: false,
    run: async (ctx, { args }) => {
      const target = args[0] === '-' ? ctx.prevCwd : resolvePath(ctx.cwd, args[0] ?? '/');
      validatePath(target);
      if (!(await ctx.session.exists(target))) throw await ctx.session.noNode(target);
      ctx.prevCwd = ctx.cwd;
      ctx.cwd = target;
    },
  }),
  ls: command({
    usage: 'ls [-l] [PATH]',
    summary: 'List children (-l: version, data length, children, ephemeral owner, mtime, as zkctl ls -l).',
    opts: { bools: 'l' },
    run: async (ctx, { flags, path }) => {
      const { children } = await ctx.session.getChildren(path);
      children.sort();
      if (!flags.l) {
        if (children.length) ctx.out(`${children.map(quoteWord).join('\n')}\n`);
        return;
      }
      const skipped = unreadable(ctx);
      const rows: ZnodeRow[] = [];
      for await (const n of walk(ctx.session, path, { depth: 1, includeRoot: false, signal: ctx.signal, onError: skipped.onError })) rows.push({ path: n.path, name: n.name, stat: n.stat });
      ctx.out(await ctx.view.znodeRows(rows));
      skipped.check();
    },
  }),
  get: command({
    usage: 'get [-x|-b|-j] [PATH]',
    summary: 'Print data (text; -x hex dump as xxd: offsets, hex, ASCII; -b base64, -j pretty JSON).',
    opts: { bools: 'xbj' },
    run: async (ctx, { flags, path }) => {
      const { data } = await ctx.session.get(path);
      const fmt: DataFormat | undefined = flags.x ? 'hex' : flags.b ? 'base64' : flags.j ? 'json' : undefined;
      if (fmt === 'hex') ctx.out(data.length > 0 ? `${hexDump(data)}\n` : ctx.view.data(data, path));
      else if (fmt) ctx.out(`${formatData(data, fmt, path)}\n`);
      else ctx.out(ctx.view.data(data, path));
    },
  }),
  stat: command({
    usage: 'stat [PATH]',
    summary: 'Print the stat (zkCli layout, as zkctl stat).',
    run: async (ctx, { path }) => {
      const s = await ctx.session.exists(path);
      if (!s) throw await ctx.session.noNode(path);
      ctx.out(ctx.view.stat(path, s));
    },
  }),
  create: command({
    usage: 'create [-e] [-S] [-c] [-t TTL] [-p] PATH [DATA]',
    summary: 'Create a node (-e ephemeral, -S sequential (-s too, as in zkCli), -c container, -t TTL node, -p parents), as zkctl create.',
    noPager: true,
    opts: { bools: 'eSscp', values: 't', long: { ephemeral: 'e', sequential: 'S', container: 'c', parents: 'p', ttl: 't' } },
    args: { min: 1, max: 2 },
    run: async (ctx, { flags, args, path }) => {
      assertNotReserved(path, ctx.session.chroot, 'create');
      const kind = createKind({ ephemeral: !!flags.e, container: !!flags.c, ttl: typeof flags.t === 'string' ? flags.t : undefined, sequential: !!(flags.S || flags.s) });
      const r = await createNode(ctx.session, path, Buffer.from(args[1] ?? '', 'utf8'), { ...kind, parents: !!flags.p });
      ctx.out(`created ${r.path}${kind.mode === 'ephemeral' ? ' (ephemeral: it goes when the shell exits)' : ''}\n`);
    },
  }),
  set: command({
    noPager: true,
    usage: 'set [-v VERSION] PATH DATA',
    summary: 'Set data (-v: only at that version).',
    opts: { values: 'v' },
    args: { min: 2, max: 2, wrong: 'expected PATH and DATA' },
    run: async (ctx, { flags, args, path }) => {
      assertNotReserved(path, ctx.session.chroot, 'set');
      const data = Buffer.from(args[1], 'utf8');
      assertRequestFits(`${ctx.session.chroot}${path}`, data);
      const s = await ctx.session.set(path, data, version(flags.v));
      ctx.out(`version ${s.version}\n`);
    },
  }),
  edit: command({
    noPager: true,
    usage: 'edit [--force] PATH',
    summary: 'Edit the data in $VISUAL / $EDITOR and write it back with compare-and-set (--force: even when JSON became invalid), as zkctl edit.',
    opts: { long: { force: 'f' } },
    args: { min: 1, max: 1 },
    run: async (ctx, { flags, path }) => {
      const { result, readVersion } = await editNode(ctx.session, validatePath(path), {
        editor: editorOf(),
        force: !!flags.f,
        keepDir: join(stateDir(), 'edits'),
        note: (text) => ctx.err(`note: ${text}\n`),
        run: (editor, file) => ctx.withTerminal(() => runEditor(editor, file)),
      });
      ctx.out(`${editSummary(result, readVersion)}\n`);
    },
  }),
  rm: command({
    noPager: true,
    usage: 'rm [-r] [-v VERSION] PATH...',
    summary: 'Delete nodes (-r: with everything under them).',
    opts: { bools: 'r', values: 'v' },
    args: { min: 1, max: Infinity },
    run: async (ctx, { flags, args }) => {
      for (const a of args) {
        const path = resolvePath(ctx.cwd, a);
        assertDeletable(path, ctx.session.chroot);
        if (flags.r) {
          const n = await deleteTree(ctx.session, path, { signal: ctx.signal, version: flags.v ? version(flags.v) : undefined });
          ctx.out(`deleted ${n} node${n === 1 ? '' : 's'}\n`);
        } else await ctx.session.delete(path, version(flags.v));
        if (ctx.cwd === path || ctx.cwd.startsWith(`${path}/`)) ctx.out(`note: the current node ${ctx.cwd} is gone\n`);
      }
    },
  }),
  tree: command({
    usage: 'tree [-d DEPTH] [PATH]',
    summary: 'Draw the subtree (as zkctl tree).',
    opts: { values: 'd' },
    run: async (ctx, { flags, path }) => {
      const depth = depthOpt(flags.d);
      const skipped = unreadable(ctx);
      const lastAt: boolean[] = [];
      let buf = '';
      for await (const n of walk(ctx.session, path, { depth, signal: ctx.signal, onError: skipped.onError })) {
        lastAt[n.depth] = n.last;
        buf += ctx.view.treeLine(n, lastAt);
        if (buf.length > 8192) {
          ctx.out(buf);
          buf = '';
        }
      }
      ctx.out(buf);
      skipped.check();
    },
  }),
  find: command({
    usage: 'find [PATH] [-name GLOB] [-e] [-d DEPTH]',
    summary: 'Print paths under PATH (-name: last segment matches; -e: ephemeral only).',
    opts: { bools: 'e', values: 'nd', long: { name: 'n', ephemeral: 'e', maxdepth: 'd' } },
    run: async (ctx, { flags, path }) => {
      const re = typeof flags.n === 'string' ? globToRegExp(flags.n) : undefined;
      const depth = depthOpt(flags.d);
      const skipped = unreadable(ctx);
      let buf = '';
      for await (const n of walk(ctx.session, path, { depth, signal: ctx.signal, onError: skipped.onError })) {
        if (re && !re.test(n.name)) continue;
        if (flags.e && n.stat.ephemeralOwner === 0n) continue;
        buf += `${n.path}\n`;
        if (buf.length > 8192) {
          ctx.out(buf);
          buf = '';
        }
      }
      if (buf) ctx.out(buf);
      skipped.check();
    },
  }),
  getacl: command({
    usage: 'getacl [PATH]',
    summary: 'Print the ACL (scheme:id:perms).',
    run: async (ctx, { path }) => {
      const { acl } = await ctx.session.getACL(path);
      ctx.out(`${acl.map(formatAcl).join('\n')}\n`);
    },
  }),
  setacl: command({
    noPager: true,
    usage: 'setacl [-v ACLVERSION] PATH ACL...',
    summary: 'Set the ACL, e.g. setacl /app world:anyone:r digest-password:bob:secret:cdrwa.',
    opts: { values: 'v' },
    args: { min: 2, max: Infinity, wrong: 'expected PATH and ACL' },
    run: async (ctx, { flags, args, path }) => {
      assertNotReserved(path, ctx.session.chroot, 'change the ACL of');
      const s = await ctx.session.setACL(path, parseAcls(args.slice(1)), version(flags.v));
      ctx.out(`aclVersion ${s.aversion}\n`);
    },
  }),
  sync: command({
    noPager: true,
    usage: 'sync [PATH]',
    summary: 'Make the connected server catch up with the leader.',
    run: async (ctx, { path }) => {
      await ctx.session.sync(path);
    },
  }),
  count: command({
    usage: 'count [PATH]',
    summary: 'Number of nodes under PATH, not counting it (one request; as zkctl count).',
    noPager: true,
    run: async (ctx, { path }) => {
      ctx.out(`${await ctx.session.getAllChildrenNumber(path)}\n`);
    },
  }),
  du: command({
    usage: 'du [-d DEPTH] [PATH]',
    summary: 'Data bytes and node counts per subtree, largest first (as zkctl du).',
    opts: { values: 'd', long: { depth: 'd' } },
    run: async (ctx, { flags, path }) => {
      const skipped = unreadable(ctx);
      const rows = await duTree(ctx.session, path, { depth: depthOpt(flags.d, 1), signal: ctx.signal, onError: skipped.onError });
      ctx.out(ctx.view.du(rows));
      skipped.check();
    },
  }),
  ephemerals: command({
    usage: 'ephemerals [--owner SESSION] [PATH]',
    summary: 'Ephemeral nodes under PATH (default /) with their owner sessions (as zkctl ephemerals).',
    opts: { values: 'o', long: { owner: 'o' } },
    run: async (ctx, { flags, args }) => {
      const owner = typeof flags.o === 'string' ? parseSessionId(flags.o) : undefined;
      const skipped = unreadable(ctx);
      const rows: EphemeralRow[] = [];
      for await (const n of ephemeralNodes(ctx.session, resolvePath(ctx.cwd, args[0] ?? '/'), { owner, signal: ctx.signal, onError: skipped.onError })) rows.push(ephemeralRow(n));
      ctx.out(ctx.view.ephemerals(rows));
      skipped.check();
    },
  }),
  whoami: command({
    usage: 'whoami',
    summary: 'The identities the server gives this session (as zkctl whoami).',
    noPager: true,
    args: { max: 0 },
    run: async (ctx) => {
      ctx.out(ctx.view.ids(await ctx.session.whoAmI()));
    },
  }),
  addauth: command({
    usage: 'addauth SCHEME AUTH',
    summary: 'Add credentials to the session, e.g. addauth digest user:password (never saved in the history).',
    noPager: true,
    args: { min: 2, max: 2, wrong: 'expected SCHEME and AUTH', hint: 'usage: addauth SCHEME AUTH, e.g. addauth digest user:password' },
    run: async (ctx, { args }) => {
      const info = parseAuthSpec(`${args[0]}:${args[1]}`, 'addauth');
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
  }),
  watch: command({
    usage: 'watch [-r] [--data] [--children] [--count N] [--for D] PATH',
    summary: 'Stream the changes of PATH (as zkctl watch) until Ctrl-C (back to the prompt), --count events or --for.',
    noPager: true,
    opts: { bools: 'rDCO', values: 'NF', long: { recursive: 'r', data: 'D', children: 'C', 'one-shot': 'O', count: 'N', for: 'F' } },
    args: { min: 1, max: 1 },
    run: async (ctx, { flags, path }) => {
      const count = flags.N !== undefined ? Number(flags.N) : undefined;
      if (count !== undefined && !(Number.isInteger(count) && count >= 1)) throw new UsageError(`invalid --count ${String(flags.N)}`, 'a whole number, at least 1');
      const forMs = typeof flags.F === 'string' ? parseDuration(flags.F, '--for') : undefined;
      const children = !!flags.C;
      await followZnode(ctx.session, path, {
        recursive: !!flags.r,
        data: !!flags.D,
        oneShot: !!flags.O,
        stream: new StreamControl({ count, forMs, signal: ctx.signal }),
        onEvent: (e) => ctx.out(`${ctx.view.watchEvent(e, children)}\n`),
        onNotice: (n) => ctx.err(`watch ${path}: ${noticeText(n)}\n`),
        onNote: (m) => ctx.err(`watch ${path}: ${m}\n`),
        onHookFailed: () => undefined, // no --exec in the shell
        onStart: (mechanism) => ctx.err(`watching ${path}${flags.r ? ' and its descendants' : ''} (${mechanism} watch); Ctrl-C to stop\n`),
      });
    },
  }),
  exit: command({
    noPager: true,
    usage: 'exit [CODE]',
    summary: 'Leave the shell (also: quit, Ctrl-D).',
    opts: false,
    args: { max: Infinity },
    run: async () => undefined, // handled by the loop
  }),
};

/** Aliases people type out of habit (zkCli). */
export const ALIASES: Record<string, string> = { quit: 'exit', ll: 'ls -l', delete: 'rm', deleteall: 'rm -r', '?': 'help' };
