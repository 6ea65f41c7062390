import { describe, expect, it } from 'vitest';
import type { StatusHistory } from '../status';
import { CHART_FRAME, chartOf, roundUp } from './chart';

const at = (seconds: number) => new Date(seconds * 1000).toISOString();
const history: StatusHistory = {
  intervalMs: 1000,
  points: [
    { at: at(100), regions: { a: { deliveriesPerSecond: 0, queueDepth: 2 }, b: { deliveriesPerSecond: 3, queueDepth: 0 } } },
    { at: at(110), regions: { a: { deliveriesPerSecond: 4, queueDepth: 1 }, b: { deliveriesPerSecond: 7, queueDepth: 0 } } },
    { at: at(120), regions: { a: { deliveriesPerSecond: 2, queueDepth: 0 } } },
  ],
};

describe('the dashboard chart layout', () => {
  it('rounds the y axis up to 1, 2 or 5 times a power of ten, and to at least 1', () => {
    expect([0, 0.4, 1, 1.5, 3, 7, 10, 11, 240, 501].map(roundUp)).toEqual([1, 1, 1, 2, 5, 10, 10, 20, 500, 1000]);
  });

  it('puts the newest point at the right edge, the span before it at the left, and each value on the shared y scale', () => {
    const { width, height, left, right, top, bottom } = CHART_FRAME;
    const chart = chartOf(history, 'deliveriesPerSecond', ['a', 'b'], 20_000);
    expect(chart).toMatchObject({ yMax: 10, from: 100_000, to: 120_000 });
    const plotWidth = width - left - right;
    const plotHeight = height - top - bottom;
    const point = (fraction: number, value: number) => `${(left + fraction * plotWidth).toFixed(1)},${(top + (1 - value / 10) * plotHeight).toFixed(1)}`;
    expect(chart.lines).toEqual([
      { region: 'a', points: [point(0, 0), point(0.5, 4), point(1, 2)].join(' '), latest: 2, peak: 4 },
      // b has no figures in the last point: its line stops where its samples do.
      { region: 'b', points: [point(0, 3), point(0.5, 7)].join(' '), latest: 7, peak: 7 },
    ]);
  });

  it('leaves out points older than the span, and draws an empty line for a region without points', () => {
    const chart = chartOf(history, 'queueDepth', ['a', 'c'], 10_000);
    expect(chart.lines.map((l) => [l.region, l.points.split(' ').filter(Boolean).length, l.peak])).toEqual([
      ['a', 2, 1],
      ['c', 0, 0],
    ]);
    expect(chart.yMax).toBe(1);
  });
});
