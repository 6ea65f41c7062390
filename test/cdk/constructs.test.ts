import { Duration, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { Certificate } from 'aws-cdk-lib/aws-certificatemanager';
import { TableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../lib/config';
import { DeliveryWorker } from '../../lib/delivery-worker';
import { EdgeStack } from '../../lib/edge-stack';
import { EventClassQueue } from '../../lib/event-class-queue';
import { FanoutSubscriptions } from '../../lib/fanout-subscriptions';
import { GlobalTables } from '../../lib/global-tables';
import { RegionalTables } from '../../lib/regional-tables';
import { GLOBAL_TABLES, REGIONAL_TABLES } from '../../lambdas/core/tables';
import { RegionAlarms } from '../../lib/region-alarms';
import { RegionDashboard } from '../../lib/region-dashboard';
import { RegionalEdge, type RegionalEdgeProps } from '../../lib/regional-edge';
import { SubscriptionDeadLetters } from '../../lib/subscription-dead-letters';
import { type RegionTables, WebSocketGateway } from '../../lib/websocket-gateway';
import { testApp, testStack } from './cdk-test-app';
import {
  lambdaTargetGroupHealthViolations,
  plainHttpTokenViolations,
  snsSubscriptionRedriveViolations,
  targetGroupHealthCheckViolations,
  templateText,
} from './deploy-rules';

const config = loadConfig({});
const TOPIC_ARN = 'arn:aws:sns:us-east-1:123456789012:relaymesh-fanout';
const FANOUT_DLQ_ARN = 'arn:aws:sqs:us-east-1:123456789012:relaymesh-fanout-dlq';

function queueIn(stack: Stack, settings = config.eventClasses.critical): EventClassQueue {
  return new EventClassQueue(stack, 'Critical', {
    queueName: 'relaymesh-critical',
    deadLetterQueueName: 'relaymesh-critical-dlq',
    eventClass: 'critical',
    settings,
    sourceTopics: [
      { region: 'us-east-1', topicArn: TOPIC_ARN },
      { region: 'eu-west-1', topicArn: 'arn:aws:sns:eu-west-1:123456789012:relaymesh-fanout' },
    ],
  });
}

interface SendStatement {
  Action: string;
  Principal?: { Service: string | string[] };
  Condition?: { ArnEquals: { 'aws:SourceArn': string | string[] } };
}

function tablesIn(stack: Stack): RegionTables {
  const t = (name: string) => TableV2.fromTableName(stack, name, `relaymesh-${name}`);
  return {
    connections: t('connections'),
    subscriptions: t('subscriptions'),
    presence: t('presence'),
    sequences: t('sequences'),
    history: t('history'),
    dedup: t('dedup'),
  };
}

/** The statements of the inline policy attached to the role of the function whose logical id starts with `prefix`. */
function policyStatementsOf(template: Template, prefix: string): unknown[] {
  const policies = template.findResources('AWS::IAM::Policy');
  const entry = Object.entries(policies).find(([id]) => id.startsWith(prefix));
  return (entry?.[1].Properties.PolicyDocument.Statement as unknown[]) ?? [];
}

describe('GlobalTables', () => {
  it('GIVEN two regions and no deletion protection WHEN created THEN each table has both replicas, keys from tables.ts and is deletable', () => {
    const stack = testStack('us-east-1');
    new GlobalTables(stack, 'Tables', { namePrefix: 'relaymesh', replicaRegions: ['us-east-1', 'eu-west-1'], deletionProtection: false });
    const t = Template.fromStack(stack);
    t.resourceCountIs('AWS::DynamoDB::GlobalTable', GLOBAL_TABLES.length);
    t.hasResource('AWS::DynamoDB::GlobalTable', {
      DeletionPolicy: 'Delete',
      Properties: Match.objectLike({
        TableName: 'relaymesh-presence',
        KeySchema: [
          { AttributeName: 'channelRegion', KeyType: 'HASH' },
          { AttributeName: 'connectionId', KeyType: 'RANGE' },
        ],
        BillingMode: 'PAY_PER_REQUEST',
        Replicas: [Match.objectLike({ Region: 'eu-west-1' }), Match.objectLike({ Region: 'us-east-1' })],
      }),
    });
    t.hasResourceProperties('AWS::DynamoDB::GlobalTable', {
      TableName: 'relaymesh-history',
      AttributeDefinitions: Match.arrayWith([{ AttributeName: 'seq', AttributeType: 'N' }]),
      TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
    });
  });

  it('GIVEN the table layout WHEN created THEN only the global tables are replicated: connections and subscriptions are not among them', () => {
    const stack = testStack('us-east-1');
    new GlobalTables(stack, 'Tables', { namePrefix: 'relaymesh', replicaRegions: ['us-east-1', 'eu-west-1'] });
    const names = Object.values(Template.fromStack(stack).findResources('AWS::DynamoDB::GlobalTable')).map((r) => r.Properties.TableName).sort();
    expect(names).toEqual(['relaymesh-dedup', 'relaymesh-history', 'relaymesh-presence', 'relaymesh-sequences']);
  });

  it('GIVEN only the primary region WHEN created THEN it fails naming the missing replica', () => {
    expect(() => new GlobalTables(testStack('us-east-1'), 'Tables', { namePrefix: 'relaymesh', replicaRegions: ['us-east-1'] })).toThrow(
      'GlobalTables: replicaRegions must name at least one region besides the primary us-east-1',
    );
  });
});

describe('RegionalTables', () => {
  it('GIVEN a region WHEN created THEN connections and subscriptions are tables of this region alone, keyed from tables.ts, deleted with the stack', () => {
    const stack = testStack('eu-west-1');
    new RegionalTables(stack, 'RegionalTables', { namePrefix: 'relaymesh' });
    const t = Template.fromStack(stack);
    const tables = t.findResources('AWS::DynamoDB::GlobalTable');
    expect(Object.values(tables).map((r) => r.Properties.TableName).sort()).toEqual(REGIONAL_TABLES.map((l) => `relaymesh-${l.name}`).sort());
    for (const table of Object.values(tables)) {
      expect(table.DeletionPolicy).toBe('Delete');
      // One replica, in the stack's own region: nothing is replicated.
      expect(table.Properties.Replicas).toEqual([expect.objectContaining({ Region: 'eu-west-1' })]);
    }
    t.hasResourceProperties('AWS::DynamoDB::GlobalTable', {
      TableName: 'relaymesh-subscriptions',
      KeySchema: [
        { AttributeName: 'channelRegion', KeyType: 'HASH' },
        { AttributeName: 'connectionId', KeyType: 'RANGE' },
      ],
      TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
    });
  });
});

describe('EventClassQueue', () => {
  it('GIVEN class settings WHEN created THEN queue and DLQ are encrypted, TLS-only, redriven after maxReceiveCount, and every topic may send', () => {
    const stack = testStack();
    queueIn(stack, { ...config.eventClasses.critical, maxReceiveCount: 7, visibilityTimeoutSeconds: 45 });
    const t = Template.fromStack(stack);
    t.resourceCountIs('AWS::SQS::Queue', 2);
    t.hasResourceProperties('AWS::SQS::Queue', { QueueName: 'relaymesh-critical-dlq', SqsManagedSseEnabled: true, MessageRetentionPeriod: 1_209_600 });
    t.hasResourceProperties('AWS::SQS::Queue', {
      QueueName: 'relaymesh-critical',
      SqsManagedSseEnabled: true,
      VisibilityTimeout: 45,
      RedrivePolicy: Match.objectLike({ maxReceiveCount: 7 }),
    });
    t.hasResourceProperties('AWS::SQS::QueuePolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
          Match.objectLike({
            Effect: 'Allow',
            Principal: { Service: 'sns.amazonaws.com' },
            Action: 'sqs:SendMessage',
            Condition: { ArnEquals: { 'aws:SourceArn': [TOPIC_ARN, 'arn:aws:sns:eu-west-1:123456789012:relaymesh-fanout'] } },
          }),
        ]),
      },
    });
  });

  it('GIVEN no source topic WHEN created THEN it fails saying a topic is needed', () => {
    expect(
      () =>
        new EventClassQueue(testStack(), 'Q', {
          queueName: 'q',
          deadLetterQueueName: 'q-dlq',
          eventClass: 'critical',
          settings: config.eventClasses.critical,
          sourceTopics: [],
        }),
    ).toThrow('EventClassQueue q: sourceTopics must name at least one topic');
  });

  /** The SendMessage statements of the queue policy, by the principals they name. */
  const sendStatements = (stack: Stack) =>
    Object.values(Template.fromStack(stack).findResources('AWS::SQS::QueuePolicy')).flatMap((policy) =>
      (policy.Properties.PolicyDocument.Statement as SendStatement[]).filter((statement) => statement.Action === 'sqs:SendMessage'),
    );
  const queueWith = (queueRegion: string, topicRegions: string[]) => {
    const stack = testStack(queueRegion);
    new EventClassQueue(stack, 'Q', {
      queueName: 'relaymesh-critical',
      deadLetterQueueName: 'relaymesh-critical-dlq',
      eventClass: 'critical',
      settings: config.eventClasses.critical,
      sourceTopics: topicRegions.map((region) => ({ region, topicArn: `arn:aws:sns:${region}:123456789012:relaymesh-fanout` })),
    });
    return sendStatements(stack).map((s) => ({ principals: [s.Principal?.Service].flat().sort(), topics: [s.Condition?.ArnEquals['aws:SourceArn']].flat() }));
  };

  it('GIVEN a queue in a default Region and a topic in opt-in ap-east-1 WHEN created THEN that topic delivers as sns.ap-east-1.amazonaws.com, the others as sns.amazonaws.com', () => {
    expect(queueWith('us-east-1', ['us-east-1', 'ap-east-1', 'eu-west-1'])).toEqual([
      { principals: ['sns.amazonaws.com'], topics: ['arn:aws:sns:us-east-1:123456789012:relaymesh-fanout', 'arn:aws:sns:eu-west-1:123456789012:relaymesh-fanout'] },
      { principals: ['sns.ap-east-1.amazonaws.com'], topics: ['arn:aws:sns:ap-east-1:123456789012:relaymesh-fanout'] },
    ]);
  });

  it('GIVEN a queue in opt-in me-south-1 WHEN created THEN its own topic uses sns.amazonaws.com and default-Region topics may use the global or the me-south-1 principal', () => {
    expect(queueWith('me-south-1', ['me-south-1', 'us-east-1'])).toEqual([
      { principals: ['sns.amazonaws.com'], topics: ['arn:aws:sns:me-south-1:123456789012:relaymesh-fanout'] },
      { principals: ['sns.amazonaws.com', 'sns.me-south-1.amazonaws.com'], topics: ['arn:aws:sns:us-east-1:123456789012:relaymesh-fanout'] },
    ]);
  });

  it('GIVEN a topic and a queue in two different opt-in Regions WHEN created THEN it fails, as SNS does not deliver between them', () => {
    expect(() => queueWith('ap-east-1', ['ap-east-1', 'me-south-1'])).toThrow(/SNS does not deliver from me-south-1 to ap-east-1/);
  });
});

