import { CompiledQuery, type Kysely, type Transaction, sql } from 'kysely';
import type { Database, OutboxTable, PaymentOperationTable, PaymentTable } from './schema.ts';
import { callbacksCommitted } from './callback-signal.ts';
import { isUniqueViolation } from './dialect-errors.ts';
import { idList } from './id-list.ts';
import type { Storage } from './database.ts';
import {
  openStatuses, type NewPayment, type OperationStatus, type Payment, type PaymentOperation, type PaymentStatus,
} from '../domain/payment.ts';
import {
  fitsOneShardEach, limitHoldsFromTakeText, limitShardFullCode, limitTakeParameters, releaseLimitHolds,
} from './routing-limits.ts';
import { writeCompanions, type PaymentCompanion } from './payment-companions.ts';

type Executor = Kysely<Database> | Transaction<Database>;

export type PaymentRow = PaymentTable;
export type OperationRow = PaymentOperationTable;
export type OutboxRow = Omit<OutboxTable, 'attempt_count'>;

/** Row level, for modules not yet moved to Payment (SALE, recurring, schedules, pages). */
export async function findPayment(db: Executor, merchantId: string, transId: string): Promise<PaymentRow | undefined> {
  return db.selectFrom('payments').selectAll()
    .where('trans_id', '=', transId).where('merchant_id', '=', merchantId)
    .executeTakeFirst();
}

/** Whether this merchant already made a payment for the request with this fingerprint. */
export async function hasReplay(storage: Storage, merchantId: string, requestFingerprint: string): Promise<boolean> {
  const row = await storage.db.selectFrom('payments').select('trans_id')
    .where('merchant_id', '=', merchantId)
    .where('request_fingerprint', '=', requestFingerprint)
    .limit(1).executeTakeFirst();
  return row !== undefined;
}

/** Insert texts by table, columns, row count and dialect: a SALE's insert has ~35 columns, and
 * having Kysely build and compile it on every payment was ~8% of a SALE's CPU in the profile.
 * The shapes are few (a payment, its operations, its callbacks), so the cache stays small. A
 * shape is found by comparing column lists name by name, not by a key string made per row:
 * hashing a fresh ~500-character key on every look-up was most of what remained here. */
interface InsertShape { dialect: Storage['dialect']; rowCount: number; firstParameter: number; columns: string[]; text: string }
const insertShapes = new Map<string, InsertShape[]>();
const insertShapesPerTableMax = 64;

/** As with Kysely's values(): a property that is undefined is not a column of the insert. */
function definedColumnsOf(record: Record<string, unknown>): string[] {
  const columns: string[] = [];
  for (const column of Object.keys(record)) if (record[column] !== undefined) columns.push(column);
  return columns;
}

function hasColumns(record: Record<string, unknown>, columns: readonly string[]): boolean {
  let index = 0;
  for (const column of Object.keys(record)) {
    if (record[column] === undefined) continue;
    if (columns[index] !== column) return false;
    index += 1;
  }
  return index === columns.length;
}

function sameColumns(a: readonly string[], b: readonly string[]): boolean {
  if (a === b) return true; // a fixed column list (newPaymentColumns): no need to compare names
  if (a.length !== b.length) return false;
  for (let index = 0; index < a.length; index += 1) if (a[index] !== b[index]) return false;
  return true;
}

function insertText(dialect: Storage['dialect'], table: string, rowCount: number, firstParameter: number, columns: string[]): string {
  let shapes = insertShapes.get(table);
  if (shapes === undefined) insertShapes.set(table, shapes = []);
  for (const shape of shapes) {
    if (shape.dialect === dialect && shape.rowCount === rowCount && shape.firstParameter === firstParameter && sameColumns(shape.columns, columns)) {
      return shape.text;
    }
  }
  let next = firstParameter;
  const tuples: string[] = [];
  for (let row = 0; row < rowCount; row += 1) {
    const placeholders: string[] = [];
    for (let column = 0; column < columns.length; column += 1) placeholders.push(dialect === 'postgres' ? `$${next++}` : '?');
    tuples.push(`(${placeholders.join(', ')})`);
  }
  const text = `insert into "${table}" (${columns.map((column) => `"${column}"`).join(', ')}) values ${tuples.join(', ')}`;
  if (shapes.length >= insertShapesPerTableMax) shapes.length = 0;
  shapes.push({ dialect, rowCount, firstParameter, columns, text });
  return text;
}

/** `insert into "table" ("a", "b") values (?, ?), (?, ?)` for rows of one shape, with its
 * parameters; PostgreSQL placeholders are numbered from `firstParameter`. Undefined when the
 * rows' shapes differ (the caller then uses the query builder). Plain loops, no closures: the
 * entries/filter/map version cost ~3x as much. */
