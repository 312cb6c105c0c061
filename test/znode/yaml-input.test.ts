/**
 * Every YAML input besides config publish and import (covered in test/config and
 * test/backup): node data (get --format yaml) and the contexts file. Duplicate
 * keys are refused by zkctl's linear check, alias bombs are usage errors naming
 * the line (issue 10, items 8 and 15).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { loadConfig } from '../../src/cli/context.js';
import { parseYamlData } from '../../src/core/data.js';
import { UsageError } from '../../src/core/errors.js';
import { findDuplicateKey, parseYamlDocument } from '../../src/core/yaml-input.js';

const bomb = `a: &a0 [x,x,x,x,x,x,x,x,x,x]\nb: &a1 [${'*a0,'.repeat(9)}*a0]\nc: &a2 [${'*a1,'.repeat(9)}*a1]\nd: [${'*a2,'.repeat(9)}*a2]\n`;

describe('YAML inputs', () => {
  it('node data: a duplicate key and an alias bomb are usage errors with the line', () => {
    assert.deepEqual(parseYamlData(Buffer.from('a: 1\nb: [x, y]\n'), '/n'), { a: 1, b: ['x', 'y'] });
    assert.throws(() => parseYamlData(Buffer.from('a: 1\nb: 2\na: 3\n'), '/n'), (e: Error) => e instanceof UsageError && /^\/n: data is not valid YAML \(line 3\): Map keys must be unique: "a"/.test(e.message));
    assert.throws(() => parseYamlData(Buffer.from(bomb), '/n'), (e: Error) => e instanceof UsageError && /^\/n: data is not valid YAML \(line 2\): aliases expand to too much data/.test(e.message));
  });

  it('the contexts file: an alias bomb is a usage error naming the file and line', () => {
    const dir = mkdtempSync(join(process.env.ZKCTL_TEST_TMP ?? tmpdir(), 'yaml-input-'));
    try {
      const path = join(dir, 'config.yaml');
      writeFileSync(path, `contexts:\n  x: {server: "h:1"}\n${bomb}`);
      assert.throws(() => loadConfig(path), (e: Error) => e instanceof UsageError && e.message.includes(path) && /line 4: aliases expand to too much data/.test(e.message));
      writeFileSync(path, 'contexts:\n  x: {server: "h:1"}\n  x: {server: "h:2"}\n');
      assert.throws(() => loadConfig(path), (e: Error) => e instanceof UsageError && /line 3: Map keys must be unique: "x"/.test(e.message));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('finds duplicates with the library rule: same scalar value; "<<" only as a merge key', () => {
    const dup = (t: string, merge = false): string | undefined => findDuplicateKey(parseYamlDocument(t, { merge }).doc, merge)?.key;
    assert.equal(dup('a: 1\nb: 2\n'), undefined);
    assert.equal(dup('1: a\n"1": b\n'), undefined); // a number and a string
    assert.equal(dup('1: a\n1: b\n'), '1');
    assert.equal(dup('x: {a: 1}\ny: {a: 2}\n'), undefined); // different mappings
    assert.equal(dup('b: &b {x: 1}\nc:\n  <<: *b\n  <<: *b\n', true), undefined);
    assert.equal(parseYamlDocument('a: 1\na: 2\n').error?.line, 2);
  });
});
