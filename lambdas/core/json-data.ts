/**
 * Rules for the `data` a client publishes. Relaymesh stores and forwards `data` as JSON text,
 * so any JSON value survives the trip (empty keys, `__proto__` and `constructor` keys, deep
 * nesting, numbers beyond DynamoDB's range) unchanged. Only what JavaScript itself cannot
 * carry exactly is refused, naming the rule, instead of being silently changed.
 */

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** Deeper `data` is refused before anything recursive (schema checks, serialization) touches it. */
export const MAX_DATA_DEPTH = 64;

/** The first rule `value` breaks, or undefined. Iterative, so no input can exhaust the stack. */
export function dataDepthProblem(value: unknown): string | undefined {
  const stack: Array<{ value: unknown; depth: number }> = [{ value, depth: 1 }];
  while (stack.length > 0) {
    const { value: current, depth } = stack.pop()!;
    if (typeof current !== 'object' || current === null) continue;
    if (depth > MAX_DATA_DEPTH) return `nests deeper than ${MAX_DATA_DEPTH} levels`;
    for (const child of Array.isArray(current) ? current : Object.values(current)) stack.push({ value: child, depth: depth + 1 });
  }
  return undefined;
}

/** A JSON number token. */
const NUMBER = /-?(?:0|[1-9]\d*)(?:\.(\d+))?(?:[eE][+-]?\d+)?/y;

/**
 * Scans raw JSON text (outside strings) for numbers that JSON.parse would change: integers
 * written out beyond ±2^53 (their last digits are lost), values beyond ±1.8e308 (they become
 * Infinity, then null) and non-zero values below 5e-324 (they become 0).
 */
export function numberProblem(text: string): string | undefined {
  for (let i = 0; i < text.length; i++) {
    const char = text[i]!;
    if (char === '"') {
      for (i++; i < text.length && text[i] !== '"'; i++) if (text[i] === '\\') i++;
      continue;
    }
    if (char !== '-' && (char < '0' || char > '9')) continue;
    NUMBER.lastIndex = i;
    const token = NUMBER.exec(text)?.[0];
    if (!token) continue;
    i += token.length - 1;
    const value = Number(token);
    if (!Number.isFinite(value)) return `the number ${abbreviate(token)} is beyond ±1.8e308`;
    if (value === 0 && /[1-9]/.test(token.replace(/[eE].*$/, ''))) return `the number ${abbreviate(token)} is too small to be told from 0`;
    if (/^-?\d+$/.test(token) && !Number.isSafeInteger(value)) {
      return `the integer ${abbreviate(token)} is beyond ±2^53 (9007199254740991) and would lose digits; send it as a string`;
    }
  }
  return undefined;
}

const abbreviate = (token: string) => (token.length > 24 ? `${token.slice(0, 20)}…` : token);
