import { isIP } from 'node:net';
import { resolve } from 'node:path';
import { isValidTimeZone } from './domain/dates.ts';
import { postgresUrlsOf } from './storage/postgres-hosts.ts';

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
  /** How often the reconciler looks for unknown outcomes (KASSA_RECONCILER_POLL_MS). */
  reconcilerPollIntervalMs?: number;
  /** One callback attempt, connect to last byte of the answer (default 10 s). */
  callbackAttemptTimeoutMs?: number;
  /** KASSA_METRICS=off: no series recorded, no /metrics anywhere (docs/adr/0066). Default on. */
  metricsEnabled?: boolean;
  /** Production: /metrics on the main port answers only `Authorization: Bearer <token>`. */
  metricsToken?: string;
  /** /metrics (and the health endpoints) on their own port instead of the main one. */
  metricsPort?: number;
  /** Address of the metrics port (default 127.0.0.1). */
  metricsHost?: string;
  /** After SIGTERM: how long /health/ready says "draining" before the listener closes, so a load
   * balancer stops sending (KASSA_DRAIN_DELAY_MS, default 0). */
  drainDelayMs?: number;
  /** After the listener closes: the bound on in-flight requests and worker runs (default 10 s). */
  shutdownTimeoutMs?: number;
}

/** Every problem of the environment at once, so one restart fixes them all. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.join('; '));
  }
}

const logLevels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];
const proxyKeywords = new Set(['loopback', 'linklocal', 'uniquelocal']);

/** Reads settings and notes what is wrong with them instead of stopping at the first. */
class SettingsReader {
  readonly problems: string[] = [];
  constructor(private readonly environment: NodeJS.ProcessEnv) {}

  text(name: string): string | undefined {
    const value = this.environment[name];
    return value === undefined || value === '' ? undefined : value;
  }

  problem(message: string): undefined {
    this.problems.push(message);
    return undefined;
  }

  port(name = 'PORT', fallback = 8080): number {
    const text = this.text(name);
    if (text === undefined) return fallback;
    const port = /^\d+$/.test(text) ? Number(text) : Number.NaN;
    if (Number.isInteger(port) && port <= 65535) return port;
    this.problem(`${name} must be a whole number from 0 to 65535, got ${JSON.stringify(text)}`);
    return fallback;
  }

  nonNegativeNumber(name: string, fallback: number): number {
    const text = this.text(name);
    if (text === undefined) return fallback;
    const value = Number(text);
    if (Number.isFinite(value) && value >= 0) return value;
    this.problem(`${name} must be a number of milliseconds, 0 or more, got ${JSON.stringify(text)}`);
    return fallback;
  }

  positiveNumber(name: string, fallback: number): number {
    const text = this.text(name);
    if (text === undefined) return fallback;
    const value = Number(text);
    if (Number.isFinite(value) && value > 0) return value;
    this.problem(`${name} must be a positive number, got ${JSON.stringify(text)}`);
    return fallback;
  }

  oneOf<T extends string>(name: string, allowed: readonly T[], fallback: T): T {
    const text = this.text(name) ?? fallback;
    if ((allowed as readonly string[]).includes(text)) return text as T;
    this.problem(`${name} must be one of ${allowed.join(', ')}, got ${JSON.stringify(text)}`);
    return fallback;
  }
}

function publicUrlFrom(reader: SettingsReader): string | undefined {
  const text = reader.text('KASSA_PUBLIC_URL');
  if (text === undefined) return undefined;
  let url: URL | undefined;
  try {
    url = new URL(text);
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:') || url.search || url.hash || url.username) {
    return reader.problem('KASSA_PUBLIC_URL must be an http(s) URL without query or fragment, e.g. '
      + `https://pay.example, got ${JSON.stringify(text)}`);
  }
  return text.replace(/\/+$/, '');
}

function databaseUrlFrom(reader: SettingsReader): string | undefined {
  const text = reader.text('DATABASE_URL');
  if (text === undefined) return undefined;
  // One host, or several libpq-style (postgres://user@h1:5432,h2:5432/db), docs/adr/0062.
  if (postgresUrlsOf(text) !== undefined) return text;
  // The URL may carry a password: it is not repeated.
  return reader.problem('DATABASE_URL must be a postgres:// or postgresql:// URL (unset it for SQLite)');
}

/** KASSA_METRICS_TOKEN / KASSA_METRICS_PORT (docs/adr/0060): where /metrics is served. */
function metricsSettingsFrom(
  reader: SettingsReader, port: number,
): Pick<KassaConfig, 'metricsEnabled' | 'metricsToken' | 'metricsPort' | 'metricsHost'> {
  const metricsEnabled = reader.oneOf('KASSA_METRICS', ['on', 'off'] as const, 'on') === 'on';
  const metricsToken = reader.text('KASSA_METRICS_TOKEN');
  if (metricsToken !== undefined && !/^[\x21-\x7e]{16,256}$/.test(metricsToken)) {
    reader.problem('KASSA_METRICS_TOKEN must be 16 to 256 printable characters without spaces '
      + '(e.g. openssl rand -hex 16)');
  }
  const metricsPort = reader.text('KASSA_METRICS_PORT') === undefined
    ? undefined : reader.port('KASSA_METRICS_PORT', 0);
  if (metricsPort !== undefined && metricsPort !== 0 && metricsPort === port) {
    reader.problem(`KASSA_METRICS_PORT must differ from PORT (both ${port})`);
  }
  const metricsHost = reader.text('KASSA_METRICS_HOST');
  if (!metricsEnabled && (metricsToken !== undefined || metricsPort !== undefined)) {
    reader.problem('KASSA_METRICS=off serves no /metrics: unset KASSA_METRICS_TOKEN and KASSA_METRICS_PORT, '
      + 'or remove KASSA_METRICS=off');
  }
  return { metricsEnabled, metricsToken, metricsPort, metricsHost };
}

