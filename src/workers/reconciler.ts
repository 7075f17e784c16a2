import { randomUUID } from 'node:crypto';
import type { AcquirerConnector, Decision } from '../acquirers/connector.ts';
import { acquirerTimeoutMsDefault } from '../operations/acquirer-call.ts';
import type { PlatformContext } from '../operations/context.ts';
import { finishUnknownOperation } from '../operations/finish-operation.ts';
import { connectorForPayment } from '../operations/routing.ts';
import { ClaimLostError } from '../storage/payments.ts';
import {
  claimUnknownOperation,
  findUnknownOperations,
  recordInquiryUnknown,
  recordResolution,
  type UnknownOperation,
} from '../storage/reconciliations.ts';

/**
 * Finishes operations whose acquirer outcome was unknown (docs/adr/0091). Modelled on the
 * callback dispatcher: bounded batches, a lease per operation so several nodes on one
 * PostgreSQL never ask about the same one at once, backoff between inquiries, every time from
 * the injected clock. An operation past the grace is asked about through the connector's
 * `inquire`; a known outcome is written by `finishUnknownOperation`, which also writes the
 * merchant's callback. One still unknown past the deadline goes on the operator's list
 * (`kassa reconciliation list`) and keeps being asked about: it is never declined by default.
 */
export interface ReconcilerOptions {
  /** An operation younger than this is still in its own call (askAcquirer's bound) or just
   * after it: left alone. Default: acquirerTimeoutMs + 30 s. */
  graceMs?: number;
  /** Past this age an unknown outcome is put in front of an operator. Default 1 hour. */
  operatorDeadlineMs?: number;
  pollIntervalMs?: number;
  batchSize?: number;
  batchesPerRunMax?: number;
  /** Bound on one inquiry; past it the answer counts as unknown. Default 10 s. */
  inquiryTimeoutMs?: number;
  /** Waits after the 1st, 2nd, … unknown answer; the last one repeats. */
  backoffMs?: readonly number[];
  /** The connector to ask; default: the one of the MID that processed the payment. */
  connectorFor?: (operation: UnknownOperation) => AcquirerConnector | Promise<AcquirerConnector>;
}

export interface ReconcileCounts {
  claimed: number;
  approved: number;
  declined: number;
  /** The outcome had been written by someone else meanwhile. */
  finishedElsewhere: number;
  stillUnknown: number;
  /** Put on the operator's list in this run. */
  toOperator: number;
}

const defaultBackoffMs = [30_000, 60_000, 2 * 60_000, 5 * 60_000, 15 * 60_000] as const;

type InquiryAnswer = Decision | { outcome: 'unknown'; reason: string };

function cardOf(operation: UnknownOperation) {
  const [month, year] = operation.cardExpiry.split('/');
  return {
    bin: operation.cardBin,
    lastFour: operation.cardLastFour,
    expiryMonth: Number(month) || 0,
    expiryYear: Number(year) || 0,
  };
}

export class Reconciler {
  readonly #context: PlatformContext;
  readonly #graceMs: number;
  readonly #operatorDeadlineMs: number;
  readonly #pollIntervalMs: number;
  readonly #batchSize: number;
  readonly #batchesPerRunMax: number;
  readonly #inquiryTimeoutMs: number;
  readonly #backoffMs: readonly number[];
  readonly #connectorFor: (operation: UnknownOperation) => AcquirerConnector | Promise<AcquirerConnector>;
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;
  #run: Promise<unknown> | undefined;

