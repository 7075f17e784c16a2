import { defaultMidId } from './routing-ids.ts';
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
  '0002_callbacks': {
    async up(db: Kysely<any>) {
      // Delivery bookkeeping on the outbox row. SQLite adds one column per ALTER TABLE.
      // claimed_until_ms/claim_token: a lease, so two dispatchers never send one attempt twice
      // and a crashed node's rows are picked up again once its lease runs out.
      await db.schema.alterTable('outbox').addColumn('claimed_until_ms', 'bigint').execute();
      await db.schema.alterTable('outbox').addColumn('claim_token', 'text').execute();
      await db.schema.alterTable('outbox').addColumn('last_error', 'text').execute();
      // Set when the dispatcher gives up (the row stays, resendable from the CLI).
      await db.schema.alterTable('outbox').addColumn('failed_at_ms', 'bigint').execute();
      // The dispatcher's scan touches only rows still to deliver, however long the history.
      await db.schema.createIndex('outbox_pending').on('outbox')
        .columns(['next_attempt_at_ms', 'outbox_id'])
        .where(sql.ref('delivered_at_ms'), 'is', null)
        .where(sql.ref('failed_at_ms'), 'is', null)
        .execute();
      // Callbacks of one transaction go out in order: "is an earlier one undelivered?"
      await db.schema.createIndex('outbox_by_transaction').on('outbox')
        .columns(['trans_id', 'outbox_id']).execute();

      await db.schema.createTable('callback_attempts')
        .addColumn('attempt_id', 'text', (column) => column.primaryKey())
        .addColumn('outbox_id', 'text', (column) => column.notNull().references('outbox.outbox_id'))
        .addColumn('url', 'text', (column) => column.notNull())
        .addColumn('attempted_at_ms', 'bigint', (column) => column.notNull())
        .addColumn('status_code', 'integer')
        // First 200 bytes of the answer, or the error text (refused, timed out, …).
        .addColumn('response_excerpt', 'text')
        .addColumn('duration_ms', 'integer', (column) => column.notNull())
        .addColumn('outcome', 'text', (column) => column.notNull())
        .execute();
      await db.schema.createIndex('callback_attempts_by_outbox').on('callback_attempts')
        .columns(['outbox_id', 'attempted_at_ms']).execute();

      // Keyed by URL, not merchant: the spec blocks a URL for every merchant that uses it.
      await db.schema.createTable('callback_url_blocks')
        .addColumn('url', 'text', (column) => column.primaryKey())
        .addColumn('consecutive_failures', 'integer', (column) => column.notNull())
        .addColumn('blocked_until_ms', 'bigint')
        .addColumn('updated_at_ms', 'bigint', (column) => column.notNull())
        .execute();
    },
  },
  '0003_three_ds': {
    async up(db: Kysely<any>) {
      await db.schema.createTable('challenges')
        .addColumn('trans_id', 'text', (column) => column.primaryKey().references('payments.trans_id'))
        .addColumn('kind', 'text', (column) => column.notNull())
        .addColumn('failed_attempts', 'integer', (column) => column.notNull())
        .addColumn('expires_at_ms', 'bigint', (column) => column.notNull())
        .addColumn('created_at_ms', 'bigint', (column) => column.notNull())
        .execute();
      await db.schema.createIndex('challenges_by_expiry').on('challenges').column('expires_at_ms').execute();
      await db.schema.createTable('card_secrets')
        .addColumn('trans_id', 'text', (column) => column.primaryKey().references('payments.trans_id'))
        .addColumn('cvv_ciphertext', 'text', (column) => column.notNull())
        .addColumn('erase_after_ms', 'bigint', (column) => column.notNull())
        .execute();
      await db.schema.createIndex('card_secrets_by_deadline').on('card_secrets').column('erase_after_ms').execute();
    },
  },
  '0004_open_order_guard': {
    // One open payment per order, checked for every insert — also of a payment that is final at
    // once, which the partial unique index cannot see. Lets a payment be written in one
    // statement instead of insert-then-update. The only dialect-specific schema in Kassa.
    async up(db: Kysely<any>) {
      const dialect = await dialectOf(db);
      if (dialect === 'postgres') {
        await sql`CREATE FUNCTION kassa_refuse_second_open_payment() RETURNS trigger LANGUAGE plpgsql AS $$
          BEGIN
            -- Serialize inserts per order; after the lock a fresh READ COMMITTED snapshot sees
            -- what a concurrent insert committed.
            PERFORM pg_advisory_xact_lock(hashtextextended(NEW.merchant_id || chr(31) || NEW.order_id, 7201));
            IF EXISTS (SELECT 1 FROM payments p WHERE p.merchant_id = NEW.merchant_id AND p.order_id = NEW.order_id
                       AND p.status IN ('PREPARE', '3DS', 'REDIRECT')) THEN
              RAISE EXCEPTION 'previous payment of the order not completed' USING ERRCODE = 'unique_violation';
            END IF;
            RETURN NEW;
          END $$`.execute(db);
        await sql`CREATE TRIGGER payments_one_open_per_order_guard BEFORE INSERT ON payments
          FOR EACH ROW EXECUTE FUNCTION kassa_refuse_second_open_payment()`.execute(db);
      } else {
        // SQLite runs one write at a time, so a plain check is exact.
        await sql`CREATE TRIGGER payments_one_open_per_order_guard BEFORE INSERT ON payments
          WHEN EXISTS (SELECT 1 FROM payments p WHERE p.merchant_id = NEW.merchant_id AND p.order_id = NEW.order_id
                       AND p.status IN ('PREPARE', '3DS', 'REDIRECT'))
          BEGIN SELECT RAISE(ABORT, 'previous payment of the order not completed'); END`.execute(db);
      }
    },
  },
  '0005_hosted_checkout': {
    // The hosted payment page and refund applications (issue 5).
    async up(db: Kysely<any>) {
      // Merchant settings, with defaults so existing merchants keep working unchanged:
      // no origin may frame the payment page; refunds are promised in 14 business days.
      await db.schema.alterTable('merchants').addColumn('frame_origins_json', 'text', (column) => column.notNull().defaultTo('[]')).execute();
      await db.schema.alterTable('merchants').addColumn('refund_days', 'integer', (column) => column.notNull().defaultTo(14)).execute();
      await db.schema.alterTable('merchants').addColumn('holidays_json', 'text', (column) => column.notNull().defaultTo('[]')).execute();

      await db.schema.createTable('checkout_sessions')
        .addColumn('session_id', 'text', (column) => column.primaryKey())
        .addColumn('merchant_id', 'text', (column) => column.notNull().references('merchants.merchant_id'))
        .addColumn('order_id', 'text', (column) => column.notNull())
        .addColumn('amount_minor', 'bigint', (column) => column.notNull())
        .addColumn('currency', 'text', (column) => column.notNull())
        .addColumn('order_description', 'text', (column) => column.notNull())
        .addColumn('payer_email', 'text', (column) => column.notNull())
        .addColumn('success_url', 'text', (column) => column.notNull())
        .addColumn('decline_url', 'text', (column) => column.notNull())
        .addColumn('is_auth', 'integer', (column) => column.notNull())
        .addColumn('recurring_init', 'integer', (column) => column.notNull())
        .addColumn('request_token', 'integer', (column) => column.notNull())
        .addColumn('language', 'text')
        .addColumn('status', 'text', (column) => column.notNull())
        .addColumn('form_token', 'text')
        .addColumn('trans_id', 'text')
        .addColumn('expires_at_ms', 'bigint', (column) => column.notNull())
        .addColumn('created_at_ms', 'bigint', (column) => column.notNull())
        .addColumn('updated_at_ms', 'bigint', (column) => column.notNull())
        .execute();

      await db.schema.createTable('refund_applications')
        .addColumn('application_id', 'text', (column) => column.primaryKey())
        .addColumn('trans_id', 'text', (column) => column.notNull().references('payments.trans_id'))
        .addColumn('merchant_id', 'text', (column) => column.notNull().references('merchants.merchant_id'))
        .addColumn('kind', 'text', (column) => column.notNull())
        .addColumn('reason', 'text', (column) => column.notNull())
        .addColumn('amount_minor', 'bigint', (column) => column.notNull())
        .addColumn('currency', 'text', (column) => column.notNull())
        .addColumn('contact_email', 'text', (column) => column.notNull())
        .addColumn('status', 'text', (column) => column.notNull())
        .addColumn('received_at_ms', 'bigint', (column) => column.notNull())
        .addColumn('received_date', 'text', (column) => column.notNull())
        .addColumn('deadline_date', 'text', (column) => column.notNull())
        .addColumn('decided_at_ms', 'bigint')
        .addColumn('decision_note', 'text')
        .addCheckConstraint('refund_applications_amount_positive', sql`amount_minor > 0`)
        .execute();
      await db.schema.createIndex('refund_applications_by_status').on('refund_applications')
        .columns(['status', 'deadline_date']).execute();
      await db.schema.createIndex('refund_applications_by_payment').on('refund_applications')
        .columns(['trans_id']).execute();
    },
  },
  '0006_recurring_schedules': {
    // Recurring payments, card tokens, transfers' payee, schedules and the sandbox clock.
    async up(db: Kysely<any>) {
      for (const column of [
        'recurring_token', 'card_token_ciphertext', 'schedule_id', 'source_trans_id', 'payee_json', 'payee_card_mask',
        'payee_card_ciphertext',
      ]) {
        await db.schema.alterTable('payments').addColumn(column, 'text').execute();
      }
      // DESCHEDULE names a card by its recurring token.
      await db.schema.createIndex('payments_by_recurring_token').on('payments').column('recurring_token').execute();
      await db.schema.createTable('card_tokens')
        .addColumn('token_fingerprint', 'text', (column) => column.primaryKey())
        .addColumn('merchant_id', 'text', (column) => column.notNull())
        .addColumn('source_trans_id', 'text', (column) => column.notNull().references('payments.trans_id'))
        .addColumn('expires_at_ms', 'bigint', (column) => column.notNull())
        .addColumn('created_at_ms', 'bigint', (column) => column.notNull())
        .execute();

      await db.schema.createTable('schedules')
        .addColumn('schedule_id', 'text', (column) => column.primaryKey())
        .addColumn('merchant_id', 'text', (column) => column.notNull().references('merchants.merchant_id'))
        .addColumn('name', 'text', (column) => column.notNull())
        .addColumn('interval_unit', 'text', (column) => column.notNull())
        .addColumn('interval_length', 'integer', (column) => column.notNull())
        .addColumn('day_of_month', 'integer')
        .addColumn('payments_count', 'integer', (column) => column.notNull())
        .addColumn('delays', 'integer', (column) => column.notNull())
        .addColumn('paused', 'integer', (column) => column.notNull())
        .addColumn('resumed_on', 'text')
        .addColumn('deleted_at_ms', 'bigint')
        .addColumn('created_at_ms', 'bigint', (column) => column.notNull())
        .addColumn('updated_at_ms', 'bigint', (column) => column.notNull())
        .addCheckConstraint('schedules_interval_positive', sql`interval_length > 0`)
        .addCheckConstraint('schedules_unit_known', sql`interval_unit IN ('day', 'month')`)
        .execute();

      await db.schema.createTable('schedule_bindings')
        .addColumn('binding_id', 'text', (column) => column.primaryKey())
        .addColumn('schedule_id', 'text', (column) => column.notNull().references('schedules.schedule_id'))
        .addColumn('merchant_id', 'text', (column) => column.notNull())
        .addColumn('initiating_trans_id', 'text', (column) => column.notNull().references('payments.trans_id'))
        .addColumn('source_trans_id', 'text', (column) => column.notNull())
        .addColumn('anchor_on', 'text', (column) => column.notNull())
        .addColumn('amount_minor', 'bigint', (column) => column.notNull())
        .addColumn('currency', 'text', (column) => column.notNull())
        .addColumn('order_id', 'text', (column) => column.notNull())
        .addColumn('status', 'text', (column) => column.notNull())
        .addColumn('charges_made', 'integer', (column) => column.notNull())
        .addColumn('last_index', 'integer', (column) => column.notNull())
        .addColumn('next_due_on', 'text', (column) => column.notNull())
        .addColumn('created_at_ms', 'bigint', (column) => column.notNull())
        .addColumn('updated_at_ms', 'bigint', (column) => column.notNull())
        .execute();
      await db.schema.createIndex('schedule_bindings_one_per_payment').on('schedule_bindings').unique()
        .columns(['schedule_id', 'initiating_trans_id']).execute();
      // The runner's scan: active bindings whose next date has come.
      await db.schema.createIndex('schedule_bindings_due').on('schedule_bindings')
        .columns(['status', 'next_due_on']).execute();

      await db.schema.createTable('schedule_charges')
        .addColumn('charge_id', 'text', (column) => column.primaryKey())
        .addColumn('binding_id', 'text', (column) => column.notNull().references('schedule_bindings.binding_id'))
        .addColumn('schedule_id', 'text', (column) => column.notNull())
        .addColumn('due_on', 'text', (column) => column.notNull())
        .addColumn('series_index', 'integer', (column) => column.notNull())
        .addColumn('trans_id', 'text', (column) => column.notNull())
        .addColumn('created_at_ms', 'bigint', (column) => column.notNull())
        .execute();
      // Exactly one charge per (bound card of a schedule, due date): several runners, or one
      // restarted after a crash, collide on this key instead of charging twice.
      await db.schema.createIndex('schedule_charges_one_per_due_date').on('schedule_charges').unique()
        .columns(['binding_id', 'due_on']).execute();

      await db.schema.createTable('settings')
        .addColumn('name', 'text', (column) => column.primaryKey())
        .addColumn('value', 'text', (column) => column.notNull())
        .addColumn('updated_at_ms', 'bigint', (column) => column.notNull())
        .execute();
    },
  },
  '0007_merchant_change_notice': {
    // PostgreSQL servers cache merchants (storage/merchant-cache.ts) and must hear of every
    // change, whoever makes it: a statement trigger notifies at commit. SQLite reads merchants
    // in-process on every request and needs nothing.
    async up(db: Kysely<any>) {
      if ((await dialectOf(db)) !== 'postgres') return;
      await sql`CREATE FUNCTION kassa_notify_merchant_change() RETURNS trigger LANGUAGE plpgsql AS $$
          BEGIN
            PERFORM pg_notify('kassa_merchants', TG_TABLE_SCHEMA);
            RETURN NULL;
          END $$`.execute(db);
      await sql`CREATE TRIGGER merchants_change_notice AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON merchants
          FOR EACH STATEMENT EXECUTE FUNCTION kassa_notify_merchant_change()`.execute(db);
    },
  },
  '0008_outbox_claim_indexes': {
    // outbox_due (delivered_at_ms, next_attempt_at_ms) also holds every callback given up, so
    // SQLite's planner walked all of those on each dispatcher claim: after a load of 20,000
    // payments to a merchant without a callback URL a claim took 15 ms and grew with history.
    // outbox_pending (partial: neither delivered nor failed) is the index the claims need.
    async up(db: Kysely<any>) {
      await db.schema.dropIndex('outbox_due').execute();
      // "Is an earlier callback of this transaction still to go?" is asked for every candidate
      // of a claim. PostgreSQL answered it by walking all pending rows per candidate (a nested
      // loop anti join over outbox_pending): quadratic in the backlog. This index answers it
      // from the transaction's few pending rows.
      await db.schema.createIndex('outbox_pending_by_transaction').on('outbox')
        .columns(['trans_id', 'outbox_id'])
        .where(sql.ref('delivered_at_ms'), 'is', null)
        .where(sql.ref('failed_at_ms'), 'is', null)
        .execute();
    },
  },
  '0009_payments_merchant_key': {
    // PostgreSQL: the foreign key payments.merchant_id → merchants made every payment insert
    // lock its merchant's row FOR KEY SHARE; concurrent payments of one merchant then share
    // that lock through a MultiXact, measured at ~0.06 ms of PostgreSQL CPU per SALE (a fifth
    // of its insert). What the key protected against is a merchant deleted under its payments:
    // Kassa never deletes merchants, and a trigger now refuses to delete one that has payments.
    // A payment's merchant_id is always that of the merchant that just authenticated. SQLite
    // keeps the key (one writer, no such lock).
    async up(db: Kysely<any>) {
      if ((await dialectOf(db)) !== 'postgres') return;
      await sql`ALTER TABLE payments DROP CONSTRAINT payments_merchant_id_fkey`.execute(db);
      await sql`CREATE FUNCTION kassa_refuse_merchant_delete() RETURNS trigger LANGUAGE plpgsql AS $$
          BEGIN
            IF EXISTS (SELECT 1 FROM payments p WHERE p.merchant_id = OLD.merchant_id) THEN
              RAISE EXCEPTION 'merchant % has payments and cannot be deleted', OLD.merchant_id USING ERRCODE = 'foreign_key_violation';
            END IF;
            RETURN OLD;
          END $$`.execute(db);
      await sql`CREATE TRIGGER merchants_keep_with_payments BEFORE DELETE ON merchants
          FOR EACH ROW EXECUTE FUNCTION kassa_refuse_merchant_delete()`.execute(db);
    },
  },
  '0010_hash_lockouts': {
    // Wrong hashes counted per (merchant, client IP) in the database, so every node sees the same
    // count; one row per pair, upserted (operations/hash-lockouts.ts). merchants gets the latest
    // lock of any of its pairs, so the merchant cache tells for free that a merchant has none.
    async up(db: Kysely<any>) {
      await db.schema.createTable('hash_lockouts')
        .addColumn('merchant_id', 'text', (column) => column.notNull())
        .addColumn('ip', 'text', (column) => column.notNull())
        .addColumn('window_started_at_ms', 'bigint', (column) => column.notNull())
        .addColumn('wrong_hashes', 'integer', (column) => column.notNull())
        .addColumn('locked_until_ms', 'bigint', (column) => column.notNull())
        .addColumn('updated_at_ms', 'bigint', (column) => column.notNull())
        .addPrimaryKeyConstraint('hash_lockouts_pair', ['merchant_id', 'ip'])
        .execute();
      await db.schema.alterTable('merchants')
        .addColumn('hash_locked_until_ms', 'bigint', (column) => column.notNull().defaultTo(0))
        .execute();
    },
  },
  '0020_routing': {
    // Routing (ADR 0050): MIDs, merchant mappings, limits and their counters, the operators'
    // change log. Every existing merchant gets a mapping onto one default test-engine MID that
    // accepts everything, so what worked before keeps working unchanged.
    async up(db: Kysely<any>) {
      await createRoutingConfiguration(db);
      await createLimitCounters(db);
      await routeExistingMerchants(db);
      },
    },
  '0021_cascading': {
    // Cascading (ADR 0053): each mapping's cascade rule (NULL: the default rule), and on each
    // payment the first attempt of its cascade (NULL: it is the first or only one) and its number.
    async up(db: Kysely<any>) {
      await db.schema.alterTable('merchant_mappings').addColumn('cascade_json', 'text').execute();
      await db.schema.alterTable('payments').addColumn('cascade_of', 'text').execute();
      await db.schema.alterTable('payments')
        .addColumn('cascade_attempt', 'integer', (column) => column.notNull().defaultTo(1))
        .execute();
      await db.schema.createIndex('payments_cascade_of').on('payments').column('cascade_of').execute();
    },
  },
  '0022_exchange': {
    // Currency exchange (ADR 0054): the operator's rates as a history (the newest row of a pair
    // is its rate; a NULL rate removes it), the platform's base currency, the currencies a MID
    // takes by exchange, and on each payment the exchange it was made with.
    async up(db: Kysely<any>) {
      await db.schema.createTable('exchange_rates')
        .addColumn('rate_id', 'text', (column) => column.primaryKey())
        .addColumn('from_currency', 'text', (column) => column.notNull())
        .addColumn('to_currency', 'text', (column) => column.notNull())
        .addColumn('rate', 'text')
        .addColumn('created_at_ms', 'bigint', (column) => column.notNull())
        .execute();
      await db.schema.createTable('routing_settings')
        .addColumn('name', 'text', (column) => column.primaryKey())
        .addColumn('value', 'text')
        .execute();
      await db.schema.alterTable('mids').addColumn('exchange_currencies_json', 'text').execute();
      for (const column of ['exchange_rate', 'exchange_rate_base', 'exchange_currency']) {
        await db.schema.alterTable('payments').addColumn(column, 'text').execute();
      }
      await db.schema.alterTable('payments').addColumn('exchange_amount_minor', 'bigint').execute();
    },
  },
  '0030_payment_request_ids': {
    // The X-Request-Id of the request that created a payment, so an operator can go from a
    // payment to every log line of its request (docs/adr/0061). Named in the ops branch's block
    // (0030–0039) so it cannot collide with migrations written alongside it.
    async up(db: Kysely<any>) {
      await db.schema.alterTable('payments').addColumn('request_id', 'text').execute();
    },
  },
  '0040_merchant_hash_digest': {
    // The 5.6.x per-merchant hash mode: md5 (every merchant so far) or sha256, same formulas.
    async up(db: Kysely<any>) {
      await db.schema.alterTable('merchants')
        .addColumn('hash_digest', 'text', (column) => column.notNull().defaultTo('md5'))
        .execute();
    },
  },
  '0041_payment_callback_url_custom_data': {
    // 5.6.x per-request fields (docs/adr/0075): a payment's own callback URL (every callback of
    // it goes there, the outbox row carries it so the dispatcher needs no payments join) and its
    // custom_data, echoed in every callback. NULL for 5.2.0 requests, which stay as they were.
    async up(db: Kysely<any>) {
      await db.schema.alterTable('payments').addColumn('callback_url', 'text').execute();
      await db.schema.alterTable('payments').addColumn('custom_data_json', 'text').execute();
      await db.schema.alterTable('outbox').addColumn('callback_url', 'text').execute();
    },
  },
  '0042_api_requests': {
    // `kassa logs tail` (docs/adr/0079): the sandbox's record of merchants' API requests, errors
    // included — the action, the answer and ids, never a request field that could carry card data.
    async up(db: Kysely<any>) {
      await db.schema.createTable('api_requests')
        .addColumn('entry_id', 'text', (column) => column.primaryKey())
        .addColumn('request_id', 'text', (column) => column.notNull())
        .addColumn('client_key', 'text')
        .addColumn('action', 'text')
        .addColumn('method', 'text', (column) => column.notNull())
        .addColumn('path', 'text', (column) => column.notNull())
        .addColumn('remote_ip', 'text', (column) => column.notNull())
        .addColumn('result', 'text', (column) => column.notNull())
        .addColumn('status', 'text')
        .addColumn('error_code', 'integer')
        .addColumn('error_message', 'text')
        .addColumn('invalid_fields', 'text')
        .addColumn('trans_id', 'text')
        .addColumn('duration_ms', 'integer', (column) => column.notNull())
        .addColumn('created_at_ms', 'bigint', (column) => column.notNull())
        .execute();
      await db.schema.createIndex('api_requests_by_time').on('api_requests').columns(['created_at_ms']).execute();
    },
  },
  '0050_console': {
    // The admin console (docs/adr/0080): accounts, sessions every node shares, login throttling,
    // the append-only audit log, and the indexes payment search pages through by keyset.
    async up(db: Kysely<any>) {
      await db.schema.createTable('console_users')
        .addColumn('user_id', 'text', (column) => column.primaryKey())
        .addColumn('email', 'text', (column) => column.notNull().unique())
        .addColumn('role', 'text', (column) => column.notNull())
        .addColumn('merchant_id', 'text')
        .addColumn('password_hash', 'text', (column) => column.notNull())
        .addColumn('created_at_ms', 'bigint', (column) => column.notNull())
        .addColumn('updated_at_ms', 'bigint', (column) => column.notNull())
        .addCheckConstraint('console_users_role', sql`role IN ('administrator', 'support', 'viewer', 'merchant')`)
        .addCheckConstraint('console_users_merchant_scope', sql`(role = 'merchant') = (merchant_id IS NOT NULL)`)
        .execute();
      await db.schema.createTable('console_sessions')
        .addColumn('token_digest', 'text', (column) => column.primaryKey())
        .addColumn('user_id', 'text', (column) => column.notNull())
        .addColumn('csrf_token', 'text', (column) => column.notNull())
        .addColumn('created_at_ms', 'bigint', (column) => column.notNull())
        .addColumn('last_seen_at_ms', 'bigint', (column) => column.notNull())
        .execute();
      await db.schema.createIndex('console_sessions_by_user').on('console_sessions').column('user_id').execute();
      await db.schema.createTable('console_login_failures')
        .addColumn('subject', 'text', (column) => column.primaryKey())
        .addColumn('window_started_at_ms', 'bigint', (column) => column.notNull())
        .addColumn('failures', 'integer', (column) => column.notNull())
        .addColumn('locked_until_ms', 'bigint', (column) => column.notNull())
        .execute();
      await db.schema.createTable('audit_log')
        .addColumn('entry_id', 'text', (column) => column.primaryKey())
        .addColumn('at_ms', 'bigint', (column) => column.notNull())
        .addColumn('actor', 'text', (column) => column.notNull())
        .addColumn('actor_role', 'text', (column) => column.notNull())
        .addColumn('merchant_id', 'text')
        .addColumn('action', 'text', (column) => column.notNull())
        .addColumn('target', 'text', (column) => column.notNull())
        .addColumn('before_json', 'text')
        .addColumn('after_json', 'text')
        .execute();
      await db.schema.createIndex('audit_log_by_time').on('audit_log').columns(['at_ms', 'entry_id']).execute();
      await refuseAuditChanges(db);
      // Payment search: newest first, paged by (created_at_ms, trans_id); each filter has an
      // index that starts with it and ends with the page order, so a page reads ~50 index rows.
      for (const [name, columns] of [
        ['payments_by_time', ['created_at_ms', 'trans_id']],
        ['payments_by_merchant_time', ['merchant_id', 'created_at_ms', 'trans_id']],
        ['payments_by_status_time', ['status', 'created_at_ms', 'trans_id']],
        ['payments_by_card_time', ['card_last_four', 'created_at_ms', 'trans_id']],
        ['payments_by_order_any_merchant', ['order_id', 'created_at_ms']],
        ['payments_by_amount_time', ['amount_minor', 'created_at_ms', 'trans_id']],
      ] as const) {
        await db.schema.createIndex(name).on('payments').columns([...columns]).execute();
      }
    },
  },
  '0060_reconciliations': {
    // The reconciler's bookkeeping per waiting operation, beside payment_operations rather than
    // in it: the hot path's fixed inserts stay as they are, and only operations left unknown
    // ever get a row. operator_needed is the operator's list (kassa reconciliation list).
    async up(db: Kysely<any>) {
      await db.schema.createTable('reconciliations')
        .addColumn('operation_id', 'text', (column) => column.primaryKey()
          .references('payment_operations.operation_id'))
        .addColumn('trans_id', 'text', (column) => column.notNull())
        .addColumn('inquiry_count', 'integer', (column) => column.notNull().defaultTo(0))
        .addColumn('next_inquiry_at_ms', 'bigint', (column) => column.notNull())
        .addColumn('claimed_until_ms', 'bigint')
        .addColumn('claim_token', 'text')
        .addColumn('last_answer', 'text')
        .addColumn('operator_needed_at_ms', 'bigint')
        .addColumn('resolution', 'text')
        .addColumn('resolved_by', 'text')
        .addColumn('resolved_at_ms', 'bigint')
        .addColumn('created_at_ms', 'bigint', (column) => column.notNull())
        .execute();
      // The reconciler's candidates are the waiting money operations: few among all of them.
      await db.schema.createIndex('payment_operations_waiting').on('payment_operations')
        .columns(['created_at_ms'])
        .where(sql.ref('status'), '=', 'waiting')
        .execute();
      },
    },
  '0070_schedule_bindings_due_in_order': {
    // The runner reads due bindings page by page in (next_due_on, binding_id) order. On the old
    // (status, next_due_on) index every page sorted all the day's due rows (100k on the 1st of
    // the month) to return 200 of them; with binding_id in the index a page is a range read.
    async up(db: Kysely<any>) {
      await db.schema.createIndex('schedule_bindings_due_in_order').on('schedule_bindings')
        .columns(['status', 'next_due_on', 'binding_id']).execute();
      await db.schema.dropIndex('schedule_bindings_due').execute();
    },
  },
  '0102_schedule_binding_claims': {
    // Scheduler nodes claim due bindings in batches with a lease, so two nodes split a renewal
    // day's work instead of racing for the same bindings (docs/adr/0102). The lease only
    // divides work: exactly once is still the UNIQUE (binding_id, due_on) charge row.
    async up(db: Kysely<any>) {
      await db.schema.alterTable('schedule_bindings').addColumn('claimed_until_ms', 'bigint').execute();
    },
  },
  '0080_limit_take_function': {
    // PostgreSQL: a payment with limits took each limit's shard in its own round trip inside a
    // transaction (BEGIN, SAVEPOINT and UPDATE per limit, the holds, COMMIT), holding the shard
    // rows' locks across all of them, so concurrent payments of one MID queued on the rows.
    // This function takes one shard per limit, in the order given, inside the payment's single
    // statement; it raises when a shard has no room, which undoes the whole statement, and the
    // caller falls back to the transactional path (storage/routing-limits.ts).
    async up(db: Kysely<any>) {
      if ((await dialectOf(db)) !== 'postgres') return;
      await sql`CREATE FUNCTION kassa_take_limit_shards(
            limit_ids text[], window_keys text[], shards integer[], amounts bigint[], shares bigint[])
          RETURNS TABLE (taken_limit_id text, taken_window_key text, taken_shard integer, taken_minor bigint)
          LANGUAGE plpgsql AS $$
          BEGIN
            FOR i IN 1 .. coalesce(array_length(limit_ids, 1), 0) LOOP
              UPDATE limit_counters c SET used_minor = c.used_minor + amounts[i]
                WHERE c.limit_id = limit_ids[i] AND c.window_key = window_keys[i] AND c.shard = shards[i]
                  AND c.used_minor + amounts[i] <= shares[i];
              IF NOT FOUND THEN
                RAISE EXCEPTION 'limit shard has no room' USING ERRCODE = 'KL001';
              END IF;
              taken_limit_id := limit_ids[i];
              taken_window_key := window_keys[i];
              taken_shard := shards[i];
              taken_minor := amounts[i];
              RETURN NEXT;
            END LOOP;
          END $$`.execute(db);
    },
  },
  '0081_merchant_unknown_result': {
    // docs/adr/0067: a merchant may ask for the 5.6.x UNDEFINED result when a SALE-like answer's
    // bank outcome is unknown; every merchant so far keeps 5.2.0's SUCCESS with status PREPARE.
    async up(db: Kysely<any>) {
      await db.schema.alterTable('merchants')
        .addColumn('unknown_result', 'text', (column) => column.notNull().defaultTo('success'))
        .execute();
    },
  },
  '0085_api_request_hash_terms': {
    // The signature explainer's "pick a recent refused one" (docs/adr/0085): a 900003 answer
    // keeps the terms its formula takes (e-mail, card first 6 and last 4, ids, the given hash;
    // never the PASSWORD, the whole card number or the CVV), sandbox only, for the log's 24 hours.
    async up(db: Kysely<any>) {
      await db.schema.alterTable('api_requests').addColumn('hash_terms_json', 'text').execute();
      await db.schema.createIndex('api_requests_by_error').on('api_requests')
        .columns(['error_code', 'created_at_ms']).execute();
    },
  },
  '0104_limit_take_skips_locked_shards': {
    // PostgreSQL (docs/adr/0104): the payment's statement now takes each limit's shard itself,
    // with FOR UPDATE SKIP LOCKED (storage/routing-limits.ts), instead of calling 0080's
    // function. That function waited for a shard another payment held until its commit, disk
    // flush included, and started an executor per statement inside it: together most of what
    // limits added to a SALE. This one only raises, when a limit has no free shard with room;
    // 0080's function stays for a node of the previous version during an upgrade.
    async up(db: Kysely<any>) {
      if ((await dialectOf(db)) !== 'postgres') return;
      await sql`CREATE FUNCTION kassa_limit_shard_full() RETURNS integer LANGUAGE plpgsql AS $$
          BEGIN
            RAISE EXCEPTION 'no free limit shard has room' USING ERRCODE = 'KL001';
          END $$`.execute(db);
    },
  },
};

