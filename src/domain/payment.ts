import type { ProtocolErrorName } from '../protocol/errors.ts';
import { financialDay } from './dates.ts';

/**
 * A payment as the operations see it: camelCase, amounts in minor units as numbers, flags as
 * booleans, the status as a union. Storage maps its rows to this (storage/payments.ts
 * `paymentFromRow`); nothing here knows about SQL. Pure: no clock, no I/O.
 */

/** The spec's status table (S2S CARD 5.2.0, "List of possible transaction results and statuses"),
 * written once: the union is derived from it. */
export const paymentStatuses = [
  'PREPARE', '3DS', 'REDIRECT', 'PENDING', 'SETTLED', 'REFUND', 'REVERSAL', 'VOID', 'CHARGEBACK', 'DECLINED',
] as const;

export type PaymentStatus = (typeof paymentStatuses)[number];

/** Waiting for the acquirer or the cardholder: an order has at most one payment in these. */
export const openStatuses: ReadonlySet<PaymentStatus> = new Set(['PREPARE', '3DS', 'REDIRECT']);

/** Nothing moves a payment out of these. */
export const finalStatuses: ReadonlySet<PaymentStatus> = new Set([
  'REFUND',
  'REVERSAL',
  'VOID',
  'CHARGEBACK',
  'DECLINED',
]);

/** Statuses of a payment the bank approved: only these show a recurring or card token. */
export const approvedStatuses: ReadonlySet<PaymentStatus> = new Set([
  'PENDING',
  'SETTLED',
  'REFUND',
  'REVERSAL',
  'VOID',
  'CHARGEBACK',
]);

/**
 * Every status change the platform makes. PREPARE → 3DS/REDIRECT is a challenge begun after a
 * PREPARE-first write; 3DS/REDIRECT → PREPARE is the claim of the cardholder's return; PENDING →
 * SETTLED a capture; PENDING → REVERSAL a reversal; SETTLED → REFUND the last refund, VOID,
 * CHARGEBACK. A declined capture, a partial refund or an unknown outcome changes no status.
 */
export const statusTransitions: Readonly<Record<PaymentStatus, readonly PaymentStatus[]>> = {
  PREPARE: ['3DS', 'REDIRECT', 'PENDING', 'SETTLED', 'DECLINED'],
  '3DS': ['PREPARE'],
  REDIRECT: ['PREPARE'],
  PENDING: ['SETTLED', 'REVERSAL'],
  SETTLED: ['REFUND', 'VOID', 'CHARGEBACK'],
  REFUND: [],
  REVERSAL: [],
  VOID: [],
  CHARGEBACK: [],
  DECLINED: [],
};

export function canMove(from: PaymentStatus, to: PaymentStatus): boolean {
  return statusTransitions[from].includes(to);
}

export function isPaymentStatus(text: string): text is PaymentStatus {
  return (paymentStatuses as readonly string[]).includes(text);
}

export interface PaymentCard {
  bin: string;
  lastFour: string;
  length: number;
  /** `MM/YYYY` */
  expiry: string;
  brand: string;
  /** The PAN encrypted by the vault; only the 3-D Secure completion decrypts it. */
  ciphertext: string;
}

