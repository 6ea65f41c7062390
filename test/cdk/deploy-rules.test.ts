import { App, Duration, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { SubnetType, Vpc } from 'aws-cdk-lib/aws-ec2';
import {
  ApplicationLoadBalancer,
  ApplicationTargetGroup,
  CfnTargetGroup,
  ListenerAction,
  ListenerCondition,
  TargetType,
} from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import { CfnEndpointGroup } from 'aws-cdk-lib/aws-globalaccelerator';
import { CfnSubscription } from 'aws-cdk-lib/aws-sns';
import { describe, expect, it } from 'vitest';
import {
  acceleratorHealthCheckViolations,
  defaultHealthCheck,
  lambdaTargetGroupHealthViolations,
  plainHttpTokenViolations,
  snsSubscriptionRedriveViolations,
  targetGroupHealthCheckViolations,
} from './deploy-rules';

describe('targetGroupHealthCheckViolations', () => {
  const stackWith = (add: (stack: Stack) => void) => {
    const stack = new Stack(new App(), 'Rules', { env: { account: '123456789012', region: 'us-east-1' } });
    add(stack);
    return Template.fromStack(stack);
  };

  it('flags a Lambda target group with a 30 s interval and the default timeout, which ELB refuses (30 s default)', () => {
    const template = stackWith((stack) => new ApplicationTargetGroup(stack, 'Tg', { targetType: TargetType.LAMBDA, healthCheck: { interval: Duration.seconds(30) } }));
    expect(targetGroupHealthCheckViolations(template)).toEqual([expect.stringMatching(/interval 30 s is not greater than its timeout 30 s/)]);
  });

  it('accepts a Lambda target group with both left to ELB (35 s over 30 s) or both set in order', () => {
    expect(targetGroupHealthCheckViolations(stackWith((stack) => new CfnTargetGroup(stack, 'Tg', { targetType: 'lambda' })))).toEqual([]);
    const explicit = stackWith(
      (stack) => new ApplicationTargetGroup(stack, 'Tg', { targetType: TargetType.LAMBDA, healthCheck: { interval: Duration.seconds(10), timeout: Duration.seconds(5) } }),
    );
    expect(targetGroupHealthCheckViolations(explicit)).toEqual([]);
  });

  it('flags a timeout set above the interval and values outside ELB\'s ranges', () => {
    const template = stackWith((stack) => new CfnTargetGroup(stack, 'Tg', { targetType: 'ip', protocol: 'HTTP', port: 80, healthCheckIntervalSeconds: 400, healthCheckTimeoutSeconds: 1 }));
    expect(targetGroupHealthCheckViolations(template)).toEqual([expect.stringMatching(/outside 5-300/), expect.stringMatching(/outside 2-120/)]);
  });

  it('uses ELB\'s documented defaults per target type and protocol', () => {
    expect(defaultHealthCheck({ TargetType: 'lambda' })).toEqual({ intervalSeconds: 35, timeoutSeconds: 30 });
    expect(defaultHealthCheck({ TargetType: 'instance', Protocol: 'HTTP' })).toEqual({ intervalSeconds: 30, timeoutSeconds: 6 });
    expect(defaultHealthCheck({ TargetType: 'ip', Protocol: 'TCP' })).toEqual({ intervalSeconds: 30, timeoutSeconds: 10 });
    expect(defaultHealthCheck({ TargetType: 'instance', Protocol: 'GENEVE' })).toEqual({ intervalSeconds: 10, timeoutSeconds: 5 });
  });
});

describe('snsSubscriptionRedriveViolations', () => {
  const stackWith = (add: (stack: Stack) => void) => {
    const stack = new Stack(new App(), 'Rules', { env: { account: '123456789012', region: 'us-east-1' } });
    add(stack);
    return Template.fromStack(stack);
  };
  const topicArn = 'arn:aws:sns:us-east-1:123456789012:t';
  const queueArn = 'arn:aws:sqs:eu-west-1:123456789012:q';

  it('flags an SQS subscription without a redrive policy, as the fan-out subscriptions were', () => {
    const template = stackWith((stack) => new CfnSubscription(stack, 'S', { protocol: 'sqs', topicArn, endpoint: queueArn }));
    expect(snsSubscriptionRedriveViolations(template, 'us-east-1')).toEqual([expect.stringMatching(/no redrive policy/)]);
  });

  it('flags a DLQ outside the subscription\'s Region and accepts one in it', () => {
    const withDlq = (dlq: string) =>
      stackWith((stack) => new CfnSubscription(stack, 'S', { protocol: 'sqs', topicArn, endpoint: queueArn, redrivePolicy: { deadLetterTargetArn: dlq } }));
    expect(snsSubscriptionRedriveViolations(withDlq('arn:aws:sqs:eu-west-1:123456789012:dlq'), 'us-east-1')).toEqual([
      expect.stringMatching(/DLQ in eu-west-1, but the subscription is in us-east-1/),
    ]);
    expect(snsSubscriptionRedriveViolations(withDlq('arn:aws:sqs:us-east-1:123456789012:dlq'), 'us-east-1')).toEqual([]);
  });
});

describe('acceleratorHealthCheckViolations', () => {
  const groupWith = (endpointId: string, settings: Record<string, unknown>) => {
    const stack = new Stack(new App(), 'Rules', { env: { account: '123456789012', region: 'us-west-2' } });
    new CfnEndpointGroup(stack, 'G', { listenerArn: 'arn:aws:globalaccelerator::123456789012:accelerator/a/listener/l', endpointGroupRegion: 'us-east-1', endpointConfigurations: [{ endpointId }], ...settings });
    return Template.fromStack(stack);
  };
  const alb = 'arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/edge/abc';

  it('flags health-check settings on an ALB endpoint group, as the edge stack had (10 s x 3 on /health)', () => {
    expect(acceleratorHealthCheckViolations(groupWith(alb, { healthCheckPath: '/health', healthCheckIntervalSeconds: 10, thresholdCount: 3 }))).toEqual([
      expect.stringMatching(/HealthCheckPath, HealthCheckIntervalSeconds, ThresholdCount ignored/),
    ]);
  });

  it('accepts an ALB endpoint group without them, and settings on an EC2 instance endpoint', () => {
    expect(acceleratorHealthCheckViolations(groupWith(alb, {}))).toEqual([]);
    expect(acceleratorHealthCheckViolations(groupWith('i-0123456789abcdef0', { healthCheckPath: '/health' }))).toEqual([]);
  });
});

describe('lambdaTargetGroupHealthViolations', () => {
  it('flags target group health thresholds on a Lambda target group and accepts one without', () => {
    const stackWith = (attributes: { key: string; value: string }[]) => {
      const stack = new Stack(new App(), 'Rules', { env: { account: '123456789012', region: 'us-east-1' } });
      new CfnTargetGroup(stack, 'Tg', { targetType: 'lambda', targetGroupAttributes: attributes });
      return Template.fromStack(stack);
    };
    expect(lambdaTargetGroupHealthViolations(stackWith([{ key: 'target_group_health.dns_failover.minimum_healthy_targets.count', value: '1' }]))).toEqual([
      expect.stringMatching(/not supported for Lambda targets/),
    ]);
    expect(lambdaTargetGroupHealthViolations(stackWith([{ key: 'lambda.multi_value_headers.enabled', value: 'false' }]))).toEqual([]);
  });
});

describe('plainHttpTokenViolations', () => {
  it('flags a plain HTTP listener that forwards everything, as the edge ALB did, and accepts one that refuses tokens', () => {
    const build = (refuse: boolean) => {
      const stack = new Stack(new App(), 'Rules', { env: { account: '123456789012', region: 'us-east-1' } });
      const vpc = new Vpc(stack, 'Vpc', { maxAzs: 2, natGateways: 0, subnetConfiguration: [{ name: 'p', subnetType: SubnetType.PUBLIC }] });
      const listener = new ApplicationLoadBalancer(stack, 'Alb', { vpc, internetFacing: true }).addListener('L', { port: 80, open: true });
      listener.addAction('Default', { action: ListenerAction.fixedResponse(200) });
      if (refuse) {
        listener.addAction('Header', { priority: 1, conditions: [ListenerCondition.httpHeader('Authorization', ['*'])], action: ListenerAction.fixedResponse(403) });
        listener.addAction('Query', { priority: 2, conditions: [ListenerCondition.queryStrings([{ key: 'token', value: '*' }])], action: ListenerAction.fixedResponse(403) });
      }
      return Template.fromStack(stack);
    };
    expect(plainHttpTokenViolations(build(false))).toEqual([expect.stringMatching(/Authorization header/), expect.stringMatching(/token query parameter/)]);
    expect(plainHttpTokenViolations(build(true))).toEqual([]);
  });
});
