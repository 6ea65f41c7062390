import { describe, expect, it } from 'vitest';
import { ERRORS } from './errors';
import { EnvelopeSchema, errorFrame, envelopeFrame, parseClientFrame } from './protocol';

const rejectionCode = (raw: string) => {
  const result = parseClientFrame(raw);
  return 'rejection' in result ? result.rejection.error.code : undefined;
};

describe('parseClientFrame', () => {
  it('accepts each client action and defaults publish class to critical', () => {
    expect(parseClientFrame('{"action":"subscribe","channel":"room:1"}')).toEqual({ frame: { action: 'subscribe', channel: 'room:1' } });
    expect(parseClientFrame('{"action":"unsubscribe","channel":"room:1","ref":"r1"}')).toEqual({
      frame: { action: 'unsubscribe', channel: 'room:1', ref: 'r1' },
    });
    expect(parseClientFrame('{"action":"publish","channel":"room:1","data":{"text":"hi"},"id":"m-1"}')).toEqual({
      frame: { action: 'publish', channel: 'room:1', data: { text: 'hi' }, id: 'm-1', class: 'critical' },
    });
    expect(parseClientFrame('{"action":"ping","ref":7}')).toEqual({ frame: { action: 'ping', ref: 7 } });
  });

  it('accepts null as publish data but not a missing data field', () => {
    expect('frame' in parseClientFrame('{"action":"publish","channel":"a","data":null}')).toBe(true);
    expect(rejectionCode('{"action":"publish","channel":"a"}')).toBe(ERRORS.INVALID_FRAME.code);
  });

  it.each([
    ['not json', ERRORS.INVALID_JSON.code],
    ['', ERRORS.INVALID_JSON.code],
    ['[1,2]', ERRORS.INVALID_FRAME.code],
    ['"subscribe"', ERRORS.INVALID_FRAME.code],
    ['{"channel":"room:1"}', ERRORS.UNKNOWN_ACTION.code],
    ['{"action":"dance"}', ERRORS.UNKNOWN_ACTION.code],
    ['{"action":"subscribe"}', ERRORS.INVALID_FRAME.code],
    ['{"action":"subscribe","channel":42}', ERRORS.INVALID_FRAME.code],
    ['{"action":"subscribe","channel":"room#1"}', ERRORS.INVALID_CHANNEL.code],
    ['{"action":"subscribe","channel":"$system"}', ERRORS.INVALID_CHANNEL.code],
    ['{"action":"subscribe","channel":"room:*"}', ERRORS.INVALID_CHANNEL.code],
    [`{"action":"subscribe","channel":"${'a'.repeat(129)}"}`, ERRORS.INVALID_CHANNEL.code],
    ['{"action":"publish","channel":"a","data":1,"class":"urgent"}', ERRORS.INVALID_FRAME.code],
    ['{"action":"publish","channel":"a","data":1,"id":"has space"}', ERRORS.INVALID_FRAME.code],
    ['{"action":"ping","extra":true}', ERRORS.INVALID_FRAME.code],
  ])('rejects %j with code %i', (raw, code) => {
    expect(rejectionCode(raw)).toBe(code);
  });

  it('echoes the ref of a rejected frame when it is readable', () => {
    const result = parseClientFrame('{"action":"subscribe","channel":"bad#name","ref":"abc"}');
    expect('rejection' in result && result.rejection.ref).toBe('abc');
  });

  it('names the offending field in the error message', () => {
    const result = parseClientFrame('{"action":"subscribe"}');
    expect('rejection' in result && result.rejection.error.message).toMatch(/channel/);
  });
});

describe('server frames', () => {
  it('an error frame carries code, message, retryable flag and ref', () => {
    const result = parseClientFrame('{"action":"nope","ref":1}');
    if (!('rejection' in result)) throw new Error('expected a rejection');
    expect(errorFrame(result.rejection.error, result.rejection.ref)).toEqual({
      type: 'error',
      code: 4001,
      message: expect.stringContaining('Unknown action'),
      retryable: false,
      ref: 1,
    });
  });

  it('a message frame exposes channel, data, id, origin, ts and class but not the publisher', () => {
    const envelope = EnvelopeSchema.parse({
      v: 1, id: 'm1', channel: 'room:1', data: { a: 1 }, origin: 'eu-west-1', ts: 1700000000000, class: 'critical', publisher: 'alice',
    });
    expect(envelopeFrame(envelope)).toEqual({
      type: 'message', channel: 'room:1', data: { a: 1 }, id: 'm1', origin: 'eu-west-1', ts: 1700000000000, class: 'critical',
    });
  });
});

describe('error catalogue', () => {
  it('gives every error a distinct code', () => {
    const codes = Object.values(ERRORS).map((e) => e.code);
    expect(new Set(codes).size).toBe(codes.length);
  });
});
