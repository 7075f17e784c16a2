import type { PaymentOperation } from '../domain/payment.ts';
import { transactionQueryFields } from '../protocol/action-fields.ts';
import type { RequestFields } from '../protocol/validation.ts';
import type { Payment } from '../domain/payment.ts';
import { loadCascadeAttempts, loadOperations } from '../storage/payments.ts';
import type { AuthenticatedMerchant } from './authenticate.ts';
import type { PlatformContext } from './context.ts';
import { statusViewOf, type PaymentStatusView } from './get-trans-status.ts';
import { loadPaymentByTransId } from './load-payment.ts';

export interface PaymentDetailsView extends PaymentStatusView {
  payer: { name: string; mail: string; ip: string };
  /** Sub-transactions, oldest first (upper-case types; success/waiting/fail). */
  operations: PaymentOperation[];
  /** Every attempt of the payment's cascade, first first (ADR 0053); one: no cascade. */
  attempts: Payment[];
}

/** The payment and its history of sub-transactions. */
export async function getTransDetails(
  context: PlatformContext,
  merchant: AuthenticatedMerchant,
  fields: RequestFields,
): Promise<PaymentDetailsView> {
  const { payment } = await loadPaymentByTransId(context, merchant, fields, transactionQueryFields);
  const operations = inTheSpecsOrder(await loadOperations(context.storage, payment.transId));
  const payer = JSON.parse(payment.payerJson) as Record<string, string>;
  const name = [payer.payer_first_name, payer.payer_last_name].filter(Boolean).join(' ');
  const view = await statusViewOf(context, payment);
  const attempts = await loadCascadeAttempts(context.storage, payment.merchantId, payment.cascadeOf ?? payment.transId);
  return { ...view, payer: { name, mail: payment.payerEmail, ip: payer.payer_ip ?? '' }, operations, attempts };
}

const authorizations = new Set(['SALE', 'AUTH', 'DEBIT']);

/** The spec's example lists the 3DS step before the SALE/AUTH it leads to. A PREPARE-first
 * payment (a connector with side effects) writes its SALE first — it is the claim — and its 3DS
 * step after, so the history is told in the spec's order, not the rows'. */
export function inTheSpecsOrder(operations: PaymentOperation[]): PaymentOperation[] {
  const threeDs = operations.findIndex((operation) => operation.type === '3DS');
  const authorization = operations.findIndex((operation) => authorizations.has(operation.type));
  if (threeDs < 0 || authorization < 0 || threeDs < authorization) return operations;
  const ordered = [...operations];
  const [step] = ordered.splice(threeDs, 1);
  ordered.splice(authorization, 0, step!);
  return ordered;
}
