import { z } from 'zod';

/**
 * API Gateway caps each WebSocket frame (32 KB) and each reassembled message (128 KB)
 * separately. `ws` only sees whole messages, so this reads the frame headers of the raw
 * client byte stream (RFC 6455 section 5.2) to enforce the per-frame cap as well.
 */

export interface FrameHeader {
  fin: boolean;
  opcode: number;
  masked: boolean;
  payloadLength: number;
}

const OPCODE_CONTINUATION = 0x0;
const FIRST_CONTROL_OPCODE = 0x8;

/** Parses one frame header at `offset`, or returns undefined when its bytes have not all arrived. */
function parseFrameHeader(data: Buffer, offset: number): { header: FrameHeader; size: number } | undefined {
  if (data.length - offset < 2) return undefined;
  const first = data[offset]!;
  const second = data[offset + 1]!;
  const masked = (second & 0x80) !== 0;
  const length7 = second & 0x7f;
  const lengthBytes = length7 === 126 ? 2 : length7 === 127 ? 8 : 0;
  const size = 2 + lengthBytes + (masked ? 4 : 0);
  if (data.length - offset < size) return undefined;
  const payloadLength =
    length7 === 126
      ? data.readUInt16BE(offset + 2)
      : length7 === 127
        ? Number(data.readBigUInt64BE(offset + 2))
        : length7;
  return { header: { fin: (first & 0x80) !== 0, opcode: first & 0x0f, masked, payloadLength }, size };
}

/** Follows a byte stream of frames, however it is chunked, and yields each frame's header. */
export class FrameHeaderReader {
  /** Header bytes of a frame whose header is split across chunks. */
  private partialHeader: Buffer = Buffer.alloc(0);
  /** Payload bytes of the current frame still to skip. */
  private payloadLeft = 0;

  push(chunk: Buffer): FrameHeader[] {
    const data = this.partialHeader.length > 0 ? Buffer.concat([this.partialHeader, chunk]) : chunk;
    const headers: FrameHeader[] = [];
    let offset = 0;
    while (offset < data.length) {
      if (this.payloadLeft > 0) {
        const skipped = Math.min(this.payloadLeft, data.length - offset);
        this.payloadLeft -= skipped;
        offset += skipped;
        continue;
      }
      const parsed = parseFrameHeader(data, offset);
      if (!parsed) break;
      headers.push(parsed.header);
      offset += parsed.size;
      this.payloadLeft = parsed.header.payloadLength;
    }
    this.partialHeader = Buffer.from(data.subarray(offset));
    return headers;
  }
}

export const FrameLimitsSchema = z.object({
  maxFrameBytes: z.number().int().positive(),
  maxMessageBytes: z.number().int().positive(),
});

export type FrameLimits = z.infer<typeof FrameLimitsSchema>;

export interface FrameLimitViolation {
  limit: 'frame' | 'message';
  /** The frame's payload size, or the message's size so far. */
  bytes: number;
}

/**
 * Watches a client's frames and reports the first frame or fragmented message over its cap.
 * Control frames (ping, pong, close) may interleave with a fragmented message and do not
 * count towards it.
 */
export class FrameLimitGuard {
  private readonly reader = new FrameHeaderReader();
  private readonly limits: FrameLimits;
  private messageBytes = 0;

  constructor(limits: FrameLimits) {
    this.limits = FrameLimitsSchema.parse(limits);
  }

  push(chunk: Buffer): FrameLimitViolation | undefined {
    for (const frame of this.reader.push(chunk)) {
      if (frame.payloadLength > this.limits.maxFrameBytes) return { limit: 'frame', bytes: frame.payloadLength };
      if (frame.opcode >= FIRST_CONTROL_OPCODE) continue;
      this.messageBytes = (frame.opcode === OPCODE_CONTINUATION ? this.messageBytes : 0) + frame.payloadLength;
      if (this.messageBytes > this.limits.maxMessageBytes) return { limit: 'message', bytes: this.messageBytes };
      if (frame.fin) this.messageBytes = 0;
    }
    return undefined;
  }
}
