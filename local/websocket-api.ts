import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createServer, STATUS_CODES, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import type {
  APIGatewayAuthorizerResult,
  APIGatewayEventWebsocketRequestContextV2,
  APIGatewayProxyResultV2,
  APIGatewayProxyWebsocketEventV2WithRequestContext,
  APIGatewayRequestAuthorizerEvent,
} from 'aws-lambda';
import { WebSocket, WebSocketServer, type RawData } from 'ws';
import { z } from 'zod';
import { RelaymeshConfigSchema } from '../lib/config';
import { FrameLimitGuard } from './frame-limit';
import { TokenBucket } from './token-bucket';
import { readBody } from './http';

/**
 * The local cloud's API Gateway WebSocket API: one HTTP server per region that upgrades
 * `ws://HOST:PORT/STAGE` the way API Gateway does (REQUEST authorizer, $connect, route
 * selection, $default, $disconnect, frame/message/idle/duration limits, account throttle)
 * and serves the `@connections` management API at `http://HOST:PORT/STAGE/@connections/{id}`
 * on the same port, speaking the wire protocol @aws-sdk/client-apigatewaymanagementapi expects.
 *
 * One deliberate difference: API Gateway may invoke a connection's routes concurrently and
 * out of order; here each connection's messages are routed one at a time, in arrival order.
 */

// ---- Event types -------------------------------------------------------------------------

/** requestContext.authorizer: the authorizer's context with every value stringified, as AWS does. */
export interface WebSocketAuthorizerContext {
  principalId: string;
  integrationLatency: number;
  [key: string]: string | number | null;
}

export interface WebSocketIdentity {
  sourceIp: string;
  userAgent?: string;
}

export interface WebSocketRequestContext extends Omit<APIGatewayEventWebsocketRequestContextV2, 'messageId'> {
  /** Set on MESSAGE events; null on CONNECT and DISCONNECT, as AWS sends them. */
  messageId: string | null;
  identity: WebSocketIdentity;
  authorizer?: WebSocketAuthorizerContext;
  /** null on CONNECT; the close code on DISCONNECT. */
  disconnectStatusCode?: number | null;
  disconnectReason?: string;
}

export interface WebSocketEvent extends APIGatewayProxyWebsocketEventV2WithRequestContext<WebSocketRequestContext> {
  /** The upgrade request's headers on $connect; the gateway's own few on $disconnect. */
  headers?: Record<string, string>;
  multiValueHeaders?: Record<string, string[]>;
}

export type WebSocketRouteHandler = (event: WebSocketEvent) => Promise<APIGatewayProxyResultV2 | void>;

/**
 * AWS sends WebSocket authorizers a REQUEST event without the REST-only fields (path,
 * httpMethod, resource); the handler is typed as the REST event because that is the type
 * authorizer Lambdas are written against.
 */
export type WebSocketAuthorizerHandler = (event: APIGatewayRequestAuthorizerEvent) => Promise<APIGatewayAuthorizerResult>;

// ---- Options -------------------------------------------------------------------------------

const functionSchema = <T>() => z.custom<T>((value) => typeof value === 'function', 'must be a function');

/** route.request.querystring.NAME or route.request.header.NAME */
const IDENTITY_SOURCE = /^route\.request\.(querystring|header)\.(.+)$/;
/** $request.body.a.b, or its template form ${request.body.a.b} */
const ROUTE_SELECTION = /^\$(?:request\.body\.([\w$-]+(?:\.[\w$-]+)*)|\{request\.body\.([\w$-]+(?:\.[\w$-]+)*)\})$/;

