import { financialDay } from '../domain/dates.ts';
import { nextDueDate } from '../domain/schedule-dates.ts';
import { chargeStoredCard } from '../operations/charge-stored-card.ts';
import type { PlatformContext } from '../operations/context.ts';
import { approvedStatuses } from '../operations/payment-facts.ts';
import { ruleOf } from '../operations/recurring.ts';
import { ProtocolError } from '../protocol/errors.ts';
import type { Payment } from '../domain/payment.ts';
import { loadMerchantById, type MerchantRecord } from '../storage/merchants.ts';
import { loadPaymentsAnyMerchant } from '../storage/payments.ts';
import {
  claimDueBindings, endBinding, moveNextDue, releaseBindingClaims, scheduleFromRow, type DueBinding,
} from '../storage/schedules.ts';

/**
 * Charges the cards bound to schedules on their due dates: a RECURRING_SALE payment per due
 * date, with its callback, like a merchant's own RECURRING_SALE (no CVV, no 3-D Secure).
 *
 * Exactly one charge per (bound card, due date), whatever runs: the charge row, keyed UNIQUE
 * (binding_id, due_on), is written in the same transaction as the payment (and, for a connector
 * to a real bank, with the PREPARE row before the bank is asked), so a second runner — another
 * node on the same PostgreSQL, or this one restarted after a crash — collides on the key and
 * its transaction rolls back. The loser counts a collision and moves on. Nodes divide the work
 * by claiming due bindings in batches with a lease (docs/adr/0102), so that collision is the
 * exception (a lease run out), not the way nodes share a renewal day.
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
  /** Due bindings claimed per claim (one statement, with the payments they need in a second). */
  batchSize?: number;
  /** Charges in flight at once on this node: the bank calls overlap, and on SQLite the writes
   * share commits (storage/write-batch.ts). On PostgreSQL a charge is one statement, so the
   * pool (8) shared with requests is held only while it runs. */
  concurrency?: number;
  /** Bindings looked at per runOnce: a bound on one run, also when years of dates are caught
   * up. A run that reaches it is followed by the next at once, without the poll pause. */
  bindingsPerRunMax?: number;
  /** How long a claimed binding stays this node's if the node does not finish it (crashed):
   * then any node may claim it. Only divides work; the charge row's key keeps exactly once. */
  claimLeaseMs?: number;
  /** The leases' clock: wall time, not the platform clock (the sandbox clock jumps by days,
   * and may be set back). */
  wallClockMs?: () => number;
}

const emptyCounts = (): ScheduleRunCounts => ({ charged: 0, declined: 0, collided: 0, held: 0, ended: 0, skipped: 0 });

/** A claimed binding with what its charge reads, loaded for the whole claim in one query. */
type ClaimedBinding = DueBinding & { initiating: Payment | undefined; source: Payment | undefined };

/** Outcomes whose write gave up the binding's lease (the charge row, a skip, an end). */
const releasingOutcomes = new Set<keyof ScheduleRunCounts | 'waiting'>(['charged', 'declined', 'ended', 'skipped']);

interface ClaimSettings {
  today: string;
  batchSize: number;
  leaseMs: number;
  wallClockMs: () => number;
  /** Bindings the run may still look at: a claim takes no more. */
  remaining: () => number;
}

/**
 * The due bindings of one run, claimed batch by batch (oldest date first) and shared by the
 * run's workers; a claim leases its bindings to this node, so another node's claims take
 * others. A charge moves its binding to its next date and gives up the lease in its own write;
 * if that date is due too, a later claim gets it again (missed dates caught up in the run; the
 * run's bound stops it). A binding claimed again while this node still handles its previous
 * date (claimed between that charge's commit and its worker finishing) waits for that one.
 * Leases of bindings not moved on (held, waiting, not reached) are given up when the run ends.
 */
class DueClaims {
  readonly #queue: ClaimedBinding[] = [];
  /** Claimed again while its previous date is still being handled here. */
  readonly #deferred = new Map<string, ClaimedBinding>();
  /** Leased to this node and not moved on: bindingId → the lease's end. */
  readonly #leased = new Map<string, number>();
  readonly #handling = new Set<string>();
  #exhausted = false;
  #movedSinceExhausted = false;
  #claiming: Promise<void> | undefined;
  #settled: (() => void)[] = [];