function insertInto(
  dialect: Storage['dialect'], table: string, rows: readonly object[], firstParameter = 1,
): { text: string; parameters: unknown[] } | undefined {
  const first = rows[0] as Record<string, unknown>;
  const columns = definedColumnsOf(first);
  const parameters: unknown[] = [];
  for (const row of rows) {
    const record = row as Record<string, unknown>;
    if (record !== first && !hasColumns(record, columns)) return undefined;
    for (const column of columns) parameters.push(record[column]);
  }
  return { text: insertText(dialect, table, rows.length, firstParameter, columns), parameters };
}

/** The payments columns a new payment writes, in the order `pushNewPayment` gives them:
 * one fixed shape, so the insert text is made once per dialect and row count. */
const newPaymentColumns = [
  'trans_id', 'merchant_id', 'order_id', 'action', 'is_auth', 'status', 'amount_minor', 'captured_minor',
  'refunded_minor', 'currency', 'order_description', 'payer_email', 'payer_json', 'card_bin', 'card_last_four',
  'card_length', 'card_expiry', 'card_brand', 'card_ciphertext', 'card_fingerprint', 'channel_id', 'parameters_json',
  'term_url_3ds', 'term_url_target', 'recurring_init', 'descriptor', 'decline_reason', 'request_fingerprint',
  'operation_lock', 'settled_at_ms', 'created_at_ms', 'updated_at_ms', 'recurring_token', 'card_token_ciphertext',
  'schedule_id', 'source_trans_id', 'payee_json', 'payee_card_mask', 'payee_card_ciphertext', 'mid_id', 'request_id',
  'callback_url', 'custom_data_json',
  'cascade_of', 'cascade_attempt', 'exchange_rate', 'exchange_rate_base', 'exchange_currency', 'exchange_amount_minor',
];

/** A NewPayment as the row's values, straight into the parameter list (no row object between). */
function pushNewPayment(parameters: unknown[], payment: NewPayment): void {
  const { card } = payment;
  parameters.push(
    payment.transId, payment.merchantId, payment.orderId, payment.action, payment.isAuth ? 1 : 0, payment.status,
    payment.amountMinor, payment.capturedMinor, payment.refundedMinor, payment.currency, payment.orderDescription,
    payment.payerEmail, payment.payerJson, card.bin, card.lastFour, card.length, card.expiry, card.brand,
    card.ciphertext, payment.cardFingerprint, payment.channelId, payment.parametersJson, payment.termUrl3ds,
    payment.termUrlTarget, payment.recurringInit ? 1 : 0, payment.descriptor, payment.declineReason,
    payment.requestFingerprint, payment.operationLock, payment.settledAtMs, payment.createdAtMs, payment.updatedAtMs,
    payment.recurringToken, payment.cardTokenCiphertext, payment.scheduleId, payment.sourceTransId, payment.payeeJson,
    payment.payeeCardMask, payment.payeeCardCiphertext, payment.midId ?? null, payment.requestId,
    payment.callbackUrl ?? null, payment.customData ? JSON.stringify(payment.customData) : null,
    payment.cascadeOf ?? null, payment.cascadeAttempt ?? 1, payment.exchange?.rate ?? null,
    payment.exchange?.rateBase ?? null, payment.exchange?.currency ?? null, payment.exchange?.amountMinor ?? null,
  );
}

const operationColumns = [
  'operation_id', 'trans_id', 'type', 'status', 'amount_minor', 'decline_reason', 'created_at_ms', 'updated_at_ms',
];

function pushOperation(parameters: unknown[], operation: PaymentOperation): void {
  parameters.push(
    operation.operationId, operation.transId, operation.type, operation.status, operation.amountMinor,
    operation.declineReason, operation.createdAtMs, operation.createdAtMs,
  );
}

/** The inserts of a new payment and its sub-transactions, their PostgreSQL placeholders
 * numbered from `firstParameter`, with one parameter list for both. */
function newPaymentInserts(
  dialect: Storage['dialect'], payment: NewPayment, operations: readonly PaymentOperation[], parameters: unknown[],
): { paymentText: string; operationsText: string } {
  const paymentText = insertText(dialect, 'payments', 1, parameters.length + 1, newPaymentColumns);
  pushNewPayment(parameters, payment);
  const operationsText = insertText(dialect, 'payment_operations', operations.length, parameters.length + 1, operationColumns);
  for (const operation of operations) pushOperation(parameters, operation);
  return { paymentText, operationsText };
}

/**
 * Inserts a new payment with its sub-transactions, outbox rows and companions (storage/
 * payment-companions.ts), atomically. Returns
 * 'conflict' when the database refuses it: the order already has an unfinished payment (the
 * insert trigger and the partial unique index), or the same request was already made (the
 * fingerprint key). Two racing requests cannot both get through.
 *
 * On PostgreSQL, the hot case is one statement (data-modifying CTEs, so no BEGIN/COMMIT round
 * trips: the profile showed socket writes to PostgreSQL as the largest cost of a SALE). On
 * SQLite, concurrent inserts share one commit (Storage.write).
 */
