import { financialDay } from '../domain/dates.ts';
import { newId } from '../domain/ids.ts';
import { nextDueDate } from '../domain/schedule-dates.ts';
import { Secret } from '../domain/secret.ts';
import type { PlatformContext } from '../operations/context.ts';
import { approvedStatuses } from '../operations/payment-facts.ts';
import { ruleOf, storedCard } from '../operations/recurring.ts';
import { performSale, type SaleCommand } from '../operations/sale.ts';
import { findMerchantById } from '../storage/merchants.ts';
import { findPaymentAnyMerchant, findReplay } from '../storage/payments.ts';
import { dueBindings, endBinding, moveNextDue, recordCharge, type BindingRow, type ScheduleRow } from '../storage/schedules.ts';

/**
 * Charges the cards bound to schedules on their due dates: a RECURRING_SALE payment per due
 * date, with its callback, like a merchant's own RECURRING_SALE (no CVV, no 3-D Secure).
 *
 * Exactly one charge per (bound card, due date), whatever runs: the charge row, keyed UNIQUE
 * (binding_id, due_on), is written in the same transaction as the payment (and, for a connector
 * to a real bank, with the PREPARE row before the bank is asked), so a second runner — another
 * node on the same PostgreSQL, or this one restarted after a crash — collides on the key and
 * its transaction rolls back. The loser counts a collision and moves on.
 *
 * Dates are calendar days in the platform's time zone, from the injected clock (the sandbox
 * clock in sandbox mode): a runner that was down catches up on missed dates in order; dates
 * skipped by a pause are passed over (src/domain/schedule-dates.ts).
 */

export interface ScheduleRunCounts {
  charged: number;
  declined: number;
  /** Another runner made this charge first. */
  collided: number;
  /** Not charged yet: an earlier payment of the order is unfinished (PREPARE, 3DS); tried
   * again on the next run, as a merchant's SALE would get "Previous payment not completed". */
  held: number;
  /** Bindings ended because their initiating payment was declined. */
  ended: number;
  /** Dates passed over because the schedule was paused then. */
  skipped: number;
}

export interface ScheduleRunnerOptions {
  pollIntervalMs?: number;
  /** Bindings looked at per batch. */
  batchSize?: number;
  /** Batches per runOnce: a bound on one run, also when years of dates are caught up. */
  batchesPerRunMax?: number;
}

class ChargeCollision extends Error {
  constructor(readonly kind: 'collided' | 'held') {
    super(kind);
  }
}

export class ScheduleRunner {
  readonly #context: PlatformContext;
  readonly #pollIntervalMs: number;
  readonly #batchSize: number;
  readonly #batchesPerRunMax: number;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<unknown> | undefined;
  #stopped = false;

  constructor(context: PlatformContext, options: ScheduleRunnerOptions = {}) {
    this.#context = context;
    this.#pollIntervalMs = options.pollIntervalMs ?? 1_000;
    this.#batchSize = options.batchSize ?? 50;
    this.#batchesPerRunMax = options.batchesPerRunMax ?? 40;
  }

