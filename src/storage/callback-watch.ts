import { sql } from 'kysely';
import type { Storage } from './database.ts';

/** A committed callback as `kassa listen` shows it, with what signing it needs. */
export interface WatchedCallback {
  outboxId: string;
  transId: string;
  createdAtMs: number;
  payloadJson: string;
  clientKey: string;
  callbackUrl: string | null;
  passwordCiphertext: string;
  hashDigest: 'md5' | 'sha256';
  payerEmail: string | null;
  cardDigits: string | null;
}

export interface WatchedAttempt {
  attemptId: string;
  outboxId: string;
  attemptedAtMs: number;
  url: string;
  statusCode: number | null;
  responseExcerpt: string | null;
  durationMs: number;
  outcome: string;
}

/** Callbacks committed at or after `sinceMs` (oldest first, at most `limit`), of one merchant
 * or all. The caller skips those it has shown: a look-back window, not an id cursor, because a
 * transaction that began earlier may commit later. */
export async function callbacksSince(
  storage: Storage,
  sinceMs: number,
  limit: number,
  clientKey?: string,
): Promise<WatchedCallback[]> {
  let query = storage.db
    .selectFrom('outbox as o')
    .innerJoin('merchants as m', 'm.merchant_id', 'o.merchant_id')
    .leftJoin('payments as p', 'p.trans_id', 'o.trans_id')
    .select([
      'o.outbox_id',
      'o.trans_id',
      'o.created_at_ms',
      'o.payload_json',
      'm.client_key',
      sql<string | null>`coalesce(o.callback_url, m.callback_url)`.as('callback_url'),
      'm.password_ciphertext',
      'm.hash_digest',
      'p.payer_email',
      'p.card_bin',
      'p.card_last_four',
    ])
    .where('o.topic', '=', 'callback')
    .where('o.created_at_ms', '>=', sinceMs);
  if (clientKey) query = query.where('m.client_key', '=', clientKey);
  const rows = await query.orderBy('o.created_at_ms').orderBy('o.outbox_id').limit(limit).execute();
  return rows.map((row) => ({
    outboxId: row.outbox_id,
    transId: row.trans_id,
    createdAtMs: Number(row.created_at_ms),
    payloadJson: row.payload_json,
    clientKey: row.client_key,
    callbackUrl: row.callback_url,
    passwordCiphertext: row.password_ciphertext,
    hashDigest: row.hash_digest === 'sha256' ? 'sha256' : 'md5',
    payerEmail: row.payer_email,
    cardDigits: row.card_bin === null ? null : `${row.card_bin}${row.card_last_four}`,
  }));
}

/** The delivery attempts of these callbacks begun at or after `sinceMs` (oldest first, at most
 * `limit`): a window that moves with the attempts shown, so retries after many earlier attempts
 * are still reached. */
export async function attemptsOf(
  storage: Storage, outboxIds: string[], sinceMs: number, limit: number,
): Promise<WatchedAttempt[]> {
  if (outboxIds.length === 0) return [];
  const rows = await storage.db
    .selectFrom('callback_attempts')
    .selectAll()
    .where('outbox_id', 'in', outboxIds)
    .where('attempted_at_ms', '>=', sinceMs)
    .orderBy('attempted_at_ms')
    .orderBy('attempt_id')
    .limit(limit)
    .execute();
  return rows.map((row) => ({
    attemptId: row.attempt_id,
    outboxId: row.outbox_id,
    attemptedAtMs: Number(row.attempted_at_ms),
    url: row.url,
    statusCode: row.status_code,
    responseExcerpt: row.response_excerpt,
    durationMs: Number(row.duration_ms),
    outcome: row.outcome,
  }));
}
