import { randomBytes, randomUUID } from 'node:crypto';
import { financialDay } from '../domain/dates.ts';
import { newId } from '../domain/ids.ts';
import { nextDueDate, type IntervalUnit } from '../domain/schedule-dates.ts';
import { Secret } from '../domain/secret.ts';
import { ProtocolError } from '../protocol/errors.ts';
import type { Payment } from '../domain/payment.ts';
import { loadCardToken } from '../storage/card-tokens.ts';
import type { PaymentCompanion } from '../storage/payment-companions.ts';
import { loadSchedule, type Schedule } from '../storage/schedules.ts';
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
  const found = await loadCardToken(context.storage, cardTokenFingerprint(context, token));
  if (!found || !approvedStatuses.has(found.payment.status)) throw new ProtocolError('cardTokenNotFound');
  if (found.merchantId !== merchantId) throw new ProtocolError('cardTokenNotAccessible');
  if (found.expiresAtMs <= context.clock.nowMs()) throw new ProtocolError('cardTokenExpired');
  return storedCard(context, found.payment);
}

/** The card of an earlier payment, decrypted for the acquirer only. */
export function storedCard(context: PlatformContext, payment: Payment): Pick<SaleCommand, 'cardNumber' | 'expiryMonth' | 'expiryYear'> {
  const [month, year] = payment.card.expiry.split('/');
  return { cardNumber: new Secret(context.vault.decrypt(payment.card.ciphertext)), expiryMonth: Number(month), expiryYear: Number(year) };
}

/** A schedule a new recurring payment may use: this merchant's, not deleted, not paused. */
export async function usableSchedule(context: PlatformContext, merchantId: string, scheduleId: string): Promise<Schedule> {
  const schedule = await loadSchedule(context.storage, merchantId, scheduleId);
  if (!schedule) throw new ProtocolError('scheduleNotFound');
  if (schedule.paused) throw new ProtocolError('schedulePaused');
  return schedule;
}

export function ruleOf(schedule: Pick<Schedule, 'intervalUnit' | 'intervalLength' | 'dayOfMonth' | 'delays'>) {
  return {
    intervalUnit: schedule.intervalUnit as IntervalUnit,
    intervalLength: schedule.intervalLength,
    dayOfMonth: schedule.dayOfMonth,
    delays: schedule.delays,
  };
}

/** What a payment writes besides itself, in its own transaction (PaymentPlan.alsoWrite): if any
 * of it fails — a second runner's charge colliding on its UNIQUE key — the payment is not made. */
export type AlsoWrite =
  /** req_token=Y: the look-up row of the card token issued to this payment. */
  | { kind: 'card-token'; token: string }
  /** schedule_id: binds the card of `sourceTransId` (null: this payment's own card) to the
   * schedule; this payment's day anchors the dates and its amount is charged. */
  | { kind: 'schedule-binding'; schedule: Schedule; sourceTransId: string | null }
  /** A scheduled charge: its row (one per binding and due date) and the binding's progress. */
  | {
    kind: 'schedule-charge'; bindingId: string; scheduleId: string; dueOn: string; seriesIndex: number;
    nextDueOn: string; completed: boolean;
  };

/** The storage rows of a plan's alsoWrite, given the payment as it was built. */
export function companionWrites(
  context: PlatformContext, records: readonly AlsoWrite[], payment: Payment,
): PaymentCompanion[] {
  return records.map((record) => companionOf(context, record, payment));
}

function companionOf(context: PlatformContext, record: AlsoWrite, payment: Payment): PaymentCompanion {
  const nowMs = payment.createdAtMs;
  switch (record.kind) {
    case 'card-token':
      return {
        kind: 'card-token',
        row: {
          token_fingerprint: cardTokenFingerprint(context, record.token), merchant_id: payment.merchantId,
          source_trans_id: payment.transId, expires_at_ms: nowMs + (context.cardTokenTtlMs ?? defaultCardTokenTtlMs),
          created_at_ms: nowMs,
        },
      };
    case 'schedule-binding': {
      const anchorOn = financialDay(nowMs, context.timeZone);
      return {
        kind: 'schedule-binding',
        row: {
          binding_id: newId(nowMs), schedule_id: record.schedule.scheduleId, merchant_id: payment.merchantId,
          initiating_trans_id: payment.transId, source_trans_id: record.sourceTransId ?? payment.transId,
          anchor_on: anchorOn, amount_minor: payment.amountMinor, currency: payment.currency,
          order_id: payment.orderId, status: 'active', charges_made: 0, last_index: 0,
          next_due_on: nextDueDate(ruleOf(record.schedule), anchorOn, 0).dueOn, created_at_ms: nowMs, updated_at_ms: nowMs,
        },
      };
    }
    case 'schedule-charge':
      return {
        kind: 'schedule-charge',
        row: {
          charge_id: newId(nowMs), binding_id: record.bindingId, schedule_id: record.scheduleId, due_on: record.dueOn,
          series_index: record.seriesIndex, trans_id: payment.transId, created_at_ms: nowMs,
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
      additions.scheduleId = schedule.scheduleId;
      alsoWrite.push({ kind: 'schedule-binding', schedule, sourceTransId: null });
    }
  }
  additions.alsoWrite = alsoWrite;
  return additions;
}
