/** Pure number crunching and text layout for the bench's report. */

export interface LatencySummary {
  count: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
}

/** Nearest-rank percentile (0 < p <= 100) of values sorted ascending. */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) throw new Error('percentile of no values');
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

/** p50/p90/p99/max/mean of the finite values; undefined when there are none. */
export function summarizeLatencies(values: ArrayLike<number>): LatencySummary | undefined {
  const finite = Float64Array.from(values).filter(Number.isFinite).sort();
  if (finite.length === 0) return undefined;
  return {
    count: finite.length,
    p50: percentile(finite, 50),
    p90: percentile(finite, 90),
    p99: percentile(finite, 99),
    max: finite[finite.length - 1]!,
    mean: finite.reduce((sum, v) => sum + v, 0) / finite.length,
  };
}

/** numerator / denominator, or undefined when there is nothing to divide by. */
export const ratio = (numerator: number, denominator: number): number | undefined =>
  denominator > 0 ? numerator / denominator : undefined;

const integer = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
const decimal = new Intl.NumberFormat('en-US', { maximumFractionDigits: 2, minimumFractionDigits: 2 });

export const formatCount = (n: number | undefined): string => (n === undefined ? 'n/a' : integer.format(n));
export const formatDecimal = (n: number | undefined): string => (n === undefined ? 'n/a' : decimal.format(n));
export const formatMs = (n: number | undefined): string => (n === undefined ? 'n/a' : `${integer.format(n)} ms`);
export const formatSeconds = (ms: number | undefined): string => (ms === undefined ? 'n/a' : `${decimal.format(ms / 1000)} s`);
export const formatBytes = (bytes: number | undefined): string =>
  bytes === undefined ? 'n/a' : `${integer.format(bytes / (1024 * 1024))} MB`;

export interface TableSection {
  title: string;
  rows: ReadonlyArray<readonly [label: string, value: string]>;
}

/** Sections of label/value rows, labels padded to one column. */
export function formatTable(sections: readonly TableSection[]): string {
  const width = Math.max(...sections.flatMap((s) => s.rows.map(([label]) => label.length)));
  const rule = '─'.repeat(width + 24);
  return sections
    .map((section) => [section.title, rule, ...section.rows.map(([label, value]) => `  ${label.padEnd(width)}  ${value}`)].join('\n'))
    .join('\n\n');
}
