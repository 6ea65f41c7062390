import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ALBEvent, ALBResult } from 'aws-lambda';
import { z } from 'zod';
import { readBody } from './http';

export type EdgeHandler = (event: ALBEvent) => Promise<ALBResult>;

export interface EdgeServerOptions {
  /** Regions in order of proximity to an unhinted client (the config order). */
  regions: ReadonlyArray<{ region: string; handler: EdgeHandler }>;
  host?: string;
  /** 0 or absent: a free port. */
  port?: number;
  /** How often each region's /health is probed, as a Global Accelerator health check does. */
  healthCheckIntervalMs?: number;
  /** A probe unanswered this long fails, as the ALB's health-check timeout does (a frozen DynamoDB must drain the region). */
  healthCheckTimeoutMs?: number;
  /** Answers `GET /status` on the edge itself (not forwarded to a region): the local cloud's figures for `relaymesh status`. */
  status?: () => Promise<unknown>;
  /** Answers `GET /status/history` on the edge itself: the cloud's recent samples, for the dashboard's charts. */
  statusHistory?: () => unknown;
  /** Files served on the edge itself by their path (the dashboard's page and script), on GET. */
  files?: Readonly<Record<string, EdgeFile>>;
  /**
   * Game-day controls answered on the edge itself at `POST /control/<region>/<action>` (not
   * forwarded): what the dashboard's buttons and `relaymesh gameday` call. A loopback-only
   * admin surface of the local cloud; on AWS the SSM drain flag and the accelerator's
   * traffic dial play this part.
   */
  control?: RegionControl;
}

export interface EdgeFile {
  contentType: string;
  body: string;
}

export const REGION_ACTIONS = ['drain', 'undrain', 'fail', 'restore'] as const;
export type RegionAction = (typeof REGION_ACTIONS)[number];
/** Each action rejects with a message for the operator (an unknown region, say). */
export type RegionControl = Record<RegionAction, (region: string) => Promise<void>>;
const RegionActionSchema = z.enum(REGION_ACTIONS);

export interface EdgeServer {
  url: string;
  port: number;
  /** The regions whose last health check passed. */
  healthyRegions(): string[];
  /** Each region's last /health answer: its status code, or why it had none. */
  lastHealth(): Record<string, string>;
  /** Probes every region now instead of waiting for the next interval. */
  checkHealth(): Promise<void>;
  stop(): Promise<void>;
}

const MAX_BODY_BYTES = 256 * 1024;
const NEAR_PREFIX = /^\/near\/([^/]+)(\/.*)$/;

/**
 * The local stand-in for Global Accelerator in front of each region's ALB + edge Lambda:
 * one port, health checks on every region's /health, and each request forwarded to the
 * nearest healthy region. "Nearest" has no geography on loopback: it is the config order,
 * or the region a client names to play a user elsewhere: in the `x-relaymesh-near` header,
 * or as a path prefix (`<edge>/near/<region>/v1/connect`), so an SDK given the edge URL
 * `<edge>/near/<region>` needs no header of its own.
 */
export async function startEdgeServer(options: EdgeServerOptions): Promise<EdgeServer> {
  const healthy = new Set<string>();
  const lastHealth: Record<string, string> = {};
  const byRegion = new Map(options.regions.map((r) => [r.region, r.handler]));

  const checkHealth = async () => {
    await Promise.all(
      options.regions.map(async ({ region, handler }) => {
        const timeout = new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), options.healthCheckTimeoutMs ?? 2000).unref());
        const result = await Promise.race([handler(albEvent('GET', '/health', {}, {}, '')).catch(() => undefined), timeout]);
        if (result?.statusCode === 200) healthy.add(region);
        else healthy.delete(region);
        lastHealth[region] = result ? `HTTP ${result.statusCode}` : 'no answer within the timeout';
      }),
    );
  };

  const pickRegion = (near: string | undefined): string | undefined => {
    const order = options.regions.map((r) => r.region);
    const preferred = near && byRegion.has(near) ? [near, ...order.filter((r) => r !== near)] : order;
    return preferred.find((r) => healthy.has(r));
  };

  const server = createServer((req, res) => {
    void serve(req, res).catch((error: unknown) => send(res, 500, { message: `edge failure: ${String(error)}` }));
  });

  async function serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = (await readBody(req, MAX_BODY_BYTES))?.toString('utf8');
    if (body === undefined) return send(res, 413, { message: `Request body exceeds ${MAX_BODY_BYTES} bytes` });
    const url = new URL(req.url ?? '/', 'http://edge');
    if (options.status && req.method === 'GET' && url.pathname === '/status') return send(res, 200, await options.status());
    if (options.statusHistory && req.method === 'GET' && url.pathname === '/status/history') return send(res, 200, options.statusHistory());
    const file = req.method === 'GET' ? options.files?.[url.pathname] : undefined;
    if (file) {
      res.writeHead(200, { 'content-type': file.contentType, 'cache-control': 'no-cache' });
      return void res.end(file.body);
    }
    if (options.control && url.pathname.startsWith('/control/')) return control(options.control, req.method, url.pathname, res);
    const hinted = NEAR_PREFIX.exec(url.pathname);
    const path = hinted ? hinted[2]! : url.pathname;
    const near = hinted ? hinted[1] : headerValue(req.headers['x-relaymesh-near']);
    const region = pickRegion(near);
    if (!region) return send(res, 503, { message: 'No healthy region' });
    const query = Object.fromEntries(url.searchParams);
    const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, headerValue(v) ?? '']));
    const result = await byRegion.get(region)!(albEvent(req.method ?? 'GET', path, query, headers, body));
    res.writeHead(result.statusCode, { ...(result.headers as Record<string, string>), 'x-relaymesh-region': region });
    res.end(result.isBase64Encoded ? Buffer.from(result.body ?? '', 'base64') : result.body ?? '');
  }

  await checkHealth();
  const timer = setInterval(() => void checkHealth(), options.healthCheckIntervalMs ?? 1000);
  timer.unref();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', resolve);
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${options.host ?? '127.0.0.1'}:${port}`,
    port,
    healthyRegions: () => options.regions.map((r) => r.region).filter((r) => healthy.has(r)),
    lastHealth: () => ({ ...lastHealth }),
    checkHealth,
    stop: async () => {
      clearInterval(timer);
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

async function control(actions: RegionControl, method: string | undefined, path: string, res: ServerResponse): Promise<void> {
  const [, , region, actionName, ...rest] = path.split('/');
  const action = RegionActionSchema.safeParse(actionName);
  if (!region || !action.success || rest.length > 0) {
    return send(res, 404, { message: `Unknown control ${path}: use POST /control/<region>/<${REGION_ACTIONS.join('|')}>` });
  }
  if (method !== 'POST') return send(res, 405, { message: `${path} takes POST` });
  try {
    await actions[action.data](decodeURIComponent(region));
  } catch (error) {
    return send(res, 400, { message: (error as Error).message });
  }
  send(res, 200, { region, action: action.data });
}

function albEvent(httpMethod: string, path: string, query: Record<string, string>, headers: Record<string, string>, body: string): ALBEvent {
  return {
    requestContext: { elb: { targetGroupArn: 'arn:aws:elasticloadbalancing:local:000000000000:targetgroup/relaymesh-edge/local' } },
    httpMethod,
    path,
    queryStringParameters: query,
    headers,
    body,
    isBase64Encoded: false,
  };
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(',') : value;
}

function send(res: ServerResponse, status: number, body: unknown): void {
  if (res.headersSent) return void res.end();
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}
