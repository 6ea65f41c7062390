import { count, renderTable } from '../format';
import type { GamedayReport } from './report';

/** The report's headline figures for the terminal. */
export function renderSummary(report: GamedayReport): string {
  const { totals, reconnects, recoveries, publishErrors, verdict } = report;
  const ms = (value: number | null) => (value === null ? '—' : `${count(value)} ms`);
  const codes = (counts: Record<string, number>) =>
    Object.entries(counts)
      .map(([code, n]) => `${code}×${n}`)
      .join(' ') || 'none';
  const figures = renderTable(
    ['figure', 'value'],
    [
      ['published', count(totals.published)],
      ['acknowledged', `${count(totals.acknowledged)} (repeats of an earlier attempt ${count(totals.acknowledgedAsDuplicate)})`],
      ['failed for good', count(totals.publishFailed)],
      ['unanswered at the end', count(totals.unanswered)],
      ['deliveries owed', count(totals.expected)],
      ['delivered to apps', count(totals.delivered)],
      ['lost', count(totals.lost)],
      ['duplicates to apps', count(totals.duplicates)],
      ['out of order', count(totals.outOfOrder)],
      ['reconnects', `${count(reconnects.count)} by ${count(reconnects.clients)} clients, p50 ${ms(reconnects.p50Ms)}, p99 ${ms(reconnects.p99Ms)}`],
      ['recoveries', `${count(recoveries.count)} (not recovered ${count(recoveries.notRecovered)}), missing ranges ${count(recoveries.missingRanges)} ${JSON.stringify(recoveries.missingSeqsByReason)}`],
      ['publish errors retried', codes(publishErrors.retried)],
      ['publish errors failed', codes(publishErrors.failed)],
    ],
    ['left', 'right'],
  );
  const regions = renderTable(
    ['region', 'clients at start', 'at end', 'reconnected from', 'delivered'],
    report.regions.map((r) => [r.region, count(r.clientsAtStart), count(r.clientsAtEnd), count(r.reconnectedFrom), count(r.delivered)]),
    ['left', 'right', 'right', 'right', 'right'],
  );
  const verdictLine = !verdict.judged
    ? `Ephemeral messages carry no delivery guarantee: counted, not judged.`
    : verdict.guaranteesHeld
      ? 'Guarantees held: every acknowledged critical message reached every subscriber exactly once, in order per origin.'
      : [`GUARANTEE BROKEN: ${verdict.violationCount} violations; the first:`, ...verdict.violations.slice(0, 10).map((v) => `  ${v}`)].join('\n');
  const notAcknowledged = totals.publishFailed + totals.unanswered;
  // The guarantees cover what was acknowledged: a drill the cloud mostly left unanswered proves little.
  const load =
    notAcknowledged > 0
      ? `\n${count(notAcknowledged)} of ${count(totals.published)} publishes were not acknowledged (${count(totals.publishFailed)} failed, ${count(totals.unanswered)} unanswered): the verdict covers the ${count(totals.acknowledged)} that were. Many unanswered means the cloud could not keep up: lower --rate or --clients.`
      : '';
  return [figures, regions, verdictLine + load].join('\n\n');
}

const escape = (text: string) => text.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);
const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b'];

/** A round upper bound for an axis: 1, 2 or 5 times a power of ten. */
function niceMax(value: number): number {
  if (value <= 0) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  return ([1, 2, 5, 10].map((m) => m * power).find((m) => m >= value))!;
}

interface ChartSeries {
  name: string;
  color: string;
  values: readonly number[];
  /** Lines for rates, bars for sparse counts. */
  shape: 'line' | 'bar';
}

