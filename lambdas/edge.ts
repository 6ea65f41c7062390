// HTTP edge: the ALB target behind Global Accelerator and the regional HTTPS endpoint (API
// Gateway HTTP API) in front of the same function: /health, /v1/connect, /v1/publish.
import { dynamoClient, snsClient } from './core/aws-clients';
import { edgeAdapter } from './core/edge';
import { createEdgeHandler } from './core/handlers';
import { runtimeFromEnv } from './core/runtime';
import { lambdaPowertools } from './powertools';
import { traceClients, traced } from './tracing';

const powertools = lambdaPowertools();
export const handler = powertools.handler(
  traced(
    'edge',
    edgeAdapter(createEdgeHandler(traceClients(runtimeFromEnv(process.env, { dynamo: dynamoClient, sns: snsClient }, powertools.runtimeOptions))), {
      publishUrl: process.env.PUBLISH_URL,
    }),
  ),
);
