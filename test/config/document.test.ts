/** The YAML <-> document <-> JSON mapping rules (no ZooKeeper needed). */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parse as parseYaml } from 'yaml';
import {
  ConfigInputError,
  configEquals,
  decodeJson,
  encodeJson,
  fromPlain,
  keyProblem,
  layoutOf,
  parseConfigYaml,
  toYaml,
  validateDocument,
  type ConfigMap,
} from '../../src/core/config/document.js';
import { CreateFlag, type MultiOp, writeMulti } from '../../src/core/protocol/records.js';
import { body } from '../../src/core/protocol/transport.js';
import { countChanges, diffDocuments } from '../../src/core/config/diff.js';
import { renderChanges, resultJson } from '../../src/output/config.js';
import { decodeLeaf, interpretTree, mergeKeep, multiRequestBytes, type LiveNode } from '../../src/core/recipes/config-publish.js';

const NESTED = `# a nested document
name: myapp
db:
  host: db.example.com
  port: 5432
  ratio: 1.0
  pool: {min: 2, max: 10}
"80": http
zeta: last-but-one
alpha: [a, 1, 2.5, true, null, {x: 1, "2": y}, [nested]]
empty: {}
nothing: null
big: 123456789012345678901234567890
zip: "02134"
when: 2024-01-01
yes_is_string: yes
hex: 0x1F
multiline: |
  line 1
  line 2
`;

