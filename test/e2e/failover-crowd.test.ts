import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { LocalCloud } from '../../local/cloud';
import { RelaymeshClient } from '../../client/src';
import { eventually, startTestCloud, tokenFor } from './support';

const US = 'us-east-1';
const EU = 'eu-west-1';

// Not among the suites that run alone (vitest.config.ts): it mostly waits on the quota, so it
// runs beside the others, and a loaded machine only spreads its reconnects further.
describe('hardening: a failover crowd on the local cloud', () => {
  // Low enough that the crowd must queue on it even on a machine so loaded that the 100
  // reconnects spread over several seconds: they need 20 s of quota.
  const QUOTA = 5;
  let cloud: LocalCloud;
  const clients: RelaymeshClient[] = [];

  beforeAll(async () => {
    cloud = await startTestCloud({ limits: { newConnectionsPerSecond: QUOTA } });
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await cloud?.stop();
  });

  it(`100 SDK clients dropped by a region's failure reconnect to the other region past its ${QUOTA}/s new-connection quota: every one connects, none times out in its handshake`, async () => {
    const errors: string[] = [];
    const near = `${cloud.description.edgeUrl}/near/${US}`;
    for (let i = 0; i < 100; i++) {
      const client = new RelaymeshClient({ edgeUrl: near, getToken: () => tokenFor(), WebSocket });
      client.on('error', (error) => errors.push(error.message));
      clients.push(client);
    }
    // A first connect refused by the quota retries on its own, with the reconnect backoff.
    await Promise.all(clients.map((client) => client.connect()));
    expect(clients.every((c) => c.url?.startsWith(cloud.regions[US]!.websocketUrl))).toBe(true);
    errors.length = 0; // what follows is the failover's alone

    await cloud.fail(US);
    await eventually(async () => clients.every((c) => c.state === 'connected' && c.url?.startsWith(cloud.regions[EU]!.websocketUrl)), 'every client connected to EU');
    expect(errors.filter((e) => e.includes('no handshake within'))).toEqual([]);
    // The quota did bite: some upgrades were refused and tried again later.
    expect(errors.some((e) => e.includes('429'))).toBe(true);
  }, 120_000);
});
