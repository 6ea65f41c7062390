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

/** Endpoint-group fields Global Accelerator applies only to EC2 instance and Elastic IP endpoints. */
const ACCELERATOR_HEALTH_CHECK_FIELDS = ['HealthCheckPath', 'HealthCheckPort', 'HealthCheckProtocol', 'HealthCheckIntervalSeconds', 'ThresholdCount'];

/**
 * Health-check settings Global Accelerator would silently ignore: for Application and Network
 * Load Balancer endpoints it uses the load balancer's target health, not the endpoint group's
 * settings (Global Accelerator Developer Guide, "Endpoint groups": "For Network Load Balancer
 * and Application Load Balancer endpoints, configure health check settings on the ELB
 * console"). Only endpoints that are literally an instance (`i-…`) or an Elastic IP allocation
 * (`eipalloc-…`) use them; anything else (an ARN, or a reference to one) is a load balancer.
 */
export function acceleratorHealthCheckViolations(template: Template): string[] {
  const violations: string[] = [];
  for (const [id, resource] of Object.entries(template.findResources('AWS::GlobalAccelerator::EndpointGroup'))) {
    const properties = (resource.Properties ?? {}) as Record<string, unknown> & { EndpointConfigurations?: { EndpointId?: unknown }[] };
    const set = ACCELERATOR_HEALTH_CHECK_FIELDS.filter((field) => properties[field] !== undefined);
    if (set.length === 0) continue;
    const loadBalancers = (properties.EndpointConfigurations ?? []).filter(
      ({ EndpointId }) => !(typeof EndpointId === 'string' && /^(i-|eipalloc-)/.test(EndpointId)),
    );
    if (loadBalancers.length > 0) violations.push(`${id}: ${set.join(', ')} ignored for its load balancer endpoints, which use the ALB/NLB target health`);
  }
  return violations;
}

/**
 * Target group health thresholds (`target_group_health.*` attributes) on a Lambda target group:
 * ELB does not support them there ("You can't use this feature with target groups where the
 * target is a Lambda function"; Application Load Balancers guide, "Target group health"), and
 * behind Global Accelerator no DNS failover threshold may be set at all.
 */
export function lambdaTargetGroupHealthViolations(template: Template): string[] {
  const violations: string[] = [];
  for (const [id, resource] of Object.entries(template.findResources('AWS::ElasticLoadBalancingV2::TargetGroup'))) {
    const properties = (resource.Properties ?? {}) as { TargetType?: string; TargetGroupAttributes?: { Key: string }[] };
    if (properties.TargetType !== 'lambda') continue;
    for (const { Key } of properties.TargetGroupAttributes ?? []) {
      if (Key.startsWith('target_group_health.')) violations.push(`${id}: ${Key} is not supported for Lambda targets`);
    }
  }
  return violations;
}

interface ListenerRuleProperties {
  ListenerArn?: unknown;
  Priority?: number;
  Actions?: { Type: string; FixedResponseConfig?: { StatusCode?: string } }[];
  Conditions?: { Field?: string; HttpHeaderConfig?: { HttpHeaderName?: string; Values?: string[] }; QueryStringConfig?: { Values?: { Key?: string; Value?: string }[] } }[];
}

/**
 * Plain-HTTP listeners that would pass a bearer token on: each listener speaking HTTP must
 * answer, itself and with a 4xx, any request carrying an `Authorization` header or a `token`
 * query parameter (ALB rules match header values with `*` wildcards; Application Load
 * Balancers guide, "Listener rules", HTTP header and query string conditions).
 */
export function plainHttpTokenViolations(template: Template): string[] {
  const rules = Object.values(template.findResources('AWS::ElasticLoadBalancingV2::ListenerRule')).map((r) => r.Properties as ListenerRuleProperties);
  const refuses = (listenerId: string, matches: (condition: NonNullable<ListenerRuleProperties['Conditions']>[number]) => boolean) =>
    rules.some(
      (rule) =>
        JSON.stringify(rule.ListenerArn) === JSON.stringify({ Ref: listenerId }) &&
        rule.Actions?.length === 1 &&
        rule.Actions[0]!.Type === 'fixed-response' &&
        /^4\d\d$/.test(rule.Actions[0]!.FixedResponseConfig?.StatusCode ?? '') &&
        (rule.Conditions ?? []).length === 1 &&
        matches(rule.Conditions![0]!),
    );
  const violations: string[] = [];
  for (const [id, resource] of Object.entries(template.findResources('AWS::ElasticLoadBalancingV2::Listener'))) {
    if ((resource.Properties as { Protocol?: string }).Protocol !== 'HTTP') continue;
    const header = refuses(id, (c) => c.Field === 'http-header' && c.HttpHeaderConfig?.HttpHeaderName?.toLowerCase() === 'authorization' && (c.HttpHeaderConfig.Values ?? []).includes('*'));
    const query = refuses(id, (c) => c.Field === 'query-string' && (c.QueryStringConfig?.Values ?? []).some((v) => v.Key === 'token' && v.Value === '*'));
    if (!header) violations.push(`${id}: plain HTTP listener passes an Authorization header on`);
    if (!query) violations.push(`${id}: plain HTTP listener passes a token query parameter on`);
  }
  return violations;
}

/**
 * Lambda ends an invocation at its timeout, and SQS then redelivers the whole batch, so a delivery
 * worker must finish a full batch to the largest channel in time: batch size (read off its event
 * source mapping) × largest channel × CPU per post, with headroom, at the CPU share its
 * MemorySize buys (one vCPU at 1,769 MB, and no more for one Node thread), within its Timeout.
 */
export function deliveryWorkerTimeoutViolations(
  template: Template,
  capacity: { largestChannelSubscribers: number; cpuMsPerPost: number; headroom: number },
): string[] {
  const functions = template.findResources('AWS::Lambda::Function');
  const mappings = Object.values(template.findResources('AWS::Lambda::EventSourceMapping'));
  return mappings.flatMap((mapping) => {
    const ref = (mapping.Properties.FunctionName as { Ref: string }).Ref;
    const fn = functions[ref]!.Properties as { MemorySize: number; Timeout: number };
    const batchSize = mapping.Properties.BatchSize as number;
    const seconds = (batchSize * capacity.largestChannelSubscribers * capacity.cpuMsPerPost * capacity.headroom) / 1000 / Math.min(1, fn.MemorySize / 1769);
    return seconds <= fn.Timeout
      ? []
      : [`${ref}: a full batch (${batchSize} × ${capacity.largestChannelSubscribers} posts) takes ${seconds.toFixed(1)} s at ${fn.MemorySize} MB, past its ${fn.Timeout} s timeout`];
  });
}
