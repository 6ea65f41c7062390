import { PostToConnectionCommand, type ApiGatewayManagementApiClient } from '@aws-sdk/client-apigatewaymanagementapi';

/** What became of one PostToConnection. */
export type PostOutcome = 'ok' | 'gone' | 'throttled' | 'failed';

/**
 * Port: posts one frame to one connection. Guarantees: never throws, and never takes longer
 * than its timeout, so one slow or stuck connection cannot hold a worker slot; `gone` means
 * the connection no longer exists (API Gateway 410) and will never accept a post again;
 * `throttled` and `failed` mean the frame did not arrive and a later try may succeed.
 */
export interface ConnectionPoster {
  post(connectionId: string, payload: Uint8Array): Promise<PostOutcome>;
}

/** The API Gateway management API adapter; the SDK's own retries happen within `timeoutMs`. */
export function apiGatewayPoster(client: ApiGatewayManagementApiClient, timeoutMs: number): ConnectionPoster {
  return {
    async post(connectionId, payload) {
      try {
        await client.send(new PostToConnectionCommand({ ConnectionId: connectionId, Data: payload }), { abortSignal: AbortSignal.timeout(timeoutMs) });
        return 'ok';
      } catch (error) {
        const name = (error as Error).name;
        if (name === 'GoneException') return 'gone';
        if (name === 'LimitExceededException' || name === 'ThrottlingException' || name === 'TooManyRequestsException') return 'throttled';
        return 'failed';
      }
    },
  };
}
