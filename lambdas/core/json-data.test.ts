import { describe, expect, it } from 'vitest';
import { MAX_DATA_DEPTH, dataDepthProblem, numberProblem } from './json-data';

const nested = (depth: number) => JSON.parse(`${'['.repeat(depth)}${']'.repeat(depth)}`);

describe('dataDepthProblem', () => {
  it(`accepts ${MAX_DATA_DEPTH} levels and refuses one more, without recursion even at 100,000 levels`, () => {
    expect(dataDepthProblem(nested(MAX_DATA_DEPTH))).toBeUndefined();
    expect(dataDepthProblem(nested(MAX_DATA_DEPTH + 1))).toMatch(/deeper than 64 levels/);
    expect(dataDepthProblem(nested(100_000))).toMatch(/deeper than/);
  });

  it('accepts scalars and wide objects', () => {
    expect(dataDepthProblem(null)).toBeUndefined();
    expect(dataDepthProblem(Object.fromEntries(Array.from({ length: 5000 }, (_, i) => [`k${i}`, i])))).toBeUndefined();
  });
});

describe('numberProblem', () => {
  it.each(['0', '-1', '9007199254740991', '1e126', '1e300', '1.5e-300', '1e-130', '0.000', '-0', '3.14159', '"12345678901234567890"'])(
    'accepts %s, which JSON.parse keeps exactly',
    (text) => expect(numberProblem(`{"a":${text}}`)).toBeUndefined(),
  );

  it.each([
    ['9007199254740993', /beyond ±2\^53/],
    ['-12345678901234567890', /beyond ±2\^53/],
    ['1e400', /beyond ±1.8e308/],
    ['-1e309', /beyond ±1.8e308/],
    ['1e-400', /too small/],
  ])('refuses %s naming the rule', (text, rule) => expect(numberProblem(`[1,${text}]`)).toMatch(rule));

  it('ignores digits inside strings, escaped quotes included', () => {
    expect(numberProblem('{"a":"x\\"99999999999999999999\\"","b":1}')).toBeUndefined();
  });
});
