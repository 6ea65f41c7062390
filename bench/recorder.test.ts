import { describe, expect, it } from 'vitest';
import { DeliveryRecorder, deliveryKey } from './recorder';

const message = (origin: string, seq: number, id = `m-${origin}-${seq}`) => ({ type: 'message', channel: 'c', data: null, id, origin, ts: 1_000, class: 'critical', seq });
const batch = (...frames: unknown[]) => ({ type: 'batch', frames });
const keys = (...pairs: Array<[string, number]>) => pairs.map(([origin, seq]) => deliveryKey({ id: 'ignored', origin, seq }));

describe('DeliveryRecorder', () => {
  it('GIVEN every subscriber got each (origin, seq) once, alone or in a batch frame, THEN nothing is missing or duplicated', () => {
    const recorder = new DeliveryRecorder(2);
    recorder.record(0, batch(message('a', 1), message('b', 1)), 1_010);
    recorder.record(1, message('a', 1), 1_020);
    recorder.record(1, message('b', 1), 1_030);
    const summary = recorder.summary(keys(['a', 1], ['b', 1]));
    expect(summary).toMatchObject({ expected: 4, delivered: 4, missing: 0, duplicates: 0, unexpected: 0, frames: 3, events: 4 });
    expect(summary.latencyMs).toMatchObject({ count: 4, max: 30 });
  });

  it('GIVEN an (origin, seq) arrived twice at one subscriber under different ids THEN it is one duplicate: the check is by (origin, seq), not by id', () => {
    const recorder = new DeliveryRecorder(1);
    recorder.record(0, message('a', 7, 'first-id'), 1_001);
    recorder.record(0, batch(message('a', 7, 'second-id')), 1_002);
    expect(recorder.summary(keys(['a', 7]))).toMatchObject({ delivered: 1, missing: 0, duplicates: 1 });
  });

  it('GIVEN a subscriber lacks one message THEN that pair is missing, and a message nobody expected counts as unexpected', () => {
    const recorder = new DeliveryRecorder(3);
    for (const subscriber of [0, 1, 2]) recorder.record(subscriber, message('a', 1), 1_005);
    recorder.record(0, message('a', 2), 1_005);
    recorder.record(2, message('a', 3), 1_005);
    expect(recorder.summary(keys(['a', 1], ['a', 2]))).toMatchObject({ expected: 6, delivered: 4, missing: 2, duplicates: 0, unexpected: 1 });
  });

  it('GIVEN a duplicate arrives in a later phase THEN a summary of the earlier messages still counts it, while frame counts are the current phase only', () => {
    const recorder = new DeliveryRecorder(1);
    recorder.record(0, message('a', 1), 1_001);
    recorder.beginPhase();
    recorder.record(0, message('a', 1), 1_002);
    expect(recorder.delivered).toBe(0);
    expect(recorder.summary(keys(['a', 1]))).toMatchObject({ delivered: 1, duplicates: 1, frames: 1, events: 1 });
  });

  it('GIVEN unsequenced (ephemeral) events THEN they are counted by id, and frames that carry no message are ignored', () => {
    const recorder = new DeliveryRecorder(1);
    const ephemeral = { type: 'message', channel: 'c', data: 1, id: 'e-1', origin: 'a', ts: 1_000, class: 'ephemeral' };
    recorder.record(0, ephemeral, 1_001);
    recorder.record(0, { type: 'presence', event: 'join' }, 1_002);
    expect(recorder.summary([deliveryKey({ id: 'e-1' })])).toMatchObject({ delivered: 1, missing: 0, frames: 1, events: 1 });
  });

  it('GIVEN the subscribers\' regions THEN latency splits into same-region and cross-region deliveries, from the send time a message carries when it has one', () => {
    const recorder = new DeliveryRecorder(2, (subscriber) => ['a', 'b'][subscriber]!);
    recorder.record(0, message('a', 1), 1_010);
    recorder.record(1, message('a', 1), 1_040);
    recorder.record(0, { ...message('b', 1), data: { sentAt: 990 } }, 1_050);
    const { latencyMs, latencyByRoute } = recorder.summary(keys(['a', 1], ['b', 1]));
    expect(latencyMs).toMatchObject({ count: 3, max: 60 });
    expect(latencyByRoute?.sameRegion).toMatchObject({ count: 1, max: 10 });
    expect(latencyByRoute?.crossRegion).toMatchObject({ count: 2, p50: 40, max: 60 });
  });

  it('GIVEN the subscribers\' regions THEN each message\'s same-region burst is summarized: its first same-region delivery, and the time from it to the last', () => {
    const recorder = new DeliveryRecorder(3, (subscriber) => ['a', 'a', 'b'][subscriber]!);
    recorder.record(0, message('a', 1), 1_010);
    recorder.record(1, message('a', 1), 1_050);
    recorder.record(2, message('a', 1), 1_080); // cross region: no part of a's burst
    recorder.record(2, message('b', 1), 1_005);
    recorder.record(0, message('b', 1), 1_030);
    const { sameRegionBurst } = recorder.summary(keys(['a', 1], ['b', 1]));
    expect(sameRegionBurst?.firstMs).toMatchObject({ count: 2, max: 10 });
    expect(sameRegionBurst?.spreadMs).toMatchObject({ count: 2, max: 40 });
    expect(sameRegionBurst?.spreadMs?.mean).toBe(20);
  });
});
