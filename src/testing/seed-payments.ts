import { sql } from 'kysely';
import { newId } from '../domain/ids.ts';
import type { Storage } from '../storage/database.ts';

/**
 * Payments written straight into a fresh database in batches — the SALE path is not what they
 * are for: the console's search bench (bench/console-search.ts) and the console's browser test
 * look for one payment among many. Shaped like real rows (statuses, amounts, card ends, 30 days
 * of dates) over merchants of their own; their card ciphertexts are placeholders, so none of
 * them is meant to be opened.
 */
export interface BackgroundPayments {
  count: number;
  merchantCount: number;
  /** The first payment's time; they spread over 30 days from it. */
  startMs: number;
}

const dayMs = 24 * 60 * 60 * 1000;
const statuses = ['SETTLED', 'SETTLED', 'SETTLED', 'SETTLED', 'DECLINED', 'PENDING', 'REFUND', 'PREPARE'] as const;

/** The id (and client_key) of the index-th background merchant. */
export function backgroundMerchantId(index: number): string {
  return `00000000-0000-7000-8000-${String(index).padStart(12, '0')}`;
}

export async function seedBackgroundPayments(storage: Storage, seed: BackgroundPayments): Promise<void> {
  await storage.db.insertInto('merchants').values(Array.from({ length: seed.merchantCount }, (_, index) => ({
    merchant_id: backgroundMerchantId(index), client_key: backgroundMerchantId(index), password_ciphertext: 'x',
    email: 'm@bench.test', callback_url: null, allowed_ips_json: '[]', channels_json: '[]', three_ds_enabled: 0,
    s2s_card_enabled: 1, descriptor: `BENCH ${index}`, created_at_ms: seed.startMs, updated_at_ms: seed.startMs,
  }))).execute();
  const batchSize = storage.dialect === 'sqlite' ? 500 : 1_000;
  for (let offset = 0; offset < seed.count; offset += batchSize) {
    const rows = [];
    for (let index = offset; index < Math.min(seed.count, offset + batchSize); index += 1) {
      rows.push(backgroundPayment(seed, index));
    }
    await storage.db.insertInto('payments').values(rows).execute();
  }
  await sql`ANALYZE`.execute(storage.db);
}

function backgroundPayment(seed: BackgroundPayments, index: number) {
  const createdAtMs = seed.startMs + Math.floor((index / seed.count) * 30 * dayMs);
  return {
    trans_id: newId(createdAtMs), merchant_id: backgroundMerchantId(index % seed.merchantCount),
    order_id: `ORDER-${index}`, action: 'SALE', is_auth: 0, status: statuses[index % statuses.length],
    amount_minor: 100 + (index % 5_000), captured_minor: 0, refunded_minor: 0, currency: 'USD',
    order_description: 'bench', payer_email: 'p@bench.test', payer_json: '{}', card_bin: '411111',
    card_last_four: String(index % 10_000).padStart(4, '0'), card_length: 16, card_expiry: '01/2030',
    card_brand: 'VISA', card_ciphertext: 'x', card_fingerprint: 'x', channel_id: null, parameters_json: null,
    term_url_3ds: 'https://shop.test', term_url_target: null, recurring_init: 0, descriptor: 'BENCH',
    decline_reason: null, request_fingerprint: `background-${index}`, operation_lock: null, settled_at_ms: null,
    created_at_ms: createdAtMs, updated_at_ms: createdAtMs,
  };
}
