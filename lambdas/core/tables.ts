/**
 * Key design of the four global tables, shared by the CDK data stack, the local cloud and
 * the handlers so the three can never disagree. Every attribute named here is a string
 * unless its type says otherwise.
 */
export interface TableLayout {
  /** Logical name: the CDK id and the suffix of the physical table name. */
  readonly name: 'connections' | 'subscriptions' | 'sequences' | 'history' | 'dedup';
  readonly partitionKey: string;
  readonly sortKey?: { readonly name: string; readonly type: 'S' | 'N' };
  /** Attribute holding an epoch-seconds expiry, when the table's items expire. */
  readonly timeToLiveAttribute?: string;
}

/** One item per live connection, written in the region that owns the socket. */
export const connectionsTable = {
  name: 'connections',
  partitionKey: 'connectionId',
  timeToLiveAttribute: 'expiresAt',
} as const satisfies TableLayout;

/**
 * One item per (channel, region, connection). The partition key `channelRegion` is
 * `<region>#<channel>` so one Query returns one channel's subscribers in one region:
 * the delivery worker's hot path, never a Scan. A subscription in the channel's presence set
 * has a second item under `<region>#<channel>#presence`, so listing members reads members only.
 */
export const subscriptionsTable = {
  name: 'subscriptions',
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
  partitionKey: 'channelOrigin',
} as const satisfies TableLayout;

/**
 * Publish claims, `pub#<channel>#<id>`: `pending` while one attempt owns the id, then
 * `accepted` with the (origin, seq) it was sequenced as (see publish-claim.ts).
 */
export const dedupTable = {
  name: 'dedup',
  partitionKey: 'dedupKey',
  timeToLiveAttribute: 'expiresAt',
} as const satisfies TableLayout;

/** Message history per `<channel>#<origin region>`, ordered by `seq`. */
export const historyTable = {
  name: 'history',
  partitionKey: 'channelOrigin',
  sortKey: { name: 'seq', type: 'N' },
  timeToLiveAttribute: 'expiresAt',
} as const satisfies TableLayout;

export const TABLES: readonly TableLayout[] = [connectionsTable, subscriptionsTable, sequencesTable, historyTable, dedupTable];

export const channelRegionKey = (region: string, channel: string): string => `${region}#${channel}`;
export const channelOriginKey = (channel: string, origin: string): string => `${channel}#${origin}`;
export const publishDedupKey = (channel: string, id: string): string => `pub#${channel}#${id}`;
export const presenceKey = (region: string, channel: string): string => `${region}#${channel}#presence`;

/** Physical table name; the same in every region, as global tables require. */
export const physicalTableName = (appName: string, table: TableLayout): string => `${appName}-${table.name}`;
