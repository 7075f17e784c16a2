import type { Decision } from '../acquirers/connector.ts';
import { formatTransDate } from '../domain/dates.ts';
import { newId } from '../domain/ids.ts';
import { amountOnTransactionFields } from '../protocol/action-fields.ts';
import { ProtocolError } from '../protocol/errors.ts';
import { creditvoidCallback, creditvoidResponse } from '../protocol/responses.ts';
import type { RequestFields } from '../protocol/validation.ts';
import {
  claimPayment, completeOperation, findPayment, finishRefund, releaseRefund, reserveRefund, type OperationRow, type PaymentRow,
} from '../storage/payments.ts';
import type { AuthenticatedMerchant } from './authenticate.ts';
import { followUpAmount } from './capture.ts';
import type { PlatformContext } from './context.ts';
import { loadPaymentByTransId } from './load-payment.ts';
import { callbackRow, cardSummary, paymentFacts } from './payment-facts.ts';

/**
 * CREDITVOID: a REFUND of a settled payment (several partial refunds allowed; refunded ≤
 * captured held by the database write) or a REVERSAL of an AUTH (full amount only). It answers
 * ACCEPTED; the acquirer is asked before the answer and the result goes out by callback, so
 * GET_TRANS_STATUS already shows the final state when the merchant reads the answer.
 */
export async function refundOrReverse(context: PlatformContext, merchant: AuthenticatedMerchant, fields: RequestFields) {
  const { payment, values } = await loadPaymentByTransId(context, merchant, fields, amountOnTransactionFields);
  await refundOrReversePayment(context, payment, values.amount);
  return creditvoidResponse(paymentFacts(context, payment));
}

/**
 * The CREDITVOID decision and its money movement for a payment already loaded and authorized:
 * the S2S request and an approved refund application both come here. Returns the acquirer's
 * decision; refusals by the rules (208005, 208006, …) are thrown as ProtocolError.
 */
/** Money sent to a card (CREDIT2CARD) or between cards (CARD2CARD) cannot be pulled back with
 * CREDITVOID: the spec names REFUND for SALE/CAPTURE and REVERSAL for AUTH and DEBIT only. */
const notRefundableActions = new Set(['CREDIT2CARD', 'CARD2CARD']);

export async function refundOrReversePayment(context: PlatformContext, payment: PaymentRow, amountText: string | undefined): Promise<Decision> {
  if (notRefundableActions.has(payment.action)) throw new ProtocolError('refundNotAllowed');
  if (payment.status === 'PENDING' && payment.is_auth === 1) return reverse(context, payment, amountText);
  if (payment.status === 'SETTLED') return refund(context, payment, amountText);
  throw new ProtocolError('refundNotAllowed');
}

async function reverse(context: PlatformContext, payment: PaymentRow, amountText: string | undefined): Promise<Decision> {
  const authorizedMinor = Number(payment.amount_minor);
  const amountMinor = followUpAmount(amountText, payment.currency, authorizedMinor);
  if (amountMinor > authorizedMinor) throw new ProtocolError('reversalTooLarge');
  if (amountMinor < authorizedMinor) throw new ProtocolError('reversalPartial');
  const nowMs = context.clock.nowMs();
  const operation = newOperation(payment, 'REVERSAL', amountMinor, nowMs);
  if (!(await claimPayment(context.storage.db, payment.trans_id, 'PENDING', operation))) {
    throw new ProtocolError('refundNotAllowed');
  }
  const decision = await context.acquirer.reverse(followUp(payment, amountMinor, nowMs)).catch(acquirerFailure(context, payment));
  const facts = paymentFacts(context, payment);
  const approved = decision.outcome === 'approved';
  const declineReason = decision.outcome === 'declined' ? decision.declineReason : null;
  const callback = creditvoidCallback(facts, amountMinor, approved
    ? { approved: true, status: 'REVERSAL', dateText: formatTransDate(nowMs, context.timeZone) }
    : { approved: false, declineReason: declineReason! });
  await completeOperation(
    context.storage.db, payment.trans_id,
    approved ? { status: 'REVERSAL', operation_lock: null } : { operation_lock: null },
    { operationId: operation.operation_id, status: approved ? 'success' : 'fail', declineReason },
    [callbackRow(payment, callback, nowMs)], context.clock.nowMs(),
  );
  return decision;
}

async function refund(context: PlatformContext, payment: PaymentRow, amountText: string | undefined): Promise<Decision> {
  const remainingMinor = Number(payment.captured_minor) - Number(payment.refunded_minor);
  const amountMinor = followUpAmount(amountText, payment.currency, remainingMinor);
  if (amountMinor > remainingMinor) throw new ProtocolError('refundTooLarge');
  const nowMs = context.clock.nowMs();
  const operation = newOperation(payment, 'REFUND', amountMinor, nowMs);
  if (!(await reserveRefund(context.storage.db, payment.trans_id, operation))) {
    // Someone else got there between our read and our write: say which rule now stops us.
    const current = await findPayment(context.storage.db, payment.merchant_id, payment.trans_id);
    throw new ProtocolError(current?.status === 'SETTLED' && current.operation_lock === null ? 'refundTooLarge' : 'refundNotAllowed');
  }
  const decision = await context.acquirer.refund(followUp(payment, amountMinor, nowMs)).catch(acquirerFailure(context, payment));
  const facts = paymentFacts(context, payment);
  if (decision.outcome === 'approved') {
    const dateText = formatTransDate(nowMs, context.timeZone);
    await finishRefund(context.storage.db, payment.trans_id, operation.operation_id,
      (status) => [callbackRow(payment, creditvoidCallback(facts, amountMinor, { approved: true, status, dateText }), nowMs)],
      context.clock.nowMs());
  } else {
    await releaseRefund(context.storage.db, payment.trans_id, operation.operation_id, amountMinor, decision.declineReason,
      [callbackRow(payment, creditvoidCallback(facts, amountMinor, { approved: false, declineReason: decision.declineReason }), nowMs)],
      context.clock.nowMs());
  }
  return decision;
}

function newOperation(payment: PaymentRow, type: string, amountMinor: number, nowMs: number): OperationRow {
  return {
    operation_id: newId(nowMs), trans_id: payment.trans_id, type, status: 'waiting',
    amount_minor: amountMinor, decline_reason: null, created_at_ms: nowMs, updated_at_ms: nowMs,
  };
}

function followUp(payment: PaymentRow, amountMinor: number, nowMs: number) {
  return { transId: payment.trans_id, card: cardSummary(payment), amountMinor, currency: payment.currency, nowMs };
}

function acquirerFailure(context: PlatformContext, payment: PaymentRow) {
  return (error: Error) => {
    context.logger.error({ transId: payment.trans_id, error: error.message }, 'acquirer refund/reversal failed');
    return { outcome: 'declined' as const, declineReason: 'The acquirer could not complete the request' };
  };
}