export const WebSocketApiOptionsSchema = z.object({
  region: z.string().min(1),
  stage: RelaymeshConfigSchema.shape.stageName.unwrap(),
  /** Default: a random 10-character id like AWS's. */
  apiId: z.string().regex(/^[a-z0-9]{1,32}$/).optional(),
  /** Goes into methodArn; LocalStack's conventional local account by default. */
  accountId: z.string().regex(/^\d{12}$/).default('000000000000'),
  host: z.string().min(1).default('127.0.0.1'),
  /** 0 picks a free port. */
  port: z.number().int().min(0).max(65_535).default(0),
  // Not strict: the whole config.limits may be passed; only these fields are read.
  limits: RelaymeshConfigSchema.shape.limits.unwrap().pick({
    maxFrameBytes: true,
    maxMessageBytes: true,
    idleTimeoutSeconds: true,
    maxConnectionSeconds: true,
    accountRatePerSecond: true,
    accountBurst: true,
    newConnectionsPerSecond: true,
  }).strip(),
  authorizer: z
    .object({
      handler: functionSchema<WebSocketAuthorizerHandler>(),
      identitySource: z
        .array(z.string().regex(IDENTITY_SOURCE, 'must be route.request.querystring.NAME or route.request.header.NAME'))
        .min(1),
    })
    .optional(),
  routeSelectionExpression: z
    .string()
    .regex(ROUTE_SELECTION, 'must be $request.body.PATH')
    .default('$request.body.action'),
  /** Keys: $connect, $disconnect, $default or custom route keys. */
  routes: z.record(
    z.string().min(1),
    z.object({ handler: functionSchema<WebSocketRouteHandler>(), returnResponse: z.boolean().default(false) }),
  ),
  /**
   * Fault injection (faults.ts): asked for each PostToConnection attempt with its SDK operation
   * id (amz-sdk-invocation-id); true answers it 429 LimitExceededException, as a throttled
   * account would, so the client's own retries and error handling run.
   */
  faults: z.object({ throttlePost: functionSchema<(operationId: string | undefined) => boolean>() }).optional(),
  /**
   * Bytes queued for one client before it counts as a slow consumer and is closed with 1013;
   * bounds the gateway's memory per connection.
   */
  maxOutboundBufferBytes: z.number().int().min(64 * 1024).default(1024 * 1024),
  /** Where handler and authorizer failures are reported (CloudWatch's role); default stderr. */
  onError: functionSchema<(error: unknown, where: string) => void>().optional(),
});

export type WebSocketApiOptions = z.input<typeof WebSocketApiOptionsSchema>;
type ParsedOptions = z.output<typeof WebSocketApiOptionsSchema>;
type Route = ParsedOptions['routes'][string];

export interface WebSocketApi {
  /** ws://HOST:PORT/STAGE */
  readonly websocketUrl: string;
  /** http://HOST:PORT/STAGE: the endpoint to give ApiGatewayManagementApiClient. */
  readonly connectionsEndpoint: string;
  readonly apiId: string;
  readonly port: number;
  connectionIds(): string[];
  /** false simulates a regional outage: upgrades get 503 and live sockets close with 1001. */
  setAvailable(up: boolean): void;
  /** Closes every socket (1001, firing $disconnect), waits for running handlers, frees the port. */
  stop(): Promise<void>;
}

export async function startWebSocketApi(options: WebSocketApiOptions): Promise<WebSocketApi> {
  const api = new LocalWebSocketApi(WebSocketApiOptionsSchema.parse(options));
  await api.listen();
  return api;
}

// ---- Pure helpers --------------------------------------------------------------------------

const LIFECYCLE_ROUTES = new Set(['$connect', '$disconnect']);
const GOING_AWAY = { code: 1001, reason: 'Going away' };
const CLOSED_NORMALLY = { code: 1000, reason: 'Connection Closed Normally' };
const MESSAGE_TOO_BIG = { code: 1009, reason: 'Message too big' };
const SLOW_CONSUMER = { code: 1013, reason: 'Slow consumer: outbound buffer full' };
/** How long stop() lets a client answer its close frame before dropping the socket. */
const CLOSE_GRACE_MS = 1000;
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** 11 random bytes in URL-safe base64: 16 characters ending in '=', the shape of AWS connection and request ids. */
function awsStyleId(): string {
  return `${randomBytes(11).toString('base64url')}=`;
}

function randomApiId(): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
  return Array.from(randomBytes(10), (byte) => alphabet[byte % alphabet.length]).join('');
}

/** requestTime as AWS writes it: 19/Jan/2023:21:13:26 +0000 */
function clfTime(epochMs: number): string {
  const d = new Date(epochMs);
  const two = (n: number) => String(n).padStart(2, '0');
  return `${two(d.getUTCDate())}/${MONTHS[d.getUTCMonth()]}/${d.getUTCFullYear()}:${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())} +0000`;
}