export async function insertPayment(
  storage: Storage, payment: NewPayment, operations: readonly PaymentOperation[], outbox: OutboxRow[],
  companions: readonly PaymentCompanion[] = [],
): Promise<'inserted' | 'conflict'> {
  try {
    if (storage.dialect === 'postgres' && operations.length > 0 && (await insertedInOneStatement(
      storage, payment, operations, outbox, companions,
    ))) {
      callbacksCommitted(outbox);
      return 'inserted';
    }
    await storage.write(async (transaction) => {
      // A statement per table: SQLite has no data-modifying CTEs, and the batch shares one commit.
      const paymentParameters: unknown[] = [];
      pushNewPayment(paymentParameters, payment);
      const paymentText = insertText(storage.dialect, 'payments', 1, 1, newPaymentColumns);
      await transaction.executeQuery(CompiledQuery.raw(paymentText, paymentParameters));
      if (operations.length > 0) {
        const operationParameters: unknown[] = [];
        for (const operation of operations) pushOperation(operationParameters, operation);
        const text = insertText(storage.dialect, 'payment_operations', operations.length, 1, operationColumns);
        await transaction.executeQuery(CompiledQuery.raw(text, operationParameters));
      }
      if (outbox.length > 0) {
        const statement = insertInto(storage.dialect, 'outbox', outbox);
        if (statement) await transaction.executeQuery(CompiledQuery.raw(statement.text, statement.parameters));
        else await transaction.insertInto('outbox').values(outbox).execute();
      }
      if (companions.length > 0) await writeCompanions(transaction, companions, !openStatuses.has(payment.status));
    });
    callbacksCommitted(outbox);
    return 'inserted';
  } catch (error) {
    if (isUniqueViolation(error)) return 'conflict';
    throw error;
  }
}

/**
 * PostgreSQL's hot case: the payment, its operations, its callbacks and its limit holds (or, for
 * a scheduled charge, its charge row and binding) as one statement (no BEGIN/COMMIT round
 * trips, and the limit shards' row locks held only while it
 * runs). False when the payment's companions need a transaction, or when a limit shard the read
 * chose has no room after all (`limitShardFullCode`, the whole statement undone): the
 * transactional path then writes it, spreading over the shards if it must.
 */
async function insertedInOneStatement(
  storage: Storage, payment: NewPayment, operations: readonly PaymentOperation[], outbox: OutboxRow[],
  companions: readonly PaymentCompanion[],
): Promise<boolean> {
  if (companions.length > 1 || (companions.length === 0 && outbox.length === 0)) return false;
  const holds = companions[0];
  if (holds?.kind === 'schedule-charge') {
    await scheduledChargeInOneStatement(storage, payment, operations, outbox, holds);
    return true;
  }
  if (holds !== undefined && (holds.kind !== 'limit-holds' || !fitsOneShardEach(holds.reservations))) return false;
  const parameters: unknown[] = [];
  const { paymentText, operationsText } = newPaymentInserts('postgres', payment, operations, parameters);
  const outboxInsert = outbox.length > 0 ? insertInto('postgres', 'outbox', outbox, parameters.length + 1) : undefined;
  if (outbox.length > 0 && !outboxInsert) throw new Error('the callbacks of one payment must have one shape');
  if (outboxInsert) for (const parameter of outboxInsert.parameters) parameters.push(parameter);
  const holdsText = holds ? limitHoldsFromTakeText(parameters.length + 1, holds.reservations.length) : undefined;
  if (holds) parameters.push(...limitTakeParameters(holds.reservations));
  const outboxText = outboxInsert?.text ?? '';
  const text = oneStatementText([paymentText, operationsText, outboxText, holdsText?.ctes ?? ''], () => {
    // The holds select from the inserted payment, so its unique keys are checked before any
    // shard is locked, as in the transactional path.
    const ctes = [
      `"inserted_payment" as (${paymentText}${holds ? ' returning "trans_id"' : ''})`,
      `"inserted_operations" as (${operationsText})`,
    ];
    if (holds && outboxText) ctes.push(`"inserted_callbacks" as (${outboxText})`);
    if (holdsText) ctes.push(holdsText.ctes);
    return `with ${ctes.join(', ')} ${holdsText ? holdsText.insert : outboxText}`;
  });
  try {
    await storage.db.executeQuery(CompiledQuery.raw(text, parameters));
    return true;
  } catch (error) {
    if ((error as { code?: string }).code === limitShardFullCode) return false;
    throw error;
  }
}

/**
 * A scheduled charge on PostgreSQL: the payment, its operations and callbacks, the charge row
 * and the binding's progress (its lease given up if the payment is final) in one statement. The charge row selects from
 * the inserted payment and the binding's update from the inserted charge, so the parts run in
 * the transactional path's order — the payment's unique keys, then the charge's, then the
 * binding's row lock — and two nodes making the same charge queue on the first key rather than
 * deadlock. A second charge of the same (binding, due date) fails on its key and the whole
 * statement is undone.
 */
