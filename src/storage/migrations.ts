import { type Kysely, type Migration, type MigrationProvider, Migrator, sql } from 'kysely';

/** Migrations live in code (not files) so `tsx` and a bundled build find them the same way.
 * Types are chosen to mean the same on SQLite and PostgreSQL: text, bigint, integer. */
const migrations: Record<string, Migration> = {
  '0001_core': {
    async up(db: Kysely<any>) {
      await db.schema.createTable('merchants')
        .addColumn('merchant_id', 'text', (column) => column.primaryKey())
        .addColumn('client_key', 'text', (column) => column.notNull().unique())
        .addColumn('password_ciphertext', 'text', (column) => column.notNull())
        .addColumn('email', 'text', (column) => column.notNull())
        .addColumn('callback_url', 'text')
        .addColumn('allowed_ips_json', 'text', (column) => column.notNull())
        .addColumn('channels_json', 'text', (column) => column.notNull())
        .addColumn('three_ds_enabled', 'integer', (column) => column.notNull())
        .addColumn('s2s_card_enabled', 'integer', (column) => column.notNull())
        .addColumn('descriptor', 'text', (column) => column.notNull())
        .addColumn('created_at_ms', 'bigint', (column) => column.notNull())
        .addColumn('updated_at_ms', 'bigint', (column) => column.notNull())
        .execute();

      await db.schema.createTable('payments')
        .addColumn('trans_id', 'text', (column) => column.primaryKey())
        .addColumn('merchant_id', 'text', (column) => column.notNull().references('merchants.merchant_id'))
        .addColumn('order_id', 'text', (column) => column.notNull())
        .addColumn('action', 'text', (column) => column.notNull())
        .addColumn('is_auth', 'integer', (column) => column.notNull())
        .addColumn('status', 'text', (column) => column.notNull())
        .addColumn('amount_minor', 'bigint', (column) => column.notNull())
        .addColumn('captured_minor', 'bigint', (column) => column.notNull())
        .addColumn('refunded_minor', 'bigint', (column) => column.notNull())
        .addColumn('currency', 'text', (column) => column.notNull())
        .addColumn('order_description', 'text', (column) => column.notNull())
        .addColumn('payer_email', 'text', (column) => column.notNull())
        .addColumn('payer_json', 'text', (column) => column.notNull())
        .addColumn('card_bin', 'text', (column) => column.notNull())
        .addColumn('card_last_four', 'text', (column) => column.notNull())
        .addColumn('card_length', 'integer', (column) => column.notNull())
        .addColumn('card_expiry', 'text', (column) => column.notNull())
        .addColumn('card_brand', 'text', (column) => column.notNull())
        .addColumn('card_ciphertext', 'text', (column) => column.notNull())
        .addColumn('card_fingerprint', 'text', (column) => column.notNull())
        .addColumn('channel_id', 'text')
        .addColumn('parameters_json', 'text')
        .addColumn('term_url_3ds', 'text', (column) => column.notNull())
        .addColumn('term_url_target', 'text')
        .addColumn('recurring_init', 'integer', (column) => column.notNull())
        .addColumn('descriptor', 'text', (column) => column.notNull())
        .addColumn('decline_reason', 'text')
        .addColumn('request_fingerprint', 'text', (column) => column.notNull())
        .addColumn('operation_lock', 'text')
        .addColumn('settled_at_ms', 'bigint')
        .addColumn('created_at_ms', 'bigint', (column) => column.notNull())
        .addColumn('updated_at_ms', 'bigint', (column) => column.notNull())
        // The money invariants hold even if application code is wrong.
        .addCheckConstraint('payments_captured_within_amount', sql`captured_minor >= 0 AND captured_minor <= amount_minor`)
        .addCheckConstraint('payments_refunded_within_captured', sql`refunded_minor >= 0 AND refunded_minor <= captured_minor`)
        .execute();
      // An exact replay (every field, hash included) of an earlier request is refused by this
      // key, also when the two copies arrive at the same moment.
      await db.schema.createIndex('payments_one_per_request').on('payments').unique()
        .columns(['merchant_id', 'request_fingerprint']).execute();
      await db.schema.createIndex('payments_by_order').on('payments')
        .columns(['merchant_id', 'order_id', 'created_at_ms']).execute();
      // At most one unfinished payment per (merchant, order): the database, not a read-then-write,
      // answers "Previous payment not completed" when two requests race.
      await db.schema.createIndex('payments_one_open_per_order').on('payments').unique()
        .columns(['merchant_id', 'order_id'])
        .where(sql.ref('status'), 'in', ['PREPARE', '3DS', 'REDIRECT'])
        .execute();

      await db.schema.createTable('payment_operations')
        .addColumn('operation_id', 'text', (column) => column.primaryKey())
        .addColumn('trans_id', 'text', (column) => column.notNull().references('payments.trans_id'))
        .addColumn('type', 'text', (column) => column.notNull())
        .addColumn('status', 'text', (column) => column.notNull())
        .addColumn('amount_minor', 'bigint', (column) => column.notNull())
        .addColumn('decline_reason', 'text')
        .addColumn('created_at_ms', 'bigint', (column) => column.notNull())
        .addColumn('updated_at_ms', 'bigint', (column) => column.notNull())
        .execute();
      await db.schema.createIndex('payment_operations_by_payment').on('payment_operations')
        .columns(['trans_id', 'created_at_ms']).execute();

      await db.schema.createTable('outbox')
        .addColumn('outbox_id', 'text', (column) => column.primaryKey())
        .addColumn('topic', 'text', (column) => column.notNull())
        .addColumn('merchant_id', 'text', (column) => column.notNull())
        .addColumn('trans_id', 'text', (column) => column.notNull())
        .addColumn('payload_json', 'text', (column) => column.notNull())
        .addColumn('created_at_ms', 'bigint', (column) => column.notNull())
        .addColumn('next_attempt_at_ms', 'bigint', (column) => column.notNull())
        .addColumn('attempt_count', 'integer', (column) => column.notNull().defaultTo(0))
        .addColumn('delivered_at_ms', 'bigint')
        .execute();
      await db.schema.createIndex('outbox_due').on('outbox')
        .columns(['delivered_at_ms', 'next_attempt_at_ms']).execute();
    },
  },
};

class InCodeMigrationProvider implements MigrationProvider {
  async getMigrations(): Promise<Record<string, Migration>> {
    return migrations;
  }
}

/** `schema`: the PostgreSQL schema in use. Kysely looks for its bookkeeping table across all
 * schemas unless told which one, and would then skip creating ours. */
export async function migrateToLatest(db: Kysely<any>, schema?: string): Promise<void> {
  const migrator = new Migrator({
    db, provider: new InCodeMigrationProvider(), ...(schema ? { migrationTableSchema: schema } : {}),
  });
  const { error, results } = await migrator.migrateToLatest();
  const failed = results?.find((result) => result.status === 'Error');
  if (error || failed) {
    throw new Error(`database migration failed${failed ? ` at ${failed.migrationName}` : ''}`, { cause: error });
  }
}
