/**
 * What the reconciler makes of a bank's answer "I have no such transaction" (docs/adr/0098).
 * Pure: the reconciler hands in the facts.
 */
export type NotReceivedVerdict =
  /** No money moved: the authorization is declined with this reason. */
  | { kind: 'decline'; declineReason: string }
  /** Not conclusive yet (or never, for this operation): asked again, and past the deadline in
   * front of an operator. `reason` is what the operator's list shows. */
  | { kind: 'keepAsking'; reason: string };

export const notReceivedDeclineReason = 'Not received by the acquirer';

/** Sub-transactions that authorize a payment: the bank knows them by the payment itself. */
const authorizationTypes: ReadonlySet<string> = new Set(['SALE', 'AUTH', 'DEBIT', 'TRANSFER', 'CREDIT']);

export interface NotReceivedFacts {
  operationType: string;
  createdAtMs: number;
  nowMs: number;
  /** From the operation's creation, past which the original request cannot still arrive. */
  graceMs: number;
  /** When the MID's settings (its credentials among them) last changed; null if unknown/never. */
  midChangedAtMs: number | null;
}

export function notReceivedVerdict(facts: NotReceivedFacts): NotReceivedVerdict {
  if (!authorizationTypes.has(facts.operationType)) {
    // A follow-up is looked up among the payment's sub-transactions, where "none of that kind"
    // can also mean another one of them was read (two refunds): an operator decides.
    return { kind: 'keepAsking', reason: `the bank shows no ${facts.operationType}: not declined for that` };
  }
  if (facts.nowMs - facts.createdAtMs < facts.graceMs) {
    return { kind: 'keepAsking', reason: 'the bank has no such transaction yet; the request could still arrive' };
  }
  if (facts.midChangedAtMs !== null && facts.midChangedAtMs > facts.createdAtMs) {
    // New credentials may ask another account at the bank, which would not know it either.
    return {
      kind: 'keepAsking',
      reason: "the bank has no such transaction, but the MID's settings changed since: an operator decides",
    };
  }
  return { kind: 'decline', declineReason: notReceivedDeclineReason };
}