async function scheduledChargeInOneStatement(
  storage: Storage, payment: NewPayment, operations: readonly PaymentOperation[], outbox: OutboxRow[],
  charge: Extract<PaymentCompanion, { kind: 'schedule-charge' }>,
): Promise<void> {
  const parameters: unknown[] = [];
  const { paymentText, operationsText } = newPaymentInserts('postgres', payment, operations, parameters);
  const outboxInsert = outbox.length > 0 ? insertInto('postgres', 'outbox', outbox, parameters.length + 1) : undefined;
  if (outbox.length > 0 && !outboxInsert) throw new Error('the callbacks of one payment must have one shape');
  if (outboxInsert) for (const parameter of outboxInsert.parameters) parameters.push(parameter);
  const chargeText = scheduledChargeText(parameters.length + 1);
  const { row, progress } = charge;
  parameters.push(
    row.charge_id, row.binding_id, row.schedule_id, row.due_on, row.series_index, row.created_at_ms,
    progress.nextDueOn, progress.completed ? 'completed' : 'active', progress.nowMs, !openStatuses.has(payment.status),
  );
  const outboxText = outboxInsert?.text ?? '';
  const text = oneStatementText([paymentText, operationsText, outboxText, chargeText], () => {
    const ctes = [
      `"inserted_payment" as (${paymentText} returning "trans_id")`, `"inserted_operations" as (${operationsText})`,
    ];
    if (outboxText) ctes.push(`"inserted_callbacks" as (${outboxText})`);
    return `with ${ctes.join(', ')}, ${chargeText}`;
  });
  await storage.db.executeQuery(CompiledQuery.raw(text, parameters));
}

const scheduledChargeTexts = new Map<number, string>();

/** The charge row and the binding's progress, placeholders from `first` (in the order pushed above). */
function scheduledChargeText(first: number): string {
  let text = scheduledChargeTexts.get(first);
  if (text !== undefined) return text;
  const placeholders = Array.from({ length: 10 }, (_, index) => `$${first + index}`);
  const [
    chargeId, bindingId, scheduleId, dueOn, seriesIndex, createdAtMs, nextDueOn, status, nowMs, final,
  ] = placeholders;
  // INSERT … SELECT does not type its parameters from the columns, hence the casts.
  text = `"inserted_charge" as (insert into "schedule_charges" ("charge_id", "binding_id", "schedule_id", "due_on", `
    + `"series_index", "trans_id", "created_at_ms") select ${chargeId}::text, ${bindingId}::text, ${scheduleId}::text, `
    + `${dueOn}::text, ${seriesIndex}::integer, "trans_id", ${createdAtMs}::bigint from "inserted_payment" `
    + 'returning "binding_id") '
    + `update "schedule_bindings" set "charges_made" = "charges_made" + 1, "last_index" = ${seriesIndex}::integer, `
    + `"next_due_on" = ${nextDueOn}, "status" = ${status}, "updated_at_ms" = ${nowMs}, `
    + `"claimed_until_ms" = case when ${final}::boolean then null else "claimed_until_ms" end `
    + 'where "binding_id" = (select "binding_id" from "inserted_charge")';
  if (scheduledChargeTexts.size >= insertShapesPerTableMax) scheduledChargeTexts.clear();
  scheduledChargeTexts.set(first, text);
  return text;
}

/** The combined text, made once per shape: a text built afresh per SALE (~2 KB) had to be
 * hashed and compared in full by every Map look-up on the way (the prepared-statement name);
 * the parts are the same string objects every time, each hashed once. Bounded as the insert
 * shapes are. */
interface TextTree { text?: string; next: Map<string, TextTree> }
const oneStatementTexts: TextTree = { next: new Map() };

function oneStatementText(parts: readonly string[], build: () => string): string {
  let node = oneStatementTexts;
  for (const part of parts) {
    let child = node.next.get(part);
    if (child === undefined) {
      if (node.next.size >= insertShapesPerTableMax) node.next.clear();
      node.next.set(part, child = { next: new Map() });
    }
    node = child;
  }
  node.text ??= build();
  return node.text;
}

export async function findOpenPaymentOfOrder(db: Executor, merchantId: string, orderId: string): Promise<PaymentRow | undefined> {
  return db.selectFrom('payments').selectAll()
    .where('merchant_id', '=', merchantId).where('order_id', '=', orderId)
    .where('status', 'in', ['PREPARE', '3DS', 'REDIRECT'])
    .limit(1).executeTakeFirst();
}

/** A row as the operations see it (domain/payment.ts). Unknown statuses cannot be stored: the
 * column is only written from the union. */
