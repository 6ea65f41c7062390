import { setTimeout as sleep } from 'node:timers/promises';
import { Command, Option } from 'commander';
import { z } from 'zod';
import { OpsError, parsedBy, positiveInteger, positiveNumber, type Io } from '../cli-support';
import { count, duration, renderTable } from '../format';
import { addTargetOptions, resolveTarget, type AwsTarget, type Target, type TargetOptions } from '../target';
import { cloudWatchOldestAge } from './cloudwatch-age';
import { deadLetterStates, oldestSentAt, peek, peekedOldestAge } from './inspect';
import { latestMoveTask, startMoveTask } from './move-task';
import { sqsQueuePort, type QueueMessage, type QueuePort } from './queue-port';
import { DEAD_LETTER_SOURCES, deadLetterQueues, isEventClass, type DeadLetterQueue, type DeadLetterSource } from './queues';
import { moveBack } from './redrive';

/** Messages a local `list` peeks per DLQ for the age of the oldest. */
const LOCAL_AGE_PEEK_MAX = 1000;
/** SQS StartMessageMoveTask accepts at most 500 messages a second. */
const MOVE_TASK_MAX_RATE = 500;
const MOVE_TASK_POLL_MS = 2000;

interface DlqOptions extends TargetOptions {
  class: DeadLetterSource[];
  json?: boolean;
}

const classList = parsedBy(
  z
    .string()
    .transform((list) => list.split(',').map((c) => c.trim()))
    .pipe(z.array(z.enum(DEAD_LETTER_SOURCES, { error: `must be among ${DEAD_LETTER_SOURCES.join(', ')}` })).min(1)),
);

const DESCRIPTION_OF: Record<DeadLetterSource, string> = {
  critical: 'critical queue',
  ephemeral: 'ephemeral queue',
  fanout: 'fan-out subscriptions',
};

/** Runs `action` on the DLQs the options select, then closes the target's clients. */
async function withDeadLetterQueues(options: DlqOptions, io: Io, action: (target: Target, dlqs: DeadLetterQueue[]) => Promise<void>): Promise<void> {
  const target = await resolveTarget(options, io);
  try {
    await action(target, await deadLetterQueues(target, options.class));
    if (target.kind === 'aws' && target.dryRun) io.out('Dry run: the calls above were printed, none was made.');
  } finally {
    target.close();
  }
}

const messageAttributeValues = (m: QueueMessage) =>
  Object.fromEntries(Object.entries(m.messageAttributes).map(([name, v]) => [name, v.StringValue ?? `<${v.DataType ?? 'binary'}>`]));

export function addDlqCommand(program: Command, io: Io): void {
  const dlq = program
    .command('dlq')
    .description('Dead-letter queues of every event class (and, on AWS, of the fan-out subscriptions) in every region');
  const subcommand = (name: string, description: string) =>
    addTargetOptions(dlq.command(name).description(description))
      .addOption(new Option('--class <list>', `comma-separated: whose DLQs (${DEAD_LETTER_SOURCES.join(', ')})`).argParser(classList).default([...DEAD_LETTER_SOURCES], 'all'))
      .option('--json', 'print JSON');

  subcommand('list', 'depth of every DLQ and the age of its oldest message')
    .action(async (options: DlqOptions) =>
      withDeadLetterQueues(options, io, async (target, dlqs) => {
        const port = sqsQueuePort(target.sqs);
        const age = target.kind === 'aws' ? cloudWatchOldestAge(target) : peekedOldestAge(port, { max: LOCAL_AGE_PEEK_MAX, visibilitySeconds: 30 });
        const states = await deadLetterStates(port, dlqs, age);
        if (target.kind === 'aws' && target.dryRun) return;
        if (options.json) {
          io.out(JSON.stringify(states.map(({ dlq: d, ...state }) => ({ region: d.region, dlq: d.name, of: d.of, url: d.url, ...state })), null, 2));
          return;
        }
        io.out(
          renderTable(
            ['region', 'DLQ', 'dead letters of', 'visible', 'in flight', 'oldest'],
            states.map((s) => [s.dlq.region, s.dlq.name, DESCRIPTION_OF[s.dlq.of], count(s.visible), count(s.inFlight), s.oldestAgeSeconds === undefined ? '—' : duration(s.oldestAgeSeconds)]),
            ['left', 'left', 'left', 'right', 'right', 'right'],
          ),
        );
        io.out(
          target.kind === 'aws'
            ? 'oldest: CloudWatch ApproximateAgeOfOldestMessage, time since the message reached the DLQ (a minute behind).'
            : `oldest: since the message was first sent (SentTimestamp of up to ${count(LOCAL_AGE_PEEK_MAX)} messages peeked per DLQ; fauxqs has no CloudWatch).`,
        );
      }),
    );

  subcommand('show', 'the messages of every non-empty DLQ, peeked and left in place')
    .option('--max <n>', 'messages per DLQ', positiveInteger, 10)
    .option('--visibility <seconds>', 'how long a peeked message is hidden if the peek is interrupted', positiveInteger, 30)
    .action(async (options: DlqOptions & { max: number; visibility: number }) =>
      withDeadLetterQueues(options, io, async (target, dlqs) => {
        const port = sqsQueuePort(target.sqs);
        const peeked = await Promise.all(dlqs.map(async (d) => ({ dlq: d, messages: await peek(port, d, { max: options.max, visibilitySeconds: options.visibility }) })));
        if (target.kind === 'aws' && target.dryRun) return;
        const shown = peeked.map(({ dlq: d, messages }) => ({
          region: d.region,
          dlq: d.name,
          of: d.of,
          messages: messages.map((m) => ({
            messageId: m.messageId,
            sentAt: new Date(oldestSentAt([m]) ?? 0).toISOString(),
            receiveCount: Number(m.attributes.ApproximateReceiveCount ?? 0),
            messageAttributes: messageAttributeValues(m),
            attributes: m.attributes,
            body: m.body,
          })),
        }));
        if (options.json) return void io.out(JSON.stringify(shown, null, 2));
        const nonEmpty = shown.filter((s) => s.messages.length > 0);
        if (nonEmpty.length === 0) return void io.out(`Every DLQ is empty (${dlqs.map((d) => `${d.region} ${d.name}`).join(', ')}).`);
        for (const s of nonEmpty) {
          io.out(`${s.region} ${s.dlq} (dead letters of the ${DESCRIPTION_OF[s.of]}): ${s.messages.length} shown, left in place; receive counts include this peek`);
          for (const m of s.messages) {
            const attributes = Object.entries(m.messageAttributes).map(([k, v]) => `${k}=${v}`).join(' ');
            io.out(`  ${m.messageId}  sent ${m.sentAt}  received ${m.receiveCount}×  ${attributes}`);
            io.out(`    ${m.body.length > 300 ? `${m.body.slice(0, 300)}… (${m.body.length} bytes)` : m.body}`);
          }
        }
      }),
    );

  subcommand('redrive', 'move dead letters back to the queue they came from')
    .option('--rate <messages/s>', `at most this many messages a second from each DLQ (on AWS at most ${MOVE_TASK_MAX_RATE})`, positiveNumber, 10)
    .option('--visibility <seconds>', 'local cloud: how long a message in hand stays hidden if the move is interrupted', positiveInteger, 60)
    .option('--no-wait', 'AWS: return once the move tasks have started instead of reporting their progress')
    .action(async (options: DlqOptions & { rate: number; visibility: number; wait: boolean }) =>
      withDeadLetterQueues(options, io, async (target, dlqs) => {
        for (const d of dlqs.filter((d) => !isEventClass(d.of))) {
          io.out(`${d.region} ${d.name}: skipped; SNS put these there and SQS moves only what another queue dead-lettered. Inspect them with \`relaymesh dlq show --aws --class fanout\`.`);
        }
        const redrivable = dlqs.filter((d) => isEventClass(d.of));
        if (target.kind === 'aws') return redriveWithMoveTasks(target, redrivable, options, io);
        const results = await redriveLocally(sqsQueuePort(target.sqs), redrivable, options, io);
        if (options.json) io.out(JSON.stringify(results, null, 2));
      }),
    );
}

