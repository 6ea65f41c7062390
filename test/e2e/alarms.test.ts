import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { Template } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { loadConfig } from '../../lib/config';
import { addRelaymeshStacks } from '../../lib/relaymesh-app';
import { LOCAL_CREDENTIALS, type LocalCloud } from '../../local/cloud';
import { testApp } from '../cdk/cdk-test-app';
import { eventually, SMALL_CHANNELS, startTestCloud } from './support';

const REGIONS = ['us-east-1', 'eu-west-1'];
/** One receive and a 1 s visibility timeout: a message the worker refuses is dead-lettered within seconds. */
const FAST_DEAD_LETTER = { maxReceiveCount: 1, visibilityTimeoutSeconds: 1 };

/** The logical ids of the region stack's CloudWatch alarms, which end in the alarm's construct id plus a hash. */
function templateAlarmIds(region: string): string[] {
  const stacks = addRelaymeshStacks(testApp(), loadConfig({ regions: REGIONS }));
  const stack = stacks.regions.find((s) => s.region === region)!;
  return Object.keys(Template.fromStack(stack).findResources('AWS::CloudWatch::Alarm'));
}

describe('GIVEN the local cloud with critical messages dead-lettered after one receive', () => {
  let cloud: LocalCloud;
  const logged: string[] = [];

  beforeAll(async () => {
    vi.spyOn(console, 'log').mockImplementation((line: unknown) => void logged.push(String(line)));
    cloud = await startTestCloud({ regions: REGIONS, eventClasses: { critical: FAST_DEAD_LETTER }, capacity: SMALL_CHANNELS });
  });
  afterAll(async () => {
    await cloud?.stop();
    vi.restoreAllMocks();
  });

  it('WHEN a poison message (not an envelope) is sent to the critical queue THEN it reaches the DLQ and criticalDeadLetters goes to ALARM, logged once, as named in the template', async () => {
    const region = REGIONS[0]!;
    await cloud.evaluateAlarms();
    expect(cloud.alarms().find((a) => a.region === region && a.name === 'criticalDeadLetters')?.state).toBe('OK');

    const sqs = new SQSClient({ region, endpoint: cloud.regions[region]!.sqsEndpoint, credentials: LOCAL_CREDENTIALS });
    await sqs.send(new SendMessageCommand({ QueueUrl: cloud.regions[region]!.queues.critical.queueUrl, MessageBody: '{"not":"an envelope"}' }));
    sqs.destroy();

    await eventually(
      async () => {
        await cloud.evaluateAlarms();
        return cloud.alarms().find((a) => a.region === region && a.name === 'criticalDeadLetters')?.state === 'ALARM';
      },
      `criticalDeadLetters in ALARM in ${region}`,
      500,
    );
    await cloud.evaluateAlarms();
    const alarm = cloud.alarms().find((a) => a.region === region && a.name === 'criticalDeadLetters')!;
    expect(alarm.reason).toContain('Maximum 1 (threshold 0)');
    expect(alarm.runbook).toBe('runbook-dead-letters');
    expect(logged.filter((line) => line.startsWith(`[relaymesh] ALARM criticalDeadLetters (${region})`))).toHaveLength(1);
    expect(cloud.alarms().find((a) => a.region === REGIONS[1] && a.name === 'criticalDeadLetters')?.state).toBe('OK');
    // CloudFormation logical ids are the construct path without separators plus an 8-character hash.
    expect(templateAlarmIds(region).some((id) => /^AlarmscriticalDeadLetters[0-9A-F]{8}$/.test(id))).toBe(true);
  });
});