export function paymentFromRow(row: PaymentRow): Payment {
  return {
    transId: row.trans_id, merchantId: row.merchant_id, orderId: row.order_id, action: row.action,
    isAuth: Number(row.is_auth) === 1, status: row.status as PaymentStatus,
    amountMinor: Number(row.amount_minor), capturedMinor: Number(row.captured_minor),
    refundedMinor: Number(row.refunded_minor),
    currency: row.currency, orderDescription: row.order_description,
    descriptor: row.descriptor, declineReason: row.decline_reason,
    payerEmail: row.payer_email, payerJson: row.payer_json,
    card: {
      bin: row.card_bin, lastFour: row.card_last_four, length: Number(row.card_length), expiry: row.card_expiry,
      brand: row.card_brand, ciphertext: row.card_ciphertext,
    },
    channelId: row.channel_id, parametersJson: row.parameters_json,
    termUrl3ds: row.term_url_3ds, termUrlTarget: row.term_url_target, operationLock: row.operation_lock,
    settledAtMs: row.settled_at_ms === null ? null : Number(row.settled_at_ms),
    createdAtMs: Number(row.created_at_ms), updatedAtMs: Number(row.updated_at_ms),
    recurringToken: row.recurring_token ?? null, cardTokenCiphertext: row.card_token_ciphertext ?? null,
    scheduleId: row.schedule_id ?? null, sourceTransId: row.source_trans_id ?? null, midId: row.mid_id ?? null,
    callbackUrl: row.callback_url ?? null,
    customData: row.custom_data_json ? JSON.parse(row.custom_data_json) as Record<string, string> : null,
    cascadeOf: row.cascade_of ?? null,
    cascadeAttempt: row.cascade_attempt === undefined ? 1 : Number(row.cascade_attempt),
    exchange: row.exchange_rate
      ? {
        rate: row.exchange_rate, rateBase: row.exchange_rate_base ?? null, currency: row.exchange_currency!,
        amountMinor: Number(row.exchange_amount_minor),
      }
      : null,
  };
}

export function operationFromRow(row: OperationRow): PaymentOperation {
  return {
    operationId: row.operation_id, transId: row.trans_id, type: row.type, status: row.status as OperationStatus,
    amountMinor: Number(row.amount_minor), declineReason: row.decline_reason, createdAtMs: Number(row.created_at_ms),
  };
}

export function operationRowOf(operation: PaymentOperation): OperationRow {
  return {
    operation_id: operation.operationId, trans_id: operation.transId, type: operation.type, status: operation.status,
    amount_minor: operation.amountMinor, decline_reason: operation.declineReason,
    created_at_ms: operation.createdAtMs, updated_at_ms: operation.createdAtMs,
  };
}

/** A payment of this merchant by trans_id. */
export async function loadPayment(storage: Storage, merchantId: string, transId: string): Promise<Payment | undefined> {
  const row = await findPayment(storage.db, merchantId, transId);
  return row && paymentFromRow(row);
}

/** For the cardholder-facing steps and the operator, which know a transaction, not a merchant. */
export async function loadPaymentAnyMerchant(storage: Storage, transId: string): Promise<Payment | undefined> {
  const row = await findPaymentAnyMerchant(storage.db, transId);
  return row && paymentFromRow(row);
}

/** The most recent payment of an order: what GET_TRANS_STATUS_BY_ORDER reports. */
export async function loadLatestPaymentOfOrder(
  storage: Storage, merchantId: string, orderId: string,
): Promise<Payment | undefined> {
  const row = await storage.db.selectFrom('payments').selectAll()
    .where('merchant_id', '=', merchantId).where('order_id', '=', orderId)
    .orderBy('created_at_ms', 'desc').orderBy('trans_id', 'desc')
    .limit(1).executeTakeFirst();
  return row && paymentFromRow(row);
}

/** Every attempt of a cascade (ADR 0053), first first: the first attempt and those naming it. */
export async function loadCascadeAttempts(
  storage: Storage, merchantId: string, firstTransId: string,
): Promise<Payment[]> {
  const rows = await storage.db.selectFrom('payments').selectAll()
    .where('merchant_id', '=', merchantId)
    .where((where) => where.or([where('trans_id', '=', firstTransId), where('cascade_of', '=', firstTransId)]))
    .orderBy('cascade_attempt')
    .execute();
  return rows.map(paymentFromRow);
}

export async function loadOperations(storage: Storage, transId: string): Promise<PaymentOperation[]> {
  const rows = await storage.db.selectFrom('payment_operations').selectAll()
    .where('trans_id', '=', transId)
    .orderBy('created_at_ms').orderBy('operation_id')
    .execute();
  return rows.map(operationFromRow);
}

export async function loadOperation(storage: Storage, operationId: string): Promise<PaymentOperation | undefined> {
  const row = await storage.db.selectFrom('payment_operations').selectAll()
    .where('operation_id', '=', operationId).executeTakeFirst();
  return row && operationFromRow(row);
}

