import { cardBrand, maskFromParts, type CardBrand } from '../domain/card.ts';
import { newId, newTransactionId } from '../domain/ids.ts';
import { parseAmount } from '../domain/money.ts';
import { Secret } from '../domain/secret.ts';
import type { AcquirerConnector, AuthorizationAnswer, Decision } from '../acquirers/connector.ts';
import { payerFieldNames, saleFields, tokenSaleFields } from '../protocol/action-fields.ts';
import { ProtocolError, requestInvalid, type FieldError } from '../protocol/errors.ts';
import { cardHashPart, hashesMatch, saleHash, saleTokenHash } from '../protocol/hash.ts';
import { messages, validateFields, validateParameters, type RequestFields } from '../protocol/validation.ts';
import type { NewPayment, Payment, PaymentOperation } from '../domain/payment.ts';
import { insertCallback } from '../storage/callbacks.ts';
import { beginChallengeOfPrepared } from '../storage/challenges.ts';
import type { PaymentCompanion } from '../storage/payment-companions.ts';
import { hasReplay, insertPayment } from '../storage/payments.ts';
import { LimitExceededError } from '../storage/routing-limits.ts';
import { askAcquirer } from './acquirer-call.ts';
import { paymentCallbackRow } from './callback-writer.ts';
import { missingParameterErrors, parameterSetErrors } from './acquirer-parameters.ts';
import { companionWrites, recurringAdditions, tokenCard, type AlsoWrite } from './recurring.ts';
import { bankReturnUrlOf, challengeRedirect, type Redirect } from './challenge-links.ts';
import type { AuthenticatedMerchant } from './authenticate.ts';
import type { PlatformContext } from './context.ts';
import { finishAnswered } from './finish-operation.ts';
import { paymentExtrasOf, type PaymentExtras } from './payment-extras.ts';
import { routePayment, type PaymentRoute } from './routing.ts';
import { cascadeDeclineOf, cascades, isRoutingRefusal } from '../domain/routing.ts';

/** A validated SALE/AUTH, whoever entered the card: the S2S request or the hosted payment page. */
export interface SaleCommand {
  orderId: string;
  amountMinor: number;
  currency: string;
  description: string;
  cardNumber: Secret<string>;
  cvv: Secret<string>;
  expiryMonth: number;
  expiryYear: number;
  payerEmail: string;
  payer: Record<string, string>;
  termUrl: string;
  termUrlTarget: string | null;
  channelId: string | null;
  parameters: Record<string, string>;
  isAuth: boolean;
  recurringInit: boolean;
  /** 5.6.x `callback_url` and `custom_data` (payment-extras.ts); absent for 5.2.0 requests. */
  extras?: PaymentExtras;
}

/** The kinds of payment made through performSale. The kind alone decides the sub-transaction
 * type, whether a cardholder takes part (CVV, 3-D Secure) and the bodies: see `paymentKinds`. */
export type PaymentAction = 'SALE' | 'RECURRING_SALE' | 'DEBIT' | 'CREDIT2CARD' | 'CARD2CARD';

/**
 * What an entry point asks performSale to make (S2S SALE/AUTH, the hosted page, RECURRING_SALE,
 * a scheduled charge, DEBIT, CREDIT2CARD, CARD2CARD): the payment, described as data. Each
 * entry point builds its plan; nothing of performSale is overridden by callbacks.
 */
export interface PaymentPlan {
  action: PaymentAction;
  command: SaleCommand;
  /** Identifies the request: a second payment with the same fingerprint is refused as a replay. */
  fingerprint: string;
  /** recurring_init=Y on an eligible card: the token shown once the payment succeeded. */
  recurringToken?: string;
  /** req_token=Y: the card token issued, encrypted (its look-up row is a `card-token` record). */
  cardTokenCiphertext?: string;
  /** The schedule this payment binds to or is charged for. */
  scheduleId?: string;
  /** RECURRING_SALE, a scheduled charge: the earlier payment whose card is charged. */
  sourceTransId?: string;
  /** CREDIT2CARD, CARD2CARD: the payee_* fields; CARD2CARD also the receiving card. */
  payee?: { fields: Record<string, string>; cardNumber?: Secret<string> };
  /** Rows written in the payment's own transaction (recurring.ts turns them into storage rows). */
  alsoWrite: readonly AlsoWrite[];
}

