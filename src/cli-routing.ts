import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import {
  applyRouting,
  exportRouting,
  newMidSpec,
  problemsOf,
  routingHistory,
  RoutingInputError,
  type CascadeSpec,
  type ExchangeSpec,
  type LimitSpec,
  type MappingSpec,
  type MidSpec,
  type RoutingDependencies,
  type RoutingDocument,
} from './operations/manage-routing.ts';
import { askRoute, type RouteQuestionField } from './operations/explain-route.ts';
import type { RouteExplanation } from './operations/routing.ts';

/**
 * `kassa routing …` (ADR 0052). Each command is a function of (dependencies, values) so it can
 * be wired to another argument parser; `routingCommand` is the hook cli.ts calls.
 */
export const routingUsage = `  kassa routing mid create --name NAME [MID options]      a MID (acquirer account)
  kassa routing mid set --name NAME [MID options]         change a MID
  kassa routing mid disable --name NAME                   switch a MID off (payments keep it)
  kassa routing mid list [--json]
    MID options: [--connector test-engine] [--setting KEY=VALUE ...] [--secret KEY=VALUE ...]
      [--payment-types purchase,authorization,payout,transfer|*] [--actions SALE,DEBIT,…|*]
      [--brands VISA,MASTERCARD,…|*] [--currencies USD,EUR|*] [--settlement-currency USD]
      [--exchange-currencies GBP,JPY|*]   taken by exchange into the settlement currency
      [--three-ds merchant|always|never] [--require-day-limit yes|no] [--enabled yes|no]
      (an empty list, e.g. --brands '', accepts nothing; test-engine settings:
       declineEverything=true, recordPrepare=true; any MID: parameterSets='["BNG"]' needs
       Appendix C sets BNG, FCP or TWD)
  kassa routing mapping set --client-key KEY [--mids NAME,NAME] [--payment-methods card]
                            [--enabled yes|no] [--require-day-limit yes|no]
                            [--cascade-on do-not-honor,insufficient-funds,expired,…|none]
                            [--cascade-max N|all]   which declines go on to the next MID, and
                            at most how many attempts (default: do-not-honor, every MID)
  kassa routing mapping list [--client-key KEY] [--json]
  kassa routing limit set (--mid NAME | --client-key KEY) --window day|week|month --currency USD
                          --amount 100.00|none                  a turnover limit (none removes it)
  kassa routing rates set --from USD --to EUR --rate 0.923456|none   an exchange rate (none removes it)
  kassa routing rates base --currency USD|none   the base currency of double conversion
  kassa routing rates list [--json]
  kassa routing explain --client-key KEY (--brand VISA | --card-bin 411111) --currency USD --amount 10.00
                        [--action SALE] [--auth] [--at 2026-11-23T10:00:00Z] [--json]
  kassa routing apply FILE [--dry-run]   make the configuration what a routing file (JSON) says
  kassa routing export                   the configuration as a routing file (secrets left out)
  kassa routing history [--limit N]      who changed what, when
  Changes are recorded with --actor NAME (default: $KASSA_OPERATOR, else $USER).`;

const routingOptions = {
  name: { type: 'string' },
  connector: { type: 'string' },
  setting: { type: 'string', multiple: true },
  secret: { type: 'string', multiple: true },
  'payment-types': { type: 'string' },
  actions: { type: 'string' },
  brands: { type: 'string' },
  currencies: { type: 'string' },
  'settlement-currency': { type: 'string' },
  'exchange-currencies': { type: 'string' },
  from: { type: 'string' },
  to: { type: 'string' },
  rate: { type: 'string' },
  'three-ds': { type: 'string' },
  'require-day-limit': { type: 'string' },
  enabled: { type: 'string' },
  'client-key': { type: 'string' },
  mids: { type: 'string' },
  'payment-methods': { type: 'string' },
  'cascade-on': { type: 'string' },
  'cascade-max': { type: 'string' },
  mid: { type: 'string' },
  window: { type: 'string' },
  currency: { type: 'string' },
  amount: { type: 'string' },
  brand: { type: 'string' },
  'card-bin': { type: 'string' },
  action: { type: 'string' },
  auth: { type: 'boolean' },
  at: { type: 'string' },
  'dry-run': { type: 'boolean' },
  limit: { type: 'string' },
  actor: { type: 'string' },
  json: { type: 'boolean' },
  init: { type: 'boolean' },
} as const;

