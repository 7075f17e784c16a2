import type { Storage } from './database.ts';
import type { CheckoutSessionTable } from './schema.ts';

type CheckoutSessionRow = CheckoutSessionTable;

/** A hosted payment page's session as the operations see it: camelCase, flags as booleans. */
export interface CheckoutSession {
  sessionId: string;
  merchantId: string;
  orderId: string;
  amountMinor: number;
  currency: string;
  orderDescription: string;
  payerEmail: string;
  successUrl: string;
  declineUrl: string;
  isAuth: boolean;
  recurringInit: boolean;
  requestToken: boolean;
  language: string | null;
  /** OPEN (may take a payment) | PAYING (a payment is under way) | PAID (approved, final). */
  status: string;
  formToken: string | null;
  /** The latest payment made on the page. */
  transId: string | null;
  expiresAtMs: number;
  createdAtMs: number;
}

function sessionFromRow(row: CheckoutSessionRow): CheckoutSession {
  return {
    sessionId: row.session_id, merchantId: row.merchant_id, orderId: row.order_id,
    amountMinor: Number(row.amount_minor), currency: row.currency, orderDescription: row.order_description,
    payerEmail: row.payer_email,
    successUrl: row.success_url, declineUrl: row.decline_url, isAuth: Number(row.is_auth) === 1,
    recurringInit: Number(row.recurring_init) === 1, requestToken: Number(row.request_token) === 1,
    language: row.language, status: row.status, formToken: row.form_token, transId: row.trans_id,
    expiresAtMs: Number(row.expires_at_ms), createdAtMs: Number(row.created_at_ms),
  };
}

export async function insertCheckoutSession(storage: Storage, session: CheckoutSession): Promise<void> {
  await storage.db.insertInto('checkout_sessions').values({
    session_id: session.sessionId, merchant_id: session.merchantId, order_id: session.orderId,
    amount_minor: session.amountMinor, currency: session.currency, order_description: session.orderDescription,
    payer_email: session.payerEmail, success_url: session.successUrl, decline_url: session.declineUrl,
    is_auth: session.isAuth ? 1 : 0, recurring_init: session.recurringInit ? 1 : 0,
    request_token: session.requestToken ? 1 : 0, language: session.language, status: session.status,
    form_token: session.formToken, trans_id: session.transId, expires_at_ms: session.expiresAtMs,
    created_at_ms: session.createdAtMs, updated_at_ms: session.createdAtMs,
  }).execute();
}

export async function loadCheckoutSession(storage: Storage, sessionId: string): Promise<CheckoutSession | undefined> {
  const row = await storage.db.selectFrom('checkout_sessions').selectAll().where('session_id', '=', sessionId)
    .executeTakeFirst();
  return row && sessionFromRow(row);
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
