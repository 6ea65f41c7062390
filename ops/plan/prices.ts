/**
 * The one price table of `relaymesh plan`: us-east-1 list prices in USD, no free tier (a
 * production account outgrows it), first volume tier only. Read on 2026-11-23 from the
 * stored copies of the pages named with each price (AWS renders most of its rate tables
 * client-side, so several were read from pages that transcribe them, as noted). Other
 * Regions are a few percent dearer.
 */
export const PRICES_READ_ON = '2026-11-23';

export const PRICES = {
  apiGateway: {
    /** WebSocket messages, sent or received, metered in 32 KB increments; first 1 billion a month.
     * aws.amazon.com/api-gateway/pricing (worked example, as transcribed by api-evangelist/amazon-web-services plans/…-pricing.yml, read 2026-09-20). */
    perMillionMessages: 1.0,
    /** aws.amazon.com/api-gateway/pricing, same transcription. */
    perMillionConnectionMinutes: 0.25,
    /** HTTP APIs, first 300 million requests a month (the edge in the `regional` edge mode); same transcription. */
    perMillionHttpApiRequests: 1.0,
  },
  lambda: {
    /** aws.amazon.com/lambda/pricing (api-evangelist/aws-lambda plans/aws-lambda-plans-pricing.yml). */
    perMillionRequests: 0.2,
    /** Arm64, first 7.5 billion GB-s a month (the functions are ARM_64, lib/relaymesh-function.ts).
     * The page renders the rate client-side; this figure is artillery's lib/platform/aws-lambda/prices.js
     * ("base arm64", from aws.amazon.com/lambda/pricing), matching other 2026 transcriptions. */
    perGbSecondArm: 0.0000133334,
  },
  sqs: {
    /** Standard queues, first 100 billion requests a month; each 64 KB chunk of a request is one request.
     * cloudburn.io/blog/amazon-sqs-pricing (us-east-1, March 2026). */
    perMillionRequests: 0.4,
  },
  sns: {
    /** Standard topics, per 64 KB chunk published. factualminds.com/blog/amazon-sns-pricing-publishes-fanout-protocols (2026-06-13).
     * Deliveries to SQS queues carry no SNS charge (sph.sh, "SNS/SQS cross-account fan-out"). */
    perMillionPublishes: 0.5,
  },
  dataTransfer: {
    /** Out of a US Region to another Region (SNS cross-Region deliveries, global table replication).
     * awsnegotiations.com/aws-global-network-transfer-cost (May 2026: "US to Europe ~$0.02/GB"). */
    interRegionPerGb: 0.02,
  },
  dynamodb: {
    /** On-demand, after the November 2024 cut. airbyte.com/data-engineering-resources/dynamodb-pricing. */
    perMillionWriteUnits: 0.625,
    perMillionReadUnits: 0.125,
    /** "Replicated write units (rWCUs and rWRUs) are priced the same as single-Region write units"
     * (docs.aws.amazon.com/amazondynamodb/latest/developerguide/global-tables-billing.html). */
    perMillionReplicatedWriteUnits: 0.625,
    /** Standard table class. aws.amazon.com/dynamodb/pricing ("from $0.25 per GB-month"). */
    perGbMonth: 0.25,
  },
  globalAccelerator: {
    /** aws.amazon.com/global-accelerator/pricing: fixed fee per accelerator-hour. */
    perHour: 0.025,
    /** Same page: DT-Premium, North America source to North America edge, dominant direction. */
    premiumPerGb: 0.015,
  },
  alb: {
    /** cloud-horizons.com/blog/alb-the-line-item-nobody-watches (May 2026). */
    perHour: 0.0225,
    perLcuHour: 0.008,
    /** One LCU: 25 new connections/s, or 3,000 active connections/min, or 1 GB processed/h (the page
     * states 1 GB for EC2 targets; the Lambda-target figure was not in the corpus, so 1 GB is used). */
    lcuNewConnectionsPerSecond: 25,
    lcuProcessedGbPerHour: 1,
  },
  vpc: {
    /** Public IPv4 address per hour (the edge ALB has one per AZ), since 2024-02-01.
     * javierinthecloud.com/aws-public-ipv4-addresses-will-have-a-cost. */
    publicIpv4PerHour: 0.005,
  },
  cloudWatch: {
    /** Standard-resolution alarm per month. c3x.dev/resources/aws/aws_cloudwatch_metric_alarm. */
    perAlarmMonth: 0.1,
    /** Logs ingestion (the WebSocket stage's access logs). factualminds.com/blog/amazon-cloudwatch-pricing-metrics-logs-alarms-dashboards (2026-06-13). */
    logsIngestionPerGb: 0.5,
    /** Per dashboard per month beyond the 3 free per account (same page; free count: aws.amazon.com/cloudwatch/pricing). */
    perDashboardMonth: 3,
    freeDashboards: 3,
  },
  xray: {
    /** Traces recorded, beyond the free tier. aws.amazon.com/xray/pricing ("5 USD pro Million"). */
    perMillionTracesRecorded: 5,
  },
  secretsManager: {
    /** Per secret (each replica counts) per month. hivebook.wiki/wiki/aws-secrets-manager-… */
    perSecretMonth: 0.4,
  },
};

/** AWS bills a month as 730 hours. */
export const HOURS_PER_MONTH = 730;
export const SECONDS_PER_MONTH = HOURS_PER_MONTH * 3600;
