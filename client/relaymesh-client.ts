import { z } from 'zod';
// Types only: the client bundle must stay free of server code.
import type {
  AckFrame,
  ClientFrameSchema,
  ErrorFrame,
  MembersFrame,
  MessageFrame,
  MissingRange,
  PongFrame,
  PresenceEventFrame,
  PresenceMember,
  PublishFrameSchema,
  RecoveryVector,
  ServerFrame,
} from '../lambdas/core/protocol';
import { backoffDelay } from './backoff';
import { ChannelStream, type Gap } from './stream-order';

/** The part of the WebSocket API the client uses, common to browsers and the `ws` package. */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  // `any` events: browsers and `ws` type their event objects differently.
  addEventListener(type: 'open' | 'message' | 'close' | 'error', listener: (event: any) => void): void;
}
export type WebSocketConstructor = new (url: string) => WebSocketLike;

const WS_CLOSED = 3;

export type ConnectionState = 'connecting' | 'open' | 'reconnecting' | 'closed';
export type TokenSource = string | (() => Promise<string>);
export type JsonValue = z.input<typeof PublishFrameSchema>['data'];

/** Errors the client raises itself, next to the protocol's numeric codes. */
export type ClientErrorCode = 'timeout' | 'disconnected' | 'closed' | 'connect-failed';

export class RelaymeshError extends Error {
  override readonly name = 'RelaymeshError';
  constructor(
    /** A protocol error code (4xxx, 5xxx; see the README) or one of the client's own. */
    readonly code: number | ClientErrorCode,
    message: string,
    /** Whether the same request may succeed when sent again (publish with the same `id`). */
    readonly retryable: boolean,
  ) {
    super(message);
  }
}

const isFunction = (value: unknown) => typeof value === 'function';

const OptionsSchema = z
  .strictObject({
    /** A regional WebSocket URL, e.g. wss://ws.us-east-1.example.com/live. */
    url: z.url().optional(),
    /** The edge behind Global Accelerator: asked on every (re)connect where to connect, so a failed region is left. */
    edgeUrl: z.url().optional(),
    token: z.union([
      z.string().min(1, 'must not be empty'),
      z.custom<() => Promise<string>>(isFunction, 'must be a string or a function returning a Promise of one'),
    ]),
    /** Needed where there is no global WebSocket (Node 20: pass the `ws` package's). */
    WebSocket: z.custom<WebSocketConstructor>(isFunction, 'must be a WebSocket constructor').optional(),
    heartbeatMs: z.number().int().positive().default(25_000),
    requestTimeoutMs: z.number().int().positive().default(10_000),
    backoff: z
      .strictObject({ baseMs: z.number().int().positive().default(250), maxMs: z.number().int().positive().default(30_000) })
      .refine((b) => b.maxMs >= b.baseMs, 'maxMs must not be below baseMs')
      .default({ baseMs: 250, maxMs: 30_000 }),
    gapWaitMs: z.number().int().min(0).default(2_000),
  })
  .refine((o) => o.url !== undefined || o.edgeUrl !== undefined, 'needs url or edgeUrl');

export type RelaymeshClientOptions = z.input<typeof OptionsSchema>;
type Options = z.output<typeof OptionsSchema>;

const ConnectAnswerSchema = z.object({ websocketUrl: z.string().min(1) });

export interface RecoveryEvent {
  channel: string;
  /** Whether everything after the vector was replayed. */
  recovered: boolean;
  /** Ranges that could not be replayed: skipped, the handler never sees them. */
  missing: MissingRange[];
}

export interface RelaymeshClientEvents {
  state: ConnectionState;
  /** A channel was resubscribed after a reconnect. */
  recovery: RecoveryEvent;
  /** Seqs of one origin that did not arrive within `gapWaitMs` and were skipped. */
  gap: Gap;
  /** What has no caller to reject: an unsolicited error frame, a failed resubscribe or reconnect, a throwing handler. */
  error: Error;
}

export interface SubscribeOptions {
  /** Enter the channel's presence set. */
  presence?: boolean;
  /** Join and leave events of the channel's members. */
  onPresence?: (event: PresenceEventFrame) => void;
}

export interface Subscription {
  readonly channel: string;
  /** Highest seq delivered per origin. */
  vector(): RecoveryVector;
  unsubscribe(): Promise<void>;
}

export interface PublishOptions {
  /** Idempotency key: a publish retried with the same id is delivered once. */
  id?: string;
  class?: 'critical' | 'ephemeral';
}

type ClientFrameInput = z.input<typeof ClientFrameSchema>;
type Answer = AckFrame | MembersFrame | PongFrame;

