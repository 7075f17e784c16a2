import { loadMerchantById } from '../storage/merchants.ts';
import { loadOperation, loadPaymentAnyMerchant } from '../storage/payments.ts';
import { recordEscalation } from '../storage/reconciliations.ts';
import { undefinedOutcomeCallbackRow } from './callback-writer.ts';
import type { PlatformContext } from './context.ts';

/**
 * An operation whose outcome is still unknown past the reconciler's deadline goes in front of an
 * operator (docs/adr/0096): it joins `kassa reconciliation list` and the merchant gets a PREPARE
 * callback in its own words (UNDEFINED, or 5.2.0's SUCCESS; none for a 5.2.0 merchant's refund),
 * written in the same transaction and only by the write that escalated it, so once per escalation.
 * The final callback follows through finishOperation when a later inquiry, the bank's callback or
 * the operator tells the outcome. false when it had already been escalated, or the operation or
 * its payment is gone.
 */
export async function escalateUnknownOperation(
  context: PlatformContext,
  lease: { operationId: string; token: string },
  update: { answer: string; nextInquiryAtMs: number },
): Promise<boolean> {
  const operation = await loadOperation(context.storage, lease.operationId);
  const payment = operation && (await loadPaymentAnyMerchant(context.storage, operation.transId));
  if (!operation || !payment) return false;
  const nowMs = context.clock.nowMs();
  const merchant = await loadMerchantById(context.storage, payment.merchantId);
  const unknownResult = merchant?.unknownResult ?? 'success';
  const callback = undefinedOutcomeCallbackRow(context, payment, operation, nowMs, unknownResult);
  return recordEscalation(context.storage, lease.operationId, lease.token, {
    ...update,
    operatorNeededAtMs: nowMs,
  }, callback);
}
