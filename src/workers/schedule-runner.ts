import { financialDay } from '../domain/dates.ts';
import { nextDueDate } from '../domain/schedule-dates.ts';
import { chargeStoredCard } from '../operations/charge-stored-card.ts';
import type { PlatformContext } from '../operations/context.ts';
import { approvedStatuses } from '../operations/payment-facts.ts';
import { ruleOf } from '../operations/recurring.ts';
import { ProtocolError } from '../protocol/errors.ts';
import { findMerchantById } from '../storage/merchants.ts';
import { loadPaymentAnyMerchant } from '../storage/payments.ts';
import { dueBindings, endBinding, moveNextDue, scheduleFromRow, type BindingRow, type ScheduleRow } from '../storage/schedules.ts';

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

export class ScheduleRunner {
  readonly #context: PlatformContext;
  readonly #pollIntervalMs: number;
  readonly #batchSize: number;
  readonly #batchesPerRunMax: number;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<unknown> | undefined;
  #stopped = false;
  /** When the last run finished, on the platform clock (kassa_scheduler_lag_seconds). */
  lastRunFinishedAtMs: number | undefined;

  get pollIntervalMs(): number {
    return this.#pollIntervalMs;
  }

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
    const initiating = await loadPaymentAnyMerchant(this.#context.storage, binding.initiating_trans_id);
    if (!initiating || initiating.status === 'DECLINED') {
      await endBinding(db, binding.binding_id, 'ended', nowMs);
      return 'ended';
    }
    if (!approvedStatuses.has(initiating.status)) return 'waiting';

    const rule = ruleOf(scheduleFromRow(schedule));
    const next = nextDueDate(rule, binding.anchor_on, Number(binding.last_index), schedule.resumed_on);
    if (next.dueOn !== binding.next_due_on) {
      // Dates that fell while the schedule was paused: skipped, not charged late.
      await moveNextDue(db, binding.binding_id, binding.next_due_on, next.dueOn, next.index - 1, nowMs);
      if (next.dueOn > today) return 'skipped';
    }
    const source = binding.source_trans_id === initiating.transId
      ? initiating : await loadPaymentAnyMerchant(this.#context.storage, binding.source_trans_id);
    const merchant = await findMerchantById(db, binding.merchant_id);
    if (!source || !merchant) {
      await endBinding(db, binding.binding_id, 'ended', nowMs);
      return 'ended';
    }
    const completed = Number(binding.charges_made) + 1 >= Number(schedule.payments_count);
    const following = nextDueDate(rule, binding.anchor_on, next.index);
    try {
      const outcome = await chargeStoredCard(this.#context, merchant, {
        source,
        orderId: binding.order_id,
        amountMinor: Number(binding.amount_minor),
        currency: binding.currency,
        description: initiating.orderDescription,
        isAuth: false,
        scheduleId: schedule.schedule_id,
        fingerprint: this.#context.vault.fingerprint(`schedule-charge\n${binding.binding_id}\n${next.dueOn}`),
        alsoWrite: [{
          kind: 'schedule-charge', bindingId: binding.binding_id, scheduleId: schedule.schedule_id, dueOn: next.dueOn,
          seriesIndex: next.index, nextDueOn: following.dueOn, completed,
        }],
      });
      return outcome.payment.status === 'DECLINED' ? 'declined' : 'charged';
    } catch (error) {
      // This very charge was made (by another runner: its fingerprint is taken), or the order
      // has an unfinished payment: nothing was charged here.
      if (error instanceof ProtocolError && error.name === 'duplicateRequest') return 'collided';
      if (error instanceof ProtocolError && error.name === 'previousPaymentNotCompleted') return 'held';
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
          this.lastRunFinishedAtMs = this.#context.clock.nowMs();
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
