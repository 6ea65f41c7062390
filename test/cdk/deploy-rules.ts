import type { Template } from 'aws-cdk-lib/assertions';

/**
 * Rules AWS enforces when CloudFormation creates a resource, which `cdk synth` does not
 * check. Each returns the violations it finds in a template, as readable sentences, so a
 * test can `expect(violations).toEqual([])` and name every offender when it fails.
 */

interface TargetGroupProperties {
  TargetType?: string;
  Protocol?: string;
  HealthCheckProtocol?: string;
  HealthCheckEnabled?: boolean;
  HealthCheckIntervalSeconds?: number;
  HealthCheckTimeoutSeconds?: number;
}

/**
 * ELB's defaults when a target group leaves a health-check field unset (Elastic Load
 * Balancing API reference, CreateTargetGroup): interval 35 s and timeout 30 s for Lambda
 * targets; otherwise interval 30 s (10 s for GENEVE) and timeout 6 s for HTTP, 10 s for
 * HTTPS/TCP/TLS, 5 s for GENEVE.
 */
export function defaultHealthCheck(properties: TargetGroupProperties): { intervalSeconds: number; timeoutSeconds: number } {
  if (properties.TargetType === 'lambda') return { intervalSeconds: 35, timeoutSeconds: 30 };
  const protocol = properties.HealthCheckProtocol ?? properties.Protocol ?? 'HTTP';
  if (protocol === 'GENEVE') return { intervalSeconds: 10, timeoutSeconds: 5 };
  return { intervalSeconds: 30, timeoutSeconds: protocol === 'HTTP' ? 6 : 10 };
}

/**
 * ELB refuses a target group whose health-check interval is not greater than its timeout
 * ("Health check interval must be greater than the timeout"), with the defaults above
 * filling whichever of the two a template leaves out; and the interval must be 5-300 s,
 * the timeout 2-120 s.
 */
export function targetGroupHealthCheckViolations(template: Template): string[] {
  const violations: string[] = [];
  for (const [id, resource] of Object.entries(template.findResources('AWS::ElasticLoadBalancingV2::TargetGroup'))) {
    const properties = (resource.Properties ?? {}) as TargetGroupProperties;
    if (properties.HealthCheckEnabled === false) continue;
    const defaults = defaultHealthCheck(properties);
    const interval = properties.HealthCheckIntervalSeconds ?? defaults.intervalSeconds;
    const timeout = properties.HealthCheckTimeoutSeconds ?? defaults.timeoutSeconds;
    if (interval <= timeout) violations.push(`${id}: health-check interval ${interval} s is not greater than its timeout ${timeout} s`);
    if (interval < 5 || interval > 300) violations.push(`${id}: health-check interval ${interval} s is outside 5-300 s`);
    if (timeout < 2 || timeout > 120) violations.push(`${id}: health-check timeout ${timeout} s is outside 2-120 s`);
  }
  return violations;
}

/**
 * A template value as text: literals kept, `Fn::Join` joined, any other intrinsic (Ref, GetAtt,
 * import) as `<token>`. Enough to read the Region of an ARN built by `Stack.formatArn`.
 */
export function templateText(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value && typeof value === 'object' && 'Fn::Join' in value) {
    const [separator, parts] = (value as { 'Fn::Join': [string, unknown[]] })['Fn::Join'];
    return parts.map(templateText).join(separator);
  }
  return '<token>';
}

/** The Region in an ARN of `service` (`arn:<partition>:<service>:<region>:…`), if it is a literal. */
export function arnRegion(value: unknown, service: string): string | undefined {
  return new RegExp(`:${service}:([a-z0-9-]+):`).exec(templateText(value))?.[1];
}

interface SubscriptionProperties {
  Protocol?: string;
  TopicArn?: unknown;
  RedrivePolicy?: { deadLetterTargetArn?: unknown };
}

/**
 * SNS→SQS subscriptions SNS would let lose messages, or CloudFormation would refuse: each needs a
 * redrive policy (without one SNS drops what it cannot deliver, e.g. when the queue policy
 * refuses it), and the DLQ must be in the subscription's Region (SNS Developer Guide, "Amazon
 * SNS dead-letter queues": "The Amazon SNS subscription and Amazon SQS queue must be under the
 * same AWS account and Region"). A subscription lives in its topic's Region.
 */
export function snsSubscriptionRedriveViolations(template: Template, stackRegion: string): string[] {
  const violations: string[] = [];
  for (const [id, resource] of Object.entries(template.findResources('AWS::SNS::Subscription'))) {
    const properties = (resource.Properties ?? {}) as SubscriptionProperties;
    if (properties.Protocol !== 'sqs') continue;
    const target = properties.RedrivePolicy?.deadLetterTargetArn;
    if (target === undefined) {
      violations.push(`${id}: no redrive policy, so SNS drops what it cannot deliver`);
      continue;
    }
    const subscriptionRegion = arnRegion(properties.TopicArn, 'sns') ?? stackRegion;
    const dlqRegion = arnRegion(target, 'sqs') ?? stackRegion;
    if (dlqRegion !== subscriptionRegion) violations.push(`${id}: DLQ in ${dlqRegion}, but the subscription is in ${subscriptionRegion}`);
  }
  return violations;
}

/** Properties that hold a resource's physical name, by resource type. */
const NAME_PROPERTIES: Record<string, string> = {
  'AWS::DynamoDB::GlobalTable': 'TableName',
  'AWS::DynamoDB::Table': 'TableName',
  'AWS::SecretsManager::Secret': 'Name',
  'AWS::S3::Bucket': 'BucketName',
  'AWS::SQS::Queue': 'QueueName',
  'AWS::SNS::Topic': 'TopicName',
  'AWS::IAM::Role': 'RoleName',
  'AWS::Logs::LogGroup': 'LogGroupName',
  'AWS::SSM::Parameter': 'Name',
};

/**
 * The explicit physical names that block a second deploy after `cdk destroy`: resources
 * CloudFormation retains (DeletionPolicy Retain or Snapshot, which a DynamoDB table with
 * deletion protection gets) keep their names, and a deleted Secrets Manager secret keeps its
 * name through its recovery window (7 to 30 days; Secrets Manager API reference, DeleteSecret).
 * Resources without an explicit name get a fresh generated one and never collide.
 */
export function namesThatOutliveDestroy(template: Template): string[] {
  const names: string[] = [];
  for (const resource of Object.values(template.toJSON().Resources as Record<string, { Type: string; DeletionPolicy?: string; Properties?: Record<string, unknown> }>)) {
    const nameProperty = NAME_PROPERTIES[resource.Type];
    const name = nameProperty ? resource.Properties?.[nameProperty] : undefined;
    if (name === undefined) continue;
    const retained = resource.DeletionPolicy === 'Retain' || resource.DeletionPolicy === 'RetainExceptOnCreate' || resource.DeletionPolicy === 'Snapshot';
    if (retained || resource.Type === 'AWS::SecretsManager::Secret') names.push(templateText(name));
  }
  return names.sort();
}
