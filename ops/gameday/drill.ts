import { setTimeout as sleep } from 'node:timers/promises';
import { RelaymeshError, type RelaymeshClient } from '../../client/src';
import { OpsError } from '../cli-support';
import { DeliveryLedger, type AckedMessage } from './ledger';
import { placement, type DrillPlan } from './plan';
import { Timeline, type ClientRun, type DrillRun } from './report';
import { awaitSettled } from './settle';

/** What the drill needs from the world: SDK clients, the region switches, a terminal. */
export interface DrillPorts {
  /** A new SDK client for client `index`, playing a user near `near` (not yet connected). */
  client(index: number, near: string): RelaymeshClient;
  /** The region a client's regional WebSocket URL (`RelaymeshClient.url`) belongs to. */
  regionOf(websocketUrl: string | undefined): string;
  /** Takes the plan's region down in the plan's mode, and brings it back. */
  takeDown(): Promise<void>;
  bringBack(): Promise<void>;
  progress(line: string): void;
}

/** Clients connecting and subscribing at once at the start, so the cloud is not stampeded. */
const START_CONCURRENCY = 20;
/** A client whose connect or first subscribe fails tries again, as an app would, this many times. */
const START_ATTEMPTS = 5;
const START_RETRY_MS = 1000;
const PROGRESS_EVERY_MS = 5000;
const SETTLE_POLL_MS = 250;
/** The settle wait ends at this many times `--settle` even while a backlog still trickles in. */
const SETTLE_LIMIT_FACTOR = 10;

const codeOf = (error: unknown) => (error instanceof RelaymeshError ? String(error.code) : error instanceof Error ? error.message.slice(0, 60) : String(error));
const bumpIn = (counts: Record<string, number>, key: string) => void (counts[key] = (counts[key] ?? 0) + 1);

/** One client of the drill: its SDK client and everything it saw. */
interface DrillClient {
  run: ClientRun;
  sdk: RelaymeshClient;
}

/**
 * The failover drill: connects every client through the edge, each subscribed to one channel,
 * publishes at the plan's rate from the clients themselves, takes the region down at `at` and
 * brings it back `for` seconds later, stops publishing at `duration`, then waits for every
 * subscriber to have every acknowledged message while they keep arriving (see awaitSettled). The region is brought
 * back whatever happens, so an interrupted drill leaves no region down.
 */
export async function runDrill(plan: DrillPlan, ports: DrillPorts, runId: string): Promise<DrillRun> {
  const timeline = new Timeline();
  const events: DrillRun['events'] = [];
  let startMs = Date.now();
  const seconds = () => (Date.now() - startMs) / 1000;
  const event = (text: string) => {
    events.push({ at: Number(seconds().toFixed(1)), text });
    ports.progress(`${seconds().toFixed(0).padStart(4)} s  ${text}`);
  };

  const channelName = (channel: number) => `gameday-${runId}:${channel}`;
  const clients = await startClients(plan, ports, channelName, timeline, seconds);
  startMs = Date.now();
  const startedAt = new Date(startMs).toISOString();
  event(`${clients.length} clients subscribed (${regionCounts(clients.map((c) => ports.regionOf(c.sdk.url)))}); publishing ${plan.rate}/s ${plan.eventClass}`);

  const acked: Array<AckedMessage & { channel: string }> = [];
  let acknowledged = 0;
  let acknowledgedAsDuplicate = 0;
  let published = 0;
  const publishes: Promise<void>[] = [];
  let down = false;
  const downWindow: DrillRun['downWindow'] = { from: plan.atSeconds, to: plan.atSeconds + plan.forSeconds };
  const progress = setInterval(() => {
    const reconnecting = clients.filter((c) => c.sdk.state !== 'connected').length;
    const delivered = clients.reduce((n, c) => n + c.run.ledger.handed.length, 0);
    ports.progress(
      `${seconds().toFixed(0).padStart(4)} s  published ${published}, acknowledged ${acknowledged}, delivered ${delivered}, not open ${reconnecting}, reconnects ${clients.reduce((n, c) => n + c.run.reconnects.length, 0)}  [${regionCounts(clients.map((c) => ports.regionOf(c.sdk.url)))}]${down ? `  ${plan.down} ${plan.mode === 'fail' ? 'failed' : 'drained'}` : ''}`,
    );
  }, PROGRESS_EVERY_MS);

  try {
    // A switch that fails stops the drill: publishing on would measure a failover that never happened.
    const stopped = new AbortController();
    const switches = (async () => {
      await sleep(plan.atSeconds * 1000);
      // Down from the attempt on: a switch that timed out may still have been thrown.
      down = true;
      await ports.takeDown();
      downWindow.from = Number(seconds().toFixed(1));
      event(`${plan.down} taken down (${plan.mode})`);
      await sleep(startMs + (plan.atSeconds + plan.forSeconds) * 1000 - Date.now());
      await ports.bringBack();
      down = false;
      downWindow.to = Number(seconds().toFixed(1));
      event(`${plan.down} brought back`);
    })();
    switches.catch(() => stopped.abort());

    const total = Math.floor(plan.rate * plan.durationSeconds);
    for (let n = 0; n < total && !stopped.signal.aborted; n++) {
      await sleep(startMs + (n * 1000) / plan.rate - Date.now());
      const publisher = clients[n % clients.length]!;
      published++;
      publishes.push(
        publisher.sdk.publish(publisher.run.channel, { n }, { id: `${runId}-${n}`, class: plan.eventClass }).then(
          (ack) => {
            acknowledged++;
            publisher.run.publishes.acknowledged++;
            if (ack.duplicate) acknowledgedAsDuplicate++;
            if (ack.origin !== undefined && ack.seq !== undefined) acked.push({ id: ack.id!, origin: ack.origin, seq: ack.seq, channel: publisher.run.channel });
          },
          (error: unknown) => {
            bumpIn(publisher.run.publishes.failed, codeOf(error));
            timeline.error(seconds());
          },
        ),
      );
    }
    await switches;
    await sleep(startMs + plan.durationSeconds * 1000 - Date.now());
    event(
      `publishing stopped; waiting for every subscriber to have every acknowledged message (until nothing arrives for ${plan.settleSeconds} s, at most ${SETTLE_LIMIT_FACTOR * plan.settleSeconds} s)`,
    );

    await Promise.race([Promise.all(publishes), sleep(plan.settleSeconds * 1000)]);
    const owed = (client: DrillClient) => acked.filter((a) => a.channel === client.run.channel);
    const settled = await awaitSettled({
      done: () => clients.every((c) => c.run.ledger.hasAll(owed(c))),
      progress: () => clients.reduce((n, c) => n + c.run.ledger.handed.length, 0) + acknowledged,
      quietMs: plan.settleSeconds * 1000,
      maxMs: SETTLE_LIMIT_FACTOR * plan.settleSeconds * 1000,
      pollMs: SETTLE_POLL_MS,
    });
    event(settled ? 'every subscriber has every acknowledged message' : `settle time ran out: nothing arrived for ${plan.settleSeconds} s, or ${SETTLE_LIMIT_FACTOR * plan.settleSeconds} s passed`);
    for (const c of clients) c.run.endRegion = ports.regionOf(c.sdk.url);
    return {
      plan,
      startedAt,
      endedAt: new Date().toISOString(),
      published,
      acked,
      acknowledged,
      acknowledgedAsDuplicate,
      settled,
      downWindow,
      events,
      timeline,
      clients: clients.map((c) => c.run),
    };
  } finally {
    clearInterval(progress);
    try {
      if (down) await ports.bringBack();
    } finally {
      await Promise.all(clients.map((c) => c.sdk.close()));
    }
  }
}

