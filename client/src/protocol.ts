/**
 * The wire protocol as the client speaks it: its own copy of the frame types, so the package
 * stands alone. The repository checks at compile time that they match the server's
 * (client/protocol-conformance.ts against lambdas/core/protocol.ts).
 */

/** Any JSON value: what a message's `data` may be. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** Highest seq seen per origin region: a recovery vector, e.g. {"us-east-1":41,"eu-west-1":17}. */
export type RecoveryVector = Record<string, number>;

export type EventClass = 'critical' | 'ephemeral';

// ---- Client frames ----

export interface SubscribeFrame {
  action: 'subscribe';
  channel: string;
  since?: RecoveryVector;
  /** Enter the presence set; `{data}` (JSON, at most 1 KB serialized) is shown in member lists and join events. */
  presence?: boolean | { data: JsonValue };
  ref?: string | number;
}

export interface UnsubscribeFrame {
  action: 'unsubscribe';
  channel: string;
  ref?: string | number;
}

export interface PublishFrame {
  action: 'publish';
  channel: string;
  data: JsonValue;
  id?: string;
  class?: EventClass;
  ref?: string | number;
}

export interface PresenceFrame {
  action: 'presence';
  channel: string;
  cursor?: string;
  limit?: number;
  ref?: string | number;
}

/** `since` alone: the messages after it, a page at a time; `limit` alone: the last `limit`; both: at most `limit` after `since`. */
export interface HistoryFrame {
  action: 'history';
  channel: string;
  since?: RecoveryVector;
  /** 1 to 100. */
  limit?: number;
  ref?: string | number;
}

export interface PingFrame {
  action: 'ping';
  ref?: string | number;
}

export type ClientFrame = SubscribeFrame | UnsubscribeFrame | PublishFrame | PresenceFrame | HistoryFrame | PingFrame;

// ---- Server frames ----

export interface MissingRange {
  origin: string;
  from: number;
  to: number;
  /** expired: past the history TTL or cap; not-replicated: not here yet, retry later; limit: beyond maxReplay. */
  reason: 'expired' | 'not-replicated' | 'limit';
}

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

/** A message on a channel; `T` is what the app says the channel carries (the server does not check it). */
export interface MessageFrame<T = unknown> {
  type: 'message';
  channel: string;
  data: T;
  id: string;
  origin: string;
  ts: number;
  class: EventClass;
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

/** Answer to the history action: one page of the region's stored messages of a channel. */
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

/** The catalogue's code for missing or invalid credentials (lambdas/core/errors.ts UNAUTHORIZED). */
export const UNAUTHORIZED_CODE = 4010;
