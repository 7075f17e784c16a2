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

const config = settingsOrExit();
const kassa = await appOrExit(config);
const address = await kassa.app.listen({ host: config.host, port: config.port });
const callbackDispatcher = new CallbackDispatcher(kassa.context, {
  mode: config.mode, pollIntervalMs: config.callbackPollIntervalMs, attemptTimeoutMs: config.callbackAttemptTimeoutMs,
});
callbackDispatcher.start();
const scheduleRunner = new ScheduleRunner(kassa.context, { pollIntervalMs: config.schedulePollIntervalMs });
scheduleRunner.start();
// A sweep every 5 s is plenty for a deadline measured in minutes.
const challengeSweeper = new ChallengeSweeper(kassa.context, { pollIntervalMs: 5_000 });
challengeSweeper.start();
// Finishes operations whose bank outcome was unknown (docs/adr/0091).
const reconciler = new Reconciler(kassa.context);
reconciler.start();
kassa.context.logger.info(
  { address, storage: kassa.context.storage.dialect, dataDirectory: config.databaseUrl ? undefined : config.dataDirectory, mode: config.mode },
  'kassa is listening',
);

let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    Promise.all([callbackDispatcher.stop(), scheduleRunner.stop(), challengeSweeper.stop(), reconciler.stop()])
      .then(() => kassa.close())
      .then(() => process.exit(0), () => process.exit(1));
  });
}
