import type { DeclineExplanation } from '../acquirers/connector.ts';
import { maskFromParts } from '../domain/card.ts';
import type { CardEntry } from '../domain/card-entry.ts';
import { ProtocolError } from '../protocol/errors.ts';
import { isRoutingRefusal } from '../domain/routing.ts';
import type { Payment } from '../domain/payment.ts';
import { challengeRedirect, type Redirect } from './challenge-links.ts';
import {
  CheckoutError, isApproved, isExpired, loadCheckout, newFormToken, payOnCheckout, type CheckoutView,
} from './checkout.ts';
import type { PlatformContext } from './context.ts';
import { refundApplicationPath } from './refund-applications.ts';

export type { DeclineExplanation } from '../acquirers/connector.ts';
export type { Redirect } from './challenge-links.ts';
export { CheckoutError } from './checkout.ts';

/**
 * What the hosted payment page (`/pay/:sessionId`) reads and does, as typed views, so the page
 * only draws: the session, its latest payment, a form token, the outcome of Pay.
 */

/** The latest payment made on the page, as the cardholder may see it: masks only. */
export interface CheckoutPaymentView {
  transId: string;
  status: string;
  approved: boolean;
  isAuth: boolean;
  amountMinor: number;
  currency: string;
  cardMask: string;
  /** A declined payment's kind of refusal, from the connector (`explainDecline`). */
  declineExplanation: DeclineExplanation;
  /** 3DS or REDIRECT: where the cardholder goes next. */
  redirect?: Redirect;
  /** An approved payment's refund application form. */
  refundApplicationPath?: string;
}

export interface CheckoutPageView {
  sessionId: string;
  /** OPEN (may pay), PAYING (a payment is under way) or PAID. */
  status: string;
  /** The merchant's choice of language for the session, if any. */
  language: string | null;
  /** The one-time token of the form last shown, if it is still unused. */
  formToken: string | null;
  expired: boolean;
  orderDescription: string;
  amountMinor: number;
  currency: string;
  successUrl: string;
  declineUrl: string;
  merchant: { descriptor: string; frameOrigins: string[] };
  payment?: CheckoutPaymentView;
}

function pageViewOf(context: PlatformContext, { session, merchant, payment }: CheckoutView): CheckoutPageView {
  return {
    sessionId: session.sessionId,
    status: session.status,
    language: session.language,
    formToken: session.formToken,
    expired: isExpired(context, session),
    orderDescription: session.orderDescription,
    amountMinor: session.amountMinor,
    currency: session.currency,
    successUrl: session.successUrl,
    declineUrl: session.declineUrl,
    merchant: { descriptor: merchant.descriptor, frameOrigins: merchant.frameOrigins ?? [] },
    payment: payment ? paymentViewOf(context, payment) : undefined,
  };
}

function paymentViewOf(context: PlatformContext, payment: Payment): CheckoutPaymentView {
  const approved = isApproved(payment);
  const waiting = payment.status === '3DS' || payment.status === 'REDIRECT';
  return {
    transId: payment.transId,
    status: payment.status,
    approved,
    isAuth: payment.isAuth,
    amountMinor: payment.amountMinor,
    currency: payment.currency,
    cardMask: maskFromParts(payment.card.bin, payment.card.lastFour, payment.card.length),
    declineExplanation: explainDecline(context, payment.declineReason),
    redirect: waiting ? challengeRedirect(context, payment.transId, payment.status as '3DS' | 'REDIRECT') : undefined,
    refundApplicationPath: approved ? refundApplicationPath(context, payment.transId) : undefined,
  };
}

/** The connector's word on its own decline text; 'other' when it has none. */
export function explainDecline(context: PlatformContext, declineReason: string | null): DeclineExplanation {
  if (declineReason === null) return 'other';
  return context.acquirer.explainDecline?.(declineReason) ?? 'other';
}

/** The session and what became of its latest payment (CheckoutError 'sessionNotFound'). */
export async function openCheckoutPage(context: PlatformContext, sessionId: string): Promise<CheckoutPageView> {
  return pageViewOf(context, await loadCheckout(context, sessionId));
}

/** A new one-time token for the form about to be shown, or undefined if it may not pay now. */
export function newCheckoutFormToken(context: PlatformContext, sessionId: string): Promise<string | undefined> {
  return newFormToken(context, sessionId);
}

/** What pressing Pay led to. */
export type CheckoutPayResult =
  /** 3-D Secure or a payment provider page: send the cardholder there. */
  | { outcome: 'to-issuer'; redirect: Redirect }
  /** Approved, declined or under way: the result page says which. */
  | { outcome: 'done' }
  /** The form was already used (a double click): the result page shows what the first did. */
  | { outcome: 'form-used' }
  /** Nothing was charged: the order has an unfinished payment, or this attempt was made. */
  | { outcome: 'order-busy' }
  /** Nothing was charged: no MID of the merchant's mapping takes this card or payment (2040xx). */
  | { outcome: 'not-accepted' };

/** Pay with a card that passed the page's checks (checkout.ts payOnCheckout). */
export async function payOnCheckoutPage(
  context: PlatformContext, sessionId: string, formToken: string, card: CardEntry, payerIp: string,
): Promise<CheckoutPayResult> {
  const view = await loadCheckout(context, sessionId);
  try {
    const outcome = await payOnCheckout(context, view, formToken, card, payerIp);
    return outcome.redirect ? { outcome: 'to-issuer', redirect: outcome.redirect } : { outcome: 'done' };
  } catch (error) {
    if (error instanceof CheckoutError && error.problem === 'formUsed') return { outcome: 'form-used' };
    const busy = error instanceof ProtocolError
      && (error.name === 'previousPaymentNotCompleted' || error.name === 'duplicateRequest');
    if (busy) return { outcome: 'order-busy' };
    if (error instanceof ProtocolError && isRoutingRefusal(error.name)) return { outcome: 'not-accepted' };
    throw error;
  }
}
