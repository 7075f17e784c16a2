import pino from 'pino';
import type { KassaConfig } from './config.ts';
import { formatAmount } from './domain/money.ts';
import { ResolveInputError, resolveUnknownOperation } from './operations/resolve-unknown.ts';
import { buildPlatformContext } from './platform-context.ts';
import type { Storage } from './storage/database.ts';
import { listReconciliations, type ReconciliationView } from './storage/reconciliations.ts';
import type { Clock } from './domain/clock.ts';

export const reconciliationUsage = `  kassa reconciliation list [--all] [--json]  operations whose bank outcome is
                                             still unknown past the deadline (--all: every one being reconciled)
  kassa reconciliation resolve --trans-id ID [--operation-id ID] --outcome approved|declined
      [--reason TEXT]                        write the outcome you got from the bank (sends the callback)`;

export const reconciliationOptions = {
  'operation-id': { type: 'string' },
  outcome: { type: 'string' },
  reason: { type: 'string' },
  all: { type: 'boolean' },
} as const;

export { ResolveInputError };

export interface ReconciliationIo {
  stdout: (text: string) => void;
  clock?: Clock;
}

function asText(views: ReconciliationView[], nowMs: number): string {
  if (views.length === 0) return 'no operation is waiting for an operator\n';
  return views
    .map((view) => {
      const ageMinutes = Math.floor((nowMs - view.createdAtMs) / 60_000);
      const amount = `${formatAmount(view.amountMinor, view.currency)} ${view.currency}`;
      const last = view.lastAnswer ? `  last: ${view.lastAnswer}` : '';
      return (
        `${view.transId}  ${view.type} ${amount}  order ${view.orderId}  operation ${view.operationId}`
        + `  ${ageMinutes} min old, ${view.inquiryCount} inquiries${last}\n`
      );
    })
    .join('');
}

/** `kassa reconciliation list|resolve`: thin over storage/reconciliations.ts and
 * operations/resolve-unknown.ts. */
export async function reconciliationCommand(
  io: ReconciliationIo,
  verb: string,
  values: Record<string, unknown>,
  config: KassaConfig,
  storage: Storage,
): Promise<number> {
  const built = await buildPlatformContext(config, storage, {
    logger: pino({ level: 'warn' }, pino.destination(2)),
    clock: io.clock,
  });
  try {
    const nowMs = built.context.clock.nowMs();
    if (verb === 'list') {
      const views = await listReconciliations(storage, { operatorNeededOnly: values.all !== true, limit: 500 });
      io.stdout(values.json === true ? `${JSON.stringify(views)}\n` : asText(views, nowMs));
      return 0;
    }
    if (verb === 'resolve') {
      const outcome = values.outcome;
      if (outcome !== 'approved' && outcome !== 'declined')
        throw new ResolveInputError('--outcome approved|declined is required');
      const reason =
        typeof values.reason === 'string' && values.reason.trim() ? values.reason : 'Declined by processing';
      const payment = await resolveUnknownOperation(
        built.context,
        {
          transId: values['trans-id'] as string | undefined,
          operationId: values['operation-id'] as string | undefined,
        },
        outcome === 'approved' ? { outcome } : { outcome, declineReason: reason },
      );
      io.stdout(`${payment.transId}  ${payment.status}\n`);
      return 0;
    }
    throw new ResolveInputError(`unknown reconciliation command: ${verb}`);
  } finally {
    await built.close();
  }
}
