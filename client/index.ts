export {
  RelaymeshClient,
  RelaymeshError,
  type ClientErrorCode,
  type ConnectionState,
  type JsonValue,
  type PublishOptions,
  type PublishRetryEvent,
  type RecoveryEvent,
  type RelaymeshClientEvents,
  type RelaymeshClientOptions,
  type SubscribeOptions,
  type Subscription,
  type TokenSource,
  type WebSocketConstructor,
  type WebSocketLike,
} from './relaymesh-client';
export { backoffDelay, type BackoffOptions } from './backoff';
export { ChannelStream, type ChannelStreamOptions, type Gap } from './stream-order';
export type {
  AckFrame,
  MessageFrame as Message,
  MissingRange,
  PresenceEventFrame as PresenceEvent,
  PresenceMember,
  RecoveryVector,
} from '../lambdas/core/protocol';
