/**
 * Key design and placement of the tables, shared by the CDK stacks, the local cloud and the
 * handlers so the three can never disagree. Every attribute named here is a string unless its
 * type says otherwise.
 */
export interface TableLayout {
  /** Logical name: the CDK id and the suffix of the physical table name. */
  readonly name: 'connections' | 'subscriptions' | 'presence' | 'sequences' | 'history' | 'dedup';
  /**
   * `global`: a DynamoDB global table with a replica in every region, for what another region
   * must read (recovery, idempotency, presence). `regional`: a table of its own in each region,
   * for what only the region that owns the socket ever reads or writes; replicating it would
   * only pay for a write in every other region (README, "State placement and its cost").
   */
  readonly scope: 'global' | 'regional';
  readonly partitionKey: string;
  readonly sortKey?: { readonly name: string; readonly type: 'S' | 'N' };
  /** Attribute holding an epoch-seconds expiry, when the table's items expire. */
  readonly timeToLiveAttribute?: string;
}

/**
 * One item per live connection, written in the region that owns the socket: only that region
 * posts to it, rate-limits it and handles its `$disconnect`. Also this region's replay slots.
 */
export const connectionsTable = {
  name: 'connections',
  scope: 'regional',
  partitionKey: 'connectionId',
  timeToLiveAttribute: 'expiresAt',
} as const satisfies TableLayout;

/**
 * One item per (channel, region, connection). The partition key `channelRegion` is
 * `<region>#<channel>` so one Query returns one channel's subscribers in one region:
 * the delivery worker's hot path, never a Scan. Only the region's own workers read it.
 */
export const subscriptionsTable = {
  name: 'subscriptions',
  scope: 'regional',
  partitionKey: 'channelRegion',
  sortKey: { name: 'connectionId', type: 'S' },
  timeToLiveAttribute: 'expiresAt',
} as const satisfies TableLayout;

/**
 * One item per member of a channel's presence set, under `<region>#<channel>#presence` (the
 * region that owns the member's socket), so a presence page in any region lists every region's
 * members from its own replica, reading members only.
 */
export const presenceTable = {
  name: 'presence',
  scope: 'global',
  partitionKey: 'channelRegion',
  sortKey: { name: 'connectionId', type: 'S' },
  timeToLiveAttribute: 'expiresAt',
} as const satisfies TableLayout;

/**
 * Counter per `<channel>#<origin region>` (`seq`), written only by the origin region, so
 * global-table last-writer-wins never merges two regions' increments.
 */
export const sequencesTable = {
  name: 'sequences',
  scope: 'global',
  partitionKey: 'channelOrigin',
} as const satisfies TableLayout;

/**
 * Publish claims, `pub#<channel>#<id>`: `pending` while one attempt owns the id, then
 * `accepted` with the (origin, seq) it was sequenced as (see publish-claim.ts).
 */
export const dedupTable = {
  name: 'dedup',
  scope: 'global',
  partitionKey: 'dedupKey',
  timeToLiveAttribute: 'expiresAt',
} as const satisfies TableLayout;

/** Message history per `<channel>#<origin region>`, ordered by `seq`. */
export const historyTable = {
  name: 'history',
  scope: 'global',
  partitionKey: 'channelOrigin',
  sortKey: { name: 'seq', type: 'N' },
  timeToLiveAttribute: 'expiresAt',
} as const satisfies TableLayout;

export const TABLES: readonly TableLayout[] = [connectionsTable, subscriptionsTable, presenceTable, sequencesTable, historyTable, dedupTable];
/** Replicated to every region (the data stack's global tables, the local replicator's tables). */
export const GLOBAL_TABLES: readonly TableLayout[] = TABLES.filter((t) => t.scope === 'global');
/** One table of their own in each region (each region stack's). */
export const REGIONAL_TABLES: readonly TableLayout[] = TABLES.filter((t) => t.scope === 'regional');

export const channelRegionKey = (region: string, channel: string): string => `${region}#${channel}`;
export const channelOriginKey = (channel: string, origin: string): string => `${channel}#${origin}`;
export const publishDedupKey = (channel: string, id: string): string => `pub#${channel}#${id}`;
export const presenceKey = (region: string, channel: string): string => `${region}#${channel}#presence`;

/** Physical table name; the same in every region (global tables require it; regional ones follow). */
export const physicalTableName = (appName: string, table: TableLayout): string => `${appName}-${table.name}`;
