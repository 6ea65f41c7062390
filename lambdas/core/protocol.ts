import * as z from './zod';
import { ProtocolError } from './errors';
import { dataDepthProblem, numberProblem, type JsonValue } from './json-data';

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
  .check(z.regex(CHANNEL_PATTERN, 'must be 1-128 characters of letters, digits and _-.:@=,; starting with a letter or digit'));

/** Client correlation id, echoed in the ack or error that answers the frame. */
const RefSchema = z.union([z.string().check(z.maxLength(64)), z.int()]);

/** Idempotency key: the same id published twice within the dedup window is delivered once. */
export const MessageIdSchema = z.string().check(z.regex(/^[A-Za-z0-9_\-.:]{1,128}$/, 'must be 1-128 characters of letters, digits and _-.:'));

export const EventClassSchema = z.enum(['critical', 'ephemeral']);

/** Highest seq seen per origin region: a recovery vector, e.g. {"us-east-1":41,"eu-west-1":17}. */
export const RecoveryVectorSchema = z.record(z.string().check(z.regex(/^[a-z0-9-]{1,32}$/, 'must be a region name')), z.int().check(z.minimum(0)));
export type RecoveryVector = z.output<typeof RecoveryVectorSchema>;

/**
 * Any JSON value except absent: `null` is a legitimate payload, a missing field is not. The
 * value came out of JSON.parse, so it is JSON by construction; `carriedDataRejection` checks
 * its depth and numbers first, without recursion (a recursive schema would overflow the stack).
 */
const JsonDataSchema = z.custom<JsonValue>((value) => value !== undefined, 'is required: any JSON value, null included');

/**
 * Largest presence `data`, serialized: a members page of 100 members with 1 KB each still
 * fits one 128 KB WebSocket message.
 */
export const MAX_PRESENCE_DATA_BYTES = 1024;

export const SubscribeFrameSchema = z.strictObject({
  action: z.literal('subscribe'),
  channel: ChannelSchema,
  /** Replay what history holds after this vector, then continue live. */
  since: z.optional(RecoveryVectorSchema),
  /**
   * Enter the channel's presence set: members are listed and join/leave events are sent.
   * `{data}` attaches JSON (at most MAX_PRESENCE_DATA_BYTES) that member lists and join events show.
   */
  presence: z.optional(z.union([z.boolean(), z.strictObject({ data: JsonDataSchema })])),
  ref: z.optional(RefSchema),
});

export const UnsubscribeFrameSchema = z.strictObject({
  action: z.literal('unsubscribe'),
  channel: ChannelSchema,
  ref: z.optional(RefSchema),
});

export const PublishFrameSchema = z.strictObject({
  action: z.literal('publish'),
  channel: ChannelSchema,
  data: JsonDataSchema,
  id: z.optional(MessageIdSchema),
  class: z._default(EventClassSchema, 'critical'),
  ref: z.optional(RefSchema),
});

export const PresenceFrameSchema = z.strictObject({
  action: z.literal('presence'),
  channel: ChannelSchema,
  /** The `next` of the previous page. */
  cursor: z.optional(z.string().check(z.maxLength(2048))),
  limit: z._default(z.int().check(z.minimum(1), z.maximum(100)), 100),
  ref: z.optional(RefSchema),
});

/** Most messages one history page holds, and the most `limit` may ask for. */
export const MAX_HISTORY_PAGE = 100;

export const HistoryFrameSchema = z
  .strictObject({
    action: z.literal('history'),
    channel: ChannelSchema,
    /** The stored messages after this vector, oldest first, a page at a time. */
    since: z.optional(RecoveryVectorSchema),
    /** Without `since`: the last `limit` messages across origins; with it: at most `limit` after it. */
    limit: z.optional(z.int().check(z.minimum(1), z.maximum(MAX_HISTORY_PAGE))),
    ref: z.optional(RefSchema),
  })
  .check(z.refine((frame) => frame.since !== undefined || frame.limit !== undefined, 'needs since (a recovery vector) or limit (the last N messages)'));

export const PingFrameSchema = z.strictObject({
  action: z.literal('ping'),
  ref: z.optional(RefSchema),
});

