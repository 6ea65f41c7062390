/**
 * Compile-time proof, for the repository's type check only (the package cannot reach outside
 * client/), that the client's own copy of the protocol is the server's: each frame type is
 * assignable both ways, and what the client sends is what the server's schemas accept.
 */
import type { z } from 'zod';
import type { ERRORS } from '../lambdas/core/errors';
import type * as server from '../lambdas/core/protocol';
import type { JsonValue as ServerJsonValue } from '../lambdas/core/json-data';
import type * as client from './src/protocol';

type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : never) : never;

const _sameFrames: [
  Same<client.AckFrame, server.AckFrame>,
  Same<client.MessageFrame, server.MessageFrame>,
  Same<client.PresenceEventFrame, server.PresenceEventFrame>,
  Same<client.MembersFrame, server.MembersFrame>,
  Same<client.HistoryPageFrame, server.HistoryPageFrame>,
  Same<client.PresenceMember, server.PresenceMember>,
  Same<client.BatchFrame, server.BatchFrame>,
  Same<client.ErrorFrame, server.ErrorFrame>,
  Same<client.PongFrame, server.PongFrame>,
  Same<client.ServerFrame, server.ServerFrame>,
  Same<client.MissingRange, server.MissingRange>,
  Same<client.RecoveryVector, server.RecoveryVector>,
  Same<client.JsonValue, ServerJsonValue>,
  Same<client.ClientFrame['action'], server.ClientFrame['action']>,
  client.ClientFrame extends z.input<typeof server.ClientFrameSchema> ? true : never,
  Same<typeof client.UNAUTHORIZED_CODE, (typeof ERRORS)['UNAUTHORIZED']['code']>,
] = [true, true, true, true, true, true, true, true, true, true, true, true, true, true, true, true];
void _sameFrames;
