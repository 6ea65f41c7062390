/**
 * One side of `--compare-sample` in a process of its own, as a Lambda sandbox: it runs only
 * the fan-out code (handler, SDK clients, HTTP) against the cloud's endpoints, so the CPU it
 * uses during an invocation is the fan-out's alone. The @connections emulator, DynamoDB Local
 * and the subscribers' sockets run in other processes. Driven over IPC by fanout-sides.ts.
 */
import type { SQSEvent } from 'aws-lambda';
import { ApiGatewayManagementApiClient } from '@aws-sdk/client-apigatewaymanagementapi';
import { connectionsClient, dynamoClient, sqsClient } from '../lambdas/core/aws-clients';
import { createDeliveryWorkerHandler } from '../lambdas/core/handlers';
import { addCounts, runtimeFromEnv, type MetricsSink } from '../lambdas/core/runtime';
import { functionLogger, powertoolsLog } from '../lambdas/powertools';
import { baselineFanout } from './baseline-fanout';
import type { FanoutCost, FromFanout, ToFanout } from './fanout-sides';

/** Redeliveries of the records a Relaymesh invocation reports failed, as SQS would bring them back. */
const REDELIVERIES = 3;

const send = (message: FromFanout): void => void process.send?.(message);

let invoke: ((bodies: string[]) => Promise<Omit<FanoutCost, 'cpuMicros' | 'systemCpuMicros' | 'wallMs'>>) | undefined;

function init(side: 'relaymesh' | 'baseline', env: Record<string, string>): void {
  let stats: Record<string, number> = {};
  const collect: MetricsSink = (_dimensions, measurements) => addCounts(stats, measurements);
  // The Logger a Lambda sandbox would have, so the side's CPU includes what its log lines cost there.
  const log = powertoolsLog(functionLogger({ region: env.AWS_REGION ?? '' }));
  const runtime = runtimeFromEnv(env, { dynamo: dynamoClient, connections: connectionsClient, sqs: sqsClient }, { log, metrics: collect });
  if (side === 'relaymesh') {
    // The delivery worker's Lambda handler itself, fed the SQS event its queue would deliver.
    const handler = createDeliveryWorkerHandler(runtime);
    invoke = async (bodies) => {
      stats = {};
      let records = bodies.map((body, i) => sqsRecord(body, i));
      let invocations = 0;
      for (let attempt = 0; records.length > 0 && attempt <= REDELIVERIES; attempt++) {
        invocations++;
        const { batchItemFailures } = await handler({ Records: records } satisfies SQSEvent);
        const failed = new Set(batchItemFailures.map((f) => f.itemIdentifier));
        records = records.filter((r) => failed.has(r.messageId));
      }
      return {
        invocations,
        failedInvocations: records.length > 0 ? 1 : 0,
        posted: stats.posted ?? 0,
        itemsRead: stats.itemsRead ?? 0,
        gone: stats.gone ?? 0,
        truncated: 0,
        ...(records.length > 0 && { firstError: `${records.length} records still failed after ${REDELIVERIES} redeliveries` }),
      };
    };
  } else {
    // Its @connections client as the sample builds one, with the SDK's default HTTP options (50
    // keep-alive sockets, no connection or request timeout), once rather than per invocation: with
    // the worker's 1 s connection timeout, its posts queued behind the sockets timed out on a loaded machine.
    const { env: runtimeEnv } = runtime;
    const connections = new ApiGatewayManagementApiClient({
      region: runtime.region,
      endpoint: runtimeEnv.CONNECTIONS_ENDPOINT,
      ...(runtimeEnv.AWS_ACCESS_KEY_ID && runtimeEnv.AWS_SECRET_ACCESS_KEY && { credentials: { accessKeyId: runtimeEnv.AWS_ACCESS_KEY_ID, secretAccessKey: runtimeEnv.AWS_SECRET_ACCESS_KEY } }),
    });
    const fanout = baselineFanout({ dynamo: runtime.dynamo, connections, connectionsTableName: runtimeEnv.CONNECTIONS_TABLE, region: runtime.region });
    // One invocation per message, all at once: API Gateway invokes the sample's handler per message sent.
    invoke = async (bodies) => {
      const results = await Promise.all(bodies.map((body) => fanout(body)));
      const sum = (pick: (r: (typeof results)[number]) => number) => results.reduce((n, r) => n + pick(r), 0);
      const firstError = results.find((r) => r.error)?.error;
      return {
        invocations: results.length,
        failedInvocations: sum((r) => (r.error ? 1 : 0)),
        posted: sum((r) => r.posted),
        itemsRead: sum((r) => r.itemsRead),
        gone: sum((r) => r.gone),
        truncated: sum((r) => (r.truncated ? 1 : 0)),
        ...(firstError && { firstError }),
      };
    };
  }
}

function sqsRecord(body: string, index: number): SQSEvent['Records'][number] {
  return {
    messageId: `bench-${index}`,
    receiptHandle: `bench-${index}`,
    body,
    attributes: { ApproximateReceiveCount: '1', SentTimestamp: String(Date.now()), SenderId: 'bench', ApproximateFirstReceiveTimestamp: String(Date.now()) },
    messageAttributes: {},
    md5OfBody: '',
    eventSource: 'aws:sqs',
    eventSourceARN: 'arn:aws:sqs:local:000000000000:bench',
    awsRegion: 'local',
  };
}

process.on('message', (message: ToFanout) => {
  switch (message.type) {
    case 'init':
      init(message.side, message.env);
      send({ type: 'ready' });
      break;
    case 'run': {
      const run = invoke!;
      const cpu = process.cpuUsage();
      const startedAt = performance.now();
      void run(message.bodies).then(
        (cost) => {
          const wallMs = performance.now() - startedAt;
          const { user, system } = process.cpuUsage(cpu);
          send({ type: 'ran', cost: { ...cost, cpuMicros: user + system, systemCpuMicros: system, wallMs } });
        },
        (error: unknown) => send({ type: 'ran', error: error instanceof Error ? `${error.name}: ${error.message}` : String(error) }),
      );
      break;
    }
    case 'close':
      // The SDK's keep-alive sockets would hold the process open; exiting also writes a --cpu-prof profile.
      process.exit(0);
  }
});
