/**
 * DynamoDB global tables, emulated on DynamoDB Local: every region's table stream is read with
 * the real DynamoDB Streams API, and each change is applied to the same table in every other
 * region after a configurable lag, last writer wins, as AWS does.
 *
 * Split as a pure core (`ReplicationLedger`: which records are echoes, which change wins) and
 * thin adapters (`ShardReader` reads a stream, the replicator's loops poll and apply).
 */
import { setMaxListeners } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  DeleteItemCommand,
  DescribeTableCommand,
  DynamoDBClient,
  DynamoDBServiceException,
  ProvisionedThroughputExceededException,
  PutItemCommand,
  RequestLimitExceeded,
  ThrottlingException,
  type AttributeValue,
} from '@aws-sdk/client-dynamodb';
import {
  DescribeStreamCommand,
  DynamoDBStreamsClient,
  ExpiredIteratorException,
  GetRecordsCommand,
  GetShardIteratorCommand,
  TrimmedDataAccessException,
  type AttributeValue as StreamAttributeValue,
  type _Record as StreamRecord,
} from '@aws-sdk/client-dynamodb-streams';
import { z } from 'zod';
import { LOCAL_CREDENTIALS } from './http';

export type Item = Record<string, AttributeValue>;

/** One change to one item, on its way to one target region. */
export interface Change {
  readonly table: string;
  /** Canonical form of `keys`: the identity of the item. */
  readonly key: string;
  readonly keys: Item;
  /** The item after the change; undefined when it was deleted. */
  readonly image: Item | undefined;
  /** Replicator-wide logical time of the write; the highest wins. */
  readonly ts: number;
  readonly dueAt: number;
}

