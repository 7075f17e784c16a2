import { cardBrand, maskFromParts } from '../domain/card.ts';
import { newId, newTransactionId } from '../domain/ids.ts';
import { parseAmount } from '../domain/money.ts';
import { Secret } from '../domain/secret.ts';
import type { AuthorizationAnswer, Decision } from '../acquirers/connector.ts';
import { payerFieldNames, saleFields, tokenSaleFields } from '../protocol/action-fields.ts';
import { ProtocolError, type FieldError } from '../protocol/errors.ts';
import { cardHashPart, hashesMatch, saleHash, saleTokenHash } from '../protocol/hash.ts';
import {
  creditToCardCallback, creditToCardResponse, debitCallback, saleCallback, saleResponse, type PaymentFacts,
} from '../protocol/responses.ts';
import { messages, validateFields, validateParameters, type RequestFields } from '../protocol/validation.ts';
import { recordChallenge } from '../storage/challenges.ts';
import type { PaymentCompanion } from '../storage/payment-companions.ts';
import { completeOperation, findReplay, insertPayment, type OperationRow, type PaymentRow } from '../storage/payments.ts';
import { missingParameterErrors } from './acquirer-parameters.ts';
import { companionWrites, recurringAdditions, tokenCard, type AlsoWrite } from './recurring.ts';
import { challengeRedirect, type Redirect } from './challenge-links.ts';
import type { AuthenticatedMerchant } from './authenticate.ts';
import type { PlatformContext } from './context.ts';
import { callbackRow, paymentFacts } from './payment-facts.ts';

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

/** How each kind of payment differs. `cardholderPresent: false`: no CVV, no 3-D Secure. */
const paymentKinds: Record<PaymentAction, {
  operationType?: string; cardholderPresent: boolean; response: RenderBody; callback: RenderBody;
}> = {
  SALE: { cardholderPresent: true, response: saleResponse, callback: saleCallback },
  RECURRING_SALE: { cardholderPresent: false, response: saleResponse, callback: saleCallback },
  DEBIT: { operationType: 'DEBIT', cardholderPresent: true, response: saleResponse, callback: debitCallback },
  CREDIT2CARD: {
    operationType: 'CREDIT', cardholderPresent: false, response: creditToCardResponse, callback: creditToCardCallback,
  },
  CARD2CARD: { operationType: 'TRANSFER', cardholderPresent: true, response: saleResponse, callback: saleCallback },
};

type RenderBody = (facts: PaymentFacts, redirect?: Redirect) => Record<string, unknown>;

/** What became of a payment made through performSale: the merchant's answer (`body`) and, for
 * callers that act on it (the hosted page, the scheduler), its status and challenge redirect. */
export interface SaleOutcome {
  transId: string;
  status: string;
  redirect?: Redirect;
  body: Record<string, unknown>;
}

/** What a SALE needs of the merchant; the hosted page has no PASSWORD-signed request. */
export type SaleMerchant = Pick<AuthenticatedMerchant, 'merchantId' | 'descriptor' | 'threeDsEnabled' | 'callbackUrl' | 'requestId'>;

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
  if (values.schedule_id && values.recurring_init !== 'Y') {
    // A schedule charges a stored card: only a payment that starts recurring can be bound.
    errors.push({ field: 'schedule_id', message: messages.recurringInitRequired });
  }
  if (errors.length > 0) throw new ProtocolError('requestInvalid', errors);
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

function outcomeChange(command: SaleCommand, decision: Decision, merchantDescriptor: string, nowMs: number) {
  if (decision.outcome === 'declined') {
    return { status: 'DECLINED' as const, captured_minor: 0, decline_reason: decision.declineReason, descriptor: merchantDescriptor, settled_at_ms: null };
  }
  return {
    status: command.isAuth ? 'PENDING' as const : 'SETTLED' as const,
    captured_minor: command.isAuth ? 0 : command.amountMinor,
    decline_reason: null,
    descriptor: decision.descriptor ?? merchantDescriptor,
    settled_at_ms: command.isAuth ? null : nowMs,
  };
}

