import type { CloudAssembly } from 'aws-cdk-lib/cx-api';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../lib/config';
import { addRelaymeshStacks, type RelaymeshStacks } from '../../lib/relaymesh-app';
import { allStacks, testApp, validationViolations } from './cdk-test-app';
import { deliveryWorkerTimeoutViolations, templateText } from './deploy-rules';

const REGIONS = ['us-east-1', 'eu-west-1', 'ap-southeast-1'];

// Sized for a 3,000-subscriber channel: a full batch is 36 s of one vCPU, 54 s with headroom.
const LARGE_CHANNEL = {
  capacity: { largestChannelSubscribers: 3000 },
  eventClasses: { critical: { visibilityTimeoutSeconds: 360 }, ephemeral: { visibilityTimeoutSeconds: 360 } },
};

describe('GIVEN the regional edge mode for three regions without a hosted zone, sized for a 3,000-subscriber channel', () => {
  let stacks: RelaymeshStacks;
  let assembly: CloudAssembly;
  beforeAll(() => {
    const app = testApp();
    stacks = addRelaymeshStacks(app, loadConfig({ regions: REGIONS, edge: { mode: 'regional' }, ...LARGE_CHANNEL }));
    assembly = app.synth();
  });

  it('THEN both delivery workers get the 60 s timeout and the 1600 MB that fit a full batch to that channel', () => {
    for (const stack of stacks.regions) {
      const t = Template.fromStack(stack);
      expect(deliveryWorkerTimeoutViolations(t, loadConfig(LARGE_CHANNEL).capacity), stack.stackName).toEqual([]);
      const workers = Object.entries(t.findResources('AWS::Lambda::Function')).filter(([id]) => /^(critical|ephemeral)DeliveryFunction/.test(id));
      expect(workers.map(([, fn]) => [fn.Properties.MemorySize, fn.Properties.Timeout])).toEqual([[1600, 60], [1600, 60]]);
    }
  });

  it('THEN cdk-nag AwsSolutions leaves no unacknowledged finding in any stack', () => {
    expect(validationViolations(assembly.directory)).toEqual([]);
  });

  it('THEN there is no accelerator stack, and no VPC, ALB, public IPv4 or access-log bucket in any region: nothing that costs by the hour', () => {
    expect(stacks.edge).toBeUndefined();
    expect(assembly.stacks.map((s) => s.stackName)).not.toContain('relaymesh-edge');
    for (const stack of allStacks(stacks)) {
      const t = Template.fromStack(stack);
      for (const type of ['AWS::GlobalAccelerator::Accelerator', 'AWS::EC2::VPC', 'AWS::ElasticLoadBalancingV2::LoadBalancer', 'AWS::S3::Bucket', 'AWS::EC2::NatGateway']) {
        t.resourceCountIs(type, 0);
      }
    }
  });

  it('THEN each region\'s edge is its HTTPS API, whose URL is both EdgeUrl and the base of PublishUrl', () => {
    for (const stack of stacks.regions) {
      const t = Template.fromStack(stack);
      const [apiId] = Object.keys(t.findResources('AWS::ApiGatewayV2::Api', { Properties: { ProtocolType: 'HTTP' } }));
      expect(apiId, stack.region).toBeDefined();
      t.hasOutput('EdgeUrl', { Value: { 'Fn::GetAtt': [apiId, 'ApiEndpoint'] } });
      t.hasOutput('PublishUrl', { Value: { 'Fn::Join': ['', [{ 'Fn::GetAtt': [apiId, 'ApiEndpoint'] }, '/v1/publish']] } });
      t.resourceCountIs('AWS::ApiGatewayV2::Route', 3 + 3);
    }
  });
});

describe('GIVEN the regional edge mode with a hosted zone', () => {
  let stacks: RelaymeshStacks;
  let assembly: CloudAssembly;
  beforeAll(() => {
    const app = testApp();
    stacks = addRelaymeshStacks(
      app,
      loadConfig({ regions: ['us-east-1', 'eu-west-1'], account: '123456789012', domainName: 'example.com', hostedZoneId: 'Z0123456789ABC', edge: { mode: 'regional' } }),
    );
    assembly = app.synth();
  });

  it('THEN cdk-nag AwsSolutions leaves no unacknowledged finding in any stack', () => {
    expect(validationViolations(assembly.directory)).toEqual([]);
  });

  it('THEN each region latency-routes edge.example.com to its HTTPS API, with the health check that guards ws.example.com probing that API\'s /health', () => {
    for (const stack of stacks.regions) {
      const t = Template.fromStack(stack);
      const [apiId] = Object.keys(t.findResources('AWS::ApiGatewayV2::Api', { Properties: { ProtocolType: 'HTTP' } }));
      const [domainId] = Object.keys(t.findResources('AWS::ApiGatewayV2::DomainName', { Properties: { DomainName: 'edge.example.com' } }));
      expect(domainId, stack.region).toBeDefined();
      t.hasResourceProperties('AWS::ApiGatewayV2::ApiMapping', { ApiId: { Ref: apiId }, DomainName: { Ref: domainId } });
      const healthChecks = t.findResources('AWS::Route53::HealthCheck');
      const [healthCheckId] = Object.keys(healthChecks);
      expect(Object.keys(healthChecks)).toHaveLength(1);
      const config = Object.values(healthChecks)[0]!.Properties.HealthCheckConfig;
      expect(config).toMatchObject({ Type: 'HTTPS', ResourcePath: '/health', Port: 443 });
      expect(templateText(config.FullyQualifiedDomainName)).toBe(`<token>.execute-api.${stack.region}.<token>`);
      for (const name of ['edge.example.com.', 'ws.example.com.']) {
        t.hasResourceProperties('AWS::Route53::RecordSet', { Name: name, Type: 'A', Region: stack.region, SetIdentifier: stack.region, HealthCheckId: { Ref: healthCheckId } });
      }
      t.hasOutput('EdgeDomainUrl', { Value: 'https://edge.example.com' });
      t.hasOutput('PublishUrl', { Value: 'https://edge.example.com/v1/publish' });
      t.hasResourceProperties('AWS::Lambda::Function', { Environment: { Variables: Match.objectLike({ PUBLISH_URL: 'https://edge.example.com/v1/publish' }) } });
    }
  });
});
