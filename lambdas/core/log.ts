/** What a log line carries beside its message: JSON values; an Error is written with its name, message and stack. */
export type LogFields = Readonly<Record<string, unknown>>;

/**
 * Port: where the core logs. lambdas/powertools.ts puts a Powertools Logger behind it, on
 * Lambda and in the local cloud alike. What it guarantees:
 * - a call writes one JSON line if its level is enabled (POWERTOOLS_LOG_LEVEL on Lambda, INFO
 *   by default; `--log-level` on the local cloud), and nothing otherwise;
 * - every line carries its level, a timestamp, the service, the region, and the function name
 *   and request id of the invocation it belongs to, beside the message and the fields;
 * - a call neither throws nor waits, so logging can neither fail nor slow a request.
 */
export interface Log {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
}

/**
 * The handler, with one debug line per invocation when it ends: its duration, what `describe`
 * says of the event, and the error when it threw. The failure itself is reported by whoever
 * invoked the handler (Lambda, or the local cloud's event sources and API), as before.
 */
export function loggedInvocations<E, R>(
  log: Log,
  handler: (event: E) => Promise<R>,
  describe: (event: E) => LogFields = () => ({}),
): (event: E) => Promise<R> {
  return async (event) => {
    const started = performance.now();
    const ended = (fields: LogFields) => log.debug('invocation', { ...describe(event), durationMs: Math.round(performance.now() - started), ...fields });
    try {
      const result = await handler(event);
      ended({});
      return result;
    } catch (error) {
      ended({ error });
      throw error;
    }
  };
}
