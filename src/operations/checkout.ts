import { randomBytes } from 'node:crypto';
import type { CardEntry } from '../domain/card-entry.ts';
import { splitCardholderName } from '../domain/card-entry.ts';
import { formatTransDate } from '../domain/dates.ts';
import { formatAmount, parseAmount } from '../domain/money.ts';
import { Secret } from '../domain/secret.ts';
import { checkoutFields, checkoutResponse } from '../protocol/checkout.ts';
import { ProtocolError, requestInvalid, type FieldError } from '../protocol/errors.ts';
import { checkoutHash, hashesMatch } from '../protocol/hash.ts';
import { messages, validateFields, type RequestFields } from '../protocol/validation.ts';
import {
  claimFormToken, insertCheckoutSession, issueFormToken, loadCheckoutSession, recordCheckoutPayment, settleCheckoutSession,
  type CheckoutSession,
} from '../storage/checkout-sessions.ts';
import { approvedStatuses, openStatuses, type Payment } from '../domain/payment.ts';
import { loadMerchantById, type MerchantRecord } from '../storage/merchants.ts';
import { loadPaymentAnyMerchant } from '../storage/payments.ts';
import type { AuthenticatedMerchant } from './authenticate.ts';
import type { PlatformContext } from './context.ts';
import { recurringAdditions } from './recurring.ts';
import { performSale, type SaleCommand, type SaleOutcome } from './sale.ts';

/** How long a hosted payment page stays payable unless the platform says otherwise. */
export const checkoutSessionTimeoutMsDefault = 30 * 60 * 1000;

/** Languages the page speaks (http/pages/i18n.ts `languages`, kept equal by a test);
 * `language` in CREATE_CHECKOUT picks one of them. */
export const checkoutLanguages: readonly string[] = ['en', 'ru', 'kk', 'uz'];

export function checkoutUrlOf(context: PlatformContext, sessionId: string): string {
  return `${context.publicBaseUrl}/pay/${sessionId}`;
}

/** Where the payment's 3-D Secure step returns the cardholder: Kassa's own result page. */
export function checkoutResultUrlOf(context: PlatformContext, sessionId: string): string {
  return `${checkoutUrlOf(context, sessionId)}/result`;
}

/**
 * CREATE_CHECKOUT: validate → check the hash (email, PASSWORD, order id) → store the session.
 * The session id is 128 random bits: the URL is the cardholder's only credential, so it must
 * not be guessable, and it carries nothing else.
 */
export async function createCheckout(context: PlatformContext, merchant: AuthenticatedMerchant, fields: RequestFields) {
  const errors: FieldError[] = [];
  const values = validateFields(fields, checkoutFields, errors);
  let amountMinor = 0;
  if (values.order_amount && values.order_currency) {
    const amount = parseAmount(values.order_amount, values.order_currency);
    if (amount.ok) amountMinor = amount.amountMinor;
    else errors.push({ field: 'order_amount', message: amount.problem === 'not_positive' ? messages.greaterThanZero : messages.invalid });
  }
  if (values.language !== undefined && !checkoutLanguages.includes(values.language)) {
    errors.push({ field: 'language', message: messages.choice });
  }
  if (errors.length > 0) throw requestInvalid(errors, messages.currency);
  if (!hashesMatch(checkoutHash(values.payer_email!, merchant.password, values.order_id!), values.hash!)) {
    throw new ProtocolError('hashInvalid');
  }
  const nowMs = context.clock.nowMs();
  const session: CheckoutSession = {
    sessionId: randomBytes(16).toString('base64url'),
    merchantId: merchant.merchantId,
    orderId: values.order_id!,
    amountMinor,
    currency: values.order_currency!,
    orderDescription: values.order_description!,
    payerEmail: values.payer_email!,
    successUrl: values.success_url!,
    declineUrl: values.decline_url!,
    isAuth: values.auth === 'Y',
    recurringInit: values.recurring_init === 'Y',
    requestToken: values.req_token === 'Y',
    language: values.language ?? null,
    status: 'OPEN',
    formToken: null,
    transId: null,
    expiresAtMs: nowMs + (context.checkoutSessionTimeoutMs ?? checkoutSessionTimeoutMsDefault),
    createdAtMs: nowMs,
  };
  await insertCheckoutSession(context.storage, session);
  return checkoutResponse({
    sessionId: session.sessionId,
    orderId: session.orderId,
    amount: formatAmount(amountMinor, session.currency),
    currency: session.currency,
    url: checkoutUrlOf(context, session.sessionId),
    expiresAtText: formatTransDate(session.expiresAtMs, context.timeZone),
  });
}

export type CheckoutProblem = 'sessionNotFound' | 'sessionExpired' | 'formUsed';

export class CheckoutError extends Error {
  constructor(readonly problem: CheckoutProblem) {
    super(problem);
  }
}

export interface CheckoutView {
  session: CheckoutSession;
  merchant: MerchantRecord;
  /** The latest payment made on the page, if any. */
  payment: Payment | undefined;
}

/**
 * The session and what became of its latest payment. A session whose payment finished while
 * the cardholder was on the issuer's page (3-D Secure) is brought up to date here: PAID, or
 * OPEN again after a decline so another card can be tried.
 */