/** The audit log is append-only in the database itself: an UPDATE or DELETE fails whoever runs it. */
async function refuseAuditChanges(db: Kysely<any>): Promise<void> {
  if ((await dialectOf(db)) === 'postgres') {
    await sql`CREATE FUNCTION kassa_refuse_audit_change() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN RAISE EXCEPTION 'the audit log is append-only'; END $$`.execute(db);
    await sql`CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
        FOR EACH ROW EXECUTE FUNCTION kassa_refuse_audit_change()`.execute(db);
    return;
  }
  for (const event of ['UPDATE', 'DELETE']) {
    await sql.raw(`CREATE TRIGGER audit_log_no_${event.toLowerCase()} BEFORE ${event} ON audit_log
        BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END`).execute(db);
  }
}

async function createRoutingConfiguration(db: Kysely<any>): Promise<void> {
  await db.schema.createTable('mids')
    .addColumn('mid_id', 'text', (column) => column.primaryKey())
    .addColumn('name', 'text', (column) => column.notNull().unique())
    .addColumn('connector', 'text', (column) => column.notNull())
    .addColumn('settings_json', 'text', (column) => column.notNull())
    // Credentials and other secret settings, encrypted by the vault as merchants' passwords.
    .addColumn('secret_settings_ciphertext', 'text')
    .addColumn('payment_types_json', 'text', (column) => column.notNull())
    .addColumn('actions_json', 'text', (column) => column.notNull())
    .addColumn('brands_json', 'text', (column) => column.notNull())
    .addColumn('currencies_json', 'text', (column) => column.notNull())
    .addColumn('settlement_currency', 'text', (column) => column.notNull())
    .addColumn('three_ds_mode', 'text', (column) => column.notNull())
    .addColumn('require_day_limit', 'integer', (column) => column.notNull())
    .addColumn('enabled', 'integer', (column) => column.notNull())
    .addColumn('created_at_ms', 'bigint', (column) => column.notNull())
    .addColumn('updated_at_ms', 'bigint', (column) => column.notNull())
    .execute();
  await db.schema.createTable('merchant_mappings')
    .addColumn('mapping_id', 'text', (column) => column.primaryKey())
    .addColumn('merchant_id', 'text', (column) => column.notNull())
    .addColumn('protocol', 'text', (column) => column.notNull())
    .addColumn('payment_methods_json', 'text', (column) => column.notNull())
    .addColumn('mid_ids_json', 'text', (column) => column.notNull())
    .addColumn('require_day_limit', 'integer', (column) => column.notNull())
    .addColumn('enabled', 'integer', (column) => column.notNull())
    .addColumn('created_at_ms', 'bigint', (column) => column.notNull())
    .addColumn('updated_at_ms', 'bigint', (column) => column.notNull())
    .execute();
  await db.schema.createIndex('merchant_mappings_one_per_protocol').on('merchant_mappings').unique()
    .columns(['merchant_id', 'protocol']).execute();
  await db.schema.createTable('routing_limits')
    .addColumn('limit_id', 'text', (column) => column.primaryKey())
    .addColumn('owner_kind', 'text', (column) => column.notNull())
    .addColumn('owner_id', 'text', (column) => column.notNull())
    .addColumn('window', 'text', (column) => column.notNull())
    .addColumn('currency', 'text', (column) => column.notNull())
    .addColumn('amount_minor', 'bigint', (column) => column.notNull())
    .addColumn('created_at_ms', 'bigint', (column) => column.notNull())
    .addCheckConstraint('routing_limits_not_negative', sql`amount_minor >= 0`)
    .execute();
  await db.schema.createIndex('routing_limits_one_per_window').on('routing_limits').unique()
    .columns(['owner_kind', 'owner_id', 'window', 'currency']).execute();
}

