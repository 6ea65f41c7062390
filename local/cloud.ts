import { randomBytes } from 'node:crypto';
import { DynamoDBClient, paginateScan } from '@aws-sdk/client-dynamodb';
import { GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { ALARMED_FUNCTIONS, deliveryFunctionName, regionAlarmDefinitions, type AlarmWatch } from '../lib/alarm-definitions';
import { EVENT_CLASSES, type EventClass, type LogLevel, type RelaymeshConfig } from '../lib/config';
import { deliveryWorkerMemoryMb } from '../lib/worker-sizing';
import { GLOBAL_TABLES, connectionsTable, physicalTableName, subscriptionsTable, type TableLayout } from '../lambdas/core/tables';
import { configEnvironment } from '../lib/lambda-environment';
import { mintToken } from './dev-token';
import { LOCAL_CREDENTIALS } from './http';
import { createAlarmEvaluator, type AlarmEvaluator, type AlarmReading, type AlarmStatus } from './alarms';
import { assertJavaAvailable, createTables, startDynamoDbLocal, type DynamoDbLocal } from './dynamodb-local';
import { loadDashboardFiles } from './dashboard/files';
import { startEdgeServer, type EdgeHandler, type EdgeServer, type RegionControl } from './edge-server';
import { startEventSourceMapping, type EventSourceMapping, type SqsHandler } from './event-source-mapping';
import { FaultInjector, type FaultSettings, type ResolvedFaultSettings } from './faults';
import { buildFunctionBundles, type FunctionHandlerName } from './function-bundles';
import { startFunctionThread, type FunctionThread } from './function-thread';
import { startGlobalTableReplication, type GlobalTableReplicator } from './global-tables';
import { scopedSeed } from './handler-faults';
import { provisionMessaging, startMessaging, type RegionMessaging } from './messaging';
import type { CloudStatus, RegionStatus, StatusHistory } from './status';
import { startStatusSampler, type RegionSample } from './status-history';
import { startWebSocketApi, type WebSocketApi, type WebSocketAuthorizerHandler, type WebSocketRouteHandler } from './websocket-api';

export { LOCAL_CREDENTIALS };

export interface LocalCloudOptions {
  config: RelaymeshConfig;
  host?: string;
  /** Fixed ports for `npm start`; tests leave them out and get free ports. */
  ports?: { dynamodb?: number; messaging?: number; edge?: number; regions?: readonly number[] };
  /** HS256 secret for tokens; default: a random one per start. */
  jwtSecret?: string;
  /**
   * A directory to keep every region's DynamoDB state in across restarts (connections,
   * subscriptions, counters, history); default: in memory. Queues are not kept: messages in
   * flight when the cloud stops are gone, as after a redeploy of the queues.
   */
  persistDir?: string;
  /** How often the edge probes each region's /health. */
  healthCheckIntervalMs?: number;
  /** AWS faults to inject from the start (default: none); `LocalCloud.faults` changes them later. */
  faults?: FaultSettings;
  /** Seeds the fault schedule, so a run with the same settings and traffic fails the same way (default 1). */
  faultSeed?: number;
  /** How often every region's alarms are evaluated (default 5000); each evaluation stands for one period. */
  alarmEvaluationIntervalMs?: number;
  /** How often the cloud samples its counters for deliveries/s and the dashboard's charts (default 1000). */
  statusSampleIntervalMs?: number;
  /** The least severe line the handlers log (default WARN, so test clouds print only what goes wrong; `npm start` passes --log-level). */
  logLevel?: LogLevel;
}

/** How long the samples are kept: what a freshly opened dashboard shows. */
const STATUS_HISTORY_MS = 120_000;
/** Deliveries/s in `status` is the rate over this window: a few samples, so one burst does not swing it. */
const DELIVERY_RATE_WINDOW_MS = 5000;

export interface LocalRegion {
  region: string;
  websocketUrl: string;
  dynamodbEndpoint: string;
  sqsEndpoint: string;
  snsEndpoint: string;
  connectionsEndpoint: string;
  topicArn: string;
  queues: RegionMessaging['queues'];
  /** The Lambda environment the region's handlers run with. */
  env: Record<string, string>;
}

/** What `.relaymesh/local.json` holds. */
export interface LocalCloudDescription {
  regions: Record<string, Omit<LocalRegion, 'env'>>;
  edgeUrl: string;
  devToken: string;
  jwtSecret: string;
  credentials: typeof LOCAL_CREDENTIALS;
  /** The faults injected at start. */
  faults: ResolvedFaultSettings & { seed: number };
}

export interface LocalCloud {
  description: LocalCloudDescription;
  regions: Record<string, LocalRegion>;
  edge: EdgeServer;
  replicator: GlobalTableReplicator;
  /** Fault injection into the handlers' AWS calls, the @connections API and replication: set() and stats(). */
  faults: Pick<FaultInjector, 'seed' | 'settings' | 'set' | 'stats'>;
  /** The Count metrics the handlers reported, totalled (CloudWatch's Sum), keyed `<region>/<dimension values>`. */
  metrics(): Record<string, Record<string, number>>;
  /** Every region's alarms (the CDK stacks' definitions) as last evaluated. */
  alarms(): AlarmStatus[];
  /** Evaluates every alarm now instead of waiting for the next interval. */
  evaluateAlarms(): Promise<void>;
  /** Every region's figures, as `GET /status` on the edge answers them for `relaymesh status`. */
  status(): Promise<CloudStatus>;
  /** The samples of the last two minutes, as `GET /status/history` on the edge answers them for the dashboard. */
  statusHistory(): StatusHistory;
  /** Marks a region drained: its /health fails on purpose, so the edge routes around it. */
  drain(region: string, drained: boolean): Promise<void>;
  /** A regional outage: sockets refused and closed, health failing, replication cut off. */
  fail(region: string): Promise<void>;
  restore(region: string): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Starts every region of the config on loopback: one DynamoDB Local JVM with one database
 * per region and a global-table replicator, one fauxqs server for SNS and SQS of every
 * region, and per region an API Gateway WebSocket emulator, the delivery workers' event
 * source mappings and the edge Lambda, behind one Global Accelerator stand-in. The emulators
 * run on this thread; each function of each region runs in a worker thread of its own
 * (function-thread.ts), as on Lambda in sandboxes of its own.
 */
export async function startLocalCloud(options: LocalCloudOptions): Promise<LocalCloud> {
  const { config } = options;
  const host = options.host ?? '127.0.0.1';
  const jwtSecret = options.jwtSecret ?? randomBytes(32).toString('base64url');
  // Before anything starts, so invalid settings cost nothing to refuse.
  const faults = new FaultInjector(options.faults, options.faultSeed);
  const stack: Array<() => Promise<void>> = [];
  const stop = async () => {
    for (const stopOne of stack.splice(0).reverse()) await stopOne().catch(() => undefined);
  };
  /** Kept for stop() as soon as it has started, so a sibling that fails to start does not leave it running. */
  const kept = <T>(starting: Promise<T>, stopIt: (started: T) => Promise<void>) =>
    starting.then((started) => {
      stack.push(() => stopIt(started));
      return started;
    });

  try {
    assertJavaAvailable();
    const [dynamodb, messagingServer, bundles] = await allSettled([
      kept(startDynamoDbLocal({ port: options.ports?.dynamodb, ...(options.persistDir && { dbPath: options.persistDir }) }), (started) => started.stop()),
      kept(startMessaging({ port: options.ports?.messaging, host }), (started) => started.stop()),
      kept(buildFunctionBundles(), (built) => built.remove()),
    ]);
    // Every region's data lives in this one JVM: its death is loud, and every /health then fails.
    void dynamodb.died.then((reason) => console.error(`[relaymesh] DynamoDB Local died: ${reason}\nEvery region's state is gone and its /health fails; restart the local cloud.`));

    await Promise.all(config.regions.map((region) => createTables(dynamoClient(dynamodb, region), config.appName)));
    const replicator = startGlobalTableReplication({
      endpoint: dynamodb.endpoint,
      regions: config.regions,
      tableNames: GLOBAL_TABLES.map((t) => physicalTableName(config.appName, t)),
      lagMs: config.local.replicationLagMs,
      credentials: LOCAL_CREDENTIALS,
    });
    stack.push(() => replicator.stop());
    faults.driveReplicationLag(replicator, config.local.replicationLagMs);
    stack.push(async () => faults.stop());

    const messaging = await provisionMessaging({
      endpoint: messagingServer.endpoint,
      appName: config.appName,
      regions: config.regions,
      eventClasses: config.eventClasses,
    });

    // Stopped after everything that invokes them (the stack stops in reverse): an API's stop still runs $disconnect.
    const functions: FunctionThread<never>[] = [];
    stack.push(async () => void (await Promise.all(functions.map((fn) => fn.stop()))));
    // Counts only, as CloudWatch's Sum would read them: the bench measures latency at its subscribers.
    const metrics = () => {
      const totals: Record<string, Record<string, number>> = {};
      for (const fn of functions) {
        for (const [key, counts] of Object.entries(fn.metrics())) {
          const sums = (totals[key] ??= {});
          for (const [name, value] of Object.entries(counts)) sums[name] = (sums[name] ?? 0) + value;
        }
      }
      return totals;
    };
    const drained = new Map(config.regions.map((r) => [r, false]));
    const failed = new Set<string>();
    /** Each region's edge reads its drain switch (on AWS an SSM parameter): 1 while drained or failed. */
    const drainSwitches = new Map(config.regions.map((r) => [r, new SharedArrayBuffer(Int32Array.BYTES_PER_ELEMENT)]));
    const setDrainSwitch = (region: string) => Atomics.store(new Int32Array(drainSwitches.get(region)!), 0, drained.get(region) === true || failed.has(region) ? 1 : 0);
    const apis = new Map<string, WebSocketApi>();
    const regions: Record<string, LocalRegion> = {};
    const edgeHandlers: Array<{ region: string; handler: EdgeHandler }> = [];
    const alarmEvaluators: AlarmEvaluator[] = [];
    const regionParts = new Map<string, { sqs: SQSClient; mappings: Record<EventClass, EventSourceMapping>; alarms: AlarmEvaluator }>();

    for (const [index, region] of config.regions.entries()) {
      // The routes call handlers built after the API is listening: their env needs its endpoint.
      let handlers: RegionHandlers | undefined;
      const api = await startWebSocketApi({
        region,
        stage: config.stageName,
        host,
        port: options.ports?.regions?.[index],
        limits: config.limits,
        faults: { throttlePost: faults.throttlePost },
        authorizer: {
          handler: (event) => handlers!.authorizer(event),
          identitySource: ['route.request.querystring.token'],
        },
        routes: {
          $connect: { handler: (event) => handlers!.connect(event) },
          $disconnect: { handler: (event) => handlers!.disconnect(event) },
          $default: { handler: (event) => handlers!.router(event), returnResponse: true },
        },
      });
      apis.set(region, api);
      stack.push(() => api.stop());

      const regionMessaging = messaging[region]!;
      const env = lambdaEnv(config, region, {
        topicArn: regionMessaging.topicArn,
        connectionsEndpoint: api.connectionsEndpoint,
        websocketUrl: api.websocketUrl,
        dynamodbEndpoint: dynamodb.endpoint,
        messagingEndpoint: messagingServer.endpoint,
        jwtSecret,
      });
      /** Starts a function of the region in its thread, its fault injection driven by the cloud's injector. */
      const deploy = async <H extends (event: never) => Promise<unknown>>(handler: FunctionHandlerName, name: string, memoryMb: number, extra: { env?: Record<string, string>; killable?: boolean } = {}) => {
        const fn = await startFunctionThread<Parameters<H>[0], Awaited<ReturnType<H>>>({
          file: bundles.file(handler),
          config: {
            serviceName: config.appName,
            region,
            name,
            memoryMb,
            logLevel: options.logLevel ?? 'WARN',
            killable: extra.killable ?? false,
            env: { ...env, ...extra.env },
            faultSeed: scopedSeed(faults.seed, `${region}/${name}`),
            drainSwitch: drainSwitches.get(region)!,
          },
          onCrash: (error) => console.error(`[relaymesh] ${error.message}\nIts invocations fail until the local cloud restarts.`),
        });
        functions.push(fn);
        faults.attach(fn);
        return fn;
      };
      const memoryMb = config.functions.memoryMb;
      const [authorizer, connect, disconnect, router, edgeFunction, ...workers] = await allSettled([
        deploy<WebSocketAuthorizerHandler>('authorizer', 'authorizer', memoryMb.authorizer),
        deploy<WebSocketRouteHandler>('connect', 'connect', memoryMb.connect),
        deploy<WebSocketRouteHandler>('disconnect', 'disconnect', memoryMb.disconnect),
        deploy<WebSocketRouteHandler>('messageRouter', 'messageRouter', memoryMb.messageRouter),
        deploy<EdgeHandler>('edge', 'edge', memoryMb.edge),
        // Killable: the kill fault stands for a delivery worker's timeout or crash (faults.ts).
        ...EVENT_CLASSES.map((eventClass) =>
          deploy<SqsHandler>('deliveryWorker', deliveryFunctionName(eventClass), deliveryWorkerMemoryMb(config, eventClass), {
            killable: true,
            env: { EVENT_CLASS: eventClass, EVENT_TTL_SECONDS: String(config.eventClasses[eventClass].ttlSeconds), QUEUE_URL: regionMessaging.queues[eventClass].queueUrl },
          }),
        ),
      ]);
      handlers = { authorizer: authorizer!.invoke, connect: connect!.invoke, disconnect: disconnect!.invoke, router: router!.invoke };
      edgeHandlers.push({ region, handler: edgeFunction!.invoke });

      const sqs = new SQSClient({ region, endpoint: messagingServer.endpoint, credentials: LOCAL_CREDENTIALS });
      const mappings = {} as Record<EventClass, EventSourceMapping>;
      for (const [i, eventClass] of EVENT_CLASSES.entries()) {
        const settings = config.eventClasses[eventClass];
        const queue = regionMessaging.queues[eventClass];
        const mapping: EventSourceMapping = startEventSourceMapping({
          sqs,
          queueUrl: queue.queueUrl,
          queueArn: queue.queueArn,
          region,
          batchSize: settings.batchSize,
          maxBatchingWindowSeconds: settings.maxBatchingWindowSeconds,
          maxConcurrency: settings.maxConcurrency,
          handler: workers[i]!.invoke,
          onInvokeError: (error) => console.error(`[${region}] ${eventClass} delivery worker failed: ${String(error)}`),
        });
        stack.push(() => mapping.stop());
        mappings[eventClass] = mapping;
      }

      const readAlarmFigure = async (watch: AlarmWatch): Promise<AlarmReading> => {
        switch (watch.kind) {
          case 'deadLetters': {
            const { Attributes } = await sqs.send(
              new GetQueueAttributesCommand({ QueueUrl: regionMessaging.queues[watch.eventClass].dlqUrl, AttributeNames: ['ApproximateNumberOfMessages'] }),
            );
            return { value: Number(Attributes?.ApproximateNumberOfMessages ?? 0) };
          }
          case 'oldestMessage':
            return { value: mappings[watch.eventClass].stats().oldestInFlightAgeSeconds };
          case 'functionErrors': {
            const eventClass = EVENT_CLASSES.find((c) => deliveryFunctionName(c) === watch.functionName);
            return eventClass ? { value: mappings[eventClass].stats().errors } : { unavailable: 'the local cloud counts the errors of the delivery workers only' };
          }
          case 'replicationLatency':
            return { value: replicator.stats().oldestPendingMsByRegion[watch.receivingRegion] ?? 0 };
          case 'fanoutDeadLetters':
          case 'fanoutNotificationsFailed':
          case 'fanoutRedriveFailed':
            return { unavailable: 'fauxqs delivers SNS to SQS without a subscription DLQ or delivery metrics' };
          case 'functionThrottles':
            return { unavailable: 'the local cloud does not throttle functions' };
          case 'apiIntegrationErrors':
            return { unavailable: 'the local WebSocket API does not count its integrations\' errors' };
        }
      };
      const alarms = createAlarmEvaluator({
          region,
          definitions: regionAlarmDefinitions({
            eventClasses: EVENT_CLASSES,
            deadLetterAlarms: Object.fromEntries(EVENT_CLASSES.map((c) => [c, config.eventClasses[c].deadLetterAlarm])),
            fanout: true,
            functionNames: [...ALARMED_FUNCTIONS, ...EVENT_CLASSES.map(deliveryFunctionName)],
            tableNames: GLOBAL_TABLES.map((t) => physicalTableName(config.appName, t)),
            replicaRegions: config.regions.filter((r) => r !== region),
          }),
          read: readAlarmFigure,
          // Logged once per change into or out of ALARM, as a notification would be sent; not the first OK of every alarm.
          onChange: (status, previous) => {
            if (status.state === 'ALARM' || previous === 'ALARM') console.log(`[relaymesh] ${status.state} ${status.name} (${status.region}): ${status.reason}`);
          },
        });
      alarmEvaluators.push(alarms);
      regionParts.set(region, { sqs, mappings, alarms });

      regions[region] = {
        region,
        websocketUrl: api.websocketUrl,
        connectionsEndpoint: api.connectionsEndpoint,
        dynamodbEndpoint: dynamodb.endpoint,
        sqsEndpoint: messagingServer.endpoint,
        snsEndpoint: messagingServer.endpoint,
        topicArn: regionMessaging.topicArn,
        queues: regionMessaging.queues,
        env,
      };
    }

    // Every sandbox has loaded its bundle: none is left on disk however the process ends.
    await bundles.remove();

    // Sampled on the cloud's own timer, so every reader of status sees the same rate however often it asks.
    const postedIn = (region: string) =>
      Object.entries(metrics())
        .filter(([key]) => key.startsWith(`${region}/`))
        .reduce((sum, [, values]) => sum + (values.posted ?? 0), 0);
    const sampleIntervalMs = options.statusSampleIntervalMs ?? 1000;
    const sampler = await startStatusSampler({
      intervalMs: sampleIntervalMs,
      keepMs: STATUS_HISTORY_MS,
      read: async () =>
        Object.fromEntries(
          await Promise.all(
            config.regions.map(async (region): Promise<[string, RegionSample]> => {
              const posted = postedIn(region);
              const { sqs } = regionParts.get(region)!;
              const depths = await Promise.all(EVENT_CLASSES.map((eventClass) => queueDepth(sqs, regions[region]!.queues[eventClass].queueUrl)));
              return [region, { posted, queueDepth: depths.reduce((sum, d) => sum + d.visible + d.inFlight, 0) }];
            }),
          ),
        ),
      onError: (error) => console.error(`[relaymesh] status sample failed: ${String(error)}`),
    });
    stack.push(() => sampler.stop());
    const statusHistory = () => sampler.history.points(sampleIntervalMs);

    const regionStatus = async (region: string): Promise<RegionStatus> => {
      const { sqs, mappings, alarms } = regionParts.get(region)!;
      const dynamo = dynamoClient(dynamodb, region);
      const countItems = async (table: TableLayout) => {
        let items = 0;
        for await (const page of paginateScan({ client: dynamo }, { TableName: physicalTableName(config.appName, table), Select: 'COUNT' })) items += page.Count ?? 0;
        return items;
      };
      try {
        const [connections, subscriptions, queues] = await Promise.all([
          countItems(connectionsTable),
          countItems(subscriptionsTable),
          Promise.all(
            EVENT_CLASSES.map(async (eventClass) => {
              const urls = regions[region]!.queues[eventClass];
              const [queue, dlq] = await Promise.all([queueDepth(sqs, urls.queueUrl), queueDepth(sqs, urls.dlqUrl)]);
              return { eventClass, ...queue, oldestAgeSeconds: mappings[eventClass].stats().oldestInFlightAgeSeconds, deadLetters: dlq.visible + dlq.inFlight };
            }),
          ),
        ]);
        const deliveriesPerSecond = sampler.history.deliveriesPerSecond(region, DELIVERY_RATE_WINDOW_MS);
        return {
          region,
          health: { healthy: edge.healthyRegions().includes(region), detail: edge.lastHealth()[region] ?? 'not checked yet' },
          drained: drained.get(region) === true,
          failed: failed.has(region),
          connections,
          subscriptions,
          queues,
          alarms: alarms.statuses().map(({ name, state, reason, since }) => ({ name, state, reason, since })),
          replicationLagMs: replicator.stats().oldestPendingMsByRegion[region] ?? 0,
          deliveriesPerSecond: deliveriesPerSecond ?? { na: 'fewer than two samples yet' },
        };
      } finally {
        dynamo.destroy();
      }
    };
    const status = async (): Promise<CloudStatus> => ({ at: new Date().toISOString(), regions: await Promise.all(config.regions.map(regionStatus)) });

    const knownRegion = (region: string) => {
      if (!apis.has(region)) throw new Error(`Unknown region ${region}; this cloud runs ${config.regions.join(', ')}`);
      return region;
    };
    // Each action re-probes health at once, so the edge routes by the new state on return.
    const checkHealth = () => edge.checkHealth();
    const control: RegionControl = {
      drain: async (region) => {
        drained.set(knownRegion(region), true);
        setDrainSwitch(region);
        await checkHealth();
      },
      undrain: async (region) => {
        drained.set(knownRegion(region), false);
        setDrainSwitch(region);
        await checkHealth();
      },
      fail: async (region) => {
        failed.add(knownRegion(region));
        setDrainSwitch(region);
        apis.get(region)!.setAvailable(false);
        replicator.pause(region);
        await checkHealth();
      },
      restore: async (region) => {
        failed.delete(knownRegion(region));
        setDrainSwitch(region);
        apis.get(region)!.setAvailable(true);
        replicator.resume(region);
        await checkHealth();
      },
    };

    const edge: EdgeServer = await startEdgeServer({
      status,
      statusHistory,
      files: await loadDashboardFiles(),
      control,
      regions: edgeHandlers,
      host,
      port: options.ports?.edge,
      healthCheckIntervalMs: options.healthCheckIntervalMs,
    });
    stack.push(() => edge.stop());

    const evaluateAlarms = async () => {
      await Promise.all(alarmEvaluators.map((e) => e.evaluate()));
    };
    const alarmTimer = setInterval(() => void evaluateAlarms().catch((error: unknown) => console.error(`[relaymesh] alarm evaluation failed: ${String(error)}`)), options.alarmEvaluationIntervalMs ?? 5000);
    alarmTimer.unref();
    stack.push(async () => clearInterval(alarmTimer));

    const devToken = await mintToken(jwtSecret, { sub: 'dev', subscribe: ['*'], publish: ['*'] });
    const description: LocalCloudDescription = {
      regions: Object.fromEntries(Object.entries(regions).map(([name, { env: _env, ...rest }]) => [name, rest])),
      edgeUrl: edge.url,
      devToken,
      jwtSecret,
      // A copy: the SDK marks the credentials objects it is given with internals ($source).
      credentials: { accessKeyId: LOCAL_CREDENTIALS.accessKeyId, secretAccessKey: LOCAL_CREDENTIALS.secretAccessKey },
      faults: { ...faults.settings(), seed: faults.seed },
    };

    return {
      description,
      regions,
      edge,
      replicator,
      faults,
      metrics,
      alarms: () => alarmEvaluators.flatMap((e) => e.statuses()),
      evaluateAlarms,
      status,
      statusHistory,
      drain: (region, isDrained) => (isDrained ? control.drain(region) : control.undrain(region)),
      fail: control.fail,
      restore: control.restore,
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** Waits for every promise, then fails with the first failure: none started is left behind unstopped. */
async function allSettled<T extends readonly unknown[]>(promises: { readonly [K in keyof T]: Promise<T[K]> }): Promise<T> {
  const results = await Promise.allSettled(promises);
  const failure = results.find((result) => result.status === 'rejected');
  if (failure) throw failure.reason;
  return results.map((result) => (result as PromiseFulfilledResult<unknown>).value) as unknown as T;
}

interface RegionHandlers {
  authorizer: WebSocketAuthorizerHandler;
  connect: WebSocketRouteHandler;
  disconnect: WebSocketRouteHandler;
  router: WebSocketRouteHandler;
}

async function queueDepth(sqs: SQSClient, queueUrl: string): Promise<{ visible: number; inFlight: number }> {
  const { Attributes = {} } = await sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }),
  );
  return { visible: Number(Attributes.ApproximateNumberOfMessages ?? 0), inFlight: Number(Attributes.ApproximateNumberOfMessagesNotVisible ?? 0) };
}

function dynamoClient(dynamodb: DynamoDbLocal, region: string): DynamoDBClient {
  return new DynamoDBClient({ region, endpoint: dynamodb.endpoint, credentials: LOCAL_CREDENTIALS });
}

/** The same variables the CDK stacks set on each function, pointed at the local endpoints. */
export function lambdaEnv(
  config: RelaymeshConfig,
  region: string,
  local: {
    topicArn: string;
    connectionsEndpoint: string;
    websocketUrl: string;
    dynamodbEndpoint: string;
    messagingEndpoint: string;
    jwtSecret: string;
  },
): Record<string, string> {
  return {
    ...configEnvironment(config),
    AWS_REGION: region,
    AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
    TOPIC_ARN: local.topicArn,
    CONNECTIONS_ENDPOINT: local.connectionsEndpoint,
    WEBSOCKET_URL: local.websocketUrl,
    JWT_SECRET: local.jwtSecret,
    AWS_ENDPOINT_URL_DYNAMODB: local.dynamodbEndpoint,
    AWS_ENDPOINT_URL_SNS: local.messagingEndpoint,
    AWS_ENDPOINT_URL_SQS: local.messagingEndpoint,
  };
}