describe('parse', () => {
  test('nested document: types, key order (also integer-like keys), YAML 1.2 core', () => {
    const d = parseConfigYaml(NESTED, 'app.yaml');
    assert.deepEqual([...d.keys()], ['name', 'db', '80', 'zeta', 'alpha', 'empty', 'nothing', 'big', 'zip', 'when', 'yes_is_string', 'hex', 'multiline']);
    const db = d.get('db') as ConfigMap;
    assert.equal(db.get('port'), 5432n);
    assert.equal(db.get('ratio'), 1.0);
    assert.equal(typeof db.get('ratio'), 'number');
    assert.deepEqual([...(db.get('pool') as ConfigMap).entries()], [['min', 2n], ['max', 10n]]);
    assert.equal(d.get('big'), 123456789012345678901234567890n);
    assert.equal(d.get('zip'), '02134');
    assert.equal(d.get('when'), '2024-01-01');
    assert.equal(d.get('yes_is_string'), 'yes');
    assert.equal(d.get('hex'), 31n);
    assert.equal(d.get('multiline'), 'line 1\nline 2\n');
    assert.ok(d.get('empty') instanceof Map);
    assert.equal(d.get('nothing'), null);
  });

  test('YAML out and back gives an equal document (order and types)', () => {
    const d = parseConfigYaml(NESTED);
    const again = parseConfigYaml(toYaml(d));
    assert.ok(configEquals(d, again), toYaml(again));
    assert.match(toYaml(d), /ratio: 1\.0/);
    assert.match(toYaml(d), /"80": http/);
  });

  test('strings a YAML 1.1 reader would misread are quoted in YAML out', () => {
    const d = fromPlain({ a: 'yes', b: 'off', c: '1:30', d: '2001-12-14', e: '1_000', f: 'No', g: 'hello', on: 'x' });
    const text = toYaml(d);
    // The yaml package's own YAML 1.1 mode reads it back with every value still a string.
    const as11 = parseYaml(text, { version: '1.1' }) as Record<string, unknown>;
    assert.deepEqual(as11, { a: 'yes', b: 'off', c: '1:30', d: '2001-12-14', e: '1_000', f: 'No', g: 'hello', on: 'x' }, text);
    assert.match(text, /^g: hello$/m, 'ordinary strings stay plain');
    assert.ok(configEquals(d, parseConfigYaml(text)));
  });

  test('aliases without loops are expanded', () => {
    const d = parseConfigYaml('base: &b {x: 1}\ncopy: *b\nlist: [*b]\n');
    assert.equal(encodeJson(d), '{"base":{"x":1},"copy":{"x":1},"list":[{"x":1}]}');
  });

  test('keys inside lists may be anything JSON allows', () => {
    const d = parseConfigYaml('routes: [{"/api/v1": svc, "": empty}]\n');
    assert.equal(encodeJson(d), '{"routes":[{"/api/v1":"svc","":"empty"}]}');
  });

  const bad: Array<[string, string, RegExp]> = [
    ['syntax', 'a: [1, 2\nb: 3\n', /^x\.yaml:2:1: invalid YAML/],
    ['alias loop', 'a: &x [1, *x]\n', /^x\.yaml:1:\d+: alias \*x .*loop/],
    ['integer key', 'a:\n  80: http\n', /^x\.yaml:2:3: key 80 at a is not a string/],
    ['list key', '? [1]\n: x\n', /is a list, not a string/],
    ['null key', 'null: 1\n', /key .* is null/],
    ['binary tag', 'a: !!binary aGVsbG8=\n', /^x\.yaml:1:\d+: tag !!binary at a is not supported/],
    ['timestamp tag', 'a: !!timestamp 2020-01-01\n', /tag !!timestamp/],
    ['set tag', 'a: !!set {x}\n', /tag !!set/],
    ['custom tag', 'a: !foo x\n', /Unresolved tag/],
    ['slash key', 'a/b: 1\n', /cannot become a znode: .*"\/"/],
    ['dot key', 'x:\n  "..": 1\n', /x\.yaml:2:3: key "\.\." at x cannot become a znode/],
    ['empty key', '"": 1\n', /empty string/],
    ['reserved key', '.zkctl-history: 1\n', /reserved for zkctl/],
    ['control char key', '"a\\u0001b": 1\n', /invalid character/],
    ['emoji key', '"\\U0001F600": 1\n', /Basic Multilingual Plane/],
    ['infinity', 'a: .inf\n', /cannot be stored/],
    ['nan', 'a: [.nan]\n', /cannot be stored/],
    ['duplicate key', 'a: 1\na: 2\n', /^x\.yaml:2:1: invalid YAML: Map keys must be unique/],
    // issue 10.8: the library's own (quadratic) check is off; these are found by zkctl's linear one
    ['duplicate key, nested', 'a:\n  b: 1\n  c: 2\n  b: 3\n', /^x\.yaml:4:3: invalid YAML: Map keys must be unique: "b"; it is also at line 2/],
    ['duplicate key, quoted and plain', 'a: 1\n"a": 2\n', /^x\.yaml:2:1: invalid YAML: Map keys must be unique: "a"/],
    ['duplicate key, in a flow mapping in a list', 'l: [{x: 1, x: 2}]\n', /^x\.yaml:1:\d+: invalid YAML: Map keys must be unique: "x"/],
    ['duplicate key, through an alias', 'k: &k a\nm: {a: 1, *k : 2}\n', /Map keys must be unique: "a"/],
    ['duplicate key at the end of 20k keys', `${Array.from({ length: 20_000 }, (_, i) => `k${i}: v\n`).join('')}k7: again\n`, /^x\.yaml:20001:1: invalid YAML: Map keys must be unique: "k7"; it is also at line 8/],
    ['several documents', 'a: 1\n---\nb: 2\n', /more than one YAML document/],
    ['empty document', '# nothing\n', /the document is empty/],
    ['not a mapping', '- 1\n- 2\n', /must be a mapping/],
    ['scalar document', 'hello\n', /must be a mapping/],
  ];
  for (const [name, text, re] of bad) {
    test(`refused: ${name}`, () => {
      assert.throws(
        () => parseConfigYaml(text, 'x.yaml'),
        (e: unknown) => e instanceof ConfigInputError && e.exitCode === 2 && re.test(e.message) && !e.message.includes('\n'),
      );
    });
  }

  test('keyProblem', () => {
    assert.equal(keyProblem('db'), undefined);
    assert.equal(keyProblem('with space and ünïcödé'), undefined);
    assert.equal(keyProblem('.hidden'), undefined);
    assert.ok(keyProblem('a/b'));
    assert.ok(keyProblem('.zkctl'));
    assert.ok(keyProblem('\u0000'));
  });

  test('validateDocument applies the same rules to documents built in code', () => {
    assert.doesNotThrow(() => validateDocument(fromPlain({ a: { b: [1, 2.5, 'x'] } }) as ConfigMap));
    assert.throws(() => validateDocument(fromPlain({ 'a/b': 1 }) as ConfigMap), ConfigInputError);
    assert.throws(() => validateDocument(new Map([['a', Infinity]])), ConfigInputError);
  });
});

