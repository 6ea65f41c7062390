import { Duration, type CfnElement, RemovalPolicy, Stack, Token, Validations } from 'aws-cdk-lib';
import { CfnAccount } from 'aws-cdk-lib/aws-apigateway';
import { LogGroupLogDestination, WebSocketApi, WebSocketStage } from 'aws-cdk-lib/aws-apigatewayv2';
import { WebSocketLambdaAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import { WebSocketLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import type { ITableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { type IGrantable, ManagedPolicy, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import type { ITopic } from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { RelaymeshFunction } from './relaymesh-function';

/** The tables as seen from one region (lambdas/core/tables.ts names): its own and its global-table replicas. */
export interface RegionTables {
  readonly connections: ITableV2;
  readonly subscriptions: ITableV2;
  readonly presence: ITableV2;
  readonly sequences: ITableV2;
  readonly history: ITableV2;
  readonly dedup: ITableV2;
}

export interface WebSocketGatewayProps {
  readonly apiName: string;
  /** The WebSocket stage; its callback URL becomes CONNECTIONS_ENDPOINT. */
  readonly stageName: string;
  /** The common runtime environment of lambdas/core/runtime.ts, without CONNECTIONS_ENDPOINT. */
  readonly environment: Record<string, string>;
  readonly tables: RegionTables;
  /** This region's fan-out topic, which the message router publishes to. */
  readonly topic: ITopic;
  /** The HS256 secret the REQUEST authorizer verifies tokens with. */
  readonly jwtSecret: ISecret;
  /** Steady-state requests per second of the stage's default route settings. */
  readonly throttleRateLimit: number;
  /** Burst of the stage's default route settings. */
  readonly throttleBurstLimit: number;
  /**
   * Retention of the stage's access logs.
   * @default RetentionDays.ONE_MONTH
   */
  readonly accessLogRetention?: RetentionDays;
  /**
   * Write stage access logs. API Gateway writes WebSocket access logs with the region's
   * account-wide CloudWatch Logs role; without one set, creating the stage fails ("CloudWatch
   * Logs role ARN must be set in account settings to enable logging").
   * @default true
   */
  readonly accessLogs?: boolean;
  /**
   * Set that account-wide role from this stack (AWS::ApiGateway::Account). It replaces the role
   * every REST and WebSocket API of the account in this region logs with, and outlives the stack
   * (the role is retained so the account setting never points at a deleted role).
   * @default false
   */
  readonly manageAccountCloudWatchRole?: boolean;
  /**
   * Memory per handler, MB.
   * @default 256 each, 512 for the message router (it replays history)
   */
  readonly memoryMb?: Partial<Record<'authorizer' | 'connect' | 'disconnect' | 'messageRouter', number>>;
  /** X-Ray active tracing. @default true */
  readonly tracing?: boolean;
  /** Apply source maps to stack traces at run time (RelaymeshFunctionProps.sourceMaps). @default false */
  readonly sourceMaps?: boolean;
}

/**
 * The regional WebSocket API: `$connect` behind the REQUEST authorizer (token in the query
 * string, since browsers cannot set headers on a WebSocket), `$disconnect`, and `$default`
 * (the message router, whose return value is the ack/error frame, so the route returns it).
 * Each handler gets only the grants it needs.
 */
export class WebSocketGateway extends Construct {
  readonly api: WebSocketApi;
  readonly stage: WebSocketStage;
  /** https URL of the stage's @connections management API (CONNECTIONS_ENDPOINT). */
  readonly connectionsEndpoint: string;
  /** wss URL clients open. */
  readonly url: string;
  readonly functions: Readonly<Record<'authorizer' | 'connect' | 'disconnect' | 'messageRouter', RelaymeshFunction>>;

  constructor(scope: Construct, id: string, props: WebSocketGatewayProps) {
    super(scope, id);
    this.api = new WebSocketApi(this, 'Api', { apiName: props.apiName, routeSelectionExpression: '$request.body.action' });
    const accessLogs =
      (props.accessLogs ?? true)
        ? new LogGroup(this, 'AccessLogs', { retention: props.accessLogRetention ?? RetentionDays.ONE_MONTH, removalPolicy: RemovalPolicy.DESTROY })
        : undefined;
    this.stage = new WebSocketStage(this, 'Stage', {
      webSocketApi: this.api,
      stageName: props.stageName,
      autoDeploy: true,
      throttle: { rateLimit: props.throttleRateLimit, burstLimit: props.throttleBurstLimit },
      accessLogSettings: accessLogs && { destination: new LogGroupLogDestination(accessLogs) },
    });
    if (!accessLogs) {
      Validations.of(this.stage).acknowledge({
        id: 'AwsSolutions-APIG1',
        reason: 'Access logs turned off in the config (webSocketLogging.accessLogs: false), for accounts without the API Gateway CloudWatch role.',
      });
    }
    if (props.manageAccountCloudWatchRole ?? false) this.stage.node.addDependency(this.cloudWatchLoggingRole());
    this.connectionsEndpoint = this.stage.callbackUrl;
    this.url = this.stage.url;

    const environment = { ...props.environment, CONNECTIONS_ENDPOINT: this.connectionsEndpoint };
    const memory = { authorizer: 256, connect: 256, disconnect: 256, messageRouter: 512, ...props.memoryMb };
    const fn = (name: string, handler: 'authorizer' | 'connect' | 'disconnect' | 'message-router', memorySize: number, timeout?: Duration) =>
      new RelaymeshFunction(this, name, { handler, environment, timeout, memorySize, tracing: props.tracing, sourceMaps: props.sourceMaps });
    this.functions = {
      authorizer: fn('Authorizer', 'authorizer', memory.authorizer),
      connect: fn('Connect', 'connect', memory.connect),
      disconnect: fn('Disconnect', 'disconnect', memory.disconnect),
      // A subscribe with `since` replays history before it answers: give it API Gateway's whole 29 s.
      messageRouter: fn('MessageRouter', 'message-router', memory.messageRouter, Duration.seconds(29)),
    };
    const { authorizer, connect, disconnect, messageRouter } = this.functions;
    const { tables } = props;
    props.jwtSecret.grantRead(authorizer);
    tables.connections.grantReadWriteData(connect);
    tables.connections.grantReadWriteData(disconnect);
    tables.subscriptions.grantReadWriteData(disconnect);
    tables.presence.grantReadWriteData(disconnect);
    // Leaving a presence channel on disconnect publishes a leave event.
    props.topic.grantPublish(disconnect);
    for (const table of Object.values(tables)) table.grantReadWriteData(messageRouter);
    props.topic.grantPublish(messageRouter);

    this.api.addRoute('$connect', {
      integration: new WebSocketLambdaIntegration('ConnectIntegration', connect),
      authorizer: new WebSocketLambdaAuthorizer('JwtAuthorizer', authorizer, {
        identitySource: ['route.request.querystring.token'],
      }),
    });
    const disconnectRoute = this.api.addRoute('$disconnect', {
      integration: new WebSocketLambdaIntegration('DisconnectIntegration', disconnect),
    });
    const defaultRoute = this.api.addRoute('$default', {
      integration: new WebSocketLambdaIntegration('MessageRouterIntegration', messageRouter),
      returnResponse: true,
    });
    for (const route of [disconnectRoute, defaultRoute]) {
      Validations.of(route).acknowledge({
        id: 'AwsSolutions-APIG4',
        reason: 'WebSocket APIs accept an authorizer only on $connect; every later frame rides the connection $connect authorized.',
      });
    }

    this.grantPostToConnection(messageRouter);
  }

  /**
   * Lets `sender` post to, and delete, this stage's connections. The resource ends in
   * `@connections/*` because connection ids exist only at run time; that wildcard is the
   * narrowest IAM allows, so the matching cdk-nag finding is acknowledged on the sender.
   */
  grantPostToConnection(sender: IGrantable & Construct): void {
    this.stage.grantManagementApiAccess(sender);
    const stack = Stack.of(this);
    const account = Token.isUnresolved(stack.account) ? '<AWS::AccountId>' : stack.account;
    const apiLogicalId = stack.getLogicalId(this.api.node.defaultChild as CfnElement);
    Validations.of(sender).acknowledge({
      id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:execute-api:${stack.region}:${account}:<${apiLogicalId}>/${this.stage.stageName}/*/@connections/*]`,
      reason: 'Connection ids are only known at run time; the grant is limited to this API stage\'s @connections management API.',
    });
  }

  /**
   * The region's account-level API Gateway CloudWatch role, which WebSocket stage logging needs.
   * Only on request: it is one setting for every API of the account in the region.
   */
  private cloudWatchLoggingRole(): CfnAccount {
    const role = new Role(this, 'CloudWatchRole', {
      assumedBy: new ServicePrincipal('apigateway.amazonaws.com'),
      managedPolicies: [ManagedPolicy.fromAwsManagedPolicyName('service-role/AmazonAPIGatewayPushToCloudWatchLogs')],
    });
    // Deleting the stack leaves the account setting in place; the role it names must stay too.
    role.applyRemovalPolicy(RemovalPolicy.RETAIN);
    Validations.of(role).acknowledge({
      id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]',
      reason: 'The AWS-maintained policy API Gateway documents for its account-level logging role; it only writes logs.',
    });
    return new CfnAccount(this, 'Account', { cloudWatchRoleArn: role.roleArn });
  }
}