/**
 * SALE (and AUTH with auth=Y): validate → check hash → refuse replays → ask the acquirer →
 * persist payment, sub-transaction and callback together. With a connector that reaches a real
 * bank, PREPARE is committed before the call so a crash leaves a visible, recoverable payment.
 */
export async function sale(context: PlatformContext, merchant: AuthenticatedMerchant, fields: RequestFields) {
  const { command, hash, cardToken, reqToken, scheduleId } = validateSale(context, merchant, fields);
  if (cardToken !== null) {
    // The card behind the token (205005 unknown, 205007 another merchant's, 205006 expired),
    // then the token variant of Formula 1.
    Object.assign(command, await tokenCard(context, merchant.merchantId, cardToken));
    const expectedTokenHash = saleTokenHash(command.payerEmail, merchant.password, cardToken);
    if (!hashesMatch(expectedTokenHash, hash)) throw new ProtocolError('hashInvalid');
  } else {
    const expectedHash = saleHash({ email: command.payerEmail, password: merchant.password, cardDigits: cardHashPart(command.cardNumber.reveal()) });
    if (!hashesMatch(expectedHash, hash)) throw new ProtocolError('hashInvalid');
  }
  const recurring = await recurringAdditions(context, merchant, command, { reqToken, scheduleId });

  // No look-up for replays here: the unique key on the fingerprint refuses one at insert time
  // (before any bank is asked, since a real connector's PREPARE row is inserted first).
  const fingerprint = requestFingerprint(context, merchant.merchantId, fields);
  return (await performSale(context, merchant, { action: 'SALE', command, fingerprint, ...recurring })).body;
}

/**
 * The payment itself, after validation and authentication, for every entry point. A second
 * payment with the plan's fingerprint is refused as a replay (400 Duplicate request), which is
 * also how a double-submitted hosted form charges once; one while the order has an unfinished
 * payment gets 400 Previous payment not completed. Both are ProtocolErrors.
 */
export async function performSale(
  context: PlatformContext, merchant: SaleMerchant, plan: PaymentPlan,
): Promise<SaleOutcome> {
  const { command } = plan;
  const nowMs = context.clock.nowMs();
  const payment = newPaymentRow(context, merchant, plan, nowMs);
  const transId = payment.trans_id;
  const kind = paymentKinds[plan.action];
  const run: SaleRun = { context, merchant, plan, kind, payment, nowMs, companions: noCompanions };
  if (plan.alsoWrite.length > 0) run.companions = companionWrites(context, plan.alsoWrite, payment);
  const operation = saleOperation(transId, command, nowMs, kind.operationType);

  if (context.acquirer.sideEffectFree) {
    const answer = await authorizeSale(run);
    return answerSale(run, answer, operation, false);
  }

  if ((await insertPayment(context.storage, payment, [operation], [], run.companions)) === 'conflict') {
    await throwConflict(run);
  }
  let answer: AuthorizationAnswer;
  try {
    answer = await authorizeSale(run);
  } catch (error) {
    // The bank's answer is unknown: the payment stays PREPARE, which the spec defines as
    // "final status will be sent in callback". The merchant is told exactly that.
    context.logger.error(
      { transId, error: (error as Error).message }, 'acquirer authorization failed; payment left in PREPARE');
    return { transId, status: payment.status, body: kind.response(paymentFacts(context, payment)) };
  }
  return answerSale(run, answer, operation, true);
}

const noCompanions: readonly PaymentCompanion[] = [];

/** The payment as it starts (PREPARE), from the plan. Properties left undefined are not
 * columns of the insert (the payment's recurring and payee columns then start NULL). */
