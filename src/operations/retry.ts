import { retryFields } from '../protocol/action-fields.ts';
import { ProtocolError } from '../protocol/errors.ts';
import type { RequestFields } from '../protocol/validation.ts';
import { loadPayment } from '../storage/payments.ts';
import type { AuthenticatedMerchant } from './authenticate.ts';
import { chargeStoredCard } from './charge-stored-card.ts';
import type { PlatformContext } from './context.ts';
import { loadPaymentByTransId } from './load-payment.ts';
import { approvedStatuses } from './payment-facts.ts';
import { requestFingerprint, type SaleOutcome } from './sale.ts';

/**
 * RETRY (5.6.x, docs/adr/0076): a declined RECURRING_SALE (a merchant's or a schedule's) charged
 * again — the soft-decline case. Formula 2 over the declined payment's e-mail and card. The
 * attempt is a new RECURRING_SALE payment on the same order, amount, currency, card and first
 * payment, with the declined payment's callback_url and custom_data; its answer and callbacks
 * are those of a RECURRING_SALE (`action=RECURRING_SALE`, its own trans_id). The declined
 * payment stays DECLINED: nothing final is ever rewritten. Repeating the same RETRY request is a
 * replay (400 Duplicate request); a further retry names the new attempt's trans_id.
 */
export async function retry(
  context: PlatformContext, merchant: AuthenticatedMerchant, fields: RequestFields,
): Promise<SaleOutcome> {
  const { payment: declined } = await loadPaymentByTransId(context, merchant, fields, retryFields);
  if (declined.action !== 'RECURRING_SALE' || declined.status !== 'DECLINED' || !declined.sourceTransId) {
    throw new ProtocolError('retryNotAllowed');
  }
  const source = await loadPayment(context.storage, merchant.merchantId, declined.sourceTransId);
  if (!source?.recurringToken || !approvedStatuses.has(source.status)) {
    throw new ProtocolError('recurringTokenInvalid');
  }
  return chargeStoredCard(context, merchant, {
    source,
    orderId: declined.orderId,
    amountMinor: declined.amountMinor,
    currency: declined.currency,
    description: declined.orderDescription,
    isAuth: declined.isAuth,
    fingerprint: requestFingerprint(context, merchant.merchantId, fields),
    extras: {
      ...(declined.callbackUrl ? { callbackUrl: declined.callbackUrl } : {}),
      ...(declined.customData ? { customData: { ...declined.customData } } : {}),
    },
    alsoWrite: [],
  });
}
