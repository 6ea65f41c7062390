import { createHash } from 'node:crypto';
import type { ApiGatewayManagementApiClient } from '@aws-sdk/client-apigatewaymanagementapi';
import { extendedEncodeURIComponent } from '@smithy/core/protocols';
import type { HttpRequest, HttpResponse } from '@smithy/types';

/** What became of one PostToConnection. */
export type PostOutcome = 'ok' | 'gone' | 'throttled' | 'failed';

/**
 * Port: posts one frame to one connection. Guarantees: never throws, and never takes longer
 * than its timeout, so one slow or stuck connection cannot hold a worker slot; `gone` means
 * the connection no longer exists (API Gateway 410) and will never accept a post again;
 * `throttled` and `failed` mean the frame did not arrive and a later try may succeed. One
 * call is one attempt: callers retry with their own backoff.
 */
export interface ConnectionPoster {
  post(connectionId: string, payload: Uint8Array): Promise<PostOutcome>;
}

/** The error types API Gateway throttles a PostToConnection with (HTTP 429). */
const THROTTLES = new Set(['LimitExceededException', 'ThrottlingException', 'TooManyRequestsException']);

/**
 * The API Gateway management API adapter: PostToConnection as one request signed by the
 * client's own SigV4 signer (its credentials, region and signing name) and sent through the
 * client's own request handler (its keep-alive sockets, sized to the delivery concurrency, and
 * its timeouts). It bypasses the client's command pipeline, whose middleware stack, resolved
 * anew for every call, serializer, retry strategy and deserializer took about two thirds of the
 * CPU of a post (npm run bench -- --compare-sample; the Benchmark section of the README); a
 * delivery worker is little else but posts. `endpoint` is the one the client was built with
 * (https://{api}.execute-api.{region}.amazonaws.com/{stage}); the answer is told by its status.
 */
export function apiGatewayPoster(client: ApiGatewayManagementApiClient, endpoint: string, timeoutMs: number): ConnectionPoster {
  const url = new URL(endpoint);
  const base = {
    method: 'POST',
    protocol: url.protocol,
    hostname: url.hostname,
    ...(url.port && { port: Number(url.port) }),
    query: {},
  };
  const stagePath = url.pathname.replace(/\/+$/, '');
  let signer: ReturnType<typeof client.config.signer> | undefined;
  // A batch's frame goes to every subscriber as one payload: hashed once, the signer then takes
  // the hash from x-amz-content-sha256 (SigV4's own header for it) instead of hashing per post.
  const payloadHashes = new WeakMap<Uint8Array, string>();
  const payloadHash = (payload: Uint8Array) => {
    let hash = payloadHashes.get(payload);
    if (hash === undefined) payloadHashes.set(payload, (hash = createHash('sha256').update(payload).digest('hex')));
    return hash;
  };
  return {
    async post(connectionId, payload) {
      try {
        const request: HttpRequest = {
          ...base,
          path: `${stagePath}/@connections/${extendedEncodeURIComponent(connectionId)}`,
          headers: {
            host: url.host,
            'content-type': 'application/octet-stream',
            'content-length': String(payload.byteLength),
            'x-amz-content-sha256': payloadHash(payload),
          },
          body: payload,
        };
        const signed = await (await (signer ??= client.config.signer())).sign(request);
        // requestTimeout bounds the whole attempt, a wait for a free socket included.
        const { response } = (await client.config.requestHandler.handle(signed, { requestTimeout: timeoutMs })) as { response: HttpResponse };
        await drain(response);
        if (response.statusCode >= 200 && response.statusCode < 300) return 'ok';
        if (response.statusCode === 410) return 'gone';
        if (response.statusCode === 429 || THROTTLES.has(String(response.headers['x-amzn-errortype'] ?? '').split(':')[0]!)) return 'throttled';
        return 'failed';
      } catch {
        return 'failed';
      }
    },
  };
}

/** Reads the answer's body to its end, so its keep-alive socket is free again for the next post. */
async function drain(response: HttpResponse): Promise<void> {
  const body = response.body as NodeJS.ReadableStream | undefined;
  if (body) await new Promise((done) => body.once('end', done).once('close', done).once('error', done).resume());
}
