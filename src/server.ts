import { buildApp } from './app.ts';
import { configFromEnvironment } from './config.ts';

/** The only place that listens. Stops cleanly on SIGINT/SIGTERM so in-flight requests finish. */
const config = configFromEnvironment();
const kassa = await buildApp(config);
await kassa.app.listen({ host: config.host, port: config.port });
kassa.context.logger.info(
  { storage: kassa.context.storage.dialect, dataDirectory: config.databaseUrl ? undefined : config.dataDirectory, mode: config.mode },
  'kassa is listening',
);

let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    kassa.close().then(() => process.exit(0), () => process.exit(1));
  });
}
