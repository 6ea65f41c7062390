import { z } from 'zod';
import { EVENT_CLASSES } from '../lib/config';

/**
 * What `GET /status` on the local cloud's edge answers and `relaymesh status` prints: one entry
 * per region. A figure the source cannot give (on AWS, e.g. connection counts) is `{ na: reason }`.
 */

export const FigureSchema = z.union([z.number(), z.object({ na: z.string() })]);
export type Figure = z.infer<typeof FigureSchema>;

export const AlarmStateSchema = z.object({
  name: z.string(),
  state: z.enum(['OK', 'ALARM', 'INSUFFICIENT_DATA']),
  reason: z.string(),
  since: z.string(),
});

export const RegionStatusSchema = z.object({
  region: z.string(),
  /** The region's edge /health answer: whether it passed, and its status code or failure. */
  health: z.object({ healthy: z.boolean(), detail: z.string() }).or(z.object({ na: z.string() })),
  drained: z.boolean().or(z.object({ na: z.string() })),
  failed: z.boolean().or(z.object({ na: z.string() })),
  connections: FigureSchema,
  subscriptions: FigureSchema,
  queues: z.array(
    z.object({
      eventClass: z.enum(EVENT_CLASSES),
      visible: FigureSchema,
      inFlight: FigureSchema,
      oldestAgeSeconds: FigureSchema,
      deadLetters: FigureSchema,
    }),
  ),
  alarms: z.array(AlarmStateSchema),
  /** Age of the oldest change waiting to be replicated into this region. */
  replicationLagMs: FigureSchema,
  /** Frames delivered to connections per second over the last few seconds of the cloud's own samples. */
  deliveriesPerSecond: FigureSchema,
});
export type RegionStatus = z.infer<typeof RegionStatusSchema>;

export const CloudStatusSchema = z.object({ at: z.string(), regions: z.array(RegionStatusSchema) });
export type CloudStatus = z.infer<typeof CloudStatusSchema>;

/**
 * What `GET /status/history` on the local cloud's edge answers: the cloud's own samples of the
 * last two minutes, one every `intervalMs`, oldest first, for the dashboard's charts. A point's
 * rate is over the interval that ends at `at`.
 */
export const StatusHistorySchema = z.object({
  intervalMs: z.number().int().positive(),
  points: z.array(
    z.object({
      at: z.string(),
      regions: z.record(z.string(), z.object({ deliveriesPerSecond: z.number().nonnegative(), queueDepth: z.number().int().nonnegative() })),
    }),
  ),
});
export type StatusHistory = z.infer<typeof StatusHistorySchema>;
