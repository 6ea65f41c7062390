import { createServer, type Server } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort } from './free-port';
import { assertPortsFree, portTaken } from './ports';

const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((resolve) => s.close(resolve))));
});

const occupy = async (): Promise<number> => {
  const port = await freePort();
  const server = createServer();
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return port;
};

describe('assertPortsFree', () => {
  it('passes when every port is free and leaves none bound', async () => {
    const port = await freePort();
    await assertPortsFree([{ port, component: 'DynamoDB Local', flag: '--dynamodb-port' }]);
    expect(await portTaken(port)).toBe(false);
  });

  it('names every taken port with its component and flag, and the likely cause', async () => {
    const [dynamodb, edge] = [await occupy(), await occupy()];
    const free = await freePort();
    const check = assertPortsFree([
      { port: dynamodb, component: 'DynamoDB Local', flag: '--dynamodb-port' },
      { port: free, component: 'SNS/SQS (fauxqs)', flag: '--messaging-port' },
      { port: edge, component: 'the edge', flag: '--edge-port' },
    ]);
    await expect(check).rejects.toThrow(new RegExp(`${dynamodb} \\(DynamoDB Local; move it with --dynamodb-port\\)[\\s\\S]*${edge} \\(the edge; move it with --edge-port\\)[\\s\\S]*another \`npm start\``));
    await expect(check).rejects.not.toThrow(new RegExp(`${free}`));
  });
});