type RoutingValues = ReturnType<
  typeof parseArgs<{ args: string[]; options: typeof routingOptions; allowPositionals: true; strict: true }>
>['values'];

export interface RoutingIo {
  stdout(text: string): void;
  environment: NodeJS.ProcessEnv;
}

export interface RoutingCliContext extends RoutingDependencies {
  timeZone: string;
}

export { RoutingInputError };

function listOf(text: string | undefined): string[] | undefined {
  if (text === undefined) return undefined;
  return text
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');
}

function yesNo(text: string | undefined, name: string): boolean | undefined {
  if (text === undefined) return undefined;
  if (['yes', 'on', 'true'].includes(text)) return true;
  if (['no', 'off', 'false'].includes(text)) return false;
  throw new RoutingInputError([`--${name} takes yes or no`]);
}

function pairsOf(items: string[] | undefined, name: string): Record<string, string> | undefined {
  if (items === undefined) return undefined;
  const pairs: Record<string, string> = {};
  for (const item of items) {
    const at = item.indexOf('=');
    if (at <= 0)
      throw new RoutingInputError([`--${name} takes KEY=VALUE, not "${name === 'secret' ? '(hidden)' : item}"`]);
    pairs[item.slice(0, at)] = item.slice(at + 1);
  }
  return pairs;
}

/** Settings are JSON values when they parse as such (true, 3), else text. */
function settingsOf(items: string[] | undefined): Record<string, unknown> | undefined {
  const pairs = pairsOf(items, 'setting');
  if (!pairs) return undefined;
  return Object.fromEntries(
    Object.entries(pairs).map(([key, text]) => {
      try {
        return [key, JSON.parse(text)];
      } catch {
        return [key, text];
      }
    }),
  );
}

function withMidOptions(mid: MidSpec, values: RoutingValues): MidSpec {
  const settings = settingsOf(values.setting);
  const secrets = pairsOf(values.secret, 'secret');
  const changed: MidSpec = { ...mid, settings: settings ? { ...mid.settings, ...settings } : mid.settings };
  if (secrets) changed.secretSettings = secrets;
  changed.connector = values.connector ?? mid.connector;
  changed.paymentTypes = listOf(values['payment-types']) ?? mid.paymentTypes;
  changed.actions = listOf(values.actions) ?? mid.actions;
  changed.brands = listOf(values.brands) ?? mid.brands;
  changed.currencies = listOf(values.currencies) ?? mid.currencies;
  changed.settlementCurrency = values['settlement-currency'] ?? mid.settlementCurrency;
  changed.exchangeCurrencies = listOf(values['exchange-currencies']) ?? mid.exchangeCurrencies ?? [];
  changed.threeDsMode = values['three-ds'] ?? mid.threeDsMode;
  changed.requireDayLimit = yesNo(values['require-day-limit'], 'require-day-limit') ?? mid.requireDayLimit;
  changed.enabled = yesNo(values.enabled, 'enabled') ?? mid.enabled;
  return changed;
}

function actorOf(io: RoutingIo, values: RoutingValues): string {
  return values.actor ?? io.environment.KASSA_OPERATOR ?? io.environment.USER ?? 'unknown';
}

function required<T>(value: T | undefined, name: string): T {
  if (value === undefined || value === '') throw new RoutingInputError([`--${name} is required`]);
  return value;
}

export async function midCommand(context: RoutingCliContext, verb: string, values: RoutingValues, actor: string) {
  const current = await exportRouting(context.storage);
  if (verb === 'list') return current.mids;
  const name = required(values.name, 'name');
  const existing = current.mids.find((mid) => mid.name === name);
  if (verb === 'create' && existing) throw new RoutingInputError([`a MID named "${name}" exists: use mid set`]);
  if (verb !== 'create' && !existing) throw new RoutingInputError([`no MID is named "${name}"`]);
  const mid =
    verb === 'disable' ? { ...existing!, enabled: false } : withMidOptions(existing ?? newMidSpec(name), values);
  const applied = await applyRouting(context, { mids: [mid], mappings: [] }, actor, `mid ${verb} ${name}`);
  return applied.document.mids.find((each) => each.name === name);
}