  constructor(private readonly context: PlatformContext, private readonly settings: ClaimSettings) {}

  /** The next binding to handle, or undefined when the run has nothing more to do. */
  async next(): Promise<ClaimedBinding | undefined> {
    for (;;) {
      const binding = this.#queue.shift();
      if (binding && this.#handling.has(binding.binding_id)) {
        this.#deferred.set(binding.binding_id, binding);
      } else if (binding) {
        this.#handling.add(binding.binding_id);
        return binding;
      } else if (!this.#exhausted && this.settings.remaining() > 0) {
        this.#claiming ??= this.#claim().finally(() => {
          this.#claiming = undefined;
        });
        await this.#claiming;
      } else if (this.#movedSinceExhausted && this.settings.remaining() > 0) {
        // Bindings moved to their next date since the last claim came back short: claim again.
        this.#movedSinceExhausted = false;
        this.#exhausted = false;
      } else if (this.#handling.size > 0) {
        await new Promise<void>((resolve) => this.#settled.push(resolve));
      } else {
        return undefined;
      }
    }
  }

  /** `moved`: the binding moved on (any outcome but held or waiting); `released`: its lease
   * was given up by the outcome's own write. */
  finished(binding: ClaimedBinding, moved: boolean, released: boolean): void {
    const bindingId = binding.binding_id;
    this.#handling.delete(bindingId);
    if (released && this.#leased.get(bindingId) === binding.claimed_until_ms) this.#leased.delete(bindingId);
    if (moved) this.#movedSinceExhausted = true;
    const deferred = this.#deferred.get(bindingId);
    if (deferred) {
      this.#deferred.delete(bindingId);
      this.#queue.unshift(deferred);
    }
    for (const wake of this.#settled.splice(0)) wake();
  }

  /** Gives up the leases this run holds on bindings it did not move on. */
  async release(): Promise<void> {
    const claims = [...this.#leased].map(([bindingId, leaseUntilMs]) => ({ bindingId, leaseUntilMs }));
    this.#leased.clear();
    if (claims.length > 0) await releaseBindingClaims(this.context.storage, claims);
  }

  async #claim(): Promise<void> {
    const { today, batchSize, leaseMs, wallClockMs, remaining } = this.settings;
    const limit = Math.min(batchSize, remaining());
    const nowMs = wallClockMs();
    const leaseUntilMs = nowMs + leaseMs;
    const claimed = await claimDueBindings(this.context.storage, { today, nowMs, leaseUntilMs, limit });
    for (const binding of claimed) this.#leased.set(binding.binding_id, leaseUntilMs);
    const payments = await loadPaymentsAnyMerchant(
      this.context.storage, claimed.flatMap((binding) => [binding.initiating_trans_id, binding.source_trans_id]),
    );
    for (const binding of claimed) {
      const initiating = payments.get(binding.initiating_trans_id);
      this.#queue.push({ ...binding, initiating, source: payments.get(binding.source_trans_id) });
    }
    this.#exhausted = claimed.length < limit;
  }
}

export class ScheduleRunner {
  readonly #context: PlatformContext;
  readonly #pollIntervalMs: number;
  readonly #batchSize: number;
  readonly #concurrency: number;
  readonly #bindingsPerRunMax: number;
  readonly #claimLeaseMs: number;
  readonly #wallClockMs: () => number;
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
    this.#claimLeaseMs = options.claimLeaseMs ?? 60_000;
    this.#wallClockMs = options.wallClockMs ?? Date.now;
  }

  /**
   * One pass over the due bindings, oldest date first, `concurrency` at a time. A binding is
   * never handled twice at once on this node, and a node only claims a binding's next date
   * after the commit that made the previous charge, so each card is charged in date order.
   */
  async runOnce(): Promise<ScheduleRunCounts> {
    const counts = emptyCounts();
    const clock = this.#context.clock as { refresh?: () => Promise<void> };
    if (clock.refresh) await clock.refresh();
    const nowMs = this.#context.clock.nowMs();
    const today = financialDay(nowMs, this.#context.timeZone);
    let looked = 0;
    const claims = new DueClaims(this.#context, {
      today, batchSize: this.#batchSize, leaseMs: this.#claimLeaseMs, wallClockMs: this.#wallClockMs,
      remaining: () => this.#bindingsPerRunMax - looked,
    });
    const merchants = new Map<string, Promise<MerchantRecord | undefined>>();
    let failure: { error: unknown } | undefined;
    const worker = async () => {
      while (looked < this.#bindingsPerRunMax && !this.#stopped && !failure) {
        let binding: ClaimedBinding | undefined;
        try {
          binding = await claims.next();
        } catch (error) {
          // A failed claim ends the run too, once the charges in flight have finished.
          failure ??= { error };
          return;
        }
        if (!binding) return;
        looked += 1;
        let outcome: keyof ScheduleRunCounts | 'waiting' | undefined;
        try {
          outcome = await this.#handle(binding, merchants, today, nowMs);
          if (outcome !== 'waiting') counts[outcome] += 1;
        } catch (error) {
          // The others finish what they hold and take nothing more: the run ends with this error.
          failure ??= { error };
        } finally {
          const moved = outcome !== undefined && outcome !== 'waiting' && outcome !== 'held';
          claims.finished(binding, moved, outcome !== undefined && releasingOutcomes.has(outcome));
        }
      }
    };
    try {
      await Promise.all(Array.from({ length: this.#concurrency }, worker));
    } finally {
      await claims.release();
    }
    if (failure) throw failure.error;
    this.#full = looked >= this.#bindingsPerRunMax;
    return counts;
  }

  /** The last run stopped at its bound with work left: the next one starts without a pause. */
  #full = false;

  async #handle(
    binding: ClaimedBinding, merchants: Map<string, Promise<MerchantRecord | undefined>>, today: string, nowMs: number,
  ): Promise<keyof ScheduleRunCounts | 'waiting'> {
    const { storage } = this.#context;
    const { initiating, schedule } = binding;
    if (!initiating || initiating.status === 'DECLINED') {
      await endBinding(storage, binding.binding_id, 'ended', nowMs);
      return 'ended';
    }
    if (!approvedStatuses.has(initiating.status)) return 'waiting';

    const rule = ruleOf(scheduleFromRow(schedule));
    const next = nextDueDate(rule, binding.anchor_on, Number(binding.last_index), schedule.resumed_on);
    if (next.dueOn !== binding.next_due_on) {
      // Dates that fell while the schedule was paused: skipped, not charged late.
      await moveNextDue(storage, binding.binding_id, binding.next_due_on, next.dueOn, next.index - 1, nowMs);
      if (next.dueOn > today) return 'skipped';
    }
    // One read per merchant and run: a renewal day charges many bindings of few merchants.
    let merchant = merchants.get(binding.merchant_id);
    if (!merchant) {
      merchant = loadMerchantById(storage, binding.merchant_id);
      merchants.set(binding.merchant_id, merchant);
    }
    const source = binding.source;
    const merchantRecord = await merchant;
    if (!source || !merchantRecord) {
      await endBinding(storage, binding.binding_id, 'ended', nowMs);
      return 'ended';
    }
    return this.#charge(binding, initiating, source, merchantRecord, next);
  }

  async #charge(
    binding: ClaimedBinding, initiating: Payment, source: Payment, merchant: MerchantRecord,
    next: { dueOn: string; index: number },
  ): Promise<keyof ScheduleRunCounts> {
    const { schedule } = binding;
    const completed = Number(binding.charges_made) + 1 >= Number(schedule.payments_count);
    const following = nextDueDate(ruleOf(scheduleFromRow(schedule)), binding.anchor_on, next.index);
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
      if (outcome.preparedFirst) {
        // The charge's write kept the lease while the bank was asked (storage recordCharge).
        const claim = { bindingId: binding.binding_id, leaseUntilMs: Number(binding.claimed_until_ms) };
        await releaseBindingClaims(this.#context.storage, [claim]);
      }
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