describe('DeliveryWorker', () => {
  it('GIVEN ephemeral settings with a batching window WHEN created THEN the function knows its class and TTL and the event source batches as configured', () => {
    const stack = testStack();
    const settings = { ...config.eventClasses.ephemeral, batchSize: 5, maxBatchingWindowSeconds: 2, maxConcurrency: 3, visibilityTimeoutSeconds: 42 };
    const capacity = { ...config.capacity, largestChannelSubscribers: 100 };
    new DeliveryWorker(stack, 'Worker', { source: queueIn(stack), settings, capacity, environment: { TOPIC_ARN } });
    const t = Template.fromStack(stack);
    t.hasResourceProperties('AWS::Lambda::Function', {
      Runtime: 'nodejs22.x',
      Architectures: ['arm64'],
      // A sixth of the visibility timeout, as AWS advises for SQS event sources.
      Timeout: 7,
      Environment: { Variables: Match.objectLike({ TOPIC_ARN, EVENT_CLASS: 'critical', EVENT_TTL_SECONDS: '10' }) },
    });
    t.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      BatchSize: 5,
      MaximumBatchingWindowInSeconds: 2,
      ScalingConfig: { MaximumConcurrency: 3 },
      FunctionResponseTypes: ['ReportBatchItemFailures'],
    });
  });
});

