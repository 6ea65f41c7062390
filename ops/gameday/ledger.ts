/**
 * The delivery guarantees, checked from what one subscriber's app was handed: every
 * acknowledged critical message exactly once, in order per origin, and recovery answers that
 * tell the truth. Shared by `relaymesh gameday` and the end-to-end soak, so both judge a run
 * by the same rules.
 */

/** A publish the server acknowledged: its id and its place (origin, seq) in the channel. */
export interface AckedMessage {
  id: string;
  origin: string;
  seq: number;
}

/** What the SDK handed to the app (a message frame's identity; ephemeral messages have no seq). */
export interface HandedMessage {
  id: string;
  origin: string;
  seq?: number;
}

export interface MissingRangeAnswer {
  origin: string;
  from: number;
  to: number;
  reason: 'expired' | 'not-replicated' | 'limit';
}

/** The answer to a subscribe with `since`, as the SDK's `recovery` event reports it. */
export interface RecoveryAnswer {
  recovered: boolean;
  missing: readonly MissingRangeAnswer[];
}

export type ViolationKind = 'lost' | 'duplicate' | 'out-of-order' | 'acknowledged-expired' | 'range-never-filled' | 'untruthful-recovery';

export interface Violation {
  kind: ViolationKind;
  text: string;
}

export interface Audit {
  /** Acknowledged messages this subscriber was owed. */
  expected: number;
  /** Acknowledged messages never handed over. */
  lost: number;
  /** Handings beyond the first of one id: duplicates that reached the app. */
  duplicates: number;
  /** Messages handed after a higher seq of the same origin. */
  outOfOrder: number;
  violations: Violation[];
}

const key = (origin: string, seq: number) => `${origin}/${seq}`;

/** Everything one subscriber's app was handed and every recovery answer it got, in arrival order. */
export class DeliveryLedger {
  readonly handed: HandedMessage[] = [];
  readonly recoveries: RecoveryAnswer[] = [];

  hand(message: HandedMessage): void {
    this.handed.push({ id: message.id, origin: message.origin, ...(message.seq !== undefined && { seq: message.seq }) });
  }

  recover(answer: RecoveryAnswer): void {
    this.recoveries.push({ recovered: answer.recovered, missing: answer.missing.map((r) => ({ ...r })) });
  }

  /** Whether every message of `acked` has been handed over at least once. */
  hasAll(acked: readonly AckedMessage[]): boolean {
    const ids = new Set(this.handed.map((m) => m.id));
    return acked.every((a) => ids.has(a.id));
  }

  /** Every way the handings break a guarantee, given the acknowledged messages this subscriber was owed. */
  audit(acked: readonly AckedMessage[]): Audit {
    const violations: Violation[] = [];
    const violation = (kind: ViolationKind, text: string) => violations.push({ kind, text });
    let lost = 0;
    let duplicates = 0;
    let outOfOrder = 0;

    const counts = new Map<string, number>();
    for (const m of this.handed) counts.set(m.id, (counts.get(m.id) ?? 0) + 1);
    const ackedIds = new Set(acked.map((a) => a.id));
    for (const a of acked) {
      const times = counts.get(a.id) ?? 0;
      if (times === 0) lost++;
      if (times !== 1) violation(times === 0 ? 'lost' : 'duplicate', `acknowledged ${a.id} (${key(a.origin, a.seq)}) handed ${times} times`);
    }
    for (const [id, times] of counts) {
      duplicates += times - 1;
      if (times > 1 && !ackedIds.has(id)) violation('duplicate', `unacknowledged ${id} handed ${times} times`);
    }

    const last = new Map<string, number>();
    for (const m of this.handed) {
      if (m.seq === undefined) continue;
      const previous = last.get(m.origin) ?? 0;
      if (m.seq <= previous) {
        // A repeat of the same seq is a duplicate, counted above; only a lower one is out of order.
        if (m.seq < previous) outOfOrder++;
        violation('out-of-order', `${key(m.origin, m.seq)} handed after ${key(m.origin, previous)}`);
      }
      last.set(m.origin, Math.max(previous, m.seq));
    }

    const handedSeqs = new Set(this.handed.flatMap((m) => (m.seq === undefined ? [] : [key(m.origin, m.seq)])));
    const ackedSeqs = new Set(acked.map((a) => key(a.origin, a.seq)));
    for (const recovery of this.recoveries) {
      if (recovery.recovered && recovery.missing.length > 0) {
        violation('untruthful-recovery', `recovery said recovered while missing ${JSON.stringify(recovery.missing)}`);
      }
      for (const range of recovery.missing) {
        for (let seq = range.from; seq <= range.to; seq++) {
          const at = key(range.origin, seq);
          if (range.reason === 'expired' && ackedSeqs.has(at)) violation('acknowledged-expired', `acknowledged ${at} reported expired in ${JSON.stringify(range)}`);
          if (range.reason !== 'expired' && !handedSeqs.has(at)) violation('range-never-filled', `${at} of ${range.reason} range ${range.from}..${range.to} never filled`);
        }
      }
    }
    return { expected: acked.length, lost, duplicates, outOfOrder, violations };
  }
}
