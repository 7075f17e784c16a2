import { addBusinessDays, isOverdue } from '../domain/business-days.ts';
import { financialDay, formatTransDate } from '../domain/dates.ts';
import { newId } from '../domain/ids.ts';
import { formatAmount, parseAmount } from '../domain/money.ts';
import { ProtocolError, protocolErrors } from '../protocol/errors.ts';
import type { Payment } from '../domain/payment.ts';
import { loadMerchantById } from '../storage/merchants.ts';
import { loadPaymentAnyMerchant } from '../storage/payments.ts';
import {
  findRefundApplication, insertRefundApplication, listRefundApplications, moveRefundApplication, pendingApplicationsOfPayment,
  type RefundApplication,
} from '../storage/refund-applications.ts';
import { defaultRefundDays } from './manage-merchants.ts';
import type { PlatformContext } from './context.ts';
import { refundOrReversePayment } from './refund-or-reverse.ts';

/** The two cases the cardholder terms pages describe. */
export const refundApplicationKinds = ['return', 'erroneous_charge'] as const;
export type RefundApplicationKind = (typeof refundApplicationKinds)[number];

export const reasonLengthMax = 2000;

/** The cardholder-facing link of a payment's application form: signed, so only the person who
 * was shown it (result page, receipt) can file one, and it outlives the checkout session. */
export function refundApplicationPath(context: PlatformContext, transId: string): string {
  return `/refund-application/${transId}/${context.vault.sign('refund-application', transId)}`;
}

export class RefundApplicationError extends Error {}

export type ApplicationProblem = 'kindMissing' | 'reasonMissing' | 'reasonTooLong' | 'amountInvalid' | 'amountTooLarge' | 'emailInvalid';

/** How much can still be asked back: what was captured (or held, for an AUTH) less refunds and
 * less what other open applications already ask for. */
export async function applicationRefundableMinor(context: PlatformContext, payment: Payment): Promise<number> {
  const base = payment.status === 'PENDING' ? payment.amountMinor
    : payment.status === 'SETTLED' ? payment.capturedMinor - payment.refundedMinor : 0;
  const pending = await pendingApplicationsOfPayment(context.storage, payment.transId);
  return Math.max(0, base - pending.reduce((sum, application) => sum + application.amountMinor, 0));
}

export type FiledApplication =
  | { ok: true; application: RefundApplication }
  | { ok: false; problems: Partial<Record<keyof ApplicationInput, ApplicationProblem>> };

export interface ApplicationInput {
  kind: string;
  reason: string;
  amountText: string;
  contactEmail: string;
}

/**
 * A cardholder files an "Application for refund". The deadline is fixed at receipt: the
 * merchant's number of business days from the day of receipt (platform time zone), skipping
 * weekends and the merchant's holidays.
 */
export async function fileApplication(
  context: PlatformContext, payment: Payment, input: ApplicationInput,
): Promise<FiledApplication> {
  const problems: Partial<Record<keyof ApplicationInput, ApplicationProblem>> = {};
  if (!(refundApplicationKinds as readonly string[]).includes(input.kind)) problems.kind = 'kindMissing';
  const reason = input.reason.trim();
  if (reason === '') problems.reason = 'reasonMissing';
  else if ([...reason].length > reasonLengthMax) problems.reason = 'reasonTooLong';
  const email = input.contactEmail.trim();
  if (!/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(email) || email.length > 256) problems.contactEmail = 'emailInvalid';
  const refundable = await applicationRefundableMinor(context, payment);
  const amount = parseAmount(input.amountText.trim().replace(',', '.'), payment.currency);
  if (!amount.ok) problems.amountText = 'amountInvalid';
  else if (amount.amountMinor > refundable) problems.amountText = 'amountTooLarge';
  if (Object.keys(problems).length > 0 || !amount.ok) return { ok: false, problems };

  const merchant = (await loadMerchantById(context.storage, payment.merchantId))!;
  const nowMs = context.clock.nowMs();
  const receivedDate = financialDay(nowMs, context.timeZone);
  const application: RefundApplication = {
    applicationId: newId(nowMs),
    transId: payment.transId,
    merchantId: payment.merchantId,
    kind: input.kind,
    reason,
    amountMinor: amount.amountMinor,
    currency: payment.currency,
    contactEmail: email,
    status: 'RECEIVED',
    receivedAtMs: nowMs,
    receivedDate,
    deadlineDate: addBusinessDays(receivedDate, merchant.refundDays ?? defaultRefundDays, new Set(merchant.holidays ?? [])),
    decidedAtMs: null,
    decisionNote: null,
  };
  await insertRefundApplication(context.storage, application);
  return { ok: true, application };
}

/** What the operator sees of an application. */
export function describeApplication(context: PlatformContext, application: RefundApplication) {
  const today = financialDay(context.clock.nowMs(), context.timeZone);
  const open = application.status === 'RECEIVED' || application.status === 'APPROVING';
  return {
    application_id: application.applicationId,
    trans_id: application.transId,
    status: application.status,
    kind: application.kind,
    amount: formatAmount(application.amountMinor, application.currency),
    currency: application.currency,
    contact_email: application.contactEmail,
    reason: application.reason,
    received_at: formatTransDate(application.receivedAtMs, context.timeZone),
    deadline: application.deadlineDate,
    overdue: open && isOverdue(application.deadlineDate, today),
    decision_note: application.decisionNote,
  };
}