describe('DeliveryWorker sizing and tracing', () => {
  it('GIVEN no memory WHEN created THEN it gets the capacity model\'s 1088 MB and active X-Ray tracing', () => {
    const stack = testStack();
    new DeliveryWorker(stack, 'Worker', { source: queueIn(stack), settings: config.eventClasses.critical, environment: {} });
    Template.fromStack(stack).hasResourceProperties('AWS::Lambda::Function', {
      MemorySize: 1088,
      TracingConfig: { Mode: 'Active' },
      Environment: { Variables: Match.objectLike({ POWERTOOLS_TRACE_ENABLED: 'true' }) },
    });
  });

  it('GIVEN 2048 MB and tracing off WHEN created THEN it has that memory, no tracing and no X-Ray grant', () => {
    const stack = testStack();
    new DeliveryWorker(stack, 'Worker', { source: queueIn(stack), settings: config.eventClasses.critical, environment: {}, memoryMb: 2048, tracing: false });
    const t = Template.fromStack(stack);
    t.hasResourceProperties('AWS::Lambda::Function', {
      MemorySize: 2048,
      TracingConfig: Match.absent(),
      Environment: { Variables: Match.objectLike({ POWERTOOLS_TRACE_ENABLED: 'false' }) },
    });
    expect(JSON.stringify(t.findResources('AWS::IAM::Policy'))).not.toContain('xray:');
  });

  it('GIVEN memory too small for a full batch to the largest channel WHEN created THEN it refuses, naming the memory that fits', () => {
    const stack = testStack();
    expect(() => new DeliveryWorker(stack, 'Worker', { source: queueIn(stack), settings: config.eventClasses.critical, environment: {}, memoryMb: 512 })).toThrow(
      /^DeliveryWorker Worker: memoryMb: 512 MB takes 62\.2 s for a full batch .* past the worker's 30 s timeout: use at least 1088 MB/,
    );
  });
});

