import { createHash, randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pg from 'pg';
import { buildApp, type BuildOptions, type KassaApp } from '../app.ts';
import type { KassaConfig } from '../config.ts';
import { runCli } from '../cli.ts';
import { FixedClock, type Clock } from '../domain/clock.ts';
import { createMerchant } from '../operations/manage-merchants.ts';
import { cardHashPart, saleHash, transactionHash, orderHash } from '../protocol/hash.ts';
import { openStorage, sqliteFilePath } from '../storage/database.ts';
import type { MerchantSettings } from '../storage/merchants.ts';

/**
 * A real platform for one test file: a fresh SQLite file in a temporary folder, or — when
 * DATABASE_URL is set, as CI sets it — a fresh PostgreSQL schema dropped afterwards. Never a
 * mock of storage.
 */
export interface TestPlatform extends KassaApp {
  dataDirectory: string;
  /** What a second process (the CLI) needs to open the same database and keys. */
  secretKey: string;
  postgresSchema: string | undefined;
  clock: FixedClock;
  logLines: string[];
  merchant: { clientKey: string; password: string; merchantId: string };
  /** POSTs a urlencoded form and returns the parsed JSON (asserting HTTP 200 is the caller's). */
  post(fields: Record<string, string>, options?: { path?: string; remoteAddress?: string }): Promise<{ statusCode: number; body: any }>;
  addMerchant(settings?: Partial<MerchantSettings>): Promise<{ clientKey: string; password: string; merchantId: string }>;
}

export const usingPostgres = Boolean(process.env.DATABASE_URL);

/** The environment a second process (the CLI) needs to open this platform's database and keys. */
export function cliEnvironment(platform: Pick<TestPlatform, 'dataDirectory' | 'secretKey' | 'postgresSchema'>): NodeJS.ProcessEnv {
  return {
    ...process.env,
    KASSA_DATA_DIR: platform.dataDirectory,
    KASSA_SECRET_KEY: platform.secretKey,
    ...(platform.postgresSchema ? { KASSA_PG_SCHEMA: platform.postgresSchema } : {}),
  };
}

/** What a CLI command printed; a failed one rejects with its exit `code` as execFile would. */
export interface CliResult { stdout: string; stderr: string }
export type CliFailure = Error & CliResult & { code: number };

/**
 * Runs `kassa …` in this process, as the operator's second process on the platform's database
 * would (its own storage connection, the platform's environment), on the platform's clock: a
 * spawned CLI read the real date while the test server stood at testNowMs, and cost ~1 s of
 * start-up per command. One test (cli.process.test.ts) still spawns the real command.
 */
export async function runKassa(
  platform: Pick<TestPlatform, 'dataDirectory' | 'secretKey' | 'postgresSchema'> & { clock?: Clock; environment?: NodeJS.ProcessEnv },
  ...args: string[]
): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  const code = await runCli(args, {
    stdout: (text) => { stdout += text; },
    stderr: (text) => { stderr += text; },
    environment: { ...cliEnvironment(platform), ...platform.environment },
    clock: platform.clock,
  });
  if (code === 0) return { stdout, stderr };
  throw Object.assign(new Error(`kassa ${args.join(' ')} exited with ${code}: ${stderr}`), { code, stdout, stderr }) as CliFailure;
}

/** 2026-11-23 10:00:00 UTC: a fixed "now" for the tests that need one. */
export const testNowMs = Date.UTC(2026, 10, 23, 10, 0, 0);

/**
 * An empty SQLite database migrated to the latest schema, made once per version of the
 * migrations (the file name carries a hash of their source) and copied into each test
 * platform's folder. Migrating a fresh file — a commit with fsync per migration, as production
 * does — took 50–300 ms per platform; opening a migrated copy takes a few. The copy is the same
 * database migrating would make; the migrations themselves run when the template is made and in
 * src/storage/migrations.test.ts.
 */
let sqliteTemplate: Promise<string> | undefined;

function migratedSqliteTemplate(): Promise<string> {
  sqliteTemplate ??= (async () => {
    const sources = ['../storage/migrations.ts', '../storage/schema-scoped-migrations.ts', '../storage/database.ts']
      .map((path) => readFileSync(new URL(path, import.meta.url), 'utf8'));
    const version = createHash('sha256').update(sources.join('\0')).digest('hex').slice(0, 16);
    const template = join(tmpdir(), `kassa-test-template-${version}.sqlite`);
    if (existsSync(template)) return template;
    const folder = mkdtempSync(join(tmpdir(), 'kassa-template-'));
    const storage = await openStorage({ dataDirectory: folder });
    await storage.close(); // the last connection closing folds the WAL into the file
    // Renamed into place whole, so a test file running beside this one never copies half a file.
    renameSync(sqliteFilePath(folder), template);
    rmSync(folder, { recursive: true, force: true });
    return template;
  })();
  return sqliteTemplate;
}

