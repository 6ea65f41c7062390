/**
 * Every function of a region as the local cloud builds it in its sandbox (function-sandbox.ts):
 * the same core handler and the same SDK clients as its lambdas/<name>.ts on Lambda, with the
 * local runtime options instead of Powertools' and X-Ray's. function-bundles.ts bundles each
 * export on its own, so a sandbox loads only its function's code.
 */
import { createAuthorizerHandler } from '../lambdas/core/authorizer-handler';
import { connectionsClient, dynamoClient, snsClient, sqsClient } from '../lambdas/core/aws-clients';
import {
  createConnectHandler,
  createDeliveryWorkerHandler,
  createDisconnectHandler,
  createEdgeHandler,
  createMessageRouterHandler,
} from '../lambdas/core/handlers';
import { runtimeFromEnv } from '../lambdas/core/runtime';
import type { FunctionBuilder } from './function-sandbox';

export const authorizer: FunctionBuilder = ({ env, runtimeOptions }) => createAuthorizerHandler(runtimeFromEnv(env, {}, runtimeOptions));

export const connect: FunctionBuilder = ({ env, runtimeOptions }) => createConnectHandler(runtimeFromEnv(env, { dynamo: dynamoClient }, runtimeOptions));

export const disconnect: FunctionBuilder = ({ env, runtimeOptions }) =>
  createDisconnectHandler(runtimeFromEnv(env, { dynamo: dynamoClient, sns: snsClient }, runtimeOptions));

export const messageRouter: FunctionBuilder = ({ env, runtimeOptions }) =>
  createMessageRouterHandler(runtimeFromEnv(env, { dynamo: dynamoClient, sns: snsClient, connections: connectionsClient }, runtimeOptions));

export const deliveryWorker: FunctionBuilder = ({ env, runtimeOptions }) =>
  createDeliveryWorkerHandler(runtimeFromEnv(env, { dynamo: dynamoClient, connections: connectionsClient, sqs: sqsClient }, runtimeOptions));

export const edge: FunctionBuilder = ({ env, runtimeOptions, isDrained }) =>
  createEdgeHandler(runtimeFromEnv(env, { dynamo: dynamoClient, sns: snsClient }, runtimeOptions), isDrained);