describe('FanoutSubscriptions', () => {
  it('GIVEN three queue regions WHEN created THEN the topic gets one filtered raw subscription per region and class', () => {
    const stack = testStack();
    const topic = Topic.fromTopicArn(stack, 'Topic', TOPIC_ARN);
    new FanoutSubscriptions(stack, 'Subs', { appName: 'relaymesh', topic, queueRegions: ['us-east-1', 'eu-west-1', 'ap-southeast-1'], deadLetterQueueArn: FANOUT_DLQ_ARN });
    const t = Template.fromStack(stack);
    t.resourceCountIs('AWS::SNS::Subscription', 6);
    t.hasResourceProperties('AWS::SNS::Subscription', {
      TopicArn: TOPIC_ARN,
      Endpoint: { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':sqs:ap-southeast-1:123456789012:relaymesh-ephemeral']] },
      FilterPolicy: { class: ['ephemeral'] },
      RawMessageDelivery: true,
    });
  });

  it('GIVEN the region\'s subscription DLQ WHEN created THEN every SNS→SQS subscription, cross-region ones included, redrives to it in the topic\'s region', () => {
    const stack = testStack();
    const topic = Topic.fromTopicArn(stack, 'Topic', TOPIC_ARN);
    new FanoutSubscriptions(stack, 'Subs', { appName: 'relaymesh', topic, queueRegions: ['us-east-1', 'eu-west-1'], deadLetterQueueArn: FANOUT_DLQ_ARN });
    const t = Template.fromStack(stack);
    const subscriptions = Object.values(t.findResources('AWS::SNS::Subscription'));
    expect(subscriptions).toHaveLength(4);
    for (const subscription of subscriptions) expect(subscription.Properties.RedrivePolicy).toEqual({ deadLetterTargetArn: FANOUT_DLQ_ARN });
    expect(snsSubscriptionRedriveViolations(t, 'us-east-1')).toEqual([]);
  });

  it('GIVEN no queue region WHEN created THEN it fails saying one is needed', () => {
    const stack = testStack();
    expect(
      () =>
        new FanoutSubscriptions(stack, 'Subs', {
          appName: 'relaymesh',
          topic: Topic.fromTopicArn(stack, 'T', TOPIC_ARN),
          queueRegions: [],
          deadLetterQueueArn: FANOUT_DLQ_ARN,
        }),
    ).toThrow('FanoutSubscriptions: queueRegions must name at least one region');
  });
});

describe('WebSocketGateway', () => {
  let t: Template;
  beforeAll(() => {
    const stack = testStack();
    new WebSocketGateway(stack, 'Ws', {
      apiName: 'relaymesh-us-east-1',
      stageName: 'live',
      environment: { TOPIC_ARN },
      tables: tablesIn(stack),
      topic: new Topic(stack, 'Topic'),
      jwtSecret: Secret.fromSecretNameV2(stack, 'Secret', 'relaymesh/jwt-hs256'),
      throttleRateLimit: 100,
      throttleBurstLimit: 50,
    });
    t = Template.fromStack(stack);
  });

  it('GIVEN the gateway WHEN synthesized THEN $connect runs the REQUEST authorizer on the token query parameter', () => {
    t.hasResourceProperties('AWS::ApiGatewayV2::Authorizer', {
      AuthorizerType: 'REQUEST',
      IdentitySource: ['route.request.querystring.token'],
    });
    t.hasResourceProperties('AWS::ApiGatewayV2::Route', { RouteKey: '$connect', AuthorizationType: 'CUSTOM' });
    t.hasResourceProperties('AWS::ApiGatewayV2::Route', { RouteKey: '$disconnect', AuthorizationType: 'NONE' });
  });

  it('GIVEN the gateway WHEN synthesized THEN the router may use API Gateway\'s whole 29 s to replay history', () => {
    const routers = Object.entries(t.findResources('AWS::Lambda::Function')).filter(([id]) => id.includes('MessageRouter'));
    expect(routers).toHaveLength(1);
    expect(routers[0]![1].Properties.Timeout).toBe(29);
  });

  it('GIVEN the gateway WHEN synthesized THEN $default returns the router\'s frame as the route response', () => {
    t.hasResourceProperties('AWS::ApiGatewayV2::Route', { RouteKey: '$default', RouteResponseSelectionExpression: '$default' });
    t.hasResourceProperties('AWS::ApiGatewayV2::RouteResponse', { RouteResponseKey: '$default' });
  });

  it('GIVEN throttle limits WHEN synthesized THEN the stage applies them and logs access without touching the account-wide API Gateway role', () => {
    t.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      DefaultRouteSettings: { ThrottlingRateLimit: 100, ThrottlingBurstLimit: 50 },
      AccessLogSettings: Match.objectLike({ DestinationArn: Match.anyValue() }),
    });
    t.resourceCountIs('AWS::ApiGateway::Account', 0);
    t.resourceCountIs('AWS::IAM::Role', Object.keys(t.findResources('AWS::Lambda::Function')).length);
  });

  it('GIVEN the handlers WHEN synthesized THEN each role holds only its grants: the authorizer reads the secret, connect writes connections, the router also publishes and posts', () => {
    const authorizer = JSON.stringify(policyStatementsOf(t, 'WsAuthorizer'));
    expect(authorizer).toContain('secretsmanager:GetSecretValue');
    expect(authorizer).not.toContain('dynamodb:');
    const connect = JSON.stringify(policyStatementsOf(t, 'WsConnect'));
    expect(connect).toContain('relaymesh-connections');
    expect(connect).not.toContain('relaymesh-subscriptions');
    expect(connect).not.toContain('sns:Publish');
    const router = JSON.stringify(policyStatementsOf(t, 'WsMessageRouter'));
    for (const needed of ['sns:Publish', 'execute-api:ManageConnections', 'relaymesh-history', 'relaymesh-sequences']) expect(router).toContain(needed);
  });
});

