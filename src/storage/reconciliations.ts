import { type Kysely, sql } from 'kysely';
import { callbacksCommitted } from './callback-signal.ts';
import type { Storage } from './database.ts';
import type { Database } from './schema.ts';
import type { OutboxRow } from './payments.ts';

/** Sub-transactions whose acquirer outcome can be unknown, and what holds the payment for each. */
const authorizationTypes = ['SALE', 'AUTH', 'DEBIT', 'TRANSFER', 'CREDIT'] as const;
const lockingTypes = ['CAPTURE', 'VOID', 'REVERSAL'] as const;

/** A waiting operation the reconciler may ask about now. */
export interface UnknownOperation {
  operationId: string;
  transId: string;
  merchantId: string;
  type: string;
  amountMinor: number;
  currency: string;
  createdAtMs: number;
  inquiryCount: number;
  cardBin: string;
  cardLastFour: string;
  cardExpiry: string;
  payerEmail: string;
  /** The MID that processed the payment (routing); null for payments from before routing. */
  midId: string | null;
  /** When it was put in front of an operator; null while it is not (yet). */
  operatorNeededAtMs: number | null;
}

export interface CandidateQuery {
  /** Operations created at or before this are past the grace (their own call is over). */
  createdBeforeMs: number;
  nowMs: number;
  limit: number;
}

/**
 * Waiting money operations still held by their claim — an authorization whose payment is
 * PREPARE (not one waiting for the cardholder's 3-D Secure step), a capture, void or reversal
 * holding `operation_lock`, a refund holding its reservation — past the grace, not resolved,
 * due for an inquiry and not leased by another node. Oldest first.
 */
export async function findUnknownOperations(storage: Storage, query: CandidateQuery): Promise<UnknownOperation[]> {
  const rows = await storage.db
    .selectFrom('payment_operations as o')
    .innerJoin('payments as p', 'p.trans_id', 'o.trans_id')
    .leftJoin('reconciliations as r', 'r.operation_id', 'o.operation_id')
    .select([
      'o.operation_id',
      'o.trans_id',
      'p.merchant_id',
      'o.type',
      'o.amount_minor',
      'p.currency',
      'o.created_at_ms',
      'r.inquiry_count',
      'p.card_bin',
      'p.card_last_four',
      'p.card_expiry',
      'p.payer_email',
      'p.mid_id',
      'r.operator_needed_at_ms',
    ])
    .where('o.status', '=', 'waiting')
    .where('o.created_at_ms', '<=', query.createdBeforeMs)
    .where((eb) =>
      eb.or([
        eb.and([eb('o.type', 'in', authorizationTypes), eb('p.status', '=', 'PREPARE')]),
        eb.and([eb('o.type', 'in', lockingTypes), eb('p.operation_lock', '=', eb.ref('o.operation_id'))]),
        eb('o.type', '=', 'REFUND'),
      ]),
    )
    .where((eb) =>
      eb.or([
        eb('r.operation_id', 'is', null),
        eb.and([
          eb('r.resolved_at_ms', 'is', null),
          eb('r.next_inquiry_at_ms', '<=', query.nowMs),
          eb.or([eb('r.claimed_until_ms', 'is', null), eb('r.claimed_until_ms', '<', query.nowMs)]),
        ]),
      ]),
    )
    .orderBy('o.created_at_ms')
    .orderBy('o.operation_id')
    .limit(query.limit)
    .execute();
  return rows.map((row) => ({
    operationId: row.operation_id,
    transId: row.trans_id,
    merchantId: row.merchant_id,
    type: row.type,
    amountMinor: Number(row.amount_minor),
    currency: row.currency,
    createdAtMs: Number(row.created_at_ms),
    inquiryCount: Number(row.inquiry_count ?? 0),
    cardBin: row.card_bin,
    cardLastFour: row.card_last_four,
    cardExpiry: row.card_expiry,
    payerEmail: row.payer_email,
    midId: row.mid_id ?? null,
    operatorNeededAtMs: row.operator_needed_at_ms === null || row.operator_needed_at_ms === undefined
      ? null : Number(row.operator_needed_at_ms),
  }));
}

/**
 * Leases one operation to this node: inserts its record, or takes the existing one if it is
 * due, unresolved and not leased. One statement; on PostgreSQL the conflicting row is locked and
 * the condition read again, so of several nodes exactly one gets it. true when it is ours.
 */
export async function claimUnknownOperation(
  storage: Storage,
  operation: UnknownOperation,
  claim: { token: string; untilMs: number; nowMs: number },
): Promise<boolean> {
  const claimed = await storage.db
    .insertInto('reconciliations')
    .values({
      operation_id: operation.operationId,
      trans_id: operation.transId,
      inquiry_count: 0,
      next_inquiry_at_ms: claim.nowMs,
      claimed_until_ms: claim.untilMs,
      claim_token: claim.token,
      created_at_ms: claim.nowMs,
    })
    .onConflict((conflict) =>
      conflict
        .column('operation_id')
        .doUpdateSet({ claimed_until_ms: claim.untilMs, claim_token: claim.token })
        .where('reconciliations.resolved_at_ms', 'is', null)
        .where('reconciliations.next_inquiry_at_ms', '<=', claim.nowMs)
        .where((eb) =>
          eb.or([
            eb('reconciliations.claimed_until_ms', 'is', null),
            eb('reconciliations.claimed_until_ms', '<', claim.nowMs),
          ]),
        ),
    )
    .returning('operation_id')
    .executeTakeFirst();
  return claimed !== undefined;
}

