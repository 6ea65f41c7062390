import { Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import { HttpApi, HttpMethod, type HttpStage, LogGroupLogDestination } from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import type { ICertificate } from 'aws-cdk-lib/aws-certificatemanager';
import { FlowLogDestination, SubnetType, Vpc } from 'aws-cdk-lib/aws-ec2';
import {
  type ApplicationListener,
  ApplicationLoadBalancer,
  ApplicationProtocol,
  ListenerAction,
  ListenerCondition,
  SslPolicy,
} from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import { LambdaTarget } from 'aws-cdk-lib/aws-elasticloadbalancingv2-targets';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { BlockPublicAccess, Bucket, BucketEncryption } from 'aws-cdk-lib/aws-s3';
import type { ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import type { ITopic } from 'aws-cdk-lib/aws-sns';
import { StringParameter } from 'aws-cdk-lib/aws-ssm';
import { Construct } from 'constructs';
import { RelaymeshFunction } from './relaymesh-function';
import type { RegionTables } from './websocket-gateway';

/** The path the ALB, Global Accelerator and Route 53 probe; the edge function answers it deeply. */
export const HEALTH_PATH = '/health';
/** Where clients ask which region's WebSocket to open. */
export const CONNECT_PATH = '/v1/connect';
/** Where backends publish with a bearer token: HTTPS only. */
export const PUBLISH_PATH = '/v1/publish';

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
  /** Apply source maps to stack traces at run time (RelaymeshFunctionProps.sourceMaps). @default false */
  readonly sourceMaps?: boolean;
  /**
   * Put an internet-facing ALB in front of the function, for Global Accelerator.
   * @default true
   */
  readonly loadBalancer?: boolean;
  /**
   * Put an API Gateway HTTP API, the regional HTTPS endpoint, in front of the function.
   * @default - when there is no load balancer, or it has no certificate
   */
  readonly httpsApi?: boolean;
  /** Name of the HTTP API. @default - the construct path */
  readonly httpsApiName?: string;
  /** Throttle of the HTTP API's stage. @default - the account's */
  readonly throttle?: { readonly rateLimit: number; readonly burstLimit: number };
  /**
   * The HTTPS base URL clients use for this edge when a custom name serves it (e.g.
   * https://edge.example.com); the publish URL is built from it.
   * @default - the HTTP API's own URL
   */
  readonly publicBaseUrl?: string;
}

/**
 * The regional HTTP edge: one Lambda function serving /health (deep, fails on purpose when the
 * drain flag is "true"), /v1/connect and /v1/publish, in front of which stand
 *
 * - an internet-facing ALB in a small public-subnet VPC (no NAT gateways: the Lambda target
 *   runs outside the VPC), which Global Accelerator fronts (GA cannot front an API Gateway
 *   WebSocket API); without a certificate it listens on plain HTTP and refuses anything that
 *   carries a token, so /health and /v1/connect stay reachable through the accelerator;
 * - and/or an API Gateway HTTP API, the regional HTTPS endpoint (TLS 1.2, Amazon's certificate)
 *   that carries tokens when the ALB cannot, and the whole edge in the `regional` edge mode.
 */
export class RegionalEdge extends Construct {
  readonly loadBalancer?: ApplicationLoadBalancer;
  readonly httpApi?: HttpApi;
  /** The HTTP API's `$default` stage. */
  readonly httpStage?: HttpStage;
  readonly function: RelaymeshFunction;
  readonly drainParameter: StringParameter;
  /** Port and protocol the ALB listener serves (443/HTTPS with a certificate, else 80/HTTP). */
  readonly port: number;
  readonly protocol: ApplicationProtocol;
  /** Where a backend POSTs with its bearer token: always an https:// URL. */
  readonly publishUrl: string;

  constructor(scope: Construct, id: string, props: RegionalEdgeProps) {
    super(scope, id);
    const healthCheckInterval = props.healthCheckInterval ?? Duration.seconds(5);
    const healthCheckTimeout = props.healthCheckTimeout ?? Duration.seconds(3);
    if (healthCheckInterval.toSeconds() <= healthCheckTimeout.toSeconds()) {
      throw new Error(
        `RegionalEdge: healthCheckInterval (${healthCheckInterval.toSeconds()} s) must be greater than healthCheckTimeout (${healthCheckTimeout.toSeconds()} s); ELB refuses the target group otherwise`,
      );
    }
    const withLoadBalancer = props.loadBalancer ?? true;
    const withHttpsApi = props.httpsApi ?? (!withLoadBalancer || !props.certificate);
    if (!withLoadBalancer && !withHttpsApi) throw new Error('RegionalEdge: needs a load balancer, an HTTPS API or both');
    if (!props.publicBaseUrl && !withHttpsApi && !props.certificate) {
      throw new Error('RegionalEdge: a plain-HTTP load balancer alone gives tokens no TLS path; add the HTTPS API or a certificate');
    }
    this.protocol = props.certificate ? ApplicationProtocol.HTTPS : ApplicationProtocol.HTTP;
    this.port = props.certificate ? 443 : 80;

    this.drainParameter = new StringParameter(this, 'DrainFlag', {
      parameterName: props.drainParameterName,
      stringValue: 'false',
      description: 'Set to "true" to make this region\'s /health fail so Global Accelerator and Route 53 drain it.',
    });

    this.httpApi = withHttpsApi ? new HttpApi(this, 'HttpsApi', { apiName: props.httpsApiName, createDefaultStage: false }) : undefined;
    const httpsBase = props.publicBaseUrl ?? this.httpApi?.apiEndpoint;
    if (!httpsBase) throw new Error('RegionalEdge: with a certificate and no HTTPS API, publicBaseUrl must name the HTTPS edge');
    this.publishUrl = `${httpsBase}${PUBLISH_PATH}`;

    this.function = new RelaymeshFunction(this, 'Function', {
      handler: 'edge',
      memorySize: props.memoryMb ?? 256,
      tracing: props.tracing,
      sourceMaps: props.sourceMaps,
      environment: {
        ...props.environment,
        WEBSOCKET_URL: props.webSocketUrl,
        DRAIN_PARAMETER_NAME: props.drainParameterName,
        PUBLISH_URL: this.publishUrl,
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

    if (this.httpApi) this.httpStage = this.addHttpsRoutes(this.httpApi, props);
    if (withLoadBalancer) this.loadBalancer = this.addLoadBalancer(props, healthCheckInterval, healthCheckTimeout);
  }

  /** The HTTP API's routes, stage (throttled, access-logged) and Lambda integration. */
  private addHttpsRoutes(api: HttpApi, props: RegionalEdgeProps): HttpStage {
    const accessLogs = new LogGroup(this, 'HttpsApiAccessLogs', { retention: RetentionDays.ONE_MONTH, removalPolicy: RemovalPolicy.DESTROY });
    const stage = api.addStage('DefaultStage', {
      stageName: '$default',
      autoDeploy: true,
      throttle: props.throttle,
      // HTTP APIs log with the deploying principal's permissions, not the account-wide API Gateway role.
      accessLogSettings: { destination: new LogGroupLogDestination(accessLogs) },
    });
    const integration = new HttpLambdaIntegration('Edge', this.function);
    const routes = [
      ...api.addRoutes({ path: HEALTH_PATH, methods: [HttpMethod.GET], integration }),
      ...api.addRoutes({ path: CONNECT_PATH, methods: [HttpMethod.GET], integration }),
      ...api.addRoutes({ path: PUBLISH_PATH, methods: [HttpMethod.POST], integration }),
    ];
    for (const route of routes) {
      Validations.of(route).acknowledge({
        id: 'AwsSolutions-APIG4',
        reason:
          '/health and /v1/connect carry no secrets; /v1/publish verifies the bearer JWT (HS256, the shared secret) in the function, and HTTP API JWT authorizers only take OIDC issuers.',
      });
    }
    return stage;
  }

  private addLoadBalancer(props: RegionalEdgeProps, healthCheckInterval: Duration, healthCheckTimeout: Duration): ApplicationLoadBalancer {
    const vpc = new Vpc(this, 'Vpc', {
      maxAzs: 2,
      natGateways: 0,
      subnetConfiguration: [{ name: 'public', subnetType: SubnetType.PUBLIC, cidrMask: 24 }],
      flowLogs: { all: { destination: FlowLogDestination.toCloudWatchLogs() } },
    });
    const loadBalancer = new ApplicationLoadBalancer(this, 'Alb', {
      vpc,
      internetFacing: true,
      dropInvalidHeaderFields: true,
    });
    loadBalancer.logAccessLogs(this.accessLogBucket(props.accessLogRetentionDays ?? 30));
    const listener = loadBalancer.addListener('Listener', {
      port: this.port,
      protocol: this.protocol,
      certificates: props.certificate && [props.certificate],
      sslPolicy: props.certificate && SslPolicy.RECOMMENDED_TLS,
      open: true,
    });
    Validations.of(loadBalancer).acknowledge({
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
    if (!props.certificate) this.refuseTokens(listener);
    return loadBalancer;
  }

  /**
   * On the plain-HTTP listener, anything carrying a token (an Authorization header, a `token`
   * query parameter) and any publish is answered by the ALB itself with 403, naming the HTTPS
   * publish URL, before it reaches the function. The token has crossed the network in clear
   * by then: the refusal makes such a client fail at once instead of working insecurely.
   */
  private refuseTokens(listener: ApplicationListener): void {
    const refusal = ListenerAction.fixedResponse(403, {
      contentType: 'application/json',
      messageBody: Stack.of(this).toJsonString({
        type: 'error',
        code: 4010,
        message: `Bearer tokens are refused over plain HTTP. Publish over HTTPS: ${this.publishUrl}`,
        retryable: false,
      }),
    });
    const rules: [string, ListenerCondition[]][] = [
      ['RefuseAuthorizationHeader', [ListenerCondition.httpHeader('Authorization', ['*'])]],
      ['RefuseTokenQuery', [ListenerCondition.queryStrings([{ key: 'token', value: '*' }])]],
      ['RefusePlainPublish', [ListenerCondition.pathPatterns([PUBLISH_PATH, `${PUBLISH_PATH}/*`])]],
    ];
    rules.forEach(([id, conditions], i) => listener.addAction(id, { priority: i + 1, conditions, action: refusal }));
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