describe('WebSocketGateway logging options', () => {
  const gatewayWith = (more: Partial<ConstructorParameters<typeof WebSocketGateway>[2]>) => {
    const stack = testStack();
    new WebSocketGateway(stack, 'Ws', {
      apiName: 'relaymesh-us-east-1',
      stageName: 'live',
      environment: { TOPIC_ARN },
      tables: tablesIn(stack),
      topic: new Topic(stack, 'Topic'),
      jwtSecret: Secret.fromSecretNameV2(stack, 'Secret', 'relaymesh/jwt-hs256'),
      throttleRateLimit: 100,
      throttleBurstLimit: 50,
      ...more,
    });
    return Template.fromStack(stack);
  };

  it('GIVEN manageAccountCloudWatchRole WHEN synthesized THEN the account role is set from a retained role and the stage waits for it', () => {
    const t = gatewayWith({ manageAccountCloudWatchRole: true });
    t.resourceCountIs('AWS::ApiGateway::Account', 1);
    t.hasResource('AWS::ApiGatewayV2::Stage', { DependsOn: Match.arrayWith([Match.stringLikeRegexp('^WsAccount')]) });
    t.hasResource('AWS::IAM::Role', {
      DeletionPolicy: 'Retain',
      Properties: Match.objectLike({ AssumeRolePolicyDocument: Match.objectLike({ Statement: [Match.objectLike({ Principal: { Service: 'apigateway.amazonaws.com' } })] }) }),
    });
  });

  it('GIVEN accessLogs false WHEN synthesized THEN the stage writes no access logs and needs no account role', () => {
    const t = gatewayWith({ accessLogs: false });
    t.hasResourceProperties('AWS::ApiGatewayV2::Stage', { AccessLogSettings: Match.absent() });
    t.resourceCountIs('AWS::Logs::LogGroup', 4);
    t.resourceCountIs('AWS::ApiGateway::Account', 0);
  });
});

