import { maskFromParts } from '../domain/card.ts';
import type { Payment } from '../domain/payment.ts';
import { loadMerchantById, type MerchantRecord } from '../storage/merchants.ts';
import { loadPaymentAnyMerchant } from '../storage/payments.ts';
import { applicationsOfPayment } from '../storage/refund-applications.ts';
import { CheckoutError } from './checkout.ts';
import type { PlatformContext } from './context.ts';
import { defaultRefundDays } from './manage-merchants.ts';
import {
  applicationRefundableMinor, fileApplication, refundApplicationPath, type ApplicationInput, type ApplicationProblem,
} from './refund-applications.ts';

export type { ApplicationInput, ApplicationProblem } from './refund-applications.ts';

/**
 * What the cardholder's "Application for refund" page (`/refund-application/:transId/:signature`)
 * reads and does, as typed views: the payment and its earlier applications, and the filing.
 */

export interface RefundApplicationPageView {
  /** The form's own signed path. */
  path: string;
  transId: string;
  orderDescription: string;
  amountMinor: number;
  currency: string;
  cardMask: string;
  payerEmail: string;
  merchant: { descriptor: string; frameOrigins: string[]; refundDays: number };
  /** What can still be asked back (captured less refunds and open applications). */
  refundableMinor: number;
  applications: {
    applicationId: string; amountMinor: number; currency: string; status: string; deadlineDate: string;
  }[];
}

/** A filed application, as its receipt shows it. */
export interface FiledApplicationView {
  applicationId: string;
  receivedAtMs: number;
  deadlineDate: string;
  amountMinor: number;
  currency: string;
  reason: string;
}

export type ApplicationProblems = Partial<Record<keyof ApplicationInput, ApplicationProblem>>;

/** The payment behind a signed link, or CheckoutError 'sessionNotFound' (a readable 404). */
async function linkTarget(
  context: PlatformContext, transId: string, signature: string,
): Promise<{ payment: Payment; merchant: MerchantRecord }> {
  if (!context.vault.verify('refund-application', transId, signature)) throw new CheckoutError('sessionNotFound');
  const payment = await loadPaymentAnyMerchant(context.storage, transId);
  const merchant = payment ? await loadMerchantById(context.storage, payment.merchantId) : undefined;
  if (!payment || !merchant) throw new CheckoutError('sessionNotFound');
  return { payment, merchant };
}

async function pageView(
  context: PlatformContext, payment: Payment, merchant: MerchantRecord,
): Promise<RefundApplicationPageView> {
  const applications = await applicationsOfPayment(context.storage, payment.transId);
  return {
    path: refundApplicationPath(context, payment.transId),
    transId: payment.transId,
    orderDescription: payment.orderDescription,
    amountMinor: payment.amountMinor,
    currency: payment.currency,
    cardMask: maskFromParts(payment.card.bin, payment.card.lastFour, payment.card.length),
    payerEmail: payment.payerEmail,
    merchant: merchantView(merchant),
    refundableMinor: await applicationRefundableMinor(context, payment),
    applications: applications.map((row) => ({
      applicationId: row.applicationId, amountMinor: row.amountMinor, currency: row.currency,
      status: row.status, deadlineDate: row.deadlineDate,
    })),
  };
}

function merchantView(merchant: MerchantRecord): RefundApplicationPageView['merchant'] {
  return {
    descriptor: merchant.descriptor,
    frameOrigins: merchant.frameOrigins ?? [],
    refundDays: merchant.refundDays ?? defaultRefundDays,
  };
}

export async function openRefundApplication(
  context: PlatformContext, transId: string, signature: string,
): Promise<RefundApplicationPageView> {
  const { payment, merchant } = await linkTarget(context, transId, signature);
  return pageView(context, payment, merchant);
}

/** Files the cardholder's application; on problems, the form's view to show them on. */
export async function fileRefundApplicationOnPage(
  context: PlatformContext, transId: string, signature: string, input: ApplicationInput,
): Promise<
  | { ok: true; application: FiledApplicationView; view: Pick<RefundApplicationPageView, 'cardMask' | 'merchant'> }
  | { ok: false; problems: ApplicationProblems; view: RefundApplicationPageView }
> {
  const { payment, merchant } = await linkTarget(context, transId, signature);
  const filed = await fileApplication(context, payment, input);
  if (!filed.ok) return { ok: false, problems: filed.problems, view: await pageView(context, payment, merchant) };
  const row = filed.application;
  return {
    ok: true,
    application: {
      applicationId: row.applicationId, receivedAtMs: row.receivedAtMs, deadlineDate: row.deadlineDate,
      amountMinor: row.amountMinor, currency: row.currency, reason: row.reason,
    },
    view: {
      cardMask: maskFromParts(payment.card.bin, payment.card.lastFour, payment.card.length),
      merchant: merchantView(merchant),
    },
  };
}