/** Whether a refund of this payment still waits for the acquirer's answer (its amount is
 * reserved; while it waits the payment's outcome is not known). */
export async function hasWaitingRefund(storage: Storage, transId: string): Promise<boolean> {
  const row = await storage.db.selectFrom('payment_operations').select('operation_id')
    .where('trans_id', '=', transId).where('type', '=', 'REFUND').where('status', '=', 'waiting')
    .limit(1).executeTakeFirst();
  return row !== undefined;
}

/**
 * Takes the payment for one exclusive money operation (capture, reversal, void): succeeds only
 * if the payment is still in the expected status and nobody else holds it. The WHERE clause is
 * the invariant; two racing requests cannot both get a row back.
 */
export async function claimPayment(
  storage: Storage,
  expectedStatus: PaymentStatus,
  operation: PaymentOperation,
  extraCondition: 'none' | 'no-refunds' = 'none',
): Promise<boolean> {
  return storage.write(async (transaction) => {
    let update = transaction.updateTable('payments')
      .set({ operation_lock: operation.operationId, updated_at_ms: operation.createdAtMs })
      .where('trans_id', '=', operation.transId)
      .where('status', '=', expectedStatus)
      .where('operation_lock', 'is', null);
    if (extraCondition === 'no-refunds') update = update.where('refunded_minor', '=', 0);
    const result = await update.executeTakeFirst();
    if (Number(result.numUpdatedRows) !== 1) return false;
    await transaction.insertInto('payment_operations').values(operationRowOf(operation)).execute();
    return true;
  });
}

/**
 * Reserves a refund before the acquirer is asked: `refunded + x <= captured` is checked and
 * applied by one UPDATE, so 50 parallel partial refunds can never exceed what was captured.
 * A declined refund gives its reservation back (finishClaimedOperation); an unknown one keeps it.
 * Returns why not when refused: 'too-large' when the payment could still be refunded with less.
 */
export async function reserveRefund(
  storage: Storage, operation: PaymentOperation,
): Promise<'reserved' | 'too-large' | 'not-allowed'> {
  const amountMinor = operation.amountMinor;
  return storage.write(async (transaction) => {
    const result = await transaction.updateTable('payments')
      .set({ refunded_minor: sql`refunded_minor + ${amountMinor}`, updated_at_ms: operation.createdAtMs })
      .where('trans_id', '=', operation.transId)
      .where('status', '=', 'SETTLED')
      .where('operation_lock', 'is', null)
      .where(sql<boolean>`refunded_minor + ${amountMinor} <= captured_minor`)
      .executeTakeFirst();
    if (Number(result.numUpdatedRows) !== 1) {
      const row = await transaction.selectFrom('payments').select(['status', 'operation_lock'])
        .where('trans_id', '=', operation.transId).executeTakeFirst();
      return row?.status === 'SETTLED' && row.operation_lock === null ? 'too-large' : 'not-allowed';
    }
    await transaction.insertInto('payment_operations').values(operationRowOf(operation)).execute();
    return 'reserved';
  });
}

/** The payment fields a finished operation sets (camelCase; mapped to columns here). */
export interface PaymentUpdate {
  status?: PaymentStatus;
  capturedMinor?: number;
  settledAtMs?: number | null;
  descriptor?: string;
  declineReason?: string | null;
}

/**
 * What a now-known outcome writes. `hold` names the claim it finishes, and the payment write is
 * conditional on it: `lock` — the payment is held by this operation (capture, reversal, void);
 * `refund` — the refund's reservation (given back when `releaseRefundMinor` is set; an approved
 * last refund makes the payment REFUND once no other refund waits); `prepare` — an
 * authorization after 3-D Secure, the payment in PREPARE.
 */
export interface OperationFinish {
  operation: PaymentOperation;
  hold: 'lock' | 'refund' | 'prepare';
  operationStatus: 'success' | 'fail';
  declineReason: string | null;
  change: PaymentUpdate;
  releaseRefundMinor?: number;
  /** 3-D Secure: also finish the waiting `3DS` step and erase the held CVV and the challenge. */
  challenge?: ChallengeStepResult;
  /** The callbacks, from the payment as it is after the change. */
  callbacksFor: (payment: Payment) => OutboxRow[];
  nowMs: number;
}

/** How the cardholder's 3-D Secure step ended. */
export interface ChallengeStepResult {
  threeDsStatus: 'success' | 'fail';
  declineReason: string | null;
}

const limitReleasingStatuses: ReadonlySet<PaymentStatus> = new Set(['DECLINED', 'VOID', 'REVERSAL']);

/** A final write that found its claim gone: something else finished the operation. */
export class ClaimLostError extends Error {
  constructor(readonly operationId: string, what: string) {
    super(`operation ${operationId}: ${what}`);
  }
}

