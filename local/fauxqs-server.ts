/**
 * The SNS and SQS server of the local cloud: fauxqs, one server for every region (it takes the
 * region from each request's SigV4 credential scope, and listings are narrowed to it). It runs
 * in a thread of its own (messaging-thread.ts).
 */
import { buildApp } from 'fauxqs';
import type { IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { z } from 'zod';

export const FauxqsServerOptionsSchema = z
  .object({
    port: z.number().int().min(0).max(65_535).default(0),
    /** Interface to listen on; loopback so the unauthenticated emulator is not on the network. */
    host: z.ipv4().default('127.0.0.1'),
  })
  .strict();

export type FauxqsServerOptions = z.input<typeof FauxqsServerOptionsSchema>;

/** Starts fauxqs, listening on `host`; resolves with its port and a stop. */
export async function startFauxqsServer(options: FauxqsServerOptions = {}): Promise<{ port: number; stop(): Promise<void> }> {
  const { port, host } = FauxqsServerOptionsSchema.parse(options);
  // buildApp + listen rather than startFauxqs, which always binds 0.0.0.0. Queue URLs come out
  // as http://sqs.<region>.localhost:<port>/...; clients use the endpoint, never resolve them.
  const app = buildApp({ logger: false });
  app.addHook('onSend', async (request: { headers: IncomingHttpHeaders; body: unknown }, _reply: unknown, payload: unknown) =>
    typeof payload === 'string' ? listingForRegion(request.headers, request.body, payload) : payload,
  );
  await app.listen({ port, host });
  const bound = (app.server.address() as AddressInfo).port;
  return { port: bound, stop: () => app.close() };
}

/** The Region a SigV4 request was signed for: `Credential=<key>/<date>/<region>/<service>/aws4_request`. */
export function signingRegion(authorization: string | undefined): string | undefined {
  return /Credential=[^/]+\/\d{8}\/([^/]+)\//.exec(authorization ?? '')?.[1];
}

/**
 * fauxqs keeps every region in one store and its ListQueues and ListTopics answer with all of
 * them; AWS answers with the signing Region's only. This narrows those two answers to the
 * Region the request was signed for (SQS's JSON protocol, SNS's query protocol), so
 * `aws sqs list-queues --region eu-west-1` lists eu-west-1's queues. Every other answer passes
 * unchanged.
 */
export function listingForRegion(headers: IncomingHttpHeaders, body: unknown, payload: string): string {
  const region = signingRegion(typeof headers.authorization === 'string' ? headers.authorization : undefined);
  if (!region) return payload;
  if (headers['x-amz-target'] === 'AmazonSQS.ListQueues') {
    let answer: { QueueUrls?: string[] };
    try {
      answer = JSON.parse(payload) as typeof answer;
    } catch {
      return payload; // an error answer fauxqs wrote otherwise: passed on as it is
    }
    if (!Array.isArray(answer.QueueUrls)) return payload;
    // fauxqs's queue URLs carry the region: http://sqs.<region>.localhost:<port>/<account>/<name>
    return JSON.stringify({ ...answer, QueueUrls: answer.QueueUrls.filter((url) => new URL(url).hostname.startsWith(`sqs.${region}.`)) });
  }
  if ((body as { Action?: unknown } | undefined)?.Action === 'ListTopics') {
    return payload.replace(/\s*<member><TopicArn>arn:aws:sns:([^:<]+):[^<]*<\/TopicArn><\/member>/g, (member, topicRegion: string) =>
      topicRegion === region ? member : '',
    );
  }
  return payload;
}