export async function startTestPlatform(
  options: BuildOptions & { merchant?: Partial<MerchantSettings>; config?: Partial<KassaConfig> } = {},
): Promise<TestPlatform> {
  const dataDirectory = mkdtempSync(join(tmpdir(), 'kassa-test-'));
  let schema: string | undefined;
  if (usingPostgres) {
    schema = `test_${randomBytes(6).toString('hex')}`;
    const client = new pg.Client({ connectionString: process.env.DATABASE_URL });
    await client.connect();
    await client.query(`CREATE SCHEMA ${schema}`);
    await client.end();
  } else {
    copyFileSync(await migratedSqliteTemplate(), sqliteFilePath(dataDirectory));
  }
  const clock = options.clock instanceof FixedClock ? options.clock : new FixedClock(testNowMs);
  const logLines: string[] = [];
  const logDestination = new Writable({
    write(chunk, _encoding, callback) {
      logLines.push(String(chunk));
      callback();
    },
  });
  const config: KassaConfig = {
    host: '127.0.0.1', port: 0, dataDirectory, databaseUrl: process.env.DATABASE_URL || undefined,
    postgresSchema: schema, secretKey: randomBytes(32).toString('hex'), timeZone: 'UTC', trustProxy: false,
    logLevel: 'info', mode: 'sandbox', publicUrl: 'http://kassa.test', challengeTimeoutMs: 15 * 60 * 1000, ...options.config,
  };
  const kassa = await buildApp(config, { ...options, clock, logDestination });

  const addMerchant = async (settings: Partial<MerchantSettings> = {}) => {
    const { merchant, password } = await createMerchant(kassa.context, {
      email: 'ops@shop.test', callbackUrl: 'http://127.0.0.1:9/cb', allowedIps: ['127.0.0.1', '::1'], channels: ['web'],
      threeDsEnabled: false, s2sCardEnabled: true, descriptor: 'SHOP.TEST', ...settings,
    });
    return { clientKey: merchant.clientKey, password, merchantId: merchant.merchantId };
  };
  const merchant = await addMerchant(options.merchant);

  return {
    ...kassa,
    dataDirectory,
    secretKey: config.secretKey!,
    postgresSchema: schema,
    clock,
    logLines,
    merchant,
    addMerchant,
    async post(fields, { path = '/post', remoteAddress = '127.0.0.1' } = {}) {
      const response = await kassa.app.inject({
        method: 'POST', url: path, remoteAddress,
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        payload: new URLSearchParams(fields).toString(),
      });
      return { statusCode: response.statusCode, body: response.json() };
    },
    async close() {
      await kassa.close();
      rmSync(dataDirectory, { recursive: true, force: true });
      if (schema) {
        const client = new pg.Client({ connectionString: process.env.DATABASE_URL });
        await client.connect();
        await client.query(`DROP SCHEMA ${schema} CASCADE`);
        await client.end();
      }
    },
  };
}

export const testCard = { number: '4111111111111111', month: '01', year: '2025', cvv: '000' };

/** A complete, correctly signed SALE form for the platform's merchant. */
export function saleFields(
  merchant: { clientKey: string; password: string }, overrides: Record<string, string> = {},
): Record<string, string> {
  const fields: Record<string, string> = {
    action: 'SALE',
    client_key: merchant.clientKey,
    order_id: `ORDER-${randomBytes(6).toString('hex')}`,
    order_amount: '1.99',
    order_currency: 'USD',
    order_description: 'Product',
    card_number: testCard.number,
    card_exp_month: testCard.month,
    card_exp_year: testCard.year,
    card_cvv2: testCard.cvv,
    payer_first_name: 'John',
    payer_last_name: 'Doe',
    payer_address: 'Big street',
    payer_country: 'US',
    payer_state: 'CA',
    payer_city: 'City',
    payer_zip: '123456',
    payer_email: 'doe@example.com',
    payer_phone: '199999999',
    payer_ip: '123.123.123.123',
    term_url_3ds: 'http://client.site.com/return.php',
    ...overrides,
  };
  if (!('hash' in overrides)) {
    fields.hash = saleHash({ email: fields.payer_email, password: merchant.password, cardDigits: cardHashPart(fields.card_number) });
  }
  return fields;
}

/** A signed request on an existing payment (Formula 2), e.g. CAPTURE or GET_TRANS_STATUS. */
export function transactionFields(
  merchant: { clientKey: string; password: string }, action: string, transId: string, extra: Record<string, string> = {},
  card = testCard.number, email = 'doe@example.com',
): Record<string, string> {
  return {
    action, client_key: merchant.clientKey, trans_id: transId, ...extra,
    hash: transactionHash({ email, password: merchant.password, cardDigits: cardHashPart(card) }, transId),
  };
}

export function orderFields(
  merchant: { clientKey: string; password: string }, orderId: string, card = testCard.number, email = 'doe@example.com',
): Record<string, string> {
  return {
    action: 'GET_TRANS_STATUS_BY_ORDER', client_key: merchant.clientKey, order_id: orderId,
    hash: orderHash({ email, password: merchant.password, cardDigits: cardHashPart(card) }, orderId),
  };
}