/** How each kind of payment differs. `cardholderPresent: false`: no CVV, no 3-D Secure. The bodies
 * follow the action too: http/api-responses.ts renderSale, callback-writer.ts paymentCallbackRow. */
const paymentKinds: Record<PaymentAction, { operationType?: string; cardholderPresent: boolean }> = {
  SALE: { cardholderPresent: true },
  RECURRING_SALE: { cardholderPresent: false },
  DEBIT: { operationType: 'DEBIT', cardholderPresent: true },
  CREDIT2CARD: { operationType: 'CREDIT', cardholderPresent: false },
  CARD2CARD: { operationType: 'TRANSFER', cardholderPresent: true },
};

/** What became of a payment made through performSale, for the HTTP edge to render and the
 * hosted page and the scheduler to act on. */
export interface SaleOutcome {
  /** As it is now: final (SETTLED, PENDING, DECLINED), waiting for the cardholder (3DS,
   * REDIRECT), or PREPARE when the acquirer's answer is unknown (held by its sub-transaction). */
  payment: Payment;
  /** 3DS or REDIRECT: where the merchant sends the cardholder. */
  redirect?: Redirect;
  /** The payment's PREPARE row was committed before the bank was asked (any connector but a
   * side-effect-free one): what was written with it was written before the answer. */
  preparedFirst?: true;
}

/** What a SALE needs of the merchant; the hosted page has no PASSWORD-signed request. */
export type SaleMerchant = Pick<
  AuthenticatedMerchant, 'merchantId' | 'descriptor' | 'threeDsEnabled' | 'callbackUrl' | 'requestId'
> & { routingRevision?: number };

/** Validate: the spec's SALE table, then rules that need the merchant (channels, acquirer
 * parameters). Every problem is reported at once. */
function validateSale(
  context: PlatformContext, merchant: AuthenticatedMerchant, fields: RequestFields,
): { command: SaleCommand; hash: string; cardToken: string | null; reqToken: boolean; scheduleId: string | null } {
  const errors: FieldError[] = [];
  // The spec: card data makes card_token ignored; card_token alone makes the card fields optional.
  const usesToken = typeof fields.card_token === 'string' && fields.card_token !== '' && !fields.card_number;
  const values = validateFields(fields, usesToken ? tokenSaleFields : saleFields, errors);
  const parameters = validateParameters(fields, errors) ?? {};
  const amountMinor = orderAmountAndChannel(values, merchant, errors);
  errors.push(...missingParameterErrors(context.acquirer, 'SALE', parameters));
  const extras = paymentExtrasOf(context, values, fields, errors);
  if (values.schedule_id && values.recurring_init !== 'Y') {
    // A schedule charges a stored card: only a payment that starts recurring can be bound.
    errors.push({ field: 'schedule_id', message: messages.recurringInitRequired });
  }
  if (errors.length > 0) throw requestInvalid(errors, messages.currency);
  const payer: Record<string, string> = {};
  for (const name of payerFieldNames) if (values[name] !== undefined) payer[name] = values[name]!;
  const command: SaleCommand = {
    orderId: values.order_id!,
    amountMinor,
    currency: values.order_currency!,
    description: values.order_description!,
    cardNumber: new Secret(values.card_number ?? ''),
    cvv: new Secret(values.card_cvv2!),
    expiryMonth: Number(values.card_exp_month),
    expiryYear: Number(values.card_exp_year),
    payerEmail: values.payer_email!,
    payer,
    termUrl: values.term_url_3ds!,
    termUrlTarget: values.term_url_target ?? null,
    channelId: values.channel_id ?? null,
    parameters,
    isAuth: values.auth === 'Y',
    recurringInit: values.recurring_init === 'Y',
    extras,
  };
  return {
    command,
    hash: values.hash!,
    cardToken: usesToken ? values.card_token! : null,
    // The spec: with card_token, req_token is ignored.
    reqToken: values.req_token === 'Y' && !usesToken,
    scheduleId: values.schedule_id ?? null,
  };
}

/** The order amount in minor units by the currency's exponent, and the channel against the
 * merchant's list: shared by every action that starts a payment. Problems go to `errors`. */
