/**
 * The README's console examples are a test (issue 11): every ```console block of README.md runs, in
 * order, against a fresh private ensemble (the tour's own `zkctl ensemble up`, on free ports, with state
 * and contexts in a temp dir), and each command's exit status and the shape of its output must match.
 *
 * Conventions of a ```console block (keep the README to them):
 * - `$ CMD` is a command, run by bash (zkctl is the repo's bin/zkctl.js; `-o table` is added when the
 *   command names no -o/--output/--json, as on a terminal); stderr is shown with stdout, as a terminal shows it.
 *   The lines after it, up to the next `$ ` line, are its output (trailing blank lines do not count).
 * - Exit status: 0, unless the line ends with a comment `# exit N` (other `# ...` comments are ignored),
 *   or the next command is `$ echo $?` whose output is N.
 * - `$ CMD &` runs CMD in the background (a `zkctl watch`: the next command starts once the servers
 *   count its watch); `$ wait` waits for it, and the output shown after `$ wait` is the background command's.
 * - An output ending with a line `...` shows only its first lines.
 * - A block right after a line `<!-- readme-test: skip -->` is not run (commands that need your own files).
 *
 * The shape, not the bytes: times, dates, zxids, hex, pids, ports, sizes and every other number are
 * ignored. Compared: the number of lines; a table header's words; each other line's first and last word;
 * for a JSON line, its keys and its "type". A failure names the README line and shows both outputs, so a
 * changed output (a renamed field, a new column) is fixed in the README in a minute:
 * `ZKCTL_README_RECORD=/tmp/out.txt node scripts/run-tests.mjs test/readme` writes every command's real
 * output and exit status there instead of checking them.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { appendFileSync, mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fourLetterWord } from '../../src/core/fourlw.js';
import { freeBasePort, load } from '../../src/ensemble/index.js';
import { repoRoot, testPortStart } from '../helpers/zk.js';

export interface ReadmeCommand {
  /** 1-based README line of the `$ ` line. */
  line: number;
  /** The command as typed (comment stripped). */
  cmd: string;
  background: boolean;
  expectedExit: number;
  /** Output lines shown in the README. */
  output: string[];
}

/** Every runnable command of README.md's ```console blocks, in order. */
export function parseReadme(text: string): ReadmeCommand[][] {
  const lines = text.split('\n');
  const blocks: ReadmeCommand[][] = [];
  let cur: ReadmeCommand[] | undefined;
  let skipNext = false;
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i]!;
    if (cur === undefined) {
      if (/^<!--\s*readme-test:\s*skip\s*-->/.test(l)) skipNext = true;
      else if (/^```console\s*$/.test(l)) {
        cur = [];
        if (skipNext) (cur as ReadmeCommand[] & { skip?: boolean }).skip = true;
        skipNext = false;
      } else if (l.trim() !== '') skipNext = false;
      continue;
    }
    if (/^```\s*$/.test(l)) {
      if (!(cur as { skip?: boolean }).skip) blocks.push(cur);
      cur = undefined;
      continue;
    }
    if (l.startsWith('$ ')) {
      let cmd = l.slice(2);
      let expectedExit = 0;
      const m = /\s+#(?:\s(.*))?$/.exec(cmd);
      if (m) {
        const ex = /^exit (\d+)\b/.exec((m[1] ?? '').trim());
        if (ex) expectedExit = Number(ex[1]);
        cmd = cmd.slice(0, m.index);
      }
      cmd = cmd.trim();
      const background = /\s&$/.test(cmd);
      if (background) cmd = cmd.replace(/\s*&$/, '');
      cur.push({ line: i + 1, cmd, background, expectedExit, output: [] });
    } else if (cur.length > 0) cur[cur.length - 1]!.output.push(l);
  }
  for (const b of blocks) {
    for (let k = 0; k < b.length; k++) {
      const c = b[k]!;
      while (c.output.length > 0 && c.output[c.output.length - 1]!.trim() === '') c.output.pop();
      const next = b[k + 1];
      if (next && next.cmd === 'echo $?' && next.output.length > 0) c.expectedExit = Number(next.output[0]!.trim());
    }
  }
  return blocks;
}