function newPaymentRow(context: PlatformContext, merchant: SaleMerchant, plan: PaymentPlan, nowMs: number): PaymentRow {
  const { command, payee } = plan;
  const pan = command.cardNumber.reveal();
  const payeeCard = payee?.cardNumber?.reveal();
  return {
    trans_id: newTransactionId(nowMs),
    merchant_id: merchant.merchantId,
    order_id: command.orderId,
    action: plan.action,
    is_auth: command.isAuth ? 1 : 0,
    status: 'PREPARE',
    amount_minor: command.amountMinor,
    captured_minor: 0,
    refunded_minor: 0,
    currency: command.currency,
    order_description: command.description,
    payer_email: command.payerEmail,
    payer_json: JSON.stringify(command.payer),
    card_bin: pan.slice(0, 6),
    card_last_four: pan.slice(-4),
    card_length: pan.length,
    // CREDIT2CARD may name a card without its expiry: store none rather than a made-up `00/0`.
    card_expiry: command.expiryMonth > 0 ? `${String(command.expiryMonth).padStart(2, '0')}/${command.expiryYear}` : '',
    card_brand: cardBrand(pan),
    card_ciphertext: context.vault.encrypt(pan),
    card_fingerprint: context.vault.fingerprint(pan),
    channel_id: command.channelId,
    parameters_json: Object.keys(command.parameters).length > 0 ? JSON.stringify(command.parameters) : null,
    term_url_3ds: command.termUrl,
    term_url_target: command.termUrlTarget,
    recurring_init: command.recurringInit ? 1 : 0,
    descriptor: merchant.descriptor,
    decline_reason: null,
    request_fingerprint: plan.fingerprint,
    operation_lock: null,
    settled_at_ms: null,
    created_at_ms: nowMs,
    updated_at_ms: nowMs,
    recurring_token: plan.recurringToken,
    card_token_ciphertext: plan.cardTokenCiphertext,
    schedule_id: plan.scheduleId,
    source_trans_id: plan.sourceTransId,
    payee_json: payee ? JSON.stringify(payee.fields) : undefined,
    payee_card_mask: payeeCard
      ? maskFromParts(payeeCard.slice(0, 6), payeeCard.slice(-4), payeeCard.length) : undefined,
    payee_card_ciphertext: payeeCard ? context.vault.encrypt(payeeCard) : undefined,
    request_id: merchant.requestId,
  };
}

/** One performSale call's inputs, passed to the steps below. They are module functions rather
 * than closures made per SALE: tsx (esbuild keepNames) wraps every named closure in a
 * defineProperty call, which the profile showed as ~1% of a SALE's CPU. */
interface SaleRun {
  context: PlatformContext;
  merchant: SaleMerchant;
  plan: PaymentPlan;
  kind: (typeof paymentKinds)[PaymentAction];
  payment: PaymentRow;
  nowMs: number;
  /** The plan's alsoWrite as storage rows. */
  companions: readonly PaymentCompanion[];
}

function authorizeSale({ context, merchant, plan, kind, payment, nowMs }: SaleRun): Promise<AuthorizationAnswer> {
  const { command } = plan;
  return context.acquirer.authorize({
    transId: payment.trans_id,
    card: { number: command.cardNumber, expiryMonth: command.expiryMonth, expiryYear: command.expiryYear, cvv: command.cvv },
    amountMinor: command.amountMinor,
    currency: command.currency,
    capture: !command.isAuth,
    threeDsEnabled: merchant.threeDsEnabled && kind.cardholderPresent,
    parameters: command.parameters,
    nowMs,
    merchantInitiated: kind.cardholderPresent ? undefined : true,
    action: plan.action,
    payeeCardNumber: plan.payee?.cardNumber,
  });
}

