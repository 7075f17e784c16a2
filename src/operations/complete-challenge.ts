import type { AcquirerConnector, Decision } from '../acquirers/connector.ts';
import { declineReasons } from '../acquirers/test-engine.ts';
import type { AcquirerOutcome, KnownOutcome, Payment } from '../domain/payment.ts';
import { Secret } from '../domain/secret.ts';
import { ProtocolError } from '../protocol/errors.ts';
import {
  claimChallenge,
  deleteChallenge,
  eraseOverdueCardSecrets,
  findExpiredChallenges,
} from '../storage/challenges.ts';
import { leaveAuthorizationUnknown, loadOperations, loadPaymentAnyMerchant } from '../storage/payments.ts';
import { askAcquirer } from './acquirer-call.ts';
import type { PlatformContext } from './context.ts';
import { connectorForPayment } from './routing.ts';
import { finishAnswered, type ChallengeStep } from './finish-operation.ts';

/**
 * The cardholder came back from the issuer's 3-D Secure page or the payment provider page:
 * claim the waiting payment (only once — a replay gets 208002), authorize with the held card
 * data, persist the final state with its callback, erase the CVV. When the acquirer's answer is
 * unknown (it failed or timed out) the payment stays PREPARE with its authorization `waiting`
 * — never DECLINED — and the CVV is erased all the same. Returns the payment as it now is.
 */
export async function completeChallenge(
  context: PlatformContext,
  transId: string,
  cardholderPassed: boolean,
): Promise<Payment> {
  const nowMs = context.clock.nowMs();
  const claimed = await claimChallenge(context.storage, transId, nowMs);
  if (!claimed) throw new ProtocolError('notInThreeDs');
  const payment = (await loadPaymentAnyMerchant(context.storage, transId))!;
  const acquirer = await connectorForPayment(context, payment.midId ?? null);
  if (acquirer.challengesAtTheBank) return askBankAfterChallenge(context, payment, acquirer, claimed.kind, nowMs);
  let outcome: AcquirerOutcome;
  if (!claimed.cvvCiphertext) {
    outcome = { outcome: 'declined', declineReason: declineReasons.threeDsExpired };
  } else {
    const [month, year] = payment.card.expiry.split('/');
    const cvvCiphertext = claimed.cvvCiphertext;
    outcome = await askAcquirer(context, 'authorization after 3-D Secure', transId, () =>
      acquirer.completeChallenge({
        transId,
        kind: claimed.kind,
        card: {
          number: new Secret(context.vault.decrypt(payment.card.ciphertext)),
          cvv: new Secret(context.vault.decrypt(cvvCiphertext)),
          expiryMonth: Number(month),
          expiryYear: Number(year),
        },
        amountMinor: payment.amountMinor,
        currency: payment.currency,
        capture: !payment.isAuth,
        cardholderPassed,
        nowMs,
      }),
    );
  }
  const passed = cardholderPassed && Boolean(claimed.cvvCiphertext);
  return settleChallenge(context, payment, passed, outcome, nowMs);
}

/**
 * 3-D Secure pass-through (docs/adr/0093): the bank ran the cardholder's step and decided; the
 * cardholder's return or the bank's callback (whichever claimed the challenge) asks it what it
 * decided. The step counts as passed when the bank approved. Unknown: PREPARE, for the reconciler.
 */
async function askBankAfterChallenge(
  context: PlatformContext, payment: Payment, acquirer: AcquirerConnector, kind: '3DS' | 'REDIRECT', nowMs: number,
): Promise<Payment> {
  const [month, year] = payment.card.expiry.split('/');
  const outcome = await askAcquirer(context, 'bank decision after 3-D Secure', payment.transId, () =>
    acquirer.completeChallenge({
      transId: payment.transId,
      kind,
      // The bank holds the card and no CVV is sent: only its decision is asked for.
      card: {
        number: new Secret(context.vault.decrypt(payment.card.ciphertext)),
        cvv: new Secret(''),
        expiryMonth: Number(month),
        expiryYear: Number(year),
      },
      payerEmail: payment.payerEmail ?? undefined,
      amountMinor: payment.amountMinor,
      currency: payment.currency,
      capture: !payment.isAuth,
      cardholderPassed: true,
      nowMs,
    }),
  );
  return settleChallenge(context, payment, outcome.outcome !== 'declined', outcome, nowMs);
}

