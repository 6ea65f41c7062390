export {
  RelaymeshClient,
  RelaymeshError,
  type ChannelTypes,
  type ClientErrorCode,
  type ConnectionState,
  type ConnectionStateChange,
  type HistoryOptions,
  type HistoryResult,
  type Message,
  type PublishOptions,
  type PublishRetryEvent,
  type RecoveryEvent,
  type RelaymeshClientEvents,
  type RelaymeshClientOptions,
  type SubscribeOptions,
  type Subscription,
  type WebSocketConstructor,
  type WebSocketLike,
} from './relaymesh-client.js';
export { backoffDelay, type BackoffOptions } from './backoff.js';
export { ChannelStream, type ChannelStreamOptions, type Gap } from './stream-order.js';
export type { AckFrame, JsonValue, MissingRange, PresenceEventFrame as PresenceEvent, PresenceMember, RecoveryVector } from './protocol.js';