describe('RegionalEdge', () => {
  const edgeIn = (stack: Stack, withCertificate: boolean, more: Partial<RegionalEdgeProps> = {}) => {
    const topic = new Topic(stack, 'Topic');
    return new RegionalEdge(stack, 'Edge', {
      environment: { TOPIC_ARN },
      webSocketUrl: 'wss://abc.execute-api.us-east-1.amazonaws.com/live',
      drainParameterName: '/relaymesh/edge/drain',
      tables: tablesIn(stack),
      topic,
      jwtSecret: Secret.fromSecretNameV2(stack, 'Secret', 'relaymesh/jwt-hs256'),
      certificate: withCertificate ? Certificate.fromCertificateArn(stack, 'Cert', 'arn:aws:acm:us-east-1:123456789012:certificate/x') : undefined,
      ...more,
    });
  };

  it('GIVEN no certificate WHEN created THEN a public ALB in a NAT-less VPC serves HTTP/80 to the Lambda target with /health checks', () => {
    const stack = testStack();
    const edge = edgeIn(stack, false);
    expect(edge.port).toBe(80);
    const t = Template.fromStack(stack);
    t.resourceCountIs('AWS::EC2::NatGateway', 0);
    t.resourceCountIs('AWS::EC2::FlowLog', 1);
    t.hasResourceProperties('AWS::ElasticLoadBalancingV2::LoadBalancer', {
      Scheme: 'internet-facing',
      LoadBalancerAttributes: Match.arrayWith([{ Key: 'access_logs.s3.enabled', Value: 'true' }]),
    });
    t.hasResourceProperties('AWS::ElasticLoadBalancingV2::Listener', { Port: 80, Protocol: 'HTTP' });
    t.hasResourceProperties('AWS::ElasticLoadBalancingV2::TargetGroup', { TargetType: 'lambda', HealthCheckEnabled: true, HealthCheckPath: '/health' });
  });

  it('GIVEN no certificate WHEN created THEN the plain-HTTP listener itself answers 403 to an Authorization header, a token query parameter or a publish, naming the HTTPS publish URL', () => {
    const stack = testStack();
    edgeIn(stack, false);
    const t = Template.fromStack(stack);
    expect(plainHttpTokenViolations(t)).toEqual([]);
    const [apiId] = Object.keys(t.findResources('AWS::ApiGatewayV2::Api'));
    const rules = Object.values(t.findResources('AWS::ElasticLoadBalancingV2::ListenerRule')).map((r) => r.Properties);
    expect(rules.map((r) => r.Conditions[0].Field).sort()).toEqual(['http-header', 'path-pattern', 'query-string']);
    for (const rule of rules) {
      expect(rule.Actions[0]).toMatchObject({ Type: 'fixed-response', FixedResponseConfig: { StatusCode: '403', ContentType: 'application/json' } });
      const body = templateText(rule.Actions[0].FixedResponseConfig.MessageBody);
      expect(body).toContain('"code":4010');
      expect(body).toContain('Publish over HTTPS: <token>/v1/publish');
      expect(JSON.stringify(rule.Actions[0].FixedResponseConfig.MessageBody)).toContain(JSON.stringify({ 'Fn::GetAtt': [apiId, 'ApiEndpoint'] }));
    }
  });

  it('GIVEN no certificate WHEN created THEN an HTTPS API fronts the same function (GET /health, GET /v1/connect, POST /v1/publish), throttled and access-logged, and the function knows the https publish URL', () => {
    const stack = testStack();
    edgeIn(stack, false, { throttle: { rateLimit: 100, burstLimit: 50 } });
    const t = Template.fromStack(stack);
    t.hasResourceProperties('AWS::ApiGatewayV2::Api', { ProtocolType: 'HTTP' });
    const routes = Object.values(t.findResources('AWS::ApiGatewayV2::Route')).map((r) => r.Properties.RouteKey).sort();
    expect(routes).toEqual(['GET /health', 'GET /v1/connect', 'POST /v1/publish']);
    const functionIds = Object.keys(t.findResources('AWS::Lambda::Function'));
    expect(functionIds).toHaveLength(1);
    t.hasResourceProperties('AWS::ApiGatewayV2::Integration', { IntegrationType: 'AWS_PROXY', PayloadFormatVersion: '2.0', IntegrationUri: { 'Fn::GetAtt': [functionIds[0], 'Arn'] } });
    t.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      StageName: '$default',
      DefaultRouteSettings: { ThrottlingRateLimit: 100, ThrottlingBurstLimit: 50 },
      AccessLogSettings: Match.objectLike({ DestinationArn: Match.anyValue() }),
    });
    const variables = Object.values(t.findResources('AWS::Lambda::Function'))[0]!.Properties.Environment.Variables;
    const [apiId] = Object.keys(t.findResources('AWS::ApiGatewayV2::Api'));
    // ApiEndpoint is https://{api-id}.execute-api.{region}.amazonaws.com: API Gateway serves HTTP APIs over TLS only.
    expect(variables.PUBLISH_URL).toEqual({ 'Fn::Join': ['', [{ 'Fn::GetAtt': [apiId, 'ApiEndpoint'] }, '/v1/publish']] });
  });

  it('GIVEN a certificate and the HTTPS edge name WHEN created THEN it has no plain listener, no refusal rules and no HTTPS API, and publishes go to that name', () => {
    const stack = testStack();
    const edge = edgeIn(stack, true, { publicBaseUrl: 'https://edge.example.com' });
    const t = Template.fromStack(stack);
    expect(edge.publishUrl).toBe('https://edge.example.com/v1/publish');
    t.resourceCountIs('AWS::ElasticLoadBalancingV2::ListenerRule', 0);
    t.resourceCountIs('AWS::ApiGatewayV2::Api', 0);
    expect(Object.values(t.findResources('AWS::ElasticLoadBalancingV2::Listener')).map((l) => l.Properties.Protocol)).toEqual(['HTTPS']);
  });

  it('GIVEN no load balancer (the regional edge mode) WHEN created THEN only the HTTPS API serves the edge: no VPC, ALB or log bucket', () => {
    const stack = testStack();
    const edge = edgeIn(stack, false, { loadBalancer: false });
    const t = Template.fromStack(stack);
    expect(edge.loadBalancer).toBeUndefined();
    for (const type of ['AWS::EC2::VPC', 'AWS::ElasticLoadBalancingV2::LoadBalancer', 'AWS::S3::Bucket']) t.resourceCountIs(type, 0);
    t.resourceCountIs('AWS::ApiGatewayV2::Api', 1);
  });

  it('GIVEN a plain-HTTP load balancer and no HTTPS API WHEN created THEN it fails: tokens would have no TLS path', () => {
    expect(() => edgeIn(testStack(), false, { httpsApi: false })).toThrow(/gives tokens no TLS path/);
  });

  it('GIVEN default health-check settings WHEN created THEN interval and timeout are both explicit and pass ELB\'s interval > timeout rule', () => {
    const stack = testStack();
    edgeIn(stack, false);
    const t = Template.fromStack(stack);
    expect(targetGroupHealthCheckViolations(t)).toEqual([]);
    expect(lambdaTargetGroupHealthViolations(t)).toEqual([]);
  });

  it('GIVEN default health-check settings WHEN created THEN the ALB marks the region unhealthy after 2 failed /health probes 5 s apart, each allowed 3 s', () => {
    const stack = testStack();
    edgeIn(stack, false);
    Template.fromStack(stack).hasResourceProperties('AWS::ElasticLoadBalancingV2::TargetGroup', {
      HealthCheckPath: '/health',
      HealthCheckIntervalSeconds: 5,
      HealthCheckTimeoutSeconds: 3,
      UnhealthyThresholdCount: 2,
      HealthyThresholdCount: 2,
    });
  });

  it('GIVEN a health-check interval not above its timeout WHEN created THEN it fails naming both', () => {
    expect(() => edgeIn(testStack(), false, { healthCheckInterval: Duration.seconds(5), healthCheckTimeout: Duration.seconds(5) })).toThrow(/healthCheckInterval \(5 s\) must be greater than healthCheckTimeout \(5 s\)/);
  });

  it('GIVEN the edge WHEN created THEN the drain flag defaults to "false" and the function knows it and its region\'s WebSocket URL', () => {
    const stack = testStack();
    edgeIn(stack, false);
    const t = Template.fromStack(stack);
    t.hasResourceProperties('AWS::SSM::Parameter', { Name: '/relaymesh/edge/drain', Value: 'false', Type: 'String' });
    t.hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: Match.objectLike({
          WEBSOCKET_URL: 'wss://abc.execute-api.us-east-1.amazonaws.com/live',
          DRAIN_PARAMETER_NAME: '/relaymesh/edge/drain',
        }),
      },
    });
  });

  it('GIVEN a certificate WHEN created THEN the listener is HTTPS/443 with a TLS 1.2+ policy', () => {
    const stack = testStack();
    expect(edgeIn(stack, true, { publicBaseUrl: 'https://edge.example.com' }).port).toBe(443);
    Template.fromStack(stack).hasResourceProperties('AWS::ElasticLoadBalancingV2::Listener', {
      Port: 443,
      Protocol: 'HTTPS',
      SslPolicy: Match.stringLikeRegexp('TLS'),
    });
  });
});

