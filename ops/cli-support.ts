import { readFile } from 'node:fs/promises';
import { InvalidArgumentError } from 'commander';
import { z } from 'zod';
import { closestAwsRegion, isAwsRegion } from '../lib/aws-regions';
import { ConfigError, loadConfig, type RelaymeshConfig } from '../lib/config';

/** Where commands write: the terminal in `relaymesh`, buffers in tests. */
export interface Io {
  out(text: string): void;
  err(text: string): void;
}

/** A failure the operator can act on: printed as its message alone, exit status 1 unless told otherwise. */
export class OpsError extends Error {
  override readonly name = 'OpsError';
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

/** The Relaymesh config from a cdk.json's `context.relaymesh`, as the CDK app and `npm start` read it. */
export async function readConfig(file: string): Promise<RelaymeshConfig> {
  let context: unknown = {};
  try {
    const cdkJson = JSON.parse(await readFile(file, 'utf8')) as { context?: { relaymesh?: unknown } };
    context = cdkJson.context?.relaymesh ?? {};
  } catch (error) {
    // No cdk.json: the defaults, as everywhere else.
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw new OpsError(`Cannot read the config from ${file}: ${(error as Error).message}`);
  }
  try {
    return loadConfig(context);
  } catch (error) {
    if (error instanceof ConfigError) throw new OpsError(`${file}: ${error.message}`);
    throw error;
  }
}

/** A commander argument parser backed by a zod schema: its first issue becomes the one-line error. */
export const parsedBy =
  <T>(schema: z.ZodType<T, string>) =>
  (value: string): T => {
    const parsed = schema.safeParse(value);
    if (!parsed.success) throw new InvalidArgumentError(parsed.error.issues[0]!.message);
    return parsed.data;
  };

const numberFrom = <T>(schema: z.ZodType<T, number>) => parsedBy(z.string().trim().min(1, 'must be a number').transform(Number).pipe(schema));
export const nonNegativeNumber = numberFrom(z.number({ error: 'must be a number' }).min(0, 'must be 0 or more'));
export const positiveNumber = numberFrom(z.number({ error: 'must be a number' }).positive('must be more than 0'));
export const positiveInteger = numberFrom(z.number({ error: 'must be a number' }).int('must be a whole number').positive('must be more than 0'));

/** `--regions us-east-1,eu-west-1`: AWS Region names, with a did-you-mean for a typo. */
export const regionList = parsedBy(
  z
    .string()
    .transform((list) => list.split(',').map((r) => r.trim()).filter(Boolean))
    .pipe(
      z
        .array(
          z.string().refine(isAwsRegion, {
            error: (issue) => {
              const guess = closestAwsRegion(String(issue.input));
              return `${String(issue.input)} is not an AWS Region${guess ? ` (did you mean ${guess}?)` : ''}`;
            },
          }),
        )
        .min(1, 'must name at least one region'),
    ),
);
