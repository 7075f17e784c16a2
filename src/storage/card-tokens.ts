import type { Kysely, Transaction } from 'kysely';
import type { CardTokenTable, Database } from './schema.ts';
import type { Payment } from '../domain/payment.ts';
import type { Storage } from './database.ts';
import { paymentFromRow, type PaymentRow } from './payments.ts';

type Executor = Kysely<Database> | Transaction<Database>;

export async function insertCardToken(transaction: Transaction<Database>, row: CardTokenTable): Promise<void> {
  await transaction.insertInto('card_tokens').values(row).execute();
}

/** The token row and the payment that holds its card (the card stays encrypted there). */
export async function findCardToken(
  db: Executor, tokenFingerprint: string,
): Promise<{ token: CardTokenTable; payment: PaymentRow } | undefined> {
  const token = await db.selectFrom('card_tokens').selectAll().where('token_fingerprint', '=', tokenFingerprint).executeTakeFirst();
  if (!token) return undefined;
  const payment = await db.selectFrom('payments').selectAll().where('trans_id', '=', token.source_trans_id).executeTakeFirst();
  return payment ? { token, payment } : undefined;
}

/** A card token's owner, expiry and the payment that holds its card (findCardToken, mapped). */
export async function loadCardToken(
  storage: Storage, tokenFingerprint: string,
): Promise<{ merchantId: string; expiresAtMs: number; payment: Payment } | undefined> {
  const found = await findCardToken(storage.db, tokenFingerprint);
  if (!found) return undefined;
  return {
    merchantId: found.token.merchant_id, expiresAtMs: Number(found.token.expires_at_ms),
    payment: paymentFromRow(found.payment),
  };
}
