import { describe, expectTypeOf, it } from 'vitest';
import type { AckFrame, JsonValue } from './protocol';
import type { HistoryResult, Message, RelaymeshClient } from './relaymesh-client';

/**
 * The channel generic is checked by the compiler, not at run time: `npm test` runs `tsc` over
 * this file, so a wrong type below that is not refused (each `@ts-expect-error`) fails the suite.
 */
interface Chat {
  text: string;
  from: string;
}
interface Cursor {
  x: number;
  y: number;
}
type AppChannels = { [room: `room:${string}`]: Chat } & { [pointer: `cursor:${string}`]: Cursor };
/** Never called: the tests read its methods' types only. */
const client = undefined as unknown as RelaymeshClient<AppChannels>;
const untyped = undefined as unknown as RelaymeshClient;

describe('typed messages: a generic per channel', () => {
  it('subscribe() hands each channel its own message type', () => {
    type RoomHandler = Parameters<typeof client.subscribe<'room:1'>>[1];
    expectTypeOf<Parameters<RoomHandler>[0]>().toEqualTypeOf<Message<Chat>>();
    type CursorHandler = Parameters<typeof client.subscribe<'cursor:a'>>[1];
    expectTypeOf<Parameters<CursorHandler>[0]['data']>().toEqualTypeOf<Cursor>();
  });

  it("publish() takes only the channel's type, and refuses a channel the map does not name", () => {
    expectTypeOf<typeof client.publish<'room:1'>>().parameter(1).toEqualTypeOf<Chat>();
    expectTypeOf<typeof client.publish<'room:1'>>().returns.toEqualTypeOf<Promise<AckFrame>>();
    // @ts-expect-error a Cursor is not a Chat
    void (() => client.publish('room:1', { x: 1, y: 2 }));
    // @ts-expect-error no such channel in the map
    void (() => client.publish('lobby', { text: 'hi', from: 'a' }));
  });

  it("history() returns the channel's type", () => {
    expectTypeOf<Awaited<ReturnType<typeof client.history<'room:1'>>>>().toEqualTypeOf<HistoryResult<Chat>>();
  });

  it('without a map, every channel carries any JSON value', () => {
    expectTypeOf<typeof untyped.publish<'anything'>>().parameter(1).toEqualTypeOf<JsonValue>();
    // @ts-expect-error a function is not JSON
    void (() => untyped.publish('anything', () => 1));
  });
});
