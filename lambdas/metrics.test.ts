import { describe, expect, it } from 'vitest';
import { count, milliseconds } from './core/runtime';
import { jsonLinesWritten } from './core/testing';
import { powertoolsMetrics } from './metrics';

describe('powertoolsMetrics, the Lambda adapters\' metrics', () => {
  it('writes each report at once as one EMF record in the Relaymesh namespace, each metric with its unit, under the report\'s dimensions alone', async () => {
    const metrics = powertoolsMetrics();
    const lines = await jsonLinesWritten(async () => {
      metrics({ EventClass: 'critical' }, { posted: count(12), expired: count(0), publishToPost: milliseconds([40, 75]) });
      metrics({ Action: 'subscribe' }, { replayed: count(3) });
    });
    expect(lines).toEqual([
      {
        _aws: {
          Timestamp: expect.any(Number),
          CloudWatchMetrics: [
            {
              Namespace: 'Relaymesh',
              Dimensions: [['EventClass']],
              Metrics: [
                { Name: 'posted', Unit: 'Count' },
                { Name: 'expired', Unit: 'Count' },
                { Name: 'publishToPost', Unit: 'Milliseconds' },
              ],
            },
          ],
        },
        EventClass: 'critical',
        posted: 12,
        expired: 0,
        publishToPost: [40, 75],
      },
      {
        _aws: { Timestamp: expect.any(Number), CloudWatchMetrics: [{ Namespace: 'Relaymesh', Dimensions: [['Action']], Metrics: [{ Name: 'replayed', Unit: 'Count' }] }] },
        Action: 'subscribe',
        replayed: 3,
      },
    ]);
  });

  it('writes nothing for a report with no value, and its dimensions do not leak into the next report', async () => {
    const metrics = powertoolsMetrics();
    const lines = await jsonLinesWritten(async () => {
      metrics({ EventClass: 'ephemeral' }, { publishToPost: milliseconds([]) });
      metrics({ Action: 'subscribe' }, { replayed: count(0) });
    });
    expect(lines.map((line) => (line._aws as { CloudWatchMetrics: Array<{ Dimensions: unknown }> }).CloudWatchMetrics[0]!.Dimensions)).toEqual([[['Action']]]);
    expect(lines[0]).not.toHaveProperty('EventClass');
  });
});