/** Header maps with the client's own casing, as API Gateway passes them. */
function headerMaps(rawHeaders: string[]): Pick<WebSocketEvent, 'headers' | 'multiValueHeaders'> {
  const headers: Record<string, string> = {};
  const multiValueHeaders: Record<string, string[]> = {};
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const [name, value] = [rawHeaders[i]!, rawHeaders[i + 1]!];
    headers[name] = value;
    (multiValueHeaders[name] ??= []).push(value);
  }
  return { headers, multiValueHeaders };
}

/** Query maps, left out entirely when there is no query string, as API Gateway does. */
function queryMaps(query: URLSearchParams): Pick<WebSocketEvent, 'queryStringParameters' | 'multiValueQueryStringParameters'> {
  if (query.size === 0) return {};
  const queryStringParameters: Record<string, string> = {};
  const multiValueQueryStringParameters: Record<string, string[]> = {};
  for (const [name, value] of query) {
    queryStringParameters[name] = value;
    (multiValueQueryStringParameters[name] ??= []).push(value);
  }
  return { queryStringParameters, multiValueQueryStringParameters };
}

/** A request header's (first) value. */
function singleHeader(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name.toLowerCase()];
  return Array.isArray(value) ? value[0] : value;
}

/** An identity source's value; missing and empty both count as absent (API Gateway answers 401 without calling the authorizer). */
function identitySourceValue(source: string, req: IncomingMessage, query: URLSearchParams): string | undefined {
  const [, where, name] = IDENTITY_SOURCE.exec(source)!;
  const value = where === 'querystring' ? query.get(name!) : singleHeader(req, name!);
  return value || undefined;
}

/** Reads the route key a message selects, or undefined (non-JSON, path absent, not a string). */
function routeKeySelector(expression: string): (body: string) => string | undefined {
  const [, plain, templated] = ROUTE_SELECTION.exec(expression)!;
  const path = (plain ?? templated)!.split('.');
  return (body) => {
    let value: unknown;
    try {
      value = JSON.parse(body);
    } catch {
      return undefined;
    }
    for (const key of path) {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
      value = (value as Record<string, unknown>)[key];
    }
    return typeof value === 'string' ? value : undefined;
  };
}

const stringOrList = z.union([z.string(), z.array(z.string())]).transform((v) => (Array.isArray(v) ? v : [v]));

/** What API Gateway accepts from an authorizer; anything else is a 500 (AuthorizerConfigurationException). */
const AuthorizerResultSchema = z.object({
  principalId: z.string(),
  policyDocument: z.object({
    Version: z.string(),
    Statement: z
      .array(z.object({ Effect: z.enum(['Allow', 'Deny']), Action: stringOrList, Resource: stringOrList }))
      .min(1),
  }),
  context: z.record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.null()])).nullish(),
});

type AuthorizerResult = z.output<typeof AuthorizerResultSchema>;

/** IAM-style wildcard match: '*' any run of characters, '?' one character. */
function wildcardMatches(pattern: string, value: string, ignoreCase: boolean): boolean {
  const escape = (s: string) => s.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  const source = pattern.split('*').map((part) => part.split('?').map(escape).join('.')).join('.*');
  return new RegExp(`^${source}$`, ignoreCase ? 'i' : '').test(value);
}

/** IAM evaluation for one request: an explicit Deny wins, otherwise an Allow is needed. */
function policyAllows(policy: AuthorizerResult['policyDocument'], methodArn: string): boolean {
  const applicable = policy.Statement.filter(
    (s) =>
      s.Action.some((a) => wildcardMatches(a, 'execute-api:Invoke', true)) &&
      s.Resource.some((r) => wildcardMatches(r, methodArn, false)),
  );
  return applicable.some((s) => s.Effect === 'Allow') && !applicable.some((s) => s.Effect === 'Deny');
}

function authorizerContext(result: AuthorizerResult, integrationLatency: number): WebSocketAuthorizerContext {
  const context = Object.fromEntries(
    Object.entries(result.context ?? {}).map(([key, value]) => [key, value === null ? null : String(value)]),
  );
  return { ...context, principalId: result.principalId, integrationLatency };
}

