import { cardBrand } from '../domain/card.ts';
import { newId, newTransactionId } from '../domain/ids.ts';
import { parseAmount } from '../domain/money.ts';
import { Secret } from '../domain/secret.ts';
import type { Transaction } from 'kysely';
import type { AuthorizationAnswer, Decision } from '../acquirers/connector.ts';
import { payerFieldNames, saleFields, tokenSaleFields } from '../protocol/action-fields.ts';
import { ProtocolError, type FieldError } from '../protocol/errors.ts';
import { cardHashPart, hashesMatch, saleHash, saleTokenHash } from '../protocol/hash.ts';
import { saleCallback, saleResponse } from '../protocol/responses.ts';
import { messages, validateFields, validateParameters, type RequestFields } from '../protocol/validation.ts';
import { completeOperation, findReplay, insertPayment, type OperationRow, type PaymentRow } from '../storage/payments.ts';
import { recordChallenge, saveChallenge } from '../storage/challenges.ts';
import type { Database } from '../storage/schema.ts';
import { missingParameterErrors } from './acquirer-parameters.ts';
import { recurringExtras, tokenCard } from './recurring.ts';
import { challengeRedirect } from './challenge-links.ts';
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

/** What a payment made through performSale adds to or changes in a plain SALE: RECURRING_SALE,
 * scheduled charges, tokens, DEBIT and CARD2CARD use the same path. */
export interface SaleExtras {
  /** Payment columns to set or override (action, recurring_token, source_trans_id, …). */
  payment?: Partial<PaymentRow>;
  /** Writes committed with the payment (a card token, a schedule binding or charge). */
  alsoInTransaction?: (transaction: Transaction<Database>, payment: PaymentRow) => Promise<void>;
  /** RECURRING_SALE, scheduled charges: no cardholder, so no CVV and no 3-D Secure. */
  merchantInitiated?: boolean;
  /** Sub-transaction type when not SALE/AUTH (DEBIT, TRANSFER). */
  operationType?: string;
  /** Instead of 400 Duplicate request / Previous payment not completed (the scheduler). */
  onConflict?: () => Promise<never>;
  /** CARD2CARD: the receiving card, handed to the acquirer with the payer's. */
  payeeCardNumber?: Secret<string>;
  /** Response and callback bodies when not SALE's (CREDIT2CARD). */
  render?: { response: typeof saleResponse; callback: typeof saleCallback };
}

/** What a SALE needs of the merchant; the hosted page has no PASSWORD-signed request. */
export type SaleMerchant = Pick<AuthenticatedMerchant, 'merchantId' | 'descriptor' | 'threeDsEnabled' | 'callbackUrl'>;

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
  const extras = await recurringExtras(context, merchant, command, { reqToken, scheduleId });

  // No look-up for replays here: the unique key on the fingerprint refuses one at insert time
  // (before any bank is asked, since a real connector's PREPARE row is inserted first).
  return performSale(context, merchant, command, requestFingerprint(context, merchant.merchantId, fields), extras);
}

/**
 * The SALE itself, after validation and authentication, for every entry point. `fingerprint`
 * identifies the request: a second payment with the same fingerprint is refused as a replay
 * (400 Duplicate request), which is also how a double-submitted hosted form charges once.
 */
export async function performSale(
  context: PlatformContext, merchant: SaleMerchant, command: SaleCommand, fingerprint: string, extras: SaleExtras = {},
) {
  const pan = command.cardNumber.reveal();
  const nowMs = context.clock.nowMs();
  const transId = newTransactionId(nowMs);
  const payment: PaymentRow = {
    trans_id: transId,
    merchant_id: merchant.merchantId,
    order_id: command.orderId,
    action: 'SALE',
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
    card_expiry: `${String(command.expiryMonth).padStart(2, '0')}/${command.expiryYear}`,
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
    request_fingerprint: fingerprint,
    operation_lock: null,
    settled_at_ms: null,
    created_at_ms: nowMs,
    updated_at_ms: nowMs,
    ...extras.payment,
  };
  const run: SaleRun = { context, merchant, command, fingerprint, extras, payment, nowMs, render: extras.render ?? saleRender };

  if (context.acquirer.sideEffectFree) {
    const answer = await authorizeSale(run);
    return answerSale(run, answer, [saleOperation(transId, command, nowMs, extras.operationType)], false);
  }

  const operation = saleOperation(transId, command, nowMs, extras.operationType);
  if ((await insertPayment(context.storage, payment, [operation], [], alsoInTransactionOf(run))) === 'conflict') {
    await conflict(run);
  }
  let answer: AuthorizationAnswer;
  try {
    answer = await authorizeSale(run);
  } catch (error) {
    // The bank's answer is unknown: the payment stays PREPARE, which the spec defines as
    // "final status will be sent in callback". The merchant is told exactly that.
    context.logger.error({ transId, error: (error as Error).message }, 'acquirer authorization failed; payment left in PREPARE');
    return run.render.response(paymentFacts(context, payment));
  }
  return answerSale(run, answer, [operation], true);
}

const saleRender: NonNullable<SaleExtras['render']> = { response: saleResponse, callback: saleCallback };

