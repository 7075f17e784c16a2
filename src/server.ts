import type { Server } from 'node:http';
import net from 'node:net';
import { buildApp } from './app.ts';
import { ConfigError, configFromEnvironment, type KassaConfig } from './config.ts';
import { StorageSetupError } from './storage/database.ts';
import { CallbackDispatcher } from './workers/callback-dispatcher.ts';
import { ScheduleRunner } from './workers/schedule-runner.ts';
import { ChallengeSweeper } from './workers/challenge-sweeper.ts';
import { Reconciler } from './workers/reconciler.ts';

/** The only place that listens, and the only place that starts background workers (tests
 * build the app and drive workers themselves). Stops cleanly on SIGINT/SIGTERM so in-flight
 * requests and callback attempts finish. */

/** A setting that is wrong is the operator's to fix: every problem on its own line, no stack
 * trace, exit status 2 (as the CLI answers a mistake of its caller). */
function settingsOrExit(): KassaConfig {
  try {
    return configFromEnvironment();
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    for (const problem of error.problems) process.stderr.write(`kassa: ${problem}\n`);
    process.exit(2);
  }
}

async function appOrExit(config: KassaConfig) {
  try {
    return await buildApp(config);
  } catch (error) {
    if (!(error instanceof StorageSetupError)) throw error;
    process.stderr.write(`kassa: ${error.message}\n`);
    process.exit(2);
  }
}

const listenProblems: Record<string, string> = {
  EADDRINUSE: 'another process is listening there (stop it, or set another port)',
  EACCES: 'this user may not listen there (ports below 1024 need privileges)',
  EADDRNOTAVAIL: 'no interface of this machine has that address',
};

/** A port in use (or not ours to take) is the operator's to fix too: one line, no stack trace,
 * exit status 2, and nothing left open. Any other failure is a bug and keeps its stack. */
type Listener = { listen(options: { host: string; port: number }): Promise<string> };
async function listenOrExit(app: Listener, host: string, port: number, setting: string): Promise<string> {
  try {
    return await app.listen({ host, port });
  } catch (error) {
    const problem = listenProblems[(error as NodeJS.ErrnoException).code ?? ''];
    if (!problem) throw error;
    process.stderr.write(`kassa: cannot listen on ${host}:${port} (${setting}): ${problem}\n`);
    await kassa.app.close().catch(() => {});
    await kassa.metricsApp?.close().catch(() => {});
    process.exit(2);
  }
}

const config = settingsOrExit();
const kassa = await appOrExit(config);
const logger = kassa.context.logger;
const address = await listenOrExit(kassa.app, config.host, config.port, 'HOST, PORT');
const metricsAddress = kassa.metricsApp
  ? await listenOrExit(kassa.metricsApp, config.metricsHost ?? '127.0.0.1', config.metricsPort ?? 0,
    'KASSA_METRICS_HOST, KASSA_METRICS_PORT')
  : undefined;
const callbackDispatcher = new CallbackDispatcher(kassa.context, {
  mode: config.mode, pollIntervalMs: config.callbackPollIntervalMs, attemptTimeoutMs: config.callbackAttemptTimeoutMs,
});
callbackDispatcher.start();
const scheduleRunner = new ScheduleRunner(kassa.context, { pollIntervalMs: config.schedulePollIntervalMs });
scheduleRunner.start();
kassa.metrics?.watchScheduleRunner(scheduleRunner);
// A sweep every 5 s is plenty for a deadline measured in minutes.
const challengeSweeper = new ChallengeSweeper(kassa.context, { pollIntervalMs: 5_000 });
challengeSweeper.start();
// Finishes operations whose bank outcome was unknown (docs/adr/0091).
const reconciler = new Reconciler(kassa.context, { pollIntervalMs: config.reconcilerPollIntervalMs });
reconciler.start();
// Sandbox: merchants' API requests for `kassa logs tail` (docs/adr/0079).
kassa.apiRequests?.start();
// /health/ready reports the merchant-change listener: open it now, not at the first request.
kassa.context.storage.merchants.listen();
if (config.mode === 'production' && config.metricsEnabled !== false && !config.metricsToken
  && config.metricsPort === undefined) {
  logger.warn('no /metrics: set KASSA_METRICS_TOKEN (main port, bearer token) or KASSA_METRICS_PORT');
}
logger.info(
  {
    address, metricsAddress, storage: kassa.context.storage.dialect,
    dataDirectory: config.databaseUrl ? undefined : config.dataDirectory, mode: config.mode,
  },
  'kassa is listening',
);

