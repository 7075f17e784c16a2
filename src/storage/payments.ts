import { CompiledQuery, type Kysely, type Transaction, sql } from 'kysely';
import type { Database, OutboxTable, PaymentOperationTable, PaymentTable } from './schema.ts';
import { callbacksCommitted } from './callback-signal.ts';
import { isUniqueViolation } from './dialect-errors.ts';
import type { Storage } from './database.ts';

type Executor = Kysely<Database> | Transaction<Database>;

export type PaymentRow = PaymentTable;
export type OperationRow = PaymentOperationTable;
export type OutboxRow = Omit<OutboxTable, 'attempt_count'>;

export async function findPayment(db: Executor, merchantId: string, transId: string): Promise<PaymentRow | undefined> {
  return db.selectFrom('payments').selectAll()
    .where('trans_id', '=', transId).where('merchant_id', '=', merchantId)
    .executeTakeFirst();
}

/** The most recent payment of an order: what GET_TRANS_STATUS_BY_ORDER reports. */
export async function findLatestPaymentOfOrder(db: Executor, merchantId: string, orderId: string): Promise<PaymentRow | undefined> {
  return db.selectFrom('payments').selectAll()
    .where('merchant_id', '=', merchantId).where('order_id', '=', orderId)
    .orderBy('created_at_ms', 'desc').orderBy('trans_id', 'desc')
    .limit(1).executeTakeFirst();
}

export async function findReplay(db: Executor, merchantId: string, requestFingerprint: string): Promise<PaymentRow | undefined> {
  return db.selectFrom('payments').selectAll()
    .where('merchant_id', '=', merchantId)
    .where('request_fingerprint', '=', requestFingerprint)
    .limit(1).executeTakeFirst();
}

