import { GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  RelaymeshClient,
  RelaymeshError,
  type Gap,
  type RecoveryVector,
  type RelaymeshClientOptions,
  type Subscription,
} from '../../client/src';
import { LOCAL_CREDENTIALS, type LocalCloud } from '../../local/cloud';
import { DeliveryLedger, type AckedMessage } from '../../ops/gameday/ledger';
import { deliveriesSettled, sleep, startTestCloud, tokenFor } from './support';

/**
 * The guarantees end to end, under the faults they are meant to survive: 100 subscribers
 * through the client SDK on one channel, half in each region, critical messages published
 * from both regions while PostToConnection is throttled, SNS publishes fail and replication
 * lag jumps around, and subscribers move to the other region with their vector. Every
 * subscriber must get every acknowledged message exactly once, in order per origin.
 */

const US = 'us-east-1';
const EU = 'eu-west-1';
const REGIONS = [US, EU];
const CHANNEL = 'soak:1';
const SUBSCRIBERS = 100;
/** Critical messages per second, both regions together. */
const PUBLISH_RATE = 5;
const PUBLISH_MS = 60_000;
const MOVE_EVERY_MS = 10_000;
/** How long a moving subscriber stays away: messages published meanwhile must come with its vector. */
const AWAY_MS = 1000;
/** The soak's whole budget; the wait for quiescence may use all of it but what reporting needs. */
const TEST_TIMEOUT_MS = 240_000;
/** Kept back from the wait for quiescence, to print the figures and the diagnosis that follow it. */
const REPORT_MS = 20_000;
/** A subscriber whose connect or first subscribe fails tries again, as an app would, this many times. */
const START_ATTEMPTS = 5;
const FAULTS = { postThrottleRate: 0.05, snsFailureRate: 0.02, replicationLagMs: { min: 0, max: 3000 }, lagJumpEveryMs: 2000 };
/** Bounded backoff keeps the time to quiescence bounded; everything else is the SDK's default. */
const CLIENT_OPTIONS = { backoff: { baseMs: 250, maxMs: 4000 } } satisfies Partial<RelaymeshClientOptions>;
/**
 * Every Lambda invocation of the local cloud shares one Node thread: at the config's 20
 * concurrent delivery workers they only time-slice it and the cloud falls behind (see the
 * README's benchmark), so the soak runs them at 2, as the bench does.
 */
const CONFIG = { eventClasses: { critical: { maxConcurrency: 2 } } };

const other = (region: string) => (region === US ? EU : US);

interface Violation {
  subscriber: Subscriber;
  text: string;
}

/** One frame a client sent or received, or its socket's close. */
interface Traffic {
  at: number;
  direction: 'in' | 'out' | 'close';
  raw: string;
}

/** A WebSocket that keeps every frame, to show what a client saw when a guarantee fails. */
function recordingWebSocket(log: Traffic[]) {
  return class extends WebSocket {
    constructor(url: string) {
      super(url);
      this.addEventListener('message', (event) => log.push({ at: Date.now(), direction: 'in', raw: String(event.data) }));
      this.addEventListener('close', (event) => log.push({ at: Date.now(), direction: 'close', raw: String(event.code) }));
    }

    override send(data: unknown, ...rest: unknown[]): void {
      log.push({ at: Date.now(), direction: 'out', raw: String(data) });
      (super.send as (...args: unknown[]) => void)(data, ...rest);
    }
  };
}

const parse = (raw: string) => JSON.parse(raw) as { type?: string; action?: string; ref?: string; origin?: string; seq?: number; since?: RecoveryVector };

/** One app's subscription, across the clients it moves through; everything it was handed. */
class Subscriber {
  /** Everything it was handed and every recovery answer: what the guarantees are judged on. */
  readonly ledger = new DeliveryLedger();
  readonly gaps: Gap[] = [];
  readonly errors: Error[] = [];
  readonly traffic: Traffic[] = [];
  /** Connects or first subscribes that failed and were tried again. */
  readonly startFailures: Error[] = [];
  moves = 0;
  private client!: RelaymeshClient;
  private subscription!: Subscription;

