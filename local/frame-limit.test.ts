import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { FrameHeaderReader, FrameLimitGuard, type FrameHeader } from './frame-limit';

/** A client frame as RFC 6455 lays it out: masked, with a 7-, 16- or 64-bit length as the size needs. */
function clientFrame(opts: { fin?: boolean; opcode: number; payload: Buffer }): Buffer {
  const { fin = true, opcode, payload } = opts;
  const length = payload.length;
  const lengthField =
    length < 126
      ? Buffer.from([0x80 | length])
      : length <= 0xffff
        ? Buffer.concat([Buffer.from([0x80 | 126]), u16(length)])
        : Buffer.concat([Buffer.from([0x80 | 127]), u64(length)]);
  const mask = randomBytes(4);
  const masked = Buffer.from(payload.map((byte, i) => byte ^ mask[i % 4]!));
  return Buffer.concat([Buffer.from([(fin ? 0x80 : 0) | opcode]), lengthField, mask, masked]);
}

function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
}

function u64(n: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt(n));
  return b;
}

const TEXT = 0x1;
const BINARY = 0x2;
const CONTINUATION = 0x0;
const PING = 0x9;

function chunks(data: Buffer, size: number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < data.length; i += size) out.push(data.subarray(i, i + size));
  return out;
}

describe('FrameHeaderReader', () => {
  it('reads 7-bit, 16-bit and 64-bit payload lengths of masked client frames', () => {
    const stream = Buffer.concat([
      clientFrame({ opcode: TEXT, payload: Buffer.alloc(5) }),
      clientFrame({ opcode: BINARY, payload: Buffer.alloc(300) }),
      clientFrame({ opcode: BINARY, payload: Buffer.alloc(70_000) }),
      clientFrame({ opcode: TEXT, payload: Buffer.alloc(0) }),
    ]);
    const headers = new FrameHeaderReader().push(stream);
    expect(headers).toEqual<FrameHeader[]>([
      { fin: true, opcode: TEXT, masked: true, payloadLength: 5 },
      { fin: true, opcode: BINARY, masked: true, payloadLength: 300 },
      { fin: true, opcode: BINARY, masked: true, payloadLength: 70_000 },
      { fin: true, opcode: TEXT, masked: true, payloadLength: 0 },
    ]);
  });

  it('finds the same headers when frames are split across chunks at every possible byte', () => {
    const stream = Buffer.concat([
      clientFrame({ fin: false, opcode: TEXT, payload: Buffer.alloc(200) }),
      clientFrame({ opcode: PING, payload: Buffer.alloc(3) }),
      clientFrame({ opcode: CONTINUATION, payload: Buffer.alloc(70_000) }),
    ]);
    const whole = new FrameHeaderReader().push(stream);
    for (const size of [1, 2, 3, 7, 13, 4096]) {
      const reader = new FrameHeaderReader();
      const headers = chunks(stream, size).flatMap((c) => reader.push(c));
      expect(headers, `chunks of ${size} bytes`).toEqual(whole);
    }
    expect(whole.map((h) => [h.opcode, h.fin, h.payloadLength])).toEqual([
      [TEXT, false, 200],
      [PING, true, 3],
      [CONTINUATION, true, 70_000],
    ]);
  });

  it('reports a header as soon as it is complete, before its payload arrives', () => {
    const frame = clientFrame({ opcode: BINARY, payload: Buffer.alloc(70_000) });
    const reader = new FrameHeaderReader();
    expect(reader.push(frame.subarray(0, 5))).toEqual([]); // 2 + 8 length bytes + 4 mask bytes needed
    expect(reader.push(frame.subarray(5, 14))).toEqual([{ fin: true, opcode: BINARY, masked: true, payloadLength: 70_000 }]);
    expect(reader.push(frame.subarray(14))).toEqual([]);
  });
});

describe('FrameLimitGuard', () => {
  const limits = { maxFrameBytes: 1024, maxMessageBytes: 2048 };

  it('lets frames and fragmented messages within both limits through', () => {
    const guard = new FrameLimitGuard(limits);
    const stream = Buffer.concat([
      clientFrame({ opcode: TEXT, payload: Buffer.alloc(1024) }),
      clientFrame({ fin: false, opcode: TEXT, payload: Buffer.alloc(1024) }),
      clientFrame({ opcode: PING, payload: Buffer.alloc(10) }),
      clientFrame({ opcode: CONTINUATION, payload: Buffer.alloc(1024) }),
      clientFrame({ opcode: BINARY, payload: Buffer.alloc(1000) }),
    ]);
    expect(chunks(stream, 100).map((c) => guard.push(c)).filter(Boolean)).toEqual([]);
  });

  it('flags a single frame over maxFrameBytes from its header alone', () => {
    const guard = new FrameLimitGuard(limits);
    const frame = clientFrame({ opcode: TEXT, payload: Buffer.alloc(1025) });
    expect(guard.push(frame.subarray(0, 8))).toEqual({ limit: 'frame', bytes: 1025 });
  });

  it('flags a 64-bit-length frame far over the limit', () => {
    const guard = new FrameLimitGuard(limits);
    const header = Buffer.concat([Buffer.from([0x82, 0x80 | 127]), u64(5_000_000_000), randomBytes(4)]);
    expect(guard.push(header)).toEqual({ limit: 'frame', bytes: 5_000_000_000 });
  });

  it('flags a fragmented message whose frames are each small but whose total exceeds maxMessageBytes', () => {
    const guard = new FrameLimitGuard(limits);
    const fragments = [
      clientFrame({ fin: false, opcode: TEXT, payload: Buffer.alloc(1000) }),
      clientFrame({ fin: false, opcode: CONTINUATION, payload: Buffer.alloc(1000) }),
      clientFrame({ opcode: CONTINUATION, payload: Buffer.alloc(1000) }),
    ];
    expect(guard.push(fragments[0]!)).toBeUndefined();
    expect(guard.push(fragments[1]!)).toBeUndefined();
    expect(guard.push(fragments[2]!)).toEqual({ limit: 'message', bytes: 3000 });
  });

  it('counts each message from zero after the previous one ended', () => {
    const guard = new FrameLimitGuard(limits);
    for (let i = 0; i < 5; i++) {
      expect(guard.push(clientFrame({ opcode: TEXT, payload: Buffer.alloc(1000) }))).toBeUndefined();
    }
  });
});