interface PendingRequest {
  resolve: (frame: Answer) => void;
  reject: (error: RelaymeshError) => void;
  timer: ReturnType<typeof setTimeout>;
}

interface ChannelEntry {
  channel: string;
  handler: (message: MessageFrame) => void;
  presence: boolean;
  onPresence?: (event: PresenceEventFrame) => void;
  /** Created from the subscribe ack's position; until then messages wait in `early`. */
  stream?: ChannelStream;
  early: MessageFrame[];
}

type Listener<E extends keyof RelaymeshClientEvents> = (payload: RelaymeshClientEvents[E]) => void;

/**
 * A Relaymesh connection: requests answered by ref, per-channel ordering and dedup by
 * (origin, seq), heartbeats, and on an unexpected close reconnection with backoff (through
 * the edge, so to a healthy region) and resubscription from each channel's recovery vector.
 */
export class RelaymeshClient {
  private readonly options: Options;
  private readonly WebSocketImpl: WebSocketConstructor;
  private currentState: ConnectionState = 'closed';
  private socket: WebSocketLike | undefined;
  private currentUrl: string | undefined;
  private readonly pending = new Map<string, PendingRequest>();
  private readonly channels = new Map<string, ChannelEntry>();
  private readonly listeners = new Map<keyof RelaymeshClientEvents, Set<(payload: never) => void>>();
  private refCounter = 0;
  private attempt = 0;
  private reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  private heartbeatTimer: ReturnType<typeof setInterval> | undefined;

  constructor(options: RelaymeshClientOptions) {
    const parsed = OptionsSchema.safeParse(options);
    if (!parsed.success) {
      const detail = parsed.error.issues.map((i) => `${i.path.join('.') || 'options'}: ${i.message}`).join('; ');
      throw new TypeError(`Invalid RelaymeshClient options: ${detail}`);
    }
    this.options = parsed.data;
    const WebSocketImpl = parsed.data.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
    if (!WebSocketImpl) throw new TypeError('Invalid RelaymeshClient options: WebSocket: there is no global WebSocket here; pass one (in Node 20, the `ws` package\'s)');
    this.WebSocketImpl = WebSocketImpl;
  }

  get state(): ConnectionState {
    return this.currentState;
  }

  /** The regional WebSocket URL of the current or last connection. */
  get url(): string | undefined {
    return this.currentUrl;
  }

  on<E extends keyof RelaymeshClientEvents>(event: E, listener: Listener<E>): () => void {
    let set = this.listeners.get(event);
    if (!set) this.listeners.set(event, (set = new Set()));
    set.add(listener as (payload: never) => void);
    return () => this.off(event, listener);
  }

  off<E extends keyof RelaymeshClientEvents>(event: E, listener: Listener<E>): void {
    this.listeners.get(event)?.delete(listener as (payload: never) => void);
  }

  /** Opens the connection; rejects when the first attempt fails (later drops reconnect on their own). */
  async connect(): Promise<void> {
    if (this.currentState !== 'closed') throw new Error(`RelaymeshClient is already ${this.currentState}`);
    this.setState('connecting');
    try {
      await this.open('connecting');
    } catch (error) {
      this.setState('closed');
      throw error;
    }
    this.setState('open');
  }

  async subscribe(channel: string, handler: (message: MessageFrame) => void, options: SubscribeOptions = {}): Promise<Subscription> {
    if (this.channels.has(channel)) throw new Error(`Already subscribed to ${channel}`);
    const entry: ChannelEntry = { channel, handler, presence: options.presence ?? false, onPresence: options.onPresence, early: [] };
    this.channels.set(channel, entry);
    try {
      const ack = (await this.request({ action: 'subscribe', channel, ...(entry.presence && { presence: true }) })) as AckFrame;
      entry.stream = new ChannelStream({
        channel,
        position: ack.position ?? {},
        gapWaitMs: this.options.gapWaitMs,
        deliver: (message) => this.call(() => entry.handler(message)),
        onGap: (gap) => this.emit('gap', gap),
      });
      for (const message of entry.early.splice(0)) entry.stream.push(message);
    } catch (error) {
      this.channels.delete(channel);
      throw error;
    }
    return { channel, vector: () => entry.stream!.vector(), unsubscribe: () => this.unsubscribe(entry) };
  }

  /** Resolves with the ack (`id`, and `origin` + `seq` for a critical message); rejects with a RelaymeshError. */
  async publish(channel: string, data: JsonValue, options: PublishOptions = {}): Promise<AckFrame> {
    return (await this.request({ action: 'publish', channel, data, ...options })) as AckFrame;
  }