export function orderAmountAndChannel(
  values: Record<string, string | undefined>, merchant: { channels: string[] }, errors: FieldError[],
): number {
  let amountMinor = 0;
  if (values.order_amount && values.order_currency) {
    const amount = parseAmount(values.order_amount, values.order_currency);
    if (amount.ok) amountMinor = amount.amountMinor;
    else errors.push({ field: 'order_amount', message: amount.problem === 'not_positive' ? messages.greaterThanZero : messages.invalid });
  }
  if (values.channel_id && !merchant.channels.includes(values.channel_id)) {
    errors.push({ field: 'channel_id', message: messages.choice });
  }
  return amountMinor;
}

/** A keyed fingerprint of the whole request: recognises an exact replay without storing it. */
export function requestFingerprint(context: PlatformContext, merchantId: string, fields: RequestFields): string {
  const entries = Object.keys(fields).sort().map((key) => [key, fields[key]]);
  return context.vault.fingerprint(`${merchantId}\n${JSON.stringify(entries)}`);
}

/**
 * SALE (and AUTH with auth=Y): validate → check hash → what recurring_init, req_token and
 * schedule_id add → performSale. The outcome is typed; http/api-responses.ts renders the answer.
 */
export async function sale(
  context: PlatformContext, merchant: AuthenticatedMerchant, fields: RequestFields,
): Promise<SaleOutcome> {
  const { command, hash, cardToken, reqToken, scheduleId } = validateSale(context, merchant, fields);
  if (cardToken !== null) {
    // The card behind the token (205005 unknown, 205007 another merchant's, 205006 expired),
    // then the token variant of Formula 1.
    Object.assign(command, await tokenCard(context, merchant.merchantId, cardToken));
    const expectedTokenHash = saleTokenHash(command.payerEmail, merchant.password, cardToken, merchant.hashDigest);
    if (!hashesMatch(expectedTokenHash, hash)) throw new ProtocolError('hashInvalid');
  } else {
    const cardDigits = cardHashPart(command.cardNumber.reveal());
    const expectedHash = saleHash({ email: command.payerEmail, password: merchant.password, cardDigits }, merchant.hashDigest);
    if (!hashesMatch(expectedHash, hash)) throw new ProtocolError('hashInvalid');
  }
  const recurring = await recurringAdditions(context, merchant, command, { reqToken, scheduleId });

  // No look-up for replays here: the unique key on the fingerprint refuses one at insert time
  // (before any bank is asked, since a real connector's PREPARE row is inserted first).
  const fingerprint = requestFingerprint(context, merchant.merchantId, fields);
  return performSale(context, merchant, { action: 'SALE', command, fingerprint, ...recurring });
}

/**
 * Who authorizes this payment: the one step where SALE's entry points (S2S SALE/AUTH, the
 * hosted page, RECURRING_SALE, the scheduler, DEBIT, CREDIT2CARD, CARD2CARD) decide who is
 * asked. Routing (operations/routing.ts) picks the MID of the merchant's mapping — its
 * connector, its 3-D Secure mode, the limit holds the insert takes — or throws the 2040xx
 * refusal. The payment records the MID.
 */
export async function authorizingRoute(
  context: PlatformContext, merchant: SaleMerchant, plan: PaymentPlan, payment: NewPayment, nowMs: number,
  tried?: ReadonlySet<string>,
): Promise<PaymentRoute> {
  const { command } = plan;
  const route = await routePayment(context, merchant, {
    action: plan.action, isAuth: command.isAuth, brand: payment.card.brand as CardBrand,
    currency: command.currency, amountMinor: command.amountMinor,
  }, payment.transId, nowMs, tried);
  // The MID's Appendix C sets (ADR 0055): refused in the validation error's shape.
  const parameterErrors = parameterSetErrors(route.parameterSets, command.parameters);
  if (parameterErrors.length > 0) throw new ProtocolError('requestInvalid', parameterErrors);
  payment.midId = route.midId;
  const { exchange } = route;
  if (exchange) {
    // The payment is what the MID charges; the merchant's currency and amount are kept as the
    // spec's exchange_currency and exchange_amount (ADR 0054).
    payment.amountMinor = exchange.toAmountMinor;
    payment.currency = exchange.toCurrency;
    payment.exchange = {
      rate: exchange.rate, rateBase: exchange.rateBase, currency: exchange.fromCurrency,
      amountMinor: exchange.fromAmountMinor,
    };
  }
  return route;
}

