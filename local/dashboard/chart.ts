import type { StatusHistory } from '../status';

/** The figures of `GET /status/history` the dashboard charts, one line per region. */
export type ChartMetric = 'deliveriesPerSecond' | 'queueDepth';

/** The SVG's viewBox and the margins kept for the axis labels. */
export const CHART_FRAME = { width: 600, height: 180, left: 44, right: 8, top: 10, bottom: 22 } as const;

export interface ChartLine {
  region: string;
  /** The polyline's `points` attribute. */
  points: string;
  /** The newest value, and the highest in the history (0 when the region has no point yet). */
  latest: number;
  peak: number;
}

export interface Chart {
  /** The top of the y axis: a round number at or above every value. */
  yMax: number;
  /** Epoch milliseconds at the left and right edges. */
  from: number;
  to: number;
  lines: ChartLine[];
}

/** 1, 2 or 5 times a power of ten, at least `value` (and at least 1, so an idle chart has a scale). */
export function roundUp(value: number): number {
  if (value <= 1) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  return [1, 2, 5, 10].map((step) => step * power).find((candidate) => candidate >= value)!;
}

/** Lays out one metric of the history: time on x (the last `spanMs` up to the newest point), the value on y. */
export function chartOf(history: StatusHistory, metric: ChartMetric, regions: readonly string[], spanMs: number): Chart {
  const { width, height, left, right, top, bottom } = CHART_FRAME;
  const times = history.points.map((p) => Date.parse(p.at));
  const to = times.at(-1) ?? 0;
  const from = to - spanMs;
  const series = regions.map((region) =>
    history.points.flatMap((point, i) => {
      const figures = point.regions[region];
      return figures && times[i]! >= from ? [{ at: times[i]!, value: figures[metric] }] : [];
    }),
  );
  const yMax = roundUp(Math.max(0, ...series.flat().map((p) => p.value)));
  const x = (at: number) => left + ((at - from) / spanMs) * (width - left - right);
  const y = (value: number) => top + (1 - value / yMax) * (height - top - bottom);
  const lines = regions.map((region, i) => {
    const values = series[i]!;
    return {
      region,
      points: values.map((p) => `${x(p.at).toFixed(1)},${y(p.value).toFixed(1)}`).join(' '),
      latest: values.at(-1)?.value ?? 0,
      peak: Math.max(0, ...values.map((p) => p.value)),
    };
  });
  return { yMax, from, to, lines };
}
