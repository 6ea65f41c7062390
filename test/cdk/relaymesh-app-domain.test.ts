import type { CloudAssembly } from 'aws-cdk-lib/cx-api';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../lib/config';
import { addRelaymeshStacks, type RelaymeshStacks } from '../../lib/relaymesh-app';
import { allStacks, testApp, validationViolations } from './cdk-test-app';
import { acceleratorHealthCheckViolations, targetGroupHealthCheckViolations } from './deploy-rules';

const REGIONS = ['eu-west-1', 'us-east-1', 'ap-southeast-1'];
const IMPORTED_CERT = 'arn:aws:acm:us-east-1:123456789012:certificate/abc';

describe('GIVEN the app with a hosted zone, a certificate for one region, an alarm e-mail, no deletion protection and the managed API Gateway account role', () => {
  let stacks: RelaymeshStacks;
  let assembly: CloudAssembly;

  beforeAll(() => {
    const app = testApp();
    stacks = addRelaymeshStacks(
      app,
      loadConfig({
        regions: REGIONS,
        account: '123456789012',
        domainName: 'example.com',
        hostedZoneId: 'Z0123456789ABC',
        certificateArns: { 'us-east-1': IMPORTED_CERT },
        alarmEmail: 'ops@example.com',
        deletionProtection: false,
        webSocketLogging: { manageAccountRole: true },
      }),
    );
    assembly = app.synth();
  });

  it('THEN cdk-nag AwsSolutions leaves no unacknowledged finding in any stack', () => {
    expect(validationViolations(assembly.directory)).toEqual([]);
  });

  it('THEN every target group in every stack has a health-check interval above its timeout, with ELB\'s defaults filled in', () => {
    for (const stack of allStacks(stacks)) {
      expect(targetGroupHealthCheckViolations(Template.fromStack(stack)), stack.stackName).toEqual([]);
    }
  });

  it('THEN the data stack lives in the first region and its tables are deletable', () => {
    expect(stacks.data.region).toBe('eu-west-1');
    const tables = Template.fromStack(stacks.data).findResources('AWS::DynamoDB::GlobalTable');
    for (const table of Object.values(tables)) {
      expect(table.DeletionPolicy).toBe('Delete');
      for (const replica of table.Properties.Replicas) expect(replica.DeletionProtectionEnabled).toBe(false);
    }
  });

  it('THEN each region maps ws.example.com to its API and publishes a latency record with a health check on its edge /health', () => {
    for (const stack of stacks.regions) {
      const t = Template.fromStack(stack);
      t.hasResourceProperties('AWS::ApiGatewayV2::DomainName', { DomainName: 'ws.example.com' });
      t.resourceCountIs('AWS::ApiGatewayV2::ApiMapping', 1);
      const healthChecks = t.findResources('AWS::Route53::HealthCheck');
      const [healthCheckId] = Object.keys(healthChecks);
      expect(Object.values(healthChecks)[0]?.Properties.HealthCheckConfig).toMatchObject({ Type: 'HTTPS', ResourcePath: '/health', Port: 443 });
      t.hasResourceProperties('AWS::Route53::RecordSet', {
        Name: 'ws.example.com.',
        Type: 'A',
        Region: stack.region,
        SetIdentifier: stack.region,
        HealthCheckId: { Ref: healthCheckId },
        HostedZoneId: 'Z0123456789ABC',
      });
      t.hasOutput('WebSocketDomainUrl', { Value: 'wss://ws.example.com' });
    }
  });

  it('THEN a region with a configured certificate imports it and the others request one covering ws. and edge.', () => {
    const imported = Template.fromStack(stacks.regions[1]);
    imported.resourceCountIs('AWS::CertificateManager::Certificate', 0);
    imported.hasResourceProperties('AWS::ElasticLoadBalancingV2::Listener', {
      Port: 443,
      Protocol: 'HTTPS',
      Certificates: [{ CertificateArn: IMPORTED_CERT }],
    });
    for (const created of [stacks.regions[0], stacks.regions[2]]) {
      Template.fromStack(created).hasResourceProperties('AWS::CertificateManager::Certificate', {
        DomainName: 'ws.example.com',
        SubjectAlternativeNames: ['edge.example.com'],
        ValidationMethod: 'DNS',
      });
    }
  });

  it('THEN the accelerator listens on TCP 443, leaves health to the ALBs\' target health and is aliased as edge.example.com', () => {
    const t = Template.fromStack(stacks.edge!);
    t.hasResourceProperties('AWS::GlobalAccelerator::Listener', { Protocol: 'TCP', PortRanges: [{ FromPort: 443, ToPort: 443 }] });
    t.resourceCountIs('AWS::GlobalAccelerator::EndpointGroup', REGIONS.length);
    expect(acceleratorHealthCheckViolations(t)).toEqual([]);
    t.hasResourceProperties('AWS::Route53::RecordSet', {
      Name: 'edge.example.com.',
      Type: 'A',
      AliasTarget: Match.objectLike({ HostedZoneId: 'Z2BJ6XQ5FK7U4H' }),
    });
  });

  it('THEN with manageAccountRole each region stack sets its region\'s API Gateway CloudWatch role once, from a retained role', () => {
    for (const stack of stacks.regions) {
      const t = Template.fromStack(stack);
      t.resourceCountIs('AWS::ApiGateway::Account', 1);
      t.hasResource('AWS::IAM::Role', { DeletionPolicy: 'Retain', Properties: Match.objectLike({ ManagedPolicyArns: Match.anyValue() }) });
    }
  });

  it('THEN every token travels over TLS through edge.example.com: HTTPS listeners only, no plain-HTTP API needed, PublishUrl on the edge name', () => {
    for (const stack of stacks.regions) {
      const t = Template.fromStack(stack);
      expect(Object.values(t.findResources('AWS::ElasticLoadBalancingV2::Listener')).map((l) => l.Properties.Protocol)).toEqual(['HTTPS']);
      expect(Object.keys(t.findResources('AWS::ApiGatewayV2::Api', { Properties: { ProtocolType: 'HTTP' } }))).toEqual([]);
      t.hasOutput('PublishUrl', { Value: 'https://edge.example.com/v1/publish' });
    }
    Template.fromStack(stacks.edge!).hasOutput('EdgeDomainUrl', { Value: 'https://edge.example.com' });
  });

  it('THEN every region\'s alarm topic mails the configured address', () => {
    for (const stack of stacks.regions) {
      Template.fromStack(stack).hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: 'ops@example.com' });
    }
  });
});
