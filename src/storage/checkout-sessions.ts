import type { Storage } from './database.ts';
import type { CheckoutSessionTable } from './schema.ts';

export type CheckoutSessionRow = CheckoutSessionTable;

export async function insertCheckoutSession(storage: Storage, session: CheckoutSessionRow): Promise<void> {
  await storage.db.insertInto('checkout_sessions').values(session).execute();
}

export async function findCheckoutSession(
  storage: Storage, sessionId: string,
): Promise<CheckoutSessionRow | undefined> {
  return storage.db.selectFrom('checkout_sessions').selectAll().where('session_id', '=', sessionId).executeTakeFirst();
}

/** A fresh one-time token for the form about to be shown; only while the session may pay. */
export async function issueFormToken(
  storage: Storage, sessionId: string, formToken: string, nowMs: number,
): Promise<boolean> {
  const result = await storage.db.updateTable('checkout_sessions').set({ form_token: formToken, updated_at_ms: nowMs })
    .where('session_id', '=', sessionId).where('status', '=', 'OPEN').where('expires_at_ms', '>', nowMs)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

/**
 * Consumes the form's one-time token and marks the session PAYING. One UPDATE decides: of two
 * submissions of the same form (a double click) exactly one gets true and goes on to charge.
 * The previous (declined) attempt is forgotten, so its final state cannot reopen the session.
 */
export async function claimFormToken(
  storage: Storage, sessionId: string, formToken: string, nowMs: number,
): Promise<boolean> {
  const result = await storage.db.updateTable('checkout_sessions')
    .set({ form_token: null, status: 'PAYING', trans_id: null, updated_at_ms: nowMs })
    .where('session_id', '=', sessionId).where('form_token', '=', formToken)
    .where('status', '=', 'OPEN').where('expires_at_ms', '>', nowMs)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

/** The payment made for the claim; still PAYING until the payment is final. */
export async function recordCheckoutPayment(
  storage: Storage, sessionId: string, transId: string, nowMs: number,
): Promise<void> {
  await storage.db.updateTable('checkout_sessions').set({ trans_id: transId, updated_at_ms: nowMs })
    .where('session_id', '=', sessionId).execute();
}

/**
 * The session's payment became final: PAID when approved; OPEN again when declined, so the
 * cardholder may try another card. Conditional on the payment it reports, so a stale answer
 * about an earlier attempt cannot reopen a session.
 */
export async function settleCheckoutSession(
  storage: Storage, sessionId: string, transId: string | null, approved: boolean, nowMs: number,
): Promise<void> {
  let update = storage.db.updateTable('checkout_sessions')
    .set({ status: approved ? 'PAID' : 'OPEN', updated_at_ms: nowMs })
    .where('session_id', '=', sessionId).where('status', '=', 'PAYING');
  update = transId === null ? update.where('trans_id', 'is', null) : update.where('trans_id', '=', transId);
  await update.execute();
}
