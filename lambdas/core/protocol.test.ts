import { describe, expect, it } from 'vitest';
import { ERRORS } from './errors';
import { EnvelopeSchema, MAX_PRESENCE_DATA_BYTES, errorFrame, envelopeFrame, parseClientFrame } from './protocol';

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

  it('accepts a subscribe with a recovery vector and presence, and a presence page request', () => {
    expect(parseClientFrame('{"action":"subscribe","channel":"room:1","since":{"us-east-1":41,"eu-west-1":0},"presence":true}')).toEqual({
      frame: { action: 'subscribe', channel: 'room:1', since: { 'us-east-1': 41, 'eu-west-1': 0 }, presence: true },
    });
    expect(parseClientFrame('{"action":"presence","channel":"room:1","cursor":"abc"}')).toEqual({
      frame: { action: 'presence', channel: 'room:1', cursor: 'abc', limit: 100 },
    });
  });

  it('accepts a history request by since, by limit, or both', () => {
    expect(parseClientFrame('{"action":"history","channel":"room:1","since":{"us-east-1":4}}')).toEqual({
      frame: { action: 'history', channel: 'room:1', since: { 'us-east-1': 4 } },
    });
    expect(parseClientFrame('{"action":"history","channel":"room:1","limit":100,"ref":"h"}')).toEqual({ frame: { action: 'history', channel: 'room:1', limit: 100, ref: 'h' } });
    expect(parseClientFrame('{"action":"history","channel":"room:1","since":{},"limit":5}')).toEqual({ frame: { action: 'history', channel: 'room:1', since: {}, limit: 5 } });
  });

  it('refuses a history request with neither since nor limit with the coded 4002 naming both, and echoes its ref', () => {
    const result = parseClientFrame('{"action":"history","channel":"room:1","ref":"h9"}');
    expect(result).toEqual({ rejection: { error: expect.objectContaining({ code: ERRORS.INVALID_FRAME.code, message: expect.stringMatching(/since.*limit/) }), ref: 'h9' } });
  });

  it('accepts presence with member data at subscribe, and keeps presence: true', () => {
    expect(parseClientFrame('{"action":"subscribe","channel":"room:1","presence":{"data":{"name":"Ada","status":null}}}')).toEqual({
      frame: { action: 'subscribe', channel: 'room:1', presence: { data: { name: 'Ada', status: null } } },
    });
    expect(parseClientFrame('{"action":"subscribe","channel":"room:1","presence":{"data":null}}')).toEqual({
      frame: { action: 'subscribe', channel: 'room:1', presence: { data: null } },
    });
    expect(parseClientFrame('{"action":"subscribe","channel":"room:1","presence":true}')).toEqual({ frame: { action: 'subscribe', channel: 'room:1', presence: true } });
  });

  it('refuses presence data over 1 KB with 4004 and data JSON would change with 4005, naming presence.data', () => {
    const large = parseClientFrame(`{"action":"subscribe","channel":"a","presence":{"data":"${'x'.repeat(MAX_PRESENCE_DATA_BYTES)}"},"ref":1}`);
    expect(large).toEqual({ rejection: { error: expect.objectContaining({ code: ERRORS.DATA_TOO_LARGE.code, message: expect.stringMatching(/presence\.data: 1026 bytes, limit 1024/) }), ref: 1 } });
    expect(rejectionCode(`{"action":"subscribe","channel":"a","presence":{"data":"${'x'.repeat(MAX_PRESENCE_DATA_BYTES - 2)}"}}`)).toBeUndefined();
    const deep = parseClientFrame(`{"action":"subscribe","channel":"a","presence":{"data":${'['.repeat(100)}${']'.repeat(100)}}}`);
    expect('rejection' in deep && deep.rejection.error).toMatchObject({ code: ERRORS.INVALID_DATA.code, message: expect.stringMatching(/presence\.data: nests deeper/) });
    expect(rejectionCode('{"action":"subscribe","channel":"a","presence":{"data":{"n":9007199254740993}}}')).toBe(ERRORS.INVALID_DATA.code);
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
    ['{"action":"subscribe","channel":"a","since":{"us-east-1":-1}}', ERRORS.INVALID_FRAME.code],
    ['{"action":"subscribe","channel":"a","since":{"us-east-1":1.5}}', ERRORS.INVALID_FRAME.code],
    ['{"action":"subscribe","channel":"a","since":[1,2]}', ERRORS.INVALID_FRAME.code],
    ['{"action":"presence","channel":"a","limit":101}', ERRORS.INVALID_FRAME.code],
    ['{"action":"history","channel":"a","limit":101}', ERRORS.INVALID_FRAME.code],
    ['{"action":"history","channel":"a","limit":0}', ERRORS.INVALID_FRAME.code],
    ['{"action":"history","channel":"a","limit":2.5}', ERRORS.INVALID_FRAME.code],
    ['{"action":"history","channel":"a","since":{"us-east-1":-1}}', ERRORS.INVALID_FRAME.code],
    ['{"action":"history","channel":"a","since":"yesterday"}', ERRORS.INVALID_FRAME.code],
    ['{"action":"history","channel":"a","limit":5,"before":3}', ERRORS.INVALID_FRAME.code],
    ['{"action":"history","channel":"room#1","limit":5}', ERRORS.INVALID_CHANNEL.code],
    ['{"action":"subscribe","channel":"a","presence":{}}', ERRORS.INVALID_FRAME.code],
    ['{"action":"subscribe","channel":"a","presence":{"data":1,"extra":2}}', ERRORS.INVALID_FRAME.code],
    ['{"action":"subscribe","channel":"a","presence":"yes"}', ERRORS.INVALID_FRAME.code],
  ])('rejects %j with code %i', (raw, code) => {
    expect(rejectionCode(raw)).toBe(code);
  });

  it('answers data nesting 3,000 levels (18 KB) with the coded 4005, not a stack overflow', () => {
    const deep = `${'{"a":'.repeat(3000)}1${'}'.repeat(3000)}`;
    const result = parseClientFrame(`{"action":"publish","channel":"a","data":${deep},"ref":"r9"}`);
    expect(result).toEqual({ rejection: { error: expect.objectContaining({ code: ERRORS.INVALID_DATA.code, retryable: false }), ref: 'r9' } });
    expect('rejection' in result && result.rejection.error.message).toMatch(/deeper than 64 levels/);
  });

  it('refuses numbers JSON.parse would change with the non-retryable 4005 naming the rule', () => {
    for (const number of ['9007199254740993', '1e400', '1e-400']) {
      expect(rejectionCode(`{"action":"publish","channel":"a","data":{"n":${number}}}`)).toBe(ERRORS.INVALID_DATA.code);
    }
  });

  it('keeps data DynamoDB could not store as an attribute map unchanged: empty, __proto__ and constructor keys, 1e126, 1e-130, 40 levels', () => {
    const raw = `{"":1,"__proto__":{"x":1},"constructor":"c","big":1e126,"tiny":1e-130,"deep":${'['.repeat(40)}${']'.repeat(40)}}`;
    const result = parseClientFrame(`{"action":"publish","channel":"a","data":${raw}}`);
    expect('frame' in result && JSON.stringify((result.frame as { data: unknown }).data)).toBe(JSON.stringify(JSON.parse(raw)));
    expect('frame' in result && Object.keys((result.frame as { data: object }).data)).toContain('__proto__');
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

describe('envelopeFrame', () => {
  const base = { v: 1, id: 'e1', channel: 'room:1', origin: 'us-east-1', ts: 1700000000000, class: 'ephemeral' } as const;

  it('turns a presence envelope into a presence event frame', () => {
    const envelope = EnvelopeSchema.parse({
      ...base,
      kind: 'presence',
      data: { event: 'leave', member: { sub: 'bob', connectionId: 'c1', region: 'eu-west-1' } },
    });
    expect(envelopeFrame(envelope)).toEqual({
      type: 'presence', event: 'leave', channel: 'room:1', member: { sub: 'bob', connectionId: 'c1', region: 'eu-west-1' }, ts: 1700000000000,
    });
  });

  it('carries the member data of a join event', () => {
    const member = { sub: 'ada', connectionId: 'c2', region: 'us-east-1', data: { name: 'Ada', tags: ['x'] } };
    const envelope = EnvelopeSchema.parse({ ...base, kind: 'presence', data: { event: 'join', member } });
    expect(envelopeFrame(envelope)).toEqual({ type: 'presence', event: 'join', channel: 'room:1', member, ts: 1700000000000 });
  });

  it('refuses a presence envelope whose data is not a presence event', () => {
    expect(envelopeFrame(EnvelopeSchema.parse({ ...base, kind: 'presence', data: { event: 'dance' } }))).toBeUndefined();
  });

  it('carries seq on sequenced messages only', () => {
    expect(envelopeFrame(EnvelopeSchema.parse({ ...base, class: 'critical', data: 1, seq: 7 }))).toMatchObject({ seq: 7 });
    expect(envelopeFrame(EnvelopeSchema.parse({ ...base, data: 1 }))).not.toHaveProperty('seq');
  });
});

describe('error catalogue', () => {
  it('gives every error a distinct code', () => {
    const codes = Object.values(ERRORS).map((e) => e.code);
    expect(new Set(codes).size).toBe(codes.length);
  });
});
