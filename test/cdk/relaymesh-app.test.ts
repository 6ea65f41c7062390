import type { CloudAssembly } from 'aws-cdk-lib/cx-api';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../lib/config';
import { GLOBAL_TABLES, physicalTableName, REGIONAL_TABLES } from '../../lambdas/core/tables';
import { addRelaymeshStacks, type RelaymeshStacks } from '../../lib/relaymesh-app';
import { allStacks, testApp, validationViolations } from './cdk-test-app';
import {
  acceleratorHealthCheckViolations,
  deliveryWorkerTimeoutViolations,
  lambdaTargetGroupHealthViolations,
  plainHttpTokenViolations,
  snsSubscriptionRedriveViolations,
  targetGroupHealthCheckViolations,
  templateText,
} from './deploy-rules';

const REGIONS = ['us-east-1', 'eu-west-1', 'ap-southeast-1'];
const CLASSES = ['critical', 'ephemeral'];

describe('GIVEN the app synthesized for three regions without a hosted zone', () => {
  let stacks: RelaymeshStacks;
  let assembly: CloudAssembly;
  const template = (stack: Parameters<typeof Template.fromStack>[0]) => Template.fromStack(stack);

  beforeAll(() => {
    const app = testApp();
    stacks = addRelaymeshStacks(app, loadConfig({ regions: REGIONS }));
    assembly = app.synth();
  });

  it('THEN the cloud assembly holds the data stack, a region and a fan-out stack per region, and the edge stack', () => {
    expect(assembly.stacks.map((s) => s.stackName).sort()).toEqual(
      ['relaymesh-data', 'relaymesh-edge', ...REGIONS.map((r) => `relaymesh-${r}`), ...REGIONS.map((r) => `relaymesh-fanout-${r}`)].sort(),
    );
    expect(assembly.getStackByName('relaymesh-data').environment.region).toBe('us-east-1');
    expect(assembly.getStackByName('relaymesh-edge').environment.region).toBe('us-west-2');
  });

  it('THEN cdk-nag AwsSolutions leaves no unacknowledged finding in any stack', () => {
    expect(validationViolations(assembly.directory)).toEqual([]);
  });

  it('THEN every target group in every stack has a health-check interval above its timeout, with ELB\'s defaults filled in', () => {
    for (const stack of allStacks(stacks)) {
      expect(targetGroupHealthCheckViolations(Template.fromStack(stack)), stack.stackName).toEqual([]);
    }
  });

  it('THEN the data stack defines each global table once, with a replica in every other region, PITR and TTL where items expire', () => {
    const data = template(stacks.data);
    data.resourceCountIs('AWS::DynamoDB::GlobalTable', GLOBAL_TABLES.length);
    for (const layout of GLOBAL_TABLES) {
      for (const region of REGIONS) {
        data.hasResourceProperties('AWS::DynamoDB::GlobalTable', {
          TableName: physicalTableName('relaymesh', layout),
          Replicas: Match.arrayWith([
            Match.objectLike({ Region: region, PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true }, DeletionProtectionEnabled: true }),
          ]),
          TimeToLiveSpecification: layout.timeToLiveAttribute ? { AttributeName: layout.timeToLiveAttribute, Enabled: true } : Match.absent(),
        });
      }
    }
  });

  it('THEN each region stack holds its own connections and subscriptions tables, not replicated, and its replication alarms watch only the global tables', () => {
    for (const stack of stacks.regions) {
      const t = template(stack);
      const own = Object.values(t.findResources('AWS::DynamoDB::GlobalTable'));
      expect(own.map((r) => r.Properties.TableName).sort(), stack.stackName).toEqual(REGIONAL_TABLES.map((l) => physicalTableName('relaymesh', l)).sort());
      for (const table of own) expect(table.Properties.Replicas, stack.stackName).toEqual([expect.objectContaining({ Region: stack.region })]);
      const watched = Object.values(t.findResources('AWS::CloudWatch::Alarm'))
        .filter((a) => a.Properties.MetricName === 'ReplicationLatency')
        .map((a) => (a.Properties.Dimensions as Array<{ Name: string; Value: string }>).find((d) => d.Name === 'TableName')!.Value);
      expect(new Set(watched), stack.stackName).toEqual(new Set(GLOBAL_TABLES.map((l) => physicalTableName('relaymesh', l))));
    }
  });

  it('THEN the JWT secret is replicated to every other region', () => {
    template(stacks.data).hasResourceProperties('AWS::SecretsManager::Secret', {
      Name: 'relaymesh/jwt-hs256',
      ReplicaRegions: REGIONS.slice(1).map((Region) => ({ Region })),
    });
  });

  describe('WHEN reading each region stack', () => {
    it('THEN each has one WEBSOCKET API whose stage throttles and writes access logs', () => {
      for (const stack of stacks.regions) {
        const t = template(stack);
        expect(Object.keys(t.findResources('AWS::ApiGatewayV2::Api', { Properties: { ProtocolType: 'WEBSOCKET' } }))).toHaveLength(1);
        t.hasResourceProperties('AWS::ApiGatewayV2::Api', { ProtocolType: 'WEBSOCKET', RouteSelectionExpression: '$request.body.action' });
        t.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
          StageName: 'live',
          DefaultRouteSettings: { ThrottlingRateLimit: 10_000, ThrottlingBurstLimit: 5_000 },
          AccessLogSettings: { DestinationArn: Match.anyValue(), Format: Match.anyValue() },
        });
      }
    });

    it('THEN no stack sets the account-wide API Gateway CloudWatch role (opt-in), while each stage still writes access logs', () => {
      for (const stack of allStacks(stacks)) template(stack).resourceCountIs('AWS::ApiGateway::Account', 0);
    });

    it('THEN each event class has a queue whose RedrivePolicy points at its DLQ, and an alarm on that DLQ', () => {
      for (const stack of stacks.regions) {
        const t = template(stack);
        for (const eventClass of CLASSES) {
          const dlqs = t.findResources('AWS::SQS::Queue', { Properties: { QueueName: `relaymesh-${eventClass}-dlq` } });
          const [dlqId] = Object.keys(dlqs);
          expect(dlqId, `${stack.region} ${eventClass} DLQ`).toBeDefined();
          t.hasResourceProperties('AWS::SQS::Queue', {
            QueueName: `relaymesh-${eventClass}`,
            SqsManagedSseEnabled: true,
            RedrivePolicy: { deadLetterTargetArn: { 'Fn::GetAtt': [dlqId, 'Arn'] }, maxReceiveCount: Match.anyValue() },
          });
          t.hasResourceProperties('AWS::CloudWatch::Alarm', {
            MetricName: 'ApproximateNumberOfMessagesVisible',
            Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [dlqId, 'QueueName'] } }],
            Threshold: eventClass === 'critical' ? 0 : 10,
            ComparisonOperator: 'GreaterThanThreshold',
            AlarmActions: Match.anyValue(),
          });
        }
      }
    });

    it('THEN each queue policy lets every region\'s fan-out topic send, cross-region included', () => {
      for (const stack of stacks.regions) {
        const policies = template(stack).findResources('AWS::SQS::QueuePolicy');
        const text = JSON.stringify(policies);
        for (const region of REGIONS) expect(text).toContain(`:sns:${region}:`);
      }
    });

    it('THEN each has one dashboard and outputs its WebSocket URL and dashboard URL', () => {
      for (const stack of stacks.regions) {
        const t = template(stack);
        t.resourceCountIs('AWS::CloudWatch::Dashboard', 1);
        t.hasResourceProperties('AWS::CloudWatch::Dashboard', { DashboardName: `relaymesh-${stack.region}` });
        t.hasOutput('WebSocketUrl', { Value: { 'Fn::Join': ['', Match.arrayWith(['wss://'])] } });
        t.hasOutput('DashboardUrl', { Value: Match.stringLikeRegexp(`region=${stack.region}#dashboards:name=relaymesh-${stack.region}`) });
      }
    });

    it('THEN each delivery worker consumes its class queue with partial batch failures and maximum concurrency', () => {
      for (const stack of stacks.regions) {
        const t = template(stack);
        t.resourceCountIs('AWS::Lambda::EventSourceMapping', CLASSES.length);
        t.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
          FunctionResponseTypes: ['ReportBatchItemFailures'],
          ScalingConfig: { MaximumConcurrency: 20 },
        });
        t.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
          FunctionResponseTypes: ['ReportBatchItemFailures'],
          ScalingConfig: { MaximumConcurrency: 10 },
        });
      }
    });

    it('THEN every Relaymesh function runs nodejs22.x on arm64 with the whole runtime environment', () => {
      for (const stack of stacks.regions) {
        const functions = Object.values(template(stack).findResources('AWS::Lambda::Function'));
        expect(functions).toHaveLength(7);
        for (const fn of functions) {
          expect(fn.Properties.Runtime).toBe('nodejs22.x');
          expect(fn.Properties.Architectures).toEqual(['arm64']);
          expect(Object.keys(fn.Properties.Environment.Variables)).toEqual(
            expect.arrayContaining([
              'CONNECTIONS_TABLE', 'SUBSCRIPTIONS_TABLE', 'PRESENCE_TABLE', 'SEQUENCES_TABLE', 'HISTORY_TABLE', 'TOPIC_ARN',
              'CONNECTIONS_ENDPOINT', 'MAX_PUBLISH_DATA_BYTES', 'MAX_SUBSCRIPTIONS_PER_CONNECTION', 'DELIVERY_CONCURRENCY', 'JWT_SECRET_ARN',
            ]),
          );
        }
      }
    });
  });

  it('THEN every function but the health-probed edge traces actively with Powertools settings, logs at INFO, and X-Ray\'s two actions are the only wildcard resource any function role gets', () => {
    for (const stack of stacks.regions) {
      const t = template(stack);
      for (const [id, fn] of Object.entries(t.findResources('AWS::Lambda::Function'))) {
        const edge = id.startsWith('EdgeFunction');
        expect(fn.Properties.TracingConfig, id).toEqual(edge ? undefined : { Mode: 'Active' });
        expect(fn.Properties.Environment.Variables).toMatchObject({
          POWERTOOLS_SERVICE_NAME: 'relaymesh',
          POWERTOOLS_TRACE_ENABLED: String(!edge),
          POWERTOOLS_TRACER_CAPTURE_RESPONSE: 'false',
          POWERTOOLS_LOG_LEVEL: 'INFO',
        });
      }
      for (const policy of Object.values(t.findResources('AWS::IAM::Policy'))) {
        for (const statement of policy.Properties.PolicyDocument.Statement as { Action: string | string[]; Resource: unknown }[]) {
          if ([statement.Resource].flat().includes('*')) expect(statement.Action).toEqual(['xray:PutTraceSegments', 'xray:PutTelemetryRecords']);
        }
      }
    }
  });

  it('THEN no function applies source maps at run time by default (no NODE_OPTIONS=--enable-source-maps)', () => {
    for (const stack of stacks.regions) {
      for (const [id, fn] of Object.entries(template(stack).findResources('AWS::Lambda::Function'))) {
        expect(fn.Properties.Environment.Variables.NODE_OPTIONS, id).toBeUndefined();
      }
    }
  });

  it('THEN every delivery worker finishes a full batch to the largest channel inside its timeout, with headroom', () => {
    for (const stack of stacks.regions) {
      expect(deliveryWorkerTimeoutViolations(template(stack), loadConfig({}).capacity), stack.stackName).toEqual([]);
      // The rule can fail: the same workers would not fit a channel twice as large.
      expect(deliveryWorkerTimeoutViolations(template(stack), { ...loadConfig({}).capacity, largestChannelSubscribers: 2000 })).toHaveLength(2);
    }
  });

  it('THEN function memory follows the config defaults: the capacity model\'s 1088 MB (critical) and 1600 MB (ephemeral) for the delivery workers, 512 MB for the router, 256 MB for the rest', () => {
    for (const stack of stacks.regions) {
      const functions = Object.entries(template(stack).findResources('AWS::Lambda::Function'));
      const memoryOf = (prefix: string) => functions.filter(([id]) => id.startsWith(prefix)).map(([, fn]) => fn.Properties.MemorySize as number);
      expect(memoryOf('criticalDeliveryFunction')).toEqual([1088]);
      expect(memoryOf('ephemeralDeliveryFunction')).toEqual([1600]);
      expect(memoryOf('WebSocketMessageRouter')).toEqual([512]);
      for (const prefix of ['WebSocketAuthorizer', 'WebSocketConnect', 'WebSocketDisconnect', 'EdgeFunction']) expect(memoryOf(prefix), prefix).toEqual([256]);
    }
  });

  it('THEN the ephemeral class dead-letters only after 10 receives (past its TTL) and its DLQ alarms on more than 10 for 15 minutes, while critical pages on any', () => {
    for (const stack of stacks.regions) {
      const t = template(stack);
      const dlqId = (eventClass: string) => Object.keys(t.findResources('AWS::SQS::Queue', { Properties: { QueueName: `relaymesh-${eventClass}-dlq` } }))[0]!;
      t.hasResourceProperties('AWS::SQS::Queue', { QueueName: 'relaymesh-ephemeral', RedrivePolicy: Match.objectLike({ maxReceiveCount: 10 }) });
      t.hasResourceProperties('AWS::SQS::Queue', { QueueName: 'relaymesh-ephemeral-dlq', MessageRetentionPeriod: 86_400 });
      t.hasResourceProperties('AWS::CloudWatch::Alarm', {
        Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [dlqId('ephemeral'), 'QueueName'] } }],
        Threshold: 10,
        Period: 300,
        EvaluationPeriods: 3,
      });
      t.hasResourceProperties('AWS::CloudWatch::Alarm', {
        Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [dlqId('critical'), 'QueueName'] } }],
        Threshold: 0,
        Period: 60,
        EvaluationPeriods: 1,
      });
    }
  });

  it('THEN no Lambda function in any stack runs nodejs20.x or older', () => {
    for (const stack of allStacks(stacks)) {
      for (const fn of Object.values(template(stack).findResources('AWS::Lambda::Function'))) {
        const version = /^nodejs(\d+)/.exec(String(fn.Properties.Runtime))?.[1];
        expect(Number(version), `${stack.stackName} ${fn.Properties.Runtime}`).toBeGreaterThan(20);
      }
    }
  });

  it('THEN each region\'s fan-out stack subscribes its topic to every region\'s queues, filtered on class, with raw delivery', () => {
    for (const fanout of stacks.fanouts) {
      const t = template(fanout);
      t.resourceCountIs('AWS::SNS::Subscription', REGIONS.length * CLASSES.length);
      for (const queueRegion of REGIONS) {
        for (const eventClass of CLASSES) {
          t.hasResourceProperties('AWS::SNS::Subscription', {
            Protocol: 'sqs',
            RawMessageDelivery: true,
            FilterPolicy: { class: [eventClass] },
            TopicArn: { 'Fn::Join': ['', Match.arrayWith([`:sns:${fanout.region}:`, ':relaymesh-fanout'])] },
            Endpoint: { 'Fn::Join': ['', Match.arrayWith([`:sqs:${queueRegion}:`, `:relaymesh-${eventClass}`])] },
          });
        }
      }
    }
  });

  it('THEN every SNS→SQS subscription redrives to the fan-out DLQ of its topic\'s region, which that region\'s stack creates for that topic, with alarms', () => {
    for (const [i, fanout] of stacks.fanouts.entries()) {
      const t = template(fanout);
      expect(snsSubscriptionRedriveViolations(t, fanout.region), fanout.stackName).toEqual([]);
      for (const subscription of Object.values(t.findResources('AWS::SNS::Subscription'))) {
        expect(templateText(subscription.Properties.RedrivePolicy.deadLetterTargetArn)).toBe(`arn:<token>:sqs:${fanout.region}:<token>:relaymesh-fanout-dlq`);
      }
      const region = template(stacks.regions[i]!);
      const [dlqId] = Object.keys(region.findResources('AWS::SQS::Queue', { Properties: { QueueName: 'relaymesh-fanout-dlq' } }));
      expect(dlqId, `${fanout.region} fan-out DLQ`).toBeDefined();
      const [topicId] = Object.keys(region.findResources('AWS::SNS::Topic', { Properties: { TopicName: 'relaymesh-fanout' } }));
      region.hasResourceProperties('AWS::SQS::QueuePolicy', {
        Queues: [{ Ref: dlqId }],
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({ Effect: 'Allow', Principal: { Service: 'sns.amazonaws.com' }, Condition: { ArnEquals: { 'aws:SourceArn': { Ref: topicId } } } }),
          ]),
        },
      });
      region.hasResourceProperties('AWS::CloudWatch::Alarm', { Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [dlqId, 'QueueName'] } }], Threshold: 0 });
      region.hasResourceProperties('AWS::CloudWatch::Alarm', { Namespace: 'AWS/SNS', MetricName: 'NumberOfNotificationsFailed' });
    }
  });

  it('THEN the edge stack has one accelerator with a TCP listener and an endpoint group per region at full traffic dial', () => {
    const t = template(stacks.edge!);
    t.resourceCountIs('AWS::GlobalAccelerator::Accelerator', 1);
    t.hasResourceProperties('AWS::GlobalAccelerator::Listener', { Protocol: 'TCP', PortRanges: [{ FromPort: 80, ToPort: 80 }] });
    t.resourceCountIs('AWS::GlobalAccelerator::EndpointGroup', REGIONS.length);
    for (const region of REGIONS) {
      t.hasResourceProperties('AWS::GlobalAccelerator::EndpointGroup', {
        EndpointGroupRegion: region,
        TrafficDialPercentage: 100,
        EndpointConfigurations: [
          { ClientIPPreservationEnabled: true, EndpointId: { 'Fn::GetStackOutput': Match.objectLike({ StackName: `relaymesh-${region}`, Region: region }) } },
        ],
      });
    }
    t.hasOutput('AcceleratorDnsName', { Value: { 'Fn::GetAtt': [Match.anyValue(), 'DnsName'] } });
  });

  it('THEN no endpoint group carries health-check settings, which Global Accelerator ignores for ALB endpoints (it follows the ALB target health)', () => {
    const t = template(stacks.edge!);
    expect(acceleratorHealthCheckViolations(t)).toEqual([]);
    for (const group of Object.values(t.findResources('AWS::GlobalAccelerator::EndpointGroup'))) {
      expect(Object.keys(group.Properties).filter((key) => key.startsWith('HealthCheck') || key === 'ThresholdCount')).toEqual([]);
    }
    for (const stack of stacks.regions) expect(lambdaTargetGroupHealthViolations(template(stack))).toEqual([]);
  });

  it('THEN no token crosses plain HTTP: each ALB\'s HTTP listener refuses tokens itself, and each region publishes over its HTTPS API (PublishUrl)', () => {
    for (const stack of stacks.regions) {
      const t = template(stack);
      expect(plainHttpTokenViolations(t), stack.stackName).toEqual([]);
      const [apiId] = Object.keys(t.findResources('AWS::ApiGatewayV2::Api', { Properties: { ProtocolType: 'HTTP' } }));
      expect(apiId, `${stack.region} HTTPS API`).toBeDefined();
      t.hasOutput('PublishUrl', { Value: { 'Fn::Join': ['', [{ 'Fn::GetAtt': [apiId, 'ApiEndpoint'] }, '/v1/publish']] } });
      t.hasOutput('EdgeUrl', { Value: { 'Fn::Join': ['', Match.arrayWith(['http://'])] } });
    }
    template(stacks.edge!).hasOutput('EdgeUrl', { Value: { 'Fn::Join': ['', Match.arrayWith(['http://'])] } });
  });

  it('THEN no Route 53 record or health check exists without a hosted zone', () => {
    for (const stack of [...stacks.regions, stacks.edge!]) {
      template(stack).resourceCountIs('AWS::Route53::RecordSet', 0);
      template(stack).resourceCountIs('AWS::Route53::HealthCheck', 0);
    }
  });
});