async function createLimitCounters(db: Kysely<any>): Promise<void> {
  // A limit's use in a window, spread over shard rows so concurrent payments of one MID do
  // not all update one row (storage/routing-limits.ts).
  await db.schema.createTable('limit_counters')
    .addColumn('limit_id', 'text', (column) => column.notNull())
    .addColumn('window_key', 'text', (column) => column.notNull())
    .addColumn('shard', 'integer', (column) => column.notNull())
    .addColumn('used_minor', 'bigint', (column) => column.notNull())
    .addPrimaryKeyConstraint('limit_counters_key', ['limit_id', 'window_key', 'shard'])
    .addCheckConstraint('limit_counters_not_negative', sql`used_minor >= 0`)
    .execute();
  // What each payment took from which counter row: given back exactly by a decline, a
  // void or a reversal.
  await db.schema.createTable('limit_holds')
    .addColumn('trans_id', 'text', (column) => column.notNull())
    .addColumn('limit_id', 'text', (column) => column.notNull())
    .addColumn('window_key', 'text', (column) => column.notNull())
    .addColumn('shard', 'integer', (column) => column.notNull())
    .addColumn('amount_minor', 'bigint', (column) => column.notNull())
    .addPrimaryKeyConstraint('limit_holds_key', ['trans_id', 'limit_id', 'shard'])
    .execute();
  await db.schema.createTable('routing_changes')
    .addColumn('change_id', 'text', (column) => column.primaryKey())
    .addColumn('actor', 'text', (column) => column.notNull())
    .addColumn('subject', 'text', (column) => column.notNull())
    .addColumn('detail_json', 'text', (column) => column.notNull())
    .addColumn('created_at_ms', 'bigint', (column) => column.notNull())
    .execute();
}