export interface Payment {
  transId: string;
  merchantId: string;
  orderId: string;
  /** The request action that created the payment (SALE, RECURRING_SALE, DEBIT, …). */
  action: string;
  /** AUTH (auth=Y): funds held, CAPTURE needed. */
  isAuth: boolean;
  status: PaymentStatus;
  amountMinor: number;
  capturedMinor: number;
  /** Refunded or reserved for a refund the acquirer has not answered yet. */
  refundedMinor: number;
  currency: string;
  orderDescription: string;
  descriptor: string;
  declineReason: string | null;
  payerEmail: string;
  /** The payer_* fields as sent, JSON. */
  payerJson: string;
  card: PaymentCard;
  channelId: string | null;
  /** Appendix C acquirer parameters as sent, JSON; null when none. */
  parametersJson: string | null;
  termUrl3ds: string;
  termUrlTarget: string | null;
  /** The money operation (capture, reversal, void) holding the payment: while set, nothing
   * else may move its money. An unknown outcome keeps it set until the outcome is known. */
  operationLock: string | null;
  /** When the money moved (SALE approval or CAPTURE): VOID is allowed that financial day only. */
  settledAtMs: number | null;
  createdAtMs: number;
  updatedAtMs: number;
  recurringToken: string | null;
  cardTokenCiphertext: string | null;
  scheduleId: string | null;
  sourceTransId: string | null;
  /** The MID that processed it (routing); null: the default MID of payments made before. */
  midId?: string | null;
  /** 5.6.x `callback_url` of the request that made it: every callback of the payment goes
   * there instead of the merchant's URL. Absent or null: the merchant's. */
  callbackUrl?: string | null;
  /** 5.6.x `custom_data[...]` as sent: echoed in every callback of the payment. */
  customData?: Readonly<Record<string, string>> | null;
  /** Cascading (ADR 0053): the trans_id of the first attempt of the payment's cascade; null
   * (or absent) when this is the first or only attempt. */
  cascadeOf?: string | null;
  /** The attempt's number in its cascade: 1 for the first. */
  cascadeAttempt?: number;
  /** Currency exchange (ADR 0054): the payment's amount and currency are what the MID charged;
   * this is the original currency and amount and the rates used. Null: no exchange. */
  exchange?: PaymentExchange | null;
}

export interface PaymentExchange {
  rate: string;
  rateBase: string | null;
  currency: string;
  amountMinor: number;
}

/** A payment about to be made (SALE and the actions made like it): the Payment and what only
 * its first write needs — the request's and the card's keyed fingerprints, the payee. */
export interface NewPayment extends Payment {
  recurringInit: boolean;
  /** Keyed HMAC of the whole request: a second payment with it is refused as a replay. */
  requestFingerprint: string;
  /** Keyed HMAC of the PAN. */
  cardFingerprint: string;
  /** CREDIT2CARD, CARD2CARD: the payee_* fields (JSON); CARD2CARD: the payee card, masked and encrypted. */
  payeeJson: string | null;
  payeeCardMask: string | null;
  payeeCardCiphertext: string | null;
  /** X-Request-Id of the request that made it (docs/adr/0061); null when no request did. */
  requestId: string | null;
}

/** A sub-transaction of a payment (GET_TRANS_DETAILS lists them). */
export type OperationStatus = 'waiting' | 'success' | 'fail';

export interface PaymentOperation {
  operationId: string;
  transId: string;
  /** CAPTURE, REFUND, REVERSAL, VOID, CHARGEBACK, SALE, AUTH, 3DS, DEBIT, TRANSFER, CREDIT, … */
  type: string;
  status: OperationStatus;
  amountMinor: number;
  declineReason: string | null;
  createdAtMs: number;
}

/** A money operation the rules allow, before anyone has asked the acquirer. */
export type MoneyDecision =
  | { kind: 'capture'; amountMinor: number }
  | { kind: 'refund'; amountMinor: number }
  | { kind: 'reversal'; amountMinor: number }
  | { kind: 'void'; amountMinor: number }
  | { kind: 'chargeback'; amountMinor: number };

export type Decided<T> = { ok: true; decision: T } | { ok: false; error: ProtocolErrorName };

const allowed = <T>(decision: T): Decided<T> => ({ ok: true, decision });
const refused = (error: ProtocolErrorName): { ok: false; error: ProtocolErrorName } => ({ ok: false, error });

/** Money sent to a card (CREDIT2CARD) or between cards (CARD2CARD) cannot be pulled back with
 * CREDITVOID: the spec names REFUND for SALE/CAPTURE and REVERSAL for AUTH and DEBIT only. */
const notRefundableActions: ReadonlySet<string> = new Set(['CREDIT2CARD', 'CARD2CARD']);

