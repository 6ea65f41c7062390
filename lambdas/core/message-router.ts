import type { APIGatewayProxyResultV2 } from 'aws-lambda';
import { channelAllowed, claimsFromContext, type Claims } from './auth';
import type { ConnectionStore } from './connection-store';
import { ProtocolError } from './errors';
import { errorFrame, parseClientFrame, type ClientFrame, type ServerFrame } from './protocol';
import { publishEvent, type PublisherOptions } from './publisher';

export interface MessageRouterDeps {
  store: ConnectionStore;
  publisher: PublisherOptions;
}

/** The part of a WebSocket MESSAGE event the router reads. */
export interface RouterEvent {
  body?: string;
  isBase64Encoded?: boolean;
  requestContext: { connectionId: string; authorizer?: unknown };
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
    return respond(await handleFrame(deps, event.requestContext.connectionId, claims, frame));
  } catch (error) {
    if (error instanceof ProtocolError) return respond(errorFrame(error, frame.ref));
    console.error(JSON.stringify({ msg: 'router failure', action: frame.action, error: String(error), stack: (error as Error)?.stack }));
    return respond(errorFrame(new ProtocolError('INTERNAL'), frame.ref));
  }
}

async function handleFrame(deps: MessageRouterDeps, connectionId: string, claims: Claims, frame: ClientFrame): Promise<ServerFrame> {
  const ref = frame.ref === undefined ? {} : { ref: frame.ref };
  switch (frame.action) {
    case 'ping':
      return { type: 'pong', ts: Date.now(), connectionId, ...ref };
    case 'subscribe':
      if (!channelAllowed(claims.subscribe, frame.channel)) throw new ProtocolError('FORBIDDEN_SUBSCRIBE', frame.channel);
      await deps.store.subscribe(connectionId, frame.channel, claims.sub);
      return { type: 'ack', action: frame.action, channel: frame.channel, ...ref };
    case 'unsubscribe':
      await deps.store.unsubscribe(connectionId, frame.channel);
      return { type: 'ack', action: frame.action, channel: frame.channel, ...ref };
    case 'publish': {
      const envelope = await publishEvent(deps.publisher, claims, frame);
      return { type: 'ack', action: frame.action, channel: frame.channel, id: envelope.id, ...ref };
    }
  }
}

function respond(frame: ServerFrame): APIGatewayProxyResultV2 {
  return { statusCode: 200, body: JSON.stringify(frame) };
}