export async function mappingCommand(context: RoutingCliContext, verb: string, values: RoutingValues, actor: string) {
  const current = await exportRouting(context.storage);
  const clientKey = values['client-key']?.toLowerCase();
  if (verb === 'list') return current.mappings.filter((mapping) => !clientKey || mapping.merchant === clientKey);
  if (verb !== 'set') throw new RoutingInputError([`unknown command: mapping ${verb}`]);
  const key = required(clientKey, 'client-key');
  const existing = current.mappings.find((mapping) => mapping.merchant === key) ?? {
    merchant: key,
    mids: [],
    paymentMethods: ['card'],
    enabled: true,
    requireDayLimit: false,
    limits: [],
  };
  const mapping: MappingSpec = {
    ...existing,
    cascade: cascadeOptions(existing.cascade, values),
    mids: listOf(values.mids) ?? existing.mids,
    paymentMethods: listOf(values['payment-methods']) ?? existing.paymentMethods,
    enabled: yesNo(values.enabled, 'enabled') ?? existing.enabled,
    requireDayLimit: yesNo(values['require-day-limit'], 'require-day-limit') ?? existing.requireDayLimit,
  };
  const applied = await applyRouting(context, { mids: [], mappings: [mapping] }, actor, `mapping set ${key}`);
  return applied.document.mappings.find((each) => each.merchant === key);
}

/** `--cascade-on` and `--cascade-max` applied to a mapping's rule (`none`: cascading off). */
function cascadeOptions(cascade: CascadeSpec | undefined, values: RoutingValues): CascadeSpec | undefined {
  const on = values['cascade-on'] === 'none' ? [] : listOf(values['cascade-on']);
  const maxText = values['cascade-max'];
  if (on === undefined && maxText === undefined) return cascade;
  const base = cascade ?? { on: ['do-not-honor'], maxAttempts: null };
  const maxAttempts = maxText === undefined ? base.maxAttempts : maxText === 'all' ? null : Number(maxText);
  if (maxAttempts !== null && maxAttempts !== undefined && Number.isNaN(maxAttempts)) {
    throw new RoutingInputError(['--cascade-max takes a whole number or all']);
  }
  return { on: on ?? base.on, maxAttempts: maxAttempts ?? null };
}

/** `limit set`: one limit of a MID or a mapping added, changed, or removed (`--amount none`). */
export async function limitCommand(context: RoutingCliContext, verb: string, values: RoutingValues, actor: string) {
  if (verb !== 'set') throw new RoutingInputError([`unknown command: limit ${verb}`]);
  const window = required(values.window, 'window');
  const currency = required(values.currency, 'currency');
  const amount = required(values.amount, 'amount');
  const edit = (limits: LimitSpec[]) => {
    const others = limits.filter((limit) => !(limit.window === window && limit.currency === currency));
    return amount === 'none' ? others : [...others, { window, currency, amount }];
  };
  const current = await exportRouting(context.storage);
  if (values.mid !== undefined) {
    const mid = current.mids.find((each) => each.name === values.mid);
    if (!mid) throw new RoutingInputError([`no MID is named "${values.mid}"`]);
    const document: RoutingDocument = { mids: [{ ...mid, limits: edit(mid.limits) }], mappings: [] };
    return (await applyRouting(context, document, actor, `limit set mid ${mid.name}`)).document.mids.find(
      (each) => each.name === mid.name,
    );
  }
  const key = required(values['client-key'], 'client-key (or --mid)').toLowerCase();
  const mapping = current.mappings.find((each) => each.merchant === key);
  if (!mapping) throw new RoutingInputError([`merchant ${key} has no mapping`]);
  const document: RoutingDocument = { mids: [], mappings: [{ ...mapping, limits: edit(mapping.limits) }] };
  return (await applyRouting(context, document, actor, `limit set mapping ${key}`)).document.mappings.find(
    (each) => each.merchant === key,
  );
}

