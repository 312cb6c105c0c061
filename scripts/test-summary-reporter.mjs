/**
 * A second `node --test` reporter (next to TAP) that prints, at the very end of the run,
 * what a reader of a truncated CI log needs: every failure with its file and message, and
 * the slowest top-level suites. Used by scripts/run-tests.mjs.
 */
import { relative } from 'node:path';

const root = process.cwd();

function firstLines(err, n = 14) {
  if (!err) return '';
  const cause = err.cause ?? err;
  const msg = String(cause?.message ?? cause).split('\n').slice(0, n).join('\n      ');
  return msg;
}

export default async function* summary(source) {
  const failures = [];
  const top = [];
  for await (const ev of source) {
    if (ev.type !== 'test:pass' && ev.type !== 'test:fail') continue;
    const d = ev.data;
    const file = d.file ? relative(root, d.file) : '?';
    const ms = d.details?.duration_ms ?? 0;
    if (d.nesting === 0) top.push({ name: d.name, file, ms, ok: ev.type === 'test:pass' });
    // Suites fail because a subtest failed: report the subtests, not the suite again.
    if (ev.type === 'test:fail' && d.details?.error?.failureType !== 'subtestsFailed') {
      failures.push({ name: d.name, file, ms, why: firstLines(d.details?.error) });
    }
  }
  const lines = ['', '# ---- summary ----'];
  top.sort((a, b) => b.ms - a.ms);
  lines.push(`# slowest suites (of ${top.length}):`);
  for (const t of top.slice(0, 12)) lines.push(`#   ${(t.ms / 1000).toFixed(1).padStart(7)} s  ${t.ok ? 'ok    ' : 'FAILED'} ${t.name}  (${t.file})`);
  if (failures.length === 0) lines.push('# failures: none');
  else {
    lines.push(`# failures (${failures.length}):`);
    for (const f of failures) lines.push(`#   ${f.name}  (${f.file}, ${(f.ms / 1000).toFixed(1)} s)`, `#     ${f.why}`);
  }
  yield lines.join('\n') + '\n';
}
