import type { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import type { SQSClient } from '@aws-sdk/client-sqs';

/** One AWS API call: what `--dry-run` prints instead of making it. */
export interface AwsCall {
  region: string;
  service: string;
  operation: string;
  input: Record<string, unknown>;
}

export const formatCall = (call: AwsCall): string =>
  `[dry run] ${call.region} ${call.service}.${call.operation} ${JSON.stringify(call.input)}`;

/** The placeholder for what only the real account knows. */
const ACCOUNT = '<account>';

/**
 * What a dry-run call answers: what the named resources would answer while empty, so a command
 * walks its whole path (and prints every call it would make) without an account or credentials.
 */
function emptyDeploymentAnswer({ region, operation, input }: AwsCall): Record<string, unknown> {
  const queueName = (url: unknown) => String(url).split('/').pop();
  switch (operation) {
    case 'GetQueueUrl':
      return { QueueUrl: `https://sqs.${region}.amazonaws.com/${ACCOUNT}/${String(input.QueueName)}` };
    case 'GetQueueAttributes':
      return {
        Attributes: {
          QueueArn: `arn:aws:sqs:${region}:${ACCOUNT}:${queueName(input.QueueUrl)}`,
          ApproximateNumberOfMessages: '0',
          ApproximateNumberOfMessagesNotVisible: '0',
          ApproximateNumberOfMessagesDelayed: '0',
        },
      };
    case 'StartMessageMoveTask':
      return { TaskHandle: '<task handle>' };
    default:
      // ReceiveMessage, ListMessageMoveTasks, GetMetricData…: nothing there.
      return {};
  }
}

/** The slice of an SDK client's middleware stack this module uses (the SDK's own type is a union of overloads). */
interface InitializeStack {
  add(
    middleware: (next: unknown, context: { clientName: string; commandName: string }) => (args: { input: Record<string, unknown> }) => Promise<{ output: object; response: unknown }>,
    options: { step: 'initialize'; name: string; priority: 'high' },
  ): void;
}

/**
 * Makes `client` print every call instead of sending it. The middleware runs first, before
 * endpoint resolution and signing, so nothing leaves the process and no credentials are read.
 */
export function printCallsInstead<Client extends SQSClient | CloudWatchClient>(client: Client, region: string, print: (call: AwsCall) => void): Client {
  (client.middlewareStack as unknown as InitializeStack).add(
    (_next, context) => async (args) => {
      const call: AwsCall = {
        region,
        service: context.clientName.replace(/Client$/, ''),
        operation: context.commandName.replace(/Command$/, ''),
        input: args.input,
      };
      print(call);
      return { output: { $metadata: {}, ...emptyDeploymentAnswer(call) }, response: undefined };
    },
    { step: 'initialize', name: 'relaymeshDryRun', priority: 'high' },
  );
  return client;
}
