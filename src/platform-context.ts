import type { Logger } from 'pino';
import type { AcquirerConnector } from './acquirers/connector.ts';
import { TestEngineConnector } from './acquirers/test-engine.ts';
import type { KassaConfig } from './config.ts';
import { systemClock, type Clock } from './domain/clock.ts';
import type { PlatformContext } from './operations/context.ts';
import { openVault } from './security/vault.ts';
import type { Storage } from './storage/database.ts';
import { SandboxClock } from './storage/sandbox-clock.ts';

export interface PlatformContextOptions {
  logger: Logger;
  /** The time the platform runs on before any sandbox offset (tests pass a fixed clock). */
  clock?: Clock;
  /** Tests pass their own connector; otherwise the configured one. */
  acquirer?: AcquirerConnector;
}

export interface BuiltPlatformContext {
  context: PlatformContext;
  /** Stops the sandbox clock's background reads: call before the storage is closed. */
  close(): Promise<void>;
}

/**
 * The clock of a process on this database. Sandbox: the base clock plus the offset stored in the
 * database (`kassa clock advance`, /operator/clock), read now and kept fresh; production: the
 * base clock, never moved.
 */
export async function platformClock(config: Pick<KassaConfig, 'mode'>, storage: Storage, base: Clock = systemClock): Promise<Clock> {
  if (config.mode !== 'sandbox') return base;
  const clock = new SandboxClock(storage, base);
  await clock.refresh();
  return clock;
}

/** The acquirer connector the configuration selects. The test engine is the only one so far. */
export function configuredAcquirer(_config: KassaConfig): AcquirerConnector {
  return new TestEngineConnector();
}

export function publicBaseUrlOf(config: Pick<KassaConfig, 'publicUrl' | 'host' | 'port'>): string {
  return config.publicUrl ?? `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${config.port}`;
}

/**
 * Everything an operation needs, built one way for every process: the server (app.ts) and the
 * CLI commands that move money (refund applications) get the same clock, connector, keys and
 * settings, so an operator's refund is dated and judged by the time the server runs on.
 */
export async function buildPlatformContext(
  config: KassaConfig, storage: Storage, options: PlatformContextOptions,
): Promise<BuiltPlatformContext> {
  const clock = await platformClock(config, storage, options.clock);
  const context: PlatformContext = {
    storage,
    vault: openVault({ secretKey: config.secretKey, previousSecretKeys: config.previousSecretKeys, dataDirectory: config.dataDirectory }),
    clock,
    acquirer: options.acquirer ?? configuredAcquirer(config),
    logger: options.logger,
    mode: config.mode,
    timeZone: config.timeZone,
    publicBaseUrl: publicBaseUrlOf(config),
    challengeTimeoutMs: config.challengeTimeoutMs,
    checkoutSessionTimeoutMs: config.checkoutSessionTimeoutMs,
    cardTokenTtlMs: config.cardTokenTtlMs,
  };
  return {
    context,
    async close() {
      if (clock instanceof SandboxClock) await clock.close();
    },
  };
}
