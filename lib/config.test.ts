import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from './config';

describe('loadConfig', () => {
  it('defaults to two regions, us-east-1 first, with both event classes', () => {
    const config = loadConfig({});
    expect(config.regions).toEqual(['us-east-1', 'eu-west-1']);
    expect(config.eventClasses.critical.maxReceiveCount).toBe(5);
    expect(config.eventClasses.ephemeral.ttlSeconds).toBe(10);
    expect(config.limits.maxFrameBytes).toBe(32 * 1024);
    expect(config.recovery).toEqual({ historyTtlHours: 24, historyMaxPerChannel: 1000, maxReplay: 1000, dedupWindowSeconds: 3600, replicationWaitMs: 2000, historySettleSeconds: 30 });
  });

  it('defaults to WebSocket access logs without managing the account-wide API Gateway role', () => {
    expect(loadConfig({}).webSocketLogging).toEqual({ accessLogs: true, manageAccountRole: false });
  });

  it('sizes functions from the config, leaving the delivery workers to the capacity model, tracing on, source maps off and logging at INFO by default', () => {
    expect(loadConfig({}).functions).toEqual({
      memoryMb: { authorizer: 256, connect: 256, disconnect: 256, messageRouter: 512, edge: 256 },
      tracing: true,
      traceEdge: false,
      sourceMaps: false,
      logLevel: 'INFO',
    });
    expect(() => loadConfig({ functions: { sourceMaps: 'yes' } })).toThrow('functions.sourceMaps: Invalid input: expected boolean, received string');
    expect(loadConfig({ functions: { memoryMb: { deliveryEphemeral: 2048 } } }).functions.memoryMb).toMatchObject({ deliveryEphemeral: 2048 });
  });

  it('lets throttled ephemeral events expire before they dead-letter, and alarms on ephemeral DLQs only past a trickle', () => {
    const { critical, ephemeral } = loadConfig({}).eventClasses;
    // Failed records come back every ~2 s (RETRY_DELAY_SECONDS), so the receives outlast the TTL.
    expect(ephemeral.maxReceiveCount * 2).toBeGreaterThan(ephemeral.ttlSeconds);
    expect(ephemeral.deadLetterAlarm).toEqual({ threshold: 10, periodMinutes: 5, evaluationPeriods: 3 });
    expect(critical.deadLetterAlarm).toEqual({ threshold: 0, periodMinutes: 1, evaluationPeriods: 1 });
  });

  it('keeps defaults for the fields a partial override leaves out', () => {
    const config = loadConfig({ eventClasses: { critical: { batchSize: 5 } } });
    expect(config.eventClasses.critical).toMatchObject({ batchSize: 5, maxReceiveCount: 5 });
    expect(config.eventClasses.ephemeral.batchSize).toBe(10);
  });

  it('rejects a misspelt region in one line that suggests the real one', () => {
    expect(() => loadConfig({ regions: ['us-east-1', 'eu-wset-1'] })).toThrow(
      new ConfigError('Invalid Relaymesh config: regions.1: must be an AWS Region such as us-east-1, not "eu-wset-1" (did you mean eu-west-1?)'),
    );
  });

  it('accepts one opt-in region among default ones', () => {
    expect(loadConfig({ regions: ['ap-east-1', 'us-east-1'] }).regions).toEqual(['ap-east-1', 'us-east-1']);
  });

  it.each([
    [{ regions: ['us-east-1'] }, 'regions: needs at least 2 regions'],
    [{ regions: ['us-east-1', 'us-east-1'] }, 'regions: must not repeat a region'],
    [{ regions: ['us-east-1', 'mars-1'] }, 'regions.1: must be an AWS Region such as us-east-1, not "mars-1"'],
    [{ regions: ['ap-east-1', 'us-east-1', 'me-south-1'] }, 'regions: lists ap-east-1 and me-south-1: SNS does not deliver between two opt-in Regions'],
    [{ regions: ['us-east-1', 'us-gov-west-1'] }, 'regions.1: must be an AWS Region'],
    [{ appName: 'Relay Mesh' }, 'appName: must be 2-31 lowercase'],
    [{ nameSuffix: 'V2-' }, 'nameSuffix: must be 1-8 lowercase letters or digits'],
    [{ functions: { memoryMb: { edge: 64 } } }, 'functions.memoryMb.edge: Too small'],
    [{ functions: { logLevel: 'verbose' } }, 'functions.logLevel: Invalid option: expected one of "DEBUG"|"INFO"|"WARN"|"ERROR"'],
    [{ eventClasses: { ephemeral: { deadLetterRetentionDays: 15 } } }, 'eventClasses.ephemeral.deadLetterRetentionDays: Too big'],
    [{ account: '123' }, 'account: must be a 12-digit AWS account id'],
    [{ hostedZoneId: 'Z123ABC' }, 'domainName: hostedZoneId needs domainName'],
    [{ eventClasses: { critical: { maxConcurrency: 1 } } }, 'eventClasses.critical.maxConcurrency'],
    [{ alarmEmail: 'not-an-email' }, 'alarmEmail'],
    [{ unknownField: 1 }, 'unknownField'],
    [{ recovery: { historyTtlHours: 0 } }, 'recovery.historyTtlHours: Too small'],
    [{ recovery: { historyMaxPerChannel: 0 } }, 'recovery.historyMaxPerChannel: Too small'],
    [{ recovery: { maxReplay: 100_001 } }, 'recovery.maxReplay: Too big'],
    [{ recovery: { dedupWindowSeconds: 10 } }, 'recovery.dedupWindowSeconds: Too small'],
    [{ recovery: { replicationWaitMs: -1 } }, 'recovery.replicationWaitMs: Too small'],
    [{ local: { replicationLagMs: 1.5 } }, 'local.replicationLagMs'],
    [{ limits: { maxPublishDataBytes: 8 } }, 'limits.maxPublishDataBytes: Too small'],
    // A publish that cannot fit one 128 KB WebSocket message with its frame fields could never be delivered.
    [{ limits: { maxPublishDataBytes: 127 * 1024 + 1 } }, 'limits.maxPublishDataBytes: maxPublishDataBytes plus 1024 bytes'],
    [{ recovery: { historySettleSeconds: 0 } }, 'recovery.historySettleSeconds: Too small'],
    [
      { certificateArns: { 'ap-south-1': 'arn:aws:acm:ap-south-1:123456789012:certificate/x' } },
      'certificateArns: certificateArns names a region that is not in regions',
    ],
  ])('rejects %j naming the field', (input, message) => {
    expect(() => loadConfig(input)).toThrow(ConfigError);
    expect(() => loadConfig(input)).toThrow(message);
  });
});