/** The inquiry did not tell: ask again at `nextInquiryAtMs`. Conditional on this node's lease. */
export async function recordInquiryUnknown(
  storage: Storage,
  operationId: string,
  token: string,
  update: { answer: string; nextInquiryAtMs: number },
): Promise<void> {
  await releaseAfterInquiry(storage.db, operationId, token, update);
}

/** Counts the inquiry, notes its answer and the next one's time, and gives up this node's lease. */
async function releaseAfterInquiry(
  db: Kysely<Database>, operationId: string, token: string, update: { answer: string; nextInquiryAtMs: number },
): Promise<void> {
  await db
    .updateTable('reconciliations')
    .set({
      inquiry_count: sql`inquiry_count + 1`,
      next_inquiry_at_ms: update.nextInquiryAtMs,
      last_answer: update.answer.slice(0, 500),
      claimed_until_ms: null,
      claim_token: null,
    })
    .where('operation_id', '=', operationId)
    .where('claim_token', '=', token)
    .execute();
}

/**
 * Still unknown past the deadline: the operation goes on the operator's list and the merchant's
 * PREPARE callback, if it gets one (docs/adr/0096), goes to the outbox, in one transaction, only
 * if this write is the one that put it there (conditional on this node's lease and on
 * `operator_needed_at_ms` still being empty), so the callback is written once per escalation
 * however many nodes or runs try. Records the inquiry as recordInquiryUnknown does. true when it
 * escalated now.
 */
export async function recordEscalation(
  storage: Storage,
  operationId: string,
  token: string,
  update: { answer: string; nextInquiryAtMs: number; operatorNeededAtMs: number },
  callback: OutboxRow | undefined,
): Promise<boolean> {
  const escalated = await storage.write(async (transaction) => {
    const marked = await transaction
      .updateTable('reconciliations')
      .set({ operator_needed_at_ms: update.operatorNeededAtMs })
      .where('operation_id', '=', operationId)
      .where('claim_token', '=', token)
      .where('operator_needed_at_ms', 'is', null)
      .executeTakeFirst();
    const now = Number(marked.numUpdatedRows) === 1;
    if (now && callback) await transaction.insertInto('outbox').values(callback).execute();
    await releaseAfterInquiry(transaction, operationId, token, update);
    return now;
  });
  if (escalated && callback) callbacksCommitted([callback]);
  return escalated;
}

/** The outcome is written (or was, by someone else): the record is closed. Inserts one when an
 * operator resolves an operation the reconciler had not reached yet. */
export async function recordResolution(
  storage: Storage,
  operation: { operationId: string; transId: string },
  resolution: { outcome: string; by: string; nowMs: number },
): Promise<void> {
  const closed = {
    resolution: resolution.outcome,
    resolved_by: resolution.by,
    resolved_at_ms: resolution.nowMs,
    claimed_until_ms: null,
    claim_token: null,
  };
  await storage.db
    .insertInto('reconciliations')
    .values({
      operation_id: operation.operationId,
      trans_id: operation.transId,
      inquiry_count: 0,
      next_inquiry_at_ms: resolution.nowMs,
      created_at_ms: resolution.nowMs,
      ...closed,
    })
    .onConflict((conflict) => conflict.column('operation_id').doUpdateSet(closed))
    .execute();
}

/** One line of the operator's list. */
export interface ReconciliationView {
  operationId: string;
  transId: string;
  merchantId: string;
  orderId: string;
  type: string;
  amountMinor: number;
  currency: string;
  createdAtMs: number;
  inquiryCount: number;
  lastAnswer: string | null;
  operatorNeededAtMs: number | null;
}

/** Operations still waiting with a reconciliation record: those past the deadline only
 * (the operator's list), or every one being reconciled. */
export async function listReconciliations(
  storage: Storage,
  options: { operatorNeededOnly: boolean; limit: number },
): Promise<ReconciliationView[]> {
  let query = storage.db
    .selectFrom('reconciliations as r')
    .innerJoin('payment_operations as o', 'o.operation_id', 'r.operation_id')
    .innerJoin('payments as p', 'p.trans_id', 'o.trans_id')
    .select([
      'r.operation_id',
      'o.trans_id',
      'p.merchant_id',
      'p.order_id',
      'o.type',
      'o.amount_minor',
      'p.currency',
      'o.created_at_ms',
      'r.inquiry_count',
      'r.last_answer',
      'r.operator_needed_at_ms',
    ])
    .where('r.resolved_at_ms', 'is', null)
    .where('o.status', '=', 'waiting');
  if (options.operatorNeededOnly) query = query.where('r.operator_needed_at_ms', 'is not', null);
  const rows = await query.orderBy('o.created_at_ms').limit(options.limit).execute();
  return rows.map((row) => ({
    operationId: row.operation_id,
    transId: row.trans_id,
    merchantId: row.merchant_id,
    orderId: row.order_id,
    type: row.type,
    amountMinor: Number(row.amount_minor),
    currency: row.currency,
    createdAtMs: Number(row.created_at_ms),
    inquiryCount: Number(row.inquiry_count),
    lastAnswer: row.last_answer,
    operatorNeededAtMs: row.operator_needed_at_ms === null ? null : Number(row.operator_needed_at_ms),
  }));
}
