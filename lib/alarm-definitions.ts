import type { EventClass } from './config';

/**
 * Every alarm of one region, as data: lib/region-alarms.ts turns each into a CloudWatch alarm
 * and the local cloud (local/alarms.ts) evaluates the same list against its own figures, so a
 * message in a DLQ raises the alarm of the same name in both. No aws-cdk-lib here: the local
 * cloud imports this module.
 */

/** What an alarm watches: one CloudWatch metric on AWS, and the local figure standing for it. */
export type AlarmWatch =
  /** ApproximateNumberOfMessagesVisible of the class's DLQ. */
  | { readonly kind: 'deadLetters'; readonly eventClass: EventClass }
  /** ApproximateAgeOfOldestMessage of the class's queue, seconds. */
  | { readonly kind: 'oldestMessage'; readonly eventClass: EventClass }
  /** ApproximateNumberOfMessagesVisible of the fan-out subscriptions' DLQ. */
  | { readonly kind: 'fanoutDeadLetters' }
  /** NumberOfNotificationsFailed of the region's fan-out topic. */
  | { readonly kind: 'fanoutNotificationsFailed' }
  /** NumberOfNotificationsFailedToRedriveToDlq of the region's fan-out topic. */
  | { readonly kind: 'fanoutRedriveFailed' }
  /** Errors of a function, by its display name. */
  | { readonly kind: 'functionErrors'; readonly functionName: string }
  | { readonly kind: 'functionThrottles'; readonly functionName: string }
  /** ReplicationLatency of a global table toward another region, milliseconds. */
  | { readonly kind: 'replicationLatency'; readonly tableName: string; readonly receivingRegion: string }
  /** IntegrationError of the WebSocket API stage. */
  | { readonly kind: 'apiIntegrationErrors' };

/** CloudWatch's statistic of each period: a gauge's Maximum or Average, a counter's Sum. */
export type AlarmStatistic = 'Maximum' | 'Average' | 'Sum';

export interface AlarmDefinition {
  /** The alarm's construct id in the region stack, and its name on the local cloud. */
  readonly name: string;
  readonly watches: AlarmWatch;
  readonly statistic: AlarmStatistic;
  /** Breaching when the period's statistic is above it (every alarm here is GreaterThanThreshold). */
  readonly threshold: number;
  readonly comparison: 'GreaterThanThreshold';
  readonly periodMinutes: number;
  /** Consecutive breaching periods before the alarm fires. */
  readonly evaluationPeriods: number;
  /** What went wrong, for the operator paged by it. */
  readonly description: string;
  /** README anchor of the runbook that says what to check and what to do. */
  readonly runbook: RunbookAnchor;
}

/** One runbook per kind of alarm, a README section each (## Runbooks). */
export const RUNBOOK_ANCHORS = {
  deadLetters: 'runbook-dead-letters',
  oldestMessage: 'runbook-oldest-message',
  fanoutDeadLetters: 'runbook-fanout-dead-letters',
  fanoutNotificationsFailed: 'runbook-fanout-notifications-failed',
  fanoutRedriveFailed: 'runbook-fanout-redrive-failed',
  functionErrors: 'runbook-function-errors',
  functionThrottles: 'runbook-function-throttles',
  replicationLatency: 'runbook-replication-latency',
  apiIntegrationErrors: 'runbook-api-integration-errors',
} as const satisfies Record<AlarmWatch['kind'], string>;
export type RunbookAnchor = (typeof RUNBOOK_ANCHORS)[AlarmWatch['kind']];

/**
 * Where runbook links point when the config names no runbookBaseUrl: the README beside the
 * code, which is right for whoever reads the alarm with the repository at hand, whatever its URL.
 */
export const DEFAULT_RUNBOOK_BASE_URL = 'README.md';

export const runbookUrl = (baseUrl: string, anchor: RunbookAnchor): string => `${baseUrl}#${anchor}`;

/** The functions of a region alarmed on errors and throttles besides the delivery workers, by display name. */
export const ALARMED_FUNCTIONS = ['authorizer', 'connect', 'disconnect', 'messageRouter', 'edge'] as const;
/** The display name of a class's delivery worker, in its alarms' names. */
export const deliveryFunctionName = (eventClass: EventClass): string => `delivery-${eventClass}`;

/** When a DLQ alarms: more than `threshold` messages for `evaluationPeriods` periods of `periodMinutes`. */
export interface DeadLetterAlarmSettings {
  readonly threshold: number;
  readonly periodMinutes: number;
  readonly evaluationPeriods: number;
}

export interface RegionAlarmInputs {
  readonly eventClasses: readonly EventClass[];
  /** The DLQ alarm of each class; default: any message, within a minute. */
  readonly deadLetterAlarms?: Partial<Record<EventClass, DeadLetterAlarmSettings>>;
  /** Whether the region has a fan-out topic with a subscription DLQ to alarm on. */
  readonly fanout: boolean;
  /** Display names of the functions alarmed on errors and throttles. */
  readonly functionNames: readonly string[];
  readonly tableNames: readonly string[];
  readonly replicaRegions: readonly string[];
  /** Default 120. */
  readonly oldestMessageAgeSeconds?: number;
  /** Default 5000. */
  readonly replicationLatencyMs?: number;
}