function columnsOf(change: PaymentUpdate, nowMs: number): Record<string, unknown> {
  const columns: Record<string, unknown> = { updated_at_ms: nowMs };
  if (change.status !== undefined) columns.status = change.status;
  if (change.capturedMinor !== undefined) columns.captured_minor = change.capturedMinor;
  if (change.settledAtMs !== undefined) columns.settled_at_ms = change.settledAtMs;
  if (change.descriptor !== undefined) columns.descriptor = change.descriptor;
  if (change.declineReason !== undefined) columns.decline_reason = change.declineReason;
  return columns;
}

/**
 * Finishes a waiting money operation with its known outcome, in one transaction: the operation
 * (only while still `waiting`), the payment (only while the claim named by `hold` is this
 * operation's), the callbacks. Each write must change exactly one row, or nothing is written
 * and ClaimLostError is thrown: an outcome can be written once, by whoever holds the claim.
 */
export async function finishClaimedOperation(storage: Storage, finish: OperationFinish): Promise<Payment> {
  const { operation, nowMs } = finish;
  const finished = await storage.write(async (transaction) => {
    if (finish.hold === 'refund') {
      // Refunds finish in parallel: take the payment's row first, so that of two last refunds
      // finishing at once the second sees the first one's sub-transaction no longer waiting
      // (PostgreSQL, READ COMMITTED) and the payment does become REFUND.
      await transaction.updateTable('payments').set({ updated_at_ms: nowMs })
        .where('trans_id', '=', operation.transId).execute();
    }
    const marked = await transaction.updateTable('payment_operations')
      .set({ status: finish.operationStatus, decline_reason: finish.declineReason, updated_at_ms: nowMs })
      .where('operation_id', '=', operation.operationId).where('trans_id', '=', operation.transId)
      .where('status', '=', 'waiting').executeTakeFirst();
    if (Number(marked.numUpdatedRows) !== 1) throw new ClaimLostError(operation.operationId, 'no longer waiting');
    const changed = await updateClaimedPayment(transaction, finish);
    if (changed !== 1 && finish.hold !== 'refund') {
      throw new ClaimLostError(operation.operationId, 'the payment is not held by it');
    }
    if (finish.challenge) await finishChallengeStep(transaction, operation.transId, finish.challenge, nowMs);
    // Declined after 3-D Secure, voided or reversed: the money never moved, the limits get it
    // back (ADR 0051). A refund gives nothing back: limits count turnover.
    if (finish.change.status !== undefined && limitReleasingStatuses.has(finish.change.status)) {
      await releaseLimitHolds(transaction, operation.transId);
    }
    const row = await transaction.selectFrom('payments').selectAll()
      .where('trans_id', '=', operation.transId).executeTakeFirstOrThrow();
    const payment = paymentFromRow(row);
    const outbox = finish.callbacksFor(payment);
    if (outbox.length > 0) await transaction.insertInto('outbox').values(outbox).execute();
    return { payment, outbox };
    // The claim this finishes was committed (and waited for) before the bank was asked.
  }, { waitForDisk: false });
  callbacksCommitted(finished.outbox);
  return finished.payment;
}

async function updateClaimedPayment(transaction: Transaction<Database>, finish: OperationFinish): Promise<number> {
  const { operation, nowMs } = finish;
  const columns = columnsOf(finish.change, nowMs);
  let update = transaction.updateTable('payments').where('trans_id', '=', operation.transId);
  if (finish.hold === 'lock') {
    update = update.set({ ...columns, operation_lock: null }).where('operation_lock', '=', operation.operationId);
  } else if (finish.hold === 'prepare') {
    update = update.set(columns).where('status', '=', 'PREPARE');
  } else if (finish.releaseRefundMinor !== undefined) {
    const amountMinor = finish.releaseRefundMinor;
    update = update.set({ ...columns, refunded_minor: sql`refunded_minor - ${amountMinor}` })
      .where('refunded_minor', '>=', amountMinor);
    const released = await update.executeTakeFirst();
    if (Number(released.numUpdatedRows) !== 1) {
      throw new ClaimLostError(operation.operationId, 'the reservation is gone');
    }
    return 1;
  } else {
    // The last refund: REFUND once everything captured is refunded and no other refund waits
    // (one that is still waiting could be declined and give its amount back).
    update = update.set({ ...columns, status: 'REFUND' }).where('status', '=', 'SETTLED')
      .where(sql<boolean>`refunded_minor = captured_minor`)
      .where(({ not, exists, selectFrom }) => not(exists(selectFrom('payment_operations').select('operation_id')
        .where('payment_operations.trans_id', '=', operation.transId)
        .where('payment_operations.type', '=', 'REFUND').where('payment_operations.status', '=', 'waiting'))));
  }
  const result = await update.executeTakeFirst();
  return Number(result.numUpdatedRows);
}

