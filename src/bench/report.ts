/**
 * The self-contained HTML report of `bench dispatch --report`: a summary table and
 * inline SVG charts generated here (no script, no network): latency CDF per strategy,
 * per-backend share over time, and the failover timeline with the faults marked.
 */
import type { DispatchBenchResult, StrategyResult } from './dispatch.js';

const PALETTE = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf', '#393b79', '#637939', '#8c6d31', '#843c39', '#7b4173'];

function esc(s: unknown): string {
  return String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

const n = (v: number, d = 1): string => (Number.isFinite(v) ? v.toFixed(d) : '-');

interface Frame {
  w: number;
  h: number;
  left: number;
  right: number;
  top: number;
  bottom: number;
}

function frame(w: number, h: number): Frame {
  return { w, h, left: 56, right: 16, top: 14, bottom: 36 };
}

function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo)) return [lo];
  const step0 = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(step0));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= step0) ?? step0;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + 1e-9; v += step) out.push(Math.round(v * 1e6) / 1e6);
  return out;
}

/** Latency CDF: x = latency (ms, log scale), y = fraction of requests at or below. */
function cdfChart(results: StrategyResult[]): string {
  const f = frame(760, 340);
  const pts = results.flatMap((r) => r.cdf.map(([ms]) => ms)).filter((v) => v > 0);
  if (pts.length === 0) return '<p>no latency samples</p>';
  const lo = Math.log10(Math.max(0.01, Math.min(...pts)));
  const hi = Math.log10(Math.max(...pts) * 1.05);
  const X = (ms: number): number => f.left + ((Math.log10(Math.max(ms, 10 ** lo)) - lo) / (hi - lo || 1)) * (f.w - f.left - f.right);
  const Y = (p: number): number => f.top + (1 - p) * (f.h - f.top - f.bottom);
  const parts: string[] = [];
  for (let e = Math.floor(lo); e <= Math.ceil(hi); e++) {
    for (const m of [1, 2, 5]) {
      const v = m * 10 ** e;
      if (Math.log10(v) < lo || Math.log10(v) > hi) continue;
      parts.push(`<line x1="${X(v)}" x2="${X(v)}" y1="${f.top}" y2="${f.h - f.bottom}" class="grid"/><text x="${X(v)}" y="${f.h - f.bottom + 14}" class="tick" text-anchor="middle">${v >= 1 ? v : v.toFixed(2)}</text>`);
    }
  }
  for (const p of [0, 0.25, 0.5, 0.75, 0.9, 0.99, 1]) parts.push(`<line x1="${f.left}" x2="${f.w - f.right}" y1="${Y(p)}" y2="${Y(p)}" class="grid"/><text x="${f.left - 6}" y="${Y(p) + 4}" class="tick" text-anchor="end">${p * 100}%</text>`);
  results.forEach((r, i) => {
    if (!r.cdf.length) return;
    const d = r.cdf.map(([ms, p], k) => `${k ? 'L' : 'M'}${X(ms).toFixed(1)},${Y(p).toFixed(1)}`).join('');
    parts.push(`<path d="${d}" fill="none" stroke="${PALETTE[i % PALETTE.length]}" stroke-width="${r.anchor ? 2.5 : 1.8}"${r.anchor ? ' stroke-dasharray="6 3"' : ''}/>`);
    parts.push(`<rect x="${f.w - f.right - 170}" y="${f.top + 8 + i * 16}" width="12" height="4" fill="${PALETTE[i % PALETTE.length]}"/><text x="${f.w - f.right - 152}" y="${f.top + 14 + i * 16}" class="legend">${esc(r.strategy)} (p99 ${n(r.latency.p99Ms, 2)} ms)</text>`);
  });
  parts.push(`<text x="${(f.left + f.w - f.right) / 2}" y="${f.h - 4}" class="axis" text-anchor="middle">latency (ms, log scale)</text>`);
  return svg(f, parts);
}

function svg(f: Frame, parts: string[]): string {
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${f.w}" height="${f.h}" viewBox="0 0 ${f.w} ${f.h}"><rect x="${f.left}" y="${f.top}" width="${f.w - f.left - f.right}" height="${f.h - f.top - f.bottom}" class="plot"/>${parts.join('')}</svg>`;
}