describe('RegionAlarms and RegionDashboard', () => {
  it('GIVEN a queue, a function, two tables and two replica regions WHEN created THEN every alarm exists, notifies the alarm topic, and the dashboard is named', () => {
    const stack = testStack();
    const queue = queueIn(stack);
    const topic = new Topic(stack, 'Fanout');
    const worker = new DeliveryWorker(stack, 'Worker', { source: queue, settings: config.eventClasses.critical, environment: {} });
    const fanoutDlq = new SubscriptionDeadLetters(stack, 'FanoutDlq', { queueName: 'relaymesh-fanout-dlq', topic });
    new RegionAlarms(stack, 'Alarms', {
      queues: [queue],
      fanout: { topic, deadLetterQueue: fanoutDlq.queue },
      functions: { worker: worker.function },
      tableNames: ['relaymesh-connections', 'relaymesh-history'],
      replicaRegions: ['eu-west-1', 'ap-southeast-1'],
      apiId: 'abc',
      stageName: 'live',
    });
    new RegionDashboard(stack, 'Dashboard', {
      dashboardName: 'relaymesh-us-east-1',
      apiId: 'abc',
      stageName: 'live',
      topic,
      queues: [queue],
      functions: { worker: worker.function },
      deliveryFunctions: { worker: worker.function },
    });
    const t = Template.fromStack(stack);
    // 1 queue x (DLQ + age) + fan-out (DLQ, failed, failed redrive) + 1 function x (errors + throttles) + 2 tables x 2 regions + API integration errors
    t.resourceCountIs('AWS::CloudWatch::Alarm', 2 + 3 + 2 + 4 + 1);
    t.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/SNS',
      MetricName: 'NumberOfNotificationsFailed',
      Dimensions: [{ Name: 'TopicName', Value: { 'Fn::GetAtt': [Match.stringLikeRegexp('^Fanout'), 'TopicName'] } }],
      Statistic: 'Sum',
      Threshold: 0,
      ComparisonOperator: 'GreaterThanThreshold',
    });
    t.hasResourceProperties('AWS::CloudWatch::Alarm', { Namespace: 'AWS/SNS', MetricName: 'NumberOfNotificationsFailedToRedriveToDlq', Threshold: 0 });
    t.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [Match.stringLikeRegexp('^FanoutDlq'), 'QueueName'] } }],
      Threshold: 0,
    });
    t.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/DynamoDB',
      MetricName: 'ReplicationLatency',
      Dimensions: Match.arrayWith([{ Name: 'ReceivingRegion', Value: 'ap-southeast-1' }]),
    });
    t.hasResourceProperties('AWS::CloudWatch::Alarm', { Namespace: 'AWS/ApiGateway', MetricName: 'IntegrationError' });
    t.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'ApproximateAgeOfOldestMessage', Threshold: 120 });
    t.resourceCountIs('AWS::SNS::Subscription', 0);
    const alarms = Object.values(t.findResources('AWS::CloudWatch::Alarm'));
    for (const alarm of alarms) expect(alarm.Properties.AlarmActions).toHaveLength(1);
    t.hasResourceProperties('AWS::CloudWatch::Dashboard', { DashboardName: 'relaymesh-us-east-1' });
  });

  it('GIVEN a critical queue WHEN the dashboard graphs its worker THEN it reads the names the worker reports, by EventClass in the Relaymesh namespace: counts summed, publish to post latency at p90', () => {
    const stack = testStack();
    const queue = queueIn(stack);
    const worker = new DeliveryWorker(stack, 'Worker', { source: queue, settings: config.eventClasses.critical, environment: {} });
    new RegionDashboard(stack, 'Dashboard', {
      dashboardName: 'relaymesh-us-east-1',
      apiId: 'abc',
      stageName: 'live',
      topic: new Topic(stack, 'Fanout'),
      queues: [queue],
      functions: { worker: worker.function },
      deliveryFunctions: { worker: worker.function },
    });
    const body = JSON.stringify(Object.values(Template.fromStack(stack).findResources('AWS::CloudWatch::Dashboard'))[0]!.Properties.DashboardBody);
    const graphed = [...body.matchAll(/\[\\"Relaymesh\\",\\"(\w+)\\",\\"EventClass\\",\\"critical\\",\{[^}]*\\"stat\\":\\"(\w+)\\"/g)].map(([, name, stat]) => `${name} ${stat}`);
    expect(graphed.sort()).toEqual(['expired Sum', 'failed Sum', 'gone Sum', 'posted Sum', 'publishToPost p90', 'subscribers Sum']);
  });
});