  constructor(
    readonly index: number,
    private readonly cloud: LocalCloud,
    public region: string,
  ) {}

  /**
   * Connects and subscribes, from `since` when given. The SDK leaves a failed plain first
   * subscribe (nothing handed over yet), or a connect that reached suspended, to its caller: try again.
   */
  async start(since?: RecoveryVector): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      const client = new RelaymeshClient({
        ...CLIENT_OPTIONS,
        url: this.cloud.regions[this.region]!.websocketUrl,
        getToken: () => tokenFor({ sub: `subscriber-${this.index}` }),
        WebSocket: recordingWebSocket(this.traffic),
      });
      client.on('recovery', (event) => this.ledger.recover(event));
      client.on('gap', (gap) => this.gaps.push(gap));
      client.on('error', (error) => this.errors.push(error));
      try {
        await client.connect();
        this.subscription = await client.subscribe(CHANNEL, (message) => this.ledger.hand(message), since && { since });
        this.client = client;
        return;
      } catch (error) {
        await client.close();
        this.startFailures.push(error as Error);
        if (attempt === START_ATTEMPTS) throw error;
        await sleep(1000); // an app backs off before it tries again
      }
    }
  }

  /** Hands its vector over to a new client in the other region, as an app moving between devices would. */
  async move(): Promise<void> {
    const vector = this.subscription.vector();
    await this.client.close();
    await sleep(AWAY_MS);
    this.region = other(this.region);
    this.moves++;
    await this.start(vector);
  }

  vector(): RecoveryVector {
    return this.subscription.vector();
  }

  close(): Promise<void> {
    return this.client.close();
  }

  /** Every way this subscriber's deliveries break a guarantee (the shared ledger's rules). */
  violations(acked: readonly AckedMessage[]): Violation[] {
    return this.ledger.audit(acked).violations.map((v) => ({ subscriber: this, text: `subscriber ${this.index}: ${v.text}` }));
  }

  /** What this subscriber's clients saw: the highest seq received per origin, and each subscribe with since, when sent and how answered. */
  evidence(testStart: number): string[] {
    const seconds = (at: number) => `${((at - testStart) / 1000).toFixed(1)} s`;
    const highest: Record<string, number> = {};
    const sent = new Map<string, { at: number; since: RecoveryVector }>();
    const lines: string[] = [];
    const unanswered = () => {
      for (const [ref, request] of sent) lines.push(`    ${seconds(request.at)}: subscribe ${ref} since ${JSON.stringify(request.since)} never answered`);
      sent.clear();
    };
    for (const { at, direction, raw } of this.traffic) {
      if (direction === 'close') {
        // Refs are per client: what the closed one waited for is never answered.
        unanswered();
        lines.push(`    ${seconds(at)}: socket closed ${raw}`);
        continue;
      }
      const frame = parse(raw);
      if (direction === 'in' && frame.type === 'message') highest[frame.origin!] = Math.max(highest[frame.origin!] ?? 0, frame.seq!);
      if (direction === 'out' && frame.action === 'subscribe') sent.set(frame.ref!, { at, since: frame.since ?? {} });
      const request = direction === 'in' && frame.ref !== undefined ? sent.get(frame.ref) : undefined;
      if (request) {
        lines.push(`    ${seconds(request.at)}: subscribe since ${JSON.stringify(request.since)} answered after ${at - request.at} ms: ${raw.slice(0, 200)}`);
        sent.delete(frame.ref!);
      }
    }
    unanswered();
    return [`  highest seq received per origin ${JSON.stringify(highest)}`, ...lines.slice(-12)];
  }
}

function count<T>(items: readonly T[], keyOf: (item: T) => string): Record<string, number> {
  const totals: Record<string, number> = {};
  for (const item of items) totals[keyOf(item)] = (totals[keyOf(item)] ?? 0) + 1;
  return totals;
}