export const ClientFrameSchema = z.discriminatedUnion('action', [
  SubscribeFrameSchema,
  UnsubscribeFrameSchema,
  PublishFrameSchema,
  PresenceFrameSchema,
  HistoryFrameSchema,
  PingFrameSchema,
]);

export type ClientFrame = z.output<typeof ClientFrameSchema>;
export type PublishFrame = z.output<typeof PublishFrameSchema>;
export type HistoryFrame = z.output<typeof HistoryFrameSchema>;
/** A subscribe's `presence`: absent or false (not a member), true, or membership with data. */
export type PresenceRequest = z.output<typeof SubscribeFrameSchema>['presence'];
export const CLIENT_ACTIONS = ClientFrameSchema.def.options.map((o) => o.shape.action.def.values[0]);

export interface AckFrame {
  type: 'ack';
  action: ClientFrame['action'];
  ref?: string | number;
  channel?: string;
  /** Publish only: the message id (the client's idempotency key or a generated one). */
  id?: string;
  /** Publish of a critical message: its origin region and sequence number there. */
  origin?: string;
  seq?: number;
  /** Publish: true when the id was already accepted and this ack repeats the first one. */
  duplicate?: boolean;
  /** Subscribe with `since`: whether everything after the vector was replayed. */
  recovered?: boolean;
  /** Subscribe with `since`: ranges that could not be replayed. */
  missing?: MissingRange[];
  /** Subscribe: the highest seq per origin this region knows, to track from. */
  position?: RecoveryVector;
}

export interface MissingRange {
  origin: string;
  from: number;
  to: number;
  /** expired: past the history TTL or cap; not-replicated: not here yet, retry later; limit: beyond maxReplay. */
  reason: 'expired' | 'not-replicated' | 'limit';
}

export interface MessageFrame {
  type: 'message';
  channel: string;
  data: unknown;
  id: string;
  origin: string;
  ts: number;
  class: z.output<typeof EventClassSchema>;
  /** Critical messages: position in the (channel, origin) stream; dedup and recover by (origin, seq). */
  seq?: number;
}

export interface PresenceMember {
  sub: string;
  connectionId: string;
  region: string;
  /** What the member set at subscribe (`presence: {data}`); leave events omit it. */
  data?: JsonValue;
}

/** A member joined or left a channel (ephemeral: never stored, droppable under load). */
export interface PresenceEventFrame {
  type: 'presence';
  event: 'join' | 'leave';
  channel: string;
  member: PresenceMember;
  ts: number;
}

/** Answer to the presence action: one page of members across every region. */
export interface MembersFrame {
  type: 'members';
  channel: string;
  members: PresenceMember[];
  /** Present when more members follow: send it back as `cursor`. */
  next?: string;
  ref?: string | number;
}

/** Answer to the history action: one page of this region's stored messages of a channel. */
export interface HistoryPageFrame {
  type: 'history';
  channel: string;
  /** Oldest first: in seq order per origin, by ts across origins. */
  messages: MessageFrame[];
  /** Seqs the page passed over or stopped at: `expired` ones are gone for good, `not-replicated` ones are not in this region yet (ask again later). */
  missing: MissingRange[];
  /** Where the page ends per origin: `since` for the next page, or for a subscribe that continues from it. */
  position: RecoveryVector;
  /** More stored messages follow now: ask again with `since` = `position`. */
  hasMore: boolean;
  ref?: string | number;
}

/** Several ephemeral events due for one connection at once, coalesced into one frame. */
export interface BatchFrame {
  type: 'batch';
  frames: Array<MessageFrame | PresenceEventFrame>;
}

export interface ErrorFrame {
  type: 'error';
  code: number;
  message: string;
  retryable: boolean;
  ref?: string | number;
  /** A failed publish: its message id, so the retry is idempotent even when the client sent none. */
  id?: string;
  /** Rate limits: wait this long before sending again. */
  retryAfterMs?: number;
}

export interface PongFrame {
  type: 'pong';
  ref?: string | number;
  ts: number;
  /** The caller's API Gateway connection id, for operators posting to it by hand. */
  connectionId: string;
}

