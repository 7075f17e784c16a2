import { orderQueryFields } from '../protocol/action-fields.ts';
import { statusResponse } from '../protocol/responses.ts';
import type { RequestFields } from '../protocol/validation.ts';
import type { AuthenticatedMerchant } from './authenticate.ts';
import type { PlatformContext } from './context.ts';
import { loadPaymentByOrderId } from './load-payment.ts';
import { paymentFacts } from './payment-facts.ts';

export async function getTransStatusByOrder(context: PlatformContext, merchant: AuthenticatedMerchant, fields: RequestFields) {
  const payment = await loadPaymentByOrderId(context, merchant, fields, orderQueryFields);
  return statusResponse('GET_TRANS_STATUS_BY_ORDER', paymentFacts(context, payment));
}