const sleep = (ms: number) => new Promise<'elapsed'>((resolve) => setTimeout(() => resolve('elapsed'), ms));
const connectionsOf = (server: Server) => new Promise<number>((resolve) => {
  server.getConnections((_error, count) => resolve(count));
});

/** Grace after the listener closed before idle connections are closed: a connection accepted a
 * moment before has not had its request read yet and would count as idle (and be reset). */
const acceptGraceMs = 250;
/** The listener closes only after no connection arrived for this long: connections still in the
 * kernel's accept queue when a listening socket closes are reset, and a busy event loop (a
 * SQLite fsync blocks it) accepts late. Bounded by the shutdown timeout. */
const quietBeforeCloseMs = 250;
let lastConnectionAtMs = 0;
kassa.app.server.on('connection', () => {
  lastConnectionAtMs = Date.now();
});

/**
 * Stops listening without Node's close of idle connections (http.Server.close does that, and a
 * connection accepted but not yet read is "idle": its request would be reset), then waits for
 * the open connections to end: each gets Connection: close on its answer (draining), and idle
 * ones are closed after a grace. True if all ended within `timeoutMs`; else the rest are cut.
 */
async function closeListener(server: Server, timeoutMs: number): Promise<boolean> {
  const startedMs = Date.now();
  while (Date.now() - lastConnectionAtMs < quietBeforeCloseMs && Date.now() - startedMs < timeoutMs) await sleep(20);
  net.Server.prototype.close.call(server);
  const closedAtMs = Date.now();
  while (Date.now() - closedAtMs < timeoutMs) {
    if ((await connectionsOf(server)) === 0) return true;
    if (Date.now() - closedAtMs >= acceptGraceMs) server.closeIdleConnections();
    await sleep(20);
  }
  const open = await connectionsOf(server);
  logger.warn({ openConnections: open, timeoutMs }, 'in-flight requests not answered in time: connections closed');
  server.closeAllConnections();
  return false;
}

/**
 * SIGTERM/SIGINT (docs/adr/0063): /health/ready turns 503 at once and every answer closes its
 * connection; after KASSA_DRAIN_DELAY_MS the listener closes (new connections are refused, not
 * reset) and the workers stop claiming (claimed, unsent callbacks are handed back); in-flight
 * requests are answered within KASSA_SHUTDOWN_TIMEOUT_MS, then what is left is cut and logged;
 * the database is closed last and the process exits 0. A second signal exits at once (1).
 */
async function shutDown(signal: string): Promise<void> {
  const startedMs = Date.now();
  kassa.lifecycle.draining = true;
  logger.info({ signal, drainDelayMs: config.drainDelayMs }, 'shutting down: draining');
  if (config.drainDelayMs) await sleep(config.drainDelayMs);
  const workers = Promise.all([
    callbackDispatcher.stop(), scheduleRunner.stop(), challengeSweeper.stop(), reconciler.stop(),
  ]);
  const timeoutMs = config.shutdownTimeoutMs ?? 10_000;
  const inFlightAnswered = await closeListener(kassa.app.server, timeoutMs);
  await Promise.race([workers, sleep(timeoutMs)]);
  // Fastify's close finds the listener closed and the connections gone; then the database.
  await kassa.close();
  logger.info({ signal, durationMs: Date.now() - startedMs, inFlightAnswered }, 'kassa stopped');
}

let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (stopping) process.exit(1);
    stopping = true;
    shutDown(signal).then(() => process.exit(0), (error: Error) => {
      logger.error({ error: error.message }, 'shutdown failed');
      process.exit(1);
    });
  });
}