function markers(r: StrategyResult, X: (t: number) => number, f: Frame): string {
  const want: Record<string, string> = { kill: '#d62728', 'leader-kill': '#000', add: '#2ca02c', eject: '#ff7f0e', 'zk-leave': '#9467bd', readmit: '#17becf' };
  return r.events
    .filter((e) => want[e.type] && !(e.type === 'zk-leave' && !r.kills.some((k) => k.id === e.id)))
    .map((e, i) => {
      const x = X(e.t);
      if (x < f.left || x > f.w - f.right) return '';
      return `<line x1="${x}" x2="${x}" y1="${f.top}" y2="${f.h - f.bottom}" stroke="${want[e.type]}" stroke-width="1.5" stroke-dasharray="${e.type === 'kill' || e.type === 'leader-kill' ? '' : '4 2'}"/><text x="${x + 3}" y="${f.top + 11 + (i % 4) * 11}" class="mark" fill="${want[e.type]}">${esc(e.type)}${e.id ? ` ${esc(e.id)}` : ''} @${n(e.t, 0)}ms</text>`;
    })
    .join('');
}

/** Stacked share of each backend per time bin. */
function shareChart(r: StrategyResult): string {
  const f = frame(760, 220);
  const bins = r.timeline.bins;
  if (bins.length === 0) return '';
  const ids = r.backends.map((b) => b.id);
  const tMax = bins.length * r.timeline.binMs;
  const X = (t: number): number => f.left + (t / tMax) * (f.w - f.left - f.right);
  const Y = (p: number): number => f.top + (1 - p) * (f.h - f.top - f.bottom);
  const parts: string[] = [];
  const acc = bins.map(() => 0);
  const totals = bins.map((b) => Object.values(b.sent).reduce((a, v) => a + v, 0));
  ids.forEach((id, k) => {
    const lower = [...acc];
    bins.forEach((b, i) => (acc[i] += totals[i] ? (b.sent[id] ?? 0) / totals[i] : 0));
    const up = bins.map((_, i) => `${X(i * r.timeline.binMs).toFixed(1)},${Y(acc[i]).toFixed(1)} ${X((i + 1) * r.timeline.binMs).toFixed(1)},${Y(acc[i]).toFixed(1)}`);
    const down = bins.map((_, i) => `${X((i + 1) * r.timeline.binMs).toFixed(1)},${Y(lower[i]).toFixed(1)} ${X(i * r.timeline.binMs).toFixed(1)},${Y(lower[i]).toFixed(1)}`).reverse();
    const b = r.backends[k];
    parts.push(`<polygon points="${up.join(' ')} ${down.join(' ')}" fill="${PALETTE[k % PALETTE.length]}" fill-opacity="${b.slow ? 1 : 0.75}" stroke="#fff" stroke-width="0.3"><title>${esc(id)}${b.slow ? ' (slow)' : ''}${b.killed ? ' (killed)' : ''}${b.added ? ' (added)' : ''}: ${n(b.share * 100, 2)}%</title></polygon>`);
  });
  for (const p of [0, 0.5, 1]) parts.push(`<text x="${f.left - 6}" y="${Y(p) + 4}" class="tick" text-anchor="end">${p * 100}%</text>`);
  for (const t of niceTicks(0, tMax)) parts.push(`<text x="${X(t)}" y="${f.h - f.bottom + 14}" class="tick" text-anchor="middle">${t}</text>`);
  parts.push(markers(r, X, f));
  parts.push(`<text x="${(f.left + f.w - f.right) / 2}" y="${f.h - 4}" class="axis" text-anchor="middle">time into the run (ms); bands: ${esc(ids.join(', '))} bottom to top</text>`);
  return svg(f, parts);
}