  async runOnce(): Promise<ScheduleRunCounts> {
    const counts: ScheduleRunCounts = { charged: 0, declined: 0, collided: 0, held: 0, ended: 0, skipped: 0 };
    const clock = this.#context.clock as { refresh?: () => Promise<void> };
    if (clock.refresh) await clock.refresh();
    const nowMs = this.#context.clock.nowMs();
    const today = financialDay(nowMs, this.#context.timeZone);
    // A binding waiting on its initiating payment (still in 3-D Secure) or held by an unfinished
    // payment of its order is looked at once per run.
    const waiting = new Set<string>();
    for (let batch = 0; batch < this.#batchesPerRunMax && !this.#stopped; batch += 1) {
      const due = (await dueBindings(this.#context.storage.db, today, this.#batchSize + waiting.size))
        .filter((binding) => !waiting.has(binding.binding_id));
      if (due.length === 0) break;
      for (const binding of due.slice(0, this.#batchSize)) {
        const outcome = await this.#handle(binding, binding.schedule, today, nowMs);
        if (outcome === 'waiting' || outcome === 'held') waiting.add(binding.binding_id);
        if (outcome !== 'waiting') counts[outcome] += 1;
      }
    }
    return counts;
  }

  async #handle(
    binding: BindingRow, schedule: ScheduleRow, today: string, nowMs: number,
  ): Promise<keyof ScheduleRunCounts | 'waiting'> {
    const db = this.#context.storage.db;
    const initiating = await findPaymentAnyMerchant(db, binding.initiating_trans_id);
    if (!initiating || initiating.status === 'DECLINED') {
      await endBinding(db, binding.binding_id, 'ended', nowMs);
      return 'ended';
    }
    if (!approvedStatuses.has(initiating.status)) return 'waiting';

    const rule = ruleOf(schedule);
    const next = nextDueDate(rule, binding.anchor_on, Number(binding.last_index), schedule.resumed_on);
    if (next.dueOn !== binding.next_due_on) {
      // Dates that fell while the schedule was paused: skipped, not charged late.
      await moveNextDue(db, binding.binding_id, binding.next_due_on, next.dueOn, next.index - 1, nowMs);
      if (next.dueOn > today) return 'skipped';
    }
    const source = binding.source_trans_id === initiating.trans_id ? initiating : await findPaymentAnyMerchant(db, binding.source_trans_id);
    const merchant = await findMerchantById(db, binding.merchant_id);
    if (!source || !merchant) {
      await endBinding(db, binding.binding_id, 'ended', nowMs);
      return 'ended';
    }
    const command: SaleCommand = {
      orderId: binding.order_id,
      amountMinor: Number(binding.amount_minor),
      currency: binding.currency,
      description: initiating.order_description,
      ...storedCard(this.#context, source),
      cvv: new Secret(''),
      payerEmail: source.payer_email,
      payer: JSON.parse(source.payer_json) as Record<string, string>,
      termUrl: source.term_url_3ds,
      termUrlTarget: source.term_url_target,
      channelId: source.channel_id,
      parameters: source.parameters_json ? JSON.parse(source.parameters_json) as Record<string, string> : {},
      isAuth: false,
      recurringInit: false,
    };
    const completed = Number(binding.charges_made) + 1 >= Number(schedule.payments_count);
    const following = nextDueDate(rule, binding.anchor_on, next.index);
    const fingerprint = this.#context.vault.fingerprint(`schedule-charge\n${binding.binding_id}\n${next.dueOn}`);
    try {
      const body = await performSale(this.#context, merchant, command, fingerprint, {
          payment: { action: 'RECURRING_SALE', source_trans_id: source.trans_id, schedule_id: schedule.schedule_id },
          merchantInitiated: true,
          alsoInTransaction: (transaction, payment) => recordCharge(transaction, {
            charge_id: newId(nowMs), binding_id: binding.binding_id, schedule_id: schedule.schedule_id, due_on: next.dueOn,
            series_index: next.index, trans_id: payment.trans_id, created_at_ms: nowMs,
          }, { nextDueOn: following.dueOn, completed, nowMs }),
          onConflict: async () => {
            throw new ChargeCollision((await findReplay(db, merchant.merchantId, fingerprint)) ? 'collided' : 'held');
          },
        });
      return body.status === 'DECLINED' ? 'declined' : 'charged';
    } catch (error) {
      if (error instanceof ChargeCollision) return error.kind;
      throw error;
    }
  }

  /** Polls every pollIntervalMs until stop(). */
  start(): void {
    this.#stopped = false;
    const tick = () => {
      if (this.#stopped) return;
      this.#running = this.runOnce()
        .catch((error: Error) => this.#context.logger.error({ error: error.message }, 'schedule run failed'))
        .finally(() => {
          this.#running = undefined;
          if (!this.#stopped) this.#timer = setTimeout(tick, this.#pollIntervalMs);
        });
    };
    this.#timer = setTimeout(tick, 0);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    await this.#running;
  }
}
