import type { CliIo } from './cli.ts';
import { formatTransDate } from './domain/dates.ts';
import { formatAmount } from './domain/money.ts';
import {
  findPaymentsPage,
  paymentPageOf,
  paymentSearchOf,
  visiblePayment,
  type SearchForm,
} from './operations/console-pages.ts';
import type { Storage } from './storage/database.ts';

/**
 * `kassa payments list|show` (docs/adr/0078): the console's payment search from a terminal, over
 * the same use cases (operations/console-pages.ts) and with the same filters, as an operator
 * sees it (every merchant, or one with --client-key). Cards show first 6 / last 4 only.
 */
export class PaymentsInputError extends Error {}

const filterWords: Record<keyof SearchForm, string> = {
  transId: '--trans-id',
  orderId: '--order-id',
  card: '--card (first 6, last 4, or both)',
  status: '--status',
  merchant: '--client-key',
  amount: '--amount',
  from: '--from (YYYY-MM-DD)',
  to: '--to (YYYY-MM-DD)',
  after: '--after',
};

function formOf(values: Record<string, unknown>): SearchForm {
  const text = (name: string) => (typeof values[name] === 'string' ? (values[name] as string) : undefined);
  return {
    transId: text('trans-id'),
    orderId: text('order-id'),
    card: text('card'),
    status: text('status'),
    merchant: text('client-key'),
    amount: text('amount'),
    from: text('from'),
    to: text('to'),
    after: text('after'),
  };
}

type Dependencies = { storage: Storage; timeZone: string };
const operator = { merchantId: null };

export async function paymentsCommand(
  io: CliIo,
  verb: string,
  argument: string | undefined,
  values: Record<string, unknown>,
  dependencies: { storage: Storage; timeZone: string },
): Promise<number> {
  if (verb === 'list') return listPayments(io, values, dependencies);
  if (verb === 'show') return showPayment(io, argument, values, dependencies);
  throw new PaymentsInputError(`unknown command: payments ${verb}`);
}

async function listPayments(io: CliIo, values: Record<string, unknown>, dependencies: Dependencies): Promise<number> {
  const asJson = values.json === true;
  const parsed = await paymentSearchOf(dependencies, operator, formOf(values));
  if (!parsed.ok) {
    const names = Object.keys(parsed.problems).map((name) => filterWords[name as keyof SearchForm]);
    throw new PaymentsInputError(`not a valid filter: ${names.join(', ')}`);
  }
  const { rows, nextCursor } = await findPaymentsPage(dependencies, parsed.search);
  const listed = rows.map((row) => ({
    trans_id: row.transId,
    order_id: row.orderId,
    action: row.action,
    status: row.status,
    amount: formatAmount(row.amountMinor, row.currency),
    currency: row.currency,
    refunded: formatAmount(row.refundedMinor, row.currency),
    card: `${row.cardBin}******${row.cardLastFour}`,
    created: formatTransDate(row.createdAtMs, dependencies.timeZone),
  }));
  if (asJson) io.stdout(`${JSON.stringify({ payments: listed, next: nextCursor ?? null })}\n`);
  else {
    if (listed.length === 0) io.stdout('no payments\n');
    for (const row of listed) {
      io.stdout(
        `${row.created}  ${row.trans_id}  ${row.status.padEnd(10)} ${row.amount.padStart(10)} ${row.currency}  `
          + `${row.action.padEnd(14)} ${row.card}  ${row.order_id}\n`,
      );
    }
    if (nextCursor) io.stdout(`more: kassa payments list … --after ${nextCursor}\n`);
  }
  return 0;
}

async function showPayment(
  io: CliIo,
  argument: string | undefined,
  values: Record<string, unknown>,
  dependencies: Dependencies,
): Promise<number> {
  const asJson = values.json === true;
  const payment = argument ? await visiblePayment(dependencies, operator, argument) : undefined;
  if (!payment) throw new PaymentsInputError(`no payment with trans_id ${argument ?? ''}`);
  const page = await paymentPageOf(dependencies, payment);
  const shown = {
    trans_id: payment.transId,
    order_id: payment.orderId,
    merchant: page.merchant?.clientKey ?? payment.merchantId,
    action: payment.action,
    status: payment.status,
    auth: payment.isAuth,
    amount: formatAmount(payment.amountMinor, payment.currency),
    currency: payment.currency,
    captured: formatAmount(payment.capturedMinor, payment.currency),
    refunded: formatAmount(payment.refundedMinor, payment.currency),
    card: `${payment.card.bin}******${payment.card.lastFour}`,
    card_expiry: payment.card.expiry,
    decline_reason: payment.declineReason,
    callback_url: payment.callbackUrl ?? null,
    custom_data: payment.customData ?? null,
    created: formatTransDate(payment.createdAtMs, dependencies.timeZone),
    operations: page.operations.map((operation) => ({
      type: operation.type,
      status: operation.status,
      amount: formatAmount(operation.amountMinor, payment.currency),
      decline_reason: operation.declineReason,
      created: formatTransDate(operation.createdAtMs, dependencies.timeZone),
    })),
    callbacks: page.callbacks.map((callback) => ({
      outbox_id: callback.outbox_id,
      state: callback.state,
      action: callback.action,
      result: callback.result,
    })),
  };
  if (asJson) io.stdout(`${JSON.stringify(shown)}\n`);
  else io.stdout(paymentAsText(shown));
  return 0;
}

function paymentAsText(
  shown: Record<string, unknown> & { operations: Record<string, unknown>[]; callbacks: Record<string, unknown>[] },
): string {
  const lines: string[] = [];
  for (const [key, value] of Object.entries(shown)) {
    if (key === 'operations' || key === 'callbacks' || value === null) continue;
    lines.push(`${key.padEnd(14)} ${typeof value === 'object' ? JSON.stringify(value) : String(value)}`);
  }
  lines.push('operations');
  for (const operation of shown.operations) {
    lines.push(
      `  ${operation.created}  ${String(operation.type).padEnd(10)} ${String(operation.status).padEnd(8)} `
        + `${operation.amount}`
        + `${operation.decline_reason ? `  ${operation.decline_reason}` : ''}`,
    );
  }
  lines.push('callbacks');
  for (const callback of shown.callbacks) {
    lines.push(
      `  ${callback.outbox_id}  ${String(callback.state).padEnd(9)} ${callback.action ?? '?'} ${callback.result ?? ''}`
        .trimEnd(),
    );
  }
  return `${lines.join('\n')}\n`;
}