describe('canonical JSON', () => {
  test('leaf encoding keeps integers, floats and strings apart', () => {
    assert.equal(encodeJson(5432n), '5432');
    assert.equal(encodeJson(5432), '5432.0');
    assert.equal(encodeJson('5432'), '"5432"');
    assert.equal(encodeJson(-0), '-0.0');
    assert.equal(encodeJson(1e21), '1e+21');
    assert.equal(encodeJson(0.1), '0.1');
    assert.equal(encodeJson([1n, 'a', null, true]), '[1,"a",null,true]');
  });

  test('decodeJson is the inverse (order, big integers, floats)', () => {
    for (const text of ['5432', '5432.0', '"5432"', '-0.0', '1e+21', '[1,"a",null,true,{"b":1,"2":2,"a":[]}]', '123456789012345678901234567890', '"\\u0000😀"']) {
      assert.equal(encodeJson(decodeJson(text)), text);
    }
    assert.equal(decodeJson('"\\ud83d\\ude00"'), '😀');
    assert.throws(() => decodeJson('{"a":1'));
    assert.throws(() => decodeJson('01'));
    // One scanner (json-scan.ts) for this and the backup reader: it says where and why.
    assert.throws(() => decodeJson('{"a":1'), /expected "," or "}" but found end of file \(truncated\?\) at offset 6/);
    assert.throws(() => decodeJson('"\\q"'), /invalid escape in a string at offset 1/);
    assert.throws(() => decodeJson('['.repeat(1000) + ']'.repeat(1000)), /nesting too deep/);
    assert.equal(decodeJson('"a\\u0041"'), 'aA');
    assert.throws(() => decodeJson('1 2'));
  });

  test('decodeLeaf: data written by others is shown as text', () => {
    assert.equal(decodeLeaf(Buffer.from('localhost')), 'localhost');
    assert.equal(decodeLeaf(Buffer.from('{"a":1}')), '{"a":1}');
    assert.equal(decodeLeaf(Buffer.from('42')), 42n);
  });

  test('resultJson keeps document order and float-ness inside documents', () => {
    const doc = parseConfigYaml('b: 1.0\n"1": x\n');
    assert.equal(resultJson({ version: 3, document: doc }, 0), '{"version":3,"document":{"b":1.0,"1":"x"}}');
  });
});

