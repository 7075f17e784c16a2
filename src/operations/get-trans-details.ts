import { formatTransDate } from '../domain/dates.ts';
import { transactionQueryFields } from '../protocol/action-fields.ts';
import { detailsResponse } from '../protocol/responses.ts';
import type { RequestFields } from '../protocol/validation.ts';
import { listOperations } from '../storage/payments.ts';
import type { AuthenticatedMerchant } from './authenticate.ts';
import type { PlatformContext } from './context.ts';
import { loadPaymentByTransId } from './load-payment.ts';
import { paymentFacts } from './payment-facts.ts';

/** The payment and its history of sub-transactions (upper-case types; success/waiting/fail). */
export async function getTransDetails(context: PlatformContext, merchant: AuthenticatedMerchant, fields: RequestFields) {
  const { payment } = await loadPaymentByTransId(context, merchant, fields, transactionQueryFields);
  const operations = await listOperations(context.storage.db, payment.trans_id);
  const payer = JSON.parse(payment.payer_json) as Record<string, string>;
  const name = [payer.payer_first_name, payer.payer_last_name].filter(Boolean).join(' ');
  return detailsResponse(
    paymentFacts(context, payment),
    { name, mail: payment.payer_email, ip: payer.payer_ip ?? '' },
    operations.map((operation) => ({
      type: operation.type,
      status: operation.status,
      dateText: formatTransDate(Number(operation.created_at_ms), context.timeZone),
      amountMinor: Number(operation.amount_minor),
    })),
  );
}
