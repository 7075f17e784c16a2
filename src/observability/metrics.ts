import client from 'prom-client';
import { financialDay } from '../domain/dates.ts';
import type { Storage } from '../storage/database.ts';
import { readOperationalGauges } from '../storage/operational-gauges.ts';

/**
 * What /metrics shows (Prometheus text format, prom-client's registry and formatter).
 *
 * Hot path: a request only adds to plain numbers in memory (`recordApiAnswer`: two Map look-ups
 * and a few additions); prom-client's own `inc`/`observe` hash their label objects on every call,
 * so the hot-path series are kept here and handed to prom-client as ready values at scrape time.
 * Gauges that need the database are read on scrape only, with bounded queries
 * (storage/operational-gauges.ts). Label values are bounded: actions are the API's (anything else
 * is counted as `other`), results the protocol's few, decline reasons at most
 * `declineReasonsMax` distinct texts (then `other`).
 */

/** Seconds; a SALE takes a few ms, a slow acquirer up to its 30 s bound. */
const latencyBucketsSeconds = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
const declineReasonsMax = 50;
const labelValuesMax = 64;

interface LatencySeries {
  bucketCounts: number[];
  sumSeconds: number;
  count: number;
}

type MetricValue = { value: number; labels: Record<string, string>; metricName?: string };

/** A prom-client metric whose values come from this process's plain counters. */
class PrecomputedMetric {
  readonly aggregator = 'sum' as const;
  constructor(
    readonly name: string, readonly help: string, readonly type: 'counter' | 'histogram',
    private readonly values: () => MetricValue[],
  ) {}

  async get() {
    return { name: this.name, help: this.help, type: this.type, values: this.values(), aggregator: this.aggregator };
  }

  reset(): void {}
}

/** Counts keyed by a label tuple joined with a separator no label value contains. */
class LabelledCounts {
  readonly counts = new Map<string, number>();
  constructor(private readonly labelNames: readonly string[]) {}

  add(key: string, amount = 1): void {
    this.counts.set(key, (this.counts.get(key) ?? 0) + amount);
  }

  values(): MetricValue[] {
    return [...this.counts].map(([key, value]) => {
      const parts = key.split('\u0000');
      return { value, labels: Object.fromEntries(this.labelNames.map((name, index) => [name, parts[index] ?? ''])) };
    });
  }
}

export interface WorkerHeartbeat {
  /** When the worker last finished a run, on the platform clock; undefined: not yet. */
  lastRunFinishedAtMs: number | undefined;
  pollIntervalMs: number;
}

export class KassaMetrics {
  readonly registry = new client.Registry();
  readonly #knownActions: ReadonlySet<string>;
  readonly #requests = new LabelledCounts(['action', 'result']);
  readonly #decisions = new LabelledCounts(['decision', 'reason']);
  readonly #callbackAttempts = new LabelledCounts(['outcome']);
  readonly #latencyByAction = new Map<string, LatencySeries>();
  readonly #declineReasons = new Set<string>();
  #scheduleRunner: WorkerHeartbeat | undefined;

