import { newId } from '../domain/ids.ts';
import { ProtocolError } from '../protocol/errors.ts';
import { listCallbacks, queueCallbackCopy } from '../storage/callbacks.ts';
import { loadPaymentAnyMerchant } from '../storage/payments.ts';
import { createChargeback } from './chargeback.ts';
import { expireChallenge } from './complete-challenge.ts';
import type { PlatformContext } from './context.ts';
import { refundOrReversePayment } from './refund-or-reverse.ts';

/**
 * `kassa trigger EVENT` (docs/adr/0078), sandbox only: what a merchant developer wants to see
 * happen to one chosen payment, made by the platform's own use cases so the merchant gets the
 * real callbacks — an issuer's chargeback, a refund, a 3-D Secure step that times out — or a
 * callback delivered the way a flaky network and retries deliver them: again (duplicated),
 * later (delayed), or an earlier one after a later one (out of order). Copies are new outbox
 * rows with the original's body and URL: signed at send time like any callback.
 */
export const triggerEvents = [
  'chargeback',
  'refund',
  '3ds-timeout',
  'callback-duplicate',
  'callback-delayed',
  'callback-out-of-order',
] as const;
export type TriggerEvent = (typeof triggerEvents)[number];

export class TriggerRefusedError extends Error {}

export interface TriggerRequest {
  event: TriggerEvent;
  transId: string;
  amount?: string;
  reasonCode?: string;
  delayMs?: number;
}

export async function triggerEvent(
  context: PlatformContext,
  request: TriggerRequest,
): Promise<Record<string, unknown>> {
  if (context.mode === 'production')
    throw new TriggerRefusedError('kassa trigger is a sandbox tool: off in production mode');
  const transId = request.transId.toLowerCase();
  const payment = await loadPaymentAnyMerchant(context.storage, transId);
  if (!payment) throw new ProtocolError('paymentNotFound');
  const nowMs = context.clock.nowMs();
  switch (request.event) {
    case 'chargeback':
      return createChargeback(context, { transId, reasonCode: request.reasonCode ?? '4837', amount: request.amount });
    case 'refund': {
      const outcome = await refundOrReversePayment(context, payment, request.amount);
      return {
        event: 'refund',
        trans_id: transId,
        kind: outcome.kind,
        result: outcome.result,
        amount_minor: outcome.amountMinor,
      };
    }
    case '3ds-timeout': {
      if (payment.status !== '3DS' && payment.status !== 'REDIRECT') {
        throw new TriggerRefusedError(
          `payment ${transId} is ${payment.status}, not waiting for 3-D Secure or a redirect`,
        );
      }
      const expired = await expireChallenge(context, transId, nowMs);
      const after = await loadPaymentAnyMerchant(context.storage, transId);
      return { event: '3ds-timeout', trans_id: transId, expired, status: after?.status ?? payment.status };
    }
    default:
      return queueCopy(context, transId, request, nowMs);
  }
}

/** The duplicated or delayed copy is of the payment's latest callback; the out-of-order one is
 * of its first, queued now so it arrives after the later ones. */
async function queueCopy(context: PlatformContext, transId: string, request: TriggerRequest, nowMs: number) {
  const callbacks = await listCallbacks(context.storage, { transId, limit: 1_000 }); // newest first
  if (callbacks.length === 0) throw new TriggerRefusedError(`payment ${transId} has no callback yet`);
  if (request.event === 'callback-out-of-order' && callbacks.length < 2) {
    throw new TriggerRefusedError(
      `payment ${transId} has one callback: out of order needs a later one (e.g. trigger refund first)`,
    );
  }
  const original = request.event === 'callback-out-of-order' ? callbacks[callbacks.length - 1] : callbacks[0];
  const delayMs = request.event === 'callback-delayed' ? (request.delayMs ?? 30_000) : 0;
  const copy = { outboxId: newId(nowMs), nowMs, dueAtMs: nowMs + delayMs };
  await queueCallbackCopy(context.storage, original.outboxId, copy);
  const body = JSON.parse(original.payloadJson) as Record<string, unknown>;
  return {
    event: request.event,
    trans_id: transId,
    copy_of: original.outboxId,
    outbox_id: copy.outboxId,
    action: body.action ?? null,
    status: body.status ?? null,
    due_in_ms: delayMs,
  };
}
