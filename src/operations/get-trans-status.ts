import { transactionQueryFields } from '../protocol/action-fields.ts';
import { statusResponse } from '../protocol/responses.ts';
import type { RequestFields } from '../protocol/validation.ts';
import type { AuthenticatedMerchant } from './authenticate.ts';
import type { PlatformContext } from './context.ts';
import { loadPaymentByTransId } from './load-payment.ts';
import { paymentFacts } from './payment-facts.ts';

export async function getTransStatus(context: PlatformContext, merchant: AuthenticatedMerchant, fields: RequestFields) {
  const { payment } = await loadPaymentByTransId(context, merchant, fields, transactionQueryFields);
  return statusResponse('GET_TRANS_STATUS', paymentFacts(context, payment));
}