/** `rates set|base|list` (ADR 0054): one rate or the base currency changed, through the document. */
export async function ratesCommand(context: RoutingCliContext, verb: string, values: RoutingValues, actor: string) {
  const list = async () => (await exportRouting(context.storage)).exchange;
  if (verb === 'list') return list();
  let exchange: ExchangeSpec;
  if (verb === 'set') {
    const rate = required(values.rate, 'rate');
    exchange = {
      rates: [
        { from: required(values.from, 'from'), to: required(values.to, 'to'), rate: rate === 'none' ? null : rate },
      ],
    };
  } else if (verb === 'base') {
    const currency = required(values.currency, 'currency');
    exchange = { baseCurrency: currency === 'none' ? null : currency };
  } else {
    throw new RoutingInputError([`unknown command: rates ${verb}`]);
  }
  await applyRouting(context, { mids: [], mappings: [], exchange }, actor, `rates ${verb}`);
  return list();
}

function ratesAsText(exchange: ExchangeSpec | undefined): string {
  const lines = [`base currency: ${exchange?.baseCurrency ?? '(none)'}`];
  for (const rate of exchange?.rates ?? []) lines.push(`${rate.from} → ${rate.to}  ${rate.rate}`);
  return `${lines.join('\n')}\n`;
}

/** The CLI's names of `askRoute`'s fields (the console names them in its form). */
const explainOptionNames: Record<RouteQuestionField, string> = {
  clientKey: 'client-key',
  brand: 'brand',
  cardBin: 'card-bin',
  currency: 'currency',
  amount: 'amount',
  action: 'action',
  at: 'at',
};

export async function explainCommand(context: RoutingCliContext, values: RoutingValues): Promise<RouteExplanation> {
  const answer = await askRoute(context, {
    clientKey: values['client-key'],
    brand: values.brand,
    cardBin: values['card-bin'],
    currency: values.currency,
    amount: values.amount,
    action: values.action,
    auth: values.auth === true,
    at: values.at,
  });
  if (answer.ok) return answer.explanation;
  throw new RoutingInputError(
    answer.problems.map((problem) =>
      problem.field === 'clientKey' && problem.message !== 'is required'
        ? problem.message
        : `--${explainOptionNames[problem.field]}: ${problem.message}`),
  );
}

function explanationAsText(explanation: RouteExplanation): string {
  const lines = [explanation.chosen ? `chosen: ${explanation.chosen}` : `refused: ${explanation.refusal}`];
  if (explanation.exchange) lines.push(`  by exchange: ${explanation.exchange}`);
  for (const limit of explanation.mappingLimits) lines.push(`  mapping limit ${limit}`);
  for (const mid of explanation.mids) {
    lines.push(`  ${mid.name}: ${mid.verdict}`);
    for (const limit of mid.limits) lines.push(`    limit ${limit}`);
  }
  if (explanation.cascadeOrder.length > 0) {
    lines.push(`cascade order: ${explanation.cascadeOrder.join(' → ')} (cascade ${explanation.cascadeRule})`);
  }
  return `${lines.join('\n')}\n`;
}

const limitsText = (limits: LimitSpec[]) =>
  limits.length === 0
    ? 'no limits'
    : limits.map((limit) => `${limit.window} ${limit.amount} ${limit.currency}`).join(', ');
const listText = (values: string[]) => (values.length === 0 ? '(none)' : values.join(','));

/** One line per MID, for people (`--json` for programs); secrets show only as `secrets: set`. */
function midsAsText(mids: MidSpec[]): string {
  return mids
    .map((mid) =>
      [
        mid.name,
        mid.enabled ? 'enabled' : 'DISABLED',
        mid.connector,
        `types ${listText(mid.paymentTypes)}`,
        `actions ${listText(mid.actions)}`,
        `brands ${listText(mid.brands)}`,
        `currencies ${listText(mid.currencies)}`,
        ...((mid.exchangeCurrencies ?? []).length > 0 ? [`by exchange ${listText(mid.exchangeCurrencies!)}`] : []),
        `settles ${mid.settlementCurrency}`,
        `3-D Secure ${mid.threeDsMode}`,
        limitsText(mid.limits),
        ...(mid.requireDayLimit ? ['day limit required'] : []),
        ...(Object.keys(mid.settings).length > 0 ? [`settings ${JSON.stringify(mid.settings)}`] : []),
        ...(mid.hasSecretSettings ? ['secrets: set'] : []),
      ].join('  '),
    )
    .join('\n')
    .concat('\n');
}

