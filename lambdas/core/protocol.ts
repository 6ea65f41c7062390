import { z } from 'zod';
import { ProtocolError } from './errors';

/**
 * The wire protocol: every client frame and server frame as a zod schema. Clients send JSON
 * text frames routed on `action`; the server answers with frames discriminated by `type`.
 */

/**
 * Channel names: 1-128 characters, letters, digits and `_-.:@=,;`, starting with a letter or
 * digit. `#` is excluded because table keys use it as a separator, `*` because token claims
 * use it as a wildcard, and a leading `$` is reserved for system channels.
 */
export const CHANNEL_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_\-.:@=,;]{0,127}$/;
export const ChannelSchema = z
  .string()
  .regex(CHANNEL_PATTERN, 'must be 1-128 characters of letters, digits and _-.:@=,; starting with a letter or digit');

/** Client correlation id, echoed in the ack or error that answers the frame. */
const RefSchema = z.union([z.string().max(64), z.number().int()]);

/** Idempotency key: the same id published twice within the dedup window is delivered once. */
export const MessageIdSchema = z.string().regex(/^[A-Za-z0-9_\-.:]{1,128}$/, 'must be 1-128 characters of letters, digits and _-.:');

export const EventClassSchema = z.enum(['critical', 'ephemeral']);

export const SubscribeFrameSchema = z.strictObject({
  action: z.literal('subscribe'),
  channel: ChannelSchema,
  ref: RefSchema.optional(),
});

export const UnsubscribeFrameSchema = z.strictObject({
  action: z.literal('unsubscribe'),
  channel: ChannelSchema,
  ref: RefSchema.optional(),
});

export const PublishFrameSchema = z.strictObject({
  action: z.literal('publish'),
  channel: ChannelSchema,
  // Any JSON value except absent: `null` is a legitimate payload, a missing field is not.
  data: z.json(),
  id: MessageIdSchema.optional(),
  class: EventClassSchema.default('critical'),
  ref: RefSchema.optional(),
});

export const PingFrameSchema = z.strictObject({
  action: z.literal('ping'),
  ref: RefSchema.optional(),
});

export const ClientFrameSchema = z.discriminatedUnion('action', [
  SubscribeFrameSchema,
  UnsubscribeFrameSchema,
  PublishFrameSchema,
  PingFrameSchema,
]);

export type ClientFrame = z.output<typeof ClientFrameSchema>;
export type PublishFrame = z.output<typeof PublishFrameSchema>;
export const CLIENT_ACTIONS = ClientFrameSchema.options.map((o) => o.shape.action.value);

export interface AckFrame {
  type: 'ack';
  action: ClientFrame['action'];
  ref?: string | number;
  channel?: string;
  /** Publish only: the message id (the client's idempotency key or a generated one). */
  id?: string;
}

export interface MessageFrame {
  type: 'message';
  channel: string;
  data: unknown;
  id: string;
  origin: string;
  ts: number;
  class: z.output<typeof EventClassSchema>;
}

export interface ErrorFrame {
  type: 'error';
  code: number;
  message: string;
  retryable: boolean;
  ref?: string | number;
}

export interface PongFrame {
  type: 'pong';
  ref?: string | number;
  ts: number;
  /** The caller's API Gateway connection id, for operators posting to it by hand. */
  connectionId: string;
}

export type ServerFrame = AckFrame | MessageFrame | ErrorFrame | PongFrame;

export function errorFrame(error: ProtocolError, ref?: string | number): ErrorFrame {
  return { type: 'error', code: error.code, message: error.message, retryable: error.retryable, ...(ref !== undefined && { ref }) };
}

/** A rejected frame: the error to answer with, and the client's ref when it could be read. */
export interface FrameRejection {
  error: ProtocolError;
  ref?: string | number;
}

/** Parses a raw client frame; never throws, so no input can crash the router. */
export function parseClientFrame(raw: string | undefined): { frame: ClientFrame } | { rejection: FrameRejection } {
  let json: unknown;
  try {
    json = JSON.parse(raw ?? '');
  } catch {
    return { rejection: { error: new ProtocolError('INVALID_JSON') } };
  }
  const ref = readRef(json);
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    return { rejection: { error: new ProtocolError('INVALID_FRAME', 'a frame is a JSON object'), ref } };
  }
  const action = (json as { action?: unknown }).action;
  if (typeof action !== 'string' || !(CLIENT_ACTIONS as readonly string[]).includes(action)) {
    const detail = `expected "action" to be one of ${CLIENT_ACTIONS.join(', ')}`;
    return { rejection: { error: new ProtocolError('UNKNOWN_ACTION', detail), ref } };
  }
  const parsed = ClientFrameSchema.safeParse(json);
  if (!parsed.success) {
    const channelIssue = parsed.error.issues.find((i) => i.path[0] === 'channel' && i.code !== 'invalid_type');
    const error = channelIssue
      ? new ProtocolError('INVALID_CHANNEL', channelIssue.message)
      : new ProtocolError('INVALID_FRAME', describeIssues(parsed.error.issues));
    return { rejection: { error, ref } };
  }
  return { frame: parsed.data };
}

function describeIssues(issues: readonly z.core.$ZodIssue[]): string {
  return issues.map((i) => `${i.path.join('.') || 'frame'}: ${i.message}`).join('; ');
}

function readRef(json: unknown): string | number | undefined {
  const ref = RefSchema.safeParse((json as { ref?: unknown } | null)?.ref);
  return ref.success ? ref.data : undefined;
}

/** The published event as it travels SNS → SQS between regions. */
export const EnvelopeSchema = z.strictObject({
  v: z.literal(1),
  id: MessageIdSchema,
  channel: ChannelSchema,
  data: z.json(),
  origin: z.string().min(1),
  ts: z.number().int().positive(),
  class: EventClassSchema,
  /** The publisher's token subject, for audit; never sent to subscribers. */
  publisher: z.string().optional(),
});
export type Envelope = z.output<typeof EnvelopeSchema>;

export function messageFrame(envelope: Envelope): MessageFrame {
  const { channel, data, id, origin, ts } = envelope;
  return { type: 'message', channel, data, id, origin, ts, class: envelope.class };
}
