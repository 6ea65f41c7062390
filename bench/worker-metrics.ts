import type { EventClass } from '../lib/config';
import { ratio } from './stats';

/** Counters by name, e.g. { records, subscribers, posted, gone, failed, expired, delivered, itemsRead, frames }. */
export type Counters = Record<string, number>;

/** The delivery workers' counters of one event class, summed over regions (keys `<region>/<eventClass>`). */
export function workerCounters(metrics: Record<string, Counters>, regions: readonly string[], eventClass: EventClass): Counters {
  const sum: Counters = {};
  for (const region of regions) {
    for (const [name, value] of Object.entries(metrics[`${region}/${eventClass}`] ?? {})) sum[name] = (sum[name] ?? 0) + value;
  }
  return sum;
}

/** What the counters grew by between two snapshots. */
export function countersSince(after: Counters, before: Counters): Counters {
  return Object.fromEntries(Object.entries(after).map(([name, value]) => [name, value - (before[name] ?? 0)]));
}

export interface PerDeliveredEvent {
  /** The denominator: event × connection deliveries. */
  delivered: number;
  deliveredSource: 'worker "delivered"' | 'client-side count';
  itemsReadPerEvent?: number;
  itemsReadSource: 'worker "itemsRead"' | 'worker "subscribers" (subscription items only)';
  postsPerEvent?: number;
  /** WebSocket frames the workers sent per delivered event, when they report `frames`. */
  framesPerEvent?: number;
}

/**
 * DynamoDB items read and PostToConnection calls per delivered event. Uses the workers'
 * `delivered`/`itemsRead` where they report them, else what is always there (`subscribers`,
 * and the deliveries the clients counted), and says which.
 */
export function perDeliveredEvent(worker: Counters, clientDelivered: number): PerDeliveredEvent {
  const delivered = worker.delivered ?? clientDelivered;
  const itemsRead = worker.itemsRead ?? worker.subscribers ?? 0;
  return {
    delivered,
    deliveredSource: worker.delivered === undefined ? 'client-side count' : 'worker "delivered"',
    itemsReadPerEvent: ratio(itemsRead, delivered),
    itemsReadSource: worker.itemsRead === undefined ? 'worker "subscribers" (subscription items only)' : 'worker "itemsRead"',
    postsPerEvent: ratio(worker.posted ?? 0, delivered),
    framesPerEvent: worker.frames === undefined ? undefined : ratio(worker.frames, delivered),
  };
}
