/**
 * The fast path of parseConfigYaml (src/core/config/yaml-fast.ts) against the
 * yaml library path: over generated documents (the simple subset, plus
 * mutations outside it), both give the same document or the same error
 * (message, file, line and column). No ZooKeeper needed.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parse as parseYaml, Schema as YamlSchema } from 'yaml';
import { keyProblem, MAX_DEPTH, MAX_NODES, parseConfigYaml } from '../../src/core/config/document.js';
import { parseSimpleConfigYaml } from '../../src/core/config/yaml-fast.js';

const limits = { maxNodes: MAX_NODES, maxDepth: MAX_DEPTH, keyProblem };

/** mulberry32: a small seeded PRNG, so a failure can be replayed from its seed. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const KEYS = [
  'a', 'b', 'name', 'db', 'host', 'port', 'key-1', 'x_y', 'k.v', 'with space', 'a#b', 'a:b', '-dash', 'ünï', '日本',
  '"quoted"', "'single'", "'it''s'", '"esc\\u0041"', '"a\\"b"', '1', '0x1F', 'true', 'null', '~', 'yes', '<<', '"1"',
  '""', '.', '..', 'zookeeper', '"a/b"', 'k ', '? q', '&anc', '*ali', '!tag', '[a]', '{a}', '-', '%p', '@x', '`x`',
];
const VALUES = [
  'v', 'value number 1', '0', '-5', '+7', '007', '0o17', '0o8', '0x1F', '0xG', '1.5', '1.', '.5', '1e3', '-1.5e-3', '1_000',
  '.inf', '-.inf', '.nan', '.NaN', 'true', 'True', 'TRUE', 'false', 'tRue', 'yes', 'no', 'on', 'null', 'Null', '~', '',
  '123456789012345678901234567890', '2024-01-01', '"02134"', "'02134'", '"a # b"', 'a # comment', 'a#b', 'http://x:80/y',
  'a: b', 'a:', 'a :b', '"tab\\tx"', '"nl\\n"', '"\\x41"', '"\\e"', '"\\/"', '"\\u00e9"', '"\\ud83d\\ude00"', '"bad\\q"',
  "'it''s'", "'unterminated", '"unterminated', '"a" trailing', "'a' # c", '- item', '-x', '- ', '[1, 2]', '{a: 1}',
  '&a v', '*a', '!!str 5', '!!int "5"', '|', '>', '%x', '@x', '`x`', ',x', '? x', ': x', 'x ]', 'ü', 'emoji 😀',
  '"\\\\"', '"a\\\\"', '" spaced "', "' spaced '", '  lead', 'trail  ', '# only comment',
];

function pick<T>(r: () => number, xs: T[]): T {
  return xs[Math.floor(r() * xs.length)]!;
}

/** A random document: mostly the simple subset, sometimes with one line mutated outside it. */
function genDoc(r: () => number, clean: boolean): string {
  const lines: string[] = [];
  const gen = (indent: number, depth: number, n: number): void => {
    for (let i = 0; i < n; i++) {
      const pad = ' '.repeat(indent);
      const key = clean ? `k${i}${pick(r, ['', '-x', '.y', '_z'])}` : r() < 0.15 ? pick(r, KEYS) : `k${i}`;
      if (r() < 0.1) lines.push(r() < 0.5 ? '' : `${pad}# comment ${i}`);
      if (depth < 3 && r() < 0.2) {
        lines.push(`${pad}${key}:${r() < 0.2 ? ' # nested' : ''}`);
        gen(indent + pick(r, [2, 4, 1]), depth + 1, 1 + Math.floor(r() * 4));
      } else {
        let v = clean ? pick(r, ['v', '1', '1.5', 'true', 'null', '"q"', "'s'", '0x1F', 'yes', '"02134"', 'a b c', '']) : pick(r, VALUES);
        if (r() < 0.1) v += ' # trailing comment';
        lines.push(`${pad}${key}:${v === '' ? '' : ' '}${v}`);
      }
    }
  };
  gen(0, 0, 1 + Math.floor(r() * 8));
  if (!clean && r() < 0.5) {
    const mutations = [
      (l: string) => `${l}\n${l}`, // duplicate key
      (l: string) => l.replace(': ', ':\t'),
      (l: string) => `${l}\n   continued`,
      (l: string) => `${l}\n ${l}`, // odd indentation
      (l: string) => `${l}\r`,
      (l: string) => `---\n${l}`,
      (l: string) => `${l}\n...`,
      (l: string) => `%YAML 1.2\n---\n${l}`,
      (l: string) => `${l}\n- item`,
      (l: string) => l.replace(/^( *)/, '$1? '),
      (l: string) => `\ufeff${l}`,
      (l: string) => `${l}\u0007`,
      (l: string) => `${l}\n  `,
    ];
    const at = Math.floor(r() * lines.length);
    lines[at] = pick(r, mutations)(lines[at]!);
  }
  return lines.join('\n') + (r() < 0.8 ? '\n' : '');
}