export async function loadCheckout(context: PlatformContext, sessionId: string): Promise<CheckoutView> {
  // Ids are base64url of 16 bytes; anything else is not worth a database read.
  if (!/^[\w-]{22}$/.test(sessionId)) throw new CheckoutError('sessionNotFound');
  let session = await loadCheckoutSession(context.storage, sessionId);
  if (!session) throw new CheckoutError('sessionNotFound');
  const merchant = await loadMerchantById(context.storage, session.merchantId);
  if (!merchant) throw new CheckoutError('sessionNotFound');
  const payment = session.transId ? await loadPaymentAnyMerchant(context.storage, session.transId) : undefined;
  if (session.status === 'PAYING' && payment && !openStatuses.has(payment.status)) {
    await settleCheckoutSession(context.storage, session.sessionId, payment.transId, isApproved(payment), context.clock.nowMs());
    session = (await loadCheckoutSession(context.storage, sessionId))!;
  }
  return { session, merchant, payment };
}

/** What the page counts as paid: approved and not charged back (a CHARGEBACK is no payment the
 * cardholder made, as far as the page is concerned). */
export function isApproved(payment: Payment): boolean {
  return approvedStatuses.has(payment.status) && payment.status !== 'CHARGEBACK';
}

export function isExpired(context: PlatformContext, session: CheckoutSession): boolean {
  return session.expiresAtMs <= context.clock.nowMs();
}

/** A new one-time token for the form about to be shown, or undefined if it may not pay now. */
export async function newFormToken(context: PlatformContext, sessionId: string): Promise<string | undefined> {
  const formToken = randomBytes(16).toString('base64url');
  const issued = await issueFormToken(context.storage, sessionId, formToken, context.clock.nowMs());
  return issued ? formToken : undefined;
}

/**
 * The cardholder pressed Pay with a card that passed the page's checks. The form token is
 * consumed first (one submission of a form wins; a double click's second request is told the
 * form was used), then it is an ordinary SALE/AUTH through the same code as S2S CARD: same
 * payments row, test cards, callbacks, and 3-D Secure returning to Kassa's result page. The
 * session's recurring_init and req_token go through recurringAdditions as an S2S SALE's do, so the
 * merchant gets the recurring_token and card_token in the callback and status queries.
 *
 * Payer fields the page does not collect (address, city, zip, country, phone) stay absent:
 * inventing them would put false data in GET_TRANS_DETAILS and in a real acquirer's fraud
 * checks. The name comes from the card, the e-mail from the merchant, the IP from the browser.
 */
export async function payOnCheckout(
  context: PlatformContext, view: CheckoutView, formToken: string, card: CardEntry, payerIp: string,
): Promise<SaleOutcome> {
  const { session, merchant } = view;
  if (isExpired(context, session)) throw new CheckoutError('sessionExpired');
  if (!(await claimFormToken(context.storage, session.sessionId, formToken, context.clock.nowMs()))) {
    throw new CheckoutError('formUsed');
  }
  const name = splitCardholderName(card.cardholderName);
  const payer: Record<string, string> = {
    payer_first_name: name.firstName, payer_last_name: name.lastName, payer_email: session.payerEmail, payer_ip: payerIp,
  };
  const command: SaleCommand = {
    orderId: session.orderId,
    amountMinor: session.amountMinor,
    currency: session.currency,
    description: session.orderDescription,
    cardNumber: new Secret(card.digits),
    cvv: new Secret(card.cvv),
    expiryMonth: card.expiryMonth,
    expiryYear: card.expiryYear,
    payerEmail: session.payerEmail,
    payer,
    termUrl: checkoutResultUrlOf(context, session.sessionId),
    // The result page stays where the payment page was (the merchant's frame, if framed).
    termUrlTarget: '_self',
    channelId: null,
    parameters: {},
    isAuth: session.isAuth,
    recurringInit: session.recurringInit,
  };
  let outcome: SaleOutcome;
  try {
    // What recurring_init=Y and req_token=Y add to an S2S SALE (a recurring token for an eligible
    // card, a card token), added here by the same function.
    const reqToken = session.requestToken;
    const recurring = await recurringAdditions(context, merchant, command, { reqToken, scheduleId: null });
    // The consumed token names this attempt: even if two requests got past the claim, the
    // payments table's unique fingerprint would refuse the second as a replay.
    const fingerprint = context.vault.fingerprint(`checkout\n${session.sessionId}\n${formToken}`);
    outcome = await performSale(context, merchant, { action: 'SALE', command, fingerprint, ...recurring });
  } catch (error) {
    // Nothing was charged (an open S2S payment for the same order, say): the page may be used again.
    await settleCheckoutSession(context.storage, session.sessionId, null, false, context.clock.nowMs());
    throw error;
  }
  const { transId, status } = outcome.payment;
  await recordCheckoutPayment(context.storage, session.sessionId, transId, context.clock.nowMs());
  if (status === 'SETTLED' || status === 'PENDING' || status === 'DECLINED') {
    const approved = status !== 'DECLINED';
    await settleCheckoutSession(context.storage, session.sessionId, transId, approved, context.clock.nowMs());
  }
  return outcome;
}
