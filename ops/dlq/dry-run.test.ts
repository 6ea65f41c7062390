import { describe, expect, it } from 'vitest';
import { dryRunLine, relaymeshWithoutCredentials, useShopConfig } from '../cli-test-support';

const shop = useShopConfig();
const relaymesh = relaymeshWithoutCredentials;

const call = dryRunLine;

describe('relaymesh dlq --aws --dry-run', () => {
  it('list prints the queue lookups, depth reads and CloudWatch age query of every DLQ in every region, and makes none', async () => {
    const printed = await relaymesh('dlq', 'list', '--aws', '--dry-run', '--config', shop.config);
    for (const region of ['us-east-1', 'eu-west-1']) {
      for (const name of ['shop-critical-dlq', 'shop-ephemeral-dlq', 'shop-fanout-dlq']) {
        expect(printed).toContain(call(region, 'SQS.GetQueueUrl', { QueueName: name }));
      }
      expect(printed.filter((line) => line.startsWith(`[dry run] ${region} SQS.GetQueueAttributes`))).toHaveLength(3);
      expect(printed.filter((line) => line.startsWith(`[dry run] ${region} CloudWatch.GetMetricData`))).toHaveLength(1);
    }
    expect(printed.at(-1)).toBe('Dry run: the calls above were printed, none was made.');
  });

  it('redrive prints a StartMessageMoveTask at the rate for each class DLQ, skips the fan-out DLQ, and asks for progress', async () => {
    const printed = await relaymesh('dlq', 'redrive', '--aws', '--dry-run', '--regions', 'eu-west-1', '--rate', '25', '--config', shop.config);
    for (const eventClass of ['critical', 'ephemeral']) {
      const arn = `arn:aws:sqs:eu-west-1:<account>:shop-${eventClass}-dlq`;
      expect(printed).toContain(call('eu-west-1', 'SQS.StartMessageMoveTask', { SourceArn: arn, MaxNumberOfMessagesPerSecond: 25 }));
      expect(printed).toContain(call('eu-west-1', 'SQS.ListMessageMoveTasks', { SourceArn: arn, MaxResults: 1 }));
    }
    expect(printed.some((line) => line.startsWith('eu-west-1 shop-fanout-dlq: skipped'))).toBe(true);
    expect(printed.some((line) => line.includes('StartMessageMoveTask') && line.includes('fanout'))).toBe(false);
    expect(printed.some((line) => line.startsWith('[dry run] us-east-1'))).toBe(false);
  });

  it('show prints a peek (receive, then nothing to give back) of each DLQ', async () => {
    const printed = await relaymesh('dlq', 'show', '--aws', '--dry-run', '--regions', 'us-east-1', '--class', 'critical', '--config', shop.config);
    expect(printed).toContain(
      call('us-east-1', 'SQS.ReceiveMessage', {
        QueueUrl: 'https://sqs.us-east-1.amazonaws.com/<account>/shop-critical-dlq',
        MaxNumberOfMessages: 10,
        VisibilityTimeout: 30,
        WaitTimeSeconds: 1,
        MessageSystemAttributeNames: ['All'],
        MessageAttributeNames: ['All'],
      }),
    );
  });

  it('is refused without --aws: the local cloud has no AWS calls to print', async () => {
    await expect(relaymesh('dlq', 'list', '--dry-run')).rejects.toThrow('--dry-run prints the AWS calls a command would make: use it with --aws.');
  });
});
