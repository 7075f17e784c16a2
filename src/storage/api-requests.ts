import type { Storage } from './database.ts';
import type { ApiRequestTable } from './schema.ts';

/** `api_requests` (docs/adr/0079): written in batches by the recorder, read by `kassa logs tail`. */
export type ApiRequestRow = ApiRequestTable;

export async function insertApiRequests(storage: Storage, rows: readonly ApiRequestRow[]): Promise<void> {
  if (rows.length === 0) return;
  await storage.db
    .insertInto('api_requests')
    .values([...rows])
    .execute();
}

/** Forgets requests older than `beforeMs`; returns how many. */
export async function pruneApiRequests(storage: Storage, beforeMs: number): Promise<number> {
  const result = await storage.db.deleteFrom('api_requests').where('created_at_ms', '<', beforeMs).executeTakeFirst();
  return Number(result.numDeletedRows);
}

export async function apiRequestsSince(
  storage: Storage,
  sinceMs: number,
  limit: number,
  clientKey?: string,
): Promise<ApiRequestRow[]> {
  let query = storage.db.selectFrom('api_requests').selectAll().where('created_at_ms', '>=', sinceMs);
  if (clientKey) query = query.where('client_key', '=', clientKey.toLowerCase());
  const rows = await query.orderBy('created_at_ms').orderBy('entry_id').limit(limit).execute();
  return rows.map((row) => ({
    ...row,
    error_code: row.error_code === null ? null : Number(row.error_code),
    duration_ms: Number(row.duration_ms),
    created_at_ms: Number(row.created_at_ms),
  }));
}

/** The newest 900003 answers that kept their formula's terms (docs/adr/0085), of one client_key
 * or of every one; newest first. */
export async function recentHashRefusals(
  storage: Storage,
  filter: { clientKey?: string; sinceMs: number; limit: number },
): Promise<ApiRequestRow[]> {
  let query = storage.db
    .selectFrom('api_requests')
    .selectAll()
    .where('error_code', '=', 900003)
    .where('created_at_ms', '>=', filter.sinceMs)
    .where('hash_terms_json', 'is not', null);
  if (filter.clientKey !== undefined) query = query.where('client_key', '=', filter.clientKey);
  const rows = await query.orderBy('created_at_ms', 'desc').orderBy('entry_id', 'desc').limit(filter.limit).execute();
  return rows.map(numbersOf);
}

export async function loadApiRequest(storage: Storage, entryId: string): Promise<ApiRequestRow | undefined> {
  const row = await storage.db
    .selectFrom('api_requests')
    .selectAll()
    .where('entry_id', '=', entryId)
    .executeTakeFirst();
  return row ? numbersOf(row) : undefined;
}

function numbersOf(row: ApiRequestRow): ApiRequestRow {
  return {
    ...row,
    error_code: row.error_code === null ? null : Number(row.error_code),
    duration_ms: Number(row.duration_ms),
    created_at_ms: Number(row.created_at_ms),
  };
}
