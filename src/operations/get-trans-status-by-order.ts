import { orderQueryFields } from '../protocol/action-fields.ts';
import type { RequestFields } from '../protocol/validation.ts';
import type { AuthenticatedMerchant } from './authenticate.ts';
import type { PlatformContext } from './context.ts';
import { statusViewOf, type PaymentStatusView } from './get-trans-status.ts';
import { loadPaymentByOrderId } from './load-payment.ts';

export async function getTransStatusByOrder(
  context: PlatformContext,
  merchant: AuthenticatedMerchant,
  fields: RequestFields,
): Promise<PaymentStatusView> {
  return statusViewOf(context, await loadPaymentByOrderId(context, merchant, fields, orderQueryFields));
}