/** The cardholder's step of a 3-D Secure payment is over: its sub-transaction, the held CVV
 * (PCI DSS 3.3.2: gone once authorization is attempted) and the challenge. */
async function finishChallengeStep(
  transaction: Transaction<Database>, transId: string, step: ChallengeStepResult, nowMs: number,
): Promise<void> {
  await transaction.updateTable('payment_operations')
    .set({ status: step.threeDsStatus, decline_reason: step.declineReason, updated_at_ms: nowMs })
    .where('trans_id', '=', transId).where('type', '=', '3DS').where('status', '=', 'waiting').execute();
  await transaction.deleteFrom('card_secrets').where('trans_id', '=', transId).execute();
  await transaction.deleteFrom('challenges').where('trans_id', '=', transId).execute();
}

/**
 * The acquirer's answer after 3-D Secure is unknown: the cardholder's step is finished and the
 * CVV erased, but the payment stays PREPARE and its authorization sub-transaction `waiting`
 * until the outcome is known (finishUnknownOperation). Conditional on PREPARE: the claim.
 */
export async function leaveAuthorizationUnknown(
  storage: Storage, transId: string, step: ChallengeStepResult, nowMs: number,
): Promise<void> {
  await storage.write(async (transaction) => {
    const held = await transaction.updateTable('payments').set({ updated_at_ms: nowMs })
      .where('trans_id', '=', transId).where('status', '=', 'PREPARE').executeTakeFirst();
    if (Number(held.numUpdatedRows) !== 1) throw new ClaimLostError(transId, 'the payment left PREPARE');
    await finishChallengeStep(transaction, transId, step, nowMs);
  });
}

/**
 * A chargeback: SETTLED → CHARGEBACK only if `refunded + amount <= captured` and nobody holds the
 * payment, in one UPDATE (a racing refund or second chargeback cannot slip in between), with its
 * sub-transaction and callback.
 */
export async function recordChargeback(
  storage: Storage, operation: PaymentOperation, callbackFor: (payment: Payment) => OutboxRow,
): Promise<{ outcome: 'recorded'; payment: Payment } | { outcome: 'not-settled' | 'too-large' }> {
  const transId = operation.transId;
  const recorded = await storage.write(async (transaction) => {
    const result = await transaction.updateTable('payments')
      .set({ status: 'CHARGEBACK', updated_at_ms: operation.createdAtMs })
      .where('trans_id', '=', transId).where('status', '=', 'SETTLED').where('operation_lock', 'is', null)
      .where(sql<boolean>`refunded_minor + ${operation.amountMinor} <= captured_minor`)
      .executeTakeFirst();
    if (Number(result.numUpdatedRows) !== 1) {
      const row = await transaction.selectFrom('payments').select(['status', 'operation_lock']).where('trans_id', '=', transId).executeTakeFirst();
      const tooLarge = row?.status === 'SETTLED' && row.operation_lock === null;
      return { outcome: tooLarge ? 'too-large' as const : 'not-settled' as const };
    }
    await transaction.insertInto('payment_operations').values(operationRowOf(operation)).execute();
    const payment = paymentFromRow(await transaction.selectFrom('payments').selectAll()
      .where('trans_id', '=', transId).executeTakeFirstOrThrow());
    const callback = callbackFor(payment);
    await transaction.insertInto('outbox').values(callback).execute();
    return { outcome: 'recorded' as const, payment, callback };
  });
  if (recorded.outcome !== 'recorded') return recorded;
  callbacksCommitted([recorded.callback]);
  return { outcome: 'recorded', payment: recorded.payment };
}

/** For the cardholder-facing pages, which know a transaction by a signed link, not a merchant. */
export async function findPaymentAnyMerchant(db: Executor, transId: string): Promise<PaymentRow | undefined> {
  return db.selectFrom('payments').selectAll().where('trans_id', '=', transId).executeTakeFirst();
}

/** Payments by trans_id, whichever merchant's, in one read (the scheduler's batch): those found. */
export async function loadPaymentsAnyMerchant(
  storage: Storage, transIds: readonly string[],
): Promise<Map<string, Payment>> {
  const found = new Map<string, Payment>();
  if (transIds.length === 0) return found;
  const rows = await storage.db.selectFrom('payments').selectAll()
    .where('trans_id', 'in', idList(storage.dialect, [...new Set(transIds)])).execute();
  for (const row of rows) found.set(row.trans_id, paymentFromRow(row));
  return found;
}

/** Whether any payment of this merchant carries the recurring token (stored lower-case): tells
 * DESCHEDULE's "not bound to this schedule" from "no such token". */
export async function merchantHasRecurringToken(storage: Storage, merchantId: string, token: string): Promise<boolean> {
  const row = await storage.db.selectFrom('payments').select('trans_id')
    .where('merchant_id', '=', merchantId).where('recurring_token', '=', token.toLowerCase()).executeTakeFirst();
  return row !== undefined;
}
