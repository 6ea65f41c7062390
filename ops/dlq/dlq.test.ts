import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetQueueAttributesCommand, ReceiveMessageCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENT_CLASSES, loadConfig, type EventClass } from '../../lib/config';
import type { LocalCloudDescription } from '../../local/cloud';
import { LOCAL_CREDENTIALS } from '../../local/http';
import { provisionMessaging, startMessaging, type MessagingServer, type RegionMessaging } from '../../local/messaging';
import { relaymesh as relaymeshLines, writeStateFile } from '../cli-test-support';
import { sqsQueuePort } from './queue-port';
import { moveBack } from './redrive';
import { eventually } from '../../test/e2e/support';

const REGIONS = ['us-east-1', 'eu-west-1'];
let server: MessagingServer;
let dir: string;
const sqs: Record<string, SQSClient> = {};
let clouds = 0;

beforeAll(async () => {
  server = await startMessaging();
  dir = await mkdtemp(join(tmpdir(), 'relaymesh-dlq-'));
  for (const region of REGIONS) sqs[region] = new SQSClient({ region, endpoint: server.endpoint, credentials: LOCAL_CREDENTIALS });
});

afterAll(async () => {
  for (const client of Object.values(sqs)) client.destroy();
  await server?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** Fresh queues under an app name of its own and the state file describing them, as `npm start` writes it. */
async function freshCloud(): Promise<{ stateFile: string; queues: Record<string, RegionMessaging['queues']> }> {
  clouds += 1;
  const config = loadConfig({ appName: `dlq-test-${clouds}`, regions: REGIONS });
  const messaging = await provisionMessaging({ endpoint: server.endpoint, appName: config.appName, regions: REGIONS, eventClasses: config.eventClasses });
  // Typed by local/cloud.ts, so the fields the CLI reads are the ones the local cloud writes.
  const description: Pick<LocalCloudDescription, 'credentials'> & { regions: Record<string, Pick<LocalCloudDescription['regions'][string], 'sqsEndpoint' | 'queues'>> } = {
    credentials: LOCAL_CREDENTIALS,
    regions: Object.fromEntries(REGIONS.map((r) => [r, { sqsEndpoint: server.endpoint, queues: messaging[r]!.queues }])),
  };
  const stateFile = await writeStateFile(join(dir, `local-${clouds}.json`), description);
  return { stateFile, queues: Object.fromEntries(REGIONS.map((r) => [r, messaging[r]!.queues])) };
}

async function deadLetter(region: string, url: string, bodies: readonly string[], eventClass: EventClass): Promise<void> {
  for (const body of bodies) {
    await sqs[region]!.send(
      new SendMessageCommand({ QueueUrl: url, MessageBody: body, MessageAttributes: { class: { DataType: 'String', StringValue: eventClass } } }),
    );
  }
}

async function depth(region: string, url: string): Promise<{ visible: number; hidden: number }> {
  const { Attributes = {} } = await sqs[region]!.send(
    new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }),
  );
  return { visible: Number(Attributes.ApproximateNumberOfMessages), hidden: Number(Attributes.ApproximateNumberOfMessagesNotVisible) };
}

async function receiveAll(region: string, url: string) {
  const { Messages = [] } = await sqs[region]!.send(
    new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10, VisibilityTimeout: 30, MessageAttributeNames: ['All'] }),
  );
  return Messages;
}

/** Runs `relaymesh <args>` in-process and returns what it printed. */
const relaymesh = async (...args: string[]): Promise<string> => (await relaymeshLines(...args)).join('\n');

