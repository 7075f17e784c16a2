import { randomUUID } from 'node:crypto';
import type { AcquirerConnector, Decision } from '../acquirers/connector.ts';
import { notReceivedVerdict } from '../domain/reconciliation.ts';
import { acquirerTimeoutMsDefault } from '../operations/acquirer-call.ts';
import type { PlatformContext } from '../operations/context.ts';
import { escalateUnknownOperation } from '../operations/escalate-unknown.ts';
import { finishUnknownOperation } from '../operations/finish-operation.ts';
import { siblingsOf } from '../operations/payment-facts.ts';
import { connectorForPayment } from '../operations/routing.ts';
import { ClaimLostError, loadOperations } from '../storage/payments.ts';
import {
  claimUnknownOperation,
  findUnknownOperations,
  recordInquiryUnknown,
  recordResolution,
  type UnknownOperation,
} from '../storage/reconciliations.ts';
import { loadMid } from '../storage/routing.ts';

/**
 * Finishes operations whose acquirer outcome was unknown (docs/adr/0091). Modelled on the
 * callback dispatcher: bounded batches, a lease per operation so several nodes on one
 * PostgreSQL never ask about the same one at once, backoff between inquiries, every time from
 * the injected clock. An operation past the grace is asked about through the connector's
 * `inquire`; a known outcome is written by `finishUnknownOperation`, which also writes the
 * merchant's callback. One still unknown past the deadline goes on the operator's list
 * (`kassa reconciliation list`), the merchant gets one UNDEFINED callback (docs/adr/0096), and it
 * keeps being asked about: it is never declined by default.
 */
export interface ReconcilerOptions {
  /** An operation younger than this is still in its own call (askAcquirer's bound) or just
   * after it: left alone. Default: acquirerTimeoutMs + 30 s. */
  graceMs?: number;
  /** Past this age an unknown outcome is put in front of an operator. Default 1 hour. */
  operatorDeadlineMs?: number;
  /** Past this age a bank's "no such transaction" declines an authorization: its request can no
   * longer arrive (docs/adr/0098). Default 15 minutes; at least the grace. */
  notReceivedGraceMs?: number;
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
  /** Of the declined: authorizations the bank never received (docs/adr/0098). */
  notReceived: number;
  /** The outcome had been written by someone else meanwhile. */
  finishedElsewhere: number;
  stillUnknown: number;
  /** Put on the operator's list in this run (each sent the merchant its UNDEFINED callback). */
  toOperator: number;
}

const defaultBackoffMs = [30_000, 60_000, 2 * 60_000, 5 * 60_000, 15 * 60_000] as const;

/** `notReceived`: the bank says it has no such transaction (docs/adr/0098). */
type ReconcilerAnswer =
  | (Decision & { notReceived?: boolean })
  | { outcome: 'unknown'; reason: string; notReceived?: boolean };

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
  readonly #notReceivedGraceMs: number;
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
    this.#notReceivedGraceMs = Math.max(options.notReceivedGraceMs ?? 15 * 60_000, this.#graceMs);
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
      notReceived: 0,
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
    const nowMs = this.#context.clock.nowMs();
    const answer = await this.#notReceivedDecided(operation, await this.#inquire(operation), nowMs);
    if (answer.outcome === 'unknown') {
      await this.#recordUnknown(operation, token, answer.reason, nowMs, counts);
      return;
    }
    const notReceived = answer.notReceived === true;
    let resolution: string = notReceived ? 'not-received' : answer.outcome;
    try {
      await finishUnknownOperation(this.#context, operation.operationId, answer);
      counts[answer.outcome] += 1;
      if (notReceived) counts.notReceived += 1;
    } catch (error) {
      if (!(error instanceof ClaimLostError)) throw error;
      resolution = 'finished-elsewhere';
      counts.finishedElsewhere += 1;
    }
    await recordResolution(this.#context.storage, operation, { outcome: resolution, by: 'reconciler', nowMs });
  }

  /** Backoff; past the deadline, the first time, the operator's list and the merchant's
   * UNDEFINED callback (docs/adr/0096). */
  async #recordUnknown(
    operation: UnknownOperation, token: string, reason: string, nowMs: number, counts: ReconcileCounts,
  ): Promise<void> {
    const waitMs = this.#backoffMs[Math.min(operation.inquiryCount, this.#backoffMs.length - 1)];
    const update = { answer: reason, nextInquiryAtMs: nowMs + waitMs };
    counts.stillUnknown += 1;
    const overdue = nowMs - operation.createdAtMs >= this.#operatorDeadlineMs;
    if (!overdue || operation.operatorNeededAtMs !== null) {
      await recordInquiryUnknown(this.#context.storage, operation.operationId, token, update);
      return;
    }
    if (!(await escalateUnknownOperation(this.#context, { operationId: operation.operationId, token }, update))) return;
    counts.toOperator += 1;
    this.#context.logger.warn(
      { transId: operation.transId, operationId: operation.operationId, type: operation.type },
      'acquirer outcome still unknown past the deadline: an operator must decide (kassa reconciliation list)',
    );
  }

  /** The bank has no such transaction: declined once that is conclusive, else still unknown
   * with the reason the operator's list shows (domain/reconciliation.ts). */
  async #notReceivedDecided(
    operation: UnknownOperation, answer: ReconcilerAnswer, nowMs: number,
  ): Promise<ReconcilerAnswer> {
    if (answer.outcome !== 'unknown' || answer.notReceived !== true) return answer;
    const mid = operation.midId === null ? undefined : await loadMid(this.#context.storage, operation.midId);
    const verdict = notReceivedVerdict({
      operationType: operation.type,
      createdAtMs: operation.createdAtMs,
      nowMs,
      graceMs: this.#notReceivedGraceMs,
      midChangedAtMs: mid?.updatedAtMs ?? null,
    });
    if (verdict.kind === 'keepAsking') return { outcome: 'unknown', reason: verdict.reason };
    return { outcome: 'declined', declineReason: verdict.declineReason, notReceived: true };
  }

  /** The connector's inquiry, bounded; a throw, a timeout or no inquiry at all is `unknown`. */
  async #inquire(operation: UnknownOperation): Promise<ReconcilerAnswer> {
    let connector: AcquirerConnector;
    try {
      connector = await this.#connectorFor(operation);
    } catch (error) {
      return { outcome: 'unknown', reason: `no connector: ${(error as Error).message}` };
    }
    if (!connector.inquire) return { outcome: 'unknown', reason: `${connector.name} cannot answer status inquiries` };
    const siblings = siblingsOf(await loadOperations(this.#context.storage, operation.transId), operation);
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<ReconcilerAnswer>((resolve) => {
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
        siblings,
      })
      .then(
        (answer): ReconcilerAnswer => {
          if (answer.outcome !== 'unknown') return answer;
          if (answer.notReceived)
            return { outcome: 'unknown', reason: 'the bank has no such transaction', notReceived: true };
          return { outcome: 'unknown', reason: 'the bank cannot tell yet' };
        },
        (error: unknown): ReconcilerAnswer => ({
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
