/**
 * The layers (issue 12, DESIGN.md "Layout"), checked over the import graph of src/:
 *
 *   commands -> cli -> bench -> output / ensemble -> core
 *
 * A file may import its own layer and the layers below it, never one above it nor a sibling
 * (output and ensemble do not import each other); a command never imports another command
 * (what two commands share lives in src/cli, src/output or below). oclif is imported only by
 * commands and cli, chalk only by commands, cli and output: core, ensemble and bench never print.
 * src/index.ts (the library's entry point) exports core and ensemble only.
 *
 * Imports are read from the sources with TypeScript's own pre-processor (static imports,
 * `export ... from`, dynamic `import()`, type-only imports alike: a type import still ties the layers).
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, posix, relative, sep } from 'node:path';
import { describe, it } from 'node:test';
import ts from 'typescript';
import { repoRoot } from '../helpers/zk.js';

type Layer = 'commands' | 'cli' | 'bench' | 'output' | 'ensemble' | 'core' | 'index';

/** Which layers each layer may import (its own included). */
const MAY_IMPORT: Record<Layer, readonly Layer[]> = {
  commands: ['commands', 'cli', 'bench', 'output', 'ensemble', 'core'],
  cli: ['cli', 'bench', 'output', 'ensemble', 'core'],
  bench: ['bench', 'ensemble', 'core'],
  output: ['output', 'core'],
  ensemble: ['ensemble', 'core'],
  core: ['core'],
  index: ['core', 'ensemble'],
};

/** Packages only some layers may import. */
const PACKAGES: Array<{ pattern: RegExp; layers: readonly Layer[] }> = [
  { pattern: /^@oclif\//, layers: ['commands', 'cli'] },
  { pattern: /^chalk$/, layers: ['commands', 'cli', 'output'] },
];

/**
 * Known violations that other changes of issue 12 remove. Each entry is "from -> to" (paths under
 * src/, .ts). An entry that no longer matches an import fails the test too: trim the list as they go.
 */
// Known exceptions, each with its reason (none today: keep it that way).
const ALLOWED: ReadonlyMap<string, string> = new Map<string, string>([]);

export interface Edge {
  from: string;
  to: string;
}

function layerOf(file: string): Layer | undefined {
  if (file === 'index.ts') return 'index';
  const top = file.split('/')[0]!;
  return top in MAY_IMPORT ? (top as Layer) : undefined;
}

/** The violations in a list of edges (`to` is a path under src/ for relative imports, else a package name). */
export function violations(edges: readonly Edge[]): string[] {
  const out: string[] = [];
  for (const { from, to } of edges) {
    const a = layerOf(from);
    if (!a) {
      out.push(`${from}: not in a known layer (${Object.keys(MAY_IMPORT).join(', ')})`);
      continue;
    }
    if (!to.endsWith('.ts')) {
      for (const p of PACKAGES) if (p.pattern.test(to) && !p.layers.includes(a)) out.push(`${from} -> ${to}: ${a} must not import ${to}`);
      continue;
    }
    const b = layerOf(to);
    if (!b || !MAY_IMPORT[a].includes(b)) out.push(`${from} -> ${to}: ${a} must not import ${b ?? to}`);
    else if (a === 'commands' && b === 'commands') out.push(`${from} -> ${to}: a command must not import another command (move what they share to src/cli, src/output or below)`);
  }
  return out;
}

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...sourceFiles(p));
    else if (e.isFile() && e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

/** Every import of every file under src/ (relative ones resolved to a path under src/). */
export function importGraph(srcDir: string): Edge[] {
  const edges: Edge[] = [];
  for (const file of sourceFiles(srcDir)) {
    const from = relative(srcDir, file).split(sep).join('/');
    const info = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
    for (const { fileName } of info.importedFiles) {
      if (fileName.startsWith('node:')) continue;
      if (!fileName.startsWith('.')) {
        edges.push({ from, to: fileName });
        continue;
      }
      const to = posix.normalize(posix.join(posix.dirname(from), fileName)).replace(/\.js$/, '.ts');
      edges.push({ from, to: to.endsWith('.ts') ? to : `${to}.ts` });
    }
  }
  return edges;
}

describe('layers: the import graph of src/', () => {
  const srcDir = join(repoRoot, 'src');
  const edges = importGraph(srcDir);

  it('reads the graph (a sanity check on the parser)', () => {
    assert.ok(edges.length > 500, `only ${edges.length} imports found`);
    assert.ok(edges.some((e) => e.from === 'commands/ensemble/status.ts' && e.to === 'cli/base.ts'));
    assert.ok(edges.some((e) => e.from.startsWith('core/') && e.to === 'core/errors.ts'));
    assert.ok(edges.some((e) => e.from.startsWith('commands/') && e.to === '@oclif/core'));
    assert.ok(dirname(srcDir).length > 0);
  });

  it('flags an import upwards, between siblings, a command importing a command, oclif/chalk below the CLI', () => {
    assert.deepEqual(
      violations([
        { from: 'core/recipes/owners.ts', to: 'ensemble/fourlw.ts' },
        { from: 'ensemble/local.ts', to: 'cli/context.ts' },
        { from: 'output/index.ts', to: 'ensemble/view.ts' },
        { from: 'commands/diff.ts', to: 'commands/cp.ts' },
        { from: 'core/shell/index.ts', to: 'chalk' },
        { from: 'ensemble/index.ts', to: '@oclif/core' },
        { from: 'cli/base.ts', to: 'commands/ls.ts' },
      ]).length,
      7,
    );
    assert.deepEqual(
      violations([
        { from: 'commands/diff.ts', to: 'cli/other-session.ts' },
        { from: 'cli/ensemble.ts', to: 'ensemble/index.ts' },
        { from: 'ensemble/status.ts', to: 'core/fourlw.ts' },
        { from: 'output/color.ts', to: 'chalk' },
        { from: 'core/session.ts', to: 'node-zookeeper-client' },
      ]),
      [],
    );
  });

  it('no layer imports a higher one, no command imports a command (except the allowlist)', () => {
    const found = violations(edges);
    const unexpected = found.filter((v) => !ALLOWED.has(v.slice(0, v.indexOf(':'))));
    assert.deepEqual(unexpected, [], `imports that break the layers:\n  ${unexpected.join('\n  ')}`);
    const stale = [...ALLOWED.keys()].filter((k) => !found.some((v) => v.startsWith(`${k}:`)));
    assert.deepEqual(stale, [], `allowlist entries that no longer match an import (remove them): ${stale.join(', ')}`);
  });
});
