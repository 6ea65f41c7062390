import { acceleratorName } from '../lib/edge-names';

/** One AWS API call: what `--dry-run` prints instead of making it. */
export interface AwsCall {
  region: string;
  service: string;
  operation: string;
  input: Record<string, unknown>;
}

export const formatCall = (call: AwsCall): string =>
  `[dry run] ${call.region} ${call.service}.${call.operation} ${JSON.stringify(call.input)}`;

/** What a dry-run call answers instead of AWS. */
export type DryRunAnswer = (call: AwsCall) => Record<string, unknown>;

/** The placeholder for what only the real account knows. */
const ACCOUNT = '<account>';

/** The deployment a dry run stands in for: the stack names follow from these. */
export interface Deployment {
  appName: string;
  regions: readonly string[];
}

/**
 * What a dry-run call answers: what the named resources of `deployment` would answer while
 * empty, so a command walks its whole path (and prints every call it would make) without an
 * account or credentials.
 */
export const emptyDeploymentAnswer =
  (deployment: Deployment): DryRunAnswer =>
  ({ region, operation, input }) => {
    const queueName = (url: unknown) => String(url).split('/').pop();
    const acceleratorArn = `arn:aws:globalaccelerator::${ACCOUNT}:accelerator/<accelerator id>`;
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
      // The accelerator the edge stack creates: one listener, an endpoint group per region.
      case 'ListAccelerators':
        return { Accelerators: [{ AcceleratorArn: acceleratorArn, Name: acceleratorName(deployment.appName) }] };
      case 'ListListeners':
        return { Listeners: [{ ListenerArn: `${acceleratorArn}/listener/<listener id>` }] };
      case 'ListEndpointGroups':
        return {
          EndpointGroups: deployment.regions.map((r) => ({ EndpointGroupArn: `${String(input.ListenerArn)}/endpoint-group/<${r} group id>`, EndpointGroupRegion: r })),
        };
      default:
        // ReceiveMessage, ListMessageMoveTasks, GetMetricData…: nothing there.
        return {};
    }
  };

/** The slice of an SDK client's middleware stack this module uses (the SDK's own type is a union of overloads). */
interface InitializeStack {
  add(
    middleware: (next: unknown, context: { clientName: string; commandName: string }) => (args: { input: Record<string, unknown> }) => Promise<{ output: object; response: unknown }>,
    options: { step: 'initialize'; name: string; priority: 'high' },
  ): void;
}

/**
 * Makes `client` (any AWS SDK v3 client) print every call instead of sending it. The
 * middleware runs first, before endpoint resolution and signing, so nothing leaves the process
 * and no credentials are read; `answer` stands in for AWS.
 */
export function printCallsInstead<Client extends { middlewareStack: object }>(
  client: Client,
  region: string,
  print: (call: AwsCall) => void,
  answer: DryRunAnswer,
): Client {
  (client.middlewareStack as unknown as InitializeStack).add(
    (_next, context) => async (args) => {
      const call: AwsCall = {
        region,
        service: context.clientName.replace(/Client$/, ''),
        operation: context.commandName.replace(/Command$/, ''),
        input: args.input,
      };
      print(call);
      return { output: { $metadata: {}, ...answer(call) }, response: undefined };
    },
    { step: 'initialize', name: 'relaymeshDryRun', priority: 'high' },
  );
  return client;
}
