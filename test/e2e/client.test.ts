import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RelaymeshClient, RelaymeshError, type ConnectionState, type Message, type PresenceEvent, type RecoveryEvent, type RelaymeshClientOptions } from '../../client/src';
import type { LocalCloud } from '../../local/cloud';
import { deliveriesSettled, eventually, startTestCloud, tokenFor } from './support';

const US = 'us-east-1';
const EU = 'eu-west-1';

const seqsFrom = (messages: Message[], origin: string) => messages.filter((m) => m.origin === origin).map((m) => m.seq);
const dataFrom = (messages: Message[], origin: string) => messages.filter((m) => m.origin === origin).map((m) => m.data);
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe('the client SDK on the local cloud, two regions', () => {
  let cloud: LocalCloud;
  const clients: RelaymeshClient[] = [];
  const client = (options: Partial<RelaymeshClientOptions>) => {
    const created = new RelaymeshClient({
      WebSocket,
      getToken: () => tokenFor(),
      heartbeatMs: 1000,
      requestTimeoutMs: 5000,
      backoff: { baseMs: 100, maxMs: 1000 },
      ...options,
    });
    clients.push(created);
    return created;
  };

  beforeAll(async () => {
    cloud = await startTestCloud();
  });

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await cloud?.stop();
  });

  it('delivers every message once and in order per origin, and when its region fails reconnects through the edge to the other region and recovers what it missed', async () => {
    // The token is fetched on every (re)connect: holding it back keeps the subscriber away
    // while messages are published, so recovery must replay them.
    let tokenRequests = 0;
    let letBackIn!: () => void;
    const comeBack = new Promise<void>((resolve) => (letBackIn = resolve));
    const subscriber = client({
      edgeUrl: cloud.edge.url,
      getToken: async () => {
        if (++tokenRequests > 1) await comeBack;
        return tokenFor();
      },
    });
    const states: ConnectionState[] = [];
    const recoveries: RecoveryEvent[] = [];
    subscriber.on('state', ({ current }) => states.push(current));
    subscriber.on('recovery', (recovery) => recoveries.push(recovery));
    await subscriber.connect();
    expect(subscriber.url).toBe(cloud.regions[US]!.websocketUrl);
    const received: Message[] = [];
    await subscriber.subscribe('room:sdk', (message) => received.push(message));

    const usPublisher = client({ url: cloud.regions[US]!.websocketUrl });
    const euPublisher = client({ url: cloud.regions[EU]!.websocketUrl });
    await Promise.all([usPublisher.connect(), euPublisher.connect()]);
    for (let i = 1; i <= 5; i++) {
      expect(await usPublisher.publish('room:sdk', `us-${i}`, { id: `sdk-us-${i}` })).toMatchObject({ origin: US, seq: i });
      expect(await euPublisher.publish('room:sdk', `eu-${i}`, { id: `sdk-eu-${i}` })).toMatchObject({ origin: EU, seq: i });
    }
    await eventually(async () => received.length === 10);
    expect(dataFrom(received, US)).toEqual(range(1, 5).map((i) => `us-${i}`));
    expect(dataFrom(received, EU)).toEqual(range(1, 5).map((i) => `eu-${i}`));
    // EU records what it delivers, US's messages too: wait until its history holds US 1–5 before the outage.
    await eventually(async () => seqsFrom((await euPublisher.history('room:sdk', { since: {} })).messages, US).length === 5, "EU's history to hold US 1–5");
    await usPublisher.close();

    try {
      await cloud.fail(US);
      await eventually(async () => tokenRequests === 2);
      expect(subscriber.state).toBe('disconnected');
      // EU keeps publishing while the subscriber is away, while it comes back, and after.
      for (let i = 6; i <= 12; i++) await euPublisher.publish('room:sdk', `eu-${i}`, { id: `sdk-eu-${i}` });
      expect(seqsFrom(received, EU)).toEqual(range(1, 5));
      letBackIn();
      for (let i = 13; i <= 16; i++) await euPublisher.publish('room:sdk', `eu-${i}`, { id: `sdk-eu-${i}` });
      await eventually(async () => recoveries.length > 0);
      for (let i = 17; i <= 20; i++) await euPublisher.publish('room:sdk', `eu-${i}`, { id: `sdk-eu-${i}` });
      await eventually(async () => seqsFrom(received, EU).length === 20);
      await deliveriesSettled(cloud, [EU]); // a duplicate would have been delivered by now

      expect(subscriber.url).toBe(cloud.regions[EU]!.websocketUrl);
      expect(states).toEqual(['connecting', 'connected', 'disconnected', 'connected']);
      expect(recoveries).toEqual([{ channel: 'room:sdk', recovered: true, missing: [], position: { [US]: 5, [EU]: expect.any(Number) } }]);
      expect(seqsFrom(received, US)).toEqual(range(1, 5));
      expect(seqsFrom(received, EU)).toEqual(range(1, 20));
      expect(dataFrom(received, EU)).toEqual(range(1, 20).map((i) => `eu-${i}`));
    } finally {
      await cloud.restore(US);
    }
  });

  it('rejects a refused publish with the protocol error, announces presence and lists members across regions', async () => {
    const restricted = client({ url: cloud.regions[EU]!.websocketUrl, getToken: () => tokenFor({ sub: 'bob', publish: ['room:*'] }) });
    await restricted.connect();
    const refused = restricted.publish('secret:sdk', 'leak');
    await expect(refused).rejects.toBeInstanceOf(RelaymeshError);
    await expect(refused).rejects.toMatchObject({ code: 4302, retryable: false });

    const alice = client({ url: cloud.regions[US]!.websocketUrl, getToken: () => tokenFor({ sub: 'alice' }) });
    await alice.connect();
    const events: PresenceEvent[] = [];
    await alice.subscribe('room:sdk-presence', () => {}, { presence: true, onPresence: (event) => events.push(event) });
    await restricted.subscribe('room:sdk-presence', () => {}, { presence: true });
    await eventually(async () => events.some((e) => e.event === 'join' && e.member.sub === 'bob'));
    const members = await eventually(async () => {
      const listed = await alice.presence('room:sdk-presence');
      return listed.length === 2 ? listed : undefined;
    });
    expect(members.map((m) => [m.sub, m.region]).sort()).toEqual([
      ['alice', US],
      ['bob', EU],
    ]);
  });

  it('history() returns what was published, oldest first, or the last N; member data set at subscribe in one region is seen from the other', async () => {
    const ada = client({ url: cloud.regions[US]!.websocketUrl, getToken: () => tokenFor({ sub: 'ada' }) });
    const eve = client({ url: cloud.regions[EU]!.websocketUrl, getToken: () => tokenFor({ sub: 'eve' }) });
    await Promise.all([ada.connect(), eve.connect()]);
    for (let i = 1; i <= 4; i++) await ada.publish('room:sdk-history', { n: i });
    const all = await ada.history('room:sdk-history', { since: {} });
    expect(all.messages.map((m) => [m.origin, m.seq, m.data])).toEqual(range(1, 4).map((i) => [US, i, { n: i }]));
    expect(all).toMatchObject({ missing: [], position: { [US]: 4, [EU]: 0 } });
    const last = await ada.history('room:sdk-history', { limit: 2 });
    expect(last.messages.map((m) => m.data)).toEqual([{ n: 3 }, { n: 4 }]);

    const data = { name: 'Ada', status: 'online' };
    const events: PresenceEvent[] = [];
    await eve.subscribe('room:sdk-member-data', () => {}, { presence: true, onPresence: (event) => events.push(event) });
    await ada.subscribe('room:sdk-member-data', () => {}, { presence: { data } });
    const join = await eventually(async () => events.find((e) => e.event === 'join' && e.member.sub === 'ada'));
    expect(join.member).toMatchObject({ region: US, data });
    const listed = await eventually(async () => (await eve.presence('room:sdk-member-data')).find((m) => m.sub === 'ada'));
    expect(listed).toEqual({ sub: 'ada', connectionId: join.member.connectionId, region: US, data });
  });
});