export async function listOperations(db: Executor, transId: string): Promise<OperationRow[]> {
  return db.selectFrom('payment_operations').selectAll()
    .where('trans_id', '=', transId)
    .orderBy('created_at_ms').orderBy('operation_id')
    .execute();
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

/**
 * Inserts a new payment with its sub-transactions and outbox rows, atomically. Returns
 * 'conflict' when the database refuses it: the order already has an unfinished payment (the
 * insert trigger and the partial unique index), or the same request was already made (the
 * fingerprint key). Two racing requests cannot both get through.
 *
 * On PostgreSQL, the hot case is one statement (data-modifying CTEs, so no BEGIN/COMMIT round
 * trips: the profile showed socket writes to PostgreSQL as the largest cost of a SALE). On
 * SQLite, concurrent inserts share one commit (Storage.write).
 */
export async function insertPayment(
  storage: Storage, payment: PaymentRow, operations: OperationRow[], outbox: OutboxRow[],
  alsoInTransaction?: (transaction: Transaction<Database>) => Promise<void>,
): Promise<'inserted' | 'conflict'> {
  try {
    if (storage.dialect === 'postgres' && !alsoInTransaction && outbox.length > 0) {
      await storage.db.executeQuery(paymentInOneStatement(payment, operations, outbox));
      callbacksCommitted(outbox);
      return 'inserted';
    }
    await storage.write(async (transaction) => {
      for (const [table, rows] of [['payments', [payment]], ['payment_operations', operations], ['outbox', outbox]] as const) {
        if (rows.length === 0) continue;
        const statement = insertInto(storage.dialect, table, rows);
        if (statement) await transaction.executeQuery(CompiledQuery.raw(statement.text, statement.parameters));
        else await transaction.insertInto(table).values(rows as never).execute();
      }
      if (alsoInTransaction) await alsoInTransaction(transaction);
    });
    callbacksCommitted(outbox);
    return 'inserted';
  } catch (error) {
    if (isUniqueViolation(error)) return 'conflict';
    throw error;
  }
}

/** PostgreSQL: the payment, its operations and its callbacks as one statement. */
function paymentInOneStatement(payment: PaymentRow, operations: OperationRow[], outbox: OutboxRow[]): CompiledQuery {
  const paymentInsert = insertInto('postgres', 'payments', [payment])!;
  const operationsInsert = insertInto('postgres', 'payment_operations', operations, paymentInsert.parameters.length + 1);
  const outboxInsert = operationsInsert
    && insertInto('postgres', 'outbox', outbox, paymentInsert.parameters.length + operationsInsert.parameters.length + 1);
  if (!operationsInsert || !outboxInsert) throw new Error('operations and callbacks of one payment must each have one shape');
  return CompiledQuery.raw(
    oneStatementText(paymentInsert.text, operationsInsert.text, outboxInsert.text),
    [...paymentInsert.parameters, ...operationsInsert.parameters, ...outboxInsert.parameters],
  );
}

/** The combined text, made once per shape: a text built afresh per SALE (~2 KB) had to be
 * hashed and compared in full by every Map look-up on the way (the prepared-statement name);
 * the same string object is hashed once. Bounded as the insert shapes are. */
const oneStatementTexts = new Map<string, Map<string, Map<string, string>>>();

function oneStatementText(paymentText: string, operationsText: string, outboxText: string): string {
  let byOperations = oneStatementTexts.get(paymentText);
  if (byOperations === undefined) {
    if (oneStatementTexts.size >= insertShapesPerTableMax) oneStatementTexts.clear();
    oneStatementTexts.set(paymentText, byOperations = new Map());
  }
  let byOutbox = byOperations.get(operationsText);
  if (byOutbox === undefined) {
    if (byOperations.size >= insertShapesPerTableMax) byOperations.clear();
    byOperations.set(operationsText, byOutbox = new Map());
  }
  let text = byOutbox.get(outboxText);
  if (text === undefined) {
    text = `with "inserted_payment" as (${paymentText}), "inserted_operations" as (${operationsText}) ${outboxText}`;
    if (byOutbox.size >= insertShapesPerTableMax) byOutbox.clear();
    byOutbox.set(outboxText, text);
  }
  return text;
}

export async function findOpenPaymentOfOrder(db: Executor, merchantId: string, orderId: string): Promise<PaymentRow | undefined> {
  return db.selectFrom('payments').selectAll()
    .where('merchant_id', '=', merchantId).where('order_id', '=', orderId)
    .where('status', 'in', ['PREPARE', '3DS', 'REDIRECT'])
    .limit(1).executeTakeFirst();
}

export interface PaymentChange {
  status?: string;
  captured_minor?: number;
  decline_reason?: string | null;
  descriptor?: string;
  settled_at_ms?: number | null;
  operation_lock?: string | null;
}

/** Finishes a sub-transaction: payment fields, the operation's status and the callbacks, together. */
export async function completeOperation(
  db: Kysely<Database>,
  transId: string,
  change: PaymentChange,
  operation: { operationId: string; status: 'success' | 'fail'; declineReason: string | null },
  outbox: OutboxRow[],
  nowMs: number,
): Promise<void> {
  await db.transaction().execute(async (transaction) => {
    await transaction.updateTable('payments').set({ ...change, updated_at_ms: nowMs })
      .where('trans_id', '=', transId).execute();
    await transaction.updateTable('payment_operations')
      .set({ status: operation.status, decline_reason: operation.declineReason, updated_at_ms: nowMs })
      .where('operation_id', '=', operation.operationId).execute();
    if (outbox.length > 0) await transaction.insertInto('outbox').values(outbox).execute();
  });
  callbacksCommitted(outbox);
}

/**
 * Takes the payment for one exclusive money operation (capture, reversal, void): succeeds only
 * if the payment is still in the expected status and nobody else holds it. The WHERE clause is
 * the invariant; two racing requests cannot both get a row back.
 */
export async function claimPayment(
  db: Kysely<Database>,
  transId: string,
  expectedStatus: string,
  operation: OperationRow,
  extraCondition: 'none' | 'no-refunds' = 'none',
): Promise<boolean> {
  return db.transaction().execute(async (transaction) => {
    let update = transaction.updateTable('payments')
      .set({ operation_lock: operation.operation_id, updated_at_ms: operation.created_at_ms })
      .where('trans_id', '=', transId)
      .where('status', '=', expectedStatus)
      .where('operation_lock', 'is', null);
    if (extraCondition === 'no-refunds') update = update.where('refunded_minor', '=', 0);
    const result = await update.executeTakeFirst();
    if (Number(result.numUpdatedRows) !== 1) return false;
    await transaction.insertInto('payment_operations').values(operation).execute();
    return true;
  });
}

/**
 * Reserves a refund before the acquirer is asked: `refunded + x <= captured` is checked and
 * applied by one UPDATE, so 50 parallel partial refunds can never exceed what was captured.
 * A declined refund gives its reservation back (releaseRefund).
 */
export async function reserveRefund(db: Kysely<Database>, transId: string, operation: OperationRow): Promise<boolean> {
  const amountMinor = operation.amount_minor;
  return db.transaction().execute(async (transaction) => {
    const result = await transaction.updateTable('payments')
      .set({
        refunded_minor: sql`refunded_minor + ${amountMinor}`,
        updated_at_ms: operation.created_at_ms,
      })
      .where('trans_id', '=', transId)
      .where('status', '=', 'SETTLED')
      .where('operation_lock', 'is', null)
      .where(sql<boolean>`refunded_minor + ${amountMinor} <= captured_minor`)
      .executeTakeFirst();
    if (Number(result.numUpdatedRows) !== 1) return false;
    await transaction.insertInto('payment_operations').values(operation).execute();
    return true;
  });
}

/** After an approved refund: the payment becomes REFUND once everything captured is refunded. */
export async function finishRefund(
  db: Kysely<Database>, transId: string, operationId: string, outboxFor: (status: string) => OutboxRow[], nowMs: number,
): Promise<string> {
  const finished = await db.transaction().execute(async (transaction) => {
    await transaction.updateTable('payments').set({ status: 'REFUND', updated_at_ms: nowMs })
      .where('trans_id', '=', transId).where('status', '=', 'SETTLED')
      .where(sql<boolean>`refunded_minor = captured_minor`).execute();
    await transaction.updateTable('payment_operations').set({ status: 'success', updated_at_ms: nowMs })
      .where('operation_id', '=', operationId).execute();
    const row = await transaction.selectFrom('payments').select('status').where('trans_id', '=', transId).executeTakeFirstOrThrow();
    const outbox = outboxFor(row.status);
    if (outbox.length > 0) await transaction.insertInto('outbox').values(outbox).execute();
    return { status: row.status, outbox };
  });
  callbacksCommitted(finished.outbox);
  return finished.status;
}

export async function releaseRefund(
  db: Kysely<Database>, transId: string, operationId: string, amountMinor: number, declineReason: string, outbox: OutboxRow[], nowMs: number,
): Promise<void> {
  await db.transaction().execute(async (transaction) => {
    await transaction.updateTable('payments')
      .set({ refunded_minor: sql`refunded_minor - ${amountMinor}`, status: 'SETTLED', updated_at_ms: nowMs })
      .where('trans_id', '=', transId).execute();
    await transaction.updateTable('payment_operations')
      .set({ status: 'fail', decline_reason: declineReason, updated_at_ms: nowMs })
      .where('operation_id', '=', operationId).execute();
    if (outbox.length > 0) await transaction.insertInto('outbox').values(outbox).execute();
  });
  callbacksCommitted(outbox);
}

/**
 * A chargeback: SETTLED → CHARGEBACK only if `refunded + amount <= captured` and nobody holds the
 * payment, in one UPDATE (a racing refund or second chargeback cannot slip in between), with its
 * sub-transaction and callback.
 */
export async function recordChargeback(
  db: Kysely<Database>, transId: string, operation: OperationRow, callback: OutboxRow,
): Promise<'recorded' | 'not-settled' | 'too-large'> {
  const outcome = await db.transaction().execute(async (transaction): Promise<'recorded' | 'not-settled' | 'too-large'> => {
    const result = await transaction.updateTable('payments')
      .set({ status: 'CHARGEBACK', updated_at_ms: operation.created_at_ms })
      .where('trans_id', '=', transId).where('status', '=', 'SETTLED').where('operation_lock', 'is', null)
      .where(sql<boolean>`refunded_minor + ${operation.amount_minor} <= captured_minor`)
      .executeTakeFirst();
    if (Number(result.numUpdatedRows) !== 1) {
      const row = await transaction.selectFrom('payments').select(['status', 'operation_lock']).where('trans_id', '=', transId).executeTakeFirst();
      return row?.status === 'SETTLED' && row.operation_lock === null ? 'too-large' : 'not-settled';
    }
    await transaction.insertInto('payment_operations').values(operation).execute();
    await transaction.insertInto('outbox').values(callback).execute();
    return 'recorded';
  });
  if (outcome === 'recorded') callbacksCommitted([callback]);
  return outcome;
}

/** For the cardholder-facing pages, which know a transaction by a signed link, not a merchant. */
export async function findPaymentAnyMerchant(db: Executor, transId: string): Promise<PaymentRow | undefined> {
  return db.selectFrom('payments').selectAll().where('trans_id', '=', transId).executeTakeFirst();
}
