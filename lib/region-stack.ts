import { CfnOutput, Duration, Stack, type StackProps } from 'aws-cdk-lib';
import { Certificate, CertificateValidation, type ICertificate } from 'aws-cdk-lib/aws-certificatemanager';
import { TableV2, type ITableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { HostedZone, type IHostedZone } from 'aws-cdk-lib/aws-route53';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { Topic } from 'aws-cdk-lib/aws-sns';
import type { Construct } from 'constructs';
import {
  connectionsTable,
  dedupTable,
  GLOBAL_TABLES,
  historyTable,
  physicalTableName,
  presenceTable,
  sequencesTable,
  subscriptionsTable,
  type TableLayout,
} from '../lambdas/core/tables';
import { configEnvironment } from './lambda-environment';
import { EVENT_CLASSES, type RelaymeshConfig } from './config';
import { DeliveryWorker } from './delivery-worker';
import { EventClassQueue } from './event-class-queue';
import {
  dataNamePrefix,
  deadLetterQueueName,
  drainParameterName,
  edgeDomainName,
  eventQueueName,
  fanoutTopicArn,
  fanoutTopicName,
  jwtSecretName,
  subscriptionDeadLetterQueueName,
  webSocketDomainName,
} from './naming';
import { deliveryFunctionName } from './alarm-definitions';
import { RegionAlarms } from './region-alarms';
import { RegionDashboard } from './region-dashboard';
import { RegionalDomain } from './regional-domain';
import { RegionalEdge } from './regional-edge';
import { RegionalTables } from './regional-tables';
import { SubscriptionDeadLetters } from './subscription-dead-letters';
import { type RegionTables, WebSocketGateway } from './websocket-gateway';
import { DELIVERY_MEMORY_KEY } from './worker-sizing';

export interface RegionStackProps extends StackProps {
  readonly config: RelaymeshConfig;
}

/**
 * Everything one active region runs: its WebSocket API and handlers, its fan-out topic, a
 * queue + DLQ + delivery worker per event class, the regional HTTP edge, the custom domain
 * and latency record when a zone is configured, alarms and a dashboard.
 */
export class RegionStack extends Stack {
  readonly topic: Topic;
  readonly queues: readonly EventClassQueue[];
  /** The DLQ of this region's fan-out subscriptions (which the fan-out stack creates). */
  readonly subscriptionDeadLetters: SubscriptionDeadLetters;
  readonly gateway: WebSocketGateway;
  readonly edge: RegionalEdge;
  readonly dashboard: RegionDashboard;
  readonly alarms: RegionAlarms;
  readonly domain?: RegionalDomain;

  constructor(scope: Construct, id: string, props: RegionStackProps) {
    super(scope, id, props);
    const { config } = props;
    const { appName } = config;

    // The global tables and the secret are defined in the data stack; here they are this
    // region's replicas, found by their deterministic names. The regional tables are this stack's.
    const dataPrefix = dataNamePrefix(config);
    const regional = new RegionalTables(this, 'RegionalTables', { namePrefix: dataPrefix });
    const table = (layout: TableLayout): ITableV2 =>
      regional.tables.get(layout.name) ?? TableV2.fromTableAttributes(this, `${layout.name}Table`, { tableName: physicalTableName(dataPrefix, layout) });
    const tables: RegionTables = {
      connections: table(connectionsTable),
      subscriptions: table(subscriptionsTable),
      presence: table(presenceTable),
      sequences: table(sequencesTable),
      history: table(historyTable),
      dedup: table(dedupTable),
    };
    const jwtSecret = Secret.fromSecretNameV2(this, 'JwtSecret', jwtSecretName(dataPrefix));

    this.topic = new Topic(this, 'Fanout', { topicName: fanoutTopicName(appName), enforceSSL: true });
    this.subscriptionDeadLetters = new SubscriptionDeadLetters(this, 'FanoutDeadLetters', {
      queueName: subscriptionDeadLetterQueueName(appName),
      topic: this.topic,
    });
    const allTopics = config.regions.map((region) => ({ region, topicArn: fanoutTopicArn(this, appName, region) }));
    this.queues = EVENT_CLASSES.map(
      (eventClass) =>
        new EventClassQueue(this, `${eventClass}Queue`, {
          queueName: eventQueueName(appName, eventClass),
          deadLetterQueueName: deadLetterQueueName(appName, eventClass),
          eventClass,
          settings: config.eventClasses[eventClass],
          deadLetterRetention: Duration.days(config.eventClasses[eventClass].deadLetterRetentionDays),
          sourceTopics: allTopics,
        }),
    );

    const environment: Record<string, string> = {
      ...configEnvironment(config, dataPrefix),
      TOPIC_ARN: this.topic.topicArn,
      JWT_SECRET_ARN: jwtSecret.secretArn,
      POWERTOOLS_SERVICE_NAME: appName,
      POWERTOOLS_LOG_LEVEL: config.functions.logLevel,
    };
    const { memoryMb, tracing, sourceMaps } = config.functions;

    this.gateway = new WebSocketGateway(this, 'WebSocket', {
      apiName: `${appName}-${this.region}`,
      stageName: config.stageName,
      environment,
      tables,
      topic: this.topic,
      jwtSecret,
      throttleRateLimit: config.limits.accountRatePerSecond,
      throttleBurstLimit: config.limits.accountBurst,
      accessLogs: config.webSocketLogging.accessLogs,
      manageAccountCloudWatchRole: config.webSocketLogging.manageAccountRole,
      memoryMb,
      tracing,
      sourceMaps,
    });
    const runtimeEnvironment = { ...environment, CONNECTIONS_ENDPOINT: this.gateway.connectionsEndpoint };

    const workers = this.queues.map((source) => {
      const worker = new DeliveryWorker(this, `${source.eventClass}Delivery`, {
        source,
        settings: config.eventClasses[source.eventClass],
        environment: runtimeEnvironment,
        capacity: config.capacity,
        memoryMb: memoryMb[DELIVERY_MEMORY_KEY[source.eventClass]],
        tracing,
        sourceMaps,
      });
      tables.subscriptions.grantReadWriteData(worker.function);
      tables.connections.grantReadWriteData(worker.function);
      // A post answered 410 removes the gone connection's subscriptions and presence items.
      tables.presence.grantReadWriteData(worker.function);
      // Every message from another origin is stored in this region's history before it is fanned out.
      tables.history.grantReadWriteData(worker.function);
      this.gateway.grantPostToConnection(worker.function);
      return [source.eventClass, worker] as const;
    });

    const zone = this.hostedZone(config);
    const certificate = zone && config.domainName ? this.certificate(config, zone, config.domainName) : undefined;
    const accelerated = config.edge.mode === 'accelerator';
    this.edge = new RegionalEdge(this, 'Edge', {
      environment: runtimeEnvironment,
      webSocketUrl: this.gateway.url,
      drainParameterName: drainParameterName(appName),
      tables,
      topic: this.topic,
      jwtSecret,
      // The ALB serves the accelerator; with a certificate it speaks HTTPS, so tokens need no other path.
      certificate: accelerated ? certificate : undefined,
      loadBalancer: accelerated,
      httpsApi: !accelerated || !certificate,
      httpsApiName: `${appName}-edge-${this.region}`,
      throttle: { rateLimit: config.limits.accountRatePerSecond, burstLimit: config.limits.accountBurst },
      // With a hosted zone clients reach the edge as https://edge.<domain>: through the accelerator, or latency-routed here.
      publicBaseUrl: certificate && config.domainName ? `https://${edgeDomainName(config.domainName)}` : undefined,
      memoryMb: memoryMb.edge,
      tracing: tracing && config.functions.traceEdge,
      sourceMaps,
    });
    if (zone && certificate && config.domainName) {
      const httpApi = this.edge.httpApi;
      this.domain = new RegionalDomain(this, 'Domain', {
        zone,
        webSocketDomainName: webSocketDomainName(config.domainName),
        certificate,
        api: this.gateway.api,
        stage: this.gateway.stage,
        // Route 53 probes the same deep /health: on the ALB, or (regional mode) on the HTTPS API.
        ...(this.edge.loadBalancer
          ? { healthCheckFqdn: this.edge.loadBalancer.loadBalancerDnsName, healthCheckPort: this.edge.port }
          : { healthCheckFqdn: `${httpApi!.apiId}.execute-api.${this.region}.${this.urlSuffix}`, healthCheckPort: 443 }),
        edge: accelerated || !httpApi ? undefined : { api: httpApi, stage: this.edge.httpStage!, domainName: edgeDomainName(config.domainName) },
      });
    }

    const { authorizer, connect, disconnect, messageRouter } = this.gateway.functions;
    const deliveryFunctions = Object.fromEntries(workers.map(([eventClass, w]) => [deliveryFunctionName(eventClass), w.function]));
    const functions = { authorizer, connect, disconnect, messageRouter, edge: this.edge.function, ...deliveryFunctions };
    this.alarms = new RegionAlarms(this, 'Alarms', {
      queues: this.queues,
      deadLetterAlarms: { critical: config.eventClasses.critical.deadLetterAlarm, ephemeral: config.eventClasses.ephemeral.deadLetterAlarm },
      fanout: { topic: this.topic, deadLetterQueue: this.subscriptionDeadLetters.queue },
      functions,
      tableNames: GLOBAL_TABLES.map((t) => physicalTableName(dataPrefix, t)),
      replicaRegions: config.regions.filter((r) => r !== this.region),
      apiId: this.gateway.api.apiId,
      stageName: config.stageName,
      runbookBaseUrl: config.runbookBaseUrl,
      email: config.alarmEmail,
      appName: config.appName,
    });
    this.dashboard = new RegionDashboard(this, 'Dashboard', {
      dashboardName: `${appName}-${this.region}`,
      apiId: this.gateway.api.apiId,
      stageName: config.stageName,
      topic: this.topic,
      queues: this.queues,
      subscriptionDeadLetterQueue: this.subscriptionDeadLetters.queue,
      functions,
      deliveryFunctions,
    });

    new CfnOutput(this, 'WebSocketUrl', { value: this.gateway.url, description: 'This region\'s WebSocket URL (wss).' });
    if (config.domainName && this.domain) {
      new CfnOutput(this, 'WebSocketDomainUrl', {
        value: `wss://${webSocketDomainName(config.domainName)}`,
        description: 'Latency-routed WebSocket URL shared by every region.',
      });
    }
    new CfnOutput(this, 'EdgeUrl', {
      value: this.edge.loadBalancer
        ? `${this.edge.protocol.toLowerCase()}://${this.edge.loadBalancer.loadBalancerDnsName}`
        : this.edge.httpApi!.apiEndpoint,
      description: this.edge.loadBalancer
        ? 'This region\'s ALB behind Global Accelerator, for direct /health checks.'
        : 'This region\'s HTTPS edge: /health, /v1/connect, /v1/publish.',
    });
    new CfnOutput(this, 'PublishUrl', { value: this.edge.publishUrl, description: 'POST here with Authorization: Bearer <token> (HTTPS only).' });
    if (!accelerated && this.domain?.edgeDomainName && config.domainName) {
      new CfnOutput(this, 'EdgeDomainUrl', {
        value: `https://${edgeDomainName(config.domainName)}`,
        description: 'The latency-routed HTTPS edge shared by every region.',
      });
    }
    new CfnOutput(this, 'DashboardUrl', { value: this.dashboard.url, description: 'This region\'s CloudWatch dashboard.' });
    new CfnOutput(this, 'AlarmTopicArn', { value: this.alarms.topic.topicArn, description: 'Every alarm of this region notifies this topic.' });
  }

  private hostedZone(config: RelaymeshConfig): IHostedZone | undefined {
    if (!config.hostedZoneId || !config.domainName) return undefined;
    return HostedZone.fromHostedZoneAttributes(this, 'Zone', { hostedZoneId: config.hostedZoneId, zoneName: config.domainName });
  }

  /** The configured certificate of this region, or one DNS-validated in the zone for both public names. */
  private certificate(config: RelaymeshConfig, zone: IHostedZone, domainName: string): ICertificate {
    const configured = config.certificateArns?.[this.region];
    if (configured) return Certificate.fromCertificateArn(this, 'Certificate', configured);
    return new Certificate(this, 'Certificate', {
      domainName: webSocketDomainName(domainName),
      subjectAlternativeNames: [edgeDomainName(domainName)],
      validation: CertificateValidation.fromDns(zone),
    });
  }
}