  constructor(context: PlatformContext, options: ReconcilerOptions = {}) {
    this.#context = context;
    this.#graceMs = options.graceMs ?? (context.acquirerTimeoutMs ?? acquirerTimeoutMsDefault) + 30_000;
    this.#operatorDeadlineMs = options.operatorDeadlineMs ?? 60 * 60_000;
    this.#pollIntervalMs = options.pollIntervalMs ?? 10_000;
    this.#batchSize = options.batchSize ?? 32;
    this.#batchesPerRunMax = options.batchesPerRunMax ?? 8;
    this.#inquiryTimeoutMs = options.inquiryTimeoutMs ?? 10_000;
    this.#backoffMs = options.backoffMs ?? defaultBackoffMs;
    this.#connectorFor = options.connectorFor ?? ((operation) => connectorForPayment(context, operation.midId));
    if (this.#backoffMs.length === 0) throw new RangeError('reconciler: backoffMs needs at least one wait');
  }

  /** One bounded run: at most batchesPerRunMax batches of batchSize. Tests call it; start() polls it. */
  async runOnce(): Promise<ReconcileCounts> {
    const counts: ReconcileCounts = {
      claimed: 0,
      approved: 0,
      declined: 0,
      finishedElsewhere: 0,
      stillUnknown: 0,
      toOperator: 0,
    };
    for (let batch = 0; batch < this.#batchesPerRunMax && !this.#stopped; batch += 1) {
      const nowMs = this.#context.clock.nowMs();
      const candidates = await findUnknownOperations(this.#context.storage, {
        createdBeforeMs: nowMs - this.#graceMs,
        nowMs,
        limit: this.#batchSize,
      });
      let claimedNow = 0;
      for (const operation of candidates) {
        if (this.#stopped) break;
        const token = randomUUID();
        // The lease covers one inquiry and the write after it, with a margin.
        const untilMs = nowMs + this.#inquiryTimeoutMs + 30_000;
        if (!(await claimUnknownOperation(this.#context.storage, operation, { token, untilMs, nowMs }))) continue;
        claimedNow += 1;
        await this.#reconcile(operation, token, counts);
      }
      counts.claimed += claimedNow;
      if (candidates.length < this.#batchSize) break;
    }
    return counts;
  }

  async #reconcile(operation: UnknownOperation, token: string, counts: ReconcileCounts): Promise<void> {
    const answer = await this.#inquire(operation);
    const nowMs = this.#context.clock.nowMs();
    if (answer.outcome === 'unknown') {
      const overdue = nowMs - operation.createdAtMs >= this.#operatorDeadlineMs;
      const waitMs = this.#backoffMs[Math.min(operation.inquiryCount, this.#backoffMs.length - 1)];
      await recordInquiryUnknown(this.#context.storage, operation.operationId, token, {
        answer: answer.reason,
        nextInquiryAtMs: nowMs + waitMs,
        operatorNeededAtMs: overdue ? nowMs : null,
      });
      counts.stillUnknown += 1;
      if (overdue) {
        counts.toOperator += 1;
        this.#context.logger.warn(
          { transId: operation.transId, operationId: operation.operationId, type: operation.type },
          'acquirer outcome still unknown past the deadline: an operator must decide (kassa reconciliation list)',
        );
      }
      return;
    }
    let resolution: string = answer.outcome;
    try {
      await finishUnknownOperation(this.#context, operation.operationId, answer);
      counts[answer.outcome] += 1;
    } catch (error) {
      if (!(error instanceof ClaimLostError)) throw error;
      resolution = 'finished-elsewhere';
      counts.finishedElsewhere += 1;
    }
    await recordResolution(this.#context.storage, operation, { outcome: resolution, by: 'reconciler', nowMs });
  }

  /** The connector's inquiry, bounded; a throw, a timeout or no inquiry at all is `unknown`. */
  async #inquire(operation: UnknownOperation): Promise<InquiryAnswer> {
    let connector: AcquirerConnector;
    try {
      connector = await this.#connectorFor(operation);
    } catch (error) {
      return { outcome: 'unknown', reason: `no connector: ${(error as Error).message}` };
    }
    if (!connector.inquire) return { outcome: 'unknown', reason: `${connector.name} cannot answer status inquiries` };
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<InquiryAnswer>((resolve) => {
      timer = setTimeout(
        () => resolve({ outcome: 'unknown', reason: `no inquiry answer within ${this.#inquiryTimeoutMs} ms` }),
        this.#inquiryTimeoutMs,
      );
    });
    const asked = connector
      .inquire({
        transId: operation.transId,
        operationId: operation.operationId,
        operationType: operation.type,
        card: cardOf(operation),
        payerEmail: operation.payerEmail,
        amountMinor: operation.amountMinor,
        currency: operation.currency,
        nowMs: this.#context.clock.nowMs(),
      })
      .then(
        (answer): InquiryAnswer =>
          answer.outcome === 'unknown' ? { outcome: 'unknown', reason: 'the bank cannot tell yet' } : answer,
        (error: unknown): InquiryAnswer => ({
          outcome: 'unknown',
          reason: `inquiry failed: ${(error as Error).message ?? error}`,
        }),
      );
    try {
      return await Promise.race([asked, timedOut]);
    } finally {
      clearTimeout(timer);
    }
  }

  start(): void {
    this.#stopped = false;
    const tick = () => {
      this.#run = this.runOnce()
        .catch((error: unknown) => this.#context.logger.error({ err: error }, 'reconciler run failed'))
        .finally(() => {
          if (!this.#stopped) this.#timer = setTimeout(tick, this.#pollIntervalMs);
        });
    };
    this.#timer = setTimeout(tick, this.#pollIntervalMs);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#run;
  }
}
