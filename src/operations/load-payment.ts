import { ProtocolError, type FieldError } from '../protocol/errors.ts';
import { creditToCardTransactionHash, hashesMatch, orderHash, transactionHash } from '../protocol/hash.ts';
import { validateFields, type FieldRule, type RequestFields } from '../protocol/validation.ts';
import type { Payment } from '../domain/payment.ts';
import { loadLatestPaymentOfOrder, loadPayment } from '../storage/payments.ts';
import type { AuthenticatedMerchant } from './authenticate.ts';
import type { PlatformContext } from './context.ts';

/**
 * Validate and load for the actions on an existing payment: fields by the action's table, the
 * payment by trans_id within this merchant (208001 otherwise), then Formula 2 with the e-mail
 * and card of that original payment.
 */
export async function loadPaymentByTransId(
  context: PlatformContext,
  merchant: AuthenticatedMerchant,
  fields: RequestFields,
  rules: Record<string, FieldRule>,
): Promise<{ payment: Payment; values: Record<string, string | undefined> }> {
  const errors: FieldError[] = [];
  const values = validateFields(fields, rules, errors);
  if (errors.length > 0) throw new ProtocolError('requestInvalid', errors);
  const payment = await loadPayment(context.storage, merchant.merchantId, values.trans_id!.toLowerCase());
  if (!payment) throw new ProtocolError('paymentNotFound');
  const cardDigits = payment.card.bin + payment.card.lastFour;
  // The merchant signs the trans_id as it sent it; we compare with what it sent. The spec:
  // "CREDIT2CARD - see Appendix A, Formula 6; Others - Formula 2".
  const expected =
    payment.action === 'CREDIT2CARD'
      ? creditToCardTransactionHash(merchant.password, values.trans_id!, cardDigits, merchant.hashDigest)
      : transactionHash(
        { email: payment.payerEmail, password: merchant.password, cardDigits }, values.trans_id!, merchant.hashDigest,
      );
  if (!hashesMatch(expected, values.hash!)) throw new ProtocolError('hashInvalid');
  return { payment, values };
}

/** GET_TRANS_STATUS_BY_ORDER: the newest payment of the order, Formula 7. */
export async function loadPaymentByOrderId(
  context: PlatformContext,
  merchant: AuthenticatedMerchant,
  fields: RequestFields,
  rules: Record<string, FieldRule>,
): Promise<Payment> {
  const errors: FieldError[] = [];
  const values = validateFields(fields, rules, errors);
  if (errors.length > 0) throw new ProtocolError('requestInvalid', errors);
  const payment = await loadLatestPaymentOfOrder(context.storage, merchant.merchantId, values.order_id!);
  if (!payment) throw new ProtocolError('paymentNotFound');
  const expected = orderHash(
    { email: payment.payerEmail, password: merchant.password, cardDigits: payment.card.bin + payment.card.lastFour },
    values.order_id!,
    merchant.hashDigest,
  );
  if (!hashesMatch(expected, values.hash!)) throw new ProtocolError('hashInvalid');
  return payment;
}
