/**
 * The AWS Regions Relaymesh can deploy to, and which of them SNS treats as opt-in Regions.
 * Free of aws-cdk-lib so the config (read by the local cloud too) can use it without loading
 * the CDK; test/cdk/aws-regions.test.ts checks the list against the installed aws-cdk-lib's
 * region-info, so an upgrade that learns a new Region fails that test until it is added here.
 */

/**
 * Every Region of the commercial `aws` partition (aws-cdk-lib region-info, partition `aws`).
 * GovCloud, China and the isolated partitions are left out: Global Accelerator, which the
 * default edge needs, and cross-Region SNS delivery to the other Regions do not exist across
 * partitions.
 */
export const AWS_REGIONS = [
  'af-south-1',
  'ap-east-1',
  'ap-east-2',
  'ap-northeast-1',
  'ap-northeast-2',
  'ap-northeast-3',
  'ap-south-1',
  'ap-south-2',
  'ap-southeast-1',
  'ap-southeast-2',
  'ap-southeast-3',
  'ap-southeast-4',
  'ap-southeast-5',
  'ap-southeast-6',
  'ap-southeast-7',
  'ca-central-1',
  'ca-west-1',
  'eu-central-1',
  'eu-central-2',
  'eu-north-1',
  'eu-south-1',
  'eu-south-2',
  'eu-west-1',
  'eu-west-2',
  'eu-west-3',
  'il-central-1',
  'me-central-1',
  'me-south-1',
  'me-west-1',
  'mx-central-1',
  'sa-east-1',
  'us-east-1',
  'us-east-2',
  'us-west-1',
  'us-west-2',
] as const;

/** Regions an account must enable before use (aws-cdk-lib region-info `isOptInRegion`). */
export const ACCOUNT_OPT_IN_REGIONS: ReadonlySet<string> = new Set([
  'af-south-1',
  'ap-east-1',
  'ap-east-2',
  'ap-south-2',
  'ap-southeast-3',
  'ap-southeast-4',
  'ap-southeast-5',
  'ap-southeast-6',
  'ap-southeast-7',
  'ca-west-1',
  'eu-central-2',
  'eu-south-1',
  'eu-south-2',
  'il-central-1',
  'me-central-1',
  'me-south-1',
  'me-west-1',
  'mx-central-1',
]);

/**
 * Regions SNS handles as opt-in Regions for cross-Region delivery: the account opt-in Regions
 * plus ap-northeast-3 (Osaka), which the SNS Developer Guide lists among them ("Sending Amazon
 * SNS messages to an Amazon SQS queue or AWS Lambda function in a different Region", Opt-in
 * Regions table) although accounts need not enable it. The guide's rule: every Region launched
 * after 20 March 2019.
 */
export const SNS_OPT_IN_REGIONS: ReadonlySet<string> = new Set([...ACCOUNT_OPT_IN_REGIONS, 'ap-northeast-3']);

export const isAwsRegion = (name: string): boolean => (AWS_REGIONS as readonly string[]).includes(name);

/** The known Region closest to a misspelt name (at most 2 edits away), for "did you mean". */
export function closestAwsRegion(name: string): string | undefined {
  let best: { region: string; distance: number } | undefined;
  for (const region of AWS_REGIONS) {
    const distance = editDistance(name, region);
    if (distance <= 2 && (!best || distance < best.distance)) best = { region, distance };
  }
  return best?.region;
}

/** Damerau-Levenshtein (optimal string alignment): a swap of two letters, as in "wset", is one edit. */
function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i]![j] = Math.min(d[i]![j]!, d[i - 2]![j - 2]! + 1);
    }
  }
  return d[a.length]![b.length]!;
}

/**
 * The service principal(s) a queue in `queueRegion` must allow for SNS deliveries from a topic
 * in `topicRegion` (SNS Developer Guide, cross-Region delivery): within one Region, or between
 * two Regions enabled by default, `sns.amazonaws.com`; from an opt-in Region's topic,
 * `sns.<topic-region>.amazonaws.com` instead ("replace the principal"). Into an opt-in Region
 * from a default one the guide says delivery is supported without naming the principal; both
 * the global and that Region's principal are allowed then (each statement stays bound to the
 * topic ARN). Between two opt-in Regions SNS does not deliver at all: `undefined`, which the
 * config refuses before anything is built.
 */
export function snsDeliveryPrincipals(topicRegion: string, queueRegion: string): readonly string[] | undefined {
  if (topicRegion === queueRegion) return ['sns.amazonaws.com'];
  const topicOptIn = SNS_OPT_IN_REGIONS.has(topicRegion);
  const queueOptIn = SNS_OPT_IN_REGIONS.has(queueRegion);
  if (topicOptIn && queueOptIn) return undefined;
  if (topicOptIn) return [`sns.${topicRegion}.amazonaws.com`];
  if (queueOptIn) return ['sns.amazonaws.com', `sns.${queueRegion}.amazonaws.com`];
  return ['sns.amazonaws.com'];
}