/** Resolves with whether `work` settled within `ms`. */
const settlesWithin = (work: Promise<unknown>, ms: number) => Promise.race([work.then(() => true), sleep(ms).then(() => false)]);

describe('soak: 100 subscribers, two regions, publishes and moves under throttled posts, failing SNS and jumping replication lag', () => {
  let cloud: LocalCloud;
  const subscribers: Subscriber[] = [];
  const publishers: RelaymeshClient[] = [];

  beforeAll(async () => {
    cloud = await startTestCloud(CONFIG, { faults: FAULTS });
  });

  afterAll(async () => {
    await Promise.all([...subscribers, ...publishers].map((c) => c.close()));
    await cloud?.stop();
  });

  it('hands every subscriber every acknowledged message exactly once, in order per origin, with truthful recovery', { timeout: TEST_TIMEOUT_MS }, async () => {
    const deadline = Date.now() + TEST_TIMEOUT_MS - REPORT_MS;
    for (let i = 0; i < SUBSCRIBERS; i++) subscribers.push(new Subscriber(i, cloud, REGIONS[i % 2]!));
    await Promise.all(subscribers.map((s) => s.start()));

    const publishErrors: RelaymeshError[] = [];
    for (const region of REGIONS) {
      const publisher = new RelaymeshClient({ ...CLIENT_OPTIONS, url: cloud.regions[region]!.websocketUrl, getToken: () => tokenFor({ sub: `publisher-${region}` }), WebSocket });
      publisher.on('publishRetry', ({ error }) => publishErrors.push(error));
      await publisher.connect();
      publishers.push(publisher);
    }

    const acked: AckedMessage[] = [];
    const duplicates: AckedMessage[] = [];
    const failed: RelaymeshError[] = [];
    const publishes: Promise<void>[] = [];
    const moves: Promise<void>[] = [];
    const started = Date.now();
    const total = (PUBLISH_RATE * PUBLISH_MS) / 1000;
    for (let n = 0; n < total; n++) {
      await sleep(started + (n * 1000) / PUBLISH_RATE - Date.now());
      publishes.push(
        publishers[n % 2]!.publish(CHANNEL, { n }).then(
          (ack) => {
            const published: AckedMessage = { id: ack.id!, origin: ack.origin!, seq: ack.seq! };
            acked.push(published);
            if (ack.duplicate) duplicates.push(published);
          },
          (error: RelaymeshError) => {
            failed.push(error);
            publishErrors.push(error);
          },
        ),
      );
      // Every 10 s, half-way between publishes: one subscriber moves. Subscribers alternate
      // between the regions, so consecutive movers do too.
      if ((n + 1) % ((MOVE_EVERY_MS / 1000) * PUBLISH_RATE) === PUBLISH_RATE * 5) moves.push(subscribers[moves.length]!.move());
    }

    cloud.faults.set({ postThrottleRate: 0, snsFailureRate: 0, replicationLagMs: null });
    const quiet = Date.now();
    // Quiescence: every publish and move settled, every subscriber holding every acknowledged
    // message, and nothing left to deliver (a late duplicate would have shown up).
    const remaining = () => deadline - Date.now();
    const publishesSettled = await settlesWithin(Promise.all(publishes), remaining());
    const movesDone = await settlesWithin(Promise.all(moves), remaining());
    while (!subscribers.every((s) => s.ledger.hasAll(acked)) && remaining() > 0) await sleep(250);
    const quiescent = (await settlesWithin(deliveriesSettled(cloud), remaining())) && remaining() > 0;
    const quiescenceMs = Date.now() - quiet;

    const recoveries = subscribers.flatMap((s) => s.ledger.recoveries);
    const ranges = recoveries.flatMap((r) => r.missing);
    const clientErrors = subscribers.flatMap((s) => s.errors);
    console.log(
      [
        `soak figures (${((Date.now() - started) / 1000).toFixed(0)} s from the first publish)`,
        `  published ${total}, acknowledged ${acked.length} (as duplicate ${duplicates.length}), failed for good ${failed.length}${publishesSettled ? '' : `, unsettled ${total - acked.length - failed.length}`}`,
        `  publish errors by code ${JSON.stringify(count(publishErrors, (e) => String(e.code)))}, retries ${publishErrors.length - failed.length}`,
        `  deliveries to apps ${subscribers.reduce((n, s) => n + s.ledger.handed.length, 0)} (${SUBSCRIBERS} subscribers × ${acked.length} acknowledged = ${SUBSCRIBERS * acked.length})`,
        `  faults injected ${JSON.stringify(cloud.faults.stats())}`,
        `  critical delivery workers ${JSON.stringify(workerTotals(cloud))}, left in the DLQs ${JSON.stringify(await deadLetters(cloud))}`,
        `  recoveries ${recoveries.length} (not recovered ${recoveries.filter((r) => !r.recovered).length}), missing ranges by reason ${JSON.stringify(count(ranges, (r) => r.reason))}, seqs in them ${ranges.reduce((n, r) => n + r.to - r.from + 1, 0)}`,
        `  gap events ${subscribers.reduce((n, s) => n + s.gaps.length, 0)}, client errors ${JSON.stringify(count(clientErrors, (e) => (e instanceof RelaymeshError ? String(e.code) : e.message.slice(0, 40))))}`,
        `  moves ${moves.length}${movesDone ? '' : ' (not all finished)'}, connects or first subscribes tried again ${subscribers.reduce((n, s) => n + s.startFailures.length, 0)}, time to quiescence ${quiescenceMs} ms${quiescent ? '' : ' (not reached)'}`,
      ].join('\n'),
    );

    const violations = subscribers.flatMap((s) => s.violations(acked));
    if (violations.length > 0) console.log(diagnose(violations, started));
    expect(violations.map((v) => v.text)).toEqual([]);
    expect(moves).toHaveLength(PUBLISH_MS / MOVE_EVERY_MS);
    expect(movesDone).toBe(true);
    expect(publishesSettled).toBe(true);
    expect(quiescent).toBe(true);
  });
});

