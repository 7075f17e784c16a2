import { reportedStatus, type Payment, type PaymentStatus } from '../domain/payment.ts';
import { transactionQueryFields } from '../protocol/action-fields.ts';
import type { RequestFields } from '../protocol/validation.ts';
import { hasWaitingRefund } from '../storage/payments.ts';
import type { AuthenticatedMerchant } from './authenticate.ts';
import type { PlatformContext } from './context.ts';
import { loadPaymentByTransId } from './load-payment.ts';

/** A payment and the status the merchant is told: PREPARE while a money operation's outcome
 * is not known (held claim or waiting refund), its own status otherwise. */
export interface PaymentStatusView {
  payment: Payment;
  status: PaymentStatus;
}

export async function statusViewOf(context: PlatformContext, payment: Payment): Promise<PaymentStatusView> {
  // Only a settled payment can have a refund waiting; the look-up is skipped for the rest.
  const refundWaiting =
    payment.status === 'SETTLED'
    && payment.refundedMinor > 0
    && (await hasWaitingRefund(context.storage, payment.transId));
  return { payment, status: reportedStatus(payment, refundWaiting) };
}

export async function getTransStatus(
  context: PlatformContext,
  merchant: AuthenticatedMerchant,
  fields: RequestFields,
): Promise<PaymentStatusView> {
  const { payment } = await loadPaymentByTransId(context, merchant, fields, transactionQueryFields);
  return statusViewOf(context, payment);
}