/**
 * The payment itself, after validation and authentication, for every entry point. A second
 * payment with the plan's fingerprint is refused as a replay (400 Duplicate request), which is
 * also how a double-submitted hosted form charges once; one while the order has an unfinished
 * payment gets 400 Previous payment not completed. Both are ProtocolErrors.
 *
 * A side-effect-free connector (the test engine) is asked first and the payment written once,
 * final: the hot path, one batched write. Any other connector gets PREPARE committed first,
 * held by the SALE's own sub-transaction (`operation_lock`), so a crash or an unknown answer
 * leaves a visible, recoverable payment that nothing else can move.
 */
export async function performSale(
  context: PlatformContext, merchant: SaleMerchant, plan: PaymentPlan,
): Promise<SaleOutcome> {
  const nowMs = context.clock.nowMs();
  const payment = newPayment(context, merchant, plan, nowMs);
  const route = await authorizingRoute(context, merchant, plan, payment, nowMs);
  return attemptSale(saleRun(context, merchant, plan, payment, route, new Set([route.midId])));
}

function saleRun(
  context: PlatformContext, merchant: SaleMerchant, plan: PaymentPlan, payment: NewPayment, route: PaymentRoute,
  tried: ReadonlySet<string>,
): SaleRun {
  const kind = paymentKinds[plan.action];
  const run: SaleRun = {
    context, acquirer: route.connector, route, merchant, plan, kind, payment, nowMs: payment.createdAtMs,
    companions: noCompanions, tried,
  };
  if (plan.alsoWrite.length > 0) run.companions = companionWrites(context, plan.alsoWrite, payment);
  return run;
}

/** One attempt of the payment at the MID its route chose: the first, or one of its cascade. */
async function attemptSale(run: SaleRun): Promise<SaleOutcome> {
  const { payment } = run;
  const { kind, plan, nowMs } = run;
  const operation = saleOperation(payment.transId, plan.command, payment.amountMinor, nowMs, kind.operationType);
  if (!run.acquirer.sideEffectFree) return { ...(await prepareFirstSale(run, operation)), preparedFirst: true };
  const answer = await authorizeSale(run);
  if (answer.outcome === 'challenge') return beginChallenge(run, answer, operation, false);
  return recordFinalSale(run, answer, operation);
}

/**
 * After a decline: the cascade's next attempt (ADR 0053) — a new payment of the same order with
 * its own trans_id, routed to the next MID of the mapping not tried yet — or undefined when the
 * decline is final: its kind is not in the mapping's rule, the attempts are used up, or no other
 * MID can take the payment. An unknown outcome never gets here (it stays PREPARE).
 */
async function nextAttempt(run: SaleRun, decision: Decision): Promise<SaleRun | undefined> {
  if (decision.outcome !== 'declined') return undefined;
  const { context, merchant, plan, payment, route } = run;
  const attempt = payment.cascadeAttempt ?? 1;
  const decline = cascadeDeclineOf(run.acquirer.explainDecline?.(decision.declineReason));
  if (!cascades(route.cascade, decline, attempt, route.mappingMids)) return undefined;
  const nowMs = Math.max(context.clock.nowMs(), payment.createdAtMs);
  const next = newPayment(context, merchant, plan, nowMs);
  next.cascadeOf = payment.cascadeOf ?? payment.transId;
  next.cascadeAttempt = attempt + 1;
  // The request's fingerprint stays the first attempt's: a replay of the request meets that one.
  next.requestFingerprint = `${plan.fingerprint}#${attempt + 1}`;
  try {
    const nextRoute = await authorizingRoute(context, merchant, plan, next, nowMs, run.tried);
    return saleRun(context, merchant, plan, next, nextRoute, new Set([...run.tried, nextRoute.midId]));
  } catch (error) {
    // No MID left, or the next one needs Appendix C parameters the request lacks: no attempt.
    if (error instanceof ProtocolError && (isRoutingRefusal(error.name) || error.name === 'requestInvalid')) {
      return undefined;
    }
    throw error;
  }
}

