import { parseAmount } from '../domain/money.ts';
import { isPaymentStatus, type Payment, type PaymentOperation } from '../domain/payment.ts';
import { ProtocolError, protocolErrors } from '../protocol/errors.ts';
import {
  dayFigures,
  listChargebacks,
  replaceMerchantPassword,
  searchPayments,
  type PaymentListRow,
  type PaymentSearch,
} from '../storage/console.ts';
import { listCallbacks } from '../storage/callbacks.ts';
import { loadMerchantByClientKey, loadMerchantById, type MerchantRecord } from '../storage/merchants.ts';
import { loadOperations, loadPaymentAnyMerchant } from '../storage/payments.ts';
import { advanceClockOffset, readClockOffset, SandboxClock } from '../storage/sandbox-clock.ts';
import { capturePayment } from './capture.ts';
import { createChargeback } from './chargeback.ts';
import { expireChallenge } from './complete-challenge.ts';
import { actorOf, recordAudit, type ConsoleUser } from './console-accounts.ts';
import type { PlatformContext } from './context.ts';
import { describeCallback, resendCallback, type DescribedCallback } from './manage-callbacks.ts';
import { describeMerchant, generatePassword } from './manage-merchants.ts';
import { refundOrReversePayment } from './refund-or-reverse.ts';
import { voidLoadedPayment } from './void.ts';

/** The console pages' use cases: what they read and the changes they make, each change through
 * the operation the API uses (capture.ts, refund-or-reverse.ts, void.ts …) and into the audit log. */

export const searchPageSize = 50;

/** The search form as typed; every field text, validated here. */
export interface SearchForm {
  transId?: string;
  orderId?: string;
  card?: string;
  status?: string;
  merchant?: string;
  amount?: string;
  from?: string;
  to?: string;
  after?: string;
}

export type SearchProblems = Partial<Record<keyof SearchForm, 'invalid'>>;

const dayPattern = /^\d{4}-\d{2}-\d{2}$/;

function dayStartMs(text: string): number | undefined {
  if (!dayPattern.test(text)) return undefined;
  const ms = Date.parse(`${text}T00:00:00Z`);
  return Number.isNaN(ms) || new Date(ms).toISOString().slice(0, 10) !== text ? undefined : ms;
}

/** Turns the form into a search; a merchant user's search is always of its own merchant. */
export async function paymentSearchOf(
  context: Pick<PlatformContext, 'storage'>,
  user: Pick<ConsoleUser, 'merchantId'>,
  form: SearchForm,
): Promise<{ ok: true; search: PaymentSearch } | { ok: false; problems: SearchProblems }> {
  const problems: SearchProblems = {};
  const search: PaymentSearch = { limit: searchPageSize + 1 };
  const text = (value: string | undefined) => (value ?? '').trim();
  if (text(form.transId)) search.transId = text(form.transId).toLowerCase();
  if (text(form.orderId)) search.orderId = text(form.orderId);
  const card = text(form.card).replace(/[\s*]/g, '');
  if (/^\d{4}$/.test(card)) search.cardLastFour = card;
  else if (/^\d{6}$/.test(card)) search.cardBin = card;
  else if (/^\d{10}$/.test(card)) Object.assign(search, { cardBin: card.slice(0, 6), cardLastFour: card.slice(6) });
  else if (card !== '') problems.card = 'invalid';
  const status = text(form.status).toUpperCase();
  if (status !== '' && isPaymentStatus(status)) search.status = status;
  else if (status !== '') problems.status = 'invalid';
  if (user.merchantId !== null) search.merchantId = user.merchantId;
  else if (text(form.merchant)) {
    const merchant = await loadMerchantByClientKey(context.storage, text(form.merchant).toLowerCase());
    if (merchant) search.merchantId = merchant.merchantId;
    else problems.merchant = 'invalid';
  }
  if (text(form.amount)) {
    // The amount as the merchant sent it; two decimals unless the currency says otherwise.
    const amount = parseAmount(text(form.amount).replace(',', '.'), 'USD');
    if (amount.ok) search.amountMinor = amount.amountMinor;
    else problems.amount = 'invalid';
  }
  for (const [name, key] of [
    ['from', 'createdFromMs'],
    ['to', 'createdBeforeMs'],
  ] as const) {
    if (!text(form[name])) continue;
    const ms = dayStartMs(text(form[name]));
    if (ms === undefined) problems[name] = 'invalid';
    else search[key] = name === 'to' ? ms + 24 * 60 * 60 * 1000 : ms;
  }
  if (text(form.after)) {
    const match = /^(\d{1,16})_([0-9a-f-]{36})$/.exec(text(form.after));
    if (match) search.after = { createdAtMs: Number(match[1]), transId: match[2] };
    else problems.after = 'invalid';
  }
  return Object.keys(problems).length > 0 ? { ok: false, problems } : { ok: true, search };
}

