import type { SQSRecord } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { createDeliveryWorkerHandler } from './handlers';
import { runtimeFromEnv } from './runtime';
import { recordingPorts, TABLE_ENV } from './testing';

const ENV = {
  AWS_REGION: 'eu-west-1',
  ...TABLE_ENV,
  REGIONS: 'eu-west-1,us-east-1',
  TOPIC_ARN: 'arn:aws:sns:eu-west-1:123456789012:relaymesh-fanout',
  CONNECTIONS_ENDPOINT: 'https://abc.execute-api.eu-west-1.amazonaws.com/live',
  EVENT_CLASS: 'ephemeral',
  EVENT_TTL_SECONDS: '10',
};

/** SDK clients in memory: every channel has the one subscriber c1, and every post arrives. */
const fakeClients = {
  dynamo: () => ({ send: async () => ({ Items: [{ connectionId: 'c1' }] }) }) as never,
  // The poster signs with the client's signer and sends through its request handler (poster.ts).
  connections: () => ({ config: { signer: async () => ({ sign: async (request: unknown) => request }), requestHandler: { handle: async () => ({ response: { statusCode: 200, headers: {} } }) } } }) as never,
  sqs: () => ({ send: async () => ({}) }) as never,
};

const ephemeral = (id: string, ts: number) =>
  ({ messageId: id, body: JSON.stringify({ v: 1, id, channel: 'room:1', data: {}, origin: 'eu-west-1', ts, class: 'ephemeral' }) }) as SQSRecord;

describe('createDeliveryWorkerHandler', () => {
  it('reports each batch under its EventClass: every figure a Count, and publish to post latency in Milliseconds, one value per event posted', async () => {
    const ports = recordingPorts();
    const handler = createDeliveryWorkerHandler(runtimeFromEnv(ENV, fakeClients, ports));
    const publishedAt = Date.now() - 50;
    await handler({ Records: [ephemeral('fresh', publishedAt), ephemeral('stale', Date.now() - 60_000)] });
    expect(ports.metrics.reports).toHaveLength(1);
    const [{ dimensions, measurements }] = ports.metrics.reports as [(typeof ports.metrics.reports)[number]];
    expect(dimensions).toEqual({ EventClass: 'ephemeral' });
    const counted = ['records', 'invalid', 'expired', 'stored', 'subscribers', 'itemsRead', 'posted', 'delivered', 'skipped', 'gone', 'throttled', 'failed'];
    expect(Object.keys(measurements).sort()).toEqual([...counted, 'publishToPost'].sort());
    for (const name of counted) expect(measurements[name]!.unit, name).toBe('Count');
    expect(measurements).toMatchObject({ records: { values: [2] }, expired: { values: [1] }, posted: { values: [1] }, delivered: { values: [1] } });
    expect(measurements.publishToPost).toEqual({ unit: 'Milliseconds', values: [expect.any(Number)] });
    expect(measurements.publishToPost!.values[0]).toBeGreaterThanOrEqual(50);
    expect(measurements.publishToPost!.values[0]).toBeLessThan(10_000);
  });

  it('logs a debug line per invocation with the batch\'s record count', async () => {
    const ports = recordingPorts();
    const handler = createDeliveryWorkerHandler(runtimeFromEnv(ENV, fakeClients, ports));
    await handler({ Records: [ephemeral('one', Date.now())] });
    expect(ports.log.lines.filter((line) => line.message === 'invocation')).toEqual([
      { level: 'debug', message: 'invocation', fields: { records: 1, durationMs: expect.any(Number) } },
    ]);
  });
});
