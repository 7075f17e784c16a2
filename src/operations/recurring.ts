import { randomBytes, randomUUID } from 'node:crypto';
import type { Transaction } from 'kysely';
import { financialDay } from '../domain/dates.ts';
import { newId } from '../domain/ids.ts';
import { nextDueDate, type IntervalUnit } from '../domain/schedule-dates.ts';
import { Secret } from '../domain/secret.ts';
import { ProtocolError } from '../protocol/errors.ts';
import { findCardToken, insertCardToken } from '../storage/card-tokens.ts';
import type { PaymentRow } from '../storage/payments.ts';
import { findSchedule, insertBinding, type ScheduleRow } from '../storage/schedules.ts';
import type { Database } from '../storage/schema.ts';
import type { PlatformContext } from './context.ts';
import { approvedStatuses } from './payment-facts.ts';
import type { SaleCommand, SaleExtras, SaleMerchant } from './sale.ts';

/** How long a card token stays usable unless KASSA_CARD_TOKEN_TTL_DAYS says otherwise. */
export const defaultCardTokenTtlMs = 365 * 24 * 60 * 60 * 1000;

/** The lookup key of a card token: a keyed HMAC, so the table alone gives no usable token. */
export function cardTokenFingerprint(context: PlatformContext, token: string): string {
  return context.vault.fingerprint(`card-token\n${token}`);
}

/** A fresh card token: 64 random hex characters, unrelated to the card number. */
export function newCardToken(): string {
  return randomBytes(32).toString('hex');
}

/**
 * The card behind a card_token, for this merchant: 205005 when unknown (or its payment was not
 * approved), 205007 when it is another merchant's, 205006 when expired.
 */
export async function tokenCard(
  context: PlatformContext, merchantId: string, token: string,
): Promise<Pick<SaleCommand, 'cardNumber' | 'expiryMonth' | 'expiryYear'>> {
  const found = await findCardToken(context.storage.db, cardTokenFingerprint(context, token));
  if (!found || !approvedStatuses.has(found.payment.status)) throw new ProtocolError('cardTokenNotFound');
  if (found.token.merchant_id !== merchantId) throw new ProtocolError('cardTokenNotAccessible');
  if (Number(found.token.expires_at_ms) <= context.clock.nowMs()) throw new ProtocolError('cardTokenExpired');
  return storedCard(context, found.payment);
}

/** The card of an earlier payment, decrypted for the acquirer only. */
export function storedCard(context: PlatformContext, payment: PaymentRow): Pick<SaleCommand, 'cardNumber' | 'expiryMonth' | 'expiryYear'> {
  const [month, year] = payment.card_expiry.split('/');
  return { cardNumber: new Secret(context.vault.decrypt(payment.card_ciphertext)), expiryMonth: Number(month), expiryYear: Number(year) };
}

/** A schedule a new recurring payment may use: this merchant's, not deleted, not paused. */
export async function usableSchedule(context: PlatformContext, merchantId: string, scheduleId: string): Promise<ScheduleRow> {
  const schedule = await findSchedule(context.storage.db, merchantId, scheduleId);
  if (!schedule) throw new ProtocolError('scheduleNotFound');
  if (schedule.paused === 1) throw new ProtocolError('schedulePaused');
  return schedule;
}

export function ruleOf(schedule: Pick<ScheduleRow, 'interval_unit' | 'interval_length' | 'day_of_month' | 'delays'>) {
  return {
    intervalUnit: schedule.interval_unit as IntervalUnit,
    intervalLength: Number(schedule.interval_length),
    dayOfMonth: schedule.day_of_month === null ? null : Number(schedule.day_of_month),
    delays: Number(schedule.delays),
  };
}

/** Binds the card of `sourceTransId` to the schedule, in the transaction of the payment that
 * carried schedule_id: that payment's day anchors the dates and its amount is charged. */
export function bindToSchedule(context: PlatformContext, schedule: ScheduleRow, sourceTransId: string | null) {
  return async (transaction: Transaction<Database>, payment: PaymentRow) => {
    const nowMs = Number(payment.created_at_ms);
    const anchorOn = financialDay(nowMs, context.timeZone);
    await insertBinding(transaction, {
      binding_id: newId(nowMs), schedule_id: schedule.schedule_id, merchant_id: payment.merchant_id,
      initiating_trans_id: payment.trans_id, source_trans_id: sourceTransId ?? payment.trans_id, anchor_on: anchorOn,
      amount_minor: Number(payment.amount_minor), currency: payment.currency, order_id: payment.order_id, status: 'active',
      charges_made: 0, last_index: 0, next_due_on: nextDueDate(ruleOf(schedule), anchorOn, 0).dueOn,
      created_at_ms: nowMs, updated_at_ms: nowMs,
    });
  };
}

/** Runs several in-transaction writes in order. */
export function allOf(
  ...writes: (SaleExtras['alsoInTransaction'] | undefined)[]
): SaleExtras['alsoInTransaction'] | undefined {
  const present = writes.filter((write): write is NonNullable<typeof write> => write !== undefined);
  if (present.length === 0) return undefined;
  return async (transaction, payment) => {
    for (const write of present) await write(transaction, payment);
  };
}

/**
 * What recurring_init, schedule_id and req_token add to a SALE. recurring_init=Y gets a
 * recurring token only for a card the connector allows to start recurring payments (the test
 * engine: the spec's card 01/2025 only); the SALE itself goes ahead either way. A schedule is
 * checked whenever named, and bound only when a recurring token is issued.
 */
export async function recurringExtras(
  context: PlatformContext, merchant: SaleMerchant, command: SaleCommand, options: { reqToken: boolean; scheduleId: string | null },
): Promise<SaleExtras> {
  const schedule = options.scheduleId ? await usableSchedule(context, merchant.merchantId, options.scheduleId) : undefined;
  const pan = command.cardNumber.reveal();
  const eligible = command.recurringInit && (context.acquirer.canInitiateRecurring?.({
    bin: pan.slice(0, 6), lastFour: pan.slice(-4), expiryMonth: command.expiryMonth, expiryYear: command.expiryYear,
  }) ?? true);
  const payment: Partial<PaymentRow> = {};
  let bind: SaleExtras['alsoInTransaction'];
  if (eligible) {
    payment.recurring_token = randomUUID();
    if (schedule) {
      payment.schedule_id = schedule.schedule_id;
      bind = bindToSchedule(context, schedule, null);
    }
  }
  let issueToken: SaleExtras['alsoInTransaction'];
  if (options.reqToken) {
    const token = newCardToken();
    payment.card_token_ciphertext = context.vault.encrypt(token);
    issueToken = async (transaction, row) => {
      const nowMs = Number(row.created_at_ms);
      await insertCardToken(transaction, {
        token_fingerprint: cardTokenFingerprint(context, token), merchant_id: row.merchant_id, source_trans_id: row.trans_id,
        expires_at_ms: nowMs + (context.cardTokenTtlMs ?? defaultCardTokenTtlMs), created_at_ms: nowMs,
      });
    };
  }
  return { payment, alsoInTransaction: allOf(issueToken, bind) };
}
