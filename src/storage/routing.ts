import { type Kysely, type Transaction, sql } from 'kysely';
import type {
  CascadeRule, LimitWindow, MappingConfig, MidConfig, RoutingLimit, ThreeDsMode,
} from '../domain/routing.ts';
import { pairKey, type ExchangeTable } from '../domain/exchange.ts';
import type { Storage } from './database.ts';
import { merchantsChangedHere } from './merchant-cache.ts';
import { rawStatement } from './routing-limits.ts';
import type { Database, MerchantMappingTable, MidTable, RoutingLimitTable } from './schema.ts';

type Executor = Kysely<Database> | Transaction<Database>;

export const s2sCardProtocol = 'S2S_CARD';

/** A MID as stored: the routing view plus what only its connector needs. */
export interface StoredMid extends MidConfig {
  settings: Record<string, unknown>;
  /** The vault's ciphertext of the secret settings (JSON), or null. Never printed. */
  secretSettingsCiphertext: string | null;
  updatedAtMs: number;
}

/** The routing configuration of one merchant, read in one go and used for one payment. */
export interface RoutingSnapshot {
  mapping: MappingConfig | undefined;
  midsById: Map<string, StoredMid>;
  /** The operator's current rates and base currency (ADR 0054). */
  exchange: ExchangeTable;
}

function limitFromRow(row: RoutingLimitTable): RoutingLimit {
  return {
    limitId: row.limit_id,
    window: row.window as LimitWindow,
    currency: row.currency,
    amountMinor: Number(row.amount_minor),
  };
}

export function midFromRow(row: MidTable, limits: RoutingLimit[]): StoredMid {
  return {
    midId: row.mid_id,
    name: row.name,
    connector: row.connector,
    enabled: Number(row.enabled) === 1,
    paymentTypes: JSON.parse(row.payment_types_json),
    actions: JSON.parse(row.actions_json),
    brands: JSON.parse(row.brands_json),
    currencies: JSON.parse(row.currencies_json),
    settlementCurrency: row.settlement_currency,
    exchangeCurrencies: row.exchange_currencies_json ? JSON.parse(row.exchange_currencies_json) : [],
    threeDsMode: row.three_ds_mode as ThreeDsMode,
    requireDayLimit: Number(row.require_day_limit) === 1,
    limits,
    settings: JSON.parse(row.settings_json),
    secretSettingsCiphertext: row.secret_settings_ciphertext,
    updatedAtMs: Number(row.updated_at_ms),
  };
}

export function mappingFromRow(row: MerchantMappingTable, limits: RoutingLimit[]): MappingConfig {
  return {
    mappingId: row.mapping_id,
    merchantId: row.merchant_id,
    enabled: Number(row.enabled) === 1,
    paymentMethods: JSON.parse(row.payment_methods_json),
    midIds: JSON.parse(row.mid_ids_json),
    requireDayLimit: Number(row.require_day_limit) === 1,
    limits,
    ...(row.cascade_json ? { cascade: JSON.parse(row.cascade_json) as CascadeRule } : {}),
  };
}

async function limitsByOwner(db: Executor, ownerIds: string[]): Promise<Map<string, RoutingLimit[]>> {
  const byOwner = new Map<string, RoutingLimit[]>();
  if (ownerIds.length === 0) return byOwner;
  const rows = await db
    .selectFrom('routing_limits')
    .selectAll()
    .where('owner_id', 'in', ownerIds)
    .orderBy('limit_id')
    .execute();
  for (const row of rows) {
    const key = `${row.owner_kind}:${row.owner_id}`;
    byOwner.set(key, [...(byOwner.get(key) ?? []), limitFromRow(row)]);
  }
  return byOwner;
}

export async function loadRoutingSnapshot(storage: Storage, merchantId: string): Promise<RoutingSnapshot> {
  const mappingRow = await storage.db
    .selectFrom('merchant_mappings')
    .selectAll()
    .where('merchant_id', '=', merchantId)
    .where('protocol', '=', s2sCardProtocol)
    .executeTakeFirst();
  const exchange = await loadExchangeTable(storage);
  if (!mappingRow) return { mapping: undefined, midsById: new Map(), exchange };
  const midIds = JSON.parse(mappingRow.mid_ids_json) as string[];
  const midRows =
    midIds.length === 0 ? [] : await storage.db.selectFrom('mids').selectAll().where('mid_id', 'in', midIds).execute();
  const limits = await limitsByOwner(storage.db, [mappingRow.mapping_id, ...midIds]);
  return {
    mapping: mappingFromRow(mappingRow, limits.get(`mapping:${mappingRow.mapping_id}`) ?? []),
    midsById: new Map(midRows.map((row) => [row.mid_id, midFromRow(row, limits.get(`mid:${row.mid_id}`) ?? [])])),
    exchange,
  };
}

