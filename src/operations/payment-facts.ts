import { formatTransDate } from '../domain/dates.ts';
import { maskFromParts } from '../domain/card.ts';
import { newId } from '../domain/ids.ts';
import type { PaymentFacts } from '../protocol/responses.ts';
import { noCallbackUrlError } from '../storage/callbacks.ts';
import { approvedStatuses as approvedPaymentStatuses, type Payment, type PaymentStatus } from '../domain/payment.ts';
import type { OutboxRow, PaymentRow } from '../storage/payments.ts';
import type { PlatformContext } from './context.ts';

/** Statuses of a payment the bank approved: only these show a recurring or card token. */
export const approvedStatuses: ReadonlySet<string> = approvedPaymentStatuses as ReadonlySet<string>;

/** What responses and callbacks may say about a Payment; `status` is what the merchant is told
 * (domain/payment.ts reportedStatus), the payment's own by default. */
export function factsOf(
  context: PlatformContext, payment: Payment, options: { dateMs?: number; status?: PaymentStatus } = {},
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
  };
}

/** The callback row of a Payment's change (see callbackRow). */
export function outboxRowFor(payment: Payment, payload: Record<string, unknown>, nowMs: number): OutboxRow {
  return callbackRow({ merchant_id: payment.merchantId, trans_id: payment.transId }, payload, nowMs);
}

export function cardSummaryOf(payment: Payment) {
  const [month, year] = payment.card.expiry.split('/');
  const { bin, lastFour } = payment.card;
  return { bin, lastFour, expiryMonth: Number(month), expiryYear: Number(year) };
}

/** What responses and callbacks may say about a payment: masks only, never card data. The row
 * form of factsOf, for SALE's hot path only, which builds the row it inserts and need not map
 * it to a Payment (docs/adr/0011-payment-domain.md). */
export function paymentFacts(context: PlatformContext, payment: PaymentRow, dateMs = Number(payment.created_at_ms)): PaymentFacts {
  const approved = approvedStatuses.has(payment.status);
  return {
    recurringToken: approved ? payment.recurring_token ?? null : null,
    scheduleId: payment.schedule_id ?? null,
    cardToken: approved && payment.card_token_ciphertext ? context.vault.decrypt(payment.card_token_ciphertext) : null,
    action: payment.action,
    orderId: payment.order_id,
    transId: payment.trans_id,
    status: payment.status,
    amountMinor: Number(payment.amount_minor),
    currency: payment.currency,
    descriptor: payment.descriptor,
    declineReason: payment.decline_reason,
    cardMask: maskFromParts(payment.card_bin, payment.card_last_four, payment.card_length),
    cardExpiry: payment.card_expiry,
    transDate: formatTransDate(dateMs, context.timeZone),
  };
}

/** A callback to send, written in the same transaction as the change it reports. */
/** The callback of a state change, for the outbox. `merchantCallbackUrl`, when the caller
 * knows it: a merchant without one gets the row already marked failed (nothing to send to; it
 * stays re-sendable), which spares the dispatcher a claim and PostgreSQL an update per payment.
 * Left out, the dispatcher finds that out itself. */
export function callbackRow(
  payment: { merchant_id: string; trans_id: string }, payload: Record<string, unknown>, nowMs: number,
  merchantCallbackUrl?: string | null,
): OutboxRow {
  const row: OutboxRow = {
    outbox_id: newId(nowMs),
    topic: 'callback',
    merchant_id: payment.merchant_id,
    trans_id: payment.trans_id,
    payload_json: JSON.stringify(payload),
    created_at_ms: nowMs,
    next_attempt_at_ms: nowMs,
    delivered_at_ms: null,
  };
  if (merchantCallbackUrl === null || merchantCallbackUrl === '') {
    return { ...row, failed_at_ms: nowMs, last_error: noCallbackUrlError };
  }
  return row;
}
