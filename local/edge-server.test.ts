import { afterEach, describe, expect, it } from 'vitest';
import type { ALBResult } from 'aws-lambda';
import { startEdgeServer, type EdgeServer, type RegionAction } from './edge-server';

const healthy = async (): Promise<ALBResult> => ({ statusCode: 200, body: '{}' });

describe('the edge server game-day controls', () => {
  let edge: EdgeServer | undefined;
  afterEach(async () => edge?.stop());

  const start = async (calls: Array<[RegionAction, string]>) => {
    const record = (action: RegionAction) => async (region: string) => {
      if (region !== 'us-east-1') throw new Error(`Unknown region ${region}`);
      calls.push([action, region]);
    };
    edge = await startEdgeServer({
      regions: [{ region: 'us-east-1', handler: healthy }],
      control: { drain: record('drain'), undrain: record('undrain'), fail: record('fail'), restore: record('restore') },
    });
    return edge;
  };

  it('POST /control/<region>/<action> runs that action on the region and answers 200', async () => {
    const calls: Array<[RegionAction, string]> = [];
    const { url } = await start(calls);
    for (const action of ['drain', 'undrain', 'fail', 'restore'] as const) {
      const res = await fetch(`${url}/control/us-east-1/${action}`, { method: 'POST' });
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ region: 'us-east-1', action });
    }
    expect(calls).toEqual([['drain', 'us-east-1'], ['undrain', 'us-east-1'], ['fail', 'us-east-1'], ['restore', 'us-east-1']]);
  });

  it('answers an unknown action 404, a GET 405 and an unknown region 400 with the reason, running nothing', async () => {
    const calls: Array<[RegionAction, string]> = [];
    const { url } = await start(calls);
    const unknownAction = await fetch(`${url}/control/us-east-1/explode`, { method: 'POST' });
    expect(unknownAction.status).toBe(404);
    expect(((await unknownAction.json()) as { message: string }).message).toContain('drain|undrain|fail|restore');
    expect((await fetch(`${url}/control/us-east-1/drain`)).status).toBe(405);
    const unknownRegion = await fetch(`${url}/control/mars-1/drain`, { method: 'POST' });
    expect(unknownRegion.status).toBe(400);
    expect(await unknownRegion.json()).toEqual({ message: 'Unknown region mars-1' });
    expect(calls).toEqual([]);
  });
});

describe('the edge server near hint', () => {
  let edge: EdgeServer | undefined;
  afterEach(async () => edge?.stop());

  it('routes <edge>/near/<region>/<path> to that region with the prefix removed, and the plain path to the first healthy region', async () => {
    const seen: Array<[string, string]> = [];
    const handler = (region: string) => async (event: { path: string }): Promise<ALBResult> => {
      if (event.path !== '/health') seen.push([region, event.path]);
      return { statusCode: 200, body: '{}' };
    };
    edge = await startEdgeServer({ regions: [{ region: 'us-east-1', handler: handler('us-east-1') }, { region: 'eu-west-1', handler: handler('eu-west-1') }] });
    const hinted = await fetch(`${edge.url}/near/eu-west-1/v1/connect`);
    expect(hinted.headers.get('x-relaymesh-region')).toBe('eu-west-1');
    await fetch(`${edge.url}/v1/connect`);
    expect(seen).toEqual([['eu-west-1', '/v1/connect'], ['us-east-1', '/v1/connect']]);
  });
});

describe('the edge server dashboard routes', () => {
  let edge: EdgeServer | undefined;
  afterEach(async () => edge?.stop());

  it('serves its files and GET /status/history itself, and forwards every other path to a region', async () => {
    const forwarded: string[] = [];
    const handler = async (event: { path: string }): Promise<ALBResult> => {
      if (event.path !== '/health') forwarded.push(event.path);
      return { statusCode: 200, body: '{}' };
    };
    edge = await startEdgeServer({
      regions: [{ region: 'us-east-1', handler }],
      files: { '/dashboard': { contentType: 'text/html; charset=utf-8', body: '<h1>hi</h1>' } },
      statusHistory: () => ({ intervalMs: 1000, points: [] }),
    });
    const page = await fetch(`${edge.url}/dashboard`);
    expect([page.status, page.headers.get('content-type'), await page.text()]).toEqual([200, 'text/html; charset=utf-8', '<h1>hi</h1>']);
    expect(await (await fetch(`${edge.url}/status/history`)).json()).toEqual({ intervalMs: 1000, points: [] });
    await fetch(`${edge.url}/dashboard`, { method: 'POST' });
    await fetch(`${edge.url}/dashboard/missing.js`);
    expect(forwarded).toEqual(['/dashboard', '/dashboard/missing.js']);
  });
});
