import { decideCapture, type Payment } from '../domain/payment.ts';
import { parseAmount } from '../domain/money.ts';
import { amountOnTransactionFields } from '../protocol/action-fields.ts';
import { ProtocolError } from '../protocol/errors.ts';
import { messages, type RequestFields } from '../protocol/validation.ts';
import { claimPayment } from '../storage/payments.ts';
import { askAcquirer } from './acquirer-call.ts';
import type { AuthenticatedMerchant } from './authenticate.ts';
import type { PlatformContext } from './context.ts';
import { connectorForPayment } from './routing.ts';
import { finishAnswered, newOperation } from './finish-operation.ts';
import { loadPaymentByTransId } from './load-payment.ts';
import { cardSummaryOf } from './payment-facts.ts';

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

/** What a CAPTURE did; `unknown`: the acquirer's answer is not known, the claim stays held. */
export interface CaptureOutcome {
  result: 'approved' | 'declined' | 'unknown';
  payment: Payment;
  amountMinor: number;
  declineReason?: string;
  atMs: number;
}

/**
 * CAPTURE of an AUTH: full or one partial. The payment is claimed by a conditional UPDATE
 * (status PENDING, nobody holding it) before the acquirer is asked, so of 20 parallel captures
 * exactly one proceeds and the rest get 208003. An unknown outcome keeps the claim.
 */
export async function capture(
  context: PlatformContext,
  merchant: AuthenticatedMerchant,
  fields: RequestFields,
): Promise<CaptureOutcome> {
  const { payment, values } = await loadPaymentByTransId(context, merchant, fields, amountOnTransactionFields);
  return capturePayment(context, payment, values.amount);
}

/** The CAPTURE decision and its money movement for a payment already loaded and authorized:
 * the S2S request and the operator console both come here. */
export async function capturePayment(
  context: PlatformContext,
  payment: Payment,
  amountText: string | undefined,
): Promise<CaptureOutcome> {
  if (payment.status !== 'PENDING' || !payment.isAuth) throw new ProtocolError('captureNotPending');
  const decided = decideCapture(payment, followUpAmount(amountText, payment.currency, payment.amountMinor));
  if (!decided.ok) throw new ProtocolError(decided.error);
  const { amountMinor } = decided.decision;
  const nowMs = context.clock.nowMs();
  const operation = newOperation(payment.transId, 'CAPTURE', amountMinor, nowMs);
  const acquirer = await connectorForPayment(context, payment.midId ?? null);
  if (!(await claimPayment(context.storage, 'PENDING', operation))) throw new ProtocolError('captureNotPending');
  const outcome = await askAcquirer(context, 'capture', payment.transId, () =>
    acquirer.capture({
      transId: payment.transId,
      operationId: operation.operationId,
      payerEmail: payment.payerEmail,
      card: cardSummaryOf(payment),
      amountMinor,
      currency: payment.currency,
      nowMs,
    }),
  );
  if (outcome.outcome === 'unknown') {
    return {
      result: 'unknown',
      payment: { ...payment, operationLock: operation.operationId },
      amountMinor,
      atMs: nowMs,
    };
  }
  const after = await finishAnswered(context, payment, operation, outcome);
  const declineReason = outcome.outcome === 'declined' ? outcome.declineReason : undefined;
  return { result: outcome.outcome, payment: after, amountMinor, declineReason, atMs: nowMs };
}
