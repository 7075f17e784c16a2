import { financialDay } from '../domain/dates.ts';
import { newId } from '../domain/ids.ts';
import { voidFields } from '../protocol/action-fields.ts';
import { ProtocolError } from '../protocol/errors.ts';
import { voidCallback, voidResponse } from '../protocol/responses.ts';
import type { RequestFields } from '../protocol/validation.ts';
import { claimPayment, completeOperation, type OperationRow } from '../storage/payments.ts';
import type { AuthenticatedMerchant } from './authenticate.ts';
import type { PlatformContext } from './context.ts';
import { loadPaymentByTransId } from './load-payment.ts';
import { callbackRow, cardSummary, paymentFacts } from './payment-facts.ts';

export const voidDeclineReasons = {
  notVoidable: 'VOID is allowed for SALE, CAPTURE and recurring sale payments only',
  notSettled: 'VOID is allowed for payments in SETTLED status only',
  otherDay: 'VOID is allowed on the financial day of the payment only; use CREDITVOID to refund',
  refunded: 'VOID is not allowed after a refund; use CREDITVOID to refund the rest',
} as const;

/**
 * VOID cancels a SETTLED payment (SALE, CAPTURE, recurring sale) on the financial day it
 * settled, in the platform's time zone. The spec answers a refused VOID as DECLINED with the
 * payment's status, not as an error; so does Kassa.
 */
export async function voidPayment(context: PlatformContext, merchant: AuthenticatedMerchant, fields: RequestFields) {
  const { payment } = await loadPaymentByTransId(context, merchant, fields, voidFields);
  const nowMs = context.clock.nowMs();
  const facts = paymentFacts(context, payment, nowMs);
  let declineReason: string | undefined;
  // The spec: VOID cancels SALE, CAPTURE and SALE_RECURRING operations; not transfers.
  if (payment.action !== 'SALE' && payment.action !== 'RECURRING_SALE') declineReason = voidDeclineReasons.notVoidable;
  else if (payment.status !== 'SETTLED') declineReason = voidDeclineReasons.notSettled;
  else if (Number(payment.refunded_minor) > 0) declineReason = voidDeclineReasons.refunded;
  else if (financialDay(Number(payment.settled_at_ms ?? payment.created_at_ms), context.timeZone) !== financialDay(nowMs, context.timeZone)) {
    declineReason = voidDeclineReasons.otherDay;
  }
  if (declineReason) return voidResponse(facts, false, declineReason);

  const operation: OperationRow = {
    operation_id: newId(nowMs), trans_id: payment.trans_id, type: 'VOID', status: 'waiting',
    amount_minor: Number(payment.captured_minor), decline_reason: null, created_at_ms: nowMs, updated_at_ms: nowMs,
  };
  if (!(await claimPayment(context.storage.db, payment.trans_id, 'SETTLED', operation, 'no-refunds'))) {
    return voidResponse(facts, false, voidDeclineReasons.notSettled);
  }
  const decision = await context.acquirer.void({
    transId: payment.trans_id, card: cardSummary(payment), amountMinor: Number(payment.captured_minor), currency: payment.currency, nowMs,
  }).catch((error: Error) => {
    context.logger.error({ transId: payment.trans_id, error: error.message }, 'acquirer void failed');
    return { outcome: 'declined' as const, declineReason: 'The acquirer could not complete the VOID' };
  });
  const approved = decision.outcome === 'approved';
  const reason = decision.outcome === 'declined' ? decision.declineReason : undefined;
  await completeOperation(
    context.storage.db, payment.trans_id,
    approved ? { status: 'VOID', operation_lock: null } : { operation_lock: null },
    { operationId: operation.operation_id, status: approved ? 'success' : 'fail', declineReason: reason ?? null },
    [callbackRow(payment, voidCallback(facts, approved, reason), nowMs)], context.clock.nowMs(),
  );
  return voidResponse(facts, approved, reason);
}
