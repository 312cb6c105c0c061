/**
 * Every command's --help renders whole: its texts have no sentence hard-wrapped
 * in the source (oclif wraps again at the terminal's width, which cuts such
 * lines mid-sentence), no unbalanced quotes, backticks or parentheses, and
 * summaries end like sentences. Checked on the metadata oclif renders, then
 * rendered at 80 columns.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Config, Help } from '@oclif/core';
import { repoRoot } from '../helpers/zk.js';

/** Lines that continue a sentence of the line before (a hard wrap), outside aligned tables. */
export function hardWraps(text: string): string[] {
  const lines = text.split('\n');
  const out: string[] = [];
  const aligned = (l: string): boolean => /\S {2,}\S/.test(l.trim());
  for (let i = 0; i + 1 < lines.length; i++) {
    const a = lines[i]!.trimEnd();
    const b = lines[i + 1]!;
    if (!a.trim() || !b.trim() || aligned(a) || aligned(b)) continue;
    if (/[\p{L}\d,]$/u.test(a) && /^\s*[\p{Ll}"(]/u.test(b)) out.push(`${a.slice(-40)} | ${b.trim().slice(0, 40)}`);
  }
  return out;
}

/** Paragraphs with an odd number of double quotes or backticks, or unbalanced parentheses. */
export function unbalanced(text: string): string[] {
  const out: string[] = [];
  for (const para of text.split(/\n\s*\n/)) {
    // Quoted text on one line pairs up; a quote character named on its own ("with ' or \"") is no opening quote.
    const p = para.replace(/"[^"\n]*"/g, 'Q').replace(/`[^`\n]*`/g, 'Q').replace(/' or "/g, '');
    const n = (re: RegExp): number => (p.match(re) ?? []).length;
    if (n(/"/g) % 2 !== 0 || n(/`/g) % 2 !== 0 || n(/\(/g) !== n(/\)/g)) out.push(para.slice(0, 60));
  }
  return out;
}

describe('help texts render whole', () => {
  it('the checks catch a hard-wrapped sentence and an unbalanced quote', () => {
    assert.equal(hardWraps('canonical JSON (UTF-8, compact): strings\n  "quoted", integers').length, 1);
    assert.equal(hardWraps('A sentence.\nAnother one.\n  world:anyone:r     everyone\n  ip:10.0.0.0/8    an address').length, 0);
    assert.equal(unbalanced('say "hello').length, 1);
    assert.equal(unbalanced('Quote words with \' or ".').length, 0);
  });

  it('every command: no hard-wrapped sentence, balanced quotes, summaries end as sentences; --help renders', async () => {
    const config = await Config.load(repoRoot);
    const help = new Help(config, { stripAnsi: true, maxWidth: 80 });
    const problems: string[] = [];
    let n = 0;
    for (const c of config.commands) {
      const texts: Array<[string, string | undefined]> = [
        ['summary', c.summary],
        ['description', c.description],
      ];
      for (const [name, f] of Object.entries(c.flags ?? {})) texts.push([`--${name}`, f.summary], [`--${name} description`, f.description]);
      for (const [name, a] of Object.entries(c.args ?? {})) texts.push([`arg ${name}`, a.description]);
      for (const [what, t] of texts) {
        if (!t) continue;
        for (const w of hardWraps(t)) problems.push(`${c.id} ${what}: hard-wrapped: ${w}`);
        for (const u of unbalanced(t)) problems.push(`${c.id} ${what}: unbalanced quote/paren: ${u}`);
        if ((what === 'summary' || /^--[^ ]+$/.test(what)) && !/[.!?)]$/.test(t.trim())) problems.push(`${c.id} ${what}: does not end a sentence: ...${t.slice(-30)}`);
      }
      const rendered = (help as unknown as { formatCommand(c: unknown): string }).formatCommand(c);
      if (!rendered.includes('USAGE')) problems.push(`${c.id}: --help has no USAGE`);
      n++;
    }
    assert.ok(n > 50, `walked ${n} commands`);
    assert.deepEqual(problems, []);
  });
});