/** An inline SVG chart of per-second series, with the region's down window shaded. */
function chart(title: string, series: readonly ChartSeries[], seconds: number, down: { from: number; to: number; label: string }, height: number): string {
  const width = 960;
  const margin = { left: 56, right: 16, top: 28, bottom: 28 };
  const plotWidth = width - margin.left - margin.right;
  const plotHeight = height - margin.top - margin.bottom;
  const span = Math.max(1, seconds);
  const yMax = niceMax(Math.max(0, ...series.flatMap((s) => s.values)));
  const x = (second: number) => margin.left + (second / span) * plotWidth;
  const y = (value: number) => margin.top + plotHeight - (value / yMax) * plotHeight;
  const parts: string[] = [
    `<text x="${margin.left}" y="16" class="title">${escape(title)}</text>`,
    `<rect x="${x(down.from)}" y="${margin.top}" width="${Math.max(0, x(Math.min(down.to, span)) - x(down.from))}" height="${plotHeight}" fill="#f4c7c3" opacity="0.5"/>`,
    `<text x="${x(down.from) + 4}" y="${margin.top + 12}" class="note">${escape(down.label)}</text>`,
  ];
  const tickEvery = span > 120 ? 30 : span > 40 ? 10 : 5;
  for (let t = 0; t <= span; t += tickEvery) {
    parts.push(`<line x1="${x(t)}" x2="${x(t)}" y1="${margin.top + plotHeight}" y2="${margin.top + plotHeight + 4}" stroke="#555"/>`, `<text x="${x(t)}" y="${height - 8}" class="tick" text-anchor="middle">${t} s</text>`);
  }
  for (const fraction of [0, 0.5, 1]) {
    parts.push(
      `<line x1="${margin.left}" x2="${width - margin.right}" y1="${y(yMax * fraction)}" y2="${y(yMax * fraction)}" stroke="#ddd"/>`,
      `<text x="${margin.left - 6}" y="${y(yMax * fraction) + 4}" class="tick" text-anchor="end">${count(yMax * fraction)}</text>`,
    );
  }
  const bars = series.filter((s) => s.shape === 'bar');
  const barWidth = Math.max(1, plotWidth / span / Math.max(1, bars.length));
  series.forEach((s) => {
    if (s.shape === 'line') {
      const points = s.values.map((v, i) => `${x(i + 0.5).toFixed(1)},${y(v).toFixed(1)}`).join(' ');
      parts.push(`<polyline fill="none" stroke="${s.color}" stroke-width="1.8" points="${points}"/>`);
    } else {
      const slot = bars.indexOf(s);
      s.values.forEach((v, i) => {
        if (v > 0) parts.push(`<rect x="${(x(i) + slot * barWidth).toFixed(1)}" y="${y(v).toFixed(1)}" width="${barWidth.toFixed(1)}" height="${(y(0) - y(v)).toFixed(1)}" fill="${s.color}"/>`);
      });
    }
  });
  const legend = series.map((s, i) => `<rect x="${width - margin.right - 170}" y="${margin.top + 4 + i * 16}" width="10" height="10" fill="${s.color}"/><text x="${width - margin.right - 155}" y="${margin.top + 13 + i * 16}" class="tick">${escape(s.name)}</text>`);
  return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" aria-label="${escape(title)}">${parts.join('')}${legend.join('')}</svg>`;
}

const table = (header: readonly string[], rows: readonly (readonly (string | number)[])[]) =>
  `<table><thead><tr>${header.map((h) => `<th>${escape(h)}</th>`).join('')}</tr></thead><tbody>${rows
    .map((row) => `<tr>${row.map((cell) => `<td>${escape(String(cell))}</td>`).join('')}</tr>`)
    .join('')}</tbody></table>`;

