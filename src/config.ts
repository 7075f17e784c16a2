import { resolve } from 'node:path';
import { isValidTimeZone } from './domain/dates.ts';

export interface KassaConfig {
  host: string;
  port: number;
  dataDirectory: string;
  databaseUrl?: string;
  /** PostgreSQL schema, for isolating test runs; default public. */
  postgresSchema?: string;
  secretKey?: string;
  previousSecretKeys?: string;
  timeZone: string;
  /** Trust X-Forwarded-For from a reverse proxy (Fastify's trustProxy); off by default so a
   * client cannot forge its source IP past the allow-list. */
  trustProxy: boolean | string;
  logLevel: string;
  /** sandbox: test engine, loopback callbacks, clock control. production: none of those. */
  mode: 'sandbox' | 'production';
  /** Base URL cardholders' browsers use to reach Kassa; default http://HOST:PORT. */
  publicUrl?: string;
  challengeTimeoutMs: number;
  /** How long a hosted payment page session stays payable (default 30 minutes). */
  checkoutSessionTimeoutMs?: number;
  /** How long a card token (req_token=Y) stays usable (KASSA_CARD_TOKEN_TTL_DAYS, default 365). */
  cardTokenTtlMs?: number;
  /** How often the scheduler looks for due recurring charges (KASSA_SCHEDULE_POLL_MS, default 1 s). */
  schedulePollIntervalMs?: number;
  /** Bearer token of the sandbox's operator endpoints (/operator/clock); unset: no endpoints. */
  operatorToken?: string;
  /** How often the callback dispatcher looks for due callbacks (default 250 ms). */
  callbackPollIntervalMs?: number;
  /** One callback attempt, connect to last byte of the answer (default 10 s). */
  callbackAttemptTimeoutMs?: number;
}

function portFrom(text: string | undefined): number {
  const port = Number(text ?? 8080);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`PORT must be 0–65535, got ${text}`);
  return port;
}

function positiveNumber(text: string | undefined, fallback: number, name: string): number {
  if (text === undefined || text === '') return fallback;
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} must be a positive number, got ${text}`);
  return value;
}

/** Reads the environment once at start; every setting is in the README's configuration table. */
export function configFromEnvironment(environment: NodeJS.ProcessEnv = process.env): KassaConfig {
  const timeZone = environment.KASSA_TIMEZONE ?? 'UTC';
  if (!isValidTimeZone(timeZone)) throw new Error(`KASSA_TIMEZONE is not a time zone: ${timeZone}`);
  const mode = environment.KASSA_MODE ?? 'sandbox';
  if (mode !== 'sandbox' && mode !== 'production') throw new Error('KASSA_MODE is sandbox or production');
  const trustProxyText = environment.KASSA_TRUST_PROXY;
  return {
    host: environment.HOST ?? '127.0.0.1',
    port: portFrom(environment.PORT),
    dataDirectory: resolve(environment.KASSA_DATA_DIR ?? './data'),
    databaseUrl: environment.DATABASE_URL || undefined,
    postgresSchema: environment.KASSA_PG_SCHEMA || undefined,
    secretKey: environment.KASSA_SECRET_KEY || undefined,
    previousSecretKeys: environment.KASSA_PREVIOUS_SECRET_KEYS || undefined,
    timeZone,
    trustProxy: trustProxyText === undefined || trustProxyText === '' || trustProxyText === 'false'
      ? false : trustProxyText === 'true' ? true : trustProxyText,
    logLevel: environment.LOG_LEVEL ?? 'info',
    mode,
    publicUrl: environment.KASSA_PUBLIC_URL ? environment.KASSA_PUBLIC_URL.replace(/\/+$/, '') : undefined,
    challengeTimeoutMs: positiveNumber(environment.KASSA_3DS_TIMEOUT_MS, 15 * 60 * 1000, 'KASSA_3DS_TIMEOUT_MS'),
    checkoutSessionTimeoutMs: positiveNumber(environment.KASSA_CHECKOUT_TIMEOUT_MS, 30 * 60 * 1000, 'KASSA_CHECKOUT_TIMEOUT_MS'),
    cardTokenTtlMs: positiveNumber(environment.KASSA_CARD_TOKEN_TTL_DAYS, 365, 'KASSA_CARD_TOKEN_TTL_DAYS') * 24 * 60 * 60 * 1000,
    schedulePollIntervalMs: positiveNumber(environment.KASSA_SCHEDULE_POLL_MS, 1000, 'KASSA_SCHEDULE_POLL_MS'),
    operatorToken: environment.KASSA_OPERATOR_TOKEN || undefined,
    callbackPollIntervalMs: positiveNumber(environment.KASSA_CALLBACK_POLL_MS, 250, 'KASSA_CALLBACK_POLL_MS'),
    callbackAttemptTimeoutMs: positiveNumber(environment.KASSA_CALLBACK_TIMEOUT_MS, 10_000, 'KASSA_CALLBACK_TIMEOUT_MS'),
  };
}
