import type { PaymentOperation } from '../domain/payment.ts';
import { transactionQueryFields } from '../protocol/action-fields.ts';
import type { RequestFields } from '../protocol/validation.ts';
import { loadOperations } from '../storage/payments.ts';
import type { AuthenticatedMerchant } from './authenticate.ts';
import type { PlatformContext } from './context.ts';
import { statusViewOf, type PaymentStatusView } from './get-trans-status.ts';
import { loadPaymentByTransId } from './load-payment.ts';

export interface PaymentDetailsView extends PaymentStatusView {
  payer: { name: string; mail: string; ip: string };
  /** Sub-transactions, oldest first (upper-case types; success/waiting/fail). */
  operations: PaymentOperation[];
}

/** The payment and its history of sub-transactions. */
export async function getTransDetails(
  context: PlatformContext,
  merchant: AuthenticatedMerchant,
  fields: RequestFields,
): Promise<PaymentDetailsView> {
  const { payment } = await loadPaymentByTransId(context, merchant, fields, transactionQueryFields);
  const operations = await loadOperations(context.storage, payment.transId);
  const payer = JSON.parse(payment.payerJson) as Record<string, string>;
  const name = [payer.payer_first_name, payer.payer_last_name].filter(Boolean).join(' ');
  const view = await statusViewOf(context, payment);
  return { ...view, payer: { name, mail: payment.payerEmail, ip: payer.payer_ip ?? '' }, operations };
}