/** Whether CREDITVOID can ever apply to payments made by this action. */
export function isRefundableAction(action: string): boolean {
  return !notRefundableActions.has(action);
}

/** What is captured and neither refunded nor reserved for a refund. */
export function refundableMinor(payment: Payment): number {
  return payment.capturedMinor - payment.refundedMinor;
}

/** CAPTURE of an AUTH: full, or one partial; `requestedMinor` undefined means the full amount. */
export function decideCapture(payment: Payment, requestedMinor?: number): Decided<MoneyDecision & { kind: 'capture' }> {
  if (payment.status !== 'PENDING' || !payment.isAuth || payment.operationLock !== null)
    return refused('captureNotPending');
  const amountMinor = requestedMinor ?? payment.amountMinor;
  if (amountMinor > payment.amountMinor) return refused('captureTooLarge');
  return allowed({ kind: 'capture', amountMinor });
}

/** REFUND of a settled payment, in parts; never more than is captured and not yet refunded. */
export function decideRefund(payment: Payment, requestedMinor?: number): Decided<MoneyDecision & { kind: 'refund' }> {
  if (notRefundableActions.has(payment.action)) return refused('refundNotAllowed');
  if (payment.status !== 'SETTLED' || payment.operationLock !== null) return refused('refundNotAllowed');
  const amountMinor = requestedMinor ?? refundableMinor(payment);
  if (amountMinor > refundableMinor(payment) || amountMinor <= 0) return refused('refundTooLarge');
  return allowed({ kind: 'refund', amountMinor });
}

/** REVERSAL of an AUTH: the full authorized amount only. */
export function decideReversal(
  payment: Payment,
  requestedMinor?: number,
): Decided<MoneyDecision & { kind: 'reversal' }> {
  if (notRefundableActions.has(payment.action)) return refused('refundNotAllowed');
  if (payment.status !== 'PENDING' || !payment.isAuth || payment.operationLock !== null)
    return refused('refundNotAllowed');
  const amountMinor = requestedMinor ?? payment.amountMinor;
  if (amountMinor > payment.amountMinor) return refused('reversalTooLarge');
  if (amountMinor < payment.amountMinor) return refused('reversalPartial');
  return allowed({ kind: 'reversal', amountMinor });
}

/** CREDITVOID: a reversal of a held AUTH, a refund of a settled payment, nothing else. The
 * default amount is what the chosen operation would move in full. */
export function decideCreditvoid(
  payment: Payment,
  requestedMinor?: number,
): Decided<MoneyDecision & { kind: 'refund' | 'reversal' }> {
  if (payment.status === 'PENDING' && payment.isAuth) return decideReversal(payment, requestedMinor);
  return decideRefund(payment, requestedMinor);
}

export const voidDeclineReasons = {
  notVoidable: 'VOID is allowed for SALE, CAPTURE and recurring sale payments only',
  notSettled: 'VOID is allowed for payments in SETTLED status only',
  otherDay: 'VOID is allowed on the financial day of the payment only; use CREDITVOID to refund',
  refunded: 'VOID is not allowed after a refund; use CREDITVOID to refund the rest',
} as const;

/** VOID: the spec answers a refused VOID as DECLINED with a reason, not as an error. */
export type VoidDecision = { kind: 'void'; amountMinor: number } | { kind: 'refused'; declineReason: string };

/** VOID cancels a SETTLED SALE, CAPTURE or recurring sale on the financial day it settled. */
export function decideVoid(payment: Payment, nowMs: number, timeZone: string): VoidDecision {
  const refuse = (declineReason: string): VoidDecision => ({ kind: 'refused', declineReason });
  if (payment.action !== 'SALE' && payment.action !== 'RECURRING_SALE') return refuse(voidDeclineReasons.notVoidable);
  if (payment.status !== 'SETTLED' || payment.operationLock !== null) return refuse(voidDeclineReasons.notSettled);
  if (payment.refundedMinor > 0) return refuse(voidDeclineReasons.refunded);
  const settledMs = payment.settledAtMs ?? payment.createdAtMs;
  if (financialDay(settledMs, timeZone) !== financialDay(nowMs, timeZone)) return refuse(voidDeclineReasons.otherDay);
  return { kind: 'void', amountMinor: payment.capturedMinor };
}