/** An attempt followed by another is written as what it was, a decline, without what belongs
 * to the payment's final attempt: the plan's companions, the recurring and card tokens. */
function asIntermediate(payment: NewPayment): void {
  payment.recurringToken = null;
  payment.cardTokenCiphertext = null;
}

/** The merchant hears of the first attempt and of the final one (docs/protocol-notes.md,
 * "Cascading"): the attempts between them are visible in GET_TRANS_DETAILS only. */
function callsBack(payment: NewPayment, next: SaleRun | undefined): boolean {
  return next === undefined || (payment.cascadeAttempt ?? 1) === 1;
}

const noCompanions: readonly PaymentCompanion[] = [];

/** PREPARE committed (with the companions) and held by the SALE's sub-transaction, then the
 * bank is asked within `acquirerTimeoutMs`. A throw or a timeout is an unknown outcome: nothing
 * more is written, the payment stays PREPARE — "final status will be sent in callback" — until
 * finishUnknownOperation writes it (docs/adr/0013). */
async function prepareFirstSale(run: SaleRun, operation: PaymentOperation): Promise<SaleOutcome> {
  const { context, merchant, payment } = run;
  payment.operationLock = operation.operationId;
  if ((await insertPayment(context.storage, payment, [operation], [], withLimitHolds(run, 'PREPARE'))) === 'conflict') {
    await throwConflict(run);
  }
  const authorize = () => authorizeSale(run, operation.operationId);
  const answer = await askAcquirer(context, payment.action, payment.transId, authorize);
  if (answer.outcome === 'unknown') return { payment };
  if (answer.outcome === 'challenge') return beginChallenge(run, answer, operation, true);
  // Companions written with the PREPARE row belong to this attempt: it cannot hand them on.
  const next = run.companions.length === 0 ? await nextAttempt(run, answer) : undefined;
  // The bank's callback may have written the outcome first: then it is read back (finishAnswered).
  const finished = await finishAnswered(context, payment, operation, answer, {
    merchantCallbackUrl: merchant.callbackUrl, noCallback: !callsBack(payment, next),
  });
  if (next) return attemptAfterDecline(run, finished, next);
  return { payment: finished };
}

/** The payment as it starts (PREPARE), from the plan. */
function newPayment(context: PlatformContext, merchant: SaleMerchant, plan: PaymentPlan, nowMs: number): NewPayment {
  const { command, payee } = plan;
  const pan = command.cardNumber.reveal();
  const payeeCard = payee?.cardNumber?.reveal();
  return {
    transId: newTransactionId(nowMs),
    merchantId: merchant.merchantId,
    orderId: command.orderId,
    action: plan.action,
    isAuth: command.isAuth,
    status: 'PREPARE',
    amountMinor: command.amountMinor,
    capturedMinor: 0,
    refundedMinor: 0,
    currency: command.currency,
    orderDescription: command.description,
    descriptor: merchant.descriptor,
    declineReason: null,
    payerEmail: command.payerEmail,
    payerJson: JSON.stringify(command.payer),
    card: {
      bin: pan.slice(0, 6),
      lastFour: pan.slice(-4),
      length: pan.length,
      // CREDIT2CARD may name a card without its expiry: store none rather than a made-up `00/0`.
      expiry: command.expiryMonth > 0 ? `${String(command.expiryMonth).padStart(2, '0')}/${command.expiryYear}` : '',
      brand: cardBrand(pan),
      ciphertext: context.vault.encrypt(pan),
    },
    channelId: command.channelId,
    parametersJson: Object.keys(command.parameters).length > 0 ? JSON.stringify(command.parameters) : null,
    termUrl3ds: command.termUrl,
    termUrlTarget: command.termUrlTarget,
    operationLock: null,
    settledAtMs: null,
    createdAtMs: nowMs,
    updatedAtMs: nowMs,
    recurringToken: plan.recurringToken ?? null,
    cardTokenCiphertext: plan.cardTokenCiphertext ?? null,
    scheduleId: plan.scheduleId ?? null,
    sourceTransId: plan.sourceTransId ?? null,
    recurringInit: command.recurringInit,
    requestFingerprint: plan.fingerprint,
    cardFingerprint: context.vault.fingerprint(pan),
    payeeJson: payee ? JSON.stringify(payee.fields) : null,
    payeeCardMask: payeeCard ? maskFromParts(payeeCard.slice(0, 6), payeeCard.slice(-4), payeeCard.length) : null,
    payeeCardCiphertext: payeeCard ? context.vault.encrypt(payeeCard) : null,
    requestId: merchant.requestId ?? null,
    callbackUrl: command.extras?.callbackUrl ?? null,
    customData: command.extras?.customData ?? null,
  };
}