function regionCounts(regions: readonly string[]): string {
  const counts: Record<string, number> = {};
  for (const region of regions) bumpIn(counts, region);
  return Object.entries(counts)
    .map(([region, n]) => `${region} ${n}`)
    .join(', ');
}

/** Connects and subscribes every client, a few at a time; a client that cannot start after its attempts stops the drill. */
async function startClients(
  plan: DrillPlan,
  ports: DrillPorts,
  channelName: (channel: number) => string,
  timeline: Timeline,
  seconds: () => number,
): Promise<DrillClient[]> {
  const started: DrillClient[] = [];
  let next = 0;
  const startOne = async (index: number): Promise<DrillClient> => {
    const { channel, near } = placement(plan, index);
    for (let attempt = 1; ; attempt++) {
      const sdk = ports.client(index, near);
      const run: ClientRun = {
        index,
        channel: channelName(channel),
        near,
        startRegion: '',
        endRegion: '',
        ledger: new DeliveryLedger(),
        reconnects: [],
        publishes: { acknowledged: 0, retried: {}, failed: {} },
        errors: {},
      };
      observe(sdk, run, ports, timeline, seconds);
      try {
        await sdk.connect();
        await sdk.subscribe(run.channel, (message) => {
          run.ledger.hand(message);
          timeline.delivery(seconds(), ports.regionOf(sdk.url));
        });
        run.startRegion = ports.regionOf(sdk.url);
        return { run, sdk };
      } catch (error) {
        await sdk.close();
        if (attempt === START_ATTEMPTS) throw new OpsError(`Client ${index} (near ${near}) could not connect and subscribe after ${START_ATTEMPTS} attempts: ${(error as Error).message}`);
        await sleep(START_RETRY_MS);
      }
    }
  };
  const worker = async () => {
    while (next < plan.clients) {
      const index = next++;
      started[index] = await startOne(index);
      if (started.filter(Boolean).length % 50 === 0) ports.progress(`   connecting: ${started.filter(Boolean).length}/${plan.clients} subscribed`);
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(START_CONCURRENCY, plan.clients) }, worker));
  } catch (error) {
    await Promise.all(started.filter(Boolean).map((c) => c.sdk.close()));
    throw error;
  }
  return started;
}

/** Records a client's reconnects (loss to open again, from which region to which), recoveries, retries and errors. */
function observe(sdk: RelaymeshClient, run: ClientRun, ports: DrillPorts, timeline: Timeline, seconds: () => number): void {
  let lost: { atMs: number; at: number; from: string } | undefined;
  sdk.on('state', ({ current }) => {
    if (current === 'disconnected' && !lost) lost = { atMs: Date.now(), at: seconds(), from: ports.regionOf(sdk.url) };
    if (current === 'connected' && lost) {
      run.reconnects.push({ at: Number(lost.at.toFixed(1)), ms: Date.now() - lost.atMs, from: lost.from, to: ports.regionOf(sdk.url) });
      timeline.reconnect(seconds());
      lost = undefined;
    }
  });
  sdk.on('recovery', (answer) => run.ledger.recover(answer));
  sdk.on('publishRetry', ({ error }) => {
    bumpIn(run.publishes.retried, codeOf(error));
    timeline.error(seconds());
  });
  sdk.on('error', (error) => {
    bumpIn(run.errors, codeOf(error));
    timeline.error(seconds());
  });
}
