import { randomUUID } from 'node:crypto';
import { PublishCommand, type SNSClient } from '@aws-sdk/client-sns';
import { channelAllowed, type Claims } from './auth';
import { ProtocolError } from './errors';
import { ClaimHeld, type MessageHistory } from './history';
import type { Log } from './log';
import type { Envelope, PresenceMember, PublishFrame } from './protocol';
import type { Claim, PublishClaims } from './publish-claim';

export interface PublisherOptions {
  sns: SNSClient;
  topicArn: string;
  region: string;
  maxPublishDataBytes: number;
  history: MessageHistory;
  claims: PublishClaims;
  log: Log;
}

export interface PublishResult {
  envelope: Pick<Envelope, 'id' | 'channel' | 'origin' | 'ts' | 'seq'>;
  /** The id was accepted before: this answer repeats the first one. */
  duplicate: boolean;
}

/** A retry finds an accepted id whose message this region's replica does not hold yet for this long. */
const REPLICATION_GRACE_MS = 60_000;

/**
 * How long after a publish frame reached the API a region still stores it: the SDK waits 10 s
 * by default for the answer, less the answer's way back. Under overload (DynamoDB throttling,
 * a cloud short of CPU) a frame handled later than this has been given up on and is being
 * retried; storing it anyway would spend on it what its retry needs, and the retries would
 * pile up faster than anything is answered. It is answered 5030 with its id instead, unstored.
 */
export const PUBLISH_ANSWER_DEADLINE_MS = 8000;

/**
 * Publishes an event, shared by the WebSocket router and the HTTP edge so both enforce the
 * same rules. A critical event claims its id, is sequenced and is stored in history in one
 * transaction before it goes to SNS, so it is acknowledged only once it is durable, and a
 * retry of its id (the client's, or the one a failure answer names) publishes the same
 * (origin, seq) again instead of a second message. See publish-claim.ts for the states.
 */
export async function publishEvent(
  options: PublisherOptions,
  claims: Claims,
  frame: Pick<PublishFrame, 'channel' | 'data' | 'id' | 'class'>,
  /** When the frame reached the API (epoch ms), if known: past PUBLISH_ANSWER_DEADLINE_MS from it, nothing is stored. */
  receivedAt?: number,
): Promise<PublishResult> {
  if (!channelAllowed(claims.publish, frame.channel)) throw new ProtocolError('FORBIDDEN_PUBLISH', frame.channel);
  const dataBytes = Buffer.byteLength(JSON.stringify(frame.data));
  if (dataBytes > options.maxPublishDataBytes) {
    throw new ProtocolError('DATA_TOO_LARGE', `${dataBytes} bytes, limit ${options.maxPublishDataBytes}`);
  }
  const { channel } = frame;
  const clientId = frame.id !== undefined;
  const id = frame.id ?? randomUUID();
  const envelope: Envelope = {
    v: 1,
    id,
    channel,
    data: frame.data,
    origin: options.region,
    ts: Date.now(),
    class: frame.class,
    clientId,
    kind: 'message',
    publisher: claims.sub,
  };
  // Only a critical message can be retried safely by an id the client did not choose.
  const retryId = clientId || frame.class === 'critical' ? id : undefined;
  const waited = receivedAt === undefined ? 0 : Date.now() - receivedAt;
  if (waited > PUBLISH_ANSWER_DEADLINE_MS) {
    throw new ProtocolError('UNAVAILABLE', `the publish waited ${waited} ms to be handled, past the ${PUBLISH_ANSWER_DEADLINE_MS} ms a client waits; not stored, retry${retryId ? ` with id ${retryId}` : ''}`, retryId);
  }
  try {
    // A critical message claims its id in the transaction that sequences it (publish-claim.ts).
    if (frame.class === 'critical') return await publishSequenced(options, envelope);
    if (!clientId) return await publishUnsequenced(options, envelope, undefined);
    const attempt = randomUUID();
    const held = await options.claims.claim(channel, id, attempt);
    if (held) return await answerRetry(options, channel, id, held);
    return await publishUnsequenced(options, envelope, attempt);
  } catch (error) {
    if (error instanceof ProtocolError) throw error;
    options.log.error('publish failed', { channel, id, error });
    const detail = retryId ? `publish not confirmed; retry with id ${retryId}` : 'publish not confirmed';
    throw new ProtocolError('UNAVAILABLE', detail, retryId);
  }
}

async function publishSequenced(options: PublisherOptions, envelope: Envelope): Promise<PublishResult> {
  const { channel, id } = envelope;
  let sequenced;
  try {
    sequenced = await options.history.sequence(envelope, (seq) => [options.claims.claimItem(channel, id, { origin: envelope.origin, ts: envelope.ts, seq })]);
  } catch (error) {
    if (!(error instanceof ClaimHeld)) throw error;
    // An earlier attempt of this id holds it (or an ephemeral publish of the same id is in flight): answer as its retry.
    const held = await options.claims.read(channel, id);
    if (!held) throw new ProtocolError('UNAVAILABLE', `the claim of id ${id} changed while it was published; retry with it`, id);
    return await answerRetry(options, channel, id, held);
  }
  // From here the message is durable: a failure below is finished by a retry of the id. The
  // trim is independent of the fan-out, so it does not add to the publish's latency.
  const trimmed = options.history.trim(sequenced).catch((error: unknown) => options.log.warn('history trim failed', { error }));
  try {
    await sendToTopic(options, sequenced);
  } finally {
    await trimmed;
  }
  return { envelope: sequenced, duplicate: false };
}

async function publishUnsequenced(options: PublisherOptions, envelope: Envelope, attempt: string | undefined): Promise<PublishResult> {
  try {
    await sendToTopic(options, envelope);
  } catch (error) {
    if (attempt) await options.claims.release(envelope.channel, envelope.id, attempt).catch(() => undefined);
    throw error;
  }
  if (attempt) {
    await options.claims
      .accept(envelope.channel, envelope.id, attempt, { origin: envelope.origin, ts: envelope.ts })
      .catch((error: unknown) => options.log.warn('claim accept failed', { id: envelope.id, error }));
  }
  return { envelope, duplicate: false };
}

/** The answer to an id that is already claimed. */
async function answerRetry(options: PublisherOptions, channel: string, id: string, claim: Claim): Promise<PublishResult> {
  if (claim.state === 'pending') throw new ProtocolError('UNAVAILABLE', `a publish of id ${id} is in progress; retry with the same id`, id);
  const { origin, ts, seq } = claim;
  if (seq !== undefined) {
    // Publish the very same envelope again: a first attempt that failed after sequencing is
    // finished this way, and any copy a subscriber already has is dropped by (origin, seq).
    const stored = await options.history.get(channel, origin, seq);
    if (stored) await sendToTopic(options, stored);
    else if (ts > Date.now() - REPLICATION_GRACE_MS) {
      throw new ProtocolError('UNAVAILABLE', `id ${id} was accepted in ${origin} and has not replicated here yet; retry with the same id`, id);
    }
  }
  return { envelope: { id, channel, origin, ts, ...(seq !== undefined && { seq }) }, duplicate: true };
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
