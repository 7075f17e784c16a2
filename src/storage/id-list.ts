import { sql, type RawBuilder } from 'kysely';
import type { DialectName } from './database.ts';

/**
 * A list of ids as one parameter, for `where(column, 'in', idList(…))`: a JSON array on SQLite,
 * an array on PostgreSQL. The statement's text does not change with the list's length, and
 * prepared statements are cached by their text on both (storage/database.ts).
 */
export function idList(dialect: DialectName, ids: readonly string[]): RawBuilder<string> {
  return dialect === 'postgres'
    ? sql<string>`(select unnest(${ids}::text[]))`
    : sql<string>`(select value from json_each(${JSON.stringify(ids)}))`;
}