export const baseCurrencySetting = 'exchange.baseCurrency';

/** The current rate of every pair (its newest row; a NULL rate removed it) and the base currency. */
export async function loadExchangeTable(storage: Storage): Promise<ExchangeTable> {
  const rows = await storage.db.selectFrom('exchange_rates').selectAll().orderBy('rate_id').execute();
  const rates = new Map<string, string>();
  for (const row of rows) {
    if (row.rate === null) rates.delete(pairKey(row.from_currency, row.to_currency));
    else rates.set(pairKey(row.from_currency, row.to_currency), row.rate);
  }
  const base = await storage.db.selectFrom('routing_settings').selectAll()
    .where('name', '=', baseCurrencySetting).executeTakeFirst();
  return { baseCurrency: base?.value ?? null, rates };
}

export async function loadMid(storage: Storage, midIdOrName: string): Promise<StoredMid | undefined> {
  const row = await storage.db
    .selectFrom('mids')
    .selectAll()
    .where((where) => where.or([where('mid_id', '=', midIdOrName), where('name', '=', midIdOrName)]))
    .executeTakeFirst();
  if (!row) return undefined;
  const limits = await limitsByOwner(storage.db, [row.mid_id]);
  return midFromRow(row, limits.get(`mid:${row.mid_id}`) ?? []);
}

export async function listMids(storage: Storage): Promise<StoredMid[]> {
  const rows = await storage.db.selectFrom('mids').selectAll().orderBy('created_at_ms').orderBy('name').execute();
  const limits = await limitsByOwner(
    storage.db,
    rows.map((row) => row.mid_id),
  );
  return rows.map((row) => midFromRow(row, limits.get(`mid:${row.mid_id}`) ?? []));
}

export async function listMappings(storage: Storage, merchantId?: string): Promise<MappingConfig[]> {
  let query = storage.db.selectFrom('merchant_mappings').selectAll().orderBy('created_at_ms').orderBy('mapping_id');
  if (merchantId) query = query.where('merchant_id', '=', merchantId);
  const rows = await query.execute();
  const limits = await limitsByOwner(
    storage.db,
    rows.map((row) => row.mapping_id),
  );
  return rows.map((row) => mappingFromRow(row, limits.get(`mapping:${row.mapping_id}`) ?? []));
}

/** Use so far of each (limit, window): the sum (key `limitId|windowKey`) and each shard's. */
export interface LimitUseRead {
  use: Map<string, number>;
  shardsUsed: Map<string, number[]>;
}

export async function loadLimitUse(
  storage: Storage,
  keys: readonly { limitId: string; windowKey: string }[],
): Promise<LimitUseRead> {
  const read: LimitUseRead = { use: new Map(), shardsUsed: new Map() };
  if (keys.length === 0) return read;
  const conditions = keys.map(() => '(limit_id = ? AND window_key = ?)').join(' OR ');
  const text = `SELECT limit_id, window_key, shard, used_minor FROM limit_counters WHERE ${conditions}`;
  const parameters = keys.flatMap((key) => [key.limitId, key.windowKey]);
  const { rows } = await storage.db.executeQuery<{
    limit_id: string;
    window_key: string;
    shard: number;
    used_minor: number;
  }>(rawStatement(storage.db, text, parameters));
  for (const row of rows) {
    const key = `${row.limit_id}|${row.window_key}`;
    read.use.set(key, (read.use.get(key) ?? 0) + Number(row.used_minor));
    const shards = read.shardsUsed.get(key) ?? [];
    shards[Number(row.shard)] = Number(row.used_minor);
    read.shardsUsed.set(key, shards);
  }
  return read;
}

/** One configuration change, written with who made it and when (`kassa routing history`). */
export interface RoutingChange {
  changeId: string;
  actor: string;
  subject: string;
  detail: Record<string, unknown>;
  nowMs: number;
}

/** The rows a change writes, all in one transaction with its change-log entry and the bump of
 * every merchant's routing revision (the signal that cached snapshots are stale). */
export interface RoutingWrite {
  mids?: StoredMid[];
  mappings?: MappingConfig[];
  limits?: { owner: 'mid' | 'mapping'; ownerId: string; limit: RoutingLimit }[];
  /** Limits removed, by id. */
  removedLimitIds?: string[];
  /** New rates (a history row each; `rate: null` removes the pair) and the base currency. */
  rates?: { rateId: string; from: string; to: string; rate: string | null }[];
  baseCurrency?: string | null;
  nowMs: number;
}