function trustProxyFrom(reader: SettingsReader): boolean | string {
  const text = reader.text('KASSA_TRUST_PROXY');
  if (text === undefined || text === 'false') return false;
  if (text === 'true') return true;
  const entries = text.split(',').map((entry) => entry.trim());
  const wrong = entries.filter((entry) => {
    const [address, prefix] = entry.split('/');
    if (proxyKeywords.has(entry)) return false;
    const family = isIP(address ?? '');
    if (family === 0) return true;
    return prefix !== undefined && !(/^\d+$/.test(prefix) && Number(prefix) <= (family === 4 ? 32 : 128));
  });
  if (wrong.length === 0) return text;
  reader.problem('KASSA_TRUST_PROXY must be true, false, or a comma-separated list of proxy addresses or CIDR '
    + `ranges; not understood: ${wrong.join(', ')}`);
  return false;
}

function secretKeysFrom(reader: SettingsReader): { secretKey?: string; previousSecretKeys?: string } {
  const secretKey = reader.text('KASSA_SECRET_KEY');
  const previousSecretKeys = reader.text('KASSA_PREVIOUS_SECRET_KEYS');
  const isKey = (text: string) =>
    /^[0-9a-f]{64}$/i.test(text.trim()) || Buffer.from(text.trim(), 'base64').length === 32;
  if (secretKey !== undefined && !isKey(secretKey)) {
    reader.problem('KASSA_SECRET_KEY must be 32 bytes as 64 hex characters or base64 (e.g. openssl rand -hex 32)');
  }
  const previous = (previousSecretKeys ?? '').split(',').filter((text) => text.trim() !== '');
  if (previous.some((text) => !isKey(text))) {
    reader.problem('KASSA_PREVIOUS_SECRET_KEYS must be comma-separated keys of 32 bytes (64 hex characters or base64)');
  }
  return { secretKey, previousSecretKeys };
}

/**
 * Reads the environment once at start; every setting is in the README's configuration table.
 * Every problem is collected and thrown at once as a ConfigError (the server prints them and
 * exits with status 2, the CLI likewise).
 */
export function configFromEnvironment(environment: NodeJS.ProcessEnv = process.env): KassaConfig {
  const reader = new SettingsReader(environment);
  const timeZone = reader.text('KASSA_TIMEZONE') ?? 'UTC';
  if (!isValidTimeZone(timeZone)) {
    reader.problem(`KASSA_TIMEZONE must be an IANA time zone such as Europe/Berlin, got ${JSON.stringify(timeZone)}`);
  }
  const postgresSchema = reader.text('KASSA_PG_SCHEMA');
  if (postgresSchema !== undefined && !/^[a-z_][a-z0-9_]{0,62}$/.test(postgresSchema)) {
    const got = JSON.stringify(postgresSchema);
    reader.problem(`KASSA_PG_SCHEMA must be a lower-case SQL name (letters, digits, _), got ${got}`);
  }
  const host = environment.HOST ?? '127.0.0.1';
  if (host.trim() === '') reader.problem('HOST must not be empty (127.0.0.1, 0.0.0.0, :: or a host name)');
  const port = reader.port();
  const config: KassaConfig = {
    host,
    port,
    dataDirectory: resolve(reader.text('KASSA_DATA_DIR') ?? './data'),
    databaseUrl: databaseUrlFrom(reader),
    postgresSchema,
    ...secretKeysFrom(reader),
    timeZone,
    trustProxy: trustProxyFrom(reader),
    logLevel: reader.oneOf('LOG_LEVEL', logLevels, 'info'),
    mode: reader.oneOf('KASSA_MODE', ['sandbox', 'production'] as const, 'sandbox'),
    publicUrl: publicUrlFrom(reader),
    challengeTimeoutMs: reader.positiveNumber('KASSA_3DS_TIMEOUT_MS', 15 * 60 * 1000),
    checkoutSessionTimeoutMs: reader.positiveNumber('KASSA_CHECKOUT_TIMEOUT_MS', 30 * 60 * 1000),
    cardTokenTtlMs: reader.positiveNumber('KASSA_CARD_TOKEN_TTL_DAYS', 365) * 24 * 60 * 60 * 1000,
    schedulePollIntervalMs: reader.positiveNumber('KASSA_SCHEDULE_POLL_MS', 1000),
    operatorToken: reader.text('KASSA_OPERATOR_TOKEN'),
    callbackPollIntervalMs: reader.positiveNumber('KASSA_CALLBACK_POLL_MS', 250),
    reconcilerPollIntervalMs: reader.positiveNumber('KASSA_RECONCILER_POLL_MS', 10_000),
    callbackAttemptTimeoutMs: reader.positiveNumber('KASSA_CALLBACK_TIMEOUT_MS', 10_000),
    ...metricsSettingsFrom(reader, port),
    drainDelayMs: reader.nonNegativeNumber('KASSA_DRAIN_DELAY_MS', 0),
    shutdownTimeoutMs: reader.positiveNumber('KASSA_SHUTDOWN_TIMEOUT_MS', 10_000),
  };
  if (reader.problems.length > 0) throw new ConfigError(reader.problems);
  return config;
}