  /** Every member of the channel across all regions, following the pages. */
  async presence(channel: string): Promise<PresenceMember[]> {
    const members: PresenceMember[] = [];
    let cursor: string | undefined;
    do {
      const page = (await this.request({ action: 'presence', channel, ...(cursor !== undefined && { cursor }) })) as MembersFrame;
      members.push(...page.members);
      cursor = page.next;
    } while (cursor !== undefined);
    return members;
  }

  /** Closes for good: pending requests reject, subscriptions end, nothing reconnects. */
  async close(): Promise<void> {
    const socket = this.socket;
    this.setState('closed');
    this.detach(new RelaymeshError('closed', 'The client was closed', false));
    clearTimeout(this.reconnectTimer);
    for (const entry of this.channels.values()) entry.stream?.close();
    this.channels.clear();
    if (!socket || socket.readyState === WS_CLOSED) return;
    await new Promise<void>((resolve) => {
      // A dead peer never answers the close handshake: do not wait for it forever.
      const timer = setTimeout(resolve, this.options.requestTimeoutMs);
      socket.addEventListener('close', () => {
        clearTimeout(timer);
        resolve();
      });
      socket.close(1000);
    });
  }

  private async unsubscribe(entry: ChannelEntry): Promise<void> {
    if (this.channels.get(entry.channel) !== entry) return;
    this.channels.delete(entry.channel);
    entry.stream?.close();
    // Without a connection there is no subscription on the server to end.
    if (!this.socket) return;
    try {
      await this.request({ action: 'unsubscribe', channel: entry.channel });
    } catch (error) {
      if (!(error instanceof RelaymeshError && error.code === 'disconnected')) throw error;
    }
  }

  /** Opens a socket and makes it current, unless the client left `expected` state meanwhile. */
  private async open(expected: ConnectionState): Promise<void> {
    const url = await this.resolveUrl();
    const token = typeof this.options.token === 'string' ? this.options.token : await this.options.token();
    const socket = new this.WebSocketImpl(`${url}${url.includes('?') ? '&' : '?'}token=${encodeURIComponent(token)}`);
    let lastError = '';
    socket.addEventListener('error', (event: { message?: string }) => {
      lastError = event.message ?? 'socket error';
    });
    await new Promise<void>((resolve, reject) => {
      const fail = (reason: string) => {
        clearTimeout(timer);
        reject(new RelaymeshError('connect-failed', `Could not connect to ${url}: ${reason}`, true));
      };
      const timer = setTimeout(() => {
        fail(`no handshake within ${this.options.requestTimeoutMs} ms`);
        socket.close();
      }, this.options.requestTimeoutMs);
      socket.addEventListener('open', () => {
        clearTimeout(timer);
        resolve();
      });
      socket.addEventListener('close', (event: { code: number }) => fail(lastError || `closed (${event.code})`));
    });
    if (this.currentState !== expected) {
      socket.close(1000);
      throw new RelaymeshError('closed', 'The client was closed while connecting', false);
    }
    socket.addEventListener('message', (event: { data: unknown }) => {
      if (this.socket === socket) this.receive(String(event.data));
    });
    socket.addEventListener('close', (event: { code: number }) => {
      if (this.socket === socket) this.drop(`closed (${event.code}${lastError && `, ${lastError}`})`);
    });
    this.socket = socket;
    this.currentUrl = url;
    this.heartbeatTimer = setInterval(() => this.heartbeat(socket), this.options.heartbeatMs);
  }

  /** The edge names the nearest healthy region; a fixed `url` is the fallback when the edge cannot answer. */
  private async resolveUrl(): Promise<string> {
    const { url, edgeUrl, requestTimeoutMs } = this.options;
    if (edgeUrl === undefined) return url!;
    try {
      const response = await fetch(`${edgeUrl.replace(/\/+$/, '')}/v1/connect`, { signal: AbortSignal.timeout(requestTimeoutMs) });
      if (!response.ok) throw new Error(`the edge answered ${response.status}`);
      return ConnectAnswerSchema.parse(await response.json()).websocketUrl;
    } catch (error) {
      if (url !== undefined) return url;
      throw new RelaymeshError('connect-failed', `Could not ask ${edgeUrl} where to connect: ${String(error)}`, true);
    }
  }

  private heartbeat(socket: WebSocketLike): void {
    this.request({ action: 'ping' }).catch((error: RelaymeshError) => {
      if (error.code === 'timeout' && this.socket === socket) this.drop(`no pong within ${this.options.requestTimeoutMs} ms`);
    });
  }

