import { ArnFormat, type Stack } from 'aws-cdk-lib';
import type { EventClass } from './config';
import { deadLetterQueueName, eventQueueName, fanoutTopicName, subscriptionDeadLetterQueueName } from './messaging-names';

/**
 * Deterministic physical names of the resources that other regions' stacks must reference.
 * Because a name plus (region, account) fixes the ARN, a stack in one region can point at a
 * resource of another region without a cross-stack reference, which CloudFormation cannot
 * make across regions.
 */
export { deadLetterQueueName, eventQueueName, fanoutTopicName, subscriptionDeadLetterQueueName };

/**
 * Prefix of the names that outlive `cdk destroy` (retained global tables, the secret in its
 * recovery window): the app name, plus the config's `nameSuffix` when a redeploy needs new ones.
 */
export const dataNamePrefix = (config: { appName: string; nameSuffix?: string }): string =>
  config.nameSuffix ? `${config.appName}-${config.nameSuffix}` : config.appName;

/** Secrets Manager name of the JWT signing secret, replicated to every region; `prefix` is dataNamePrefix. */
export const jwtSecretName = (prefix: string): string => `${prefix}/jwt-hs256`;

export { drainParameterName } from './edge-names';

export const regionStackName = (appName: string, region: string): string => `${appName}-${region}`;
export const fanoutStackName = (appName: string, region: string): string => `${appName}-fanout-${region}`;
export const dataStackName = (appName: string): string => `${appName}-data`;
export const edgeStackName = (appName: string): string => `${appName}-edge`;

/** ARN of `region`'s fan-out topic, in the account of `scope`'s stack. */
export function fanoutTopicArn(scope: Stack, appName: string, region: string): string {
  return scope.formatArn({ service: 'sns', region, resource: fanoutTopicName(appName), arnFormat: ArnFormat.NO_RESOURCE_NAME });
}

/** ARN of `region`'s queue for `eventClass`, in the account of `scope`'s stack. */
export function eventQueueArn(scope: Stack, appName: string, region: string, eventClass: EventClass): string {
  return scope.formatArn({ service: 'sqs', region, resource: eventQueueName(appName, eventClass), arnFormat: ArnFormat.NO_RESOURCE_NAME });
}

/** ARN of the DLQ of `region`'s fan-out subscriptions, in the account of `scope`'s stack. */
export function subscriptionDeadLetterQueueArn(scope: Stack, appName: string, region: string): string {
  return scope.formatArn({ service: 'sqs', region, resource: subscriptionDeadLetterQueueName(appName), arnFormat: ArnFormat.NO_RESOURCE_NAME });
}

/** The latency-routed WebSocket name, the same in every region, when a hosted zone is configured. */
export const webSocketDomainName = (domainName: string): string => `ws.${domainName}`;

/** The accelerator's name under the configured domain. */
export const edgeDomainName = (domainName: string): string => `edge.${domainName}`;
