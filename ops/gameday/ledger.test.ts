import { describe, expect, it } from 'vitest';
import { DeliveryLedger, type AckedMessage } from './ledger';

const US = 'us-east-1';
const EU = 'eu-west-1';
const acked: AckedMessage[] = [
  { id: 'a', origin: US, seq: 1 },
  { id: 'b', origin: US, seq: 2 },
  { id: 'c', origin: EU, seq: 1 },
];

const ledgerWith = (...handed: AckedMessage[]) => {
  const ledger = new DeliveryLedger();
  handed.forEach((m) => ledger.hand(m));
  return ledger;
};
const kinds = (ledger: DeliveryLedger) => ledger.audit(acked).violations.map((v) => v.kind);

describe('DeliveryLedger', () => {
  it('GIVEN every acknowledged message handed once in order per origin WHEN audited THEN nothing is flagged', () => {
    const ledger = ledgerWith(acked[0]!, acked[2]!, acked[1]!);
    ledger.recover({ recovered: true, missing: [] });
    expect(ledger.audit(acked)).toEqual({ expected: 3, lost: 0, duplicates: 0, outOfOrder: 0, violations: [] });
    expect(ledger.hasAll(acked)).toBe(true);
  });

  it('GIVEN an acknowledged message never handed WHEN audited THEN it is counted lost and flagged', () => {
    const ledger = ledgerWith(acked[0]!, acked[2]!);
    const audit = ledger.audit(acked);
    expect(audit.lost).toBe(1);
    expect(audit.violations).toEqual([{ kind: 'lost', text: `acknowledged b (${US}/2) handed 0 times` }]);
    expect(ledger.hasAll(acked)).toBe(false);
  });

  it('GIVEN a message handed twice WHEN audited THEN the duplicate is counted and flagged', () => {
    const audit = ledgerWith(acked[0]!, acked[1]!, acked[1]!, acked[2]!).audit(acked);
    expect(audit.duplicates).toBe(1);
    expect(audit.lost).toBe(0);
    expect(audit.violations.map((v) => v.kind)).toContain('duplicate');
  });

  it('GIVEN an unacknowledged message handed twice WHEN audited THEN it is flagged too', () => {
    const stray = { id: 'x', origin: EU, seq: 2 };
    const audit = ledgerWith(...acked, stray, stray).audit(acked);
    expect(audit.violations).toContainEqual({ kind: 'duplicate', text: 'unacknowledged x handed 2 times' });
  });

  it('GIVEN a lower seq handed after a higher one of the same origin WHEN audited THEN it is out of order', () => {
    const audit = ledgerWith(acked[1]!, acked[0]!, acked[2]!).audit(acked);
    expect(audit.outOfOrder).toBe(1);
    expect(audit.violations).toEqual([{ kind: 'out-of-order', text: `${US}/1 handed after ${US}/2` }]);
  });

  it('GIVEN a recovery that said recovered while reporting a missing range WHEN audited THEN it is untruthful', () => {
    const ledger = ledgerWith(...acked);
    ledger.recover({ recovered: true, missing: [{ origin: US, from: 2, to: 2, reason: 'not-replicated' }] });
    expect(kinds(ledger)).toEqual(['untruthful-recovery']);
  });

  it('GIVEN a recovery that reports an acknowledged message expired WHEN audited THEN it is flagged', () => {
    const ledger = ledgerWith(acked[0]!, acked[2]!);
    ledger.recover({ recovered: false, missing: [{ origin: US, from: 2, to: 2, reason: 'expired' }] });
    expect(kinds(ledger)).toEqual(['lost', 'acknowledged-expired']);
  });

  it('GIVEN a not-replicated range never filled later WHEN audited THEN it is flagged, and a filled one is not', () => {
    const unfilled = ledgerWith(acked[0]!, acked[2]!);
    unfilled.recover({ recovered: false, missing: [{ origin: US, from: 2, to: 2, reason: 'not-replicated' }] });
    expect(kinds(unfilled)).toEqual(['lost', 'range-never-filled']);

    const filled = ledgerWith(...acked);
    filled.recover({ recovered: false, missing: [{ origin: US, from: 2, to: 2, reason: 'not-replicated' }] });
    expect(kinds(filled)).toEqual([]);
  });

  it('GIVEN ephemeral messages without a seq WHEN audited THEN they are not judged for order', () => {
    const ledger = ledgerWith(...acked);
    ledger.hand({ id: 'e1', origin: US });
    ledger.hand({ id: 'e2', origin: US });
    expect(ledger.audit(acked).violations).toEqual([]);
  });
});