/** The delivery workers' counters of the critical class, summed over the regions. */
function workerTotals(cloud: LocalCloud): Record<string, number> {
  const totals: Record<string, number> = {};
  for (const [dimensions, values] of Object.entries(cloud.metrics())) {
    if (!dimensions.endsWith('/critical')) continue;
    for (const [name, value] of Object.entries(values)) totals[name] = (totals[name] ?? 0) + value;
  }
  return totals;
}

/** Messages waiting in each region's critical DLQ: live deliveries the workers gave up on. */
async function deadLetters(cloud: LocalCloud): Promise<Record<string, number>> {
  const entries = await Promise.all(
    Object.values(cloud.regions).map(async ({ region, sqsEndpoint, queues }) => {
      const sqs = new SQSClient({ region, endpoint: sqsEndpoint, credentials: LOCAL_CREDENTIALS });
      const { Attributes } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queues.critical.dlqUrl, AttributeNames: ['ApproximateNumberOfMessages'] }));
      return [region, Number(Attributes?.ApproximateNumberOfMessages ?? 0)] as const;
    }),
  );
  return Object.fromEntries(entries);
}

/** The first violations, and for each subscriber concerned what its clients saw and were answered. */
function diagnose(violations: readonly Violation[], testStart: number): string {
  const lines = [`${violations.length} violations; the first:`, ...violations.slice(0, 20).map((v) => `  ${v.text}`)];
  for (const subscriber of new Set(violations.map((v) => v.subscriber))) {
    lines.push(
      `subscriber ${subscriber.index} (now in ${subscriber.region}, moved ${subscriber.moves}×), vector ${JSON.stringify(subscriber.vector())}, ${subscriber.ledger.recoveries.length} recoveries, gaps ${JSON.stringify(subscriber.gaps)}`,
      `  last errors: ${JSON.stringify(subscriber.errors.slice(-3).map((e) => e.message.slice(0, 120)))}`,
      ...subscriber.evidence(testStart),
    );
  }
  return lines.join('\n');
}
