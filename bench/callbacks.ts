import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Writable } from 'node:stream';
import pg from 'pg';
import { buildApp } from '../src/app.ts';
import type { KassaConfig } from '../src/config.ts';
import { systemClock } from '../src/domain/clock.ts';
import { createMerchant } from '../src/operations/manage-merchants.ts';
import { startCallbackReceiver } from '../src/testing/callback-receiver.ts';
import { saleFields } from '../src/testing/harness.ts';
import { CallbackDispatcher } from '../src/workers/callback-dispatcher.ts';

/**
 * Callback delivery, measured on a real platform (real database, real SALEs through the HTTP
 * layer) delivering to a real receiver on 127.0.0.1 that answers OK:
 * - throughput: a backlog of callbacks (committed with their SALEs while no dispatcher ran) is
 *   delivered by one dispatcher with its default settings; callbacks per second;
 * - commit-to-delivery delay: with the dispatcher polling (default 250 ms), SALEs arrive at a
 *   steady rate and each callback's arrival at the receiver is compared with the moment its
 *   SALE was answered (the answer follows the commit, so this slightly understates the delay).
 * Every phase is bounded in time; the receiver runs in the same process, so both share the CPU.
 */

export interface CallbackBenchFigures {
  callbacksPerSecond: number;
  commitToDeliveryP50Ms: number;
  commitToDeliveryP99Ms: number;
}

export interface CallbackBenchOptions {
  /** postgres://… to measure PostgreSQL; absent measures SQLite. */
  databaseUrl?: string;
  backlogCount?: number;
  /** SALEs per second during the delay phase, and for how long. */
  steadyRatePerSecond?: number;
  steadyDurationMs?: number;
  pollIntervalMs?: number;
  /** Bound on each phase. */
  phaseTimeLimitMs?: number;
}

function percentile(sortedValues: number[], fraction: number): number {
  if (sortedValues.length === 0) return Number.NaN;
  const index = Math.min(sortedValues.length - 1, Math.ceil(fraction * sortedValues.length) - 1);
  return sortedValues[Math.max(0, index)];
}

const sleep = (durationMs: number) => new Promise((resolve) => setTimeout(resolve, durationMs));

export async function benchCallbacks(options: CallbackBenchOptions = {}): Promise<CallbackBenchFigures> {
  const backlogCount = options.backlogCount ?? 2_000;
  const steadyRatePerSecond = options.steadyRatePerSecond ?? 100;
  const steadyDurationMs = options.steadyDurationMs ?? 5_000;
  const phaseTimeLimitMs = options.phaseTimeLimitMs ?? 60_000;
  const dataDirectory = mkdtempSync(join(tmpdir(), 'kassa-bench-callbacks-'));
  let schema: string | undefined;
  if (options.databaseUrl) {
    schema = `bench_${randomBytes(6).toString('hex')}`;
    const client = new pg.Client({ connectionString: options.databaseUrl });
    await client.connect();
    await client.query(`CREATE SCHEMA ${schema}`);
    await client.end();
  }
  const config: KassaConfig = {
    host: '127.0.0.1', port: 0, dataDirectory, databaseUrl: options.databaseUrl, postgresSchema: schema,
    secretKey: randomBytes(32).toString('hex'), timeZone: 'UTC', trustProxy: false, logLevel: 'warn', mode: 'sandbox',
    challengeTimeoutMs: 15 * 60_000,
  };
  const quiet = new Writable({ write: (_chunk, _encoding, callback) => callback() });
  const kassa = await buildApp(config, { clock: systemClock, logDestination: quiet });
  const receiver = await startCallbackReceiver();
  const dispatchers: CallbackDispatcher[] = [];
  try {
    const { merchant, password } = await createMerchant(kassa.context, {
      email: 'bench@shop.test', callbackUrl: receiver.url('/bench'), allowedIps: ['127.0.0.1'], channels: [],
      threeDsEnabled: false, s2sCardEnabled: true, descriptor: 'BENCH',
    });
    const credentials = { clientKey: merchant.clientKey, password };
    const answeredAtByTransId = new Map<string, number>();
    const sale = async () => {
      const response = await kassa.app.inject({
        method: 'POST', url: '/post', remoteAddress: '127.0.0.1',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        payload: new URLSearchParams(saleFields(credentials)).toString(),
      });
      const body = response.json() as { result: string; trans_id: string };
      if (body.result !== 'SUCCESS') throw new Error(`bench SALE failed: ${response.body}`);
      answeredAtByTransId.set(body.trans_id, performance.timeOrigin + performance.now());
    };

    // Throughput: the backlog first (16 SALEs at a time), then one dispatcher drains it.
    for (let made = 0; made < backlogCount; made += 16) {
      await Promise.all(Array.from({ length: Math.min(16, backlogCount - made) }, sale));
    }
    const drainer = new CallbackDispatcher(kassa.context, { pollIntervalMs: options.pollIntervalMs });
    dispatchers.push(drainer);
    const drainStartedAt = performance.now();
    drainer.start();
    await receiver.waitFor(backlogCount, { timeoutMs: phaseTimeLimitMs });
    const drainSeconds = (performance.now() - drainStartedAt) / 1000;
    const callbacksPerSecond = backlogCount / drainSeconds;

    // Delay: the dispatcher keeps polling while SALEs arrive at a steady rate.
    const backlogReceived = receiver.received.length;
    const steadyCount = Math.round((steadyRatePerSecond * steadyDurationMs) / 1000);
    const steadyTransIds: string[] = [];
    const intervalMs = 1000 / steadyRatePerSecond;
    const steadyStartedAt = performance.now();
    const inFlight: Promise<void>[] = [];
    for (let index = 0; index < steadyCount; index += 1) {
      const dueAt = steadyStartedAt + index * intervalMs;
      const waitMs = dueAt - performance.now();
      if (waitMs > 0) await sleep(waitMs);
      inFlight.push(sale());
    }
    await Promise.all(inFlight);
    for (const transId of answeredAtByTransId.keys()) steadyTransIds.push(transId);
    await receiver.waitFor(backlogReceived + steadyCount, { timeoutMs: phaseTimeLimitMs });
    const steadySet = new Set(steadyTransIds.slice(backlogCount));
    const delays = receiver.received.slice(backlogReceived)
      .filter((callback) => steadySet.has(callback.fields.trans_id))
      .map((callback) => callback.receivedAtMs - answeredAtByTransId.get(callback.fields.trans_id)!)
      .sort((left, right) => left - right);
    if (receiver.received.length !== backlogCount + steadyCount) {
      throw new Error(`expected ${backlogCount + steadyCount} callbacks, received ${receiver.received.length}`);
    }
    return {
      callbacksPerSecond: Math.round(callbacksPerSecond),
      commitToDeliveryP50Ms: Math.round(percentile(delays, 0.5)),
      commitToDeliveryP99Ms: Math.round(percentile(delays, 0.99)),
    };
  } finally {
    for (const dispatcher of dispatchers) await dispatcher.stop();
    await receiver.close();
    await kassa.close();
    rmSync(dataDirectory, { recursive: true, force: true });
    if (schema) {
      const client = new pg.Client({ connectionString: options.databaseUrl });
      await client.connect();
      await client.query(`DROP SCHEMA ${schema} CASCADE`);
      await client.end();
    }
  }
}