  constructor(knownActions: Iterable<string>) {
    this.#knownActions = new Set(knownActions);
    this.registry.registerMetric(new PrecomputedMetric('kassa_api_requests_total',
      'API answers by action and result (SUCCESS, DECLINED, REDIRECT, UNDEFINED, ERROR, ...).', 'counter',
      () => this.#requests.values()) as unknown as client.Metric);
    this.registry.registerMetric(new PrecomputedMetric('kassa_api_request_duration_seconds',
      'Time from the request arriving to its answer, per action.', 'histogram',
      () => this.#latencyValues()) as unknown as client.Metric);
    this.registry.registerMetric(new PrecomputedMetric('kassa_payment_decisions_total',
      'Payments answered by the API as approved or declined, declines by reason.', 'counter',
      () => this.#decisions.values()) as unknown as client.Metric);
    this.registry.registerMetric(new PrecomputedMetric('kassa_callback_attempts_total',
      'Callback attempts by outcome (delivered, failed, refused, skipped).', 'counter',
      () => this.#callbackAttempts.values()) as unknown as client.Metric);
    // Event-loop delay (nodejs_eventloop_lag_*), heap, GC and the process's CPU and memory.
    client.collectDefaultMetrics({ register: this.registry, eventLoopMonitoringPrecision: 10 });
  }

  /** One API answer. `elapsedMs` from the request's arrival. */
  recordApiAnswer(actionText: unknown, body: Record<string, unknown>, elapsedMs: number): void {
    const action = typeof actionText === 'string' && this.#knownActions.has(actionText) ? actionText : 'other';
    const result = typeof body.result === 'string' && body.result.length <= 16 ? body.result : 'other';
    this.#requests.add(`${action}\u0000${result}`);
    let series = this.#latencyByAction.get(action);
    if (series === undefined) {
      series = { bucketCounts: latencyBucketsSeconds.map(() => 0), sumSeconds: 0, count: 0 };
      this.#latencyByAction.set(action, series);
    }
    const seconds = elapsedMs / 1000;
    series.sumSeconds += seconds;
    series.count += 1;
    for (let index = 0; index < latencyBucketsSeconds.length; index += 1) {
      if (seconds <= latencyBucketsSeconds[index]!) {
        series.bucketCounts[index]! += 1;
        break;
      }
    }
    if (result === 'SUCCESS' && (body.status === 'SETTLED' || body.status === 'PENDING')) {
      this.#decisions.add('approved\u0000');
    } else if (result === 'DECLINED') {
      this.#decisions.add(`declined\u0000${this.#reasonLabel(body.decline_reason)}`);
    }
  }

  recordCallbackAttempt(outcome: string): void {
    this.#callbackAttempts.add(this.#callbackAttempts.counts.size < labelValuesMax ? outcome : 'other');
  }

  #reasonLabel(reason: unknown): string {
    const text = typeof reason === 'string' ? reason.slice(0, 100) : 'unknown';
    if (this.#declineReasons.has(text)) return text;
    if (this.#declineReasons.size >= declineReasonsMax) return 'other';
    this.#declineReasons.add(text);
    return text;
  }

  #latencyValues(): MetricValue[] {
    const values: MetricValue[] = [];
    const name = 'kassa_api_request_duration_seconds';
    for (const [action, series] of this.#latencyByAction) {
      let cumulative = 0;
      latencyBucketsSeconds.forEach((bound, index) => {
        cumulative += series.bucketCounts[index]!;
        values.push({ metricName: `${name}_bucket`, value: cumulative, labels: { action, le: String(bound) } });
      });
      values.push({ metricName: `${name}_bucket`, value: series.count, labels: { action, le: '+Inf' } });
      values.push({ metricName: `${name}_sum`, value: series.sumSeconds, labels: { action } });
      values.push({ metricName: `${name}_count`, value: series.count, labels: { action } });
    }
    return values;
  }

  /** The schedule runner reports its runs here (server.ts wires it). */
  watchScheduleRunner(heartbeat: WorkerHeartbeat): void {
    this.#scheduleRunner = heartbeat;
  }

  /** The gauges read on scrape: database counts, pool, scheduler lag. */
  registerScrapeGauges(storage: Storage, clock: { nowMs(): number }, timeZone: string): void {
    const metrics = this;
    const gauge = (name: string, help: string, labelNames: string[] = []) =>
      new client.Gauge({ name, help, labelNames, registers: [this.registry] });
    const pending = gauge('kassa_callbacks_pending', 'Callbacks neither delivered nor given up (capped at 100000).');
    const oldestAge = gauge('kassa_callback_oldest_pending_age_seconds',
      'Age of the oldest callback not yet delivered nor given up; 0 when none is pending.');
    const blocked = gauge('kassa_callback_urls_blocked', 'Callback URLs blocked after consecutive failures.');
    const reconciliation = gauge('kassa_payments_awaiting_reconciliation',
      'Payments in PREPARE: the acquirer\'s answer is not known yet (capped at 100000).');
    const overdue = gauge('kassa_schedule_bindings_overdue', 'Active recurring schedules whose due date has passed.');
    const databaseUp = gauge('kassa_database_up', '1 when the last scrape could read the database, else 0.');
    new client.Gauge({
      name: 'kassa_scheduler_lag_seconds',
      help: 'Time since the schedule runner last finished a run, beyond its poll interval (0: on time).',
      registers: [this.registry],
      collect() {
        const heartbeat = metrics.#scheduleRunner;
        if (heartbeat?.lastRunFinishedAtMs === undefined) return;
        const lateMs = clock.nowMs() - heartbeat.lastRunFinishedAtMs - heartbeat.pollIntervalMs;
        this.set(Math.max(0, lateMs) / 1000);
      },
    });
    new client.Gauge({
      name: 'kassa_database_pool_connections', help: 'PostgreSQL pool connections by state (in_use, idle, waiting).',
      labelNames: ['state'], registers: [this.registry],
      collect() {
        const pool = storage.poolStatistics?.();
        if (!pool) return;
        this.set({ state: 'in_use' }, pool.total - pool.idle);
        this.set({ state: 'idle' }, pool.idle);
        this.set({ state: 'waiting' }, pool.waiting);
      },
    });
    // One read of the database per scrape, shared by the gauges above (collect() runs per metric).
    const readAll = async () => {
      const nowMs = clock.nowMs();
      try {
        const read = await readOperationalGauges(storage, nowMs, financialDay(nowMs, timeZone));
        pending.set(read.callbacksPending);
        oldestAge.set(read.oldestPendingCallbackCreatedAtMs === null
          ? 0 : Math.max(0, nowMs - read.oldestPendingCallbackCreatedAtMs) / 1000);
        blocked.set(read.blockedCallbackUrls);
        reconciliation.set(read.paymentsAwaitingReconciliation);
        overdue.set(read.overdueScheduleBindings);
        databaseUp.set(1);
      } catch {
        databaseUp.set(0);
      }
    };
    this.#beforeScrape = readAll;
  }

  #beforeScrape: (() => Promise<void>) | undefined;

  /** The text a Prometheus server scrapes. */
  async scrape(): Promise<{ contentType: string; text: string }> {
    await this.#beforeScrape?.();
    return { contentType: this.registry.contentType, text: await this.registry.metrics() };
  }

  /** Stops the default metrics' event-loop monitor. */
  close(): void {
    this.registry.clear();
  }
}
