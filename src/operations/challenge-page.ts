import { judgeOneTimeCode, sandboxOneTimeCode, type CodeVerdict } from '../acquirers/issuer-emulator.ts';
import { maskFromParts } from '../domain/card.ts';
import type { Payment } from '../domain/payment.ts';
import { ProtocolError } from '../protocol/errors.ts';
import { countFailedCode, hasChallenge } from '../storage/challenges.ts';
import { loadMerchantById } from '../storage/merchants.ts';
import { loadPaymentAnyMerchant } from '../storage/payments.ts';
import { catchUpWithBank } from './bank-callbacks.ts';
import { completeChallenge } from './complete-challenge.ts';
import { connectorForPayment } from './routing.ts';
import type { PlatformContext } from './context.ts';

/**
 * What the cardholder-facing 3-D Secure pages (the emulated issuer, the emulated payment
 * provider, the platform's TermUrl) read and do, so that the pages only draw: a typed view of
 * the waiting payment, the issuer's verdict on a code, the payment's end.
 */

export type ChallengePageProblem = 'notFound' | 'notWaiting';

/** The link names no payment, or one that no longer waits for the cardholder. */
export class ChallengePageError extends Error {
  /** For a payment that no longer waits: the merchant's term_url_3ds, so the page that says so
   * still leads the cardholder back to the shop. */
  constructor(readonly problem: ChallengePageProblem, readonly returnLink?: { url: string; target: string | null }) {
    super(problem);
  }
}

/** A payment waiting for the cardholder, as the issuer's page shows it: masks only. */
export interface WaitingPaymentView {
  transId: string;
  merchantName: string;
  amountMinor: number;
  currency: string;
  cardMask: string;
  orderDescription: string;
  /** The payer's phone as the merchant sent it ('' when none); the page shows it masked. */
  payerPhone: string;
  /** The sandbox issuer's one-time code, which its page shows as a test-mode hint. */
  oneTimeCodeHint: string;
}

/** The waiting payment (3DS or REDIRECT); `requireChallenge` also wants its challenge row,
 * which the sweeper removes when the wait is over. */
export async function waitingPayment(
  context: PlatformContext, transId: string, options: { requireChallenge?: boolean } = {},
): Promise<WaitingPaymentView> {
  const payment = await loadPaymentAnyMerchant(context.storage, transId);
  if (!payment) throw new ChallengePageError('notFound');
  // A cardholder who lingered past the deadline still gets a way back to the shop (which, for a
  // platform whose 3-D Secure passes through this one, is its return URL: it shows the outcome).
  const returnLink = { url: payment.termUrl3ds, target: payment.termUrlTarget };
  if (payment.status !== '3DS' && payment.status !== 'REDIRECT') throw new ChallengePageError('notWaiting', returnLink);
  if (options.requireChallenge && !(await hasChallenge(context.storage, transId))) {
    throw new ChallengePageError('notWaiting', returnLink);
  }
  const merchant = await loadMerchantById(context.storage, payment.merchantId);
  const payer = JSON.parse(payment.payerJson) as Record<string, string>;
  return {
    transId: payment.transId,
    merchantName: merchant?.descriptor ?? '',
    amountMinor: payment.amountMinor,
    currency: payment.currency,
    cardMask: maskFromParts(payment.card.bin, payment.card.lastFour, payment.card.length),
    orderDescription: payment.orderDescription,
    payerPhone: payer.payer_phone ?? '',
    oneTimeCodeHint: sandboxOneTimeCode,
  };
}

/** The emulated issuer's verdict on a typed code; a wrong one is counted on the challenge. */
export function checkOneTimeCode(context: PlatformContext, transId: string, code: string): Promise<CodeVerdict> {
  return judgeOneTimeCode(transId, code, (id) => countFailedCode(context.storage, id));
}

/** Where the cardholder goes after the step, and what to tell them on the way. */
export interface ChallengeEndView {
  /** `pending`: the acquirer's answer is not known yet (PREPARE); the merchant gets it later. */
  outcome: 'approved' | 'declined' | 'pending';
  declineReason: string | null;
  /** The merchant's term_url_3ds, exactly, and the browsing context it opens in. */
  returnUrl: string;
  returnTarget: string | null;
}

function endViewOf(payment: Payment): ChallengeEndView {
  const approved = payment.status === 'SETTLED' || payment.status === 'PENDING';
  return {
    outcome: approved ? 'approved' : payment.status === 'DECLINED' ? 'declined' : 'pending',
    declineReason: payment.declineReason,
    returnUrl: payment.termUrl3ds,
    returnTarget: payment.termUrlTarget,
  };
}

/**
 * 3-D Secure pass-through (docs/adr/0093): the cardholder is back from the bank's own step.
 * Finish the payment by asking the bank — unless its callback did so first, which is no error
 * here: the cardholder goes on to the merchant's exact term_url_3ds either way.
 */
export async function endBankChallenge(context: PlatformContext, transId: string): Promise<ChallengeEndView> {
  try {
    return endViewOf(await completeChallenge(context, transId, true));
  } catch (error) {
    if (!(error instanceof ProtocolError) || error.name !== 'notInThreeDs') throw error;
    const payment = await loadPaymentAnyMerchant(context.storage, transId);
    if (!payment) throw new ChallengePageError('notFound');
    if (payment.status !== 'PREPARE') return endViewOf(payment);
    // Kassa's deadline passed first, or an answer was lost: the bank has decided by now.
    await catchUpWithBank(context, payment, await connectorForPayment(context, payment.midId ?? null));
    return endViewOf((await loadPaymentAnyMerchant(context.storage, transId)) ?? payment);
  }
}

/** The cardholder's step is over (passed or not): finish the payment, once. */
export async function endChallenge(
  context: PlatformContext, transId: string, cardholderPassed: boolean,
): Promise<ChallengeEndView> {
  try {
    return endViewOf(await completeChallenge(context, transId, cardholderPassed));
  } catch (error) {
    if (!(error instanceof ProtocolError) || error.name !== 'notInThreeDs') throw error;
    // A replayed TermUrl (a back button, a double submit): the payment is over, the shop is not.
    const payment = await loadPaymentAnyMerchant(context.storage, transId);
    const returnLink = payment ? { url: payment.termUrl3ds, target: payment.termUrlTarget } : undefined;
    throw new ChallengePageError('notWaiting', returnLink);
  }
}
