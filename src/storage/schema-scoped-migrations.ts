import {
  type DatabaseIntrospector, type DatabaseMetadata, type DatabaseMetadataOptions, Kysely, PostgresDialect,
  type SchemaMetadata, sql, type TableMetadata,
} from 'kysely';
import type pg from 'pg';

/** Kysely's PostgreSQL introspector reads the tables of every schema, calling
 * `pg_get_serial_sequence` on each; a schema that another process drops meanwhile (each
 * PostgreSQL test file drops its own; a PSP may drop a tenant's) makes that read fail with
 * "relation … does not exist" or "schema … does not exist". The Migrator only needs to know
 * whether its two bookkeeping tables exist in *our* schema, so this introspector looks there and
 * nowhere else, with plain catalog reads that a concurrent drop cannot break. */
class SchemaScopedIntrospector implements DatabaseIntrospector {
  constructor(private readonly db: Kysely<any>, private readonly schema: string) {}

  async getSchemas(): Promise<SchemaMetadata[]> {
    const { rows } = await sql<{ name: string }>`
      select nspname as name from pg_catalog.pg_namespace where nspname = ${this.schema}`.execute(this.db);
    return rows;
  }

  async getTables(_options?: DatabaseMetadataOptions): Promise<TableMetadata[]> {
    const { rows } = await sql<{ name: string; kind: string }>`
      select c.relname as name, c.relkind as kind
      from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace
      where n.nspname = ${this.schema} and c.relkind in ('r', 'p', 'v')`.execute(this.db);
    return rows.map((row) => ({ name: row.name, schema: this.schema, isView: row.kind === 'v', columns: [] }));
  }

  async getMetadata(options?: DatabaseMetadataOptions): Promise<DatabaseMetadata> {
    return { tables: await this.getTables(options) };
  }
}

class SchemaScopedPostgresDialect extends PostgresDialect {
  constructor(pool: pg.Pool, private readonly schema: string) {
    super({ pool });
  }

  override createIntrospector(db: Kysely<any>): DatabaseIntrospector {
    return new SchemaScopedIntrospector(db, this.schema);
  }
}

/** A Kysely over `pool` for the Migrator only. Not destroyed by its user: destroying it would end
 * the pool, which the storage's own Kysely owns and closes. */
export function schemaScopedMigrationDatabase(pool: pg.Pool, schema: string): Kysely<any> {
  return new Kysely<any>({ dialect: new SchemaScopedPostgresDialect(pool, schema) });
}