describe('relaymesh dlq on the local cloud (fauxqs)', () => {
  it('list shows the depth of every DLQ of every class and region and the age of its oldest message, and leaves the messages there', async () => {
    const { stateFile, queues } = await freshCloud();
    const { dlqUrl } = queues['us-east-1']!.critical;
    await deadLetter('us-east-1', dlqUrl, ['a', 'b', 'c'], 'critical');
    type Row = { region: string; of: string; visible: number; oldestAgeSeconds?: number };
    // SQS counts ages in whole seconds: list until the oldest is a second old.
    const rows = await eventually(async () => {
      const listed = JSON.parse(await relaymesh('dlq', 'list', '--json', '--state-file', stateFile)) as Row[];
      return (listed.find((r) => r.region === 'us-east-1' && r.of === 'critical')?.oldestAgeSeconds ?? 0) >= 1 && listed;
    }, 'the oldest dead letter to be a second old');
    expect(rows.map((r) => `${r.region}/${r.of}`).sort()).toEqual(REGIONS.flatMap((r) => EVENT_CLASSES.map((c) => `${r}/${c}`)).sort());
    const full = rows.find((r) => r.region === 'us-east-1' && r.of === 'critical')!;
    expect(full.visible).toBe(3);
    expect(full.oldestAgeSeconds).toBeGreaterThanOrEqual(1);
    expect(full.oldestAgeSeconds).toBeLessThan(30);
    for (const empty of rows.filter((r) => r !== full)) {
      expect(empty.visible).toBe(0);
      expect(empty).not.toHaveProperty('oldestAgeSeconds');
    }
    expect(await depth('us-east-1', dlqUrl)).toEqual({ visible: 3, hidden: 0 });

    const table = await relaymesh('dlq', 'list', '--state-file', stateFile);
    expect(table).toMatch(/us-east-1\s+dlq-test-\d+-critical-dlq\s+critical queue\s+3\s+0\s+\d+ s/);
  });

  it('show prints each message with its attributes and receive count, and removes nothing', async () => {
    const { stateFile, queues } = await freshCloud();
    const { dlqUrl } = queues['eu-west-1']!.critical;
    await deadLetter('eu-west-1', dlqUrl, ['{"poison":1}', '{"poison":2}'], 'critical');

    const shown = JSON.parse(await relaymesh('dlq', 'show', '--json', '--regions', 'eu-west-1', '--class', 'critical', '--state-file', stateFile)) as Array<{
      messages: Array<{ body: string; receiveCount: number; messageAttributes: Record<string, string> }>;
    }>;
    expect(shown).toHaveLength(1);
    expect(shown[0]!.messages.map((m) => m.body).sort()).toEqual(['{"poison":1}', '{"poison":2}']);
    for (const m of shown[0]!.messages) {
      expect(m.messageAttributes).toEqual({ class: 'critical' });
      expect(m.receiveCount).toBe(1);
    }
    // Still there, and visible at once: the peek gave them back rather than letting them time out.
    expect(await depth('eu-west-1', dlqUrl)).toEqual({ visible: 2, hidden: 0 });
    expect((await receiveAll('eu-west-1', dlqUrl)).map((m) => m.Body).sort()).toEqual(['{"poison":1}', '{"poison":2}']);
  });

  it('redrive moves every dead letter back to its source queue with its attributes, reports how many, and keeps to the rate', async () => {
    const { stateFile, queues } = await freshCloud();
    const { dlqUrl, queueUrl } = queues['eu-west-1']!.ephemeral;
    const bodies = ['e1', 'e2', 'e3', 'e4', 'e5', 'e6'];
    await deadLetter('eu-west-1', dlqUrl, bodies, 'ephemeral');

    const started = Date.now();
    const printed = await relaymesh('dlq', 'redrive', '--regions', 'eu-west-1', '--class', 'ephemeral', '--rate', '4', '--state-file', stateFile);
    const elapsedMs = Date.now() - started;

    expect(printed).toMatch(/eu-west-1 dlq-test-\d+-ephemeral-dlq → dlq-test-\d+-ephemeral: moved 6$/);
    // 4 a second: the 6th leaves no sooner than 5 ÷ 4 s after the first.
    expect(elapsedMs).toBeGreaterThanOrEqual(1250);
    expect(await depth('eu-west-1', dlqUrl)).toEqual({ visible: 0, hidden: 0 });
    const back = await receiveAll('eu-west-1', queueUrl);
    expect(back.map((m) => m.Body).sort()).toEqual(bodies);
    expect(back.every((m) => m.MessageAttributes?.class?.StringValue === 'ephemeral')).toBe(true);
  });

  it('redrive sends before it deletes: a delete that fails leaves that message in both queues, never in neither', async () => {
    const { queues } = await freshCloud();
    const { dlqUrl, queueUrl } = queues['us-east-1']!.ephemeral;
    await deadLetter('us-east-1', dlqUrl, ['x1', 'x2', 'x3'], 'ephemeral');
    const port = sqsQueuePort((region) => sqs[region]!);
    const failingDelete = { ...port, delete: async () => Promise.reject(new Error('connection reset')) };

    await expect(
      moveBack(failingDelete, { region: 'us-east-1', url: dlqUrl }, { region: 'us-east-1', url: queueUrl }, { ratePerSecond: 100, visibilitySeconds: 1 }),
    ).rejects.toThrow('connection reset');

    const moved = await receiveAll('us-east-1', queueUrl);
    expect(moved).toHaveLength(1);
    // The one sent is still in the DLQ, hidden until its visibility ends; the two not reached are visible again.
    expect(await depth('us-east-1', dlqUrl)).toEqual({ visible: 2, hidden: 1 });
    // fauxqs ends a visibility timeout when a receive looks: peek (visibility 0) until all three show.
    const peek = () => sqs['us-east-1']!.send(new ReceiveMessageCommand({ QueueUrl: dlqUrl, MaxNumberOfMessages: 10, VisibilityTimeout: 0 }));
    await eventually(async () => ((await peek()).Messages ?? []).length === 3, 'the hidden one to be visible again');
    expect((await receiveAll('us-east-1', dlqUrl)).map((m) => m.Body).sort()).toEqual(['x1', 'x2', 'x3']);
  });

  it('refuses a local cloud that is gone (no file, its process ended, nothing answering) and says how to start one', async () => {
    const { stateFile } = await freshCloud();
    const described = JSON.parse(await readFile(stateFile, 'utf8')) as { regions: Record<string, { sqsEndpoint: string }> };
    const variant = async (name: string, change: (d: typeof described) => object) => {
      const file = join(dir, name);
      await writeFile(file, JSON.stringify(change(structuredClone(described))));
      return file;
    };

    await expect(relaymesh('dlq', 'list', '--state-file', join(dir, 'missing.json'))).rejects.toThrow(/^No local cloud: .* does not exist\. Start one with `npm start`/);
    const ended = spawnSync(process.execPath, ['-e', '']).pid;
    await expect(relaymesh('dlq', 'list', '--state-file', await variant('ended.json', (d) => ({ ...d, pid: ended })))).rejects.toThrow(
      new RegExp(`\\(pid ${ended}, started .*\\) no longer runs\\. Start it with \`npm start\``),
    );
    const silent = await variant('silent.json', (d) => {
      for (const region of Object.values(d.regions)) region.sqsEndpoint = 'http://127.0.0.1:9';
      return d;
    });
    await expect(relaymesh('dlq', 'list', '--state-file', silent)).rejects.toThrow(/does not answer at http:\/\/127\.0\.0\.1:9: it has stopped/);
  });
});
