import { formatTransDate } from '../domain/dates.ts';
import { maskFromParts } from '../domain/card.ts';
import { newId } from '../domain/ids.ts';
import type { PaymentFacts } from '../protocol/responses.ts';
import { noCallbackUrlError } from '../storage/callbacks.ts';
import type { SiblingOperation } from '../acquirers/connector.ts';
import {
  approvedStatuses as approvedPaymentStatuses, type Payment, type PaymentOperation, type PaymentStatus,
} from '../domain/payment.ts';
import type { OutboxRow } from '../storage/payments.ts';
import type { PlatformContext } from './context.ts';

/** Statuses of a payment the bank approved: only these show a recurring or card token. */
export const approvedStatuses: ReadonlySet<string> = approvedPaymentStatuses as ReadonlySet<string>;

interface FactsOptions { dateMs?: number; status?: PaymentStatus }

/** Shared rather than a fresh `{}` per call: a SALE renders its facts twice (callback, answer). */
const defaultFacts: FactsOptions = Object.freeze({});

/** What responses and callbacks may say about a Payment; `status` is what the merchant is told
 * (domain/payment.ts reportedStatus), the payment's own by default. */
export function factsOf(
  context: PlatformContext, payment: Payment, options: FactsOptions = defaultFacts,
): PaymentFacts {
  const approved = approvedPaymentStatuses.has(payment.status);
  return {
    recurringToken: approved ? payment.recurringToken : null,
    scheduleId: payment.scheduleId,
    cardToken: approved && payment.cardTokenCiphertext ? context.vault.decrypt(payment.cardTokenCiphertext) : null,
    action: payment.action,
    orderId: payment.orderId,
    transId: payment.transId,
    status: options.status ?? payment.status,
    amountMinor: payment.amountMinor,
    currency: payment.currency,
    descriptor: payment.descriptor,
    declineReason: payment.declineReason,
    cardMask: maskFromParts(payment.card.bin, payment.card.lastFour, payment.card.length),
    cardExpiry: payment.card.expiry,
    transDate: formatTransDate(options.dateMs ?? payment.createdAtMs, context.timeZone),
    exchange: payment.exchange ?? null,
  };
}

/** The callback row of a Payment's change (see callbackRow). */
export function outboxRowFor(payment: Payment, payload: Record<string, unknown>, nowMs: number): OutboxRow {
  return callbackRow(payment, payload, nowMs);
}

/** The payment's other sub-transactions of the operation's type, oldest first, for a connector
 * whose bank keeps no reference per follow-up (docs/adr/0092, amended). */
export function siblingsOf(
  operations: readonly PaymentOperation[], operation: Pick<PaymentOperation, 'operationId' | 'type'>,
): SiblingOperation[] {
  return operations
    .filter((other) => other.operationId !== operation.operationId && other.type === operation.type)
    .map((other) => ({ amountMinor: other.amountMinor, status: other.status }));
}

export function cardSummaryOf(payment: Payment) {
  const [month, year] = payment.card.expiry.split('/');
  const { bin, lastFour } = payment.card;
  return { bin, lastFour, expiryMonth: Number(month), expiryYear: Number(year) };
}

/** The callback of a state change, for the outbox. `merchantCallbackUrl`, when the caller
 * knows it: a merchant without one gets the row already marked failed (nothing to send to; it
 * stays re-sendable), which spares the dispatcher a claim and PostgreSQL an update per payment.
 * Left out, the dispatcher finds that out itself. A payment made with 5.6.x `callback_url`
 * carries it on every row (the dispatcher sends there instead), and its `custom_data` is added
 * to every body, as `custom_data[key]` on the wire (docs/adr/0075). */
export function callbackRow(
  payment: Pick<Payment, 'merchantId' | 'transId' | 'callbackUrl' | 'customData'>, payload: Record<string, unknown>,
  nowMs: number, merchantCallbackUrl?: string | null,
): OutboxRow {
  const body = payment.customData ? { ...payload, custom_data: payment.customData } : payload;
  const row: OutboxRow = {
    outbox_id: newId(nowMs),
    topic: 'callback',
    merchant_id: payment.merchantId,
    trans_id: payment.transId,
    payload_json: JSON.stringify(body),
    created_at_ms: nowMs,
    next_attempt_at_ms: nowMs,
    delivered_at_ms: null,
  };
  if (payment.callbackUrl) return { ...row, callback_url: payment.callbackUrl };
  if (merchantCallbackUrl === null || merchantCallbackUrl === '') {
    return { ...row, failed_at_ms: nowMs, last_error: noCallbackUrlError };
  }
  return row;
}
