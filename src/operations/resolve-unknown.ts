import type { KnownOutcome, Payment } from '../domain/payment.ts';
import { loadOperation, loadOperations } from '../storage/payments.ts';
import { recordResolution } from '../storage/reconciliations.ts';
import type { PlatformContext } from './context.ts';
import { finishUnknownOperation } from './finish-operation.ts';

/** Sub-transactions whose acquirer outcome can be unknown. */
const moneyTypes = new Set(['SALE', 'AUTH', 'DEBIT', 'TRANSFER', 'CREDIT', 'CAPTURE', 'REFUND', 'REVERSAL', 'VOID']);

export class ResolveInputError extends Error {}

/**
 * An operator, having asked the bank, writes the outcome of an operation the reconciler could
 * not find out (`kassa reconciliation resolve`): the same write as the normal path, merchant's
 * callback included, and the reconciliation record closed so nobody asks again.
 */
export async function resolveUnknownOperation(
  context: PlatformContext,
  which: { transId?: string; operationId?: string },
  outcome: KnownOutcome,
): Promise<Payment> {
  let operationId = which.operationId;
  if (!operationId) {
    if (!which.transId) throw new ResolveInputError('--trans-id or --operation-id is required');
    const waiting = (await loadOperations(context.storage, which.transId)).filter(
      (operation) => operation.status === 'waiting' && moneyTypes.has(operation.type),
    );
    if (waiting.length === 0)
      throw new ResolveInputError(`payment ${which.transId} has no operation waiting for an outcome`);
    if (waiting.length > 1) {
      const ids = waiting.map((operation) => `${operation.type} ${operation.operationId}`).join(', ');
      throw new ResolveInputError(
        `payment ${which.transId} has several waiting operations (${ids}): give --operation-id`,
      );
    }
    operationId = waiting[0].operationId;
  }
  const operation = await loadOperation(context.storage, operationId);
  if (operation?.status !== 'waiting')
    throw new ResolveInputError(`operation ${operationId} is not waiting`);
  const payment = await finishUnknownOperation(context, operationId, outcome);
  await recordResolution(context.storage, operation, {
    outcome: outcome.outcome,
    by: 'operator',
    nowMs: context.clock.nowMs(),
  });
  return payment;
}