async function routeExistingMerchants(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('payments').addColumn('mid_id', 'text').execute();
  // Bumped with every routing change, so the cached merchant (exact on both databases)
  // tells a process its routing snapshot is stale without a read per payment.
  await db.schema.alterTable('merchants')
    .addColumn('routing_revision', 'integer', (column) => column.notNull().defaultTo(0))
    .execute();
  const nowMs = Date.now();
  const any = JSON.stringify(['*']);
  await db.insertInto('mids').values({
    mid_id: defaultMidId, name: 'default-test-engine', connector: 'test-engine', settings_json: '{}',
    secret_settings_ciphertext: null, payment_types_json: any, actions_json: any, brands_json: any,
    currencies_json: any, settlement_currency: 'USD', three_ds_mode: 'merchant', require_day_limit: 0,
    enabled: 1, created_at_ms: nowMs, updated_at_ms: nowMs,
  }).execute();
  await sql`INSERT INTO merchant_mappings (mapping_id, merchant_id, protocol, payment_methods_json, mid_ids_json,
      require_day_limit, enabled, created_at_ms, updated_at_ms)
    SELECT 'map_' || merchant_id, merchant_id, 'S2S_CARD', ${JSON.stringify(['card'])},
      ${JSON.stringify([defaultMidId])}, 0, 1, ${nowMs}, ${nowMs} FROM merchants`.execute(db);
}

