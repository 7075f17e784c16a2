import type { Storage } from './database.ts';
import type { RefundApplicationTable } from './schema.ts';

type RefundApplicationRow = RefundApplicationTable;

/** A cardholder's application for refund as the operations see it (camelCase). */
export interface RefundApplication {
  applicationId: string;
  transId: string;
  merchantId: string;
  /** return (goods or service given back) | erroneous_charge */
  kind: string;
  reason: string;
  amountMinor: number;
  currency: string;
  contactEmail: string;
  /** RECEIVED | APPROVING (refund under way) | APPROVED | REJECTED */
  status: string;
  receivedAtMs: number;
  /** Calendar day of receipt in the platform time zone; the deadline counts from it. */
  receivedDate: string;
  /** Last business day to answer (`YYYY-MM-DD`), fixed at receipt. */
  deadlineDate: string;
  decidedAtMs: number | null;
  decisionNote: string | null;
}

function applicationFromRow(row: RefundApplicationRow): RefundApplication {
  return {
    applicationId: row.application_id, transId: row.trans_id, merchantId: row.merchant_id, kind: row.kind,
    reason: row.reason, amountMinor: Number(row.amount_minor), currency: row.currency, contactEmail: row.contact_email,
    status: row.status, receivedAtMs: Number(row.received_at_ms), receivedDate: row.received_date,
    deadlineDate: row.deadline_date, decidedAtMs: row.decided_at_ms === null ? null : Number(row.decided_at_ms),
    decisionNote: row.decision_note,
  };
}

export async function insertRefundApplication(storage: Storage, application: RefundApplication): Promise<void> {
  await storage.db.insertInto('refund_applications').values({
    application_id: application.applicationId, trans_id: application.transId, merchant_id: application.merchantId,
    kind: application.kind, reason: application.reason, amount_minor: application.amountMinor,
    currency: application.currency, contact_email: application.contactEmail, status: application.status,
    received_at_ms: application.receivedAtMs, received_date: application.receivedDate,
    deadline_date: application.deadlineDate, decided_at_ms: application.decidedAtMs,
    decision_note: application.decisionNote,
  }).execute();
}

export async function findRefundApplication(
  storage: Storage, applicationId: string,
): Promise<RefundApplication | undefined> {
  const row = await storage.db.selectFrom('refund_applications').selectAll()
    .where('application_id', '=', applicationId).executeTakeFirst();
  return row && applicationFromRow(row);
}

/** Oldest deadline first: what the operator should answer next. At most `limit` rows. */
export async function listRefundApplications(
  storage: Storage, filter: { status?: string; merchantId?: string }, limit: number,
): Promise<RefundApplication[]> {
  let query = storage.db.selectFrom('refund_applications').selectAll();
  if (filter.status) query = query.where('status', '=', filter.status);
  if (filter.merchantId) query = query.where('merchant_id', '=', filter.merchantId);
  const rows = await query.orderBy('deadline_date').orderBy('application_id').limit(limit).execute();
  return rows.map(applicationFromRow);
}

/**
 * Moves an application from one status to another only if it is still in `from`: two operators
 * approving at once cannot both start a refund.
 */
export async function moveRefundApplication(
  storage: Storage, applicationId: string, from: string, to: string,
  decision: { decidedAtMs: number | null; note: string | null },
): Promise<boolean> {
  const result = await storage.db.updateTable('refund_applications')
    .set({ status: to, decided_at_ms: decision.decidedAtMs, decision_note: decision.note })
    .where('application_id', '=', applicationId).where('status', '=', from)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

/** Every application of one payment, oldest first (a payment has a handful at most). */
export async function applicationsOfPayment(storage: Storage, transId: string): Promise<RefundApplication[]> {
  const rows = await storage.db.selectFrom('refund_applications').selectAll().where('trans_id', '=', transId)
    .orderBy('application_id').limit(100).execute();
  return rows.map(applicationFromRow);
}

/** Applications of one payment still waiting or refunding: their amounts are spoken for. */
export async function pendingApplicationsOfPayment(storage: Storage, transId: string): Promise<RefundApplication[]> {
  const rows = await storage.db.selectFrom('refund_applications').selectAll()
    .where('trans_id', '=', transId).where('status', 'in', ['RECEIVED', 'APPROVING'])
    .limit(100).execute();
  return rows.map(applicationFromRow);
}