  /** Forgets the current socket and fails what waited on it. */
  private detach(reason: RelaymeshError): void {
    const socket = this.socket;
    this.socket = undefined;
    clearInterval(this.heartbeatTimer);
    for (const [ref, request] of this.pending) {
      clearTimeout(request.timer);
      this.pending.delete(ref);
      request.reject(reason);
    }
    if (socket && socket.readyState !== WS_CLOSED && reason.code !== 'closed') socket.close();
  }

  private drop(reason: string): void {
    this.detach(new RelaymeshError('disconnected', `Connection lost: ${reason}`, true));
    this.setState('reconnecting');
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    this.reconnectTimer = setTimeout(() => void this.reconnect(), backoffDelay(this.attempt++, this.options.backoff));
  }

  private async reconnect(): Promise<void> {
    try {
      await this.open('reconnecting');
    } catch (error) {
      if (this.currentState !== 'reconnecting') return;
      this.emit('error', error as Error);
      return this.scheduleReconnect();
    }
    this.attempt = 0;
    this.setState('open');
    await Promise.all([...this.channels.values()].map((entry) => this.resubscribe(entry)));
  }

  /** Subscribes again from the channel's vector: the server replays what was missed, then the ack. */
  private async resubscribe(entry: ChannelEntry): Promise<void> {
    // A subscribe still waiting for its first ack was rejected by the drop and is its caller's to retry.
    if (!entry.stream) return;
    const since = entry.stream.vector();
    try {
      const ack = (await this.request({ action: 'subscribe', channel: entry.channel, since, ...(entry.presence && { presence: true }) })) as AckFrame;
      const missing = ack.missing ?? [];
      entry.stream.skip(missing);
      this.emit('recovery', { channel: entry.channel, recovered: ack.recovered ?? missing.length === 0, missing });
    } catch (error) {
      // A drop meanwhile resubscribes again on the next connection.
      if (!(error instanceof RelaymeshError && error.code === 'disconnected')) this.emit('error', error as Error);
    }
  }

  private request(frame: ClientFrameInput): Promise<Answer> {
    const socket = this.socket;
    if (!socket) return Promise.reject(new RelaymeshError('disconnected', `Not connected (${this.currentState})`, true));
    const ref = `r${++this.refCounter}`;
    return new Promise<Answer>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(ref);
        reject(new RelaymeshError('timeout', `No answer to ${frame.action} within ${this.options.requestTimeoutMs} ms`, true));
      }, this.options.requestTimeoutMs);
      this.pending.set(ref, { resolve, reject, timer });
      socket.send(JSON.stringify({ ...frame, ref }));
    });
  }

  private receive(raw: string): void {
    let frame: ServerFrame;
    try {
      frame = JSON.parse(raw) as ServerFrame;
    } catch {
      return this.emit('error', new Error(`The server sent a frame that is not JSON: ${raw.slice(0, 100)}`));
    }
    switch (frame.type) {
      case 'message':
      case 'presence':
        return this.route(frame);
      case 'batch':
        return frame.frames.forEach((inner) => this.route(inner));
      case 'ack':
      case 'members':
      case 'pong':
        this.settle(frame.ref, (request) => request.resolve(frame));
        return;
      case 'error':
        return this.settleError(frame);
    }
  }

  private route(frame: MessageFrame | PresenceEventFrame): void {
    const entry = this.channels.get(frame.channel);
    if (!entry) return;
    if (frame.type === 'presence') return this.call(() => entry.onPresence?.(frame));
    if (entry.stream) entry.stream.push(frame);
    else entry.early.push(frame);
  }

  private settleError(frame: ErrorFrame): void {
    const error = new RelaymeshError(frame.code, frame.message, frame.retryable);
    if (!this.settle(frame.ref, (request) => request.reject(error))) this.emit('error', error);
  }

  private settle(ref: string | number | undefined, answer: (request: PendingRequest) => void): boolean {
    const request = ref === undefined ? undefined : this.pending.get(String(ref));
    if (!request) return false;
    clearTimeout(request.timer);
    this.pending.delete(String(ref));
    answer(request);
    return true;
  }

  /** Runs application code: a throwing handler must not break delivery of the next message. */
  private call(callback: () => void): void {
    try {
      callback();
    } catch (error) {
      this.emit('error', error instanceof Error ? error : new Error(String(error)));
    }
  }

  private setState(state: ConnectionState): void {
    if (state === this.currentState) return;
    this.currentState = state;
    this.emit('state', state);
  }

  private emit<E extends keyof RelaymeshClientEvents>(event: E, payload: RelaymeshClientEvents[E]): void {
    for (const listener of this.listeners.get(event) ?? []) {
      if (event === 'error') (listener as Listener<'error'>)(payload as Error);
      else this.call(() => (listener as Listener<E>)(payload));
    }
  }
}
