import { mkdir } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { Command, InvalidArgumentError } from 'commander';
import { z } from 'zod';
import { launchChromium } from '../../test/e2e/browser';
import { SMALL_CHANNELS, startTestCloud, TestClient, tokenFor } from '../../test/e2e/support';
import { LOCAL_CREDENTIALS } from '../cloud';

/**
 * `npx tsx local/dashboard/screenshot.ts [file]`: the README's dashboard screenshot, of a
 * two-region cloud with half a minute of traffic, a poison message in a DLQ and a drained region.
 */
const program = new Command()
  .name('dashboard-screenshot')
  .argument('[file]', 'where to write the PNG', 'docs/dashboard.png')
  .option('--seconds <n>', 'seconds of traffic before the shot (5-110: the charts show two minutes)', seconds, 40);

function seconds(value: string): number {
  const parsed = z.coerce.number({ error: 'must be a number of seconds' }).int('must be a whole number').min(5, 'must be at least 5').max(110, 'must be at most 110').safeParse(value);
  if (!parsed.success) throw new InvalidArgumentError(parsed.error.issues[0]!.message);
  return parsed.data;
}

async function main(): Promise<void> {
  program.parse();
  const file = resolve(program.args[0] ?? 'docs/dashboard.png');
  const { seconds } = program.opts<{ seconds: number }>();
  const [us, eu] = ['us-east-1', 'eu-west-1'];
  const cloud = await startTestCloud({ regions: [us!, eu!], eventClasses: { critical: { maxReceiveCount: 1, visibilityTimeoutSeconds: 1 } }, capacity: SMALL_CHANNELS });
  const browser = await launchChromium();
  const clients: TestClient[] = [];
  try {
    const connect = async (region: string) => {
      const client = await TestClient.connect(cloud.regions[region]!.websocketUrl, await tokenFor());
      clients.push(client);
      return client;
    };
    // Three subscribers in us-east-1 and two in eu-west-1, so each region's line has its own height.
    for (const region of [us!, us!, us!, eu!, eu!]) await (await connect(region)).request({ action: 'subscribe', channel: 'room:demo' });
    const publisher = await connect(eu!);
    const page = await browser.newPage({ viewport: { width: 1280, height: 660 } });
    await page.goto(`${cloud.edge.url}/dashboard`);
    const sqs = new SQSClient({ region: us, endpoint: cloud.regions[us!]!.sqsEndpoint, credentials: LOCAL_CREDENTIALS });
    for (let second = 0; second < seconds; second++) {
      // A rate that rises and falls, so the chart shows a shape rather than a flat line.
      const perSecond = 2 + Math.round(4 * Math.sin((second / seconds) * Math.PI));
      await Promise.all(Array.from({ length: perSecond }, (_, n) => publisher.request({ action: 'publish', channel: 'room:demo', data: { second, n } })));
      if (second === Math.floor(seconds / 2)) await sqs.send(new SendMessageCommand({ QueueUrl: cloud.regions[us!]!.queues.critical.queueUrl, MessageBody: 'not an envelope' }));
      await cloud.evaluateAlarms();
      await sleep(1000);
    }
    sqs.destroy();
    await cloud.drain(eu!, true);
    await page.locator(`.region[data-region="${eu}"][data-state="drained"]`).waitFor();
    await page.locator('[data-alarm="criticalDeadLetters"]').waitFor();
    await mkdir(dirname(file), { recursive: true });
    await page.screenshot({ path: file, fullPage: true });
    console.log(`Wrote ${file}`);
  } finally {
    for (const client of clients) client.close();
    await browser.close();
    await cloud.stop();
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
