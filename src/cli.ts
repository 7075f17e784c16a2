import { parseArgs } from 'node:util';
import { configFromEnvironment } from './config.ts';
import { operatorCommand, operatorOptions, operatorUsage } from './cli-operator.ts';
import { systemClock } from './domain/clock.ts';
import {
  blockedUrls, CallbackInputError, callbacksAsText, findCallbacks, resendCallback, unblockUrl,
} from './operations/manage-callbacks.ts';
import { allMerchants, createMerchant, describeMerchant, MerchantInputError, updateMerchant } from './operations/manage-merchants.ts';
import { RefundApplicationError, refundApplicationsCommand, refundApplicationsUsage } from './cli-refund-applications.ts';
import type { Storage } from './storage/database.ts';
import { openVault } from './security/vault.ts';
import { openStorage } from './storage/database.ts';

const usage = `kassa — operator command line (uses the same KASSA_DATA_DIR / DATABASE_URL as the server)

  kassa merchant create --email EMAIL [--callback-url URL] [--allow-ip IP|CIDR ...]
                        [--channel ID ...] [--three-ds on|off] [--s2s-card on|off]
                        [--descriptor TEXT] [--json]
  kassa merchant update --client-key KEY [same options as create]
  kassa merchant list [--json]
  Hosted payment page and refund applications (create and update):
    [--frame-origin https://shop.example ...] [--refund-days N] [--holiday YYYY-MM-DD ...]

${refundApplicationsUsage}

  kassa callbacks list [--trans-id ID] [--status pending|delivered|failed] [--limit N] [--json]
  kassa callbacks resend --outbox-id ID      queue a callback again now (delivered or failed too)
  kassa callbacks blocked [--json]           URLs blocked after 5 consecutive failures
  kassa callbacks unblock --url URL          lift a URL's block at once

${operatorUsage}

Defaults: --allow-ip 127.0.0.1 and ::1 (a local sandbox), --three-ds on, --s2s-card on.
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
  'trans-id': { type: 'string' },
  status: { type: 'string' },
  limit: { type: 'string' },
  'outbox-id': { type: 'string' },
  ...operatorOptions,
  url: { type: 'string' },
  'frame-origin': { type: 'string', multiple: true },
  'refund-days': { type: 'string' },
  holiday: { type: 'string', multiple: true },
  'application-id': { type: 'string' },
  note: { type: 'string' },
  overdue: { type: 'boolean' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

function onOff(value: string | undefined, name: string): boolean | undefined {
  if (value === undefined) return undefined;
  if (value === 'on' || value === 'yes' || value === 'true') return true;
  if (value === 'off' || value === 'no' || value === 'false') return false;
  throw new MerchantInputError(`--${name} takes on or off`);
}

function print(value: unknown, asJson: boolean): void {
  if (asJson) {
    process.stdout.write(`${JSON.stringify(value)}\n`);
    return;
  }
  const rows = Array.isArray(value) ? value : [value];
  for (const row of rows) {
    for (const [key, field] of Object.entries(row as Record<string, unknown>)) {
      process.stdout.write(`${key.padEnd(14)} ${Array.isArray(field) ? field.join(', ') : String(field)}\n`);
    }
    process.stdout.write('\n');
  }
}

type ParsedValues = ReturnType<typeof parseArgs<{ args: string[]; options: typeof merchantOptions; allowPositionals: true; strict: true }>>['values'];

/** `kassa callbacks …`: thin, the use cases are in operations/manage-callbacks.ts. */
async function callbacksCommand(verb: string, values: ParsedValues, storage: Storage): Promise<number> {
  const asJson = values.json === true;
  const dependencies = { storage, clock: systemClock };
  if (verb === 'list') {
    const limit = values.limit === undefined ? undefined : Number(values.limit);
    const callbacks = await findCallbacks(storage, { transId: values['trans-id'], state: values.status, limit });
    if (asJson) process.stdout.write(`${JSON.stringify(callbacks)}\n`);
    else process.stdout.write(callbacksAsText(callbacks));
    return 0;
  }
  if (verb === 'resend') {
    if (!values['outbox-id']) throw new CallbackInputError('--outbox-id is required');
    const callback = await resendCallback(dependencies, values['outbox-id']);
    if (asJson) process.stdout.write(`${JSON.stringify(callback)}\n`);
    else process.stdout.write(callbacksAsText([callback]));
    return 0;
  }
  if (verb === 'unblock') {
    if (!values.url) throw new CallbackInputError('--url is required');
    print(await unblockUrl(dependencies, values.url), asJson);
    return 0;
  }
  if (verb === 'blocked') {
    const rows = await blockedUrls(dependencies);
    if (!asJson && rows.length === 0) process.stdout.write('no blocked URLs\n');
    else print(rows, asJson);
    return 0;
  }
  process.stdout.write(`${usage}\n`);
  return 2;
}

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, options: merchantOptions, allowPositionals: true, strict: true });
  const [area, verb] = positionals;
  if (values.help || (area !== 'merchant' && area !== 'callbacks' && area !== 'refund-applications'
    && area !== 'clock' && area !== 'chargeback') || !verb) {
    process.stdout.write(`${usage}\n`);
    return values.help ? 0 : 2;
  }
  const config = configFromEnvironment();
  const storage = await openStorage({ databaseUrl: config.databaseUrl, dataDirectory: config.dataDirectory, postgresSchema: config.postgresSchema });
  try {
    // Callbacks need no keys: the hash is computed by the dispatcher when it sends.
    if (area === 'callbacks') return await callbacksCommand(verb, values, storage);
    if (area === 'refund-applications') return await refundApplicationsCommand(verb, values, config, storage);
    if (area === 'clock' || area === 'chargeback') return await operatorCommand(area, verb, positionals[2], values, config, storage);
    const vault = openVault({ secretKey: config.secretKey, previousSecretKeys: config.previousSecretKeys, dataDirectory: config.dataDirectory });
    const asJson = values.json === true;
    const settings = {
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
    };
    if (verb === 'create') {
      if (!settings.email) throw new MerchantInputError('--email is required');
      const { merchant, password } = await createMerchant({ storage, vault, clock: systemClock }, {
        email: settings.email,
        callbackUrl: settings.callbackUrl ?? null,
        allowedIps: settings.allowedIps ?? ['127.0.0.1', '::1'],
        channels: settings.channels ?? [],
        threeDsEnabled: settings.threeDsEnabled ?? true,
        s2sCardEnabled: settings.s2sCardEnabled ?? true,
        descriptor: settings.descriptor ?? 'KASSA',
        frameOrigins: settings.frameOrigins, refundDays: settings.refundDays, holidays: settings.holidays,
      });
      print({ ...describeMerchant(merchant), password }, asJson);
      return 0;
    }
    if (verb === 'update') {
      if (!values['client-key']) throw new MerchantInputError('--client-key is required');
      const defined = Object.fromEntries(Object.entries(settings).filter(([, value]) => value !== undefined));
      print(describeMerchant(await updateMerchant({ storage, clock: systemClock }, values['client-key'], defined)), asJson);
      return 0;
    }
    if (verb === 'list') {
      print((await allMerchants(storage)).map(describeMerchant), asJson);
      return 0;
    }
    process.stdout.write(`${usage}\n`);
    return 2;
  } finally {
    await storage.close();
  }
}

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (error: Error) => {
    const known = error instanceof MerchantInputError || error instanceof CallbackInputError || error instanceof RefundApplicationError
      || (error as { code?: string }).code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION';
    process.stderr.write(`kassa: ${known ? error.message : `unexpected failure: ${error.message}`}\n`);
    process.exitCode = known ? 2 : 1;
  },
);