export async function findPaymentsPage(
  context: Pick<PlatformContext, 'storage'>,
  search: PaymentSearch,
): Promise<{ rows: PaymentListRow[]; nextCursor?: string }> {
  const rows = await searchPayments(context.storage, search);
  if (rows.length <= searchPageSize) return { rows };
  const page = rows.slice(0, searchPageSize);
  const last = page[page.length - 1];
  return { rows: page, nextCursor: `${last.createdAtMs}_${last.transId}` };
}

/** A payment the user may see: a merchant user sees only its merchant's (others: not found). */
export async function visiblePayment(
  context: Pick<PlatformContext, 'storage'>,
  user: Pick<ConsoleUser, 'merchantId'>,
  transId: string,
): Promise<Payment | undefined> {
  if (!/^[0-9a-f-]{36}$/i.test(transId)) return undefined;
  const payment = await loadPaymentAnyMerchant(context.storage, transId.toLowerCase());
  if (!payment || (user.merchantId !== null && payment.merchantId !== user.merchantId)) return undefined;
  return payment;
}

export interface PaymentPage {
  payment: Payment;
  merchant: MerchantRecord | undefined;
  operations: PaymentOperation[];
  callbacks: DescribedCallback[];
}

export async function paymentPageOf(context: Pick<PlatformContext, 'storage'>, payment: Payment): Promise<PaymentPage> {
  const [merchant, operations, callbacks] = await Promise.all([
    loadMerchantById(context.storage, payment.merchantId),
    loadOperations(context.storage, payment.transId),
    listCallbacks(context.storage, { transId: payment.transId, limit: 100 }),
  ]);
  return { payment, merchant, operations, callbacks: callbacks.map(describeCallback) };
}

export type MoneyAction = 'capture' | 'refund' | 'void';

export type ActionOutcome =
  | { done: true; result: 'approved' | 'declined' | 'unknown'; declineReason?: string }
  | { done: false; refusal: string };

/** What the money facts of a payment look like in the audit log: amounts and status, no card. */
function moneyFacts(payment: Payment) {
  return {
    status: payment.status,
    amount_minor: payment.amountMinor,
    captured_minor: payment.capturedMinor,
    refunded_minor: payment.refundedMinor,
    currency: payment.currency,
  };
}

/**
 * CAPTURE, CREDITVOID (refund or reversal) or VOID of a payment, by an operator or merchant user,
 * through the operations the API runs — same invariants, sub-transactions and callbacks. The
 * refusals of the rules come back as their protocol message; nothing moved then.
 */
export async function moveMoney(
  context: PlatformContext,
  user: ConsoleUser,
  payment: Payment,
  action: MoneyAction,
  amountText: string | undefined,
): Promise<ActionOutcome> {
  let outcome: { result: 'approved' | 'declined' | 'unknown'; declineReason?: string };
  try {
    if (action === 'capture') outcome = await capturePayment(context, payment, amountText);
    else if (action === 'void') outcome = await voidLoadedPayment(context, payment);
    else outcome = await refundOrReversePayment(context, payment, amountText);
  } catch (error) {
    if (!(error instanceof ProtocolError)) throw error;
    const details = error.fieldErrors.map((fieldError) => ` ${fieldError.field}: ${fieldError.message}`).join(';');
    return { done: false, refusal: `${protocolErrors[error.name].code} ${error.message}${details}` };
  }
  const after = await loadPaymentAnyMerchant(context.storage, payment.transId);
  await recordAudit(context.storage, context.clock, actorOf(user), {
    action: `payment ${action}`,
    target: payment.transId,
    merchantId: payment.merchantId,
    before: moneyFacts(payment),
    after: { ...(after ? moneyFacts(after) : {}), result: outcome.result, amount: amountText ?? null },
  });
  return { done: true, result: outcome.result, declineReason: outcome.declineReason };
}

/** Queues a callback again; a merchant user may resend only its own merchant's. */
export async function resendConsoleCallback(context: PlatformContext, user: ConsoleUser, outboxId: string) {
  if (!/^[0-9a-f-]{36}$/i.test(outboxId)) return undefined;
  const [record] = await listCallbacks(context.storage, { outboxId, limit: 1 });
  if (!record || (user.merchantId !== null && record.merchantId !== user.merchantId)) return undefined;
  const before = describeCallback(record);
  const after = await resendCallback(context, outboxId);
  await recordAudit(context.storage, context.clock, actorOf(user), {
    action: 'callback resent',
    target: outboxId,
    merchantId: record.merchantId,
    before: { state: before.state, attempt_count: before.attempt_count },
    after: { state: after.state },
  });
  return { transId: record.transId };
}