/** Successful requests per second per bin, failures and retries as bars, faults marked. */
function timelineChart(r: StrategyResult): string {
  const f = frame(760, 220);
  const bins = r.timeline.bins;
  if (bins.length === 0) return '';
  const binS = r.timeline.binMs / 1000;
  const tMax = bins.length * r.timeline.binMs;
  const rate = bins.map((b) => b.ok / binS);
  const yMax = Math.max(1, ...rate, ...bins.map((b) => (b.failed + b.retries) / binS)) * 1.1;
  const X = (t: number): number => f.left + (t / tMax) * (f.w - f.left - f.right);
  const Y = (v: number): number => f.top + (1 - v / yMax) * (f.h - f.top - f.bottom);
  const parts: string[] = [];
  for (const v of niceTicks(0, yMax)) parts.push(`<line x1="${f.left}" x2="${f.w - f.right}" y1="${Y(v)}" y2="${Y(v)}" class="grid"/><text x="${f.left - 6}" y="${Y(v) + 4}" class="tick" text-anchor="end">${v >= 1000 ? `${v / 1000}k` : v}</text>`);
  for (const t of niceTicks(0, tMax)) parts.push(`<text x="${X(t)}" y="${f.h - f.bottom + 14}" class="tick" text-anchor="middle">${t}</text>`);
  const bw = Math.max(1, X(r.timeline.binMs) - X(0) - 1);
  bins.forEach((b, i) => {
    if (b.retries) parts.push(`<rect x="${X(i * r.timeline.binMs)}" y="${Y(b.retries / binS)}" width="${bw}" height="${Y(0) - Y(b.retries / binS)}" fill="#ff7f0e"><title>${b.retries} retries</title></rect>`);
    if (b.failed) parts.push(`<rect x="${X(i * r.timeline.binMs)}" y="${Y(b.failed / binS)}" width="${bw / 2}" height="${Y(0) - Y(b.failed / binS)}" fill="#d62728"><title>${b.failed} failed</title></rect>`);
  });
  parts.push(`<path d="${rate.map((v, i) => `${i ? 'L' : 'M'}${X((i + 0.5) * r.timeline.binMs).toFixed(1)},${Y(v).toFixed(1)}`).join('')}" fill="none" stroke="#1f77b4" stroke-width="1.8"/>`);
  parts.push(markers(r, X, f));
  parts.push(`<text x="${(f.left + f.w - f.right) / 2}" y="${f.h - 4}" class="axis" text-anchor="middle">time into the run (ms): successful req/s (line), retries/s (orange), failed/s (red)</text>`);
  return svg(f, parts);
}

function summaryTable(r: DispatchBenchResult): string {
  const head = ['strategy', 'req/s', 'vs direct', 'p50 ms', 'p99 ms', 'p99.9 ms', 'imbalance', 'slow share', 'failed', 'retries', 'kill→ejected', 'kill→last send', 'kill→ZK leave'];
  const rows = r.results.map((x) =>
    [
      x.strategy,
      x.throughput,
      x.vsDirect === null ? '-' : `${x.vsDirect.toFixed(2)}×`,
      n(x.latency.p50Ms, 2),
      n(x.latency.p99Ms, 2),
      n(x.latency.p999Ms, 2),
      n(x.imbalance, 3),
      x.slowShare === null ? '-' : `${n(x.slowShare * 100, 2)}%`,
      x.failed,
      x.retries,
      x.kills.map((k) => (k.ejectedAfterMs === null ? '-' : `${n(k.ejectedAfterMs)} ms`)).join(', ') || '-',
      x.kills.map((k) => `${n(k.lastSendAfterMs)} ms`).join(', ') || '-',
      x.kills.map((k) => (k.zkLeaveAfterMs === null ? 'n/a' : `${n(k.zkLeaveAfterMs, 0)} ms`)).join(', ') || '-',
    ]
      .map((c, i) => `<td${i ? ' class="num"' : ''}>${esc(c)}</td>`)
      .join(''),
  );
  return `<table><tr>${head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr>${rows.map((row) => `<tr>${row}</tr>`).join('')}</table>`;
}

function shareTable(r: DispatchBenchResult): string {
  const ids = [...new Set(r.results.flatMap((x) => x.backends.map((b) => b.id)))];
  const cls = (x: StrategyResult, id: string): string => {
    const b = x.backends.find((y) => y.id === id);
    return b ? [b.slow ? 'slow' : '', b.killed ? 'killed' : '', b.added ? 'added' : ''].filter(Boolean).join(' ') : '';
  };
  return `<table><tr><th>share %</th>${ids.map((id) => `<th>${esc(id)}</th>`).join('')}</tr>${r.results
    .map((x) => `<tr><td>${esc(x.strategy)}</td>${ids.map((id) => {
      const b = x.backends.find((y) => y.id === id);
      return `<td class="num ${cls(x, id)}">${b ? n(b.share * 100, 2) : '-'}</td>`;
    }).join('')}</tr>`)
    .join('')}</table><p class="note">highlighted: <span class="slow">slow</span> <span class="killed">killed</span> <span class="added">added</span></p>`;
}

