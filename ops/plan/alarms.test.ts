import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../lib/config';
import { addRelaymeshStacks } from '../../lib/relaymesh-app';
import { testApp } from '../../test/cdk/cdk-test-app';
import { alarmsPerRegion } from './model';

describe('relaymesh plan alarm count', () => {
  it.each(['accelerator', 'regional'] as const)('prices as many alarms per region as the region stacks define (edge mode %s)', (mode) => {
    const config = loadConfig({ regions: ['us-east-1', 'eu-west-1', 'ap-southeast-2'], edge: { mode } });
    const { regions } = addRelaymeshStacks(testApp(), config);
    for (const stack of regions) {
      expect(Object.keys(Template.fromStack(stack).findResources('AWS::CloudWatch::Alarm')), stack.stackName).toHaveLength(alarmsPerRegion(3));
    }
  });
});
