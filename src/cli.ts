import { BackupError, backupCommand, backupUsage, restoreCommand } from './cli-backup.ts';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { PaymentsInputError, paymentsCommand } from './cli-payments.ts';
import { LogsInputError, logsCommand } from './cli-logs.ts';
import { TriggerInputError, triggerCommand, triggerUsage } from './cli-trigger.ts';
import { CommanderError, kassaProgram, quietly, type ParsedCommand } from './cli-program.ts';
import { configFromEnvironment, type KassaConfig } from './config.ts';
import { HashInputError, hashCommand, hashUsage } from './cli-hash.ts';
import { ListenInputError, listenCommand, listenOptions, listenUsage } from './cli-listen.ts';
import { LockoutInputError, lockoutsCommand, lockoutsOptions, lockoutsUsage } from './cli-lockouts.ts';
import {
  reconciliationCommand, reconciliationOptions, reconciliationUsage, ResolveInputError,
} from './cli-reconciliation.ts';
import { RoutingInputError, routingCommand, routingUsage, type RoutingCliContext } from './cli-routing.ts';
import { OperatorInputError, operatorCommand, operatorOptions, operatorUsage } from './cli-operator.ts';
import {
  auditCliCommand, consoleAreas, consoleCommand, ConsoleInputError, consoleOptions, consoleUsage,
} from './cli-console.ts';
import { systemClock, type Clock } from './domain/clock.ts';
import { platformClock } from './platform-context.ts';
import {
  blockedUrls,
  CallbackInputError,
  callbacksAsText,
  findCallbacks,
  resendCallback,
  unblockUrl,
} from './operations/manage-callbacks.ts';
import {
  allMerchants,
  createMerchant,
  describeMerchant,
  importMerchant,
  MerchantInputError,
  updateMerchant,
} from './operations/manage-merchants.ts';
import type { MerchantSettings } from './storage/merchants.ts';
import {
  RefundApplicationError,
  refundApplicationsCommand,
  refundApplicationsUsage,
} from './cli-refund-applications.ts';
import type { Storage } from './storage/database.ts';
import { openVault } from './security/vault.ts';
import { openStorage, sqliteFilePath, StorageSetupError } from './storage/database.ts';

/** Where the CLI writes and what it runs on: the real process in `cli-process.ts`, a test's
 * buffers and fixed clock in the suite (no process spawned per command). */
export interface CliIo {
  stdout(text: string): void;
  stderr(text: string): void;
  environment: NodeJS.ProcessEnv;
  /** The time before any sandbox offset; the system clock unless a test hands its own. */
  clock?: Clock;
}

/** A setup mistake (no database where one was expected): printed as is, exit code 2. */
export class CliSetupError extends Error {}

const usage = `kassa — operator command line (uses the same KASSA_DATA_DIR / DATABASE_URL as the server)

  kassa merchant create --email EMAIL [--callback-url URL] [--allow-ip IP|CIDR ...]
                        [--channel ID ...] [--three-ds on|off] [--s2s-card on|off]
                        [--descriptor TEXT] [--json]
  kassa merchant import --client-key KEY --password-file FILE --email EMAIL [same options as create]
                        keeps a CLIENT_KEY and PASSWORD from another platform of the family
  kassa merchant update --client-key KEY [same options as create]
  kassa merchant list [--json]
  Hash mode (create, import, update): [--hash-mode md5|sha256] — SHA-256 signs every formula
    with sha256 instead of md5, requests and callbacks alike (5.6.x); md5 by default
  Unknown outcomes (create, import, update): [--unknown-result success|undefined] — a SALE-like
    answer whose bank outcome is not known yet says SUCCESS (5.2.0, default) or UNDEFINED (5.6.x),
    with status PREPARE either way
  Hosted payment page and refund applications (create and update):
    [--frame-origin https://shop.example ...] [--refund-days N] [--holiday YYYY-MM-DD ...]

${refundApplicationsUsage}

  kassa callbacks list [--trans-id ID] [--status pending|delivered|failed] [--limit N] [--json]
  kassa callbacks resend --outbox-id ID      queue a callback again now (delivered or failed too)
  kassa callbacks blocked [--json]           URLs blocked after 5 consecutive failures
  kassa callbacks unblock --url URL          lift a URL's block at once

${operatorUsage}

${lockoutsUsage}
${backupUsage}

${reconciliationUsage}

${routingUsage}

${hashUsage}

${listenUsage}

${triggerUsage}

  kassa payments list [--trans-id ID] [--order-id ID] [--card DIGITS] [--status S] [--client-key KEY]
                      [--amount 1.99] [--from YYYY-MM-DD] [--to YYYY-MM-DD] [--after CURSOR] [--json]
  kassa logs tail [--client-key KEY] [--errors] [--since 10m] [--json] [--max-count N] [--for-ms MS]
                         sandbox: merchants' API requests as they are answered, errors included
  kassa payments show TRANS_ID [--json]   the console's payment search and page, in a terminal

${consoleUsage}

  --init                 create the database and key in KASSA_DATA_DIR if there are none yet
                         (without it the CLI refuses a data directory with no Kassa database)

Defaults: --allow-ip 127.0.0.1 and ::1 (a local sandbox), --s2s-card on, --three-ds on when
--callback-url is given (a merchant with 3-D Secure must have a callback URL) and off otherwise.
The PASSWORD is generated (32 random characters) and shown once, by create.`;

