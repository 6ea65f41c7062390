import { describe, expect, it } from 'vitest';
import { regionAlarmDefinitions, type AlarmWatch } from '../lib/alarm-definitions';
import { createAlarmEvaluator, type AlarmReading, type AlarmState } from './alarms';

const definitions = regionAlarmDefinitions({
  eventClasses: ['critical'],
  deadLetterAlarms: { critical: { threshold: 0, periodMinutes: 1, evaluationPeriods: 1 } },
  fanout: false,
  functionNames: ['delivery-critical'],
  tableNames: [],
  replicaRegions: [],
});

function harness() {
  let clock = Date.parse('2026-01-01T00:00:00Z');
  const figures = new Map<AlarmWatch['kind'], AlarmReading>([
    ['deadLetters', { value: 0 }],
    ['oldestMessage', { value: 0 }],
    ['functionErrors', { value: 0 }],
    ['functionThrottles', { unavailable: 'not throttled locally' }],
    ['apiIntegrationErrors', { unavailable: 'in-process' }],
  ]);
  const changes: Array<{ name: string; state: AlarmState; previous: AlarmState }> = [];
  const evaluator = createAlarmEvaluator({
    region: 'us-east-1',
    definitions,
    read: async (watch) => figures.get(watch.kind)!,
    onChange: (status, previous) => changes.push({ name: status.name, state: status.state, previous }),
    now: () => clock,
  });
  const stateOf = (name: string) => evaluator.statuses().find((s) => s.name === name)!;
  return { evaluator, figures, changes, stateOf, advance: (ms: number) => (clock += ms) };
}

describe('local alarm evaluation', () => {
  it('GIVEN a message in the DLQ THEN criticalDeadLetters goes OK → ALARM → OK as it arrives and leaves, each change reported once', async () => {
    const { evaluator, figures, changes, stateOf } = harness();
    await evaluator.evaluate();
    figures.set('deadLetters', { value: 1 });
    await evaluator.evaluate();
    await evaluator.evaluate();
    expect(stateOf('criticalDeadLetters')).toMatchObject({ state: 'ALARM', since: '2026-01-01T00:00:00.000Z' });
    expect(stateOf('criticalDeadLetters').reason).toContain('Maximum 1 (threshold 0)');
    figures.set('deadLetters', { value: 0 });
    await evaluator.evaluate();
    expect(changes.filter((c) => c.name === 'criticalDeadLetters').map((c) => c.state)).toEqual(['OK', 'ALARM', 'OK']);
  });

  it('GIVEN an age above the threshold THEN criticalOldestMessage fires only after its 3 evaluation periods, and one good evaluation clears it', async () => {
    const { evaluator, figures, stateOf } = harness();
    await evaluator.evaluate();
    figures.set('oldestMessage', { value: 121 });
    await evaluator.evaluate();
    await evaluator.evaluate();
    expect(stateOf('criticalOldestMessage').state).toBe('OK');
    await evaluator.evaluate();
    expect(stateOf('criticalOldestMessage').state).toBe('ALARM');
    figures.set('oldestMessage', { value: 3 });
    await evaluator.evaluate();
    expect(stateOf('criticalOldestMessage').state).toBe('OK');
  });

  it('GIVEN a running error count THEN the Errors alarm counts the increase over its 5-minute period, not the total', async () => {
    const { evaluator, figures, stateOf, advance } = harness();
    figures.set('functionErrors', { value: 7 });
    await evaluator.evaluate();
    expect(stateOf('delivery-criticalErrors').state).toBe('OK');
    advance(60_000);
    figures.set('functionErrors', { value: 8 });
    await evaluator.evaluate();
    expect(stateOf('delivery-criticalErrors').state).toBe('ALARM');
    advance(5 * 60_000);
    await evaluator.evaluate();
    expect(stateOf('delivery-criticalErrors').state).toBe('OK');
  });

  it('GIVEN a figure the local cloud lacks THEN the alarm stays INSUFFICIENT_DATA with the reason why', async () => {
    const { evaluator, stateOf } = harness();
    await evaluator.evaluate();
    expect(stateOf('delivery-criticalThrottles')).toMatchObject({ state: 'INSUFFICIENT_DATA', reason: 'not throttled locally' });
  });
});
