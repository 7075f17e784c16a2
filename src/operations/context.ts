import type { Logger } from 'pino';
import type { AcquirerConnector } from '../acquirers/connector.ts';
import type { Clock } from '../domain/clock.ts';
import type { KassaMetrics } from '../observability/metrics.ts';
import type { Vault } from '../security/vault.ts';
import type { Storage } from '../storage/database.ts';
import type { ApiRequestEntry } from '../workers/api-request-recorder.ts';

/** Everything an operation needs, handed in (never imported as a global), so tests build their
 * own with a real database and a clock they control. */
export interface PlatformContext {
  storage: Storage;
  vault: Vault;
  clock: Clock;
  acquirer: AcquirerConnector;
  logger: Logger;
  /** Sandbox pages show a test-mode banner and the test cards; production pages never do. */
  mode?: 'sandbox' | 'production';
  /** IANA zone for `trans_date`; UTC by default. */
  timeZone: string;
  /** Where cardholders' browsers reach this platform (3-D Secure and redirect pages). */
  publicBaseUrl: string;
  /** How long a payment may wait for the cardholder's 3-D Secure or redirect step. */
  challengeTimeoutMs: number;
  /** How long a hosted payment page (CREATE_CHECKOUT) stays payable; default 30 minutes. */
  checkoutSessionTimeoutMs?: number;
  /** How long a card token (req_token=Y) stays usable; default 365 days. */
  cardTokenTtlMs?: number;
  /** Bound on one acquirer call of a money operation; past it the outcome is unknown. 30 s. */
  acquirerTimeoutMs?: number;
  /** In-memory counters for /metrics (the server's; absent in the CLI). */
  metrics?: KassaMetrics;
  /** Sandbox only: the record of API requests `kassa logs tail` reads (docs/adr/0079). */
  apiRequests?: { record(entry: ApiRequestEntry): void };
}
