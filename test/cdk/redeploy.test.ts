import { Match, Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../lib/config';
import { addRelaymeshStacks, type RelaymeshStacks } from '../../lib/relaymesh-app';
import { testApp } from './cdk-test-app';
import { namesThatOutliveDestroy, templateText } from './deploy-rules';

// The global tables: the regional ones (connections, subscriptions) are deleted with their region stacks.
const TABLES = ['dedup', 'history', 'presence', 'sequences'];

/** Every name in every stack that a `cdk destroy --all` leaves taken. */
function outliving(stacks: RelaymeshStacks): string[] {
  return [stacks.data, ...stacks.regions, ...stacks.fanouts, ...(stacks.edge ? [stacks.edge] : [])]
    .flatMap((stack) => namesThatOutliveDestroy(Template.fromStack(stack)))
    .sort();
}

describe('a second deploy after cdk destroy --all', () => {
  let plain: RelaymeshStacks;
  let suffixed: RelaymeshStacks;
  beforeAll(() => {
    plain = addRelaymeshStacks(testApp(), loadConfig({ account: '123456789012' }));
    suffixed = addRelaymeshStacks(testApp(), loadConfig({ account: '123456789012', nameSuffix: 'v2' }));
  });

  it('GIVEN the default config THEN what outlives a destroy is the retained tables and the secret in its recovery window, under the app name', () => {
    expect(outliving(plain)).toEqual([...TABLES.map((t) => `relaymesh-${t}`), 'relaymesh/jwt-hs256'].sort());
  });

  it('GIVEN nameSuffix v2 THEN every name that outlives a destroy carries it, so the deploy cannot collide with the first one\'s leftovers', () => {
    const names = outliving(suffixed);
    expect(names).toEqual([...TABLES.map((t) => `relaymesh-v2-${t}`), 'relaymesh-v2/jwt-hs256'].sort());
    for (const name of names) expect(outliving(plain)).not.toContain(name);
  });

  it('GIVEN nameSuffix v2 THEN every region\'s functions, grants and alarms use the suffixed tables and secret, and nothing names the old ones', () => {
    for (const stack of suffixed.regions) {
      const t = Template.fromStack(stack);
      for (const fn of Object.values(t.findResources('AWS::Lambda::Function'))) {
        const variables = fn.Properties.Environment.Variables as Record<string, unknown>;
        expect(variables.CONNECTIONS_TABLE).toBe('relaymesh-v2-connections');
        expect(variables.HISTORY_TABLE).toBe('relaymesh-v2-history');
        if (variables.JWT_SECRET_ARN !== undefined) expect(templateText(variables.JWT_SECRET_ARN)).toContain(':secret:relaymesh-v2/jwt-hs256');
      }
      const text = JSON.stringify(t.toJSON());
      for (const table of TABLES) expect(text).not.toMatch(new RegExp(`relaymesh-${table}\\b`));
      expect(text).not.toContain('relaymesh/jwt-hs256');
      t.hasResourceProperties('AWS::CloudWatch::Alarm', {
        MetricName: 'ReplicationLatency',
        Dimensions: Match.arrayWith([{ Name: 'TableName', Value: 'relaymesh-v2-history' }]),
      });
    }
  });

  it('GIVEN nameSuffix v2 THEN the stacks, topics, queues and the drain flag keep their names (CloudFormation deletes those)', () => {
    expect(suffixed.data.stackName).toBe('relaymesh-data');
    const t = Template.fromStack(suffixed.regions[0]!);
    t.hasResourceProperties('AWS::SNS::Topic', { TopicName: 'relaymesh-fanout' });
    t.hasResourceProperties('AWS::SQS::Queue', { QueueName: 'relaymesh-critical' });
    t.hasResourceProperties('AWS::SSM::Parameter', { Name: '/relaymesh/edge/drain' });
  });
});
