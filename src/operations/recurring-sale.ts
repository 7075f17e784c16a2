import { timingSafeEqual } from 'node:crypto';
import { parseAmount } from '../domain/money.ts';
import { recurringSaleFields } from '../protocol/action-fields.ts';
import { ProtocolError, type FieldError } from '../protocol/errors.ts';
import { hashesMatch, saleHash } from '../protocol/hash.ts';
import { messages, validateFields, type RequestFields } from '../protocol/validation.ts';
import { paymentExtrasOf } from './payment-extras.ts';
import { loadPayment } from '../storage/payments.ts';
import type { AuthenticatedMerchant } from './authenticate.ts';
import type { PlatformContext } from './context.ts';
import { approvedStatuses } from './payment-facts.ts';
import { chargeStoredCard } from './charge-stored-card.ts';
import { usableSchedule } from './recurring.ts';
import { requestFingerprint, type SaleOutcome } from './sale.ts';

function sameText(left: string, right: string): boolean {
  const a = Buffer.from(left.toLowerCase());
  const b = Buffer.from(right.toLowerCase());
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * RECURRING_SALE: a SALE (or AUTH with auth=Y) on the card of an earlier payment that started
 * recurring (recurring_init=Y, approved), named by recurring_first_trans_id and proved by its
 * recurring_token. Formula 1 with that payment's e-mail and card. The cardholder is not
 * present: no CVV, no 3-D Secure. The currency is the first payment's (the spec's table has no
 * order_currency). With schedule_id the card is bound to that schedule.
 */
export async function recurringSale(
  context: PlatformContext, merchant: AuthenticatedMerchant, fields: RequestFields,
): Promise<SaleOutcome> {
  const errors: FieldError[] = [];
  const values = validateFields(fields, recurringSaleFields, errors);
  const extras = paymentExtrasOf(context, values, fields, errors);
  if (errors.length > 0) throw new ProtocolError('requestInvalid', errors);
  const first = await loadPayment(context.storage, merchant.merchantId, values.recurring_first_trans_id!.toLowerCase());
  if (!first) throw new ProtocolError('paymentNotFound');
  const cardDigits = first.card.bin + first.card.lastFour;
  const expectedHash = saleHash({ email: first.payerEmail, password: merchant.password, cardDigits }, merchant.hashDigest);
  if (!hashesMatch(expectedHash, values.hash!)) throw new ProtocolError('hashInvalid');
  if (!first.recurringToken || !approvedStatuses.has(first.status) || !sameText(first.recurringToken, values.recurring_token!)) {
    throw new ProtocolError('recurringTokenInvalid');
  }
  const amount = parseAmount(values.order_amount!, first.currency);
  if (!amount.ok) {
    throw new ProtocolError('requestInvalid', [
      { field: 'order_amount', message: amount.problem === 'not_positive' ? messages.greaterThanZero : messages.invalid },
    ]);
  }
  const schedule = values.schedule_id ? await usableSchedule(context, merchant.merchantId, values.schedule_id) : undefined;
  return chargeStoredCard(context, merchant, {
    source: first,
    orderId: values.order_id!,
    amountMinor: amount.amountMinor,
    currency: first.currency,
    description: values.order_description!,
    isAuth: values.auth === 'Y',
    scheduleId: schedule?.scheduleId,
    fingerprint: requestFingerprint(context, merchant.merchantId, fields),
    extras,
    alsoWrite: schedule ? [{ kind: 'schedule-binding', schedule, sourceTransId: first.transId }] : [],
  });
}
