import { financialDay } from '../domain/dates.ts';
import { nextDueDate } from '../domain/schedule-dates.ts';
import { chargeStoredCard } from '../operations/charge-stored-card.ts';
import type { PlatformContext } from '../operations/context.ts';
import { approvedStatuses } from '../operations/payment-facts.ts';
import { ruleOf } from '../operations/recurring.ts';
import { ProtocolError } from '../protocol/errors.ts';
import { findMerchantById } from '../storage/merchants.ts';
import { loadPaymentAnyMerchant } from '../storage/payments.ts';
import {
  dueBindings, endBinding, moveNextDue, scheduleFromRow, type BindingRow, type DueCursor, type ScheduleRow,
} from '../storage/schedules.ts';

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
  /** Due bindings read per page of the scan. */
  batchSize?: number;
  /** Charges in flight at once on this node: the bank calls overlap, and on SQLite the writes
   * share commits (storage/write-batch.ts). On PostgreSQL the pool (8) is shared with requests. */
  concurrency?: number;
  /** Bindings looked at per runOnce: a bound on one run, also when years of dates are caught
   * up. A run that reaches it is followed by the next at once, without the poll pause. */
  bindingsPerRunMax?: number;
}

const emptyCounts = (): ScheduleRunCounts => ({ charged: 0, declined: 0, collided: 0, held: 0, ended: 0, skipped: 0 });

type DueBinding = BindingRow & { schedule: ScheduleRow };

/**
 * The due bindings of one run, page by page in (date, binding) order, shared by the run's
 * workers: one page is read at a time, so no binding is handed out twice from one page. A
 * charge moves its binding to its next date; when the scan reaches the end after such moves it
 * starts again from the top, so missed dates are caught up in the same run (the run's bound
 * stops it).
 */
class DueScan {
  readonly #queue: DueBinding[] = [];
  #after: DueCursor | undefined;
  #atEnd = false;
  #movedSincePassStart = false;
  #reading: Promise<void> | undefined;
  /** Handed out and not finished: their outcome may still call for another pass. */
  #handling = 0;
  #settled: (() => void)[] = [];

  constructor(
    private readonly context: PlatformContext, private readonly today: string,
    private readonly pageSize: number, private readonly busy: (bindingId: string) => boolean,
  ) {}

  /** The next binding to handle, or undefined when the run has nothing more to do. */
  async next(): Promise<DueBinding | undefined> {
    for (;;) {
      const binding = this.#queue.shift();
      if (binding) {
        this.#handling += 1;
        return binding;
      }
      if (!this.#atEnd) {
        this.#reading ??= this.#readPage().finally(() => {
          this.#reading = undefined;
        });
        await this.#reading;
      } else if (this.#movedSincePassStart) {
        // Bindings moved to their next date during this pass: missed dates are caught up now.
        this.#movedSincePassStart = false;
        this.#atEnd = false;
        this.#after = undefined;
      } else if (this.#handling > 0) {
        await new Promise<void>((resolve) => this.#settled.push(resolve));
      } else {
        return undefined;
      }
    }
  }

  /** `moved`: the binding moved on (charged, declined, collided, ended, skipped). */
  finished(moved: boolean): void {
    this.#handling -= 1;
    if (moved) this.#movedSincePassStart = true;
    for (const wake of this.#settled.splice(0)) wake();
  }

  async #readPage(): Promise<void> {
    const page = await dueBindings(this.context.storage.db, this.today, this.pageSize, this.#after);
    this.#queue.push(...page.filter((binding) => !this.busy(binding.binding_id)));
    const last = page.at(-1);
    this.#after = last && { dueOn: last.next_due_on, bindingId: last.binding_id };
    this.#atEnd = page.length < this.pageSize;
  }
}

export class ScheduleRunner {
  readonly #context: PlatformContext;
  readonly #pollIntervalMs: number;
  readonly #batchSize: number;
  readonly #concurrency: number;
  readonly #bindingsPerRunMax: number;
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
    this.#batchSize = options.batchSize ?? 200;
    this.#concurrency = Math.max(1, options.concurrency ?? 16);
    this.#bindingsPerRunMax = options.bindingsPerRunMax ?? 20_000;
  }

  /**
   * One pass over the due bindings, oldest date first, `concurrency` at a time. A binding is
   * never handled twice at once on this node (its later dates wait for its earlier one to
   * commit: the scan only sees the next date once the charge of the previous one moved it),
   * so each card is charged in date order; across nodes the same holds because a node can
   * only read a binding's next date after the commit that made the previous charge.
   */
  async runOnce(): Promise<ScheduleRunCounts> {
    const counts = emptyCounts();
    const clock = this.#context.clock as { refresh?: () => Promise<void> };
    if (clock.refresh) await clock.refresh();
    const nowMs = this.#context.clock.nowMs();
    const today = financialDay(nowMs, this.#context.timeZone);
    // A binding waiting on its initiating payment (still in 3-D Secure) or held by an unfinished
    // payment of its order is looked at once per run.
    const waiting = new Set<string>();
    const inFlight = new Set<string>();
    const scan = new DueScan(this.#context, today, this.#batchSize, (id) => waiting.has(id) || inFlight.has(id));
    let looked = 0;
    let failure: { error: unknown } | undefined;
    const worker = async () => {
      while (looked < this.#bindingsPerRunMax && !this.#stopped && !failure) {
        const binding = await scan.next();
        if (!binding) return;
        looked += 1;
        inFlight.add(binding.binding_id);
        let moved = false;
        try {
          const outcome = await this.#handle(binding, binding.schedule, today, nowMs);
          if (outcome === 'waiting' || outcome === 'held') waiting.add(binding.binding_id);
          else moved = true;
          if (outcome !== 'waiting') counts[outcome] += 1;
        } catch (error) {
          // The others finish what they hold and take nothing more: the run ends with this error.
          failure ??= { error };
        } finally {
          inFlight.delete(binding.binding_id);
          scan.finished(moved);
        }
      }
    };
    await Promise.all(Array.from({ length: this.#concurrency }, worker));
    if (failure) throw failure.error;
    this.#full = looked >= this.#bindingsPerRunMax;
    return counts;
  }

  /** The last run stopped at its bound with work left: the next one starts without a pause. */
  #full = false;

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
          if (!this.#stopped) this.#timer = setTimeout(tick, this.#full ? 0 : this.#pollIntervalMs);
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
