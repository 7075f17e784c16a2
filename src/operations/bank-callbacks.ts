import type { AcquirerConnector, CardSummary, Decision, SiblingOperation } from '../acquirers/connector.ts';
import type { Payment, PaymentOperation } from '../domain/payment.ts';
import { hasChallenge } from '../storage/challenges.ts';
import { ClaimLostError, loadOperations, loadPaymentAnyMerchant } from '../storage/payments.ts';
import { settleBankChallenge } from './complete-challenge.ts';
import type { PlatformContext } from './context.ts';
import { finishUnknownOperation } from './finish-operation.ts';
import { connectorForPayment } from './routing.ts';
import { siblingsOf } from './payment-facts.ts';

/**
 * A bank's callback to Kassa's own endpoint (docs/adr/0093): the upstream platform of an
 * upstream S2S CARD MID says something changed on one of our payments (its order_id is our
 * trans_id). The callback's hash signs only e-mail, PASSWORD, trans_id and card — not its status
 * — so a verified callback is a signal, never the outcome itself: Kassa asks the bank what is
 * true now and writes that through the operations' own conditional finishes. Whatever arrives
 * twice, late or out of order, an outcome is written once (the claim), and a payment that is
 * already final is not touched: a late DECLINED after SUCCESS changes nothing.
 */
export type BankCallbackVerdict =
  /** Not ours, or not signed with the MID's credentials: refused (the bank retries; it is logged). */
  | { kind: 'rejected'; reason: string }
  /** Verified and handled: `applied` outcomes were written now (0 for a duplicate or a late one). */
  | { kind: 'handled'; applied: number; stillUnknown: number };

type Fields = Readonly<Record<string, string>>;

const authorizationTypes: ReadonlySet<string> = new Set(['SALE', 'AUTH', 'DEBIT', 'TRANSFER', 'CREDIT']);
const lockingTypes: ReadonlySet<string> = new Set(['CAPTURE', 'VOID', 'REVERSAL']);

function cardSummaryOf(payment: Payment): CardSummary {
  const [month, year] = payment.card.expiry.split('/');
  const { bin, lastFour } = payment.card;
  return { bin, lastFour, expiryMonth: Number(month), expiryYear: Number(year) };
}

/** The payment a callback is about, and the connector that must vouch for it. */
async function paymentOfCallback(
  context: PlatformContext, fields: Fields,
): Promise<{ payment: Payment; connector: AcquirerConnector } | { reason: string }> {
  const orderId = fields.order_id;
  if (typeof orderId !== 'string' || !/^[0-9a-f-]{36}$/i.test(orderId)) return { reason: 'no order_id of ours' };
  const payment = await loadPaymentAnyMerchant(context.storage, orderId.toLowerCase());
  if (!payment) return { reason: 'no such payment' };
  let connector: AcquirerConnector;
  try {
    connector = await connectorForPayment(context, payment.midId ?? null);
  } catch {
    return { reason: "the payment's MID is gone" };
  }
  if (!connector.verifyCallback) return { reason: `${connector.name} sends no callbacks` };
  const card = cardSummaryOf(payment);
  if (!connector.verifyCallback(fields, { payerEmail: payment.payerEmail ?? undefined, card })) {
    return { reason: 'wrong hash' };
  }
  return { payment, connector };
}

/** Operations of the payment still waiting for the bank's word and still held by their claim. */
function heldOperations(
  payment: Payment, operations: readonly PaymentOperation[], challengeReturning: boolean,
): PaymentOperation[] {
  return operations.filter((operation) => {
    if (operation.status !== 'waiting') return false;
    if (authorizationTypes.has(operation.type)) return payment.status === 'PREPARE' && !challengeReturning;
    if (lockingTypes.has(operation.type)) return payment.operationLock === operation.operationId;
    return operation.type === 'REFUND';
  });
}

export async function receiveBankCallback(context: PlatformContext, fields: Fields): Promise<BankCallbackVerdict> {
  const found = await paymentOfCallback(context, fields);
  if ('reason' in found) {
    context.logger.warn({ orderId: fields.order_id, reason: found.reason }, 'bank callback refused');
    return { kind: 'rejected', reason: found.reason };
  }
  return catchUpWithBank(context, found.payment, found.connector);
}

/**
 * Asks the bank about whatever of the payment still waits for its word (the cardholder's step at
 * the bank, an operation whose answer was lost) and writes what it says, each outcome once. The
 * bank's callback calls it, and so does the cardholder's return when the challenge is already over.
 */
export async function catchUpWithBank(
  context: PlatformContext, found: Payment, connector: AcquirerConnector,
): Promise<BankCallbackVerdict> {
  let payment = found;
  let applied = 0;
  let stillUnknown = 0;
  if (payment.status === '3DS' || payment.status === 'REDIRECT') {
    // Asked before anything is claimed: the bank's callback when the challenge began says 3DS,
    // and the cardholder must still be able to finish it.
    const waiting = (await loadOperations(context.storage, payment.transId))
      .find((operation) => authorizationTypes.has(operation.type) && operation.status === 'waiting');
    const decision = waiting
      ? await inquire(context, connector, payment, waiting, []) : { outcome: 'unknown' as const };
    if (decision.outcome === 'unknown') return handled(context, payment, 0, 1);
    const settled = await settleBankChallenge(context, payment.transId, decision);
    if (settled) return handled(context, payment, 1, 0);
    payment = (await loadPaymentAnyMerchant(context.storage, payment.transId)) ?? payment;
  }
  // A challenge row on a PREPARE payment: the cardholder's return has claimed it and is asking
  // the bank right now; it writes the authorization together with the 3-D Secure step.
  const returning = payment.status === 'PREPARE' && (await hasChallenge(context.storage, payment.transId));
  const operations = await loadOperations(context.storage, payment.transId);
  for (const operation of heldOperations(payment, operations, returning)) {
    const decision = await inquire(context, connector, payment, operation, siblingsOf(operations, operation));
    if (decision.outcome === 'unknown') {
      stillUnknown += 1;
      continue;
    }
    try {
      await finishUnknownOperation(context, operation.operationId, decision);
      applied += 1;
    } catch (error) {
      // Its own call, the cardholder's return or the reconciler wrote it first.
      if (!(error instanceof ClaimLostError)) throw error;
    }
  }
  return handled(context, payment, applied, stillUnknown);
}

function handled(
  context: PlatformContext, payment: Payment, applied: number, stillUnknown: number,
): BankCallbackVerdict {
  context.logger.info({ transId: payment.transId, applied, stillUnknown }, 'bank callback handled');
  return { kind: 'handled', applied, stillUnknown };
}

async function inquire(
  context: PlatformContext, connector: AcquirerConnector, payment: Payment, operation: PaymentOperation,
  siblings: SiblingOperation[],
): Promise<Decision | { outcome: 'unknown' }> {
  if (!connector.inquire) return { outcome: 'unknown' };
  try {
    return await connector.inquire({
      transId: payment.transId,
      operationId: operation.operationId,
      operationType: operation.type,
      card: cardSummaryOf(payment),
      payerEmail: payment.payerEmail ?? undefined,
      amountMinor: operation.amountMinor,
      currency: payment.currency,
      nowMs: context.clock.nowMs(),
      siblings,
    });
  } catch (error) {
    const err = (error as Error).message;
    context.logger.warn({ transId: payment.transId, err }, 'inquiry after a bank callback failed');
    return { outcome: 'unknown' };
  }
}