function structuredResult(result: APIGatewayProxyResultV2 | void): { statusCode?: unknown; body?: unknown } | undefined {
  return typeof result === 'object' && result !== null ? result : undefined;
}

function toBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  return Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

function isUtf8(data: Buffer): boolean {
  try {
    utf8.decode(data);
    return true;
  } catch {
    return false;
  }
}

function refuseUpgrade(socket: Duplex, status: number): void {
  if (socket.destroyed) return;
  const body = JSON.stringify({ message: STATUS_CODES[status] ?? 'Error' });
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\n` +
      'Content-Type: application/json\r\n' +
      `Content-Length: ${Buffer.byteLength(body)}\r\n` +
      'Connection: close\r\n\r\n' +
      body,
  );
}

/** A restJson1 error: the SDK reads the error's name from x-amzn-ErrorType. */
function sendServiceError(res: ServerResponse, status: number, errorType: string, message: string): void {
  const body = JSON.stringify({ message });
  res.writeHead(status, {
    'Content-Type': 'application/json',
    'Content-Length': Buffer.byteLength(body),
    'x-amzn-ErrorType': errorType,
  });
  res.end(body);
}

// ---- The server ----------------------------------------------------------------------------

/** What the gateway knows of a connection from its upgrade request on. */
interface ConnectionInfo {
  readonly connectionId: string;
  readonly connectedAt: number;
  readonly identity: WebSocketIdentity;
  readonly domainName: string;
  readonly authorizer?: WebSocketAuthorizerContext;
}

interface Connection extends ConnectionInfo {
  readonly socket: WebSocket;
  lastActiveAt: number;
  /** Routing of this connection's messages, chained so they run in arrival order. */
  queue: Promise<void>;
  /** Set when the gateway started the close; its code and reason are what $disconnect reports. */
  closedBy?: { code: number; reason: string };
  readonly idleTimer: NodeJS.Timeout;
  readonly lifetimeTimer: NodeJS.Timeout;
}

class LocalWebSocketApi implements WebSocketApi {
  readonly apiId: string;
  private readonly server: Server;
  private readonly wss: WebSocketServer;
  private readonly routes: ReadonlyMap<string, Route>;
  private readonly selectRouteKey: (body: string) => string | undefined;
  private readonly throttle: TokenBucket;
  /** The account's new-connections-per-second quota, apart from the request throttle. */
  private readonly connectQuota: TokenBucket;
  private readonly onError: (error: unknown, where: string) => void;
  private readonly connections = new Map<string, Connection>();
  /** Upgrade sockets still in the authorizer or $connect. */
  private readonly pendingUpgrades = new Set<Duplex>();
  /** Handler invocations and message queues still running; stop() waits for them. */
  private readonly inFlight = new Set<Promise<unknown>>();
  private available = true;
  private stopping?: Promise<void>;
  private address?: AddressInfo;

  constructor(private readonly options: ParsedOptions) {
    this.apiId = options.apiId ?? randomApiId();
    this.routes = new Map(Object.entries(options.routes));
    this.selectRouteKey = routeKeySelector(options.routeSelectionExpression);
    this.throttle = new TokenBucket({ ratePerSecond: options.limits.accountRatePerSecond, burst: options.limits.accountBurst });
    const { newConnectionsPerSecond } = options.limits;
    this.connectQuota = new TokenBucket({ ratePerSecond: newConnectionsPerSecond, burst: newConnectionsPerSecond });
    this.onError =
      options.onError ?? ((error, where) => console.error(`[websocket-api ${this.apiId}] ${where} failed:`, error));
    // The frame guard enforces the message cap first; maxPayload is ws's own memory backstop.
    this.wss = new WebSocketServer({ noServer: true, maxPayload: options.limits.maxMessageBytes, perMessageDeflate: false });
    this.server = createServer((req, res) => {
      this.handleManagementRequest(req, res).catch((error: unknown) => {
        this.onError(error, '@connections');
        if (!res.headersSent) sendServiceError(res, 500, 'InternalServerErrorException', 'Internal server error');
      });
    });
    this.server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      this.track(this.handleUpgrade(req, socket, head)).catch((error: unknown) => {
        this.onError(error, 'upgrade');
        refuseUpgrade(socket, 500);
      });
    });
  }

  async listen(): Promise<void> {
    this.server.listen(this.options.port, this.options.host);
    await once(this.server, 'listening');
    this.address = this.server.address() as AddressInfo;
  }

  get port(): number {
    return this.address!.port;
  }

  private get origin(): string {
    const host = this.options.host.includes(':') ? `[${this.options.host}]` : this.options.host;
    return `${host}:${this.port}/${this.options.stage}`;
  }

  get websocketUrl(): string {
    return `ws://${this.origin}`;
  }

  get connectionsEndpoint(): string {
    return `http://${this.origin}`;
  }

  connectionIds(): string[] {
    return [...this.connections.keys()];
  }

  setAvailable(up: boolean): void {
    this.available = up;
    if (!up) for (const connection of this.connections.values()) this.close(connection, GOING_AWAY);
  }

  stop(): Promise<void> {
    this.stopping ??= this.shutDown();
    return this.stopping;
  }

  private async shutDown(): Promise<void> {
    this.available = false;
    for (const socket of this.pendingUpgrades) socket.destroy();
    await Promise.all([...this.connections.values()].map((connection) => this.closeAndWait(connection, GOING_AWAY)));
    const closed = once(this.server, 'close');
    this.server.close();
    this.server.closeAllConnections();
    await closed;
    this.wss.close();
    // A finishing handler can start another ($disconnect after an abandoned upgrade), so drain until quiet.
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }

  private track<T>(work: Promise<T>): Promise<T> {
    this.inFlight.add(work);
    const forget = () => this.inFlight.delete(work);
    work.then(forget, forget);
    return work;
  }

  private requestContext(
    info: ConnectionInfo,
    routeKey: string,
    eventType: WebSocketRequestContext['eventType'],
    ids: { requestId: string; messageId: string | null },
  ): WebSocketRequestContext {
    const now = Date.now();
    return {
      routeKey,
      messageId: ids.messageId,
      eventType,
      extendedRequestId: ids.requestId,
      requestTime: clfTime(now),
      messageDirection: 'IN',
      stage: this.options.stage,
      connectedAt: info.connectedAt,
      requestTimeEpoch: now,
      identity: info.identity,
      requestId: ids.requestId,
      domainName: info.domainName,
      connectionId: info.connectionId,
      apiId: this.apiId,
      ...(info.authorizer && { authorizer: info.authorizer }),
    };
  }

  // ---- Connect ----

  private isStagePath(pathname: string): boolean {
    return pathname === `/${this.options.stage}` || pathname === `/${this.options.stage}/`;
  }

  private async handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    // A client that vanishes mid-handshake is not a server error; ws takes over errors once upgraded.
    socket.on('error', () => {});
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (!this.isStagePath(url.pathname)) return refuseUpgrade(socket, 404);
    if (!this.available) return refuseUpgrade(socket, 503);
    if (!this.connectQuota.tryTake() || !this.throttle.tryTake()) return refuseUpgrade(socket, 429);

    this.pendingUpgrades.add(socket);
    try {
      const userAgent = req.headers['user-agent'];
      const pending: ConnectionInfo = {
        connectionId: awsStyleId(),
        connectedAt: Date.now(),
        identity: { sourceIp: (req.socket.remoteAddress ?? '').replace(/^::ffff:/, ''), ...(userAgent && { userAgent }) },
        domainName: req.headers.host ?? this.origin,
      };
      const verdict = await this.authorize(req, url.searchParams, pending);
      if ('refuse' in verdict) return refuseUpgrade(socket, verdict.refuse);
      // The client left, stop() ran or the region went down while the authorizer ran.
      if (socket.destroyed || !this.available) return refuseUpgrade(socket, 503);
      const info: ConnectionInfo = { ...pending, ...(verdict.authorizer && { authorizer: verdict.authorizer }) };

      const connectRefusal = await this.runConnectRoute(req, url.searchParams, info);
      if (connectRefusal !== undefined) return refuseUpgrade(socket, connectRefusal);
      if (!this.available || socket.destroyed) {
        // $connect accepted a connection that can no longer open: tell the backend it is gone.
        refuseUpgrade(socket, 503);
        return this.fireDisconnect(info, { code: 1006, reason: 'Connection abandoned' });
      }
      this.wss.handleUpgrade(req, socket, head, (ws) => this.open(ws, socket, info));
    } finally {
      this.pendingUpgrades.delete(socket);
    }
  }

  private async authorize(
    req: IncomingMessage,
    query: URLSearchParams,
    info: ConnectionInfo,
  ): Promise<{ refuse: number } | { authorizer?: WebSocketAuthorizerContext }> {
    const authorizer = this.options.authorizer;
    if (!authorizer) return {};
    if (authorizer.identitySource.some((source) => identitySourceValue(source, req, query) === undefined)) {
      return { refuse: 401 };
    }
    const { region, accountId, stage } = this.options;
    const methodArn = `arn:aws:execute-api:${region}:${accountId}:${this.apiId}/${stage}/$connect`;
    const event = {
      type: 'REQUEST',
      methodArn,
      ...headerMaps(req.rawHeaders),
      ...queryMaps(query),
      stageVariables: {},
      requestContext: {
        ...this.requestContext(info, '$connect', 'CONNECT', { requestId: awsStyleId(), messageId: null }),
        disconnectStatusCode: null,
      },
    };
    const started = performance.now();
    let result: unknown;
    try {
      result = await this.track(authorizer.handler(event as unknown as APIGatewayRequestAuthorizerEvent));
    } catch (error) {
      // A Lambda authorizer signals 401 by failing with exactly this message.
      if (error instanceof Error && error.message === 'Unauthorized') return { refuse: 401 };
      this.onError(error, 'authorizer');
      return { refuse: 500 };
    }
    const parsed = AuthorizerResultSchema.safeParse(result);
    if (!parsed.success) {
      this.onError(new Error(`authorizer returned an invalid result: ${z.prettifyError(parsed.error)}`), 'authorizer');
      return { refuse: 500 };
    }
    if (!policyAllows(parsed.data.policyDocument, methodArn)) return { refuse: 403 };
    return { authorizer: authorizerContext(parsed.data, Math.round(performance.now() - started)) };
  }

  /** Runs $connect; returns the status to refuse the upgrade with, or undefined to accept. */
  private async runConnectRoute(req: IncomingMessage, query: URLSearchParams, info: ConnectionInfo): Promise<number | undefined> {
    const route = this.routes.get('$connect');
    if (!route) return undefined;
    const event: WebSocketEvent = {
      ...headerMaps(req.rawHeaders),
      ...queryMaps(query),
      requestContext: {
        ...this.requestContext(info, '$connect', 'CONNECT', { requestId: awsStyleId(), messageId: null }),
        disconnectStatusCode: null,
      },
      isBase64Encoded: false,
    };
    try {
      const status = structuredResult(await this.track(route.handler(event)))?.statusCode;
      if (status === undefined) return undefined;
      if (typeof status !== 'number' || !Number.isInteger(status) || status < 200 || status > 599) {
        this.onError(new Error(`$connect returned an invalid statusCode: ${String(status)}`), '$connect');
        return 500;
      }
      return status <= 299 ? undefined : status;
    } catch (error) {
      this.onError(error, '$connect');
      return 500;
    }
  }

  private open(socket: WebSocket, raw: Duplex, info: ConnectionInfo): void {
    const { limits } = this.options;
    const connection: Connection = {
      ...info,
      socket,
      lastActiveAt: info.connectedAt,
      queue: Promise.resolve(),
      idleTimer: setTimeout(() => this.close(connection, GOING_AWAY), limits.idleTimeoutSeconds * 1000),
      lifetimeTimer: setTimeout(() => this.close(connection, GOING_AWAY), limits.maxConnectionSeconds * 1000),
    };
    this.connections.set(connection.connectionId, connection);

    // Ahead of ws's own listener, so an oversize frame is caught before ws can deliver it.
    const guard = new FrameLimitGuard(limits);
    raw.prependListener('data', (chunk: Buffer) => {
      if (guard.push(chunk)) this.close(connection, MESSAGE_TOO_BIG);
    });
    socket.on('message', (data, isBinary) => this.receive(connection, toBuffer(data), isBinary));
    // ws closes the socket itself on protocol errors; the 'close' event reports the outcome.
    socket.on('error', () => {});
    socket.on('close', (code, reason) => this.closed(connection, { code, reason: reason.toString() }));
  }

  // ---- Messages ----

  private receive(connection: Connection, payload: Buffer, isBinary: boolean): void {
    if (connection.closedBy) return;
    connection.lastActiveAt = Date.now();
    connection.idleTimer.refresh();
    const requestId = awsStyleId();
    if (!this.throttle.tryTake()) return this.sendErrorFrame(connection, 'Too Many Requests', requestId);
    // A failure here must neither end the process nor stall the connection's later messages.
    connection.queue = this.track(
      connection.queue.then(() => this.route(connection, payload, isBinary, requestId)).catch((error: unknown) => this.onError(error, 'route')),
    );
  }

  private async route(connection: Connection, payload: Buffer, isBinary: boolean, requestId: string): Promise<void> {
    // Route selection reads JSON text; binary messages, like non-JSON text, go to $default.
    const body = isBinary ? payload.toString('base64') : payload.toString('utf8');
    const selected = isBinary ? undefined : this.selectRouteKey(body);
    const routeKey = selected !== undefined && this.routes.has(selected) && !LIFECYCLE_ROUTES.has(selected) ? selected : '$default';
    const route = this.routes.get(routeKey);
    if (!route) return this.sendErrorFrame(connection, 'Forbidden', requestId);
    const event: WebSocketEvent = {
      requestContext: this.requestContext(connection, routeKey, 'MESSAGE', { requestId, messageId: awsStyleId() }),
      body,
      isBase64Encoded: isBinary,
    };
    try {
      const response = structuredResult(await route.handler(event))?.body;
      if (route.returnResponse && typeof response === 'string') this.reply(connection, response);
    } catch (error) {
      this.onError(error, routeKey);
      this.sendErrorFrame(connection, 'Internal server error', requestId);
    }
  }

  /** Rejects when the socket is not open or closes before the frame is written. */
  private send(connection: Connection, data: string | Buffer, binary = false): Promise<void> {
    if (connection.socket.readyState !== WebSocket.OPEN) return Promise.reject(new Error('connection is not open'));
    return new Promise((resolve, reject) =>
      connection.socket.send(data, { binary }, (error) => (error ? reject(error) : resolve())),
    );
  }

  /**
   * A route response or gateway error frame. API Gateway drops it when the client has left
   * meanwhile, and so do we: a client closing its socket early is ordinary, never an error.
   */
  private reply(connection: Connection, data: string): void {
    this.send(connection, data).catch(() => {});
  }

  /** API Gateway's error frame for a message it could not route. */
  private sendErrorFrame(connection: Connection, message: string, requestId: string): void {
    this.reply(connection, JSON.stringify({ message, connectionId: connection.connectionId, requestId }));
  }

  // ---- Disconnect ----

  /** Starts a gateway-side close; a no-op once the socket is closing either way. */
  private close(connection: Connection, how: { code: number; reason: string }): void {
    if (connection.closedBy || connection.socket.readyState !== WebSocket.OPEN) return;
    connection.closedBy = how;
    connection.socket.close(how.code, how.reason);
  }

  /** A client that does not read cannot answer a close frame either: it is cut off after the grace. */
  private dropSlowConsumer(connection: Connection): void {
    this.close(connection, SLOW_CONSUMER);
    setTimeout(() => connection.socket.terminate(), CLOSE_GRACE_MS).unref();
  }

  private async closeAndWait(connection: Connection, how: { code: number; reason: string }): Promise<void> {
    if (connection.socket.readyState === WebSocket.CLOSED) return;
    const closed = once(connection.socket, 'close');
    this.close(connection, how);
    const drop = setTimeout(() => connection.socket.terminate(), CLOSE_GRACE_MS);
    await closed;
    clearTimeout(drop);
  }

  private closed(connection: Connection, how: { code: number; reason: string }): void {
    clearTimeout(connection.idleTimer);
    clearTimeout(connection.lifetimeTimer);
    this.connections.delete(connection.connectionId);
    this.fireDisconnect(connection, connection.closedBy ?? how);
  }

  /** $disconnect is best effort: fired once, not awaited by anyone, its result ignored. */
  private fireDisconnect(info: ConnectionInfo, how: { code: number; reason: string }): void {
    const route = this.routes.get('$disconnect');
    if (!route) return;
    const event: WebSocketEvent = {
      headers: { Host: info.domainName, 'X-Forwarded-For': info.identity.sourceIp },
      multiValueHeaders: { Host: [info.domainName], 'X-Forwarded-For': [info.identity.sourceIp] },
      requestContext: {
        ...this.requestContext(info, '$disconnect', 'DISCONNECT', { requestId: awsStyleId(), messageId: null }),
        disconnectStatusCode: how.code,
        disconnectReason: how.reason,
      },
      isBase64Encoded: false,
    };
    this.track(route.handler(event)).catch((error: unknown) => this.onError(error, '$disconnect'));
  }

  // ---- @connections ----

  /** The connection id of /STAGE/@connections/{id}, URL-decoded, or undefined for any other path. */
  private managedConnectionId(rawUrl: string | undefined): string | undefined {
    const segments = new URL(rawUrl ?? '/', 'http://localhost').pathname.split('/');
    if (segments.length !== 4 || segments[0] !== '' || segments[1] !== this.options.stage) return undefined;
    try {
      return decodeURIComponent(segments[2]!) === '@connections' && segments[3] ? decodeURIComponent(segments[3]) : undefined;
    } catch {
      return undefined;
    }
  }

  private async handleManagementRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    res.setHeader('x-amzn-RequestId', awsStyleId());
    const connectionId = this.managedConnectionId(req.url);
    if (connectionId === undefined || !['POST', 'GET', 'DELETE'].includes(req.method ?? '')) {
      req.resume();
      return sendServiceError(res, 404, 'NotFoundException', `No route for ${req.method} ${req.url}`);
    }
    const body = await readBody(req, this.options.limits.maxMessageBytes);
    // The account throttle, or one injected for this PostToConnection (faults.ts).
    const throttled =
      !this.throttle.tryTake() || (req.method === 'POST' && this.options.faults?.throttlePost(singleHeader(req, 'amz-sdk-invocation-id')) === true);
    if (throttled) return sendServiceError(res, 429, 'LimitExceededException', 'Too Many Requests');
    if (!body) return sendServiceError(res, 413, 'PayloadTooLargeException', 'Request entity too large');
    const connection = this.connections.get(connectionId);
    if (!connection || connection.socket.readyState !== WebSocket.OPEN) {
      return sendServiceError(res, 410, 'GoneException', `Connection ${connectionId} is gone`);
    }

    if (req.method === 'POST') {
      // A client that stops reading must not hold the poster or grow the gateway without
      // bound: past the cap it is closed as a slow consumer (and gone for the poster).
      if (connection.socket.bufferedAmount + body.length > this.options.maxOutboundBufferBytes) {
        this.dropSlowConsumer(connection);
        return sendServiceError(res, 410, 'GoneException', `Connection ${connectionId} is gone: it stopped reading`);
      }
      // Answered once the frame is queued, as API Gateway answers once it has taken it: the
      // poster never waits for this client to read. PostToConnection carries raw bytes: text
      // frames for UTF-8, binary frames otherwise.
      const binary = !isUtf8(body);
      connection.socket.send(binary ? body : body.toString('utf8'), { binary }, () => {});
      res.writeHead(200, { 'Content-Length': 0 }).end();
    } else if (req.method === 'GET') {
      const info = JSON.stringify({
        connectedAt: new Date(connection.connectedAt).toISOString(),
        identity: connection.identity,
        lastActiveAt: new Date(connection.lastActiveAt).toISOString(),
      });
      res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(info) }).end(info);
    } else {
      this.close(connection, CLOSED_NORMALLY);
      res.writeHead(204).end();
    }
  }
}
