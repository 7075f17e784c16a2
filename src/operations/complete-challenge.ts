import { declineReasons } from '../acquirers/test-engine.ts';
import type { Decision } from '../acquirers/connector.ts';
import { Secret } from '../domain/secret.ts';
import { ProtocolError } from '../protocol/errors.ts';
import { paymentCallback } from '../protocol/responses.ts';
import { claimChallenge, deleteChallenge, eraseOverdueCardSecrets, findExpiredChallenges, finishChallenge } from '../storage/challenges.ts';
import { findPaymentAnyMerchant, type PaymentRow } from '../storage/payments.ts';
import type { PlatformContext } from './context.ts';
import { callbackRow, paymentFacts } from './payment-facts.ts';

/**
 * The cardholder came back from the issuer's 3-D Secure page or the payment provider page:
 * claim the waiting payment (only once — a replay gets 208002), authorize with the held card
 * data, persist the final state with its callback, erase the CVV.
 */
export async function completeChallenge(context: PlatformContext, transId: string, cardholderPassed: boolean): Promise<PaymentRow> {
  const nowMs = context.clock.nowMs();
  const claimed = await claimChallenge(context.storage.db, transId, nowMs);
  if (!claimed) throw new ProtocolError('notInThreeDs');
  const payment = (await findPaymentAnyMerchant(context.storage.db, transId))!;
  let decision: Decision;
  if (!claimed.cvvCiphertext) {
    decision = { outcome: 'declined', declineReason: declineReasons.threeDsExpired };
  } else {
    const [month, year] = payment.card_expiry.split('/');
    decision = await context.acquirer.completeChallenge({
      transId,
      kind: claimed.kind,
      card: {
        number: new Secret(context.vault.decrypt(payment.card_ciphertext)),
        cvv: new Secret(context.vault.decrypt(claimed.cvvCiphertext)),
        expiryMonth: Number(month),
        expiryYear: Number(year),
      },
      amountMinor: Number(payment.amount_minor),
      currency: payment.currency,
      capture: payment.is_auth !== 1,
      cardholderPassed,
      nowMs,
    }).catch((error: Error) => {
      context.logger.error({ transId, error: error.message }, 'acquirer authorization after 3-D Secure failed');
      return { outcome: 'declined' as const, declineReason: 'The acquirer could not complete the payment' };
    });
  }
  return settleChallenge(context, payment, claimed.kind, cardholderPassed && Boolean(claimed.cvvCiphertext), decision, nowMs);
}

async function settleChallenge(
  context: PlatformContext, payment: PaymentRow, kind: '3DS' | 'REDIRECT', cardholderPassed: boolean, decision: Decision, nowMs: number,
): Promise<PaymentRow> {
  const approved = decision.outcome === 'approved';
  const declineReason = decision.outcome === 'declined' ? decision.declineReason : null;
  const isAuth = payment.is_auth === 1;
  const change = approved
    ? {
      status: isAuth ? 'PENDING' : 'SETTLED', captured_minor: isAuth ? 0 : Number(payment.amount_minor),
      decline_reason: null, settled_at_ms: isAuth ? null : nowMs, descriptor: decision.descriptor ?? payment.descriptor,
    }
    : { status: 'DECLINED', decline_reason: declineReason };
  const finalPayment: PaymentRow = { ...payment, ...change };
  const operationResults = [
    ...(kind === '3DS' ? [{ type: '3DS', status: cardholderPassed ? 'success' as const : 'fail' as const, declineReason: cardholderPassed ? null : declineReason }] : []),
    { type: authorizationTypeOf(payment), status: approved ? 'success' as const : 'fail' as const, declineReason },
  ];
  await finishChallenge(context.storage.db, payment.trans_id, change, operationResults,
    [callbackRow(finalPayment, paymentCallback(paymentFacts(context, finalPayment)), nowMs)], context.clock.nowMs());
  return finalPayment;
}

/** The sub-transaction the challenge was holding: DEBIT and CARD2CARD wait with a DEBIT or
 * TRANSFER row, not a SALE one, and only the waiting row of that type may be finished. */
function authorizationTypeOf(payment: PaymentRow): string {
  if (payment.action === 'DEBIT') return 'DEBIT';
  if (payment.action === 'CARD2CARD') return 'TRANSFER';
  return payment.is_auth === 1 ? 'AUTH' : 'SALE';
}

/** Upper bound of challenges expired in one sweep, so one pass never runs unbounded. */
const expiryBatchSize = 100;

/**
 * The sweeper: a cardholder who never came back declines the payment when the deadline
 * passes, and every CVV past its deadline is erased even if something else went wrong.
 */
export async function expireAbandonedChallenges(context: PlatformContext): Promise<{ expired: number; erased: number }> {
  const nowMs = context.clock.nowMs();
  let expired = 0;
  for (const transId of await findExpiredChallenges(context.storage.db, nowMs, expiryBatchSize)) {
    const claimed = await claimChallenge(context.storage.db, transId, nowMs);
    if (!claimed) {
      // The payment left 3DS some other way; the challenge row must not come back every sweep.
      await deleteChallenge(context.storage.db, transId);
      continue;
    }
    const payment = (await findPaymentAnyMerchant(context.storage.db, transId))!;
    await settleChallenge(context, payment, claimed.kind, false,
      { outcome: 'declined', declineReason: declineReasons.threeDsExpired }, nowMs);
    expired += 1;
  }
  const erased = await eraseOverdueCardSecrets(context.storage.db, nowMs);
  return { expired, erased };
}