/** Sorted attribute names and set members, so equal items have equal strings. */
const canonical = (value: unknown): string =>
  JSON.stringify(value, (_name, v: unknown) => {
    if (v instanceof Uint8Array) return Buffer.from(v).toString('base64');
    if (Array.isArray(v) || v === null || typeof v !== 'object') return v;
    const entries = Object.entries(v).map(([k, inner]) =>
      ['SS', 'NS', 'BS'].includes(k) && Array.isArray(inner) ? [k, inner.map((m) => canonical(m)).sort()] : [k, inner],
    );
    return Object.fromEntries(entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  });

const fingerprint = (image: Item | undefined): string => (image ? canonical(image) : 'deleted');

interface KeyState {
  /** The change with the highest ts that this region holds or is about to hold. */
  winner: { ts: number; image: Item | undefined };
  /** Changes this replicator wrote here whose stream records have not been read yet, in write order. */
  pendingEchoes: Array<{ fingerprint: string; ts: number }>;
}

/**
 * The pure core: per region + table + key, the winning write and the echoes still expected.
 *
 * Echo suppression: a change the replicator writes into region B shows up in B's stream like
 * any write. We remember the fingerprint (the full item image, or "deleted") of each write we
 * make and treat the next matching stream record for that key as its echo, so it is not sent
 * back. Fingerprints rather than a marker attribute keep items exactly as the handlers wrote
 * them, as real global tables do. A write that does not change the item produces no stream
 * record (AWS and DynamoDB Local agree), so such a write must not leave a fingerprint behind.
 * A local write of a byte-identical image may be taken for the echo: harmless, the data is equal.
 *
 * Last writer wins: local writes are stamped with a replicator-wide monotonic clock when read
 * from their stream (DynamoDB Local's ApproximateCreationDateTime is truncated to the minute).
 * A change older than the key's winner in the target is skipped. A local write the stream had
 * not shown us yet may still be overwritten by an older change; the target's stream then shows
 * that echo after the newer write, and we write the winner back ("repair").
 */
export class ReplicationLedger {
  private readonly states = new Map<string, Map<string, KeyState>>();
  private clock = 0;

  constructor(regions: readonly string[]) {
    for (const region of regions) this.states.set(region, new Map());
  }

  /** Strictly increasing: no two writes tie. */
  private tick(): number {
    this.clock = Math.max(Date.now() * 1000, this.clock + 1);
    return this.clock;
  }

  private state(region: string, table: string, key: string): KeyState | undefined {
    return this.states.get(region)!.get(`${table}\n${key}`);
  }

  private stateFor(region: string, table: string, key: string): KeyState {
    const id = `${table}\n${key}`;
    const byKey = this.states.get(region)!;
    let state = byKey.get(id);
    if (!state) {
      state = { winner: { ts: 0, image: undefined }, pendingEchoes: [] };
      byKey.set(id, state);
    }
    return state;
  }

  /**
   * A record read from `region`'s stream. A local write is stamped and returned as `forward`,
   * to be sent to the other regions; an echo returns nothing, or `repair` when it overwrote a
   * newer write and the winner must be written back to `region`.
   */
  observe(region: string, table: string, record: StreamRecord): { forward?: Omit<Change, 'dueAt'>; repair?: Omit<Change, 'dueAt'> } {
    const keys = record.dynamodb?.Keys as Item;
    const image = record.eventName === 'REMOVE' ? undefined : (record.dynamodb?.NewImage as Item);
    const key = canonical(keys);
    const state = this.stateFor(region, table, key);
    const echo = state.pendingEchoes.findIndex((e) => e.fingerprint === fingerprint(image));
    if (echo >= 0) {
      const [{ ts }] = state.pendingEchoes.splice(echo, 1);
      // Only the last of our writes decides what the table holds; earlier ones are superseded.
      if (state.pendingEchoes.length === 0 && ts < state.winner.ts) return { repair: { table, key, keys, ...state.winner } };
      return {};
    }
    state.winner = { ts: this.tick(), image };
    return { forward: { table, key, keys, image, ts: state.winner.ts } };
  }

  /** Whether to write `change` into `region`; if so it becomes the winner and an expected echo. */
  admit(region: string, change: Change): boolean {
    const state = this.stateFor(region, change.table, change.key);
    if (state.winner.ts > change.ts) return false;
    state.winner = { ts: change.ts, image: change.image };
    state.pendingEchoes.push({ fingerprint: fingerprint(change.image), ts: change.ts });
    return true;
  }

  /** The write of an admitted change failed or did not change the item: no stream record will come. */
  noEcho(region: string, change: Change): void {
    const echoes = this.state(region, change.table, change.key)?.pendingEchoes;
    const index = echoes?.findIndex((e) => e.ts === change.ts) ?? -1;
    if (index >= 0) echoes!.splice(index, 1);
  }

  /**
   * Forgets `region`'s keys that expect no echo, so memory does not grow with every key ever
   * written. Safe only while no change that could reach `region` is queued or held: anything
   * read from a stream later is stamped later, so it would win anyway.
   */
  forgetSettled(region: string): void {
    const byKey = this.states.get(region)!;
    for (const [id, state] of byKey) if (state.pendingEchoes.length === 0) byKey.delete(id);
  }
}

/**
 * DynamoDB Local's streams send an empty map as `{}` instead of `{"M":{}}` (on the wire, at any
 * depth; AWS sends `{"M":{}}`, and empty lists, strings and binaries come through intact), and
 * DynamoDB rejects `{}` when the image is written elsewhere ("Supplied AttributeValue is empty").
 * Every other type names itself, so `{}` can only have been an empty map.
 */
const restoreEmptyMaps = (value: StreamAttributeValue): StreamAttributeValue => {
  if (value.M) return { M: restoreImage(value.M) };
  if (value.L) return { L: value.L.map(restoreEmptyMaps) };
  return Object.keys(value).length === 0 ? { M: {} } : value;
};
const restoreImage = (image: Record<string, StreamAttributeValue>): Record<string, StreamAttributeValue> =>
  Object.fromEntries(Object.entries(image).map(([name, value]) => [name, restoreEmptyMaps(value)]));

/** The record as AWS would have sent it. */
const restoreRecord = ({ dynamodb, ...record }: StreamRecord): StreamRecord => {
  if (!dynamodb) return record;
  const { NewImage, OldImage } = dynamodb;
  return { ...record, dynamodb: { ...dynamodb, NewImage: NewImage && restoreImage(NewImage), OldImage: OldImage && restoreImage(OldImage) } };
};

/** GetRecords' page size (the API's maximum): a page this full means more records are waiting. */
const GET_RECORDS_LIMIT = 1000;

type Clients = { dynamodb: DynamoDBClient; streams: DynamoDBStreamsClient };

interface Shard {
  readonly parentId: string | undefined;
  iterator: string | undefined;
  lastSequenceNumber: string | undefined;
  closed: boolean;
}

/**
 * Reads one table's stream in one region, shard by shard, a parent shard to its end before its
 * children (so one item's records stay in order). Shards are read from TRIM_HORIZON, not LATEST:
 * the replicator starts right after the tables are created, so the stream holds exactly the writes
 * made since, and LATEST would silently drop any write made before its iterator was issued
 * (startGlobalTableReplication returns before the first iterator exists).
 */
class ShardReader {
  private streamArn: string | undefined;
  private readonly shards = new Map<string, Shard>();

  constructor(
    private readonly clients: Clients,
    readonly table: string,
    private readonly signal: AbortSignal,
  ) {}

  /**
   * Hands each page of records to `onRecords` as soon as it is read (the shard iterator has then
   * moved past them, so a later failure must not lose them) and returns how many there were.
   */
  async read(onRecords: (records: StreamRecord[]) => void): Promise<number> {
    if (!this.streamArn) {
      const { Table } = await this.clients.dynamodb.send(new DescribeTableCommand({ TableName: this.table }), { abortSignal: this.signal });
      if (!Table?.LatestStreamArn) throw new Error(`table ${this.table} has no stream: create it with StreamSpecification NEW_AND_OLD_IMAGES`);
      this.streamArn = Table.LatestStreamArn;
      await this.discoverShards();
    }
    let count = 0;
    let someClosed = false;
    for (const [shardId, shard] of this.shards) {
      if (shard.closed || (shard.parentId && this.shards.get(shard.parentId)?.closed === false)) continue;
      const records = await this.readShard(shardId, shard);
      onRecords(records);
      count += records.length;
      someClosed ||= shard.closed;
    }
    // A shard ends when the stream rolls over to new shards: find them.
    if (someClosed) await this.discoverShards();
    return count;
  }

  private async readShard(shardId: string, shard: Shard): Promise<StreamRecord[]> {
    const options = { abortSignal: this.signal };
    shard.iterator ??= (
      await this.clients.streams.send(
        new GetShardIteratorCommand({
          StreamArn: this.streamArn,
          ShardId: shardId,
          ...(shard.lastSequenceNumber
            ? { ShardIteratorType: 'AFTER_SEQUENCE_NUMBER', SequenceNumber: shard.lastSequenceNumber }
            : { ShardIteratorType: 'TRIM_HORIZON' }),
        }),
        options,
      )
    ).ShardIterator;
    try {
      const { Records = [], NextShardIterator } = await this.clients.streams.send(
        new GetRecordsCommand({ ShardIterator: shard.iterator, Limit: GET_RECORDS_LIMIT }),
        options,
      );
      shard.iterator = NextShardIterator;
      shard.closed = NextShardIterator === undefined;
      shard.lastSequenceNumber = Records.at(-1)?.dynamodb?.SequenceNumber ?? shard.lastSequenceNumber;
      return Records.map(restoreRecord);
    } catch (error) {
      // Iterators expire (15 minutes on AWS), e.g. while a region is paused: get a new one.
      if (!(error instanceof ExpiredIteratorException || error instanceof TrimmedDataAccessException)) throw error;
      shard.iterator = undefined;
      // Trimmed: what we had not read is gone; carry on from the oldest record still there.
      if (error instanceof TrimmedDataAccessException) shard.lastSequenceNumber = undefined;
      return [];
    }
  }

  private async discoverShards(): Promise<void> {
    let exclusiveStartShardId: string | undefined;
    do {
      const { StreamDescription } = await this.clients.streams.send(
        new DescribeStreamCommand({ StreamArn: this.streamArn, ExclusiveStartShardId: exclusiveStartShardId }),
        { abortSignal: this.signal },
      );
      for (const shard of StreamDescription?.Shards ?? []) {
        if (shard.ShardId && !this.shards.has(shard.ShardId)) {
          this.shards.set(shard.ShardId, { parentId: shard.ParentShardId, iterator: undefined, lastSequenceNumber: undefined, closed: false });
        }
      }
      exclusiveStartShardId = StreamDescription?.LastEvaluatedShardId;
    } while (exclusiveStartShardId);
  }
}

const LagSchema = z.number().int().nonnegative();

const OptionsSchema = z.object({
  endpoint: z.url(),
  regions: z
    .array(z.string().min(1))
    .min(1)
    .refine((regions) => new Set(regions).size === regions.length, 'regions must be distinct'),
  tableNames: z.array(z.string().min(3)).min(1),
  /** Minimum time between reading a change from its region's stream and applying it elsewhere. */
  lagMs: LagSchema,
  /** How soon a stream that just had records is read again (a full page is read again at once). */
  pollIntervalMs: z.number().int().positive().default(100),
  /**
   * The longest wait between reads of a quiet stream: each empty read doubles the wait from
   * `pollIntervalMs` up to this. Each GetRecords costs DynamoDB Local ~1-2 ms of CPU, and five
   * tables in each region polled every 100 ms kept a third of a core busy at idle and more under
   * load, CPU the handlers then lacked; a first write after a quiet spell waits this much longer,
   * well inside the ≈1 s lag global tables have anyway. Default: 8 × `pollIntervalMs`.
   */
  maxIdlePollIntervalMs: z.number().int().positive().optional(),
  credentials: z
    .object({ accessKeyId: z.string().min(1), secretAccessKey: z.string().min(1) })
    .default(LOCAL_CREDENTIALS),
});
export type GlobalTableReplicationOptions = z.input<typeof OptionsSchema>;

export interface GlobalTableReplicator {
  /** Stops every poller and applier, waits for them, and closes the clients. */
  stop(): Promise<void>;
  /** Lag for changes read from now on; changes already queued keep their due time and their place. */
  setLag(ms: number): void;
  /** Cuts `region` off: changes from it and changes for it queue up until resume(). */
  pause(region: string): void;
  resume(region: string): void;
  /**
   * `applied`: writes made into a region; `skippedAsOlder`: changes not applied because the
   * region held a newer write; `failed`: changes given up on because the region rejected them
   * for good (each also logged); `pendingByRegion`: changes queued for or being written to each region;
   * `oldestPendingMsByRegion`: how long the oldest change queued for each region has waited since
   * it was read (0 with none), the local ReplicationLatency, which a paused region's queue makes grow;
   * `streamPolls`: reads of a table's stream in a region (each one GetRecords per open shard).
   */
  stats(): {
    applied: number;
    skippedAsOlder: number;
    failed: number;
    streamPolls: number;
    pendingByRegion: Record<string, number>;
    oldestPendingMsByRegion: Record<string, number>;
  };
}

/** Changes for one region applied concurrently across keys, in order within a key. */
const APPLY_BATCH = 64;
/** Tries of one write (each with the SDK's own retries inside) before its error is judged. */
const APPLY_ATTEMPTS = 4;
const APPLY_BACKOFF_MS = 100;

/**
 * DynamoDB refused the write itself (e.g. ValidationException: the item does not fit the target
 * table), so trying again cannot help. Throttling is a client fault too, but passes; server
 * faults, timeouts and network errors mean the region is unwell, not the change.
 */
const isPermanent = (error: unknown): error is DynamoDBServiceException =>
  error instanceof DynamoDBServiceException &&
  error.$fault === 'client' &&
  error.$retryable === undefined &&
  !(error instanceof ThrottlingException || error instanceof RequestLimitExceeded || error instanceof ProvisionedThroughputExceededException);

export function startGlobalTableReplication(options: GlobalTableReplicationOptions): GlobalTableReplicator {
  const { endpoint, regions, tableNames, pollIntervalMs, credentials, ...parsed } = OptionsSchema.parse(options);
  const maxIdlePollIntervalMs = parsed.maxIdlePollIntervalMs ?? 8 * pollIntervalMs;
  let lagMs = parsed.lagMs;
  const abort = new AbortController();
  const { signal } = abort;
  // Every request and sleep in flight listens to it (each removes itself when done).
  setMaxListeners(regions.length * (APPLY_BATCH + 4), signal);
  const paused = new Set<string>();
  const ledger = new ReplicationLedger(regions);
  // Per target region, in the order the changes were read, and applied strictly in that order: a
  // change waits behind earlier ones even when a lower lag made it due sooner, so a change of an
  // item never overtakes an earlier change of it, as with DynamoDB Streams.
  const queues = new Map(regions.map((region) => [region, [] as Change[]]));
  // A paused region's stream is still read (its iterators stay fresh, its writes are stamped
  // when they happen) but what it would send waits here until resume().
  const outboxes = new Map(regions.map((region) => [region, [] as Array<Omit<Change, 'dueAt'>>]));
  const inFlight = new Map(regions.map((region) => [region, 0]));
  const counters = { applied: 0, skippedAsOlder: 0, failed: 0, streamPolls: 0 };
  const clients = new Map<string, Clients>(
    regions.map((region) => [
      region,
      { dynamodb: new DynamoDBClient({ endpoint, region, credentials }), streams: new DynamoDBStreamsClient({ endpoint, region, credentials }) },
    ]),
  );
  const knownRegion = (region: string): string => {
    if (!queues.has(region)) throw new Error(`unknown region ${JSON.stringify(region)}; replicating ${regions.join(', ')}`);
    return region;
  };

  /** Reports a loop's failure once per distinct message, not on every poll. */
  const reporter = (where: string) => {
    let last = '';
    return (error: unknown): void => {
      const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
      if (message !== last) console.warn(`[global-tables] ${where}: ${message}`);
      last = message;
    };
  };

  async function pollRegion(region: string): Promise<void> {
    const readers = tableNames.map((table) => ({ reader: new ShardReader(clients.get(region)!, table, signal), wait: pollIntervalMs, dueAt: 0 }));
    const report = reporter(`reading ${region} streams`);
    while (!signal.aborted) {
      for (const stream of readers) {
        if (stream.dueAt > Date.now()) continue;
        let read = 0;
        counters.streamPolls += 1;
        try {
          read = await stream.reader.read((records) => {
            for (const record of records) route(region, ledger.observe(region, stream.reader.table, record));
          });
        } catch (error) {
          if (signal.aborted) return;
          report(error);
        }
        // A full page means a backlog: drain it without pausing. A quiet stream is read less often.
        stream.wait = read >= GET_RECORDS_LIMIT ? 0 : read > 0 ? pollIntervalMs : Math.min(Math.max(stream.wait, pollIntervalMs) * 2, maxIdlePollIntervalMs);
        stream.dueAt = Date.now() + stream.wait;
      }
      const next = Math.min(...readers.map((stream) => stream.dueAt)) - Date.now();
      if (next > 0) await sleep(next, undefined, { signal }).catch(() => undefined);
    }
  }

  function route(source: string, { forward, repair }: ReturnType<ReplicationLedger['observe']>): void {
    if (forward && paused.has(source)) outboxes.get(source)!.push(forward);
    else if (forward) send(source, forward);
    if (repair) queues.get(source)!.push({ ...repair, dueAt: Date.now() });
  }

  function send(source: string, change: Omit<Change, 'dueAt'>): void {
    const dueAt = Date.now() + lagMs;
    for (const region of regions) if (region !== source) queues.get(region)!.push({ ...change, dueAt });
  }

  async function applyToRegion(region: string): Promise<void> {
    const queue = queues.get(region)!;
    const { dynamodb } = clients.get(region)!;
    const report = reporter(`applying to ${region}`);
    while (!signal.aborted) {
      const now = Date.now();
      const due = paused.has(region) ? 0 : queue.slice(0, APPLY_BATCH).findIndex((change) => change.dueAt > now);
      const batch = queue.splice(0, due === -1 ? Math.min(queue.length, APPLY_BATCH) : due);
      if (batch.length === 0) {
        const settled = queue.length === 0 && inFlight.get(region) === 0 && [...outboxes.values()].every((o) => o.length === 0);
        if (settled) ledger.forgetSettled(region);
        const wait = queue.length > 0 && !paused.has(region) ? queue[0].dueAt - now : pollIntervalMs;
        await sleep(Math.min(Math.max(wait, 1), pollIntervalMs), undefined, { signal }).catch(() => undefined);
        continue;
      }
      const byKey = new Map<string, Change[]>();
      for (const change of batch) {
        const id = `${change.table}\n${change.key}`;
        byKey.set(id, [...(byKey.get(id) ?? []), change]);
      }
      const done = new Set<Change>();
      inFlight.set(region, batch.length);
      const results = await Promise.allSettled(
        [...byKey.values()].map(async (changes) => {
          for (const change of changes) {
            await apply(region, dynamodb, change);
            done.add(change);
          }
        }),
      );
      inFlight.set(region, 0);
      const failure = results.find((result) => result.status === 'rejected');
      if (failure) {
        // Only a region that cannot take writes gets here: keep what failed, in order, at the
        // head of the queue and try again after a pause.
        queue.unshift(...batch.filter((change) => !done.has(change)));
        if (signal.aborted) return;
        report(failure.reason);
        await sleep(pollIntervalMs, undefined, { signal }).catch(() => undefined);
      }
    }
  }

  async function apply(region: string, dynamodb: DynamoDBClient, change: Change): Promise<void> {
    if (!ledger.admit(region, change)) {
      counters.skippedAsOlder += 1;
      return;
    }
    try {
      const { Attributes } = await write(dynamodb, change);
      if (fingerprint(Attributes) === fingerprint(change.image)) ledger.noEcho(region, change);
      counters.applied += 1;
    } catch (error) {
      ledger.noEcho(region, change);
      if (signal.aborted || !isPermanent(error)) throw error;
      // Holding it would stall every later change for this region: give it up, loudly, once.
      counters.failed += 1;
      console.error(
        `[global-tables] gave up replicating ${change.table} item ${change.key} to ${region} after ${APPLY_ATTEMPTS} attempts: ${error.name}: ${error.message}`,
      );
    }
  }

  /** Writes the change, trying again with exponential backoff; the last error is thrown. */
  async function write(dynamodb: DynamoDBClient, change: Change): Promise<{ Attributes?: Item }> {
    for (let attempt = 1; ; attempt += 1) {
      try {
        // ALL_OLD tells whether the item changed: an unchanged item gets no stream record.
        return change.image
          ? await dynamodb.send(new PutItemCommand({ TableName: change.table, Item: change.image, ReturnValues: 'ALL_OLD' }), { abortSignal: signal })
          : await dynamodb.send(new DeleteItemCommand({ TableName: change.table, Key: change.keys, ReturnValues: 'ALL_OLD' }), { abortSignal: signal });
      } catch (error) {
        if (signal.aborted || attempt === APPLY_ATTEMPTS) throw error;
        await sleep(APPLY_BACKOFF_MS * 2 ** (attempt - 1), undefined, { signal });
      }
    }
  }

  const loops = regions.flatMap((region) => [pollRegion(region), applyToRegion(region)]);

  return {
    async stop() {
      abort.abort();
      await Promise.allSettled(loops);
      for (const { dynamodb, streams } of clients.values()) {
        dynamodb.destroy();
        streams.destroy();
      }
    },
    setLag(ms) {
      lagMs = LagSchema.parse(ms);
    },
    pause(region) {
      paused.add(knownRegion(region));
    },
    resume(region) {
      paused.delete(knownRegion(region));
      for (const change of outboxes.get(region)!.splice(0)) send(region, change);
    },
    stats() {
      return {
        ...counters,
        pendingByRegion: Object.fromEntries(regions.map((region) => [region, queues.get(region)!.length + inFlight.get(region)!])),
        oldestPendingMsByRegion: Object.fromEntries(
          regions.map((region) => {
            // Queued in read order, so the first is the oldest; its dueAt is its read time plus the lag.
            const oldest = queues.get(region)![0];
            return [region, oldest ? Math.max(0, Date.now() - (oldest.dueAt - lagMs)) : 0];
          }),
        ),
      };
    },
  };
}