/** One performSale call's inputs, passed to the steps below. They are module functions rather
 * than closures made per SALE: tsx (esbuild keepNames) wraps every named closure in a
 * defineProperty call, which the profile showed as ~1% of a SALE's CPU. */
interface SaleRun {
  context: PlatformContext;
  acquirer: AcquirerConnector;
  route: PaymentRoute;
  merchant: SaleMerchant;
  plan: PaymentPlan;
  kind: (typeof paymentKinds)[PaymentAction];
  /** Built for this SALE only, so the steps below change it in place rather than copy it. */
  payment: NewPayment;
  nowMs: number;
  /** The plan's alsoWrite as storage rows. */
  companions: readonly PaymentCompanion[];
  /** The MIDs this payment's cascade has tried, this attempt's included. */
  tried: ReadonlySet<string>;
}

/** The plan's companions, and the route's limit holds unless the payment is declined at once
 * (a decline moves no money, so it takes nothing from a limit). */
function withLimitHolds(run: SaleRun, status: string): readonly PaymentCompanion[] {
  if (status === 'DECLINED' || run.route.limitHolds.length === 0) return run.companions;
  return [...run.companions, ...run.route.limitHolds];
}

function authorizeSale(run: SaleRun, operationId?: string): Promise<AuthorizationAnswer> {
  const { acquirer, route, plan, kind, payment, nowMs } = run;
  const { command } = plan;
  return acquirer.authorize({
    transId: payment.transId,
    operationId,
    card: { number: command.cardNumber, expiryMonth: command.expiryMonth, expiryYear: command.expiryYear, cvv: command.cvv },
    // What the MID charges: the order's amount, or its conversion when the MID takes it by exchange.
    amountMinor: payment.amountMinor,
    currency: payment.currency,
    capture: !command.isAuth,
    threeDsEnabled: route.threeDsEnabled && kind.cardholderPresent,
    parameters: command.parameters,
    nowMs,
    merchantInitiated: kind.cardholderPresent ? undefined : true,
    action: plan.action,
    payer: command.payer,
    payeeCardNumber: plan.payee?.cardNumber,
    payee: plan.payee?.fields,
    returnUrl: acquirer.challengesAtTheBank ? bankReturnUrlOf(run.context, payment.transId) : undefined,
  });
}

/** The side-effect-free connector's decision, applied to the payment and written with it: the
 * payment, its finished sub-transaction and its callback in one insert. */
async function recordFinalSale(run: SaleRun, decision: Decision, operation: PaymentOperation): Promise<SaleOutcome> {
  const { context, merchant, payment, nowMs } = run;
  const approved = decision.outcome === 'approved';
  if (decision.outcome === 'declined') {
    payment.status = 'DECLINED';
    payment.declineReason = decision.declineReason;
  } else {
    payment.status = payment.isAuth ? 'PENDING' : 'SETTLED';
    payment.capturedMinor = payment.isAuth ? 0 : payment.amountMinor;
    payment.settledAtMs = payment.isAuth ? null : nowMs;
    payment.descriptor = decision.descriptor ?? payment.descriptor;
  }
  operation.status = approved ? 'success' : 'fail';
  operation.declineReason = payment.declineReason;
  const next = await nextAttempt(run, decision);
  if (next) asIntermediate(payment);
  const callbacks = callsBack(payment, next) ? [paymentCallbackRow(context, payment, nowMs, merchant.callbackUrl)] : [];
  const companions = next ? noCompanions : withLimitHolds(run, payment.status);
  const inserted = await insertPayment(context.storage, payment, [operation], callbacks, companions);
  if (inserted === 'conflict') await throwConflict(run);
  if (next) return attemptAfterDecline(run, payment, next);
  return { payment };
}