/** An issuer's dispute of a settled payment; never more than is captured and not refunded. */
export function decideChargeback(
  payment: Payment,
  requestedMinor?: number,
): Decided<MoneyDecision & { kind: 'chargeback' }> {
  if (payment.status !== 'SETTLED' || payment.operationLock !== null) return refused('chargebackNotAllowed');
  const amountMinor = requestedMinor ?? refundableMinor(payment);
  if (amountMinor > refundableMinor(payment) || amountMinor <= 0) return refused('chargebackTooLarge');
  return allowed({ kind: 'chargeback', amountMinor });
}

/** What the acquirer said, or that nobody knows (it threw, or did not answer in time). */
export type AcquirerOutcome =
  | { outcome: 'approved'; descriptor?: string }
  | { outcome: 'declined'; declineReason: string }
  | { outcome: 'unknown'; reason: string };

export type KnownOutcome = Exclude<AcquirerOutcome, { outcome: 'unknown' }>;

/**
 * The payment once a decision has taken it, before the acquirer answers: capture, reversal and
 * void hold the claim; a refund reserves its amount. The database write makes the same change
 * conditionally (storage/payments.ts), so two racing claims cannot both succeed.
 */
export function claimed(payment: Payment, decision: MoneyDecision, operationId: string): Payment {
  if (decision.kind === 'refund') return { ...payment, refundedMinor: payment.refundedMinor + decision.amountMinor };
  if (decision.kind === 'chargeback') return payment;
  return { ...payment, operationLock: operationId };
}

/**
 * The payment after the acquirer's answer to a claimed decision. An unknown outcome changes
 * nothing: the claim and the reservation stay, so nothing can move that money again until the
 * outcome is known and finished (operations/finish-operation.ts). `otherRefundsWaiting`: whether
 * another refund of the payment is still unanswered.
 */
export function afterOutcome(
  payment: Payment,
  decision: MoneyDecision,
  outcome: AcquirerOutcome,
  nowMs: number,
  otherRefundsWaiting = false,
): Payment {
  if (outcome.outcome === 'unknown') return payment;
  const approved = outcome.outcome === 'approved';
  switch (decision.kind) {
    case 'capture':
      return approved
        ? {
            ...payment,
            status: 'SETTLED',
            capturedMinor: decision.amountMinor,
            settledAtMs: nowMs,
            operationLock: null,
          }
        : { ...payment, operationLock: null };
    case 'reversal':
      return { ...payment, status: approved ? 'REVERSAL' : payment.status, operationLock: null };
    case 'void':
      return { ...payment, status: approved ? 'VOID' : payment.status, operationLock: null };
    case 'refund': {
      if (!approved) return { ...payment, refundedMinor: payment.refundedMinor - decision.amountMinor };
      // REFUND only once no other refund can still be declined and give its reservation back:
      // a final status must never turn back into SETTLED.
      const fullyRefunded = payment.refundedMinor === payment.capturedMinor && !otherRefundsWaiting;
      return fullyRefunded && payment.status === 'SETTLED' ? { ...payment, status: 'REFUND' } : payment;
    }
    case 'chargeback':
      return { ...payment, status: 'CHARGEBACK' };
  }
}

/**
 * The status a merchant is told. A payment held by a money operation whose outcome is not known
 * yet is PREPARE — the spec's "status is undetermined, final status will be sent in callback" —
 * whatever it was before; `unresolvedRefund` is a refund's waiting reservation, which holds no
 * claim.
 */
export function reportedStatus(payment: Payment, unresolvedRefund = false): PaymentStatus {
  if (payment.operationLock !== null || unresolvedRefund) return 'PREPARE';
  return payment.status;
}