describe('layout and interpretation', () => {
  test('layoutOf records every znode mapping in order', () => {
    const d = parseConfigYaml('z: {b: 1, a: {}}\ny: [ {k: 1} ]\n');
    assert.deepEqual(layoutOf(d), { '': ['z', 'y'], z: ['b', 'a'], 'z/a': [] });
  });

  test('interpretTree follows the recorded order, unrecorded keys last by name', () => {
    const stat = { czxid: 0n, mzxid: 0n, ctime: 0, mtime: 0, version: 0, cversion: 0, aversion: 0, ephemeralOwner: 0n, dataLength: 0, numChildren: 0, pzxid: 0n };
    const leaf = (name: string, data: string, children: LiveNode[] = []): LiveNode => ({ name, path: `/p/${name}`, data: Buffer.from(data), stat, children });
    const root: LiveNode = { name: '', path: '/p', data: Buffer.alloc(0), stat, children: [leaf('b', '2'), leaf('zz', 'raw'), leaf('a', '1'), leaf('m', '', [leaf('k', '"v"')]), leaf('e', '')] };
    const d = interpretTree(root, { '': ['b', 'a', 'm'], m: ['k'] });
    assert.equal(encodeJson(d), '{"b":2,"a":1,"m":{"k":"v"},"e":{},"zz":"raw"}');
  });

  test('mergeKeep keeps live keys in their place', () => {
    const live = parseConfigYaml('a: 1\nb: 2\nc: 3\nd: {x: 1, y: 2}\n');
    const file = parseConfigYaml('a: 10\nc: 30\nd: {y: 20}\n');
    assert.equal(encodeJson(mergeKeep(file, live)), '{"a":10,"b":2,"c":30,"d":{"x":1,"y":20}}');
  });

  test('multiRequestBytes counts the chroot', () => {
    const ops = [{ op: 'create' as const, path: '/a', data: Buffer.from('x') }];
    assert.equal(multiRequestBytes(ops, '/chroot') - multiRequestBytes(ops), '/chroot'.length);
  });

  test('multiRequestBytes is the size of the serialized request, counted without serializing it', () => {
    const acl = [{ perms: 31, id: { scheme: 'digest', id: 'ü:hash=' } }, { perms: 1, id: { scheme: 'world', id: 'anyone' } }];
    const ops: MultiOp[] = [
      { op: 'check', path: '/p', version: 3 },
      { op: 'create', path: '/p/ä', data: Buffer.from('héllo') },
      { op: 'create', path: '/p/b', acl },
      { op: 'create', path: '/p/c', data: Buffer.alloc(10), acl, flags: CreateFlag.CONTAINER },
      { op: 'create', path: '/p/t', flags: CreateFlag.PERSISTENT_WITH_TTL, ttlMs: 5000 },
      { op: 'create', path: '/p/s', flags: CreateFlag.PERSISTENT_SEQUENTIAL_WITH_TTL, ttlMs: 5000 },
      { op: 'delete', path: '/p/d' },
      { op: 'set', path: '/', data: Buffer.from('{"x":1}'), version: 7 },
    ];
    for (const chroot of ['', '/', '/chröot']) {
      const root = chroot && chroot !== '/' ? chroot : '';
      const written = body((w) => writeMulti(w, ops, (p) => (root ? (p === '/' ? root : root + p) : p)));
      assert.equal(multiRequestBytes(ops, chroot), 8 + written.length, `chroot ${JSON.stringify(chroot)}`);
    }
    assert.equal(multiRequestBytes([]), 8 + body((w) => writeMulti(w, [], (p) => p)).length);
  });
});

describe('diff', () => {
  test('added, changed, removed, reordered, type changes', () => {
    const a = parseConfigYaml('a: 1\nb: {x: 1, y: 2}\nc: [1]\nd: {}\ne: x\n');
    const b = parseConfigYaml('b: {y: 2, x: 3}\na: 1\nc: {k: v}\nd: {n: 1}\nf: new\n');
    const changes = diffDocuments(a, b);
    const text = renderChanges(changes);
    assert.match(text, /^~ \(top level\) \(key order\): \[a, b, c, d, e\] -> \[b, a, c, d, f\]$/m);
    assert.match(text, /^~ b \(key order\)/m);
    assert.match(text, /^~ b\/x: 1 -> 3$/m);
    assert.match(text, /^- c: \[1\]$/m);
    assert.match(text, /^\+ c\/k: "v"$/m);
    assert.match(text, /^- d: \{\}$/m);
    assert.match(text, /^\+ d\/n: 1$/m);
    assert.match(text, /^- e: "x"$/m);
    assert.match(text, /^\+ f: "new"$/m);
    assert.deepEqual(countChanges(changes), { added: 3, changed: 1, removed: 3, reordered: 2 });
    assert.deepEqual(diffDocuments(a, a), []);
  });
});