describe('SubscriptionDeadLetters', () => {
  it('GIVEN the region\'s topic WHEN created THEN the DLQ is encrypted, TLS-only, keeps 14 days and lets only that topic send through sns.amazonaws.com', () => {
    const stack = testStack();
    const topic = new Topic(stack, 'Topic');
    new SubscriptionDeadLetters(stack, 'Dlq', { queueName: 'relaymesh-fanout-dlq', topic });
    const t = Template.fromStack(stack);
    t.hasResourceProperties('AWS::SQS::Queue', { QueueName: 'relaymesh-fanout-dlq', SqsManagedSseEnabled: true, MessageRetentionPeriod: 1_209_600 });
    t.hasResourceProperties('AWS::SQS::QueuePolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
          Match.objectLike({
            Effect: 'Allow',
            Principal: { Service: 'sns.amazonaws.com' },
            Action: 'sqs:SendMessage',
            Condition: { ArnEquals: { 'aws:SourceArn': { Ref: Match.stringLikeRegexp('^Topic') } } },
          }),
        ]),
      },
    });
  });
});

describe('EdgeStack', () => {
  it('GIVEN no regional edge WHEN created THEN it fails saying one is needed', () => {
    expect(() => new EdgeStack(testApp(), 'Edge', { env: { region: 'us-west-2' }, config, edges: [] })).toThrow(
      'EdgeStack: edges must hold at least one regional edge',
    );
  });
});
