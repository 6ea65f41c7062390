import { GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { EventClass } from '../lib/config';
import { LOCAL_CREDENTIALS, type LocalCloud } from '../local/cloud';

export interface Backlog {
  /** Messages waiting or in flight in the class's queues, every region. */
  queued: number;
  /** Messages in the class's dead-letter queues, every region. */
  deadLettered: number;
}

/** Reads the delivery queues' depth, to tell when a phase's pipeline has gone quiet. */
export class QueueWatcher {
  private readonly clients: Array<{ sqs: SQSClient; queues: LocalCloud['regions'][string]['queues'] }>;

  constructor(cloud: LocalCloud, regions: readonly string[]) {
    this.clients = regions.map((region) => {
      const { sqsEndpoint, queues } = cloud.regions[region]!;
      return { sqs: new SQSClient({ region, endpoint: sqsEndpoint, credentials: LOCAL_CREDENTIALS }), queues };
    });
  }

  async backlog(eventClass: EventClass): Promise<Backlog> {
    const depths = await Promise.all(
      this.clients.map(async ({ sqs, queues }) => {
        const { queueUrl, dlqUrl } = queues[eventClass];
        const [queue, dlq] = await Promise.all([depth(sqs, queueUrl), depth(sqs, dlqUrl)]);
        return { queued: queue, deadLettered: dlq };
      }),
    );
    return depths.reduce((sum, d) => ({ queued: sum.queued + d.queued, deadLettered: sum.deadLettered + d.deadLettered }), {
      queued: 0,
      deadLettered: 0,
    });
  }

  close(): void {
    for (const { sqs } of this.clients) sqs.destroy();
  }
}

/** Visible plus in flight (received, not yet deleted). */
async function depth(sqs: SQSClient, queueUrl: string): Promise<number> {
  const { Attributes = {} } = await sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }),
  );
  return Number(Attributes.ApproximateNumberOfMessages ?? 0) + Number(Attributes.ApproximateNumberOfMessagesNotVisible ?? 0);
}
