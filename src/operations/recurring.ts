import { randomBytes, randomUUID } from 'node:crypto';
import { financialDay } from '../domain/dates.ts';
import { newId } from '../domain/ids.ts';
import { nextDueDate, type IntervalUnit } from '../domain/schedule-dates.ts';
import { Secret } from '../domain/secret.ts';
import { ProtocolError } from '../protocol/errors.ts';
import { findCardToken } from '../storage/card-tokens.ts';
import type { PaymentCompanion } from '../storage/payment-companions.ts';
import type { PaymentRow } from '../storage/payments.ts';
import { findSchedule, type ScheduleRow } from '../storage/schedules.ts';
import type { PlatformContext } from './context.ts';
import { approvedStatuses } from './payment-facts.ts';
import type { PaymentPlan, SaleCommand, SaleMerchant } from './sale.ts';

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

/** What a payment writes besides itself, in its own transaction (PaymentPlan.alsoWrite): if any
 * of it fails — a second runner's charge colliding on its UNIQUE key — the payment is not made. */
export type AlsoWrite =
  /** req_token=Y: the look-up row of the card token issued to this payment. */
  | { kind: 'card-token'; token: string }
  /** schedule_id: binds the card of `sourceTransId` (null: this payment's own card) to the
   * schedule; this payment's day anchors the dates and its amount is charged. */
  | { kind: 'schedule-binding'; schedule: ScheduleRow; sourceTransId: string | null }
  /** A scheduled charge: its row (one per binding and due date) and the binding's progress. */
  | {
    kind: 'schedule-charge'; bindingId: string; scheduleId: string; dueOn: string; seriesIndex: number;
    nextDueOn: string; completed: boolean;
  };

/** The storage rows of a plan's alsoWrite, given the payment as it was built. */
export function companionWrites(
  context: PlatformContext, records: readonly AlsoWrite[], payment: PaymentRow,
): PaymentCompanion[] {
  return records.map((record) => companionOf(context, record, payment));
}

function companionOf(context: PlatformContext, record: AlsoWrite, payment: PaymentRow): PaymentCompanion {
  const nowMs = Number(payment.created_at_ms);
  switch (record.kind) {
    case 'card-token':
      return {
        kind: 'card-token',
        row: {
          token_fingerprint: cardTokenFingerprint(context, record.token), merchant_id: payment.merchant_id,
          source_trans_id: payment.trans_id, expires_at_ms: nowMs + (context.cardTokenTtlMs ?? defaultCardTokenTtlMs),
          created_at_ms: nowMs,
        },
      };
    case 'schedule-binding': {
      const anchorOn = financialDay(nowMs, context.timeZone);
      return {
        kind: 'schedule-binding',
        row: {
          binding_id: newId(nowMs), schedule_id: record.schedule.schedule_id, merchant_id: payment.merchant_id,
          initiating_trans_id: payment.trans_id, source_trans_id: record.sourceTransId ?? payment.trans_id,
          anchor_on: anchorOn, amount_minor: Number(payment.amount_minor), currency: payment.currency,
          order_id: payment.order_id, status: 'active', charges_made: 0, last_index: 0,
          next_due_on: nextDueDate(ruleOf(record.schedule), anchorOn, 0).dueOn, created_at_ms: nowMs, updated_at_ms: nowMs,
        },
      };
    }
    case 'schedule-charge':
      return {
        kind: 'schedule-charge',
        row: {
          charge_id: newId(nowMs), binding_id: record.bindingId, schedule_id: record.scheduleId, due_on: record.dueOn,
          series_index: record.seriesIndex, trans_id: payment.trans_id, created_at_ms: nowMs,
        },
        progress: { nextDueOn: record.nextDueOn, completed: record.completed, nowMs },
      };
  }
}

/** What recurring_init, schedule_id and req_token add to a payment's plan. */
export type RecurringAdditions = Pick<
  PaymentPlan, 'recurringToken' | 'cardTokenCiphertext' | 'scheduleId' | 'alsoWrite'
>;

const nothingAdded: RecurringAdditions = { alsoWrite: [] };

/**
 * What recurring_init, schedule_id and req_token add to a SALE. recurring_init=Y gets a
 * recurring token only for a card the connector allows to start recurring payments (the test
 * engine: the spec's card 01/2025 only); the SALE itself goes ahead either way. A schedule is
 * checked whenever named, and bound only when a recurring token is issued.
 */
export async function recurringAdditions(
  context: PlatformContext, merchant: SaleMerchant, command: SaleCommand, options: { reqToken: boolean; scheduleId: string | null },
): Promise<RecurringAdditions> {
  const schedule = options.scheduleId ? await usableSchedule(context, merchant.merchantId, options.scheduleId) : undefined;
  // The hot path: a plain SALE adds nothing, and allocates nothing for it.
  if (!command.recurringInit && !options.reqToken) return nothingAdded;
  const pan = command.cardNumber.reveal();
  const eligible = command.recurringInit && (context.acquirer.canInitiateRecurring?.({
    bin: pan.slice(0, 6), lastFour: pan.slice(-4), expiryMonth: command.expiryMonth, expiryYear: command.expiryYear,
  }) ?? true);
  const additions: RecurringAdditions = { alsoWrite: [] };
  const alsoWrite: AlsoWrite[] = [];
  if (options.reqToken) {
    const token = newCardToken();
    additions.cardTokenCiphertext = context.vault.encrypt(token);
    alsoWrite.push({ kind: 'card-token', token });
  }
  if (eligible) {
    additions.recurringToken = randomUUID();
    if (schedule) {
      additions.scheduleId = schedule.schedule_id;
      alsoWrite.push({ kind: 'schedule-binding', schedule, sourceTransId: null });
    }
  }
  additions.alsoWrite = alsoWrite;
  return additions;
}