const ANSI = /\x1b\[[0-9;]*m/g;

/** A line with everything volatile (times, zxids, numbers) replaced by '#'. */
export function normalise(line: string): string {
  return line
    .replace(ANSI, '')
    .replace(/\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d+)?Z?/g, '#')
    .replace(/\b(Mon|Tue|Wed|Thu|Fri|Sat|Sun) \w{3} +\d+ \d{2}:\d{2}:\d{2} \w+ \d{4}\b/g, '#')
    .replace(/0x[0-9a-fA-F]+/g, '#')
    .replace(/\d+(\.\d+)?/g, '#')
    .replace(/#(\s*[#/.:,]\s*#)+/g, '#')
    .replace(/\s+/g, ' ')
    .trim();
}

function isHeader(line: string): boolean {
  const words = line.trim().split(/\s+/);
  return words.length >= 2 && words.every((w) => /^[A-Z][A-Z/_-]*$/.test(w));
}

function jsonShape(line: string): { keys: string; type?: unknown } | undefined {
  if (!/^\s*[{[]/.test(line)) return undefined;
  try {
    const v = JSON.parse(line) as unknown;
    if (v && typeof v === 'object' && !Array.isArray(v)) return { keys: Object.keys(v).sort().join(','), type: (v as { type?: unknown }).type };
    return { keys: Array.isArray(v) ? '[array]' : typeof v };
  } catch {
    return undefined;
  }
}

/** Why `actual` does not have the shape of `expected` (undefined: it does). */
export function shapeMismatch(expected: string[], actual: string[]): string | undefined {
  const prefixOnly = expected.length > 0 && expected[expected.length - 1]!.trim() === '...';
  const exp = prefixOnly ? expected.slice(0, -1) : expected;
  if (prefixOnly ? actual.length < exp.length : actual.length !== exp.length) {
    return `${actual.length} output lines, the README shows ${exp.length}${prefixOnly ? ' (or more)' : ''}`;
  }
  for (let i = 0; i < exp.length; i++) {
    const e = exp[i]!;
    const a = actual[i]!;
    const ej = jsonShape(e);
    if (ej) {
      const aj = jsonShape(a);
      if (!aj) return `line ${i + 1}: the README shows JSON, got: ${a}`;
      if (aj.keys !== ej.keys) return `line ${i + 1}: JSON keys ${aj.keys}, the README shows ${ej.keys}`;
      if (aj.type !== ej.type) return `line ${i + 1}: JSON "type" ${String(aj.type)}, the README shows ${String(ej.type)}`;
      continue;
    }
    const en = normalise(e);
    const an = normalise(a);
    if (isHeader(e)) {
      if (an !== en) return `line ${i + 1}: header "${an}", the README shows "${en}"`;
      continue;
    }
    const ew = en.split(' ');
    const aw = an.split(' ');
    if (ew[0] !== aw[0] || ew[ew.length - 1] !== aw[aw.length - 1]) {
      return `line ${i + 1}: "${a.trim()}" does not look like the README's "${e.trim()}" (first and last words, numbers ignored)`;
    }
  }
  return undefined;
}

interface Run {
  code: number;
  out: string[];
}

describe('README console examples', () => {
  const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8');
  const blocks = parseReadme(readme);
  const scratch = mkdtempSync(join(process.env.ZKCTL_TEST_TMP ?? tmpdir(), 'readme-'));
  const state = join(scratch, 'state');
  const work = join(scratch, 'work');
  mkdirSync(work, { recursive: true });
  const env: NodeJS.ProcessEnv = { ...process.env, XDG_STATE_HOME: state, XDG_CONFIG_HOME: join(scratch, 'config'), XDG_CACHE_HOME: join(scratch, 'cache'), NO_COLOR: '1', COLUMNS: '200' };
  for (const k of ['ZKCTL_SERVER', 'ZKCTL_AUTH', 'ZKCTL_CONTEXT']) delete env[k];
  const bin = join(repoRoot, 'bin', 'zkctl.js');
  let basePort = 0;
  const prelude = `zkctl() { case " $* " in *" -o "*|*" --output"*|*" --json "*|*" -o"[a-z]*) node '${bin}' "$@";; *) node '${bin}' -o table "$@";; esac; }\nexec 2>&1\n`;

  after(async () => {
    try {
      await load(join(state, 'zkctl', 'ensembles', 'local')).down({ purge: true });
    } catch {
      /* never started */
    }
  });

  const runBash = (cmd: string, timeoutMs = 90_000): { done: Promise<Run> } => {
    const child = spawn('bash', ['-c', prelude + cmd], { cwd: work, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    return {
      done: new Promise((resolve) =>
        child.on('close', (code, sig) => {
          clearTimeout(timer);
          const lines = out.replace(/\n$/, '').split('\n');
          resolve({ code: code ?? (sig ? 128 + 9 : -1), out: out === '' ? [] : lines });
        }),
      ),
    };
  };

  const totalWatches = async (): Promise<number> => {
    let n = 0;
    for (let i = 0; i < 9; i++) {
      try {
        const t = await fourLetterWord('127.0.0.1', basePort + i, 'wchs', { timeoutMs: 1000 });
        n += Number(/Total watches:\s*(\d+)/.exec(t)?.[1] ?? 0);
      } catch {
        /* no member there */
      }
    }
    return n;
  };

  it('README.md has console examples', () => assert.ok(blocks.length > 0 && blocks[0]!.length > 3));

  blocks.forEach((block, bi) => {
    it(`console block ${bi + 1} (README line ${block[0]?.line ?? '?'})`, { timeout: 600_000 }, async () => {
      const record = process.env.ZKCTL_README_RECORD;
      const check = (why: string | undefined, msg: () => string, c: ReadmeCommand, r: Run): void => {
        if (record) appendFileSync(record, `$ ${c.cmd}${c.background ? ' &' : ''}      # exit ${r.code}\n${r.out.join('\n')}\n\n`);
        else assert.equal(why, undefined, msg());
      };
      let last = 0;
      let bg: { c: ReadmeCommand; done: Promise<Run> } | undefined;
      for (const c of block) {
        const where = `README.md:${c.line} \`$ ${c.cmd}\``;
        if (c.cmd === 'echo $?') {
          if (!process.env.ZKCTL_README_RECORD) assert.deepEqual(c.output.map((l) => l.trim()), [String(last)], `${where}: the exit status`);
          continue;
        }
        if (c.cmd === 'wait') {
          assert.ok(bg, `${where}: nothing runs in the background`);
          const r = await bg.done;
          const why = r.code !== bg.c.expectedExit ? `exit ${r.code}, the README expects ${bg.c.expectedExit}` : shapeMismatch(c.output, r.out);
          const b = bg.c;
          check(why, () => `README.md:${b.line} \`$ ${b.cmd} &\`: ${why}\n--- README shows (after $ wait):\n${c.output.join('\n')}\n--- got:\n${r.out.join('\n')}`, b, r);
          bg = undefined;
          continue;
        }
        let cmd = c.cmd;
        if (/^zkctl ensemble up\b/.test(cmd)) {
          basePort = await freeBasePort({ start: testPortStart() });
          cmd += ` --base-port ${basePort}`;
        }
        if (c.background) {
          const before = await totalWatches();
          bg = { c, done: runBash(cmd).done };
          const deadline = Date.now() + 30_000;
          while ((await totalWatches()) <= before) {
            assert.ok(Date.now() < deadline, `${where}: the background command set no watch within 30 s`);
            await new Promise((r) => setTimeout(r, 100));
          }
          continue;
        }
        const r = await runBash(cmd).done;
        last = r.code;
        const why = r.code !== c.expectedExit ? `exit ${r.code}, the README expects ${c.expectedExit}` : shapeMismatch(c.output, r.out);
        check(why, () => `${where}: ${why}\n--- README shows:\n${c.output.join('\n')}\n--- got:\n${r.out.join('\n')}`, c, r);
      }
      assert.equal(bg, undefined, 'a background command was never waited for (`$ wait`)');
    });
  });
});