async function answerSale(
  run: SaleRun, answer: AuthorizationAnswer, operation: OperationRow, alreadyInserted: boolean,
): Promise<SaleOutcome> {
  const { context, merchant, plan, kind, payment, nowMs } = run;
  if (answer.outcome === 'challenge') {
    return beginChallenge(run, answer.kind, operation, alreadyInserted);
  }
  const change = outcomeChange(plan.command, answer, merchant.descriptor, nowMs);
  const finalPayment: PaymentRow = { ...payment, ...change };
  const facts = paymentFacts(context, finalPayment);
  const callbacks = [callbackRow(finalPayment, kind.callback(facts), nowMs, merchant.callbackUrl)];
  const operationStatus = answer.outcome === 'approved' ? 'success' : 'fail';
  if (alreadyInserted) {
    await completeOperation(context.storage.db, payment.trans_id, change,
      { operationId: operation.operation_id, status: operationStatus, declineReason: change.decline_reason },
      callbacks, context.clock.nowMs());
  } else {
    const finalOperation = { ...operation, status: operationStatus, decline_reason: change.decline_reason };
    const inserted = await insertPayment(context.storage, finalPayment, [finalOperation], callbacks, run.companions);
    if (inserted === 'conflict') await throwConflict(run);
  }
  return { transId: payment.trans_id, status: change.status, body: kind.response(facts) };
}

function saleOperation(transId: string, command: SaleCommand, nowMs: number, type?: string): OperationRow {
  type ??= command.isAuth ? 'AUTH' : 'SALE';
  return {
    operation_id: newId(nowMs), trans_id: transId, type, status: 'waiting', amount_minor: command.amountMinor,
    decline_reason: null, created_at_ms: nowMs, updated_at_ms: nowMs,
  };
}

/**
 * The cardholder must act: the payment waits in 3DS or REDIRECT with its CVV encrypted and a
 * deadline, and the merchant gets the redirect (and the spec's REDIRECT callback). A 3DS
 * sub-transaction comes before the SALE/AUTH one in the history, as the spec's example shows.
 */
async function beginChallenge(
  run: SaleRun, challengeKind: '3DS' | 'REDIRECT', operation: OperationRow, alreadyInserted: boolean,
): Promise<SaleOutcome> {
  const { context, merchant, payment, plan, kind } = run;
  const nowMs = payment.created_at_ms;
  const challenged: PaymentRow = { ...payment, status: challengeKind };
  const redirect = challengeRedirect(context, challenged, challengeKind);
  const facts = paymentFacts(context, challenged);
  const callbacks = [callbackRow(challenged, kind.callback(facts, redirect), nowMs, merchant.callbackUrl)];
  const challenge = {
    transId: payment.trans_id, kind: challengeKind, nowMs,
    expiresAtMs: nowMs + context.challengeTimeoutMs,
    cvvCiphertext: context.vault.encrypt(plan.command.cvv.reveal()),
  };
  const threeDs = challengeKind === '3DS' ? [saleOperation(payment.trans_id, plan.command, nowMs, '3DS')] : [];
  if (alreadyInserted) {
    await recordChallenge(context.storage.db, challenge, { status: challengeKind }, threeDs, callbacks);
  } else {
    // The 3DS row is made after the SALE row but must sort before it: give it the SALE row's id
    // and the SALE row a fresh, later one.
    const ordered = threeDs.length > 0
      ? [
        { ...threeDs[0], operation_id: operation.operation_id },
        { ...operation, operation_id: threeDs[0].operation_id },
      ]
      : [operation];
    const companions: PaymentCompanion[] = [{ kind: 'challenge', challenge }, ...run.companions];
    const inserted = await insertPayment(context.storage, challenged, ordered, callbacks, companions);
    if (inserted === 'conflict') await throwConflict(run);
  }
  return { transId: payment.trans_id, status: challengeKind, redirect, body: kind.response(facts, redirect) };
}

/** Instead of a second payment: 400 Duplicate request when this very request made one, else
 * 400 Previous payment not completed (the order has an unfinished payment). */
async function throwConflict({ context, merchant, plan }: SaleRun): Promise<never> {
  const replay = await findReplay(context.storage.db, merchant.merchantId, plan.fingerprint);
  throw new ProtocolError(replay ? 'duplicateRequest' : 'previousPaymentNotCompleted');
}
