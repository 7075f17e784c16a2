import { newId } from '../domain/ids.ts';
import {
  afterOutcome,
  type KnownOutcome,
  type MoneyDecision,
  type Payment,
  type PaymentOperation,
} from '../domain/payment.ts';
import { ProtocolError } from '../protocol/errors.ts';
import {
  ClaimLostError,
  finishClaimedOperation,
  loadOperation,
  loadPaymentAnyMerchant,
  type ChallengeStepResult,
  type OperationFinish,
  type PaymentUpdate,
} from '../storage/payments.ts';
import type { PlatformContext } from './context.ts';
import { finishedOperationCallbackRow } from './callback-writer.ts';

/** Sub-transactions that authorize a payment; after 3-D Secure they finish with the payment in PREPARE. */
const authorizationTypes: ReadonlySet<string> = new Set(['SALE', 'AUTH', 'DEBIT', 'TRANSFER', 'CREDIT']);

/** The 3-D Secure step finished together with the authorization it led to. */
export type ChallengeStep = ChallengeStepResult;

export interface FinishOptions {
  /** 3-D Secure: the cardholder's step, finished in the same transaction. */
  challenge?: ChallengeStep;
  /** The merchant's callback URL when the caller knows it (see callbackRow). */
  merchantCallbackUrl?: string | null;
  /** A cascade's intermediate attempt (ADR 0053): the merchant is not called back for it. */
  noCallback?: boolean;
}

/**
 * Writes a now-known outcome of a waiting money operation — the payment, the sub-transaction and
 * the merchant's callback, in one transaction, conditional on the claim the operation holds (its
 * `operation_lock`, its refund reservation, or PREPARE after 3-D Secure). The normal path calls
 * it right after the acquirer answers; finishUnknownOperation calls it once an unknown outcome
 * has become known. Throws ClaimLostError if the claim is no longer this operation's.
 */
export async function finishOperation(
  context: PlatformContext,
  payment: Payment,
  operation: PaymentOperation,
  outcome: KnownOutcome,
  options: FinishOptions = {},
): Promise<Payment> {
  const nowMs = context.clock.nowMs();
  const approved = outcome.outcome === 'approved';
  const declineReason = outcome.outcome === 'declined' ? outcome.declineReason : null;
  const finish: OperationFinish = {
    operation,
    hold: 'lock',
    operationStatus: approved ? 'success' : 'fail',
    declineReason,
    change: {},
    challenge: options.challenge,
    nowMs,
    callbacksFor: (after) => options.noCallback ? [] : [
      finishedOperationCallbackRow(context, after, operation, outcome, nowMs, options.merchantCallbackUrl),
    ],
  };
  const held = heldDecisionOf(operation);
  if (held?.kind === 'refund') {
    finish.hold = 'refund';
    if (!approved) finish.releaseRefundMinor = operation.amountMinor;
  } else if (held) {
    // The domain says what the outcome does to the payment; the write applies it under the claim.
    const after = afterOutcome(payment, held, outcome, nowMs);
    if (approved)
      finish.change = { status: after.status, capturedMinor: after.capturedMinor, settledAtMs: after.settledAtMs };
  } else {
    if (!authorizationTypes.has(operation.type)) throw new Error(`operation type ${operation.type} cannot be finished`);
    // A PREPARE-first SALE is held by its own sub-transaction (operations/sale.ts); after 3-D
    // Secure the payment's PREPARE is the claim (the return from the issuer took it).
    finish.hold = payment.operationLock === operation.operationId ? 'lock' : 'prepare';
    finish.change = authorizationChange(payment, outcome, nowMs);
  }
  return finishClaimedOperation(context.storage, finish);
}

/**
 * The normal path's finish after the bank answered: as finishOperation, except that when the
 * claim was finished meanwhile by someone else who asked the bank — its callback (docs/adr/0093)
 * or the reconciler — the payment is read back as they wrote it: the bank's word is the same.
 */
export async function finishAnswered(
  context: PlatformContext,
  payment: Payment,
  operation: PaymentOperation,
  outcome: KnownOutcome,
  options: FinishOptions = {},
): Promise<Payment> {
  try {
    return await finishOperation(context, payment, operation, outcome, options);
  } catch (error) {
    if (!(error instanceof ClaimLostError)) throw error;
    return (await loadPaymentAnyMerchant(context.storage, payment.transId)) ?? payment;
  }
}

/** The money decision a waiting CAPTURE, REFUND, REVERSAL or VOID sub-transaction carries out. */
function heldDecisionOf(operation: PaymentOperation): MoneyDecision | undefined {
  const kinds: Record<string, MoneyDecision['kind']> = {
    CAPTURE: 'capture',
    REFUND: 'refund',
    REVERSAL: 'reversal',
    VOID: 'void',
  };
  const kind = kinds[operation.type];
  return kind === undefined ? undefined : ({ kind, amountMinor: operation.amountMinor } as MoneyDecision);
}

function authorizationChange(payment: Payment, outcome: KnownOutcome, nowMs: number): PaymentUpdate {
  if (outcome.outcome === 'declined') return { status: 'DECLINED', declineReason: outcome.declineReason };
  return {
    status: payment.isAuth ? 'PENDING' : 'SETTLED',
    capturedMinor: payment.isAuth ? 0 : payment.amountMinor,
    settledAtMs: payment.isAuth ? null : nowMs,
    declineReason: null,
    descriptor: outcome.descriptor ?? payment.descriptor,
  };
}

/**
 * The reconciler's seam: an operation whose acquirer outcome was unknown (still `waiting`,
 * its claim held) has become known — the connector's `inquire`, or an operator who asked the
 * bank. Writes it exactly as the normal path would have, callback included. 208001 when there
 * is no such operation; ClaimLostError when it is no longer waiting.
 */
export async function finishUnknownOperation(
  context: PlatformContext,
  operationId: string,
  outcome: KnownOutcome,
): Promise<Payment> {
  const operation = await loadOperation(context.storage, operationId);
  const payment = operation && (await loadPaymentAnyMerchant(context.storage, operation.transId));
  if (!operation || !payment) throw new ProtocolError('paymentNotFound');
  return finishOperation(context, payment, operation, outcome);
}

/** A new `waiting` sub-transaction of a payment. */
export function newOperation(transId: string, type: string, amountMinor: number, nowMs: number): PaymentOperation {
  return {
    operationId: newId(nowMs),
    transId,
    type,
    status: 'waiting',
    amountMinor,
    declineReason: null,
    createdAtMs: nowMs,
  };
}
