import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { LOCAL_CREDENTIALS, type LocalCloud } from '../../local/cloud';
import { StatusHistorySchema } from '../../local/status';
import { launchChromium } from './browser';
import { eventually, SMALL_CHANNELS, startTestCloud, TestClient, tokenFor } from './support';

const US = 'us-east-1';
const EU = 'eu-west-1';
/** Page waits have no deadline of their own (Playwright's 0): the test's timeout bounds them. */
const UNTIL_SHOWN = 0;

describe('GIVEN the dashboard of a two-region local cloud open in headless Chromium', () => {
  let cloud: LocalCloud;
  let browser: Browser;
  let page: Page;
  const pageErrors: string[] = [];
  const clients: TestClient[] = [];
  const card = (region: string) => page.locator(`.region[data-region="${region}"]`);
  const deliveryLine = (region: string) => page.locator(`#chart-deliveries polyline[data-region="${region}"]`);

  beforeAll(async () => {
    vi.spyOn(console, 'log').mockImplementation(() => undefined);
    browser = await launchChromium();
    // Critical messages dead-letter after one receive, a second later: a poison message reaches the DLQ at once.
    cloud = await startTestCloud({ regions: [US, EU], eventClasses: { critical: { maxReceiveCount: 1, visibilityTimeoutSeconds: 1 } }, capacity: SMALL_CHANNELS });
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.on('pageerror', (error) => pageErrors.push(error.message));
    await page.goto(`${cloud.edge.url}/dashboard`);
  });
  afterAll(async () => {
    for (const client of clients) client.close();
    await browser?.close();
    await cloud?.stop();
    vi.restoreAllMocks();
  });

  it('THEN the page shows both regions serving, each with its queues, figures and buttons, and no script error', async () => {
    for (const region of [US, EU]) {
      await card(region).and(page.locator('[data-state="serving"]')).waitFor({ timeout: UNTIL_SHOWN });
      await expect(card(region).locator('[data-queue]').allTextContents()).resolves.toEqual([expect.stringMatching(/^critical/), expect.stringMatching(/^ephemeral/)]);
      expect(await card(region).locator('[data-figure="health"]').textContent()).toBe('healthy (HTTP 200)');
      expect(await card(region).locator('button[data-action]').allTextContents()).toEqual(['Drain', 'Undrain', 'Fail', 'Restore']);
    }
    expect(await page.locator('#connection').isHidden()).toBe(true);
    expect(pageErrors).toEqual([]);
  });

  it('WHEN a publish is delivered to a socket subscribed in eu-west-1 THEN the delivery chart rises for eu-west-1 only, drawn from /status/history', async () => {
    await deliveryLine(EU).waitFor({ state: 'attached', timeout: UNTIL_SHOWN });
    expect(await deliveryLine(EU).getAttribute('data-peak')).toBe('0');
    const [subscriber, publisher] = await Promise.all([TestClient.connect(cloud.regions[EU]!.websocketUrl, await tokenFor()), TestClient.connect(cloud.regions[US]!.websocketUrl, await tokenFor())]);
    clients.push(subscriber, publisher);
    expect(await subscriber.request({ action: 'subscribe', channel: 'room:dashboard' })).toMatchObject({ type: 'ack' });
    expect(await publisher.request({ action: 'publish', channel: 'room:dashboard', data: { n: 1 } })).toMatchObject({ type: 'ack' });
    await subscriber.waitFor((f) => f.type === 'message');

    await page.waitForFunction((region) => Number(document.querySelector(`#chart-deliveries polyline[data-region="${region}"]`)?.getAttribute('data-peak')) > 0, EU, { timeout: UNTIL_SHOWN });
    expect(await deliveryLine(EU).getAttribute('points')).toMatch(/^[\d.]+,[\d.]+( [\d.]+,[\d.]+)+$/);
    expect(await deliveryLine(US).getAttribute('data-peak')).toBe('0');
    const history = StatusHistorySchema.parse(await (await fetch(`${cloud.edge.url}/status/history`)).json());
    expect(Math.max(...history.points.map((p) => p.regions[EU]!.deliveriesPerSecond))).toBeGreaterThan(0);
  });

  it('WHEN Drain is clicked for eu-west-1 THEN its card shows it drained and the edge routes its users to us-east-1; Undrain brings it back', async () => {
    await card(EU).locator('button[data-action="drain"]').click();
    await card(EU).and(page.locator('[data-state="drained"]')).waitFor({ timeout: UNTIL_SHOWN });
    expect(await page.locator('#feedback').textContent()).toBe(`drain ${EU}: done`);
    expect(cloud.edge.healthyRegions()).toEqual([US]);
    expect((await fetch(`${cloud.edge.url}/near/${EU}/health`)).headers.get('x-relaymesh-region')).toBe(US);
    expect(await card(EU).locator('button[data-action="drain"]').isDisabled()).toBe(true);
    expect(await card(US).getAttribute('data-state')).toBe('serving');

    await card(EU).locator('button[data-action="undrain"]').click();
    await card(EU).and(page.locator('[data-state="serving"]')).waitFor({ timeout: UNTIL_SHOWN });
    expect(cloud.edge.healthyRegions()).toEqual([US, EU]);
  });

  it('WHEN the control API refuses an action THEN the page shows its reason', async () => {
    await page.route('**/control/**', (route) => route.fulfill({ status: 400, contentType: 'application/json', body: JSON.stringify({ message: 'Unknown region us-east-1' }) }));
    try {
      await card(US).locator('button[data-action="fail"]').click();
      await page.locator('#feedback.error').waitFor({ timeout: UNTIL_SHOWN });
      expect(await page.locator('#feedback').textContent()).toBe(`fail ${US} failed: Unknown region us-east-1`);
    } finally {
      await page.unroute('**/control/**');
    }
    expect(cloud.edge.healthyRegions()).toEqual([US, EU]);
  });

  it('WHEN a poison message dead-letters in us-east-1 THEN its card shows the DLQ depth and criticalDeadLetters in ALARM', async () => {
    const sqs = new SQSClient({ region: US, endpoint: cloud.regions[US]!.sqsEndpoint, credentials: LOCAL_CREDENTIALS });
    await sqs.send(new SendMessageCommand({ QueueUrl: cloud.regions[US]!.queues.critical.queueUrl, MessageBody: 'not an envelope' }));
    sqs.destroy();
    const alarm = card(US).locator('[data-alarm="criticalDeadLetters"]');
    await eventually(
      async () => {
        await cloud.evaluateAlarms();
        return (await alarm.count()) === 1;
      },
      "us-east-1's card to show criticalDeadLetters",
      500,
    );
    expect(await alarm.textContent()).toMatch(/^ALARM criticalDeadLetters since .+: Threshold crossed/);
    expect(await card(US).locator('[data-queue="critical"] [data-figure="dead-letters"]').textContent()).toBe('1');
    expect(await card(EU).locator('[data-alarm]').count()).toBe(0);
  });
});