export async function findApplications(
  context: PlatformContext, filter: { status?: string; merchantId?: string; overdueOnly?: boolean; limit?: number },
) {
  const status = filter.status?.toUpperCase();
  if (status && !['RECEIVED', 'APPROVING', 'APPROVED', 'REJECTED'].includes(status)) {
    throw new RefundApplicationError('--status is received, approving, approved or rejected');
  }
  const limit = filter.limit ?? 100;
  if (!Number.isInteger(limit) || limit < 1 || limit > 10_000) throw new RefundApplicationError('--limit is 1–10000');
  const rows = await listRefundApplications(context.storage, { status, merchantId: filter.merchantId }, limit);
  const described = rows.map((row) => describeApplication(context, row));
  return filter.overdueOnly ? described.filter((row) => row.overdue) : described;
}

async function loadOpenApplication(context: PlatformContext, applicationId: string) {
  const application = await findRefundApplication(context.storage, applicationId);
  if (!application) throw new RefundApplicationError(`no refund application ${applicationId}`);
  if (application.status !== 'RECEIVED') {
    throw new RefundApplicationError(`application ${applicationId} is ${application.status}, not RECEIVED`);
  }
  return application;
}

/**
 * Approval refunds the requested amount through CREDITVOID's own code (refund of a settled
 * payment, reversal of an AUTH): the same money invariants, sub-transaction and callback as a
 * merchant's CREDITVOID. The application is claimed first so two operators cannot both refund.
 */
export async function approveRefundApplication(context: PlatformContext, applicationId: string, note: string | null = null) {
  const application = await loadOpenApplication(context, applicationId);
  const claim = { decidedAtMs: null, note };
  if (!(await moveRefundApplication(context.storage, applicationId, 'RECEIVED', 'APPROVING', claim))) {
    throw new RefundApplicationError(`application ${applicationId} is being decided by someone else`);
  }
  const payment = (await loadPaymentAnyMerchant(context.storage, application.transId))!;
  let outcome: { approved: true } | { approved: false; why: string };
  try {
    const done = await refundOrReversePayment(context, payment, formatAmount(application.amountMinor, application.currency));
    if (done.result === 'unknown') {
      // The money may have moved: the application stays claimed (APPROVING), so nobody can
      // approve it again, until the refund's outcome is known.
      throw new RefundApplicationError('the acquirer did not answer; the refund waits for its outcome');
    }
    outcome = done.result === 'approved' ? { approved: true } : { approved: false, why: `the acquirer declined: ${done.declineReason}` };
  } catch (error) {
    if (error instanceof RefundApplicationError) throw error;
    if (!(error instanceof ProtocolError)) {
      await moveRefundApplication(context.storage, applicationId, 'APPROVING', 'RECEIVED', { decidedAtMs: null, note });
      throw error;
    }
    outcome = { approved: false, why: `${protocolErrors[error.name].code} ${error.message}` };
  }
  const nowMs = context.clock.nowMs();
  if (!outcome.approved) {
    // Nothing moved: the application waits again, with the reason for the operator.
    await moveRefundApplication(context.storage, applicationId, 'APPROVING', 'RECEIVED', {
      decidedAtMs: null, note: `refund failed: ${outcome.why}`,
    });
    throw new RefundApplicationError(`refund not made: ${outcome.why}`);
  }
  await moveRefundApplication(context.storage, applicationId, 'APPROVING', 'APPROVED', { decidedAtMs: nowMs, note });
  return describeApplication(context, (await findRefundApplication(context.storage, applicationId))!);
}

export async function rejectRefundApplication(context: PlatformContext, applicationId: string, note: string | undefined) {
  if (!note || note.trim() === '') throw new RefundApplicationError('--note is required: the cardholder is owed a reason');
  await loadOpenApplication(context, applicationId);
  const decision = { decidedAtMs: context.clock.nowMs(), note: note.trim() };
  if (!(await moveRefundApplication(context.storage, applicationId, 'RECEIVED', 'REJECTED', decision))) {
    throw new RefundApplicationError(`application ${applicationId} is being decided by someone else`);
  }
  return describeApplication(context, (await findRefundApplication(context.storage, applicationId))!);
}

/** The CLI's table. */
export function applicationsAsText(rows: ReturnType<typeof describeApplication>[]): string {
  if (rows.length === 0) return 'no refund applications\n';
  return rows.map((row) => [
    `${row.application_id}  ${row.status}${row.overdue ? '  OVERDUE' : ''}`,
    `  payment ${row.trans_id}  ${row.amount} ${row.currency}  ${row.kind}`,
    `  received ${row.received_at}  deadline ${row.deadline}`,
    `  contact ${row.contact_email}`,
    `  reason ${JSON.stringify(row.reason)}`,
    ...(row.decision_note ? [`  note ${JSON.stringify(row.decision_note)}`] : []),
  ].join('\n')).join('\n\n') + '\n';
}
