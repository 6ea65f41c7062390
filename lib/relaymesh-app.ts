import { type App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { ConfigError, loadConfig, type RelaymeshConfig } from './config';
import { DataStack } from './data-stack';
import { EdgeStack, GLOBAL_ACCELERATOR_REGION } from './edge-stack';
import { FanoutStack } from './fanout-stack';
import { dataStackName, edgeStackName, fanoutStackName, regionStackName } from './naming';
import { RegionStack } from './region-stack';

/** cdk.json context key holding the Relaymesh config object. */
export const CONFIG_CONTEXT_KEY = 'relaymesh';

/**
 * The config from the app's context: the `relaymesh` object (from cdk.json, or a JSON string
 * given with `-c relaymesh='{...}'`, which replaces cdk.json's), with `-c regions='[...]'`
 * (a JSON array, first = primary) overriding its region list.
 */
export function configFromContext(app: App): RelaymeshConfig {
  const base = parseJsonContext(app.node.tryGetContext(CONFIG_CONTEXT_KEY) ?? {});
  if (typeof base !== 'object' || base === null || Array.isArray(base)) {
    throw new ConfigError(`Invalid Relaymesh config: context "${CONFIG_CONTEXT_KEY}" must be an object`);
  }
  const regionsOverride: unknown = app.node.tryGetContext('regions');
  if (regionsOverride === undefined) return loadConfig(base);
  return loadConfig({ ...base, regions: parseRegions(regionsOverride) });
}

/** `-c key=value` hands the app a string; a JSON object written there is meant as one. */
function parseJsonContext(value: unknown): unknown {
  if (typeof value !== 'string' || !value.trim().startsWith('{')) return value;
  try {
    return JSON.parse(value);
  } catch (error) {
    throw new ConfigError(`Invalid Relaymesh config: context "${CONFIG_CONTEXT_KEY}" is not valid JSON (${(error as Error).message})`);
  }
}

function parseRegions(value: unknown): unknown {
  if (typeof value !== 'string') return value;
  try {
    return JSON.parse(value);
  } catch {
    throw new ConfigError(`Invalid Relaymesh config: regions: -c regions must be a JSON array such as '["us-east-1","eu-west-1"]', got ${value}`);
  }
}

export interface RelaymeshStacks {
  readonly data: DataStack;
  /** One per config.regions entry, same order. */
  readonly regions: readonly RegionStack[];
  /** One per region: that region's topic subscribed to every region's queues. */
  readonly fanouts: readonly FanoutStack[];
  /** The Global Accelerator stack, in the `accelerator` edge mode only. */
  readonly edge?: EdgeStack;
}

/**
 * Adds every Relaymesh stack to `app`: the data stack in the primary region, a region stack
 * and a fan-out stack per region, and the Global Accelerator edge stack in us-west-2. Deploy
 * order follows the dependencies: data, regions, then fan-out and edge. cdk-nag's AwsSolutions
 * pack reviews every stack at synth; an unacknowledged finding fails the synth.
 */
export function addRelaymeshStacks(app: App, config: RelaymeshConfig): RelaymeshStacks {
  const account = config.account ?? process.env.CDK_DEFAULT_ACCOUNT;
  const env = (region: string) => ({ account, region });
  const primary = config.regions[0];
  const description = (what: string) => `Relaymesh ${config.appName}: ${what}`;

  const data = new DataStack(app, dataStackName(config.appName), {
    env: env(primary),
    config,
    description: description(`global tables and JWT secret (primary ${primary})`),
  });
  const regions = config.regions.map((region) => {
    const stack = new RegionStack(app, regionStackName(config.appName, region), {
      env: env(region),
      config,
      description: description(`active region ${region}`),
    });
    stack.addStackDependency(data, 'the region replicas of the global tables and the secret come from the data stack');
    return stack;
  });
  const fanouts = config.regions.map((region) => {
    const stack = new FanoutStack(app, fanoutStackName(config.appName, region), {
      env: env(region),
      config,
      description: description(`${region} topic subscriptions to every region's queues`),
    });
    for (const regionStack of regions) stack.addStackDependency(regionStack, 'subscriptions need every region\'s topic and queues');
    return stack;
  });
  const edge =
    config.edge.mode === 'accelerator'
      ? new EdgeStack(app, edgeStackName(config.appName), {
          env: env(GLOBAL_ACCELERATOR_REGION),
          config,
          edges: regions.map((r) => r.edge),
          description: description('Global Accelerator in front of every region\'s HTTP edge'),
        })
      : undefined;
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return { data, regions, fanouts, edge };
}
