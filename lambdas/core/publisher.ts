import { randomUUID } from 'node:crypto';
import { PublishCommand, type SNSClient } from '@aws-sdk/client-sns';
import { channelAllowed, type Claims } from './auth';
import type { IdempotencyLedger } from './dedup';
import { ProtocolError } from './errors';
import type { MessageHistory } from './history';
import type { Envelope, PresenceMember, PublishFrame } from './protocol';

export interface PublisherOptions {
  sns: SNSClient;
  topicArn: string;
  region: string;
  maxPublishDataBytes: number;
  history: MessageHistory;
  idempotency: IdempotencyLedger;
}

export interface PublishResult {
  envelope: Pick<Envelope, 'id' | 'channel' | 'origin' | 'ts' | 'seq'>;
  /** The id was accepted before: nothing was published this time. */
  duplicate: boolean;
}

/**
 * Publishes an event: critical events get the next seq of (channel, this region) and a
 * history item before they leave, so anything a subscriber can receive live it can also
 * recover. Shared by the WebSocket router and the HTTP edge so both enforce the same rules.
 */
export async function publishEvent(
  options: PublisherOptions,
  claims: Claims,
  frame: Pick<PublishFrame, 'channel' | 'data' | 'id' | 'class'>,
): Promise<PublishResult> {
  if (!channelAllowed(claims.publish, frame.channel)) throw new ProtocolError('FORBIDDEN_PUBLISH', frame.channel);
  const dataBytes = Buffer.byteLength(JSON.stringify(frame.data));
  if (dataBytes > options.maxPublishDataBytes) {
    throw new ProtocolError('DATA_TOO_LARGE', `${dataBytes} bytes, limit ${options.maxPublishDataBytes}`);
  }
  const { channel } = frame;
  const clientId = frame.id !== undefined;
  const id = frame.id ?? randomUUID();
  const earlier = clientId ? await options.idempotency.claimPublish(channel, id, options.region) : undefined;
  if (earlier) return { envelope: { id, channel, ...earlier }, duplicate: true };

  try {
    const seq = frame.class === 'critical' ? await options.history.nextSequence(channel, options.region) : undefined;
    const envelope: Envelope = {
      v: 1,
      id,
      channel,
      data: frame.data,
      origin: options.region,
      ts: Date.now(),
      class: frame.class,
      ...(seq !== undefined && { seq }),
      clientId,
      kind: 'message',
      publisher: claims.sub,
    };
    if (seq !== undefined) await options.history.append({ ...envelope, seq }, { trim: true });
    await sendToTopic(options, envelope);
    if (clientId && seq !== undefined) await options.idempotency.completePublish(channel, id, seq);
    return { envelope, duplicate: false };
  } catch (error) {
    console.error(JSON.stringify({ msg: 'publish failed', channel, error: String(error) }));
    if (clientId) await options.idempotency.releasePublish(channel, id).catch(() => undefined);
    throw new ProtocolError('UNAVAILABLE', clientId ? 'publish was not accepted; retry with the same id' : 'publish was not accepted');
  }
}

/** Announces a presence join or leave to every region, as an ephemeral event. */
export async function publishPresence(
  options: Pick<PublisherOptions, 'sns' | 'topicArn' | 'region'>,
  channel: string,
  event: 'join' | 'leave',
  member: PresenceMember,
): Promise<void> {
  await sendToTopic(options, {
    v: 1,
    id: randomUUID(),
    channel,
    data: { event, member: { ...member } },
    origin: options.region,
    ts: Date.now(),
    class: 'ephemeral',
    clientId: false,
    kind: 'presence',
  });
}

/** The `class` message attribute is what every region's queue subscriptions filter on. */
async function sendToTopic(options: Pick<PublisherOptions, 'sns' | 'topicArn'>, envelope: Envelope): Promise<void> {
  await options.sns.send(
    new PublishCommand({
      TopicArn: options.topicArn,
      Message: JSON.stringify(envelope),
      MessageAttributes: { class: { DataType: 'String', StringValue: envelope.class } },
    }),
  );
}
