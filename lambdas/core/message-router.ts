import type { APIGatewayProxyResultV2 } from 'aws-lambda';
import { channelAllowed, claimsFromContext, type Claims } from './auth';
import type { Admission } from './admission';
import type { ConnectionStore } from './connection-store';
import { ProtocolError } from './errors';
import type { Log } from './log';
import { readHistory, type HistoryReadDeps } from './history-read';
import { errorFrame, parseClientFrame, type AckFrame, type ClientFrame, type ServerFrame } from './protocol';
import { publishEvent, publishPresence, type PublisherOptions } from './publisher';
import { subscribeWithRecovery, type RecoveryDeps } from './recovery';

export interface MessageRouterDeps {
  store: ConnectionStore;
  admission: Admission;
  publisher: PublisherOptions;
  recovery: RecoveryDeps;
  log: Log;
  history: HistoryReadDeps;
}

/** The part of a WebSocket MESSAGE event the router reads. */
export interface RouterEvent {
  body?: string;
  isBase64Encoded?: boolean;
  /** `requestTimeEpoch`: when API Gateway received the frame (epoch ms). */
  requestContext: { connectionId: string; authorizer?: unknown; requestTimeEpoch?: number };
}

/**
 * The `$default` route: one client frame in, one answer frame out as the route response.
 * Never throws: every failure becomes an error frame, so nothing a client sends can crash
 * the handler or leave it without an answer.
 */
export async function routeMessage(deps: MessageRouterDeps, event: RouterEvent): Promise<APIGatewayProxyResultV2> {
  const body = event.isBase64Encoded ? Buffer.from(event.body ?? '', 'base64').toString('utf8') : event.body;
  const parsed = parseClientFrame(body);
  if ('rejection' in parsed) return respond(errorFrame(parsed.rejection.error, parsed.rejection.ref));
  const { frame } = parsed;
  try {
    const claims = claimsFromContext(event.requestContext.authorizer);
    // A ping costs nothing to answer, so it is never limited: heartbeats keep working under a flood.
    if (frame.action !== 'ping') await deps.admission.admitRequest(event.requestContext.connectionId);
    return respond(await handleFrame(deps, event.requestContext.connectionId, claims, frame, event.requestContext.requestTimeEpoch));
  } catch (error) {
    if (error instanceof ProtocolError) return respond(errorFrame(error, frame.ref));
    deps.log.error('router failure', { action: frame.action, error });
    return respond(errorFrame(new ProtocolError(isBug(error) ? 'INTERNAL' : 'UNAVAILABLE'), frame.ref));
  }
}

async function handleFrame(deps: MessageRouterDeps, connectionId: string, claims: Claims, frame: ClientFrame, receivedAt: number | undefined): Promise<ServerFrame> {
  const ref = frame.ref === undefined ? {} : { ref: frame.ref };
  switch (frame.action) {
    case 'ping':
      return { type: 'pong', ts: Date.now(), connectionId, ...ref };
    case 'subscribe': {
      const { channel, since } = frame;
      if (!channelAllowed(claims.subscribe, channel)) throw new ProtocolError('FORBIDDEN_SUBSCRIBE', channel);
      const { presence } = frame;
      let answer: AckFrame;
      if (since) {
        const release = await deps.admission.acquireReplaySlot(connectionId);
        try {
          const recovery = await subscribeWithRecovery(deps.recovery, connectionId, channel, claims.sub, since, presence);
          answer = { type: 'ack', action: 'subscribe', channel, ...recovery, ...ref };
        } finally {
          await release().catch((error: unknown) => deps.log.warn('replay slot not released; its lease frees it', { error }));
        }
      } else {
        await deps.store.subscribe(connectionId, channel, claims.sub, { presence });
        const known = await deps.recovery.history.positions(channel, deps.recovery.regions);
        const position = Object.fromEntries(Object.entries(known).map(([origin, { seq }]) => [origin, seq]));
        answer = { type: 'ack', action: 'subscribe', channel, position, ...ref };
      }
      if (presence) {
        const member = { sub: claims.sub, connectionId, region: deps.publisher.region, ...(typeof presence === 'object' && { data: presence.data }) };
        await publishPresence(deps.publisher, channel, 'join', member);
      }
      return answer;
    }
    case 'unsubscribe': {
      const { presence } = await deps.store.unsubscribe(connectionId, frame.channel);
      if (presence) await publishPresence(deps.publisher, frame.channel, 'leave', { sub: claims.sub, connectionId, region: deps.publisher.region });
      return { type: 'ack', action: frame.action, channel: frame.channel, ...ref };
    }
    case 'publish': {
      const { envelope, duplicate } = await publishEvent(deps.publisher, claims, frame, receivedAt);
      const { id, origin, seq } = envelope;
      return { type: 'ack', action: frame.action, channel: frame.channel, id, origin, ...(seq !== undefined && { seq }), ...(duplicate && { duplicate }), ...ref };
    }
    case 'presence': {
      if (!channelAllowed(claims.subscribe, frame.channel)) throw new ProtocolError('FORBIDDEN_SUBSCRIBE', frame.channel);
      const page = await deps.store.members(frame.channel, deps.recovery.regions, frame.limit, frame.cursor);
      return { type: 'members', channel: frame.channel, ...page, ...ref };
    }
    case 'history':
      if (!channelAllowed(claims.subscribe, frame.channel)) throw new ProtocolError('FORBIDDEN_SUBSCRIBE', frame.channel);
      return readHistory(deps.history, frame);
  }
}

function respond(frame: ServerFrame): APIGatewayProxyResultV2 {
  return { statusCode: 200, body: JSON.stringify(frame) };
}

/** A programming error, as opposed to a transient fault of a dependency (DynamoDB, SNS, the network) that a retry may get past. */
function isBug(error: unknown): boolean {
  return error instanceof TypeError || error instanceof RangeError || error instanceof ReferenceError || error instanceof SyntaxError;
}
