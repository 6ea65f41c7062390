import { createHash, createHmac } from 'node:crypto';
import type { ApiGatewayManagementApiClient } from '@aws-sdk/client-apigatewaymanagementapi';
import type { AwsCredentialIdentity, HttpRequest, HttpResponse } from '@smithy/types';

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
 * The API Gateway management API adapter: PostToConnection as one SigV4-signed request, sent
 * through the client's own request handler (its keep-alive sockets, sized to the delivery
 * concurrency, and its timeouts) with the client's own credentials and region. A delivery worker
 * is little else but posts, and the client's command pipeline (a middleware stack resolved anew
 * for every call, serializer, retry strategy, deserializer) took about two thirds of a post's
 * CPU; the general-purpose signer then took half of what was left (npm run bench --
 * --compare-sample; the README's Benchmark section). `endpoint` is the one the client was built
 * with (https://{api}.execute-api.{region}.amazonaws.com/{stage}); the answer is told by its status.
 */
export function apiGatewayPoster(client: ApiGatewayManagementApiClient, endpoint: string, timeoutMs: number): ConnectionPoster {
  const url = new URL(endpoint);
  const stagePath = url.pathname.replace(/\/+$/, '');
  let signer: Promise<PostSigner> | undefined;
  return {
    async post(connectionId, payload) {
      try {
        const path = `${stagePath}/@connections/${escapeUri(connectionId)}`;
        signer ??= client.config.region().then((region) => new PostSigner(url.host, region, () => client.config.credentials()));
        const request: HttpRequest = {
          method: 'POST',
          protocol: url.protocol,
          hostname: url.hostname,
          ...(url.port && { port: Number(url.port) }),
          path,
          query: {},
          headers: await (await signer).headers(path, payload),
          body: payload,
        };
        // requestTimeout bounds the whole attempt, a wait for a free socket included.
        const { response } = (await client.config.requestHandler.handle(request, { requestTimeout: timeoutMs })) as { response: HttpResponse };
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

const SERVICE = 'execute-api';
const CONTENT_TYPE = 'application/octet-stream';

/**
 * AWS Signature Version 4 for exactly this request (POST, no query, these headers), as the SDK's
 * signer computes it (poster.test.ts checks they agree): the signing key is derived once a day,
 * and a frame posted to every subscriber of a channel is hashed once, not once per post.
 */
export class PostSigner {
  private key?: { scope: string; accessKeyId: string; secretAccessKey: string; value: Buffer };
  private readonly payloadHashes = new WeakMap<Uint8Array, string>();

  constructor(
    private readonly host: string,
    private readonly region: string,
    private readonly credentials: () => Promise<AwsCredentialIdentity>,
  ) {}

  /** The request's headers, Authorization included; `path` as sent (its segments URI-encoded once). */
  async headers(path: string, payload: Uint8Array, now = new Date()): Promise<Record<string, string>> {
    const { accessKeyId, secretAccessKey, sessionToken } = await this.credentials();
    const amzDate = now.toISOString().replace(/[-:]|\.\d{3}/g, '');
    const scope = `${amzDate.slice(0, 8)}/${this.region}/${SERVICE}/aws4_request`;
    const payloadHash = this.payloadHash(payload);
    // The headers the SDK's signer signs for this request, x-amz-content-sha256 included.
    const headers: Record<string, string> = {
      'content-length': String(payload.byteLength),
      'content-type': CONTENT_TYPE,
      host: this.host,
      'x-amz-content-sha256': payloadHash,
      'x-amz-date': amzDate,
      ...(sessionToken && { 'x-amz-security-token': sessionToken }),
    };
    // Already in name order, and none of the values has spaces to fold.
    const signed = Object.keys(headers).join(';');
    const canonicalRequest = [
      'POST',
      // Every segment encoded again, as SigV4 wants for every service but S3.
      path.split('/').map(escapeUri).join('/'),
      '',
      ...Object.entries(headers).map(([name, value]) => `${name}:${value}`),
      '',
      signed,
      payloadHash,
    ].join('\n');
    const stringToSign = `AWS4-HMAC-SHA256\n${amzDate}\n${scope}\n${createHash('sha256').update(canonicalRequest).digest('hex')}`;
    const signature = createHmac('sha256', this.signingKey(scope, accessKeyId, secretAccessKey)).update(stringToSign).digest('hex');
    headers.authorization = `AWS4-HMAC-SHA256 Credential=${accessKeyId}/${scope}, SignedHeaders=${signed}, Signature=${signature}`;
    return headers;
  }

  private payloadHash(payload: Uint8Array): string {
    let hash = this.payloadHashes.get(payload);
    if (hash === undefined) this.payloadHashes.set(payload, (hash = createHash('sha256').update(payload).digest('hex')));
    return hash;
  }

  private signingKey(scope: string, accessKeyId: string, secretAccessKey: string): Buffer {
    const key = this.key;
    if (key && key.scope === scope && key.accessKeyId === accessKeyId && key.secretAccessKey === secretAccessKey) return key.value;
    const value = scope.split('/').reduce<Buffer | string>((k, part) => createHmac('sha256', k).update(part).digest(), `AWS4${secretAccessKey}`) as Buffer;
    this.key = { scope, accessKeyId, secretAccessKey, value };
    return value;
  }
}

/** RFC 3986 encoding, as the SDK encodes a path label and SigV4 a canonical path segment. */
const escapeUri = (text: string) => encodeURIComponent(text).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

/** Reads the answer's body to its end, so its keep-alive socket is free again for the next post. */
async function drain(response: HttpResponse): Promise<void> {
  const body = response.body as NodeJS.ReadableStream | undefined;
  if (body) await new Promise((done) => body.once('end', done).once('close', done).once('error', done).resume());
}
