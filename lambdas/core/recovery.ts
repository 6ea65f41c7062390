import { GoneException, PostToConnectionCommand, type ApiGatewayManagementApiClient } from '@aws-sdk/client-apigatewaymanagementapi';
import type { ConnectionStore } from './connection-store';
import type { MessageHistory } from './history';
import { envelopeFrame, type MissingRange, type RecoveryVector } from './protocol';

export interface RecoveryDeps {
  store: ConnectionStore;
  history: MessageHistory;
  connections: ApiGatewayManagementApiClient;
  /** Every origin region. */
  regions: readonly string[];
  maxReplay: number;
  /** How long to wait for history that a worker has already seen but replication has not brought yet. */
  replicationWaitMs: number;
  pollIntervalMs?: number;
}

export interface RecoveryResult {
  recovered: boolean;
  missing: MissingRange[];
  /** Highest seq per origin the client now has. */
  position: RecoveryVector;
}

/** Rounds of "replay, then hand over"; each round only chases what arrived during the last. */
const MAX_HANDOVER_ROUNDS = 10;

/**
 * Subscribes with a recovery vector and replays history after it, handing over to live
 * delivery without a gap or a duplicate:
 * 1. The subscription is written in the replaying state; from then on every sequenced message
 *    reaches either this replay (through history) or the client live, never neither.
 * 2. Workers hold back sequenced messages for a replaying subscription and record the highest
 *    seq they held back per origin on it.
 * 3. The replay posts history after the vector, waiting for any held-back seq that has not
 *    replicated here yet, then hands over only if nothing above what it posted was held back
 *    meanwhile; otherwise it replays the newcomers and tries again. After the handover,
 *    workers skip seqs ≤ `since`, which is what the replay posted.
 */
export async function subscribeWithRecovery(
  deps: RecoveryDeps,
  connectionId: string,
  channel: string,
  subject: string,
  since: RecoveryVector,
  presence: boolean,
): Promise<RecoveryResult> {
  const cursor: RecoveryVector = Object.fromEntries(deps.regions.map((region) => [region, since[region] ?? 0]));
  const missing: MissingRange[] = [];
  let budget = deps.maxReplay;
  await deps.store.subscribe(connectionId, channel, subject, { presence, replayFrom: cursor });

  for (let round = 0; ; round++) {
    const subscription = await deps.store.getSubscription(channel, connectionId);
    if (!subscription) break; // unsubscribed or disconnected meanwhile: nothing to hand over
    // Late rounds stop waiting for replication: what is still missing is reported, never left hanging.
    const lastRound = round >= MAX_HANDOVER_ROUNDS - 1;
    for (const origin of deps.regions) {
      const heldBack = subscription.skipped?.[origin] ?? 0;
      budget -= await replayOrigin(deps, connectionId, channel, origin, cursor, heldBack, budget, missing, lastRound);
    }
    if (await deps.store.finishReplay(channel, connectionId, cursor)) break;
  }

  // Seqs the counters gave out that history no longer holds. A counter taken moments ago may
  // belong to a publish still on its way here live, so only settled counters count.
  const known = await deps.history.positions(channel, deps.regions);
  const settledBefore = Date.now() - deps.replicationWaitMs;
  for (const origin of deps.regions) {
    const { seq, updatedAt } = known[origin]!;
    if (seq > cursor[origin]! && updatedAt < settledBefore) {
      addMissing(missing, { origin, from: cursor[origin]! + 1, to: seq, reason: budget > 0 ? 'expired' : 'limit' });
    }
  }
  return { recovered: missing.length === 0, missing, position: cursor };
}

/** Replays one origin's history after cursor[origin]; returns how many messages it posted. */
async function replayOrigin(
  deps: RecoveryDeps,
  connectionId: string,
  channel: string,
  origin: string,
  cursor: RecoveryVector,
  heldBack: number,
  budget: number,
  missing: MissingRange[],
  giveUp: boolean,
): Promise<number> {
  let posted = 0;
  const deadline = giveUp ? 0 : Date.now() + deps.replicationWaitMs;
  for (;;) {
    const envelopes = budget - posted > 0 ? await deps.history.after(channel, origin, cursor[origin]!, budget - posted) : [];
    let waiting = false;
    for (const envelope of envelopes) {
      const seq = envelope.seq!;
      if (seq > cursor[origin]! + 1) {
        // A gap below a recent message is most likely still replicating; below an old one it expired.
        const recent = envelope.ts > Date.now() - deps.replicationWaitMs;
        if (recent && Date.now() < deadline) {
          waiting = true;
          break;
        }
        addMissing(missing, { origin, from: cursor[origin]! + 1, to: seq - 1, reason: recent ? 'not-replicated' : 'expired' });
      }
      const frame = envelopeFrame(envelope);
      if (frame && !(await post(deps.connections, connectionId, frame))) return posted;
      cursor[origin] = seq;
      posted++;
    }
    if (!waiting && cursor[origin]! >= heldBack) return posted;
    if (budget - posted <= 0) {
      addMissing(missing, { origin, from: cursor[origin]! + 1, to: heldBack, reason: 'limit' });
      cursor[origin] = Math.max(cursor[origin]!, heldBack);
      return posted;
    }
    if (Date.now() >= deadline && !waiting) {
      // A worker here saw these seqs but their history has not replicated yet.
      addMissing(missing, { origin, from: cursor[origin]! + 1, to: heldBack, reason: 'not-replicated' });
      cursor[origin] = heldBack;
      return posted;
    }
    await new Promise((resolve) => setTimeout(resolve, deps.pollIntervalMs ?? 100));
  }
}

function addMissing(missing: MissingRange[], range: MissingRange): void {
  if (range.to >= range.from) missing.push(range);
}

async function post(connections: ApiGatewayManagementApiClient, connectionId: string, frame: object): Promise<boolean> {
  try {
    await connections.send(new PostToConnectionCommand({ ConnectionId: connectionId, Data: Buffer.from(JSON.stringify(frame)) }));
    return true;
  } catch (error) {
    if (error instanceof GoneException) return false;
    throw error;
  }
}
