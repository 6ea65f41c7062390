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
  /** Frames delivered to connections per second since the previous status. */
  deliveriesPerSecond: FigureSchema,
});
export type RegionStatus = z.infer<typeof RegionStatusSchema>;

export const CloudStatusSchema = z.object({ at: z.string(), regions: z.array(RegionStatusSchema) });
export type CloudStatus = z.infer<typeof CloudStatusSchema>;