export function renderDispatchReport(r: DispatchBenchResult): string {
  const c = r.config;
  const faults = [
    ...c.slow.map((s) => `slow ${s.id}: ${s.serviceMs} ms`),
    ...c.kills.map((k) => `SIGKILL ${k.id} at ${k.atMs} ms`),
    ...c.adds.map((a) => `add a backend at ${a} ms`),
    ...(c.killLeaderAtMs !== null ? [`SIGKILL the ZooKeeper leader at ${c.killLeaderAtMs} ms`] : []),
  ];
  const sections = r.results
    .map(
      (x) => `<section><h3>${esc(x.strategy)}${x.anchor ? ' (anchor: straight to the backends)' : ''}</h3>
<p>${x.ok} ok, ${x.failed} failed, ${x.retries} retries, ${x.ejections} ejections, ${x.readmissions} re-admissions in ${x.durationMs} ms.
${x.kills.map((k) => `Kill of ${esc(k.id)} at ${k.atMs} ms: ejected after ${k.ejectedAfterMs ?? '-'} ms, last request sent to it ${k.lastSendAfterMs} ms after the kill (${k.sentAfterKill} sent after it, all retried elsewhere unless counted as failed), node left ZooKeeper after ${k.zkLeaveAfterMs ?? 'n/a'} ms.`).join(' ')}
${x.adds.map((a) => `Added ${esc(a.id)} at ${a.atMs} ms: joined after ${a.joinAfterMs ?? '-'} ms, first request after ${a.firstSendAfterMs ?? '-'} ms.`).join(' ')}
${x.leaderKill ? `Leader (member ${x.leaderKill.member}) killed at ${x.leaderKill.atMs} ms; our session suspended at ${x.leaderKill.suspendedAtMs ?? '-'} ms, reconnected at ${x.leaderKill.reconnectedAtMs ?? '-'} ms; ${x.leaderKill.flaps} instance flaps.` : ''}</p>
<h4>Per-backend share over time</h4>${shareChart(x)}
<h4>Failover timeline</h4>${timelineChart(x)}</section>`,
    )
    .join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>zkctl bench dispatch</title>
<style>
body{font:14px/1.4 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px;color:#222;max-width:1100px}
h1{font-size:20px}h2{font-size:17px;margin-top:28px}h3{font-size:15px;margin:22px 0 4px}h4{font-size:13px;margin:10px 0 2px;color:#555}
table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #ddd;padding:3px 8px}th{background:#f4f4f4;text-align:left}
td.num{text-align:right;font-variant-numeric:tabular-nums}.slow{background:#fde2b8}.killed{background:#f8c5c5}.added{background:#cdeccd}
.note{color:#666;font-size:12px}svg{display:block;margin:4px 0 10px}.plot{fill:#fcfcfc;stroke:#ccc}.grid{stroke:#e6e6e6}
.tick{font-size:10px;fill:#666}.axis{font-size:11px;fill:#444}.legend{font-size:11px;fill:#222}.mark{font-size:10px}
</style></head><body>
<h1>zkctl bench dispatch</h1>
<p>${c.backends} backends (service time ${c.serviceMs} ms, ${c.backendConcurrency} served at once, the rest queued), ${c.requests !== null ? `${c.requests} requests` : ''}${c.requests !== null && c.durationMs !== null ? ' or ' : ''}${c.durationMs !== null ? `${c.durationMs} ms` : ''} per strategy, ${c.concurrency} in flight, ${c.keys} keys, seed ${c.seed}, ε ${c.epsilon}, backend session timeout ${c.sessionTimeoutMs} ms; ${c.cpus} CPUs, Node ${esc(c.node)}, ${esc(c.startedAt)}.</p>
<p>Faults: ${faults.length ? esc(faults.join('; ')) : 'none'}.</p>
<h2>Summary</h2>${summaryTable(r)}
<p class="note">vs direct: against the anchor run made right before each strategy. Imbalance: max/mean of the requests of the steady backends (not slow, killed or added).</p>
${shareTable(r)}
<h2>Latency CDF</h2>${cdfChart(r.results)}
<h2>Per strategy</h2>
${sections}
</body></html>
`;
}