async function dialectOf(db: Kysely<any>): Promise<'postgres' | 'sqlite'> {
  const adapter = db.getExecutor().adapter.constructor.name;
  return adapter.toLowerCase().includes('postgres') ? 'postgres' : 'sqlite';
}

class InCodeMigrationProvider implements MigrationProvider {
  async getMigrations(): Promise<Record<string, Migration>> {
    return migrations;
  }
}

/** `schema`: the PostgreSQL schema in use. Kysely looks for its bookkeeping table across all
 * schemas unless told which one, and would then skip creating ours. On PostgreSQL `db` must be
 * schema-scoped (schema-scoped-migrations.ts), so no other schema's tables are read at all. */
export async function migrateToLatest(db: Kysely<any>, schema?: string): Promise<void> {
  // Unordered: branches are given blocks of names (0040–0049, 0050–0059 …) and land in any
  // order, so a database already at 0070 must still get a 0041 that lands later. Kysely would
  // otherwise refuse to open it ("corrupted migrations"). Every migration is independent of the
  // ones numbered after it (each adds its own tables and columns).
  const migrator = new Migrator({
    db, provider: new InCodeMigrationProvider(), allowUnorderedMigrations: true,
    ...(schema ? { migrationTableSchema: schema } : {}),
  });
  const { error, results } = await migrator.migrateToLatest();
  const failed = results?.find((result) => result.status === 'Error');
  if (!error && !failed) return;
  const message = (error as Error | undefined)?.message ?? 'unknown error';
  throw new Error(`database migration failed${failed ? ` at ${failed.migrationName}` : ''}: ${message}`, { cause: error });
}

/** Migrations this version knows that the database has not applied (for /health/ready). */
export async function missingMigrations(db: Kysely<any>): Promise<string[]> {
  const { rows } = await sql<{ name: string }>`select name from kysely_migration`.execute(db);
  const applied = new Set(rows.map((row) => row.name));
  return Object.keys(migrations).filter((name) => !applied.has(name));
}