/** The report as one self-contained HTML page: inline CSS and SVG, nothing fetched. */
export function renderHtml(report: GamedayReport): string {
  const { plan, totals, reconnects, recoveries, verdict, timeline } = report;
  const down = { ...report.downWindow, label: `${plan.down} ${plan.mode === 'fail' ? 'failed' : 'drained'}` };
  const deliveries = chart(
    'Deliveries to apps per second, by the region of the receiving socket',
    Object.entries(timeline.deliveriesPerSecond).map(([region, values], i) => ({ name: region, color: PALETTE[i % PALETTE.length]!, values, shape: 'line' as const })),
    timeline.seconds,
    down,
    320,
  );
  const disruptions = chart(
    'Reconnects, and errors (publish retries and failures, client errors), per second',
    [
      { name: 'reconnects', color: '#1f77b4', values: timeline.reconnectsPerSecond, shape: 'bar' },
      { name: 'errors', color: '#d62728', values: timeline.errorsPerSecond, shape: 'bar' },
    ],
    timeline.seconds,
    down,
    180,
  );
  const ms = (value: number | null) => (value === null ? '—' : `${value} ms`);
  const codes = (counts: Record<string, number>) => Object.entries(counts).map(([code, n]) => `${code} × ${n}`).join(', ') || 'none';
  const verdictText = !verdict.judged
    ? 'Ephemeral messages: counted, not judged.'
    : verdict.guaranteesHeld
      ? 'Guarantees held'
      : `Guarantee broken: ${verdict.violationCount} violations`;
  const verdictClass = !verdict.judged ? 'neutral' : verdict.guaranteesHeld ? 'held' : 'broken';
  const problemClients = report.clients.filter((c) => c.violations.length > 0 || c.reconnects > 0 || c.publishFailures > 0);
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Relaymesh game day ${escape(report.startedAt)}</title>
<style>
body{font:14px/1.45 system-ui,sans-serif;margin:24px;color:#222;max-width:1000px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:16px;margin:24px 0 8px}
.verdict{display:inline-block;padding:6px 12px;border-radius:4px;font-weight:600;margin:8px 0}
.held{background:#dff3e0;color:#1b5e20}.broken{background:#fde0dc;color:#b71c1c}.neutral{background:#eee}
table{border-collapse:collapse;margin:4px 0}td,th{border:1px solid #ddd;padding:3px 8px;text-align:right}th{background:#f5f5f5}td:first-child,th:first-child{text-align:left}
svg{display:block;margin:8px 0}.title{font-size:13px;font-weight:600}.tick{font-size:11px;fill:#444}.note{font-size:11px;fill:#b71c1c}
code{background:#f5f5f5;padding:1px 4px}
</style></head><body>
<h1>Relaymesh game day</h1>
<div>${escape(report.startedAt)} → ${escape(report.endedAt)}: ${plan.clients} clients on ${plan.channels} channels, ${plan.rate} ${plan.eventClass} messages/s for ${plan.durationSeconds} s; <b>${escape(plan.down)}</b> ${plan.mode === 'fail' ? 'failed' : 'drained'} at ${plan.atSeconds} s for ${plan.forSeconds} s</div>
<div class="verdict ${verdictClass}">${escape(verdictText)}</div>
${deliveries}
${disruptions}
<h2>Figures</h2>
${table(
  ['figure', 'value'],
  [
    ['published', totals.published],
    ['acknowledged', `${totals.acknowledged} (repeats of an earlier attempt: ${totals.acknowledgedAsDuplicate})`],
    ['publishes failed for good (not acknowledged, not owed)', totals.publishFailed],
    ['publishes unanswered when the drill ended (not owed)', totals.unanswered],
    ['deliveries owed (acknowledged critical × subscribers)', totals.expected],
    ['delivered to apps', totals.delivered],
    ['lost', totals.lost],
    ['duplicates handed to apps', totals.duplicates],
    ['out of order', totals.outOfOrder],
    ['reconnects', `${reconnects.count} by ${reconnects.clients} clients`],
    ['reconnect time p50 / p99 / max', `${ms(reconnects.p50Ms)} / ${ms(reconnects.p99Ms)} / ${ms(reconnects.maxMs)}`],
    ['recovery acks (not recovered)', `${recoveries.count} (${recoveries.notRecovered})`],
    ['missing ranges (seqs by reason)', `${recoveries.missingRanges} ${JSON.stringify(recoveries.missingSeqsByReason)}`],
    ['publish errors retried to success or failure', codes(report.publishErrors.retried)],
    ['publish errors that failed for good', codes(report.publishErrors.failed)],
    ['client errors', codes(report.clientErrors)],
    ['settled', verdict.settled ? 'yes' : 'no: the settle time ran out'],
  ],
)}
<h2>Regions</h2>
${table(['region', 'clients at start', 'clients at end', 'reconnects from it', 'delivered'], report.regions.map((r) => [r.region, r.clientsAtStart, r.clientsAtEnd, r.reconnectedFrom, r.delivered]))}
<h2>Timeline</h2>
${table(['at', 'event'], report.events.map((e) => [`${e.at} s`, e.text]))}
${verdict.violations.length > 0 ? `<h2>Violations (first ${verdict.violations.length} of ${verdict.violationCount})</h2><ul>${verdict.violations.map((v) => `<li><code>${escape(v)}</code></li>`).join('')}</ul>` : ''}
<h2>Clients that reconnected, failed a publish or saw a violation (${problemClients.length} of ${report.clients.length})</h2>
<details><summary>per client</summary>
${table(
  ['client', 'channel', 'near', 'start → end region', 'owed', 'delivered', 'lost', 'dup', 'reconnects (ms)', 'recoveries', 'missing', 'published', 'retries', 'failed'],
  problemClients.map((c) => [
    c.index,
    c.channel,
    c.near,
    `${c.startRegion} → ${c.endRegion}`,
    c.expected,
    c.delivered,
    c.lost,
    c.duplicates,
    `${c.reconnects} (${c.reconnectMs.join(', ')})`,
    `${c.recoveries} (${c.notRecovered} not recovered)`,
    c.missing.map((r) => `${r.origin} ${r.from}..${r.to} ${r.reason}`).join('; ') || '—',
    c.published,
    c.publishRetries,
    c.publishFailures,
  ]),
)}
</details>
<p>The same figures, and every client's, are in the JSON file next to this page.</p>
</body></html>
`;
}
