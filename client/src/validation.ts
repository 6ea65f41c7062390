import * as z from 'zod/mini';
import en from 'zod/v4/locales/en.js';

// zod/mini leaves messages out to stay small; English ones are passed per parse rather than
// set globally, so an app's own zod locale is left alone.
const english = en().localeError;

/** Parses `value`, or says what is wrong with it, each issue prefixed with its path (`root` for the value itself). */
export function validate<S extends z.ZodMiniType>(schema: S, value: unknown, root: string): { data: z.output<S> } | { problem: string } {
  const parsed = schema.safeParse(value, { error: english });
  if (parsed.success) return { data: parsed.data };
  return { problem: parsed.error.issues.map((issue) => `${issue.path.join('.') || root}: ${issue.message}`).join('; ') };
}
