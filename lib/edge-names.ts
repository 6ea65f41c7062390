/**
 * Names of the failover switches, shared by the CDK stacks and `relaymesh gameday`, which
 * throws them on a deployed stack. Free of aws-cdk-lib so the CLI can use them without loading it.
 */

/** SSM parameter whose value "true" makes a region's /health fail on purpose (drain). */
export const drainParameterName = (appName: string): string => `/${appName}/edge/drain`;

/** The Global Accelerator in front of every region's HTTP edge. */
export const acceleratorName = (appName: string): string => `${appName}-edge`;

/** Global Accelerator's control plane lives in us-west-2; its resources are created there and its API answers there. */
export const GLOBAL_ACCELERATOR_REGION = 'us-west-2';