/**
 * The cascade's next attempt. Its route saw room in its MID's limits, but its write can still be
 * refused when concurrent payments took that room meanwhile: then nothing of the attempt is
 * written and the attempt just declined is the payment's final one — its decline is the answer,
 * and the merchant gets its callback now if, as an attempt between the first and the last, it
 * was written without one (ADR 0053).
 */
async function attemptAfterDecline(previous: SaleRun, declined: Payment, next: SaleRun): Promise<SaleOutcome> {
  try {
    return await attemptSale(next);
  } catch (error) {
    if (!(error instanceof LimitExceededError)) throw error;
    const { context, merchant } = previous;
    if ((declined.cascadeAttempt ?? 1) > 1) {
      const nowMs = Math.max(context.clock.nowMs(), declined.updatedAtMs);
      await insertCallback(context.storage, paymentCallbackRow(context, declined, nowMs, merchant.callbackUrl));
    }
    return { payment: declined };
  }
}

function saleOperation(
  transId: string, command: SaleCommand, amountMinor: number, nowMs: number, type?: string,
): PaymentOperation {
  return {
    operationId: newId(nowMs), transId, type: type ?? (command.isAuth ? 'AUTH' : 'SALE'), status: 'waiting',
    amountMinor, declineReason: null, createdAtMs: nowMs,
  };
}

/**
 * The cardholder must act: the payment waits in 3DS or REDIRECT with a deadline (and, for the
 * emulated issuer, its CVV encrypted), and the merchant gets the redirect (and the spec's REDIRECT callback). A 3DS
 * sub-transaction comes before the SALE/AUTH one in the history, as the spec's example shows.
 */
async function beginChallenge(
  run: SaleRun, answer: Extract<AuthorizationAnswer, { outcome: 'challenge' }>, operation: PaymentOperation,
  alreadyInserted: boolean,
): Promise<SaleOutcome> {
  const { context, merchant, payment, plan } = run;
  const nowMs = payment.createdAtMs;
  const challengeKind = answer.kind;
  payment.status = challengeKind;
  // Pass-through: the cardholder goes to the bank's own page (it returns through bankReturnUrlOf).
  const redirect = answer.redirect ?? challengeRedirect(context, payment.transId, challengeKind);
  const callbacks = [paymentCallbackRow(context, payment, nowMs, merchant.callbackUrl, redirect)];
  const challenge = {
    transId: payment.transId, kind: challengeKind, nowMs,
    expiresAtMs: nowMs + context.challengeTimeoutMs,
    // Pass-through: the authorization request with the CVV has gone to the bank, which holds the
    // challenge and decides; Kassa has no further use for the CVV and keeps none (ADR 0097).
    cvvCiphertext: answer.redirect ? null : context.vault.encrypt(plan.command.cvv.reveal()),
  };
  const threeDs = challengeKind === '3DS'
    ? [saleOperation(payment.transId, plan.command, payment.amountMinor, nowMs, '3DS')] : [];
  if (alreadyInserted) {
    await beginChallengeOfPrepared(context.storage, challenge, operation.operationId, threeDs, callbacks);
    payment.operationLock = null;
  } else {
    // The 3DS row is made after the SALE row but must sort before it: give it the SALE row's id
    // and the SALE row a fresh, later one.
    const ordered = threeDs.length > 0
      ? [
        { ...threeDs[0], operationId: operation.operationId },
        { ...operation, operationId: threeDs[0].operationId },
      ]
      : [operation];
    const companions: PaymentCompanion[] = [{ kind: 'challenge', challenge }, ...withLimitHolds(run, challengeKind)];
    const inserted = await insertPayment(context.storage, payment, ordered, callbacks, companions);
    if (inserted === 'conflict') await throwConflict(run);
  }
  return { payment, redirect };
}

/** Instead of a second payment: 400 Duplicate request when this very request made one, else
 * 400 Previous payment not completed (the order has an unfinished payment). */
async function throwConflict({ context, merchant, plan }: SaleRun): Promise<never> {
  const replay = await hasReplay(context.storage, merchant.merchantId, plan.fingerprint);
  throw new ProtocolError(replay ? 'duplicateRequest' : 'previousPaymentNotCompleted');
}
