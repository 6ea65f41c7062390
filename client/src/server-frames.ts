import * as z from 'zod/mini';
import type { AckFrame, ErrorFrame, HistoryPageFrame, JsonValue, MembersFrame, MessageFrame, PongFrame, PresenceEventFrame, ServerFrame } from './protocol.js';
import { validate } from './validation.js';

/**
 * The server frames as the client reads them, checked before use: ordering and recovery
 * depend on `origin`, `seq`, `missing` and `position` being what the protocol says. Objects
 * are loose, so a field a newer server adds does not make a frame unreadable.
 */

const RefSchema = z.union([z.string(), z.number()]);
const VectorSchema = z.record(z.string(), z.int().check(z.nonnegative()));
const PositiveInt = z.int().check(z.positive());

const MessageFrameSchema = z.looseObject({
  type: z.literal('message'),
  channel: z.string(),
  data: z.unknown(),
  id: z.string(),
  origin: z.string(),
  ts: z.number(),
  class: z.enum(['critical', 'ephemeral']),
  seq: z.optional(PositiveInt),
});

// Member data is any JSON the member set: the server checked it, and the app reads it.
const PresenceMemberSchema = z.looseObject({ sub: z.string(), connectionId: z.string(), region: z.string(), data: z.optional(z.custom<JsonValue>()) });

const PresenceEventFrameSchema = z.looseObject({
  type: z.literal('presence'),
  event: z.enum(['join', 'leave']),
  channel: z.string(),
  member: PresenceMemberSchema,
  ts: z.number(),
});

const MissingRangeSchema = z.looseObject({
  origin: z.string(),
  from: PositiveInt,
  to: PositiveInt,
  reason: z.enum(['expired', 'not-replicated', 'limit']),
});

const AckFrameSchema = z.looseObject({
  type: z.literal('ack'),
  action: z.enum(['subscribe', 'unsubscribe', 'publish', 'presence', 'ping']),
  ref: z.optional(RefSchema),
  channel: z.optional(z.string()),
  id: z.optional(z.string()),
  origin: z.optional(z.string()),
  seq: z.optional(PositiveInt),
  duplicate: z.optional(z.boolean()),
  recovered: z.optional(z.boolean()),
  missing: z.optional(z.array(MissingRangeSchema)),
  position: z.optional(VectorSchema),
});

const ServerFrameSchema = z.discriminatedUnion('type', [
  MessageFrameSchema,
  PresenceEventFrameSchema,
  AckFrameSchema,
  z.looseObject({ type: z.literal('batch'), frames: z.array(z.discriminatedUnion('type', [MessageFrameSchema, PresenceEventFrameSchema])) }),
  z.looseObject({ type: z.literal('members'), channel: z.string(), members: z.array(PresenceMemberSchema), next: z.optional(z.string()), ref: z.optional(RefSchema) }),
  z.looseObject({
    type: z.literal('history'),
    channel: z.string(),
    messages: z.array(MessageFrameSchema),
    missing: z.array(MissingRangeSchema),
    position: VectorSchema,
    hasMore: z.boolean(),
    ref: z.optional(RefSchema),
  }),
  z.looseObject({ type: z.literal('pong'), ts: z.number(), connectionId: z.string(), ref: z.optional(RefSchema) }),
  z.looseObject({
    type: z.literal('error'),
    code: z.int(),
    message: z.string(),
    retryable: z.boolean(),
    ref: z.optional(RefSchema),
    id: z.optional(z.string()),
    retryAfterMs: z.optional(z.number().check(z.nonnegative())),
  }),
]);
const FRAME_TYPES: readonly string[] = ServerFrameSchema.def.options.map((option) => option.shape.type.def.values[0]!);

// Compile-time proof that what the schemas accept is what the client's protocol types describe.
type Parsed = z.output<typeof ServerFrameSchema>;
const _conforms: [
  Extract<Parsed, { type: 'message' }> extends MessageFrame ? true : never,
  Extract<Parsed, { type: 'presence' }> extends PresenceEventFrame ? true : never,
  Extract<Parsed, { type: 'ack' }> extends AckFrame ? true : never,
  Extract<Parsed, { type: 'members' }> extends MembersFrame ? true : never,
  Extract<Parsed, { type: 'history' }> extends HistoryPageFrame ? true : never,
  Extract<Parsed, { type: 'pong' }> extends PongFrame ? true : never,
  Extract<Parsed, { type: 'error' }> extends ErrorFrame ? true : never,
] = [true, true, true, true, true, true, true];
void _conforms;

/**
 * API Gateway answers a frame itself, before or instead of our handler, with
 * `{message, connectionId, requestId}`: no type, no ref. The client gives each known one a
 * code of the catalogue's shape and fails the request it most likely answers: a throttle
 * answers at the front door, so the newest request still waiting; a handler failure or the
 * 29 s integration timeout comes after the handler ran, so the oldest.
 */
const GATEWAY_ANSWERS = {
  'Too Many Requests': { code: 4292, retryable: true, answers: 'newest' },
  'Internal server error': { code: 5000, retryable: true, answers: 'oldest' },
  'Endpoint request timed out': { code: 5040, retryable: true, answers: 'oldest' },
  Forbidden: { code: 4001, retryable: false, answers: 'newest' },
} as const;

export interface GatewayAnswer {
  code: number;
  message: string;
  retryable: boolean;
  /** Which waiting request it fails: the gateway does not say. */
  answers: 'newest' | 'oldest';
}

const GatewayFrameSchema = z.looseObject({
  message: z.enum(Object.keys(GATEWAY_ANSWERS) as [keyof typeof GATEWAY_ANSWERS]),
  connectionId: z.string(),
  requestId: z.string(),
});

/** A frame the client cannot use: why, and the request it answers when that can be read. */
export interface UnreadableFrame {
  problem: string;
  ref?: string | number;
}

/** Parses one text frame from the server; never throws. */
export function parseServerFrame(raw: string): { frame: ServerFrame } | { gateway: GatewayAnswer } | { unreadable: UnreadableFrame } {
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    return { unreadable: { problem: `not JSON: ${raw.slice(0, 100)}` } };
  }
  const parsed = validate(ServerFrameSchema, json, 'frame');
  if ('data' in parsed) return { frame: parsed.data as ServerFrame };
  const gateway = GatewayFrameSchema.safeParse(json);
  if (gateway.success) {
    const { message, requestId } = gateway.data;
    return { gateway: { ...GATEWAY_ANSWERS[message], message: `API Gateway: ${message} (request ${requestId})` } };
  }
  const ref = RefSchema.safeParse((json as { ref?: unknown } | null)?.ref);
  const type = (json as { type?: unknown } | null)?.type;
  const problem = typeof type === 'string' && !FRAME_TYPES.includes(type) ? `unknown frame type "${type}"` : parsed.problem;
  return { unreadable: { problem: `${problem} in ${raw.slice(0, 200)}`, ...(ref.success && { ref: ref.data }) } };
}
