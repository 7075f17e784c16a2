import { financialDay, formatTransDate } from '../domain/dates.ts';
import { newId } from '../domain/ids.ts';
import { ProtocolError } from '../protocol/errors.ts';
import { chargebackCallback } from '../protocol/responses.ts';
import { messages } from '../protocol/validation.ts';
import { findPaymentAnyMerchant, recordChargeback } from '../storage/payments.ts';
import { followUpAmount } from './capture.ts';
import type { PlatformContext } from './context.ts';
import { callbackRow, paymentFacts } from './payment-facts.ts';

export interface ChargebackRequest {
  transId: string;
  /** In the payment's currency; absent: everything captured and not refunded. */
  amount?: string;
  reasonCode: string;
  /** `YYYY-MM-DD`, the bank's date of the dispute; absent: today (platform time zone). */
  bankDate?: string;
}

/**
 * An issuer-initiated dispute, entered by an operator (`kassa chargeback create`): the settled
 * payment moves to CHARGEBACK and the merchant gets the spec's CHARGEBACK callback. The amount
 * is guarded by the write itself — `refunded + amount <= captured` and status SETTLED in one
 * UPDATE — so a chargeback racing refunds can never take more than is left (208010).
 */
export async function createChargeback(
  context: Pick<PlatformContext, 'storage' | 'clock' | 'timeZone' | 'vault'>, request: ChargebackRequest,
) {
  if (!/^[\w.-]{1,32}$/.test(request.reasonCode)) {
    throw new ProtocolError('requestInvalid', [{ field: 'reason_code', message: messages.invalid }]);
  }
  if (request.bankDate !== undefined && !/^\d{4}-\d{2}-\d{2}$/.test(request.bankDate)) {
    throw new ProtocolError('requestInvalid', [{ field: 'bank_date', message: messages.date }]);
  }
  const payment = await findPaymentAnyMerchant(context.storage.db, request.transId.toLowerCase());
  if (!payment) throw new ProtocolError('paymentNotFound');
  if (payment.status !== 'SETTLED') throw new ProtocolError('chargebackNotAllowed');
  const leftMinor = Number(payment.captured_minor) - Number(payment.refunded_minor);
  const amountMinor = followUpAmount(request.amount, payment.currency, leftMinor);
  if (amountMinor > leftMinor) throw new ProtocolError('chargebackTooLarge');

  const nowMs = context.clock.nowMs();
  const charged = { ...payment, status: 'CHARGEBACK' };
  const body = chargebackCallback(paymentFacts(context as PlatformContext, charged), amountMinor, {
    chargebackDate: formatTransDate(nowMs, context.timeZone),
    bankDate: request.bankDate ?? financialDay(nowMs, context.timeZone),
    reasonCode: request.reasonCode,
  });
  const outcome = await recordChargeback(context.storage.db, payment.trans_id, {
    operation_id: newId(nowMs), trans_id: payment.trans_id, type: 'CHARGEBACK', status: 'success', amount_minor: amountMinor,
    decline_reason: null, created_at_ms: nowMs, updated_at_ms: nowMs,
  }, callbackRow(charged, body, nowMs));
  if (outcome === 'not-settled') throw new ProtocolError('chargebackNotAllowed');
  if (outcome === 'too-large') throw new ProtocolError('chargebackTooLarge');
  return body;
}
