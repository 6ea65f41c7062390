import { App, Validations } from 'aws-cdk-lib';
import { Queue } from 'aws-cdk-lib/aws-sqs';
import { AwsSolutionsChecks } from 'cdk-nag';
import { describe, expect, it } from 'vitest';
import { configFromContext } from '../../lib/relaymesh-app';
import { testApp, testStack, validationViolations } from './cdk-test-app';

const appWith = (context: Record<string, unknown>) => new App({ context });

describe('configFromContext', () => {
  it('GIVEN no context WHEN read THEN every default applies with the primary first', () => {
    const config = configFromContext(appWith({}));
    expect(config.regions).toEqual(['us-east-1', 'eu-west-1']);
    expect(config.appName).toBe('relaymesh');
  });

  it('GIVEN the relaymesh object and -c regions as a JSON string WHEN read THEN the override replaces the region list and keeps the rest', () => {
    const config = configFromContext(
      appWith({ relaymesh: { appName: 'chat', regions: ['us-east-1', 'eu-west-1'] }, regions: '["eu-west-1","us-east-1","ap-southeast-1"]' }),
    );
    expect(config.regions).toEqual(['eu-west-1', 'us-east-1', 'ap-southeast-1']);
    expect(config.appName).toBe('chat');
  });

  it('GIVEN -c regions that is not JSON WHEN read THEN the error says how to write it', () => {
    expect(() => configFromContext(appWith({ regions: 'us-east-1,eu-west-1' }))).toThrow(
      /regions: -c regions must be a JSON array such as '\["us-east-1","eu-west-1"\]', got us-east-1,eu-west-1/,
    );
  });

  it('GIVEN -c regions naming a bad region WHEN read THEN the error names the offending field', () => {
    expect(() => configFromContext(appWith({ regions: '["us-east-1","mars-1"]' }))).toThrow(/regions\.1: must be an AWS Region such as us-east-1, not "mars-1"/);
  });

  it('GIVEN -c regions with one region WHEN read THEN the error says active-active needs two', () => {
    expect(() => configFromContext(appWith({ regions: '["us-east-1"]' }))).toThrow(/regions: needs at least 2 regions/);
  });

  it('GIVEN -c relaymesh as a JSON string WHEN read THEN it is the config object, so a domain or edge mode can be tried from the command line', () => {
    const config = configFromContext(appWith({ relaymesh: '{"domainName":"example.com","hostedZoneId":"Z0123456789ABC","edge":{"mode":"regional"}}' }));
    expect(config).toMatchObject({ domainName: 'example.com', hostedZoneId: 'Z0123456789ABC', edge: { mode: 'regional' } });
    expect(() => configFromContext(appWith({ relaymesh: '{"domainName":' }))).toThrow(/context "relaymesh" is not valid JSON/);
  });

  it('GIVEN a relaymesh context that is not an object WHEN read THEN the error says it must be one', () => {
    expect(() => configFromContext(appWith({ relaymesh: 'us-east-1' }))).toThrow(/context "relaymesh" must be an object/);
  });

  it('GIVEN an unknown field in the relaymesh context WHEN read THEN the error names it', () => {
    expect(() => configFromContext(appWith({ relaymesh: { regionz: [] } }))).toThrow(/regionz/);
  });
});

describe('validationViolations', () => {
  it('GIVEN a queue cdk-nag objects to WHEN the app synthesizes THEN synth fails and the report lists the findings', () => {
    const app = testApp();
    new Queue(testStack('us-east-1', app), 'Unencrypted');
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
    expect(() => app.synth()).toThrow(/AwsSolutions-SQS4/);
    expect(validationViolations(app.outdir).map((v) => v.ruleName)).toEqual(expect.arrayContaining(['AwsSolutions-SQS3', 'AwsSolutions-SQS4']));
  });
});
