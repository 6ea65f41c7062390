import { RegionInfo } from 'aws-cdk-lib/region-info';
import { describe, expect, it } from 'vitest';
import { ACCOUNT_OPT_IN_REGIONS, AWS_REGIONS, closestAwsRegion, SNS_OPT_IN_REGIONS, snsDeliveryPrincipals } from '../../lib/aws-regions';

describe('the Region list the config validates against', () => {
  it('is exactly the aws partition of the installed aws-cdk-lib region-info, with the same opt-in Regions', () => {
    const known = RegionInfo.regions.filter((r) => r.partition === 'aws');
    expect([...AWS_REGIONS].sort()).toEqual(known.map((r) => r.name).sort());
    expect([...ACCOUNT_OPT_IN_REGIONS].sort()).toEqual(known.filter((r) => r.isOptInRegion).map((r) => r.name).sort());
  });

  it('treats the SNS guide\'s opt-in Regions as opt-in for SNS, Osaka included', () => {
    for (const region of ['af-south-1', 'ap-east-1', 'ap-south-2', 'ap-southeast-3', 'ap-southeast-4', 'ap-northeast-3', 'eu-south-1', 'eu-south-2', 'eu-central-2', 'il-central-1', 'me-south-1', 'me-central-1']) {
      expect(SNS_OPT_IN_REGIONS.has(region), region).toBe(true);
    }
    expect(SNS_OPT_IN_REGIONS.has('eu-west-1')).toBe(false);
  });

  it('suggests the Region a typo most likely meant, and nothing for a name far from any', () => {
    expect(closestAwsRegion('eu-wset-1')).toBe('eu-west-1');
    expect(closestAwsRegion('us-est-1')).toBe('us-east-1');
    expect(closestAwsRegion('mars-1')).toBeUndefined();
  });
});

describe('snsDeliveryPrincipals', () => {
  it.each([
    ['us-east-1', 'us-east-1', ['sns.amazonaws.com']],
    ['us-east-1', 'eu-west-1', ['sns.amazonaws.com']],
    ['ap-east-1', 'ap-east-1', ['sns.amazonaws.com']],
    ['ap-east-1', 'us-east-1', ['sns.ap-east-1.amazonaws.com']],
    ['ap-northeast-3', 'us-east-1', ['sns.ap-northeast-3.amazonaws.com']],
    ['us-east-1', 'me-south-1', ['sns.amazonaws.com', 'sns.me-south-1.amazonaws.com']],
  ])('from a topic in %s to a queue in %s: %j', (topic, queue, principals) => {
    expect(snsDeliveryPrincipals(topic, queue)).toEqual(principals);
  });

  it('has none between two opt-in Regions, which SNS does not support', () => {
    expect(snsDeliveryPrincipals('ap-east-1', 'me-south-1')).toBeUndefined();
  });
});
