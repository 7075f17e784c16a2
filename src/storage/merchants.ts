import type { Kysely, Transaction } from 'kysely';
import { liftUrlBlocks } from './callbacks.ts';
import { defaultMidId } from './routing-ids.ts';
import { merchantsChangedHere } from './merchant-cache.ts';
import type { Selectable } from 'kysely';
import type { Storage } from './database.ts';
import type { Database, MerchantTable } from './schema.ts';
import type { HashDigest } from '../protocol/hash.ts';

export interface MerchantSettings {
  email: string;
  callbackUrl: string | null;
  allowedIps: string[];
  channels: string[];
  threeDsEnabled: boolean;
  s2sCardEnabled: boolean;
  descriptor: string;
  /** Origins allowed to frame the hosted payment page; none when empty or absent. */
  frameOrigins?: string[];
  /** Business days to answer a refund application (default 14). */
  refundDays?: number;
  /** Holidays (`YYYY-MM-DD`) not counted as business days. */
  holidays?: string[];
  /** The digest of its hashes, requests and callbacks: md5 (default) or sha256 (5.6.x). */
  hashDigest?: HashDigest;
  /** How SALE-like answers report an unknown bank outcome (ADR 0067): `success` — 5.2.0's
   * SUCCESS with status PREPARE, the default — or `undefined` — 5.6.x's UNDEFINED, status PREPARE. */
  unknownResult?: UnknownResult;
}

export type UnknownResult = 'success' | 'undefined';

export interface MerchantRecord extends MerchantSettings {
  merchantId: string;
  clientKey: string;
  passwordCiphertext: string;
  createdAtMs: number;
  /** The latest lock of any of its (merchant, IP) pairs for wrong hashes; absent or 0: never. */
  hashLockedUntilMs?: number;
  /** Bumped by every routing change: tells a cached routing snapshot is stale. */
  routingRevision?: number;
}

function fromRow(row: Selectable<MerchantTable>): MerchantRecord {
  return {
    merchantId: row.merchant_id,
    clientKey: row.client_key,
    passwordCiphertext: row.password_ciphertext,
    email: row.email,
    callbackUrl: row.callback_url,
    allowedIps: JSON.parse(row.allowed_ips_json) as string[],
    channels: JSON.parse(row.channels_json) as string[],
    threeDsEnabled: row.three_ds_enabled === 1,
    s2sCardEnabled: row.s2s_card_enabled === 1,
    descriptor: row.descriptor,
    frameOrigins: JSON.parse(row.frame_origins_json) as string[],
    refundDays: Number(row.refund_days),
    holidays: JSON.parse(row.holidays_json) as string[],
    createdAtMs: Number(row.created_at_ms),
    hashLockedUntilMs: Number(row.hash_locked_until_ms),
    routingRevision: Number(row.routing_revision),
    hashDigest: row.hash_digest === 'sha256' ? 'sha256' : 'md5',
    unknownResult: row.unknown_result === 'undefined' ? 'undefined' : 'success',
  };
}

/** A new merchant gets its S2S CARD mapping onto the default MID in the same transaction, as
 * the routing migration gave every merchant that existed before (ADR 0050). */
export async function insertMerchant(storage: Storage, merchant: MerchantRecord): Promise<void> {
  await storage.db.transaction().execute(async (transaction) => {
    await insertMerchantRow(transaction, merchant);
    await transaction.insertInto('merchant_mappings').values({
      mapping_id: `map_${merchant.merchantId}`, merchant_id: merchant.merchantId, protocol: 'S2S_CARD',
      payment_methods_json: JSON.stringify(['card']), mid_ids_json: JSON.stringify([defaultMidId]),
      require_day_limit: 0, enabled: 1, created_at_ms: merchant.createdAtMs, updated_at_ms: merchant.createdAtMs,
    }).execute();
  });
  merchantsChangedHere();
}

async function insertMerchantRow(
  db: Kysely<Database> | Transaction<Database>, merchant: MerchantRecord,
): Promise<void> {
  await db.insertInto('merchants').values({
    merchant_id: merchant.merchantId,
    client_key: merchant.clientKey,
    password_ciphertext: merchant.passwordCiphertext,
    email: merchant.email,
    callback_url: merchant.callbackUrl,
    allowed_ips_json: JSON.stringify(merchant.allowedIps),
    channels_json: JSON.stringify(merchant.channels),
    three_ds_enabled: merchant.threeDsEnabled ? 1 : 0,
    s2s_card_enabled: merchant.s2sCardEnabled ? 1 : 0,
    descriptor: merchant.descriptor,
    ...(merchant.frameOrigins !== undefined ? { frame_origins_json: JSON.stringify(merchant.frameOrigins) } : {}),
    ...(merchant.refundDays !== undefined ? { refund_days: merchant.refundDays } : {}),
    ...(merchant.holidays !== undefined ? { holidays_json: JSON.stringify(merchant.holidays) } : {}),
    ...(merchant.hashDigest !== undefined ? { hash_digest: merchant.hashDigest } : {}),
    ...(merchant.unknownResult !== undefined ? { unknown_result: merchant.unknownResult } : {}),
    created_at_ms: merchant.createdAtMs,
    updated_at_ms: merchant.createdAtMs,
  }).execute();
}

