import { decideCreditvoid, isRefundableAction, type Payment, type PaymentOperation } from '../domain/payment.ts';
import { amountOnTransactionFields } from '../protocol/action-fields.ts';
import { ProtocolError } from '../protocol/errors.ts';
import type { RequestFields } from '../protocol/validation.ts';
import { claimPayment, loadOperations, reserveRefund } from '../storage/payments.ts';
import { askAcquirer } from './acquirer-call.ts';
import type { AuthenticatedMerchant } from './authenticate.ts';
import { followUpAmount } from './capture.ts';
import type { PlatformContext } from './context.ts';
import { connectorForPayment } from './routing.ts';
import { finishAnswered, newOperation } from './finish-operation.ts';
import { loadPaymentByTransId } from './load-payment.ts';
import { cardSummaryOf, siblingsOf } from './payment-facts.ts';

/** What a CREDITVOID did: a refund or a reversal, and the acquirer's answer — `unknown` keeps
 * the reservation (refund) or the claim (reversal) until the outcome is known. */
export interface CreditvoidOutcome {
  kind: 'refund' | 'reversal';
  result: 'approved' | 'declined' | 'unknown';
  /** The payment as it was when the request arrived (the answer names it). */
  payment: Payment;
  amountMinor: number;
  declineReason?: string;
}

/**
 * CREDITVOID: a REFUND of a settled payment (several partial refunds allowed; refunded ≤
 * captured held by the database write) or a REVERSAL of an AUTH (full amount only). It answers
 * ACCEPTED; the acquirer is asked before the answer and the result goes out by callback, so
 * GET_TRANS_STATUS already shows the final state when the merchant reads the answer.
 */
export async function refundOrReverse(
  context: PlatformContext,
  merchant: AuthenticatedMerchant,
  fields: RequestFields,
): Promise<CreditvoidOutcome> {
  const { payment, values } = await loadPaymentByTransId(context, merchant, fields, amountOnTransactionFields);
  return refundOrReversePayment(context, payment, values.amount);
}

/**
 * The CREDITVOID decision and its money movement for a payment already loaded and authorized:
 * the S2S request and an approved refund application both come here. Refusals by the rules
 * (208005, 208006, …) are thrown as ProtocolError.
 */
export async function refundOrReversePayment(
  context: PlatformContext,
  payment: Payment,
  amountText: string | undefined,
): Promise<CreditvoidOutcome> {
  const reversal = payment.status === 'PENDING' && payment.isAuth;
  const defaultMinor = reversal ? payment.amountMinor : payment.capturedMinor - payment.refundedMinor;
  // The amount is parsed only for a payment CREDITVOID applies to: 208005 comes before a format error.
  if (!isRefundableAction(payment.action) || (!reversal && payment.status !== 'SETTLED'))
    throw new ProtocolError('refundNotAllowed');
  const decided = decideCreditvoid(payment, followUpAmount(amountText, payment.currency, defaultMinor));
  if (!decided.ok) throw new ProtocolError(decided.error);
  const { kind, amountMinor } = decided.decision;
  const nowMs = context.clock.nowMs();
  const operation = newOperation(payment.transId, kind === 'refund' ? 'REFUND' : 'REVERSAL', amountMinor, nowMs);
  await claim(context, kind, operation);
  const acquirer = await connectorForPayment(context, payment.midId ?? null);
  const request = {
    transId: payment.transId,
    operationId: operation.operationId,
    payerEmail: payment.payerEmail,
    card: cardSummaryOf(payment),
    amountMinor,
    currency: payment.currency,
    nowMs,
    // A bank's refunds may have to be told apart by amount (docs/adr/0092, amended); the
    // in-process test engine needs no read for that.
    siblings: acquirer.sideEffectFree ? undefined
      : siblingsOf(await loadOperations(context.storage, payment.transId), operation),
  };
  const outcome = await askAcquirer(context, kind, payment.transId, () =>
    kind === 'refund' ? acquirer.refund(request) : acquirer.reverse(request),
  );
  if (outcome.outcome === 'unknown') return { kind, result: 'unknown', payment, amountMinor };
  await finishAnswered(context, payment, operation, outcome);
  const declineReason = outcome.outcome === 'declined' ? outcome.declineReason : undefined;
  return { kind, result: outcome.outcome, payment, amountMinor, declineReason };
}

/** The reversal holds the payment; the refund reserves its amount. Someone who got there
 * between our read and our write makes us say which rule now stops us. */
async function claim(
  context: PlatformContext,
  kind: 'refund' | 'reversal',
  operation: PaymentOperation,
): Promise<void> {
  if (kind === 'reversal') {
    if (!(await claimPayment(context.storage, 'PENDING', operation))) throw new ProtocolError('refundNotAllowed');
    return;
  }
  const reserved = await reserveRefund(context.storage, operation);
  if (reserved === 'too-large') throw new ProtocolError('refundTooLarge');
  if (reserved === 'not-allowed') throw new ProtocolError('refundNotAllowed');
}