/** A new PASSWORD for the merchant, encrypted at rest, shown once to whoever rotated it. */
export async function rotateMerchantPassword(context: PlatformContext, user: ConsoleUser, merchant: MerchantRecord) {
  const password = generatePassword();
  await replaceMerchantPassword(
    context.storage,
    merchant.merchantId,
    context.vault.encrypt(password),
    context.clock.nowMs(),
  );
  await recordAudit(context.storage, context.clock, actorOf(user), {
    action: 'merchant PASSWORD rotated',
    target: merchant.clientKey,
    merchantId: merchant.merchantId,
    before: { password: '(previous, not recorded)' },
    after: { password: '(new, not recorded)' },
  });
  return password;
}

export async function todayOf(context: PlatformContext, user: ConsoleUser) {
  const nowMs = context.clock.nowMs();
  const day = new Date(nowMs).toISOString().slice(0, 10);
  const fromMs = Date.parse(`${day}T00:00:00Z`);
  const figures = await dayFigures(context.storage, {
    fromMs,
    toMs: fromMs + 24 * 60 * 60 * 1000,
    nowMs,
    merchantId: user.merchantId ?? undefined,
  });
  const total = figures.byStatus.reduce((sum, row) => sum + row.count, 0);
  const approved = figures.byStatus
    .filter((row) => !['DECLINED', 'PREPARE', '3DS', 'REDIRECT'].includes(row.status))
    .reduce((sum, row) => sum + row.count, 0);
  const decided = approved + (figures.byStatus.find((row) => row.status === 'DECLINED')?.count ?? 0);
  return { day, total, approvalRate: decided === 0 ? undefined : approved / decided, ...figures };
}

export async function chargebacksOf(context: PlatformContext) {
  return listChargebacks(context.storage, 200);
}

export async function merchantByClientKey(context: PlatformContext, clientKey: string) {
  if (clientKey.length > 100) return undefined;
  return loadMerchantByClientKey(context.storage, clientKey.toLowerCase());
}

export async function merchantById(context: PlatformContext, merchantId: string) {
  return loadMerchantById(context.storage, merchantId);
}

export { describeMerchant };
export type { MerchantRecord, MerchantSettings } from '../storage/merchants.ts';
export type { PaymentListRow } from '../storage/console.ts';

/** Sandbox only: the issuer's chargeback of a SETTLED payment, as `kassa chargeback create` makes it. */
export async function sandboxChargeback(
  context: PlatformContext,
  user: ConsoleUser,
  payment: Payment,
  input: { reasonCode: string; amount?: string },
): Promise<ActionOutcome> {
  try {
    await createChargeback(context, { transId: payment.transId, reasonCode: input.reasonCode, amount: input.amount });
  } catch (error) {
    if (!(error instanceof ProtocolError)) throw error;
    const details = error.fieldErrors.map((fieldError) => ` ${fieldError.field}: ${fieldError.message}`).join(';');
    return { done: false, refusal: `${protocolErrors[error.name].code} ${error.message}${details}` };
  }
  const after = await loadPaymentAnyMerchant(context.storage, payment.transId);
  await recordAudit(context.storage, context.clock, actorOf(user), {
    action: 'sandbox chargeback',
    target: payment.transId,
    merchantId: payment.merchantId,
    before: moneyFacts(payment),
    after: { ...(after ? moneyFacts(after) : {}), reason_code: input.reasonCode },
  });
  return { done: true, result: 'approved' };
}

/** Sandbox only: the cardholder's 3-D Secure or redirect step times out now, as if abandoned. */
export async function sandboxExpireChallenge(
  context: PlatformContext,
  user: ConsoleUser,
  payment: Payment,
): Promise<boolean> {
  if (payment.status !== '3DS' && payment.status !== 'REDIRECT') return false;
  if (!(await expireChallenge(context, payment.transId, context.clock.nowMs()))) return false;
  const after = await loadPaymentAnyMerchant(context.storage, payment.transId);
  await recordAudit(context.storage, context.clock, actorOf(user), {
    action: 'sandbox 3-D Secure timeout',
    target: payment.transId,
    merchantId: payment.merchantId,
    before: moneyFacts(payment),
    after: after ? moneyFacts(after) : undefined,
  });
  return true;
}

export async function sandboxClockOffsetMs(context: PlatformContext): Promise<number> {
  return readClockOffset(context.storage);
}

/** Moves the sandbox clock of every node, as `kassa clock advance` does, and this node's at once. */
export async function advanceSandboxClock(context: PlatformContext, durationMs: number): Promise<void> {
  const offsetMs = await readClockOffset(context.storage);
  await advanceClockOffset(context.storage, durationMs, context.clock.nowMs() - offsetMs);
  if (context.clock instanceof SandboxClock) await context.clock.refresh();
}