function outcome(text: string, fast: boolean): { value?: unknown; error?: string } {
  try {
    return { value: parseConfigYaml(text, 'f.yaml', { fast }) };
  } catch (e) {
    return { error: `${(e as Error).constructor.name}: ${(e as Error).message} | ${(e as { hint?: string }).hint ?? ''}` };
  }
}

describe('config YAML fast path', () => {
  test('gives exactly what the yaml library path gives, over generated documents', () => {
    let tookFast = 0;
    let total = 0;
    for (let seed = 1; seed <= 4000; seed++) {
      const r = rng(seed);
      const clean = seed % 3 === 0;
      const text = genDoc(r, clean);
      const slow = outcome(text, false);
      const fast = outcome(text, true);
      assert.deepEqual(fast, slow, `seed ${seed}: fast path differs on:\n${text}`);
      if (parseSimpleConfigYaml(text, limits) !== undefined) tookFast++;
      total++;
      if (clean) assert.ok(parseSimpleConfigYaml(text, limits) !== undefined, `seed ${seed}: a simple document went to the library:\n${text}`);
    }
    // the comparison means something only if the fast path took a good share
    assert.ok(tookFast > total / 3, `fast path took only ${tookFast} of ${total}`);
  });

  test("yaml's core-schema scalar tags are the ones the fast path's first-character shortcut assumes", () => {
    // yaml-fast.ts returns a plain scalar not starting with [-+.0-9~nNtTfF] as a string without testing the tags:
    // a yaml upgrade that changes the core schema must fail here.
    const tags = (new YamlSchema({ schema: 'core', merge: false }) as unknown as { tags: { default?: unknown; test?: RegExp; collection?: string }[] }).tags
      .filter((t) => t.test && !t.collection)
      .map((t) => `${String(t.default)} ${String(t.test)}`);
    assert.deepEqual(tags, [
      'true /^(?:~|[Nn]ull|NULL)?$/',
      'true /^(?:[Tt]rue|TRUE|[Ff]alse|FALSE)$/',
      'true /^0o[0-7]+$/',
      'true /^[-+]?[0-9]+$/',
      'true /^0x[0-9a-fA-F]+$/',
      'true /^(?:[-+]?\\.(?:inf|Inf|INF)|\\.nan|\\.NaN|\\.NAN)$/',
      'true /^[-+]?(?:\\.[0-9]+|[0-9]+(?:\\.[0-9]*)?)[eE][-+]?[0-9]+$/',
      'true /^[-+]?(?:\\.[0-9]+|[0-9]+\\.[0-9]*)$/',
    ]);
  });

  test('values resolve as in the YAML 1.2 core schema (ints as BigInt, hex, octal, floats, null, booleans)', () => {
    const text = 'a: 0x1F\nb: 0o17\nc: 12\nd: 1.5\ne: ~\nf: True\ng: yes\nh: "02134"\ni: \'it\'\'s\'\nj: x # c\nk:\nl:\n  m: -3\n';
    const fast = parseSimpleConfigYaml(text, limits);
    assert.ok(fast, 'taken by the fast path');
    assert.deepEqual(
      fast,
      new Map<string, unknown>([
        ['a', 31n], ['b', 15n], ['c', 12n], ['d', 1.5], ['e', null], ['f', true], ['g', 'yes'], ['h', '02134'], ['i', "it's"],
        ['j', 'x'], ['k', null], ['l', new Map([['m', -3n]])],
      ]),
    );
    assert.deepEqual(parseConfigYaml(text, 'f.yaml', { fast: false }), fast);
  });

  test('errors come from the library path, with file and line: duplicate key, infinity, bad key', () => {
    assert.throws(() => parseConfigYaml('a: 1\nb: 2\na: 3\n', 'f.yaml'), /^Error: f\.yaml:3:1: invalid YAML: Map keys must be unique: "a"; it is also at line 1$|f\.yaml:3:1: .*Map keys must be unique/);
    assert.throws(() => parseConfigYaml('a: .inf\n', 'f.yaml'), /f\.yaml:1:4: .inf at a cannot be stored/);
    assert.throws(() => parseConfigYaml('1: x\n', 'f.yaml'), /f\.yaml:1:1: key 1 at .* is not a string/);
  });

  test('50k keys take the fast path and give what the yaml library gives (speed: npm run bench:yaml, not a timed test)', () => {
    let text = '';
    for (let i = 0; i < 50_000; i++) text += `key${i}: value number ${i}\n`;
    const fast = parseSimpleConfigYaml(text, { maxNodes: MAX_NODES, maxDepth: MAX_DEPTH, keyProblem });
    assert.ok(fast, 'a flat mapping of plain scalars is inside the fast subset');
    assert.equal(fast.size, 50_000);
    const raw = parseYaml(text, { uniqueKeys: false, intAsBigInt: true, schema: 'core', version: '1.2' }) as Record<string, unknown>;
    assert.equal(fast.get('key49999'), raw.key49999);
    assert.deepEqual(parseConfigYaml(text, 'big.yaml'), parseConfigYaml(text, 'big.yaml', { fast: false }));
  });
});
