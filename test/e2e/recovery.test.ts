import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dedupTable, physicalTableName, publishDedupKey } from '../../lambdas/core/tables';
import { LOCAL_CREDENTIALS, type LocalCloud } from '../../local/cloud';
import { eventually, startTestCloud, TestClient, tokenFor, type Frame } from './support';

const US = 'us-east-1';
const EU = 'eu-west-1';
const APP_NAME = 'recovery';

/** Highest seq per origin among the messages a client received: its recovery vector. */
function vectorOf(messages: Frame[]): Record<string, number> {
  const vector: Record<string, number> = {};
  for (const m of messages) vector[m.origin as string] = Math.max(vector[m.origin as string] ?? 0, m.seq as number);
  return vector;
}

const seqsFrom = (messages: Frame[], origin: string) => messages.filter((m) => m.origin === origin).map((m) => m.seq as number);
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe('exact recovery, idempotent publish and presence across two regions', () => {
  let cloud: LocalCloud;
  const clients: TestClient[] = [];
  const connect = async (region: string, sub = 'tester') => {
    const client = await TestClient.connect(cloud.regions[region]!.websocketUrl, await tokenFor({ sub }));
    clients.push(client);
    return client;
  };

  /** A subscriber of `channel` in `region`, receiving what that region delivers live. */
  const watching = async (region: string, channel: string) => {
    const watcher = await connect(region);
    await watcher.request({ action: 'subscribe', channel });
    return watcher;
  };

  /** `region`'s replica of the publish claim of `id`, once it says accepted. */
  const acceptedClaim = async (region: string, channel: string, id: string) => {
    const dynamo = DynamoDBDocumentClient.from(new DynamoDBClient({ region, endpoint: cloud.regions[region]!.dynamodbEndpoint, credentials: LOCAL_CREDENTIALS }));
    try {
      const { Item } = await dynamo.send(
        new GetCommand({ TableName: physicalTableName(APP_NAME, dedupTable), Key: { [dedupTable.partitionKey]: publishDedupKey(channel, id) }, ConsistentRead: true }),
      );
      return Item?.state === 'accepted' ? Item : undefined;
    } finally {
      dynamo.destroy();
    }
  };

  beforeAll(async () => {
    cloud = await startTestCloud({ appName: APP_NAME, recovery: { historyMaxPerChannel: 30, replicationWaitMs: 1000 } });
  });

  afterAll(async () => {
    for (const client of clients) client.close();
    await cloud?.stop();
  });

  it('a subscriber that reconnects to the other region with its vector receives exactly the 50 messages it missed, in order per origin', async () => {
    const [usPublisher, euPublisher] = await Promise.all([connect(US), connect(EU)]);
    // What eu-west-1 delivered live it holds in its history: once its watcher has every
    // message, a recovery there can replay them all.
    const euWatcher = await watching(EU, 'room:recover');
    const first = await connect(US);
    const ack = await first.request({ action: 'subscribe', channel: 'room:recover' });
    expect(ack).toMatchObject({ type: 'ack', position: { [US]: 0, [EU]: 0 } });
    await usPublisher.request({ action: 'publish', channel: 'room:recover', data: 'before-us' });
    await euPublisher.request({ action: 'publish', channel: 'room:recover', data: 'before-eu' });
    await eventually(async () => first.messages('room:recover').length === 2);
    const vector = vectorOf(first.messages('room:recover'));
    expect(vector).toEqual({ [US]: 1, [EU]: 1 });
    first.close();

    for (let i = 0; i < 25; i++) {
      await usPublisher.request({ action: 'publish', channel: 'room:recover', data: `us-${i}` });
      await euPublisher.request({ action: 'publish', channel: 'room:recover', data: `eu-${i}` });
    }
    await eventually(async () => euWatcher.messages('room:recover').length === 52);

    const back = await connect(EU);
    const resumed = await back.request({ action: 'subscribe', channel: 'room:recover', since: vector });
    expect(resumed).toMatchObject({ type: 'ack', recovered: true, missing: [], position: { [US]: 26, [EU]: 26 } });
    const replayed = back.messages('room:recover');
    expect(replayed).toHaveLength(50);
    expect(seqsFrom(replayed, US)).toEqual(range(2, 26));
    expect(seqsFrom(replayed, EU)).toEqual(range(2, 26));
    expect(replayed.filter((m) => m.origin === US).map((m) => m.data)).toEqual(range(0, 24).map((i) => `us-${i}`));
    // Nothing replayed comes again live: by the time a later message arrives, still 50 (+ it).
    await usPublisher.request({ action: 'publish', channel: 'room:recover', data: 'marker' });
    await back.waitFor((f) => f.type === 'message' && f.data === 'marker');
    expect(back.messages('room:recover')).toHaveLength(51);
  });

  it('a replay racing live publishes from both regions yields every message once, with no gap and in order per origin', async () => {
    const [usPublisher, euPublisher] = await Promise.all([connect(US), connect(EU)]);
    const euWatcher = await watching(EU, 'room:race');
    for (let i = 0; i < 10; i++) {
      await usPublisher.request({ action: 'publish', channel: 'room:race', data: i });
      await euPublisher.request({ action: 'publish', channel: 'room:race', data: i });
    }
    await eventually(async () => euWatcher.messages('room:race').length === 20);

    let publishing = true;
    let published = 0;
    const keepPublishing = async (client: TestClient) => {
      for (let i = 0; publishing; i++, published++) await client.request({ action: 'publish', channel: 'room:race', data: `live-${i}` });
    };
    const publishers = [keepPublishing(usPublisher), keepPublishing(euPublisher)];
    await eventually(async () => published >= 4, 'four publishes acknowledged', 10);
    const racer = await connect(EU);
    const ack = await racer.request({ action: 'subscribe', channel: 'room:race', since: { [US]: 3, [EU]: 5 } });
    expect(ack, JSON.stringify(ack)).toMatchObject({ type: 'ack', recovered: true });
    // Live publishes go on past the handover, from both regions.
    const atAck = published;
    await eventually(async () => published >= atAck + 20, '20 more publishes acknowledged', 10);
    publishing = false;
    await Promise.all(publishers);

    const received = racer.messages('room:race');
    const lastUs = (await usPublisher.request({ action: 'publish', channel: 'room:race', data: 'last' })).seq as number;
    const lastEu = (await euPublisher.request({ action: 'publish', channel: 'room:race', data: 'last' })).seq as number;
    await eventually(async () => vectorOf(racer.messages('room:race'))[US] === lastUs && vectorOf(racer.messages('room:race'))[EU] === lastEu);
    const all = racer.messages('room:race');
    expect(received.length).toBeGreaterThan(20);
    // Raw frames, no client-side dedup: each (origin, seq) exactly once, none missing.
    const ascending = (seqs: number[]) => [...seqs].sort((a, b) => a - b);
    expect(ascending(seqsFrom(all, US))).toEqual(range(4, lastUs));
    expect(ascending(seqsFrom(all, EU))).toEqual(range(6, lastEu));
    // The replay (everything up to the ack's position, posted before the ack) is in order per
    // origin. Live deliveries after the handover may interleave with its last posts and come
    // from concurrent worker invocations; clients order them by seq (see README).
    const beforeAck = all.slice(0, all.indexOf(all.find((m) => racer.frames.indexOf(m) > racer.frames.indexOf(ack))!));
    const position = ack.position as Record<string, number>;
    for (const origin of [US, EU]) {
      const replayed = seqsFrom(beforeAck, origin).filter((seq) => seq <= position[origin]!);
      expect(replayed).toEqual(range(origin === US ? 4 : 6, position[origin]!));
    }
  });

  it('a retried id gets the first (origin, seq) in the same region, and in the other once the claim has replicated; no copy has another seq', async () => {
    const [usSubscriber, euSubscriber] = await Promise.all([connect(US), connect(EU)]);
    await usSubscriber.request({ action: 'subscribe', channel: 'room:retry' });
    await euSubscriber.request({ action: 'subscribe', channel: 'room:retry' });
    const usPublisher = await connect(US);
    const euPublisher = await connect(EU);

    const first = await usPublisher.request({ action: 'publish', channel: 'room:retry', data: 'order', id: 'order-1' });
    const sameRegion = await usPublisher.request({ action: 'publish', channel: 'room:retry', data: 'order', id: 'order-1' });
    expect(first).toMatchObject({ type: 'ack', id: 'order-1', origin: US, seq: 1 });
    expect(first.duplicate).toBeUndefined();
    expect(sameRegion).toMatchObject({ type: 'ack', id: 'order-1', origin: US, seq: 1, duplicate: true });

    await eventually(async () => (await acceptedClaim(EU, 'room:retry', 'order-1')) !== undefined);
    const otherRegion = await euPublisher.request({ action: 'publish', channel: 'room:retry', data: 'order', id: 'order-1' });
    expect(otherRegion).toMatchObject({ type: 'ack', id: 'order-1', origin: US, seq: 1, duplicate: true });
    await usPublisher.request({ action: 'publish', channel: 'room:retry', data: 'marker' });
    for (const subscriber of [usSubscriber, euSubscriber]) {
      await subscriber.waitFor((f) => f.type === 'message' && f.data === 'marker');
      // A retry publishes the same envelope again, so a raw socket may see copies; all are (us-east-1, 1).
      const copies = subscriber.messages('room:retry').filter((m) => m.id === 'order-1');
      expect(copies.length).toBeGreaterThanOrEqual(1);
      expect(new Set(copies.map((m) => `${m.origin}/${m.seq}`))).toEqual(new Set([`${US}/1`]));
    }
  });

  it('presence lists members of both regions, paginates past 100, and announces their leaving', async () => {
    const alice = await connect(US, 'alice');
    await alice.request({ action: 'subscribe', channel: 'room:presence', presence: true });
    const bob = await connect(EU, 'bob');
    await bob.request({ action: 'subscribe', channel: 'room:presence', presence: true });
    await alice.waitFor((f) => f.type === 'presence' && f.event === 'join' && (f.member as Frame).sub === 'bob');

    const crowd = await Promise.all(Array.from({ length: 105 }, (_, i) => connect(EU, `guest-${i}`)));
    // As the SDK does, a subscribe answered with a retryable error (a loaded DynamoDB Local timing out) is sent again.
    const subscribed = async (client: TestClient): Promise<Frame> => {
      const answer = await client.request({ action: 'subscribe', channel: 'room:presence', presence: true });
      return answer.type === 'error' && answer.retryable === true ? subscribed(client) : answer;
    };
    const acks = await Promise.all(crowd.map(subscribed));
    expect(acks.filter((a) => a.type !== 'ack')).toEqual([]);
    const observer = await connect(US, 'observer');
    await observer.request({ action: 'subscribe', channel: 'room:presence' });

    const listAll = async () => {
      const members: Frame[] = [];
      let cursor: string | undefined;
      let pages = 0;
      do {
        const page = await observer.request({ action: 'presence', channel: 'room:presence', ...(cursor && { cursor }) });
        expect(page.type).toBe('members');
        members.push(...(page.members as Frame[]));
        cursor = page.next as string | undefined;
        pages++;
      } while (cursor);
      return { members, pages };
    };
    let lastCount = 0;
    const listed = await eventually(async () => {
      const result = await listAll();
      lastCount = result.members.length;
      return result.members.length === 107 ? result : undefined;
    }).catch((error: Error) => {
      throw new Error(`${error.message}: listed ${lastCount} members, expected 107; replication ${JSON.stringify(cloud.replicator.stats())}`);
    });
    expect(listed.pages).toBeGreaterThanOrEqual(2);
    expect(new Set(listed.members.map((m) => m.region))).toEqual(new Set([US, EU]));
    expect(listed.members.map((m) => m.sub)).toEqual(expect.arrayContaining(['alice', 'bob']));
    expect(listed.members.some((m) => m.sub === 'observer')).toBe(false);

    bob.close();
    const leave = await alice.waitFor((f) => f.type === 'presence' && f.event === 'leave');
    expect(leave.member).toMatchObject({ sub: 'bob', region: EU });
    await eventually(async () => !(await listAll()).members.some((m) => m.sub === 'bob'));
  }, 180_000);

  it('a vector older than history yields recovered:false with the expired range, and replays the rest', async () => {
    const publisher = await connect(US);
    for (let i = 1; i <= 35; i++) await publisher.request({ action: 'publish', channel: 'room:old', data: i });
    // EU records US's messages as it receives them and trims to 30: wait until its history answers 6–35.
    const reader = await connect(EU);
    await eventually(async () => {
      const page = await reader.request({ action: 'history', channel: 'room:old', since: { [US]: 0 } });
      // The expired range also needs EU's copy of US's counter (35, 30 kept): it says 1–5 were trimmed, not late.
      const expired = JSON.stringify(page.missing) === JSON.stringify([{ origin: US, from: 1, to: 5, reason: 'expired' }]);
      return (page.messages as Frame[]).length === 30 && (page.position as Record<string, number>)[US] === 35 && expired;
    }, "EU's history of room:old to hold US 6–35 and its counter to say 1–5 expired");

    const late = await connect(EU);
    const ack = await late.request({ action: 'subscribe', channel: 'room:old', since: { [US]: 0 } });
    expect(ack).toMatchObject({ recovered: false, missing: [{ origin: US, from: 1, to: 5, reason: 'expired' }] });
    expect(seqsFrom(late.messages('room:old'), US)).toEqual(range(6, 35));
  });

  it('never stores ephemeral events: a recovering subscriber gets only critical history', async () => {
    const publisher = await connect(US);
    await publisher.request({ action: 'publish', channel: 'room:typing', data: 'typing…', class: 'ephemeral' });
    const kept = await publisher.request({ action: 'publish', channel: 'room:typing', data: 'hello' });
    expect(kept.seq).toBe(1);
    // The ack comes after the history write, and the recovery is in the same region: no wait.
    const late = await connect(US);
    await late.request({ action: 'subscribe', channel: 'room:typing', since: {} });
    expect(late.messages('room:typing').map((m) => m.data)).toEqual(['hello']);
  });
});