const merchantOptions = {
  email: { type: 'string' },
  'callback-url': { type: 'string' },
  'allow-ip': { type: 'string', multiple: true },
  channel: { type: 'string', multiple: true },
  'three-ds': { type: 'string' },
  's2s-card': { type: 'string' },
  descriptor: { type: 'string' },
  'client-key': { type: 'string' },
  'password-file': { type: 'string' },
  'hash-mode': { type: 'string' },
  'unknown-result': { type: 'string' },
  check: { type: 'string' },
  ...listenOptions,
  'trans-id': { type: 'string' },
  status: { type: 'string' },
  limit: { type: 'string' },
  'outbox-id': { type: 'string' },
  ...operatorOptions,
  ...consoleOptions,
  ip: lockoutsOptions.ip,
  ...reconciliationOptions,
  url: { type: 'string' },
  'frame-origin': { type: 'string', multiple: true },
  'refund-days': { type: 'string' },
  holiday: { type: 'string', multiple: true },
  'application-id': { type: 'string' },
  note: { type: 'string' },
  overdue: { type: 'boolean' },
  json: { type: 'boolean' },
  init: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

function onOff(value: string | undefined, name: string): boolean | undefined {
  if (value === undefined) return undefined;
  if (value === 'on' || value === 'yes' || value === 'true') return true;
  if (value === 'off' || value === 'no' || value === 'false') return false;
  throw new MerchantInputError(`--${name} takes on or off`);
}

function print(io: CliIo, value: unknown, asJson: boolean): void {
  if (asJson) {
    io.stdout(`${JSON.stringify(value)}\n`);
    return;
  }
  const rows = Array.isArray(value) ? value : [value];
  for (const row of rows) {
    for (const [key, field] of Object.entries(row as Record<string, unknown>)) {
      io.stdout(`${key.padEnd(14)} ${Array.isArray(field) ? field.join(', ') : String(field)}\n`);
    }
    io.stdout('\n');
  }
}

type ParsedValues = ReturnType<
  typeof parseArgs<{ args: string[]; options: typeof merchantOptions; allowPositionals: true; strict: true }>
>['values'];

/** `kassa callbacks …`: thin, the use cases are in operations/manage-callbacks.ts. */
async function callbacksCommand(
  io: CliIo,
  verb: string,
  values: ParsedValues,
  storage: Storage,
  clock: Clock,
): Promise<number> {
  const asJson = values.json === true;
  const dependencies = { storage, clock };
  if (verb === 'list') {
    const limit = values.limit === undefined ? undefined : Number(values.limit);
    const callbacks = await findCallbacks(storage, { transId: values['trans-id'], state: values.status, limit });
    io.stdout(asJson ? `${JSON.stringify(callbacks)}\n` : callbacksAsText(callbacks));
    return 0;
  }
  if (verb === 'resend') {
    if (!values['outbox-id']) throw new CallbackInputError('--outbox-id is required');
    const callback = await resendCallback(dependencies, values['outbox-id']);
    io.stdout(asJson ? `${JSON.stringify(callback)}\n` : callbacksAsText([callback]));
    return 0;
  }
  if (verb === 'unblock') {
    if (!values.url) throw new CallbackInputError('--url is required');
    print(io, await unblockUrl(dependencies, values.url), asJson);
    return 0;
  }
  if (verb === 'blocked') {
    const rows = await blockedUrls(dependencies);
    if (!asJson && rows.length === 0) io.stdout('no blocked URLs\n');
    else print(io, rows, asJson);
    return 0;
  }
  io.stdout(`${usage}\n`);
  return 2;
}

function merchantSettingsOf(values: ParsedValues) {
  return {
    email: values.email,
    callbackUrl: values['callback-url'],
    allowedIps: values['allow-ip'],
    channels: values.channel,
    threeDsEnabled: onOff(values['three-ds'], 'three-ds'),
    s2sCardEnabled: onOff(values['s2s-card'], 's2s-card'),
    descriptor: values.descriptor,
    frameOrigins: values['frame-origin'],
    refundDays: values['refund-days'] === undefined ? undefined : Number(values['refund-days']),
    holidays: values.holiday,
    hashDigest: hashModeOf(values['hash-mode']),
    unknownResult: unknownResultOf(values['unknown-result']),
  };
}

function unknownResultOf(value: string | undefined): 'success' | 'undefined' | undefined {
  if (value === undefined || value === 'success' || value === 'undefined') return value;
  throw new MerchantInputError('--unknown-result takes success or undefined');
}

function hashModeOf(value: string | undefined): 'md5' | 'sha256' | undefined {
  if (value === undefined || value === 'md5' || value === 'sha256') return value;
  throw new MerchantInputError('--hash-mode takes md5 or sha256');
}

/** A new merchant's settings: what was given, defaults for the rest. */
function newMerchantSettings(settings: ReturnType<typeof merchantSettingsOf> & { email: string }): MerchantSettings {
  return {
    email: settings.email,
    callbackUrl: settings.callbackUrl ?? null,
    allowedIps: settings.allowedIps ?? ['127.0.0.1', '::1'],
    channels: settings.channels ?? [],
    // 3-D Secure needs a callback URL (the spec): on by default only when one is given.
    threeDsEnabled: settings.threeDsEnabled ?? Boolean(settings.callbackUrl),
    s2sCardEnabled: settings.s2sCardEnabled ?? true,
    descriptor: settings.descriptor ?? 'KASSA',
    frameOrigins: settings.frameOrigins,
    refundDays: settings.refundDays,
    holidays: settings.holidays,
    hashDigest: settings.hashDigest,
    unknownResult: settings.unknownResult,
  };
}

/** `--client-key` and the PASSWORD from `--password-file` (a secret never goes on the command
 * line, where ps and shell history keep it); one trailing newline is not part of it. */
function importedCredentials(values: ParsedValues): { clientKey: string; password: string } {
  if (!values['client-key']) throw new MerchantInputError('--client-key is required');
  const file = values['password-file'];
  if (!file) throw new MerchantInputError('--password-file is required (a file holding the PASSWORD)');
  let password: string;
  try {
    password = readFileSync(file, 'utf8').replace(/\r?\n$/, '');
  } catch {
    throw new MerchantInputError(`cannot read --password-file ${file}`);
  }
  return { clientKey: values['client-key'], password };
}

/** `kassa merchant …`: thin over operations/manage-merchants.ts. */
async function merchantCommand(
  io: CliIo,
  verb: string,
  values: ParsedValues,
  config: KassaConfig,
  storage: Storage,
  clock: Clock,
): Promise<number> {
  const asJson = values.json === true;
  const settings = merchantSettingsOf(values);
  if (verb === 'create' || verb === 'import') {
    if (!settings.email) throw new MerchantInputError('--email is required');
    const vault = openVault({
      secretKey: config.secretKey,
      previousSecretKeys: config.previousSecretKeys,
      dataDirectory: config.dataDirectory,
    });
    const dependencies = { storage, vault, clock };
    const newSettings = newMerchantSettings({ ...settings, email: settings.email });
    if (verb === 'import') {
      const { merchant } = await importMerchant(dependencies, newSettings, importedCredentials(values));
      // The PASSWORD is the merchant's own: never printed back.
      print(io, describeMerchant(merchant), asJson);
      return 0;
    }
    const { merchant, password } = await createMerchant(dependencies, newSettings);
    print(io, { ...describeMerchant(merchant), password }, asJson);
    return 0;
  }
  if (verb === 'update') {
    if (!values['client-key']) throw new MerchantInputError('--client-key is required');
    const defined = Object.fromEntries(Object.entries(settings).filter(([, value]) => value !== undefined));
    print(io, describeMerchant(await updateMerchant({ storage, clock }, values['client-key'], defined)), asJson);
    return 0;
  }
  if (verb === 'list') {
    print(io, (await allMerchants(storage)).map(describeMerchant), asJson);
    return 0;
  }
  io.stdout(`${usage}\n`);
  return 2;
}

/**
 * A mistyped KASSA_DATA_DIR must not quietly become a second, empty platform with a new key:
 * on SQLite the CLI opens only a data directory that already holds a Kassa database (and its
 * key, unless KASSA_SECRET_KEY is set), or creates one when told to with `--init`.
 */
function refuseMissingDataDirectory(config: KassaConfig, initialise: boolean): void {
  if (config.databaseUrl || initialise) return;
  const databaseFile = sqliteFilePath(config.dataDirectory);
  if (!existsSync(databaseFile)) {
    throw new CliSetupError(
      `no Kassa database in ${config.dataDirectory} (KASSA_DATA_DIR). `
        + "Point KASSA_DATA_DIR at the server's data directory, or pass --init to create a new one there.",
    );
  }
  if (!config.secretKey && !existsSync(join(config.dataDirectory, 'secret.key'))) {
    throw new CliSetupError(
      `${config.dataDirectory} has a database but no secret.key, and KASSA_SECRET_KEY is not set: `
        + 'without the key nothing stored can be decrypted. Restore secret.key or set KASSA_SECRET_KEY.',
    );
  }
}

/** A setting the server would refuse at start is the caller's mistake here too. */
function settingsOf(environment: NodeJS.ProcessEnv): KassaConfig {
  try {
    return configFromEnvironment(environment);
  } catch (error) {
    throw new CliSetupError((error as Error).message);
  }
}

/** Runs `work` on the platform's storage, vault and clock (the server's time), then closes. */
async function withPlatform<T>(
  io: CliIo, initialise: boolean, work: (context: RoutingCliContext) => Promise<T>,
): Promise<T> {
  const config = settingsOf(io.environment);
  refuseMissingDataDirectory(config, initialise);
  const storage = await openStorage({
    databaseUrl: config.databaseUrl, dataDirectory: config.dataDirectory, postgresSchema: config.postgresSchema,
  });
  const vault = openVault({
    secretKey: config.secretKey, previousSecretKeys: config.previousSecretKeys, dataDirectory: config.dataDirectory,
  });
  const clock = await platformClock(config, storage, io.clock ?? systemClock);
  try {
    return await work({ storage, vault, clock, timeZone: config.timeZone });
  } finally {
    if ('close' in clock && typeof clock.close === 'function') await clock.close();
    await storage.close();
  }
}

/** `kassa routing` commands that change the configuration (routing has its own history too). */
function routingChanges(argv: string[]): boolean {
  return !argv.includes('--dry-run') && !argv.includes('--help')
    && ['create', 'set', 'disable', 'apply', 'base'].some((verb) => argv.slice(1, 3).includes(verb));
}

/** Secrets given on the command line (`--secret KEY=VALUE`) never reach the audit log. */
function maskedArguments(argv: string[]): string {
  return argv
    .map((argument, index) => (argv[index - 1] === '--secret' ? `${argument.split('=')[0]}=***` : argument))
    .join(' ');
}

/**
 * The command line parsed by the command tree (cli-program.ts): the command, or the exit status
 * when there is nothing to run — 0 after --help or --version (printed on stdout), 2 for an
 * unknown command, an unknown option or a missing value (said on stderr as `kassa: …`; an
 * unknown or missing command also prints the overview on stdout, as before).
 */
function parseCommand(io: CliIo, argv: string[]): ParsedCommand | number {
  let parsed: ParsedCommand | undefined;
  const program = kassaProgram((command) => {
    parsed = command;
  });
  quietly(program, { out: io.stdout });
  try {
    program.parse(argv, { from: 'user' });
  } catch (error) {
    if (!(error instanceof CommanderError)) throw error;
    if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version') return 0;
    if (error.code === 'commander.help' || error.code === 'commander.unknownCommand') {
      io.stdout(`${usage}\n`);
      if (error.code === 'commander.help') return 2;
    }
    io.stderr(`kassa: ${error.message.replace(/^error: /, '')}\n`);
    return 2;
  }
  if (!parsed) {
    io.stdout(`${usage}\n`);
    return 2;
  }
  return parsed;
}

async function dispatch(io: CliIo, argv: string[]): Promise<number> {
  // `kassa routing …` parses its own options (cli-routing.ts).
  if (argv[0] === 'routing') {
    const code = await routingCommand(io, argv.slice(1), (work) => withPlatform(io, argv.includes('--init'), work));
    if (code === 0 && routingChanges(argv)) {
      await withPlatform(io, false, ({ storage, clock }) => auditCliCommand(storage, clock, io.environment, {
        area: 'routing', verb: argv.slice(1, 3).join(' '), values: { arguments: maskedArguments(argv.slice(1)) },
      }));
    }
    return code;
  }
  const parsed = parseCommand(io, argv);
  if (typeof parsed === 'number') return parsed;
  const { area, rest } = parsed;
  const verb = parsed.verb ?? '';
  const values = parsed.values as ParsedValues;
  // Offline: no settings, no database.
  if (area === 'hash') {
    return hashCommand(io, verb, rest, {
      passwordFile: values['password-file'], hashMode: values['hash-mode'], check: values.check,
    });
  }
  if (area === 'backup' || area === 'restore') {
    const config = settingsOf(io.environment);
    await (area === 'backup' ? backupCommand : restoreCommand)(config, verb, io.stdout);
    return 0;
  }
  const positionals = [area, verb, ...rest];
  const config = settingsOf(io.environment);
  refuseMissingDataDirectory(config, values.init === true);
  const storage = await openStorage({
    databaseUrl: config.databaseUrl,
    dataDirectory: config.dataDirectory,
    postgresSchema: config.postgresSchema,
  });
  // --init makes the key with the database (the vault writes secret.key when none is given).
  if (values.init === true)
    openVault({
      secretKey: config.secretKey,
      previousSecretKeys: config.previousSecretKeys,
      dataDirectory: config.dataDirectory,
    });
  // Every command runs on the server's time: the sandbox clock with its stored offset.
  const clock = await platformClock(config, storage, io.clock ?? systemClock);
  try {
    const code = await runCommand(io, { area, verb, argument: positionals[2] }, values, config, storage, clock);
    // Every change made with the CLI goes to the audit log, as the console's do (cli-console.ts).
    const command = { area, verb, argument: positionals[2], values };
    if (code === 0) await auditCliCommand(storage, clock, io.environment, command);
    return code;
  } finally {
    if ('close' in clock && typeof clock.close === 'function') await clock.close();
    await storage.close();
  }
}

async function runCommand(
  io: CliIo, command: { area: string; verb: string; argument?: string }, values: ParsedValues,
  config: KassaConfig, storage: Storage, clock: Clock,
): Promise<number> {
  const { area, verb } = command;
  if (area === 'callbacks') return callbacksCommand(io, verb, values, storage, clock);
  if (area === 'logs') {
    const sandbox = config.mode === 'sandbox';
    return logsCommand(io, verb, values, { storage, clock, timeZone: config.timeZone, sandbox });
  }
  if (area === 'trigger') return triggerCommand(io, verb, values, config, storage);
  if (area === 'payments') {
    return paymentsCommand(io, verb, command.argument, values, { storage, timeZone: config.timeZone });
  }
  if (area === 'refund-applications') return refundApplicationsCommand(io, verb, values, config, storage);
  if (area === 'lockouts') return lockoutsCommand(verb, values, storage, io);
  if (area === 'reconciliation') return reconciliationCommand(io, verb, values, config, storage);
  if (area === 'listen') {
    const vault = openVault({
      secretKey: config.secretKey, previousSecretKeys: config.previousSecretKeys, dataDirectory: config.dataDirectory,
    });
    return listenCommand(io, values, { storage, vault, clock, timeZone: config.timeZone });
  }
  if (area === 'clock' || area === 'chargeback') {
    return operatorCommand(io, area, verb, command.argument, values, config, storage);
  }
  if ((consoleAreas as readonly string[]).includes(area)) return consoleCommand(io, area, verb, values, storage, clock);
  return merchantCommand(io, verb, values, config, storage, clock);
}

const knownErrors = [
  ConsoleInputError,
  MerchantInputError,
  CallbackInputError,
  RefundApplicationError,
  OperatorInputError,
  LockoutInputError,
  HashInputError,
  ListenInputError,
  ResolveInputError,
  RoutingInputError,
  CliSetupError,
  StorageSetupError,
  BackupError,
  PaymentsInputError,
  TriggerInputError,
  LogsInputError,
];

/** Runs one CLI command and answers its exit status: 0 done, 2 a mistake of the caller (message
 * on stderr, no stack trace), 1 anything unexpected. */
export async function runCli(argv: string[], io: CliIo): Promise<number> {
  try {
    return await dispatch(io, argv);
  } catch (error) {
    const known =
      knownErrors.some((kind) => error instanceof kind)
      || String((error as { code?: string }).code ?? '').startsWith('ERR_PARSE_ARGS_');
    io.stderr(`kassa: ${known ? (error as Error).message : `unexpected failure: ${(error as Error).message}`}\n`);
    return known ? 2 : 1;
  }
}