const ANY_DEAD_LETTER: DeadLetterAlarmSettings = { threshold: 0, periodMinutes: 1, evaluationPeriods: 1 };

export function regionAlarmDefinitions(inputs: RegionAlarmInputs): AlarmDefinition[] {
  const ageSeconds = inputs.oldestMessageAgeSeconds ?? 120;
  const latencyMs = inputs.replicationLatencyMs ?? 5000;
  const alarms: AlarmDefinition[] = [];
  const add = (
    name: string,
    watches: AlarmWatch,
    options: { statistic: AlarmStatistic; threshold: number; periodMinutes: number; evaluationPeriods?: number; description: string },
  ) =>
    alarms.push({
      name,
      watches,
      statistic: options.statistic,
      threshold: options.threshold,
      comparison: 'GreaterThanThreshold',
      periodMinutes: options.periodMinutes,
      evaluationPeriods: options.evaluationPeriods ?? 1,
      description: options.description,
      runbook: RUNBOOK_ANCHORS[watches.kind],
    });

  for (const eventClass of inputs.eventClasses) {
    const dlq = inputs.deadLetterAlarms?.[eventClass] ?? ANY_DEAD_LETTER;
    add(`${eventClass}DeadLetters`, { kind: 'deadLetters', eventClass }, {
      statistic: 'Maximum',
      ...dlq,
      description:
        dlq.threshold === 0
          ? `A ${eventClass} event reached its DLQ: inspect it with \`relaymesh dlq show\`, fix the cause, then \`relaymesh dlq redrive\`.`
          : `More than ${dlq.threshold} ${eventClass} events sat in its DLQ for ${dlq.evaluationPeriods * dlq.periodMinutes} minutes: inspect them with \`relaymesh dlq show\`.`,
    });
    add(`${eventClass}OldestMessage`, { kind: 'oldestMessage', eventClass }, {
      statistic: 'Maximum',
      threshold: ageSeconds,
      periodMinutes: 1,
      evaluationPeriods: 3,
      description: `The ${eventClass} queue's oldest message is older than ${ageSeconds}s: delivery is falling behind.`,
    });
  }
  if (inputs.fanout) {
    add('FanoutDeadLetters', { kind: 'fanoutDeadLetters' }, {
      statistic: 'Maximum',
      threshold: 0,
      periodMinutes: 1,
      description: 'SNS could not deliver a fan-out event to a region\'s queue and kept it in the subscription DLQ: check that queue\'s policy, then redrive.',
    });
    add('FanoutNotificationsFailed', { kind: 'fanoutNotificationsFailed' }, {
      statistic: 'Sum',
      threshold: 0,
      periodMinutes: 5,
      description: 'SNS failed to deliver fan-out events to a subscribed queue: a region misses messages until they are redriven.',
    });
    add('FanoutRedriveFailed', { kind: 'fanoutRedriveFailed' }, {
      statistic: 'Sum',
      threshold: 0,
      periodMinutes: 5,
      description: 'SNS could not even move an undeliverable fan-out event to the subscription DLQ: that event is lost; check the DLQ\'s policy.',
    });
  }
  for (const functionName of inputs.functionNames) {
    add(`${functionName}Errors`, { kind: 'functionErrors', functionName }, {
      statistic: 'Sum',
      threshold: 0,
      periodMinutes: 5,
      description: `The ${functionName} function failed.`,
    });
    add(`${functionName}Throttles`, { kind: 'functionThrottles', functionName }, {
      statistic: 'Sum',
      threshold: 0,
      periodMinutes: 5,
      description: `The ${functionName} function was throttled.`,
    });
  }
  for (const tableName of inputs.tableNames) {
    for (const receivingRegion of inputs.replicaRegions) {
      add(`${tableName}ReplicationTo${receivingRegion}`, { kind: 'replicationLatency', tableName, receivingRegion }, {
        statistic: 'Average',
        threshold: latencyMs,
        periodMinutes: 1,
        evaluationPeriods: 3,
        description: `Replication of ${tableName} to ${receivingRegion} is slower than ${latencyMs} ms: cross-region recovery lags.`,
      });
    }
  }
  add('ApiIntegrationErrors', { kind: 'apiIntegrationErrors' }, {
    statistic: 'Sum',
    threshold: 0,
    periodMinutes: 5,
    description: 'The WebSocket API could not reach its Lambda integrations.',
  });
  return alarms;
}

/** The AlarmDescription of an alarm in `region`: what went wrong, where, and its runbook. */
export const alarmDescription = (alarm: AlarmDefinition, region: string, runbookBaseUrl: string): string =>
  `${alarm.description} (${region}) Runbook: ${runbookUrl(runbookBaseUrl, alarm.runbook)}`;

/**
 * CloudWatch name of a region alarm: `<appName>-<region>-<definition name>` (the region stack's
 * name, then the definition's), e.g. relaymesh-us-east-1-criticalDeadLetters; the local cloud
 * calls the same alarm by its definition name within the region.
 */
export const regionAlarmName = (appName: string, region: string, name: string): string => `${appName}-${region}-${name}`;
