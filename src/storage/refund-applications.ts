import type { Storage } from './database.ts';
import type { RefundApplicationTable } from './schema.ts';

export type RefundApplicationRow = RefundApplicationTable;

export async function insertRefundApplication(storage: Storage, application: RefundApplicationRow): Promise<void> {
  await storage.db.insertInto('refund_applications').values(application).execute();
}

export async function findRefundApplication(
  storage: Storage, applicationId: string,
): Promise<RefundApplicationRow | undefined> {
  return storage.db.selectFrom('refund_applications').selectAll()
    .where('application_id', '=', applicationId).executeTakeFirst();
}

/** Oldest deadline first: what the operator should answer next. At most `limit` rows. */
export async function listRefundApplications(
  storage: Storage, filter: { status?: string; merchantId?: string }, limit: number,
): Promise<RefundApplicationRow[]> {
  let query = storage.db.selectFrom('refund_applications').selectAll();
  if (filter.status) query = query.where('status', '=', filter.status);
  if (filter.merchantId) query = query.where('merchant_id', '=', filter.merchantId);
  return query.orderBy('deadline_date').orderBy('application_id').limit(limit).execute();
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
export async function applicationsOfPayment(storage: Storage, transId: string): Promise<RefundApplicationRow[]> {
  return storage.db.selectFrom('refund_applications').selectAll().where('trans_id', '=', transId)
    .orderBy('application_id').limit(100).execute();
}

/** Applications of one payment still waiting or refunding: their amounts are spoken for. */
export async function pendingApplicationsOfPayment(storage: Storage, transId: string): Promise<RefundApplicationRow[]> {
  return storage.db.selectFrom('refund_applications').selectAll()
    .where('trans_id', '=', transId).where('status', 'in', ['RECEIVED', 'APPROVING'])
    .limit(100).execute();
}
