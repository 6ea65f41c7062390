import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApiGatewayManagementApiClient, PostToConnectionCommand } from '@aws-sdk/client-apigatewaymanagementapi';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiGatewayPoster } from './poster';
import { httpHandlerOptions } from './runtime';

interface Received {
  method?: string;
  url?: string;
  headers: IncomingMessage['headers'];
  body: string;
  /** The client's port: one per socket. */
  port?: number;
}

// A stand-in for the @connections endpoint: answers each request as `answer` says, and keeps what it got.
let server: Server;
let endpoint: string;
const received: Received[] = [];
let answer: (res: ServerResponse) => void = (res) => res.writeHead(200, { 'Content-Length': 0 }).end();

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      received.push({ method: req.method, url: req.url, headers: req.headers, body: Buffer.concat(chunks).toString(), port: req.socket.remotePort });
      answer(res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}/live`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

const client = () =>
  new ApiGatewayManagementApiClient({
    region: 'eu-west-1',
    endpoint,
    credentials: { accessKeyId: 'AKIDTEST', secretAccessKey: 'secret' },
    requestHandler: httpHandlerOptions(4),
  });

const serviceError = (status: number, type: string) => (res: ServerResponse) =>
  res.writeHead(status, { 'Content-Type': 'application/json', 'x-amzn-ErrorType': type }).end(JSON.stringify({ message: type }));

describe('apiGatewayPoster', () => {
  it('sends the request the SDK would send: path, body, content type and a SigV4 signature for execute-api in the region', async () => {
    answer = (res) => res.writeHead(200, { 'Content-Length': 0 }).end();
    const id = "AbC-12=+/!'()*";
    received.length = 0;
    await client().send(new PostToConnectionCommand({ ConnectionId: id, Data: Buffer.from('{"type":"message"}') }));
    expect(await apiGatewayPoster(client(), endpoint, 1000).post(id, Buffer.from('{"type":"message"}'))).toBe('ok');
    const [sdk, ours] = received;
    expect(ours).toMatchObject({ method: sdk!.method, url: sdk!.url, body: sdk!.body });
    expect(ours!.url).toBe('/live/@connections/AbC-12%3D%2B%2F%21%27%28%29%2A');
    expect(ours!.headers['content-type']).toBe(sdk!.headers['content-type']);
    const scope = (headers: IncomingMessage['headers']) => /Credential=AKIDTEST\/\d{8}\/([^/]+\/[^/]+)\/aws4_request/.exec(headers.authorization ?? '')?.[1];
    expect(scope(ours!.headers)).toBe('eu-west-1/execute-api');
    expect(scope(ours!.headers)).toBe(scope(sdk!.headers));
    // The payload's hash, computed once per frame, is what the signature covers.
    expect(ours!.headers['x-amz-content-sha256']).toBe(createHash('sha256').update('{"type":"message"}').digest('hex'));
    expect(/SignedHeaders=([^,]+)/.exec(ours!.headers.authorization ?? '')?.[1]?.split(';')).toContain('x-amz-content-sha256');
  });

  it('tells ok, gone, throttled and failed apart by the answer', async () => {
    const poster = apiGatewayPoster(client(), endpoint, 1000);
    const cases: Array<[(res: ServerResponse) => void, string]> = [
      [(res) => res.writeHead(200, { 'Content-Length': 0 }).end(), 'ok'],
      [serviceError(410, 'GoneException'), 'gone'],
      [serviceError(429, 'LimitExceededException'), 'throttled'],
      [serviceError(400, 'ThrottlingException'), 'throttled'],
      [serviceError(403, 'ForbiddenException'), 'failed'],
      [serviceError(413, 'PayloadTooLargeException'), 'failed'],
      [serviceError(500, 'InternalServerErrorException'), 'failed'],
      [(res) => res.socket?.destroy(), 'failed'],
    ];
    for (const [respond, outcome] of cases) {
      answer = respond;
      expect(await poster.post('c1', Buffer.from('x'))).toBe(outcome);
    }
  });

  it('gives up on a connection that never answers within its timeout, and reuses its keep-alive sockets otherwise', async () => {
    const poster = apiGatewayPoster(client(), endpoint, 200);
    answer = () => {};
    const started = Date.now();
    expect(await poster.post('c1', Buffer.from('x'))).toBe('failed');
    expect(Date.now() - started).toBeLessThan(2000);

    answer = (res) => res.writeHead(200, { 'Content-Length': 0 }).end();
    received.length = 0;
    for (let i = 0; i < 5; i++) expect(await poster.post(`c${i}`, Buffer.from('x'))).toBe('ok');
    expect(received).toHaveLength(5);
    expect(new Set(received.map((r) => r.port)).size).toBe(1);
  });
});
