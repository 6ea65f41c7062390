/**
 * The error catalogue: every error a client can receive, with a stable numeric code.
 * Codes never change meaning once released; clients branch on `code` and `retryable`,
 * never on the message text. 40xx: the frame is wrong; 43xx: not allowed; 42xx: a limit;
 * 50xx: our side, retry with backoff.
 */
export const ERRORS = {
  INVALID_JSON: { code: 4000, retryable: false, message: 'Frame is not valid JSON' },
  UNKNOWN_ACTION: { code: 4001, retryable: false, message: 'Unknown action' },
  INVALID_FRAME: { code: 4002, retryable: false, message: 'Frame does not match the protocol' },
  INVALID_CHANNEL: { code: 4003, retryable: false, message: 'Invalid channel name' },
  DATA_TOO_LARGE: { code: 4004, retryable: false, message: 'Data is too large' },
  INVALID_DATA: { code: 4005, retryable: false, message: 'Data cannot be carried exactly' },
  UNAUTHORIZED: { code: 4010, retryable: false, message: 'Missing or invalid credentials' },
  FORBIDDEN_SUBSCRIBE: { code: 4301, retryable: false, message: 'Token does not allow subscribing to this channel' },
  FORBIDDEN_PUBLISH: { code: 4302, retryable: false, message: 'Token does not allow publishing to this channel' },
  TOO_MANY_SUBSCRIPTIONS: { code: 4201, retryable: false, message: 'Subscription limit reached for this connection' },
  RATE_LIMITED: { code: 4290, retryable: true, message: 'Too many requests on this connection' },
  REPLAYS_BUSY: { code: 4291, retryable: true, message: 'Too many recoveries running in this region' },
  CONNECTION_UNKNOWN: { code: 4100, retryable: true, message: 'Connection is not registered; reconnect' },
  INTERNAL: { code: 5000, retryable: true, message: 'Internal error' },
  UNAVAILABLE: { code: 5030, retryable: true, message: 'Service temporarily unavailable' },
} as const;

export type ErrorName = keyof typeof ERRORS;

/** A failure the protocol reports to the client as an error frame. */
export class ProtocolError extends Error {
  override readonly name = 'ProtocolError';
  readonly code: number;
  readonly retryable: boolean;

  constructor(
    readonly kind: ErrorName,
    detail?: string,
    /** A failed publish's message id: retrying with it is safe (see publish-claim.ts). */
    readonly messageId?: string,
    /** How long to wait before retrying, when the server knows. */
    readonly retryAfterMs?: number,
  ) {
    const entry = ERRORS[kind];
    super(detail ? `${entry.message}: ${detail}` : entry.message);
    this.code = entry.code;
    this.retryable = entry.retryable;
  }
}
