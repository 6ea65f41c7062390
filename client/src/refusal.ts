/**
 * Why a WebSocket closed before it opened, as far as the client can tell. API Gateway refuses
 * a bad token by answering the upgrade 401 (no token, invalid or expired) or 403 (the
 * authorizer's policy denies). The `ws` package reports that status in its error message;
 * browsers hide it, and their socket just closes (1006) as it would if the server were down.
 */
export type PreOpenFailure =
  /** The token was refused: a 401/403 the socket reported, or a token already past its `exp`. */
  | { kind: 'token-refused'; status?: number; detail: string }
  /** Closed before opening with no cause given (a browser), though the service answered just before. */
  | { kind: 'hidden'; detail: string }
  /** Anything else: unreachable, throttled (429), unavailable (5xx), a handshake timeout. */
  | { kind: 'transient'; detail: string };

export interface PreOpenEvidence {
  /** The message of the socket's error event, if it had one (`ws` gives one; browsers never do). */
  errorMessage?: string;
  /** The socket closed without ever opening (rather than the client giving up on a slow handshake). */
  closedBeforeOpen: boolean;
  /** The edge answered /v1/connect in this attempt, so the service was reachable. */
  edgeAnswered: boolean;
  token: string;
  now: number;
}

const UPGRADE_STATUS = /Unexpected server response: (\d{3})/;

export function classifyPreOpenFailure(evidence: PreOpenEvidence): PreOpenFailure {
  const status = Number(UPGRADE_STATUS.exec(evidence.errorMessage ?? '')?.[1]) || undefined;
  if (status === 401 || status === 403) return { kind: 'token-refused', status, detail: `the server refused the token (HTTP ${status})` };
  const expiry = tokenExpiry(evidence.token);
  if (status === undefined && expiry !== undefined && expiry * 1000 <= evidence.now) {
    return { kind: 'token-refused', detail: `the token expired at ${new Date(expiry * 1000).toISOString()}` };
  }
  if (status === undefined && !evidence.errorMessage && evidence.closedBeforeOpen && evidence.edgeAnswered) {
    return { kind: 'hidden', detail: 'the socket closed before opening though the edge answered (a browser hides the status: most likely 401/403)' };
  }
  return { kind: 'transient', detail: evidence.errorMessage || 'the socket closed before opening' };
}

/** The `exp` (seconds since the epoch) of a JWT, read without verifying it; undefined when there is none. */
export function tokenExpiry(token: string): number | undefined {
  const payload = token.split('.')[1];
  if (payload === undefined) return undefined;
  try {
    const json: unknown = JSON.parse(atob(payload.replace(/-/g, '+').replace(/_/g, '/')));
    const exp = (json as { exp?: unknown } | null)?.exp;
    return typeof exp === 'number' ? exp : undefined;
  } catch {
    return undefined;
  }
}
