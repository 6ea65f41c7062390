import { randomUUID } from 'node:crypto';
import { PublishCommand, type SNSClient } from '@aws-sdk/client-sns';
import { channelAllowed, type Claims } from './auth';
import { ProtocolError } from './errors';
import type { Envelope, PublishFrame } from './protocol';

export interface PublisherOptions {
  sns: SNSClient;
  topicArn: string;
  region: string;
  maxPublishDataBytes: number;
}

/**
 * Publishes an event to this region's fan-out topic. The `class` message attribute is what
 * every region's queue subscriptions filter on, so one topic serves every event class.
 * Shared by the WebSocket router and the HTTP edge so both enforce the same rules.
 */
export async function publishEvent(
  options: PublisherOptions,
  claims: Claims,
  frame: Pick<PublishFrame, 'channel' | 'data' | 'id' | 'class'>,
): Promise<Envelope> {
  if (!channelAllowed(claims.publish, frame.channel)) throw new ProtocolError('FORBIDDEN_PUBLISH', frame.channel);
  const dataBytes = Buffer.byteLength(JSON.stringify(frame.data));
  if (dataBytes > options.maxPublishDataBytes) {
    throw new ProtocolError('DATA_TOO_LARGE', `${dataBytes} bytes, limit ${options.maxPublishDataBytes}`);
  }
  const envelope: Envelope = {
    v: 1,
    id: frame.id ?? randomUUID(),
    channel: frame.channel,
    data: frame.data,
    origin: options.region,
    ts: Date.now(),
    class: frame.class,
    publisher: claims.sub,
  };
  try {
    await options.sns.send(
      new PublishCommand({
        TopicArn: options.topicArn,
        Message: JSON.stringify(envelope),
        MessageAttributes: { class: { DataType: 'String', StringValue: envelope.class } },
      }),
    );
  } catch (error) {
    console.error(JSON.stringify({ msg: 'publish to topic failed', channel: frame.channel, error: String(error) }));
    throw new ProtocolError('UNAVAILABLE', 'publish could not be accepted; retry with the same id');
  }
  return envelope;
}
