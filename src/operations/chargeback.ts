import { financialDay, formatTransDate } from '../domain/dates.ts';
import { decideChargeback } from '../domain/payment.ts';
import { ProtocolError } from '../protocol/errors.ts';
import { chargebackCallback } from '../protocol/responses.ts';
import { messages } from '../protocol/validation.ts';
import { loadPaymentAnyMerchant, recordChargeback } from '../storage/payments.ts';
import { followUpAmount } from './capture.ts';
import type { PlatformContext } from './context.ts';
import { newOperation } from './finish-operation.ts';
import { factsOf, outboxRowFor } from './payment-facts.ts';

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
 * payment moves to CHARGEBACK and the merchant gets the spec's CHARGEBACK callback, which is
 * also what this returns. The amount is guarded by the write itself — `refunded + amount <=
 * captured` and status SETTLED in one UPDATE — so a chargeback racing refunds can never take
 * more than is left (208010).
 */
export async function createChargeback(
  context: Pick<PlatformContext, 'storage' | 'clock' | 'timeZone' | 'vault'>,
  request: ChargebackRequest,
): Promise<Record<string, unknown>> {
  if (!/^[\w.-]{1,32}$/.test(request.reasonCode)) {
    throw new ProtocolError('requestInvalid', [{ field: 'reason_code', message: messages.invalid }]);
  }
  if (request.bankDate !== undefined && !/^\d{4}-\d{2}-\d{2}$/.test(request.bankDate)) {
    throw new ProtocolError('requestInvalid', [{ field: 'bank_date', message: messages.date }]);
  }
  const payment = await loadPaymentAnyMerchant(context.storage, request.transId.toLowerCase());
  if (!payment) throw new ProtocolError('paymentNotFound');
  if (payment.status !== 'SETTLED') throw new ProtocolError('chargebackNotAllowed');
  const decided = decideChargeback(
    payment,
    followUpAmount(request.amount, payment.currency, payment.capturedMinor - payment.refundedMinor),
  );
  if (!decided.ok) throw new ProtocolError(decided.error);
  const nowMs = context.clock.nowMs();
  let body: Record<string, unknown> = {};
  const operation = {
    ...newOperation(payment.transId, 'CHARGEBACK', decided.decision.amountMinor, nowMs),
    status: 'success' as const,
  };
  const recorded = await recordChargeback(context.storage, operation, (charged) => {
    body = chargebackCallback(factsOf(context as PlatformContext, charged), decided.decision.amountMinor, {
      chargebackDate: formatTransDate(nowMs, context.timeZone),
      bankDate: request.bankDate ?? financialDay(nowMs, context.timeZone),
      reasonCode: request.reasonCode,
    });
    return outboxRowFor(charged, body, nowMs);
  });
  if (recorded.outcome === 'not-settled') throw new ProtocolError('chargebackNotAllowed');
  if (recorded.outcome === 'too-large') throw new ProtocolError('chargebackTooLarge');
  return body;
}