/**
 * Pass-through, from the bank's callback: the bank already said what it decided (its status
 * inquiry, asked before anything is claimed, so a callback sent when the challenge *began*
 * changes nothing). Claims the challenge and writes that decision; null when someone else (the
 * cardholder's return) claimed it first.
 */
export async function settleBankChallenge(
  context: PlatformContext, transId: string, decision: Decision,
): Promise<Payment | null> {
  const nowMs = context.clock.nowMs();
  if (!(await claimChallenge(context.storage, transId, nowMs))) return null;
  const payment = (await loadPaymentAnyMerchant(context.storage, transId))!;
  return settleChallenge(context, payment, decision.outcome === 'approved', decision, nowMs);
}

async function settleChallenge(
  context: PlatformContext,
  payment: Payment,
  cardholderPassed: boolean,
  outcome: AcquirerOutcome,
  nowMs: number,
): Promise<Payment> {
  const declineReason = outcome.outcome === 'declined' ? outcome.declineReason : null;
  const step: ChallengeStep = {
    threeDsStatus: cardholderPassed ? 'success' : 'fail',
    declineReason: cardholderPassed ? null : declineReason,
  };
  if (outcome.outcome === 'unknown') {
    await leaveAuthorizationUnknown(context.storage, payment.transId, step, nowMs);
    return { ...payment, status: 'PREPARE' };
  }
  const operation = (await loadOperations(context.storage, payment.transId)).find(
    (candidate) => candidate.type === authorizationTypeOf(payment) && candidate.status === 'waiting',
  );
  if (!operation)
    throw new Error(`payment ${payment.transId} has no waiting ${authorizationTypeOf(payment)} sub-transaction`);
  // A REDIRECT has no `3DS` sub-transaction: the step then only erases the CVV and the challenge.
  const claimed: Payment = { ...payment, status: 'PREPARE' };
  return finishAnswered(context, claimed, operation, outcome as KnownOutcome, { challenge: step });
}

/** The sub-transaction the challenge was holding: DEBIT and CARD2CARD wait with a DEBIT or
 * TRANSFER row, not a SALE one, and only the waiting row of that type may be finished. */
function authorizationTypeOf(payment: Payment): string {
  if (payment.action === 'DEBIT') return 'DEBIT';
  if (payment.action === 'CARD2CARD') return 'TRANSFER';
  return payment.isAuth ? 'AUTH' : 'SALE';
}

/** Upper bound of challenges expired in one sweep, so one pass never runs unbounded. */
const expiryBatchSize = 100;

/**
 * Declines one payment waiting for its cardholder's 3-D Secure or redirect step, as its timeout
 * does (the sweeper, and the sandbox console's "3-D Secure timeout" button); false when the
 * payment was no longer waiting.
 */
export async function expireChallenge(context: PlatformContext, transId: string, nowMs: number): Promise<boolean> {
  const claimed = await claimChallenge(context.storage, transId, nowMs);
  if (!claimed) {
    // The payment left 3DS some other way; the challenge row must not come back every sweep.
    await deleteChallenge(context.storage, transId);
    return false;
  }
  const payment = (await loadPaymentAnyMerchant(context.storage, transId))!;
  const acquirer = await connectorForPayment(context, payment.midId ?? null);
  // Pass-through: the bank's own deadline decides, and it may have approved: not ours to decline.
  const outcome: AcquirerOutcome = acquirer.challengesAtTheBank
    ? { outcome: 'unknown', reason: 'the bank decides a pass-through challenge; the reconciler asks it' }
    : { outcome: 'declined', declineReason: declineReasons.threeDsExpired };
  await settleChallenge(context, payment, false, outcome, nowMs);
  return true;
}

/**
 * The sweeper: a cardholder who never came back declines the payment when the deadline
 * passes, and every CVV past its deadline is erased even if something else went wrong.
 */
export async function expireAbandonedChallenges(
  context: PlatformContext,
): Promise<{ expired: number; erased: number }> {
  const nowMs = context.clock.nowMs();
  let expired = 0;
  for (const transId of await findExpiredChallenges(context.storage, nowMs, expiryBatchSize)) {
    if (await expireChallenge(context, transId, nowMs)) expired += 1;
  }
  const erased = await eraseOverdueCardSecrets(context.storage, nowMs);
  return { expired, erased };
}
