import { ApiGatewayManagementApiClient } from '@aws-sdk/client-apigatewaymanagementapi';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SNSClient } from '@aws-sdk/client-sns';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { ClientFactory } from './runtime';

/**
 * One factory per AWS client a handler may use. An entry imports only the factories of its
 * function, and the SDK packages are free of side effects, so the others never reach its bundle.
 */

export const dynamoClient: ClientFactory<DynamoDBDocumentClient> = ({ env, config }) =>
  DynamoDBDocumentClient.from(new DynamoDBClient(config(env.AWS_ENDPOINT_URL_DYNAMODB)), { marshallOptions: { removeUndefinedValues: true } });

export const snsClient: ClientFactory<SNSClient> = ({ env, config }) => new SNSClient(config(env.AWS_ENDPOINT_URL_SNS));

export const sqsClient: ClientFactory<SQSClient> = ({ env, config }) => new SQSClient(config(env.AWS_ENDPOINT_URL_SQS));

/** A socket per post in flight: the delivery worker runs DELIVERY_CONCURRENCY posts at once. */
export const connectionsClient: ClientFactory<ApiGatewayManagementApiClient> = ({ env, config }) =>
  new ApiGatewayManagementApiClient(config(env.CONNECTIONS_ENDPOINT, env.DELIVERY_CONCURRENCY));