function midRow(mid: StoredMid, nowMs: number): MidTable {
  return {
    mid_id: mid.midId,
    name: mid.name,
    connector: mid.connector,
    settings_json: JSON.stringify(mid.settings),
    secret_settings_ciphertext: mid.secretSettingsCiphertext,
    payment_types_json: JSON.stringify(mid.paymentTypes),
    actions_json: JSON.stringify(mid.actions),
    brands_json: JSON.stringify(mid.brands),
    currencies_json: JSON.stringify(mid.currencies),
    settlement_currency: mid.settlementCurrency,
    exchange_currencies_json: JSON.stringify(mid.exchangeCurrencies ?? []),
    three_ds_mode: mid.threeDsMode,
    require_day_limit: mid.requireDayLimit ? 1 : 0,
    enabled: mid.enabled ? 1 : 0,
    created_at_ms: nowMs,
    updated_at_ms: nowMs,
  };
}

function mappingRow(mapping: MappingConfig, nowMs: number): MerchantMappingTable {
  return {
    mapping_id: mapping.mappingId,
    merchant_id: mapping.merchantId,
    protocol: s2sCardProtocol,
    payment_methods_json: JSON.stringify(mapping.paymentMethods),
    mid_ids_json: JSON.stringify(mapping.midIds),
    require_day_limit: mapping.requireDayLimit ? 1 : 0,
    enabled: mapping.enabled ? 1 : 0,
    cascade_json: mapping.cascade ? JSON.stringify(mapping.cascade) : null,
    created_at_ms: nowMs,
    updated_at_ms: nowMs,
  };
}

export async function writeRoutingChange(
  storage: Storage,
  write: RoutingWrite,
  changes: readonly RoutingChange[],
): Promise<void> {
  await storage.db.transaction().execute(async (transaction) => {
    // A write first: SQLite then holds the write lock for the whole transaction.
    await transaction.updateTable('merchants').set({ routing_revision: sql`routing_revision + 1` }).execute();
    for (const mid of write.mids ?? []) {
      const { created_at_ms: _created, ...changed } = midRow(mid, write.nowMs);
      await transaction
        .insertInto('mids')
        .values(midRow(mid, write.nowMs))
        .onConflict((conflict) => conflict.column('mid_id').doUpdateSet(changed))
        .execute();
    }
    for (const mapping of write.mappings ?? []) {
      const { created_at_ms: _created, ...changed } = mappingRow(mapping, write.nowMs);
      await transaction
        .insertInto('merchant_mappings')
        .values(mappingRow(mapping, write.nowMs))
        .onConflict((conflict) => conflict.column('mapping_id').doUpdateSet(changed))
        .execute();
    }
    if (write.removedLimitIds && write.removedLimitIds.length > 0) {
      await transaction.deleteFrom('routing_limits').where('limit_id', 'in', write.removedLimitIds).execute();
    }
    for (const { owner, ownerId, limit } of write.limits ?? []) {
      await transaction
        .insertInto('routing_limits')
        .values({
          limit_id: limit.limitId,
          owner_kind: owner,
          owner_id: ownerId,
          window: limit.window,
          currency: limit.currency,
          amount_minor: limit.amountMinor,
          created_at_ms: write.nowMs,
        })
        .onConflict((conflict) => conflict.column('limit_id').doUpdateSet({ amount_minor: limit.amountMinor }))
        .execute();
    }
    for (const rate of write.rates ?? []) {
      await transaction.insertInto('exchange_rates').values({
        rate_id: rate.rateId, from_currency: rate.from, to_currency: rate.to, rate: rate.rate,
        created_at_ms: write.nowMs,
      }).execute();
    }
    if (write.baseCurrency !== undefined) {
      await transaction.insertInto('routing_settings').values({ name: baseCurrencySetting, value: write.baseCurrency })
        .onConflict((conflict) => conflict.column('name').doUpdateSet({ value: write.baseCurrency ?? null }))
        .execute();
    }
    for (const change of changes) {
      await transaction
        .insertInto('routing_changes')
        .values({
          change_id: change.changeId,
          actor: change.actor,
          subject: change.subject,
          detail_json: JSON.stringify(change.detail),
          created_at_ms: change.nowMs,
        })
        .execute();
    }
  });
  merchantsChangedHere();
}

export async function listRoutingChanges(storage: Storage, limit: number) {
  const rows = await storage.db
    .selectFrom('routing_changes')
    .selectAll()
    .orderBy('change_id', 'desc')
    .limit(limit)
    .execute();
  return rows.map((row) => ({
    changeId: row.change_id,
    actor: row.actor,
    subject: row.subject,
    detail: JSON.parse(row.detail_json) as Record<string, unknown>,
    createdAtMs: Number(row.created_at_ms),
  }));
}
