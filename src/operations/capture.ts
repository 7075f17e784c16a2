import { newId } from '../domain/ids.ts';
import { parseAmount } from '../domain/money.ts';
import { amountOnTransactionFields } from '../protocol/action-fields.ts';
import { ProtocolError } from '../protocol/errors.ts';
import { captureCallback, captureResponse } from '../protocol/responses.ts';
import { messages, type RequestFields } from '../protocol/validation.ts';
import { claimPayment, completeOperation, type OperationRow } from '../storage/payments.ts';
import type { AuthenticatedMerchant } from './authenticate.ts';
import type { PlatformContext } from './context.ts';
import { loadPaymentByTransId } from './load-payment.ts';
import { callbackRow, cardSummary, paymentFacts } from './payment-facts.ts';

/** Amount of a follow-up request, in the payment's currency; absent means `defaultMinor`. */
export function followUpAmount(text: string | undefined, currency: string, defaultMinor: number): number {
  if (text === undefined) return defaultMinor;
  const amount = parseAmount(text, currency);
  if (!amount.ok) {
    throw new ProtocolError('requestInvalid', [
      { field: 'amount', message: amount.problem === 'not_positive' ? messages.greaterThanZero : messages.invalid },
    ]);
  }
  return amount.amountMinor;
}

/**
 * CAPTURE of an AUTH: full or one partial. The payment is claimed by a conditional UPDATE
 * (status PENDING, nobody holding it) before the acquirer is asked, so of 20 parallel captures
 * exactly one proceeds and the rest get 208003.
 */
export async function capture(context: PlatformContext, merchant: AuthenticatedMerchant, fields: RequestFields) {
  const { payment, values } = await loadPaymentByTransId(context, merchant, fields, amountOnTransactionFields);
  if (payment.status !== 'PENDING' || payment.is_auth !== 1) throw new ProtocolError('captureNotPending');
  const amountMinor = followUpAmount(values.amount, payment.currency, Number(payment.amount_minor));
  if (amountMinor > Number(payment.amount_minor)) throw new ProtocolError('captureTooLarge');

  const nowMs = context.clock.nowMs();
  const operation: OperationRow = {
    operation_id: newId(nowMs), trans_id: payment.trans_id, type: 'CAPTURE', status: 'waiting',
    amount_minor: amountMinor, decline_reason: null, created_at_ms: nowMs, updated_at_ms: nowMs,
  };
  if (!(await claimPayment(context.storage.db, payment.trans_id, 'PENDING', operation))) {
    throw new ProtocolError('captureNotPending');
  }
  const decision = await context.acquirer.capture({
    transId: payment.trans_id, card: cardSummary(payment), amountMinor, currency: payment.currency, nowMs,
  }).catch((error: Error) => {
    context.logger.error({ transId: payment.trans_id, error: error.message }, 'acquirer capture failed');
    return { outcome: 'declined' as const, declineReason: 'Capture could not be completed by the acquirer' };
  });
  const approved = decision.outcome === 'approved';
  const declineReason = decision.outcome === 'declined' ? decision.declineReason : undefined;
  const facts = paymentFacts(context, { ...payment, status: approved ? 'SETTLED' : 'PENDING' }, nowMs);
  await completeOperation(
    context.storage.db, payment.trans_id,
    approved
      ? { status: 'SETTLED', captured_minor: amountMinor, settled_at_ms: nowMs, operation_lock: null }
      : { operation_lock: null },
    { operationId: operation.operation_id, status: approved ? 'success' : 'fail', declineReason: declineReason ?? null },
    [callbackRow(payment, captureCallback(facts, amountMinor, approved, declineReason), nowMs)],
    context.clock.nowMs(),
  );
  return captureResponse(facts, amountMinor, approved, declineReason);
}