function cascadeText(cascade: CascadeSpec | undefined): string {
  if (!cascade || cascade.on.length === 0) return 'no cascade';
  const most = cascade.maxAttempts ? `, at most ${cascade.maxAttempts} attempts` : '';
  return `cascade on ${cascade.on.join(',')}${most}`;
}

function mappingsAsText(mappings: MappingSpec[]): string {
  return mappings
    .map((mapping) =>
      [
        mapping.merchant,
        mapping.enabled ? 'enabled' : 'DISABLED',
        `MIDs ${mapping.mids.join(' → ') || '(none)'}`,
        `methods ${listText(mapping.paymentMethods)}`,
        limitsText(mapping.limits),
        ...(mapping.requireDayLimit ? ['day limit required'] : []),
        cascadeText(mapping.cascade),
      ].join('  '),
    )
    .join('\n')
    .concat('\n');
}

function printed(io: RoutingIo, value: unknown, asJson: boolean): void {
  if (asJson || typeof value !== 'string') io.stdout(`${JSON.stringify(value, null, asJson ? undefined : 2)}\n`);
  else io.stdout(value);
}

/** The hook cli.ts calls with everything after `routing`; `open` gives the platform's storage,
 * vault and clock and closes them after. Answers the exit status. */
export async function routingCommand(
  io: RoutingIo,
  argv: string[],
  open: <T>(work: (context: RoutingCliContext) => Promise<T>) => Promise<T>,
): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: routingOptions,
    allowPositionals: true,
    strict: true,
  });
  const [area, verb] = positionals;
  const asJson = values.json === true;
  const actor = actorOf(io, values);
  const answer = (produce: (context: RoutingCliContext) => Promise<unknown>, json = asJson) =>
    open(async (context) => {
      printed(io, await produce(context), json);
      return 0;
    });
  if (area === 'mid' && verb === 'list' && !asJson) {
    return answer(async (context) => midsAsText((await midCommand(context, verb, values, actor)) as MidSpec[]));
  }
  if (area === 'mid' && verb) return answer((context) => midCommand(context, verb, values, actor));
  if (area === 'mapping' && verb === 'list' && !asJson) {
    return answer(async (context) =>
      mappingsAsText((await mappingCommand(context, verb, values, actor)) as MappingSpec[]),
    );
  }
  if (area === 'mapping' && verb) return answer((context) => mappingCommand(context, verb, values, actor));
  if (area === 'limit' && verb) return answer((context) => limitCommand(context, verb, values, actor));
  if (area === 'rates' && verb) {
    return answer(async (context) => {
      const exchange = await ratesCommand(context, verb, values, actor);
      return asJson ? exchange : ratesAsText(exchange);
    });
  }
  if (area === 'explain') {
    return answer(async (context) => {
      const explanation = await explainCommand(context, values);
      return asJson ? explanation : explanationAsText(explanation);
    });
  }
  if (area === 'export') return answer((context) => exportRouting(context.storage), false);
  if (area === 'history') {
    const limit = values.limit === undefined ? 50 : Number(values.limit);
    return answer(async (context) => {
      const changes = await routingHistory(context.storage, limit);
      if (asJson) return changes;
      const lines = changes.map(
        (change) => `${new Date(change.createdAtMs).toISOString()}  ${change.actor}  ${change.subject}`,
      );
      return `${lines.join('\n')}\n`;
    });
  }
  if (area === 'apply' && verb) return open((context) => applyFile(io, context, verb, values, actor));
  io.stdout(`${routingUsage}\n`);
  return 2;
}

async function applyFile(
  io: RoutingIo,
  context: RoutingCliContext,
  path: string,
  values: RoutingValues,
  actor: string,
) {
  let document: RoutingDocument;
  try {
    document = JSON.parse(readFileSync(path, 'utf8')) as RoutingDocument;
  } catch (error) {
    throw new RoutingInputError([`${path}: not a readable JSON file (${(error as Error).message})`]);
  }
  if (values['dry-run']) {
    const problems = await problemsOf(context.storage, document);
    if (problems.length > 0) throw new RoutingInputError(problems);
    io.stdout(`${path}: valid, nothing applied (--dry-run)\n`);
    return 0;
  }
  const applied = await applyRouting(context, document, actor, `routing apply ${path}`);
  io.stdout(`${path}: applied (${applied.changes} MIDs and mappings)\n`);
  return 0;
}