async function redriveLocally(port: QueuePort, dlqs: readonly DeadLetterQueue[], options: { rate: number; visibility: number; json?: boolean }, io: Io) {
  // Ctrl-C finishes the message in hand and releases the rest; a second one kills the process as usual.
  const interrupt = new AbortController();
  const onSigint = () => interrupt.abort();
  process.once('SIGINT', onSigint);
  try {
    return await Promise.all(
      dlqs.map(async (d) => {
        const result = await moveBack(port, d, d.source!, { ratePerSecond: options.rate, visibilitySeconds: options.visibility, signal: interrupt.signal });
        const again = result.deadLetteredAgain > 0 ? `; ${result.deadLetteredAgain} dead-lettered again while it ran (left in the DLQ)` : '';
        if (!options.json) io.out(`${d.region} ${d.name} → ${d.source!.url.split('/').pop()}: moved ${result.moved}${again}${result.interrupted ? ' (interrupted)' : ''}`);
        return { region: d.region, dlq: d.name, of: d.of, ...result };
      }),
    );
  } finally {
    process.off('SIGINT', onSigint);
  }
}

async function redriveWithMoveTasks(target: AwsTarget, dlqs: readonly DeadLetterQueue[], options: { rate: number; wait: boolean; json?: boolean }, io: Io): Promise<void> {
  if (options.rate > MOVE_TASK_MAX_RATE) throw new OpsError(`--rate: StartMessageMoveTask moves at most ${MOVE_TASK_MAX_RATE} messages a second.`);
  const started = await Promise.all(dlqs.map(async (d) => ({ dlq: d, ...(await startMoveTask(target.sqs(d.region), d, options.rate)) })));
  for (const { dlq: d, taskHandle } of started) io.out(`${d.region} ${d.name}: move task started${taskHandle ? ` (${taskHandle})` : ''}, ${options.rate} messages/s, back to the queues they came from`);
  if (!options.wait) return;
  const final = await Promise.all(
    started.map(async ({ dlq: d, sourceArn }) => {
      for (;;) {
        const progress = await latestMoveTask(target.sqs(d.region), sourceArn);
        if (progress?.status !== 'RUNNING') {
          if (!options.json && progress) {
            io.out(`${d.region} ${d.name}: ${progress.status}, moved ${progress.moved}${progress.toMove === undefined ? '' : ` of ${progress.toMove}`}${progress.failureReason ? ` (${progress.failureReason})` : ''}`);
          }
          return { region: d.region, dlq: d.name, ...progress };
        }
        if (!options.json) io.out(`${d.region} ${d.name}: RUNNING, moved ${progress.moved}${progress.toMove === undefined ? '' : ` of ${progress.toMove}`}`);
        await sleep(MOVE_TASK_POLL_MS);
      }
    }),
  );
  if (options.json && !target.dryRun) io.out(JSON.stringify(final, null, 2));
}