/** One performSale call's inputs, passed to the steps below. They are module functions rather
 * than closures made per SALE: tsx (esbuild keepNames) wraps every named closure in a
 * defineProperty call, which the profile showed as ~1% of a SALE's CPU. */
interface SaleRun {
  context: PlatformContext;
  merchant: SaleMerchant;
  command: SaleCommand;
  fingerprint: string;
  extras: SaleExtras;
  payment: PaymentRow;
  nowMs: number;
  render: NonNullable<SaleExtras['render']>;
}

function authorizeSale({ context, merchant, command, extras, payment, nowMs }: SaleRun): Promise<AuthorizationAnswer> {
  return context.acquirer.authorize({
    transId: payment.trans_id,
    card: { number: command.cardNumber, expiryMonth: command.expiryMonth, expiryYear: command.expiryYear, cvv: command.cvv },
    amountMinor: command.amountMinor,
    currency: command.currency,
    capture: !command.isAuth,
    threeDsEnabled: merchant.threeDsEnabled && !extras.merchantInitiated,
    parameters: command.parameters,
    nowMs,
    merchantInitiated: extras.merchantInitiated,
    action: payment.action,
    payeeCardNumber: extras.payeeCardNumber,
  });
}

/** The caller's extra writes, given the payment as it was built (before any outcome). */
function alsoInTransactionOf(run: SaleRun): ((transaction: Transaction<Database>) => Promise<void>) | undefined {
  const also = run.extras.alsoInTransaction;
  return also ? (transaction: Transaction<Database>) => also(transaction, run.payment) : undefined;
}

/** Instead of a second payment: the caller's answer (the scheduler), or 400 Duplicate request /
 * Previous payment not completed. */
function conflict(run: SaleRun): Promise<never> {
  return run.extras.onConflict ? run.extras.onConflict() : throwConflict(run.context, run.merchant.merchantId, run.fingerprint);
}

async function answerSale(run: SaleRun, answer: AuthorizationAnswer, operations: OperationRow[], alreadyInserted: boolean) {
  const { context, merchant, command, payment, nowMs, render } = run;
  if (answer.outcome === 'challenge') {
    return beginChallenge(run, answer.kind, operations, alreadyInserted);
  }
  const change = outcomeChange(command, answer, merchant.descriptor, nowMs);
  const finalPayment: PaymentRow = { ...payment, ...change };
  const facts = paymentFacts(context, finalPayment);
  const callbacks = [callbackRow(finalPayment, render.callback(facts), nowMs, merchant.callbackUrl)];
  const operationStatus = answer.outcome === 'approved' ? 'success' : 'fail';
  if (alreadyInserted) {
    await completeOperation(context.storage.db, payment.trans_id, change,
      { operationId: operations[0].operation_id, status: operationStatus, declineReason: change.decline_reason },
      callbacks, context.clock.nowMs());
  } else {
    const finalOperations = operations.map((operation) => ({ ...operation, status: operationStatus, decline_reason: change.decline_reason }));
    if ((await insertPayment(context.storage, finalPayment, finalOperations, callbacks, alsoInTransactionOf(run))) === 'conflict') {
      await conflict(run);
    }
  }
  return render.response(facts);
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
async function beginChallenge(run: SaleRun, kind: '3DS' | 'REDIRECT', operations: OperationRow[], alreadyInserted: boolean) {
  const { context, merchant, payment, command, render } = run;
  const alsoInTransaction = alsoInTransactionOf(run);
  const nowMs = payment.created_at_ms;
  const challenged: PaymentRow = { ...payment, status: kind };
  const redirect = challengeRedirect(context, challenged, kind);
  const facts = paymentFacts(context, challenged);
  const callbacks = [callbackRow(challenged, render.callback(facts, redirect), nowMs, merchant.callbackUrl)];
  const challenge = {
    transId: payment.trans_id, kind, nowMs,
    expiresAtMs: nowMs + context.challengeTimeoutMs,
    cvvCiphertext: context.vault.encrypt(command.cvv.reveal()),
  };
  if (alreadyInserted) {
    const threeDs = kind === '3DS' ? [saleOperation(payment.trans_id, command, nowMs, '3DS')] : [];
    await recordChallenge(context.storage.db, challenge, { status: kind }, threeDs, callbacks);
  } else {
    const threeDs = kind === '3DS' ? [saleOperation(payment.trans_id, command, nowMs, '3DS')] : [];
    // The 3DS row is made after the SALE row but must sort before it: give it the SALE row's id
    // and the SALE row a fresh, later one.
    const ordered = threeDs.length > 0
      ? [{ ...threeDs[0], operation_id: operations[0].operation_id }, { ...operations[0], operation_id: threeDs[0].operation_id }]
      : operations;
    const inserted = await insertPayment(context.storage, challenged, ordered, callbacks, async (transaction) => {
      await saveChallenge(transaction, challenge);
      if (alsoInTransaction) await alsoInTransaction(transaction);
    });
    if (inserted === 'conflict') await conflict(run);
  }
  return render.response(facts, redirect);
}

async function throwConflict(context: PlatformContext, merchantId: string, fingerprint: string): Promise<never> {
  const replay = await findReplay(context.storage.db, merchantId, fingerprint);
  throw new ProtocolError(replay ? 'duplicateRequest' : 'previousPaymentNotCompleted');
}
