import { readFileSync } from 'node:fs';
import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { regionAlarmDefinitions } from '../../lib/alarm-definitions';
import { EVENT_CLASSES, loadConfig } from '../../lib/config';
import { addRelaymeshStacks } from '../../lib/relaymesh-app';
import { allStacks, testApp } from './cdk-test-app';

const README = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
/** The anchors the README declares for runbooks (`<a id="runbook-…">`). */
const readmeAnchors = new Set([...README.matchAll(/<a id="(runbook-[a-z-]+)"><\/a>/g)].map((m) => m[1]));

const alarmsOf = (stacks: ReturnType<typeof addRelaymeshStacks>) =>
  allStacks(stacks).flatMap((stack) =>
    Object.entries(Template.fromStack(stack).findResources('AWS::CloudWatch::Alarm')).map(([id, resource]) => ({
      stack: stack.stackName,
      id,
      description: String((resource.Properties as { AlarmDescription?: unknown }).AlarmDescription ?? ''),
      name: (resource.Properties as { AlarmName?: unknown }).AlarmName,
      region: stack.region,
    })),
  );

describe('alarm names', () => {
  it('GIVEN the app for two regions THEN every region alarm is named <app>-<region>-<definition name>, the name the local cloud and relaymesh status use', () => {
    const config = loadConfig({ regions: ['us-east-1', 'eu-west-1'] });
    const alarms = alarmsOf(addRelaymeshStacks(testApp(), config));
    for (const region of config.regions) {
      const names = alarms.filter((a) => a.region === region && a.stack === `relaymesh-${region}`).map((a) => a.name);
      expect(names).toContain(`relaymesh-${region}-criticalDeadLetters`);
      expect(names.every((name) => typeof name === 'string' && name.startsWith(`relaymesh-${region}-`))).toBe(true);
      expect(new Set(names).size).toBe(names.length);
    }
  });
});

describe('alarm runbooks', () => {
  it('GIVEN the app for two regions THEN every CloudWatch alarm\'s description links a runbook anchor the README has', () => {
    const alarms = alarmsOf(addRelaymeshStacks(testApp(), loadConfig({ regions: ['us-east-1', 'eu-west-1'] })));
    expect(alarms.length).toBeGreaterThan(20);
    for (const alarm of alarms) {
      const anchor = /Runbook: README\.md#(runbook-[a-z-]+)$/.exec(alarm.description)?.[1];
      expect(anchor, `${alarm.stack}/${alarm.id}: ${alarm.description}`).toBeDefined();
      expect(readmeAnchors.has(anchor!), `${alarm.stack}/${alarm.id} links #${anchor}, which README.md lacks`).toBe(true);
    }
  });

  it('GIVEN runbookBaseUrl in the config THEN the links point there', () => {
    const base = 'https://git.example.com/ops/relaymesh/blob/main/README.md';
    const alarms = alarmsOf(addRelaymeshStacks(testApp(), loadConfig({ regions: ['us-east-1', 'eu-west-1'], runbookBaseUrl: base })));
    expect(alarms.filter((a) => !a.description.includes(`Runbook: ${base}#runbook-`))).toEqual([]);
  });

  it('GIVEN every kind of alarm THEN each has a README runbook with symptoms, investigation and response', () => {
    const kinds = regionAlarmDefinitions({
      eventClasses: EVENT_CLASSES,
      fanout: true,
      functionNames: ['edge'],
      tableNames: ['t'],
      replicaRegions: ['eu-west-1'],
    }).map((d) => d.runbook);
    for (const anchor of new Set(kinds)) {
      const section = README.split(`<a id="${anchor}"></a>`)[1]?.split('<a id=')[0] ?? '';
      expect(section, anchor).toMatch(/\*\*Symptoms\*\*[\s\S]*\*\*Investigation\*\*[\s\S]*\*\*Response\*\*/);
    }
  });
});
