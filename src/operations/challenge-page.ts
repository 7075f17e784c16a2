import { judgeOneTimeCode, sandboxOneTimeCode, type CodeVerdict } from '../acquirers/issuer-emulator.ts';
import { maskFromParts } from '../domain/card.ts';
import { ProtocolError } from '../protocol/errors.ts';
import { countFailedCode, hasChallenge } from '../storage/challenges.ts';
import { loadMerchantById } from '../storage/merchants.ts';
import { loadPaymentAnyMerchant } from '../storage/payments.ts';
import { completeChallenge } from './complete-challenge.ts';
import type { PlatformContext } from './context.ts';

/**
 * What the cardholder-facing 3-D Secure pages (the emulated issuer, the emulated payment
 * provider, the platform's TermUrl) read and do, so that the pages only draw: a typed view of
 * the waiting payment, the issuer's verdict on a code, the payment's end.
 */

export type ChallengePageProblem = 'notFound' | 'notWaiting';

/** The link names no payment, or one that no longer waits for the cardholder. */
export class ChallengePageError extends Error {
  constructor(readonly problem: ChallengePageProblem) {
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
  if (payment.status !== '3DS' && payment.status !== 'REDIRECT') throw new ChallengePageError('notWaiting');
  if (options.requireChallenge && !(await hasChallenge(context.storage, transId))) {
    throw new ChallengePageError('notWaiting');
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

/** The cardholder's step is over (passed or not): finish the payment, once. */
export async function endChallenge(
  context: PlatformContext, transId: string, cardholderPassed: boolean,
): Promise<ChallengeEndView> {
  try {
    const payment = await completeChallenge(context, transId, cardholderPassed);
    const approved = payment.status === 'SETTLED' || payment.status === 'PENDING';
    return {
      outcome: approved ? 'approved' : payment.status === 'DECLINED' ? 'declined' : 'pending',
      declineReason: payment.declineReason,
      returnUrl: payment.termUrl3ds,
      returnTarget: payment.termUrlTarget,
    };
  } catch (error) {
    if (error instanceof ProtocolError && error.name === 'notInThreeDs') throw new ChallengePageError('notWaiting');
    throw error;
  }
}
