import { once } from 'node:events';
import WebSocket from 'ws';

export type Frame = Record<string, unknown>;

const CLOSE_GRACE_MS = 2_000;

/**
 * A lean Relaymesh protocol client for the bench: answers are matched to requests by `ref`,
 * every other frame goes to `onFrame` with its receive time. Unlike the e2e TestClient it
 * keeps no frames, so ten thousand of them fit in one process.
 */
export class BenchSocket {
  onFrame: (frame: Frame, receivedAt: number) => void = () => {};
  private readonly answers = new Map<string, { resolve: (frame: Frame) => void; reject: (error: Error) => void }>();
  private refs = 0;

  private constructor(private readonly socket: WebSocket) {
    socket.on('message', (data) => {
      const receivedAt = Date.now();
      const frame = parseFrame(data.toString());
      const answer = typeof frame.ref === 'string' ? this.answers.get(frame.ref) : undefined;
      if (!answer) return this.onFrame(frame, receivedAt);
      this.answers.delete(frame.ref as string);
      answer.resolve(frame);
    });
    socket.on('close', (code) => {
      for (const { reject } of this.answers.values()) reject(new Error(`socket closed (${code})`));
      this.answers.clear();
    });
    socket.on('error', () => {}); // 'close' follows and reports it
  }

  static async open(websocketUrl: string, token: string, timeoutMs: number): Promise<BenchSocket> {
    const socket = new WebSocket(`${websocketUrl}?token=${encodeURIComponent(token)}`, { perMessageDeflate: false, handshakeTimeout: timeoutMs });
    await new Promise<void>((resolve, reject) => {
      socket.once('open', () => resolve());
      socket.once('unexpected-response', (_req, res) => {
        reject(new Error(`upgrade refused: HTTP ${res.statusCode}`));
        socket.terminate();
      });
      socket.once('error', reject);
    });
    return new BenchSocket(socket);
  }

  /** Sends a frame with a fresh ref; resolves with the frame answering it (ack, error, pong). */
  request(frame: Frame, timeoutMs: number): Promise<Frame> {
    const ref = `b${++this.refs}`;
    return new Promise<Frame>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.answers.delete(ref);
        reject(new Error(`no answer to ${String(frame.action)} within ${timeoutMs} ms`));
      }, timeoutMs);
      const settle =
        <T>(finish: (value: T) => void) =>
        (value: T) => {
          clearTimeout(timer);
          finish(value);
        };
      this.answers.set(ref, { resolve: settle(resolve), reject: settle(reject) });
      this.socket.send(JSON.stringify({ ...frame, ref }), (error) => error && this.answers.get(ref)?.reject(error));
    });
  }

  async close(): Promise<void> {
    if (this.socket.readyState === WebSocket.CLOSED) return;
    const closed = once(this.socket, 'close');
    this.socket.close();
    const drop = setTimeout(() => this.socket.terminate(), CLOSE_GRACE_MS);
    await closed;
    clearTimeout(drop);
  }
}

function parseFrame(text: string): Frame {
  try {
    const frame: unknown = JSON.parse(text);
    return typeof frame === 'object' && frame !== null ? (frame as Frame) : { type: 'unparsable', text };
  } catch {
    return { type: 'unparsable', text };
  }
}
