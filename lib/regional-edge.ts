import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import type { ICertificate } from 'aws-cdk-lib/aws-certificatemanager';
import { FlowLogDestination, SubnetType, Vpc } from 'aws-cdk-lib/aws-ec2';
import {
  ApplicationLoadBalancer,
  ApplicationProtocol,
  SslPolicy,
} from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import { LambdaTarget } from 'aws-cdk-lib/aws-elasticloadbalancingv2-targets';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { BlockPublicAccess, Bucket, BucketEncryption } from 'aws-cdk-lib/aws-s3';
import type { ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import type { ITopic } from 'aws-cdk-lib/aws-sns';
import { StringParameter } from 'aws-cdk-lib/aws-ssm';
import { Construct } from 'constructs';
import { RelaymeshFunction } from './relaymesh-function';
import type { RegionTables } from './websocket-gateway';

/** The path the ALB, Global Accelerator and Route 53 probe; the edge function answers it deeply. */
export const HEALTH_PATH = '/health';

export interface RegionalEdgeProps {
  /** The common runtime environment (lambdas/core/runtime.ts), CONNECTIONS_ENDPOINT included. */
  readonly environment: Record<string, string>;
  /** This region's wss URL, returned by /v1/connect. */
  readonly webSocketUrl: string;
  /** SSM parameter name of the drain flag; created here with the value "false". */
  readonly drainParameterName: string;
  readonly tables: RegionTables;
  readonly topic: ITopic;
  /** Verifies publishers' JWTs on /v1/publish. */
  readonly jwtSecret: ISecret;
  /**
   * TLS certificate for the HTTPS listener (it must cover the names clients use through the
   * accelerator). Without one the listener is plain HTTP on port 80, for trials only.
   * @default - no certificate: HTTP on port 80
   */
  readonly certificate?: ICertificate;
  /**
   * Days ALB access logs are kept.
   * @default 30
   */
  readonly accessLogRetentionDays?: number;
  /**
   * How often the ALB probes /health. Global Accelerator follows the ALB's target health for
   * ALB endpoints, so this, the timeout and the 2 failures needed set how fast a failing region
   * is drained: 2 × 5 s, plus at most the 3 s timeout (README, failover time budget). 5 s is
   * ELB's minimum; each probe is one Lambda invocation per ALB node.
   * @default Duration.seconds(5)
   */
  readonly healthCheckInterval?: Duration;
  /**
   * How long a probe may take; ELB requires it to be shorter than the interval (its default
   * for Lambda targets, 30 s, is not shorter than an interval of 30 s or less). The deep check
   * answers in tens of milliseconds, a cold start in about a second.
   * @default Duration.seconds(3)
   */
  readonly healthCheckTimeout?: Duration;
  /** Memory of the edge function, MB. @default 256 */
  readonly memoryMb?: number;
  /** X-Ray active tracing. @default true */
  readonly tracing?: boolean;
}

/**
 * The regional HTTP edge that Global Accelerator fronts (GA cannot front an API Gateway
 * WebSocket API): a small public-subnet VPC, an internet-facing ALB and one Lambda target
 * serving /health (deep, fails on purpose when the drain flag is "true"), /v1/connect and
 * /v1/publish. No NAT gateways: the Lambda target runs outside the VPC.
 */
export class RegionalEdge extends Construct {
  readonly loadBalancer: ApplicationLoadBalancer;
  readonly function: RelaymeshFunction;
  readonly drainParameter: StringParameter;
  /** Port and protocol the listener serves (443/HTTPS with a certificate, else 80/HTTP). */
  readonly port: number;
  readonly protocol: ApplicationProtocol;

  constructor(scope: Construct, id: string, props: RegionalEdgeProps) {
    super(scope, id);
    const healthCheckInterval = props.healthCheckInterval ?? Duration.seconds(5);
    const healthCheckTimeout = props.healthCheckTimeout ?? Duration.seconds(3);
    if (healthCheckInterval.toSeconds() <= healthCheckTimeout.toSeconds()) {
      throw new Error(
        `RegionalEdge: healthCheckInterval (${healthCheckInterval.toSeconds()} s) must be greater than healthCheckTimeout (${healthCheckTimeout.toSeconds()} s); ELB refuses the target group otherwise`,
      );
    }
    this.protocol = props.certificate ? ApplicationProtocol.HTTPS : ApplicationProtocol.HTTP;
    this.port = props.certificate ? 443 : 80;

    const vpc = new Vpc(this, 'Vpc', {
      maxAzs: 2,
      natGateways: 0,
      subnetConfiguration: [{ name: 'public', subnetType: SubnetType.PUBLIC, cidrMask: 24 }],
      flowLogs: { all: { destination: FlowLogDestination.toCloudWatchLogs() } },
    });

    this.drainParameter = new StringParameter(this, 'DrainFlag', {
      parameterName: props.drainParameterName,
      stringValue: 'false',
      description: 'Set to "true" to make this region\'s /health fail so Global Accelerator and Route 53 drain it.',
    });

    this.function = new RelaymeshFunction(this, 'Function', {
      handler: 'edge',
      memorySize: props.memoryMb ?? 256,
      tracing: props.tracing,
      environment: {
        ...props.environment,
        WEBSOCKET_URL: props.webSocketUrl,
        DRAIN_PARAMETER_NAME: props.drainParameterName,
      },
    });
    const { tables } = props;
    tables.sequences.grantReadWriteData(this.function);
    tables.history.grantReadWriteData(this.function);
    tables.dedup.grantReadWriteData(this.function);
    tables.connections.grantReadData(this.function);
    tables.subscriptions.grantReadData(this.function);
    props.topic.grantPublish(this.function);
    // The deep health check asks SNS whether the topic answers.
    this.function.addToRolePolicy(new PolicyStatement({ actions: ['sns:GetTopicAttributes'], resources: [props.topic.topicArn] }));
    props.jwtSecret.grantRead(this.function);
    this.drainParameter.grantRead(this.function);

    this.loadBalancer = new ApplicationLoadBalancer(this, 'Alb', {
      vpc,
      internetFacing: true,
      dropInvalidHeaderFields: true,
    });
    this.loadBalancer.logAccessLogs(this.accessLogBucket(props.accessLogRetentionDays ?? 30));
    const listener = this.loadBalancer.addListener('Listener', {
      port: this.port,
      protocol: this.protocol,
      certificates: props.certificate && [props.certificate],
      sslPolicy: props.certificate && SslPolicy.RECOMMENDED_TLS,
      open: true,
    });
    Validations.of(this.loadBalancer).acknowledge({
      id: 'AwsSolutions-EC23',
      reason: 'The public HTTP edge: Global Accelerator preserves client IPs, so the ALB must accept any source on its one listener port.',
    });
    listener.addTargets('Edge', {
      targets: [new LambdaTarget(this.function)],
      // Both set explicitly: ELB's Lambda-target default timeout (30 s) would not be below the interval.
      // No target group health thresholds: ELB does not support them for Lambda targets.
      healthCheck: {
        enabled: true,
        path: HEALTH_PATH,
        interval: healthCheckInterval,
        timeout: healthCheckTimeout,
        healthyThresholdCount: 2,
        unhealthyThresholdCount: 2,
      },
    });
  }

  private accessLogBucket(retentionDays: number): Bucket {
    const bucket = new Bucket(this, 'AccessLogs', {
      // ALB access logs support SSE-S3 only.
      encryption: BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      lifecycleRules: [{ expiration: Duration.days(retentionDays) }],
      removalPolicy: RemovalPolicy.RETAIN,
    });
    Validations.of(bucket).acknowledge({
      id: 'AwsSolutions-S1',
      reason: 'This bucket is the ALB access log destination itself; logging its own access would only log the log delivery.',
    });
    return bucket;
  }
}