export type ServerFrame = AckFrame | MessageFrame | ErrorFrame | PongFrame | PresenceEventFrame | MembersFrame | HistoryPageFrame | BatchFrame;

export function errorFrame(error: ProtocolError, ref?: string | number): ErrorFrame {
  return {
    type: 'error',
    code: error.code,
    message: error.message,
    retryable: error.retryable,
    ...(ref !== undefined && { ref }),
    ...(error.messageId !== undefined && { id: error.messageId }),
    ...(error.retryAfterMs !== undefined && { retryAfterMs: error.retryAfterMs }),
  };
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
  const dataRejection = carriedDataRejection(action, raw ?? '', json);
  if (dataRejection) return { rejection: { error: dataRejection, ref } };
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

/**
 * Why a publish's `data` cannot be carried exactly, or undefined; `raw` is the JSON text it
 * was parsed from. Checked before any schema, so deep input never reaches recursive code.
 */
export function publishDataProblem(raw: string, data: unknown): string | undefined {
  const problem = dataDepthProblem(data) ?? numberProblem(raw);
  return problem && `data: ${problem}`;
}

/**
 * What is wrong with the JSON a frame carries for others (a publish's `data`, a subscribe's
 * presence `data`), or undefined. Checked before any schema, so deep input never reaches
 * recursive code. Presence data's size is checked here too, its limit being the protocol's;
 * a publish's is the publisher's, against the configured maxPublishDataBytes.
 */
function carriedDataRejection(action: string, raw: string, json: object): ProtocolError | undefined {
  if (action === 'publish') {
    const problem = publishDataProblem(raw, (json as { data?: unknown }).data);
    return problem ? new ProtocolError('INVALID_DATA', problem) : undefined;
  }
  const presence = action === 'subscribe' ? (json as { presence?: unknown }).presence : undefined;
  if (typeof presence !== 'object' || presence === null || !('data' in presence)) return undefined;
  const problem = dataDepthProblem(presence.data) ?? numberProblem(raw);
  if (problem) return new ProtocolError('INVALID_DATA', `presence.data: ${problem}`);
  const bytes = Buffer.byteLength(JSON.stringify(presence.data));
  if (bytes > MAX_PRESENCE_DATA_BYTES) return new ProtocolError('DATA_TOO_LARGE', `presence.data: ${bytes} bytes, limit ${MAX_PRESENCE_DATA_BYTES}`);
  return undefined;
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
  data: JsonDataSchema,
  origin: z.string().check(z.minLength(1)),
  ts: z.int().check(z.positive()),
  class: EventClassSchema,
  /** Critical messages only: assigned by the origin region's counter. */
  seq: z.optional(z.int().check(z.positive())),
  /** Whether the client supplied `id` (only those can be retried, so only those are deduplicated). */
  clientId: z._default(z.boolean(), false),
  /** A presence event travels like an ephemeral message; `data` is its event and member. */
  kind: z._default(z.enum(['message', 'presence']), 'message'),
  /** The publisher's token subject, for audit; never sent to subscribers. */
  publisher: z.optional(z.string()),
});
export type Envelope = z.output<typeof EnvelopeSchema>;

const PresenceDataSchema = z.object({
  event: z.enum(['join', 'leave']),
  member: z.object({ sub: z.string(), connectionId: z.string(), region: z.string(), data: z.optional(JsonDataSchema) }),
});

/** The frame a subscriber receives for an envelope; undefined when a presence envelope is malformed. */
export function envelopeFrame(envelope: Envelope): MessageFrame | PresenceEventFrame | undefined {
  if (envelope.kind === 'presence') {
    const presence = PresenceDataSchema.safeParse(envelope.data);
    return presence.success ? { type: 'presence', ...presence.data, channel: envelope.channel, ts: envelope.ts } : undefined;
  }
  return messageFrame(envelope);
}

/** The frame of a message envelope (its publisher stays on the server). */
export function messageFrame(envelope: Envelope): MessageFrame {
  const { channel, data, id, origin, ts, seq } = envelope;
  return { type: 'message', channel, data, id, origin, ts, class: envelope.class, ...(seq !== undefined && { seq }) };
}
