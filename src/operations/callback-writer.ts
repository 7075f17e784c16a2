import { formatTransDate } from '../domain/dates.ts';
import type { KnownOutcome, Payment, PaymentOperation } from '../domain/payment.ts';
import {
  captureCallback, creditvoidCallback, paymentCallback, undefinedOutcomeCallback, voidCallback, type RedirectFacts,
} from '../protocol/responses.ts';
import type { OutboxRow } from '../storage/payments.ts';
import type { UnknownResult } from '../storage/merchants.ts';
import type { PlatformContext } from './context.ts';
import { callbackRow, factsOf } from './payment-facts.ts';

/**
 * The callback writer: the one place operations turn a change of a payment into the merchant's
 * callback body (the API's answers are rendered at the HTTP edge, http/api-responses.ts). Each
 * row goes to the outbox in the transaction of the change it reports.
 */

/**
 * A payment made through performSale reached a final or challenge state: the spec's callback
 * for the action that made it (SALE, DEBIT, CREDIT2CARD, …), with the redirect while the
 * cardholder must act. `merchantCallbackUrl`, when known: see callbackRow.
 */
export function paymentCallbackRow(
  context: PlatformContext, payment: Payment, nowMs: number, merchantCallbackUrl?: string | null,
  redirect?: RedirectFacts,
): OutboxRow {
  return callbackRow(payment, paymentCallback(factsOf(context, payment), redirect), nowMs, merchantCallbackUrl);
}

/** A waiting operation finished with a known outcome: its callback, rendered from the payment
 * as it is after the change. */
export function finishedOperationCallbackRow(
  context: PlatformContext,
  payment: Payment,
  operation: PaymentOperation,
  outcome: KnownOutcome,
  nowMs: number,
  merchantCallbackUrl?: string | null,
): OutboxRow {
  const approved = outcome.outcome === 'approved';
  const declineReason = outcome.outcome === 'declined' ? outcome.declineReason : undefined;
  let body: Record<string, unknown>;
  switch (operation.type) {
    case 'CAPTURE':
      body = captureCallback(
        factsOf(context, payment, { dateMs: nowMs }),
        operation.amountMinor,
        approved,
        declineReason,
      );
      break;
    case 'REFUND':
    case 'REVERSAL':
      body = creditvoidCallback(
        factsOf(context, payment),
        operation.amountMinor,
        approved
          ? { approved: true, status: payment.status, dateText: formatTransDate(nowMs, context.timeZone) }
          : { approved: false, declineReason: declineReason! },
      );
      break;
    case 'VOID':
      body = voidCallback(factsOf(context, payment, { dateMs: nowMs }), approved, declineReason);
      break;
    default:
      return paymentCallbackRow(context, payment, nowMs, merchantCallbackUrl);
  }
  return callbackRow(payment, body, nowMs, merchantCallbackUrl);
}

/** The request action a merchant knows a sub-transaction by: its CAPTURE, CREDITVOID (a refund
 * or reversal) or VOID, or the action that created the payment for its authorization. */
function merchantActionOf(payment: Payment, operation: PaymentOperation): string {
  switch (operation.type) {
    case 'CAPTURE':
    case 'VOID':
      return operation.type;
    case 'REFUND':
    case 'REVERSAL':
      return 'CREDITVOID';
    default:
      return payment.action;
  }
}

/**
 * A waiting operation went to the operator with its outcome still unknown (docs/adr/0096): the
 * merchant's PREPARE callback, once, in the words its synchronous answer used (ADR 0067, 0010).
 * CAPTURE and VOID answered UNDEFINED to every merchant, and so does this. An authorization says
 * UNDEFINED only to a merchant that chose 5.6.x's word; to a 5.2.0 merchant it says SUCCESS with
 * status PREPARE, as its answer did. A refund answered ACCEPTED, which already promised a
 * callback with the outcome, and 5.2.0 has no refund callback that is not final: a 5.2.0 merchant
 * gets none now (undefined), only the final one.
 */
export function undefinedOutcomeCallbackRow(
  context: PlatformContext, payment: Payment, operation: PaymentOperation, nowMs: number,
  unknownResult: UnknownResult,
): OutboxRow | undefined {
  const action = merchantActionOf(payment, operation);
  const undefinedForEveryone = action === 'CAPTURE' || action === 'VOID';
  if (action === 'CREDITVOID' && unknownResult !== 'undefined') return undefined;
  const facts = factsOf(context, payment, { dateMs: operation.createdAtMs, status: 'PREPARE' });
  const body = undefinedOutcomeCallback(facts, action, operation.amountMinor);
  if (!undefinedForEveryone && unknownResult !== 'undefined') body.result = 'SUCCESS';
  return callbackRow(payment, body, nowMs);
}
