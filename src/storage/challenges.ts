import type { Kysely, Transaction } from 'kysely';
import { callbacksCommitted } from './callback-signal.ts';
import type { ChallengeTable, Database } from './schema.ts';
import type { Storage } from './database.ts';
import type { PaymentOperation } from '../domain/payment.ts';
import { ClaimLostError, operationRowOf, type OutboxRow } from './payments.ts';

export interface NewChallenge {
  transId: string;
  kind: '3DS' | 'REDIRECT';
  nowMs: number;
  expiresAtMs: number;
  /** The CVV, held for the authorization after the cardholder's step; null when the bank already
   * has it (3-D Secure pass-through: nothing is kept, docs/adr/0097). */
  cvvCiphertext: string | null;
}

/** Inside the transaction that puts the payment into 3DS/REDIRECT: the challenge and the held
 * CVV, if any. */
export async function saveChallenge(transaction: Transaction<Database>, challenge: NewChallenge): Promise<void> {
  await transaction.insertInto('challenges').values({
    trans_id: challenge.transId, kind: challenge.kind, failed_attempts: 0,
    expires_at_ms: challenge.expiresAtMs, created_at_ms: challenge.nowMs,
  }).execute();
  if (challenge.cvvCiphertext === null) return;
  await transaction.insertInto('card_secrets').values({
    trans_id: challenge.transId, cvv_ciphertext: challenge.cvvCiphertext, erase_after_ms: challenge.expiresAtMs,
  }).execute();
}

/**
 * For a payment already stored in PREPARE (a connector to a real bank), held by its authorizing
 * sub-transaction: the cardholder must act. Moves it into 3DS/REDIRECT and lets the claim go,
 * conditional on the claim (`operation_lock = operationId`): nothing is written, and
 * ClaimLostError is thrown, unless exactly one row changed.
 */
export async function beginChallengeOfPrepared(
  storage: Storage, challenge: NewChallenge, operationId: string,
  operations: readonly PaymentOperation[], callbacks: OutboxRow[],
): Promise<void> {
  await storage.write(async (transaction) => {
    const moved = await transaction.updateTable('payments')
      .set({ status: challenge.kind, operation_lock: null, updated_at_ms: challenge.nowMs })
      .where('trans_id', '=', challenge.transId).where('operation_lock', '=', operationId).executeTakeFirst();
    if (Number(moved.numUpdatedRows) !== 1) throw new ClaimLostError(operationId, 'the payment is not held by it');
    if (operations.length > 0) await transaction.insertInto('payment_operations').values(operations.map(operationRowOf)).execute();
    if (callbacks.length > 0) await transaction.insertInto('outbox').values(callbacks).execute();
    await saveChallenge(transaction, challenge);
  });
  callbacksCommitted(callbacks);
}

/** Whether the payment still has its challenge row (the sweeper removes it once the wait is over). */
export async function hasChallenge(storage: Storage, transId: string): Promise<boolean> {
  return (await findChallenge(storage.db, transId)) !== undefined;
}

export async function findChallenge(db: Kysely<Database>, transId: string): Promise<ChallengeTable | undefined> {
  return db.selectFrom('challenges').selectAll().where('trans_id', '=', transId).executeTakeFirst();
}

/** One wrong one-time code more; returns how many wrong codes there have been. */
export async function countFailedCode(storage: Storage, transId: string): Promise<number> {
  return storage.db.transaction().execute(async (transaction) => {
    await transaction.updateTable('challenges').set((eb) => ({ failed_attempts: eb('failed_attempts', '+', 1) }))
      .where('trans_id', '=', transId).execute();
    const row = await transaction.selectFrom('challenges').select('failed_attempts').where('trans_id', '=', transId).executeTakeFirst();
    return row?.failed_attempts ?? 0;
  });
}

/**
 * Takes a waiting payment out of 3DS/REDIRECT into PREPARE (authorizing), and reads the held
 * CVV. Only one caller can win: a replayed TermUrl or a double-clicked button finds the
 * payment no longer waiting. Returns undefined when it was not waiting.
 */
export async function claimChallenge(
  storage: Storage, transId: string, nowMs: number,
): Promise<{ kind: '3DS' | 'REDIRECT'; cvvCiphertext: string | undefined } | undefined> {
  return storage.write(async (transaction) => {
    const claimed = await transaction.updateTable('payments').set({ status: 'PREPARE', updated_at_ms: nowMs })
      .where('trans_id', '=', transId).where('status', 'in', ['3DS', 'REDIRECT']).executeTakeFirst();
    if (Number(claimed.numUpdatedRows) !== 1) return undefined;
    const challenge = await transaction.selectFrom('challenges').select('kind').where('trans_id', '=', transId).executeTakeFirst();
    const secret = await transaction.selectFrom('card_secrets').select(['cvv_ciphertext', 'erase_after_ms'])
      .where('trans_id', '=', transId).executeTakeFirst();
    const usable = secret && Number(secret.erase_after_ms) > nowMs ? secret.cvv_ciphertext : undefined;
    return { kind: (challenge?.kind ?? '3DS') as '3DS' | 'REDIRECT', cvvCiphertext: usable };
  });
}

/** Challenges past their deadline, oldest first, at most `limit` (the sweeper's bound). */
export async function findExpiredChallenges(storage: Storage, nowMs: number, limit: number): Promise<string[]> {
  const rows = await storage.db.selectFrom('challenges').select('trans_id').where('expires_at_ms', '<=', nowMs)
    .orderBy('expires_at_ms').limit(limit).execute();
  return rows.map((row) => row.trans_id);
}

/** Erases every held CVV whose deadline has passed, whatever else happened; returns how many. */
export async function eraseOverdueCardSecrets(storage: Storage, nowMs: number): Promise<number> {
  const result = await storage.db.deleteFrom('card_secrets').where('erase_after_ms', '<=', nowMs).executeTakeFirst();
  return Number(result.numDeletedRows);
}

export async function deleteChallenge(storage: Storage, transId: string): Promise<void> {
  await storage.db.deleteFrom('challenges').where('trans_id', '=', transId).execute();
}