/** The merchant as stored now. Requests are authenticated through Storage.merchants, which
 * caches this read on PostgreSQL and stays exact (storage/merchant-cache.ts). */
export async function findMerchantByClientKey(db: Kysely<Database>, clientKey: string): Promise<MerchantRecord | undefined> {
  const row = await db.selectFrom('merchants').selectAll().where('client_key', '=', clientKey).executeTakeFirst();
  return row ? fromRow(row) : undefined;
}

export async function findMerchantById(db: Kysely<Database>, merchantId: string): Promise<MerchantRecord | undefined> {
  const row = await db.selectFrom('merchants').selectAll().where('merchant_id', '=', merchantId).executeTakeFirst();
  return row ? fromRow(row) : undefined;
}

/** The merchant as stored now, for the operator's use cases (findMerchantByClientKey). */
export async function loadMerchantByClientKey(
  storage: Storage, clientKey: string,
): Promise<MerchantRecord | undefined> {
  return findMerchantByClientKey(storage.db, clientKey);
}

export async function loadMerchantById(storage: Storage, merchantId: string): Promise<MerchantRecord | undefined> {
  return findMerchantById(storage.db, merchantId);
}

export async function listMerchants(storage: Storage, limit: number): Promise<MerchantRecord[]> {
  const rows = await storage.db.selectFrom('merchants').selectAll().orderBy('created_at_ms').limit(limit).execute();
  return rows.map(fromRow);
}

/**
 * Changes a merchant's settings. Setting the callback URL (to a new value or the same one) is
 * also the spec's manual unlock: "adjusting the merchant callback URL" lifts the block of the old
 * and the new URL at once, for every merchant using them, in the same transaction.
 */
export async function updateMerchantSettings(
  storage: Storage, merchantId: string, settings: Partial<MerchantSettings>, nowMs: number,
): Promise<boolean> {
  try {
    return await updateMerchantSettingsOnce(storage.db, merchantId, settings, nowMs);
  } finally {
    // After the commit (or its failure): a lookup between the two reads the row as committed.
    merchantsChangedHere();
  }
}

async function updateMerchantSettingsOnce(
  db: Kysely<Database>, merchantId: string, settings: Partial<MerchantSettings>, nowMs: number,
): Promise<boolean> {
  if (settings.callbackUrl === undefined) return updateMerchantRow(db, merchantId, settings, nowMs);
  return db.transaction().execute(async (transaction) => {
    // A write first: SQLite then holds the write lock for the whole transaction, instead of
    // failing to upgrade a read lock when the server writes at the same moment.
    await transaction.updateTable('merchants').set({ updated_at_ms: nowMs }).where('merchant_id', '=', merchantId).execute();
    const before = await transaction.selectFrom('merchants').select('callback_url').where('merchant_id', '=', merchantId).executeTakeFirst();
    const updated = await updateMerchantRow(transaction, merchantId, settings, nowMs);
    if (updated) await liftUrlBlocks(transaction, [before?.callback_url ?? '', settings.callbackUrl ?? ''], nowMs);
    return updated;
  });
}

async function updateMerchantRow(
  db: Kysely<Database> | Transaction<Database>, merchantId: string, settings: Partial<MerchantSettings>, nowMs: number,
): Promise<boolean> {
  const result = await db.updateTable('merchants').set({
    ...(settings.email !== undefined ? { email: settings.email } : {}),
    ...(settings.callbackUrl !== undefined ? { callback_url: settings.callbackUrl } : {}),
    ...(settings.allowedIps !== undefined ? { allowed_ips_json: JSON.stringify(settings.allowedIps) } : {}),
    ...(settings.channels !== undefined ? { channels_json: JSON.stringify(settings.channels) } : {}),
    ...(settings.threeDsEnabled !== undefined ? { three_ds_enabled: settings.threeDsEnabled ? 1 : 0 } : {}),
    ...(settings.s2sCardEnabled !== undefined ? { s2s_card_enabled: settings.s2sCardEnabled ? 1 : 0 } : {}),
    ...(settings.descriptor !== undefined ? { descriptor: settings.descriptor } : {}),
    ...(settings.frameOrigins !== undefined ? { frame_origins_json: JSON.stringify(settings.frameOrigins) } : {}),
    ...(settings.refundDays !== undefined ? { refund_days: settings.refundDays } : {}),
    ...(settings.holidays !== undefined ? { holidays_json: JSON.stringify(settings.holidays) } : {}),
    ...(settings.hashDigest !== undefined ? { hash_digest: settings.hashDigest } : {}),
    ...(settings.unknownResult !== undefined ? { unknown_result: settings.unknownResult } : {}),
    updated_at_ms: nowMs,
  }).where('merchant_id', '=', merchantId).executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}