describe('GIVEN the app synthesized with functions.sourceMaps on', () => {
  it('THEN every function of every region applies its source maps at run time', () => {
    const app = testApp();
    const stacks = addRelaymeshStacks(app, loadConfig({ regions: REGIONS.slice(0, 2), functions: { sourceMaps: true } }));
    for (const stack of stacks.regions) {
      const functions = Object.entries(Template.fromStack(stack).findResources('AWS::Lambda::Function'));
      expect(functions).toHaveLength(7);
      for (const [id, fn] of functions) expect(fn.Properties.Environment.Variables.NODE_OPTIONS, id).toBe('--enable-source-maps');
    }
  });
});

describe('GIVEN the app synthesized with functions.logLevel DEBUG', () => {
  it('THEN every function of every region logs at DEBUG (POWERTOOLS_LOG_LEVEL)', () => {
    const app = testApp();
    const stacks = addRelaymeshStacks(app, loadConfig({ regions: REGIONS.slice(0, 2), functions: { logLevel: 'DEBUG' } }));
    for (const stack of stacks.regions) {
      const functions = Object.entries(Template.fromStack(stack).findResources('AWS::Lambda::Function'));
      expect(functions).toHaveLength(7);
      for (const [id, fn] of functions) expect(fn.Properties.Environment.Variables.POWERTOOLS_LOG_LEVEL, id).toBe('DEBUG');
    }
  });
});
