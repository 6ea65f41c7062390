import { GetQueueAttributesCommand, ListMessageMoveTasksCommand, StartMessageMoveTaskCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { z } from 'zod';
import type { QueueRef } from './queue-port';

/** SQS moves the messages itself, back to the queues they were dead-lettered from. */
export async function startMoveTask(sqs: SQSClient, dlq: QueueRef, ratePerSecond: number): Promise<{ sourceArn: string; taskHandle?: string }> {
  const { Attributes } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: dlq.url, AttributeNames: ['QueueArn'] }));
  const sourceArn = z.string().parse(Attributes?.QueueArn);
  const { TaskHandle } = await sqs.send(new StartMessageMoveTaskCommand({ SourceArn: sourceArn, MaxNumberOfMessagesPerSecond: ratePerSecond }));
  return { sourceArn, ...(TaskHandle && { taskHandle: TaskHandle }) };
}

export interface MoveTaskProgress {
  status: string;
  moved: number;
  toMove?: number;
  failureReason?: string;
}

/** The latest move task of a DLQ, as ListMessageMoveTasks reports it; undefined when none is listed. */
export async function latestMoveTask(sqs: SQSClient, sourceArn: string): Promise<MoveTaskProgress | undefined> {
  const { Results = [] } = await sqs.send(new ListMessageMoveTasksCommand({ SourceArn: sourceArn, MaxResults: 1 }));
  const task = Results[0];
  if (!task) return undefined;
  return {
    status: task.Status ?? 'UNKNOWN',
    moved: task.ApproximateNumberOfMessagesMoved ?? 0,
    ...(task.ApproximateNumberOfMessagesToMove !== undefined && { toMove: task.ApproximateNumberOfMessagesToMove }),
    ...(task.FailureReason && { failureReason: task.FailureReason }),
  };
}
