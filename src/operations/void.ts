import { decideVoid, type Payment } from '../domain/payment.ts';
import { voidFields } from '../protocol/action-fields.ts';
import type { RequestFields } from '../protocol/validation.ts';
import { claimPayment } from '../storage/payments.ts';
import { askAcquirer } from './acquirer-call.ts';
import type { AuthenticatedMerchant } from './authenticate.ts';
import type { PlatformContext } from './context.ts';
import { connectorForPayment } from './routing.ts';
import { finishAnswered, newOperation } from './finish-operation.ts';
import { loadPaymentByTransId } from './load-payment.ts';
import { cardSummaryOf } from './payment-facts.ts';

export { voidDeclineReasons } from '../domain/payment.ts';
import { voidDeclineReasons } from '../domain/payment.ts';

/** What a VOID did. A refusal by the rules is `declined` with its reason (the spec answers it
 * as DECLINED, not as an error); `unknown` keeps the claim until the outcome is known. */
export interface VoidOutcome {
  result: 'approved' | 'declined' | 'unknown';
  payment: Payment;
  declineReason?: string;
  atMs: number;
}

/**
 * VOID cancels a SETTLED payment (SALE, CAPTURE, recurring sale) on the financial day it
 * settled, in the platform's time zone.
 */
export async function voidPayment(
  context: PlatformContext,
  merchant: AuthenticatedMerchant,
  fields: RequestFields,
): Promise<VoidOutcome> {
  const { payment } = await loadPaymentByTransId(context, merchant, fields, voidFields);
  return voidLoadedPayment(context, payment);
}

/** The VOID decision and its money movement for a payment already loaded and authorized:
 * the S2S request and the operator console both come here. */
export async function voidLoadedPayment(context: PlatformContext, payment: Payment): Promise<VoidOutcome> {
  const nowMs = context.clock.nowMs();
  const decision = decideVoid(payment, nowMs, context.timeZone);
  if (decision.kind === 'refused')
    return { result: 'declined', payment, declineReason: decision.declineReason, atMs: nowMs };
  const operation = newOperation(payment.transId, 'VOID', decision.amountMinor, nowMs);
  if (!(await claimPayment(context.storage, 'SETTLED', operation, 'no-refunds'))) {
    return { result: 'declined', payment, declineReason: voidDeclineReasons.notSettled, atMs: nowMs };
  }
  const acquirer = await connectorForPayment(context, payment.midId ?? null);
  const outcome = await askAcquirer(context, 'void', payment.transId, () =>
    acquirer.void({
      transId: payment.transId,
      operationId: operation.operationId,
      payerEmail: payment.payerEmail,
      card: cardSummaryOf(payment),
      amountMinor: decision.amountMinor,
      currency: payment.currency,
      nowMs,
    }),
  );
  if (outcome.outcome === 'unknown') {
    return { result: 'unknown', payment: { ...payment, operationLock: operation.operationId }, atMs: nowMs };
  }
  const after = await finishAnswered(context, payment, operation, outcome);
  const declineReason = outcome.outcome === 'declined' ? outcome.declineReason : undefined;
  return { result: outcome.outcome, payment: after, declineReason, atMs: nowMs };
}
