import type { NodeHttpHandlerOptions } from '@smithy/types';
import { describe, expect, it } from 'vitest';
import { connectionsClient, dynamoClient, snsClient } from './aws-clients';
import { addCounts, CONNECTION_TIMEOUT_MS, count, DEFAULT_MAX_SOCKETS, milliseconds, REQUEST_TIMEOUT_MS, httpHandlerOptions, runtimeFromEnv, type ClientFactory, type SharedClientConfig } from './runtime';
import { recordingPorts, TABLE_ENV } from './testing';

const ENV = {
  AWS_REGION: 'eu-west-1',
  ...TABLE_ENV,
  REGIONS: 'eu-west-1,us-east-1',
  TOPIC_ARN: 'arn:aws:sns:eu-west-1:123456789012:relaymesh-fanout',
  CONNECTIONS_ENDPOINT: 'https://abc.execute-api.eu-west-1.amazonaws.com/live',
  AWS_ENDPOINT_URL_SNS: 'http://127.0.0.1:4566',
  AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE',
  AWS_SECRET_ACCESS_KEY: 'secret',
  DELIVERY_CONCURRENCY: '64',
};

/** A factory that records the configuration the runtime hands it. */
function recording(configs: SharedClientConfig[], endpoint: (env: typeof ENV) => string | undefined, maxSockets?: number): ClientFactory<{ fake: true }> {
  return ({ config }) => {
    configs.push(config(endpoint(ENV), maxSockets));
    return { fake: true };
  };
}

describe('httpHandlerOptions', () => {
  it('fails a connection after 1 s and a request after 3 s, and keeps the given number of sockets alive', () => {
    expect(CONNECTION_TIMEOUT_MS).toBe(1000);
    expect(REQUEST_TIMEOUT_MS).toBe(3000);
    expect(httpHandlerOptions(32)).toEqual({
      connectionTimeout: 1000,
      requestTimeout: 3000,
      throwOnRequestTimeout: true,
      httpAgent: { keepAlive: true, maxSockets: 32 },
      httpsAgent: { keepAlive: true, maxSockets: 32 },
    });
  });
});

describe('runtimeFromEnv', () => {
  it('builds the clients it is given factories for and no other, beside the log and metrics it is given', () => {
    const ports = recordingPorts();
    const runtime = runtimeFromEnv(ENV, { dynamo: dynamoClient, sns: snsClient }, ports);
    expect(Object.keys(runtime).sort()).toEqual(['dynamo', 'env', 'log', 'metrics', 'region', 'sns']);
    expect(runtime.region).toBe('eu-west-1');
    expect(runtime.log).toBe(ports.log);
    expect(runtime.metrics).toBe(ports.metrics);
  });

  it('gives each factory the region, the env credentials, its endpoint and the HTTP options, through the local request handler when one is given', () => {
    const configs: SharedClientConfig[] = [];
    const seen: NodeHttpHandlerOptions[] = [];
    runtimeFromEnv(
      ENV,
      { sns: recording(configs, (env) => env.AWS_ENDPOINT_URL_SNS) as never, connections: recording(configs, (env) => env.CONNECTIONS_ENDPOINT, 64) as never },
      { ...recordingPorts(), requestHandler: (options) => (seen.push(options), { wrapped: options }) },
    );
    expect(configs).toEqual([
      { region: 'eu-west-1', credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret', sessionToken: undefined }, endpoint: 'http://127.0.0.1:4566', requestHandler: { wrapped: httpHandlerOptions(DEFAULT_MAX_SOCKETS) } },
      { region: 'eu-west-1', credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret', sessionToken: undefined }, endpoint: ENV.CONNECTIONS_ENDPOINT, requestHandler: { wrapped: httpHandlerOptions(64) } },
    ]);
    expect(seen).toEqual([httpHandlerOptions(DEFAULT_MAX_SOCKETS), httpHandlerOptions(64)]);
  });

  it('asks for one @connections socket per post in flight, at its management endpoint', () => {
    const asked: Array<[string | undefined, number | undefined]> = [];
    const { env } = runtimeFromEnv(ENV, {}, recordingPorts());
    connectionsClient({ env, config: (endpoint, maxSockets) => (asked.push([endpoint, maxSockets]), { region: env.AWS_REGION, requestHandler: httpHandlerOptions(maxSockets ?? 1) }) });
    expect(asked).toEqual([[ENV.CONNECTIONS_ENDPOINT, 64]]);
  });

  it('refuses an invalid environment naming each bad variable, in English', () => {
    expect(() => runtimeFromEnv({ ...ENV, REGIONS: 'Not A Region', DELIVERY_CONCURRENCY: 'many' }, {}, recordingPorts())).toThrow(
      'Relaymesh Lambda environment is invalid: REGIONS: must be a comma-separated list of regions; DELIVERY_CONCURRENCY: Invalid input: expected number, received NaN',
    );
  });
});

describe('addCounts', () => {
  it('adds each Count metric of a report to its running total and leaves other units out: a sum of latencies means nothing', () => {
    const totals: Record<string, number> = { posted: 5 };
    addCounts(totals, { posted: count(3), gone: count(1), publishToPost: milliseconds([40, 75]) });
    addCounts(totals, { posted: count(2) });
    expect(totals).toEqual({ posted: 10, gone: 1 });
  });
});
