import type { Clock } from '../domain/clock.ts';
import { parameterSets } from '../domain/parameter-sets.ts';
import { pairKey, parseRate, quoteExchange, type ExchangeTable } from '../domain/exchange.ts';
import { currencyExponent } from '../domain/currencies.ts';
import { newId } from '../domain/ids.ts';
import { formatAmount, parseAmount } from '../domain/money.ts';
import {
  anyValue,
  cascadeAttemptsCeiling,
  cascadeDeclines,
  defaultCascadeRule,
  knownBrands,
  limitWindows,
  paymentTypes,
  routedActions,
  threeDsModes,
  type CascadeDecline,
  type CascadeRule,
  type LimitWindow,
  type MappingConfig,
  type RoutingLimit,
  type ThreeDsMode,
} from '../domain/routing.ts';
import type { Vault } from '../security/vault.ts';
import type { Storage } from '../storage/database.ts';
import { loadMerchantByClientKey, loadMerchantById } from '../storage/merchants.ts';
import {
  listMappings,
  listMids,
  listRoutingChanges,
  loadExchangeTable,
  writeRoutingChange,
  type RoutingChange,
  type StoredMid,
} from '../storage/routing.ts';

/**
 * The operator's routing configuration as one document (ADR 0052): every CLI command and the
 * routing file go through it. A change is the current document edited, validated whole (every
 * problem listed) and written in one transaction with its change-log entry, or not at all.
 */

/** A limit as people write it: an amount in the currency's major units, `0` allowed. */
export interface LimitSpec {
  window: string;
  currency: string;
  amount: string;
}

export interface MidSpec {
  name: string;
  connector: string;
  settings: Record<string, unknown>;
  /** Input only: encrypted at rest, never exported or printed. Absent: keep what is stored. */
  secretSettings?: Record<string, string>;
  /** Output only: whether secret settings are stored. */
  hasSecretSettings?: boolean;
  paymentTypes: string[];
  actions: string[];
  brands: string[];
  currencies: string[];
  /** Currencies taken by exchange into the settlement currency (ADR 0054); absent: none. */
  exchangeCurrencies?: string[];
  settlementCurrency: string;
  threeDsMode: string;
  requireDayLimit: boolean;
  enabled: boolean;
  limits: LimitSpec[];
}

export interface MappingSpec {
  /** The merchant's client_key. */
  merchant: string;
  mids: string[];
  paymentMethods: string[];
  enabled: boolean;
  requireDayLimit: boolean;
  limits: LimitSpec[];
  /** When a decline goes on to the next MID (ADR 0053). Absent on input: keep what is stored. */
  cascade?: CascadeSpec;
}

/** A cascade rule as written: the declines that cascade (empty: off) and at most how many
 * attempts in all (absent or null: every MID of the mapping). */
export interface CascadeSpec {
  on: string[];
  maxAttempts?: number | null;
}

/** The operator's exchange rates (ADR 0054): each pair's rate (`null` removes it) and the base
 * currency of double conversion. Absent on input: keep what is stored; a pair not named stays. */
export interface ExchangeSpec {
  baseCurrency?: string | null;
  rates?: { from: string; to: string; rate: string | null }[];
}

export interface RoutingDocument {
  mids: MidSpec[];
  mappings: MappingSpec[];
  exchange?: ExchangeSpec;
}

/** A configuration that cannot be applied; `problems` lists every one of them. */
export class RoutingInputError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.length === 1 ? problems[0] : `${problems.length} problems:\n  ${problems.join('\n  ')}`);
  }
}

export const connectorTypes = ['test-engine', 'upstream-s2s-card'] as const;
/** Payment methods a mapping can name; S2S CARD payments are `card`. */
export const knownPaymentMethods = ['card', 'apple-pay', 'google-pay'] as const;

export interface RoutingDependencies {
  storage: Storage;
  vault: Vault;
  clock: Clock;
}

function limitSpecOf(limit: RoutingLimit): LimitSpec {
  return { window: limit.window, currency: limit.currency, amount: formatAmount(limit.amountMinor, limit.currency) };
}

function midSpecOf(mid: StoredMid): MidSpec {
  return {
    name: mid.name,
    connector: mid.connector,
    settings: mid.settings,
    hasSecretSettings: mid.secretSettingsCiphertext !== null,
    paymentTypes: [...mid.paymentTypes],
    actions: [...mid.actions],
    brands: [...mid.brands],
    currencies: [...mid.currencies],
    exchangeCurrencies: [...(mid.exchangeCurrencies ?? [])],
    settlementCurrency: mid.settlementCurrency,
    threeDsMode: mid.threeDsMode,
    requireDayLimit: mid.requireDayLimit,
    enabled: mid.enabled,
    limits: mid.limits.map(limitSpecOf),
  };
}

/** The configuration as stored, as a document: `kassa routing export`. Secrets are left out. */
export async function exportRouting(storage: Storage): Promise<RoutingDocument> {
  const mids = await listMids(storage);
  const names = new Map(mids.map((mid) => [mid.midId, mid.name]));
  const mappings: MappingSpec[] = [];
  for (const mapping of await listMappings(storage)) {
    const merchant = await loadMerchantById(storage, mapping.merchantId);
    if (!merchant) continue;
    mappings.push({
      merchant: merchant.clientKey,
      mids: mapping.midIds.map((midId) => names.get(midId) ?? midId),
      paymentMethods: [...mapping.paymentMethods],
      enabled: mapping.enabled,
      requireDayLimit: mapping.requireDayLimit,
      limits: mapping.limits.map(limitSpecOf),
      cascade: cascadeSpecOf(mapping.cascade ?? defaultCascadeRule),
    });
  }
  const table = await loadExchangeTable(storage);
  const rates = [...table.rates].map(([key, rate]) => {
    const [from, to] = key.split('>') as [string, string];
    return { from, to, rate };
  });
  return { mids: mids.map(midSpecOf), mappings, exchange: { baseCurrency: table.baseCurrency, rates } };
}

function cascadeSpecOf(rule: CascadeRule): CascadeSpec {
  return { on: [...rule.on], maxAttempts: rule.maxAttempts };
}

function checkCascade(problems: string[], where: string, cascade: CascadeSpec | undefined): void {
  if (cascade === undefined) return;
  if (typeof cascade !== 'object' || cascade === null || !Array.isArray(cascade.on)) {
    problems.push(`${where}: cascade is { "on": [declines], "maxAttempts": N }`);
    return;
  }
  for (const decline of cascade.on) {
    if (!cascadeDeclines.includes(decline as CascadeDecline))
      problems.push(`${where}: cascade on unknown decline "${decline}" (known: ${cascadeDeclines.join(', ')})`);
  }
  const most = cascade.maxAttempts;
  if (most !== undefined && most !== null && !(Number.isInteger(most) && most >= 1 && most <= cascadeAttemptsCeiling)) {
    problems.push(`${where}: cascade maxAttempts must be a whole number from 1 to ${cascadeAttemptsCeiling}`);
  }
}

function checkList(problems: string[], where: string, values: unknown, allowed: readonly string[], what: string): void {
  if (!Array.isArray(values) || values.some((value) => typeof value !== 'string')) {
    problems.push(`${where}: ${what} must be a list of texts`);
    return;
  }
  for (const value of values as string[]) {
    if (value !== anyValue && !allowed.includes(value))
      problems.push(`${where}: unknown ${what} "${value}" (known: ${allowed.join(', ')}, or *)`);
  }
}

function isCurrency(code: unknown): boolean {
  return typeof code === 'string' && currencyExponent(code) !== undefined;
}

function checkLimits(problems: string[], where: string, limits: unknown): void {
  if (!Array.isArray(limits)) {
    problems.push(`${where}: limits must be a list`);
    return;
  }
  const seen = new Set<string>();
  for (const limit of limits as LimitSpec[]) {
    const at = `${where} limit ${limit?.window ?? '?'} ${limit?.currency ?? '?'}`;
    if (!limitWindows.includes(limit?.window as LimitWindow))
      problems.push(`${at}: the window must be day, week or month`);
    if (!isCurrency(limit?.currency)) problems.push(`${at}: not a currency Kassa knows`);
    else if (limitAmountMinor(limit.amount, limit.currency) === undefined) {
      problems.push(
        String(limit.amount).trim().startsWith('-')
          ? `${at}: a limit cannot be below zero (${limit.amount})`
          : `${at}: not an amount in ${limit.currency}: ${limit.amount}`,
      );
    }
    if (seen.has(`${limit?.window}|${limit?.currency}`)) problems.push(`${at}: given twice`);
    seen.add(`${limit?.window}|${limit?.currency}`);
  }
}

/** `0` (nothing allowed) or a positive amount, in minor units. */
export function limitAmountMinor(text: unknown, currency: string): number | undefined {
  if (typeof text !== 'string') return undefined;
  if (/^0+(\.0+)?$/.test(text)) return 0;
  const parsed = parseAmount(text, currency);
  return parsed.ok ? parsed.amountMinor : undefined;
}

/** An upstream S2S CARD MID (README "Upstream S2S CARD connector"): its base URL and CLIENT_KEY
 * in the settings, its PASSWORD in the secret settings (encrypted at rest, never printed). */
function checkUpstreamSettings(problems: string[], where: string, mid: MidSpec): void {
  const settings = (mid.settings ?? {}) as Record<string, unknown>;
  let url: URL | undefined;
  try {
    url = typeof settings.baseUrl === 'string' ? new URL(settings.baseUrl) : undefined;
  } catch {
    url = undefined;
  }
  if (!url || !['http:', 'https:'].includes(url.protocol)) {
    problems.push(`${where}: settings.baseUrl must be an http(s) URL`);
  }
  if (typeof settings.clientKey !== 'string' || settings.clientKey.length === 0) {
    problems.push(`${where}: settings.clientKey is required`);
  }
  const failures = settings.breakerFailures === undefined ? undefined : Number(settings.breakerFailures);
  if (failures !== undefined && !(Number.isInteger(failures) && failures >= 1 && failures <= 1_000)) {
    problems.push(`${where}: settings.breakerFailures must be a whole number from 1 to 1000`);
  }
  for (const name of ['connectTimeoutMs', 'answerTimeoutMs', 'breakerOpenMs'] as const) {
    const value = settings[name] === undefined ? undefined : Number(settings[name]);
    if (value !== undefined && !(Number.isInteger(value) && value > 0 && value <= 120_000)) {
      problems.push(`${where}: settings.${name} must be a whole number of milliseconds from 1 to 120000`);
    }
  }
}

function checkMid(problems: string[], mid: MidSpec): void {
  const where = `MID "${mid.name}"`;
  if (typeof mid.name !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(mid.name)) {
    problems.push(`${where}: a name is 1–64 letters, digits, '.', '_' or '-'`);
  }
  if (!connectorTypes.includes(mid.connector as 'test-engine'))
    problems.push(`${where}: unknown connector "${mid.connector}"`);
  if (mid.connector === 'upstream-s2s-card') checkUpstreamSettings(problems, where, mid);
  const sets = mid.settings?.parameterSets;
  if (sets !== undefined && (!Array.isArray(sets) || sets.some((set) => !(String(set) in parameterSets)))) {
    const known = Object.keys(parameterSets).join(', ');
    problems.push(`${where}: settings.parameterSets must list Appendix C sets (${known})`);
  }
  checkList(problems, where, mid.paymentTypes, paymentTypes, 'payment type');
  checkList(problems, where, mid.actions, routedActions, 'action');
  checkList(problems, where, mid.brands, knownBrands, 'brand');
  if (!Array.isArray(mid.currencies) || mid.currencies.some((code) => code !== anyValue && !isCurrency(code))) {
    problems.push(`${where}: currencies must be ISO 4217 codes Kassa knows, or *`);
  }
  if (!isCurrency(mid.settlementCurrency))
    problems.push(`${where}: the settlement currency is not a currency Kassa knows`);
  const exchanged = mid.exchangeCurrencies ?? [];
  if (!Array.isArray(exchanged) || exchanged.some((code) => code !== anyValue && !isCurrency(code))) {
    problems.push(`${where}: exchange currencies must be ISO 4217 codes Kassa knows, or *`);
  }
  if (!threeDsModes.includes(mid.threeDsMode as ThreeDsMode))
    problems.push(`${where}: 3-D Secure mode must be merchant, always or never`);
  checkLimits(problems, where, mid.limits);
}

async function checkMapping(problems: string[], storage: Storage, mapping: MappingSpec, midNames: Set<string>) {
  const where = `mapping of merchant ${mapping.merchant}`;
  const merchant =
    typeof mapping.merchant === 'string'
      ? await loadMerchantByClientKey(storage, mapping.merchant.toLowerCase())
      : undefined;
  if (!merchant) problems.push(`${where}: no merchant has this client_key`);
  if (!Array.isArray(mapping.mids)) problems.push(`${where}: mids must be a list of MID names`);
  else {
    for (const name of mapping.mids) if (!midNames.has(name)) problems.push(`${where}: unknown MID "${name}"`);
    const repeated = mapping.mids.filter((name, index) => mapping.mids.indexOf(name) !== index);
    if (repeated.length > 0)
      problems.push(`${where}: MID "${repeated[0]}" is listed twice (a cascade cannot return to a MID)`);
  }
  checkList(problems, where, mapping.paymentMethods, knownPaymentMethods, 'payment method');
  if ((mapping.paymentMethods ?? []).includes(anyValue)) problems.push(`${where}: payment methods are named, not *`);
  checkLimits(problems, where, mapping.limits);
  checkCascade(problems, where, mapping.cascade);
  return merchant;
}

/** The rates and base currency once the document's exchange section is applied. */
function exchangeAfter(stored: ExchangeTable, spec: ExchangeSpec | undefined): ExchangeTable {
  const rates = new Map(stored.rates);
  for (const { from, to, rate } of spec?.rates ?? []) {
    if (rate === null) rates.delete(pairKey(from, to));
    else rates.set(pairKey(from, to), String(rate).trim());
  }
  const baseCurrency = spec?.baseCurrency === undefined ? stored.baseCurrency : spec.baseCurrency;
  return { baseCurrency, rates };
}

function checkExchange(problems: string[], spec: ExchangeSpec | undefined): void {
  if (spec === undefined) return;
  const base = spec.baseCurrency;
  if (base !== undefined && base !== null && !isCurrency(base))
    problems.push(`exchange: the base currency "${base}" is not a currency Kassa knows`);
  if (spec.rates !== undefined && !Array.isArray(spec.rates)) {
    problems.push('exchange: rates must be a list of { from, to, rate }');
    return;
  }
  for (const rate of spec.rates ?? []) {
    const where = `exchange rate ${rate?.from ?? '?'}→${rate?.to ?? '?'}`;
    if (!isCurrency(rate?.from) || !isCurrency(rate?.to)) problems.push(`${where}: not currencies Kassa knows`);
    else if (rate.from === rate.to) problems.push(`${where}: a rate needs two different currencies`);
    if (rate?.rate !== null && parseRate(rate?.rate) === undefined) {
      problems.push(`${where}: a rate is a positive decimal with at most 10 digits after the point (${rate?.rate})`);
    }
  }
}

/** A MID naming a currency it takes by exchange needs a rate (direct or through the base). */
function checkRatesOfMids(problems: string[], mids: readonly MidSpec[], exchange: ExchangeTable): void {
  for (const mid of mids) {
    for (const code of mid.exchangeCurrencies ?? []) {
      if (code === anyValue || !isCurrency(code) || !isCurrency(mid.settlementCurrency)) continue;
      if (code !== mid.settlementCurrency && !quoteExchange(exchange, 1, code, mid.settlementCurrency)) {
        const to = mid.settlementCurrency;
        problems.push(`MID "${mid.name}": takes ${code} by exchange, but no rate leads from ${code} to ${to}`);
      }
    }
  }
}

/** Every problem of a document, or none. */
export async function problemsOf(storage: Storage, document: RoutingDocument): Promise<string[]> {
  const problems: string[] = [];
  if (!document || !Array.isArray(document.mids) || !Array.isArray(document.mappings)) {
    return ['a routing file is a JSON object with "mids" and "mappings" lists'];
  }
  const names = new Set<string>();
  for (const mid of document.mids) {
    checkMid(problems, mid);
    if (names.has(mid.name)) problems.push(`MID "${mid.name}": defined twice`);
    names.add(mid.name);
  }
  const stored = await listMids(storage);
  for (const mid of stored) names.add(mid.name);
  checkExchange(problems, document.exchange);
  if (problems.length === 0) {
    const exchange = exchangeAfter(await loadExchangeTable(storage), document.exchange);
    const named = new Set(document.mids.map((mid) => mid.name));
    const others = stored.map(midSpecOf).filter((mid) => !named.has(mid.name));
    checkRatesOfMids(problems, [...document.mids, ...others], exchange);
  }
  const merchants = new Set<string>();
  for (const mapping of document.mappings) {
    await checkMapping(problems, storage, mapping, names);
    if (merchants.has(String(mapping.merchant).toLowerCase()))
      problems.push(`mapping of merchant ${mapping.merchant}: defined twice`);
    merchants.add(String(mapping.merchant).toLowerCase());
  }
  return problems;
}

export interface AppliedRouting {
  changes: number;
  document: RoutingDocument;
}

/**
 * Makes the stored configuration what the document says for every MID and mapping it names
 * (others are left as they are; nothing is deleted: payments keep naming their MID). Refused
 * whole, with every problem, when anything is wrong. Payments already routed keep their MID.
 */
export async function applyRouting(
  dependencies: RoutingDependencies,
  document: RoutingDocument,
  actor: string,
  subject = 'routing apply',
): Promise<AppliedRouting> {
  const problems = await problemsOf(dependencies.storage, document);
  if (problems.length > 0) throw new RoutingInputError(problems);
  const { storage, vault, clock } = dependencies;
  const nowMs = clock.nowMs();
  const stored = await listMids(storage);
  const byName = new Map(stored.map((mid) => [mid.name, mid]));
  const write = {
    mids: [] as StoredMid[],
    mappings: [] as MappingConfig[],
    limits: [] as LimitRow[],
    removedLimitIds: [] as string[],
    nowMs,
  };
  for (const spec of document.mids) {
    const existing = byName.get(spec.name);
    const midId = existing?.midId ?? `mid_${newId(nowMs)}`;
    const secretSettingsCiphertext =
      spec.secretSettings !== undefined
        ? Object.keys(spec.secretSettings).length > 0
          ? vault.encrypt(JSON.stringify(spec.secretSettings))
          : null
        : (existing?.secretSettingsCiphertext ?? null);
    const limits = limitsOf('mid', midId, spec.limits, existing?.limits ?? [], write, nowMs);
    const mid: StoredMid = {
      midId,
      name: spec.name,
      connector: spec.connector,
      enabled: spec.enabled,
      paymentTypes: spec.paymentTypes,
      actions: spec.actions,
      brands: spec.brands,
      currencies: spec.currencies,
      exchangeCurrencies: spec.exchangeCurrencies ?? existing?.exchangeCurrencies ?? [],
      settlementCurrency: spec.settlementCurrency,
      threeDsMode: spec.threeDsMode as ThreeDsMode,
      requireDayLimit: spec.requireDayLimit,
      limits,
      settings: spec.settings ?? {},
      secretSettingsCiphertext,
      updatedAtMs: nowMs,
    };
    write.mids.push(mid);
    byName.set(mid.name, mid);
  }
  const storedMappings = await listMappings(storage);
  for (const spec of document.mappings) {
    const merchant = (await loadMerchantByClientKey(storage, spec.merchant.toLowerCase()))!;
    const existing = storedMappings.find((mapping) => mapping.merchantId === merchant.merchantId);
    const mappingId = existing?.mappingId ?? `map_${merchant.merchantId}`;
    write.mappings.push({
      mappingId,
      merchantId: merchant.merchantId,
      enabled: spec.enabled,
      paymentMethods: spec.paymentMethods,
      midIds: spec.mids.map((name) => byName.get(name)!.midId),
      requireDayLimit: spec.requireDayLimit,
      limits: limitsOf('mapping', mappingId, spec.limits, existing?.limits ?? [], write, nowMs),
      ...cascadeOf(spec.cascade, existing?.cascade),
    });
  }
  const change: RoutingChange = { changeId: newId(nowMs), actor, subject, detail: redacted(document), nowMs };
  await writeRoutingChange(storage, { ...write, ...exchangeWrite(document.exchange, nowMs) }, [change]);
  return { changes: write.mids.length + write.mappings.length, document: await exportRouting(storage) };
}

/** A document's cascade rule, or the stored one when it names none. */
function cascadeOf(spec: CascadeSpec | undefined, stored: CascadeRule | undefined): { cascade?: CascadeRule } {
  if (spec === undefined) return stored ? { cascade: stored } : {};
  return { cascade: { on: spec.on as CascadeDecline[], maxAttempts: spec.maxAttempts ?? null } };
}

/** The document's rates as new history rows (the newest row of a pair is its rate). */
function exchangeWrite(spec: ExchangeSpec | undefined, nowMs: number) {
  if (spec === undefined) return {};
  return {
    rates: (spec.rates ?? []).map((rate) => ({
      rateId: newId(nowMs), from: rate.from, to: rate.to, rate: rate.rate === null ? null : String(rate.rate).trim(),
    })),
    ...(spec.baseCurrency !== undefined ? { baseCurrency: spec.baseCurrency } : {}),
  };
}

interface LimitRow {
  owner: 'mid' | 'mapping';
  ownerId: string;
  limit: RoutingLimit;
}

/** A limit keeps its id (and so its counters) while its window and currency stay. */
function limitsOf(
  owner: 'mid' | 'mapping',
  ownerId: string,
  specs: LimitSpec[],
  existing: readonly RoutingLimit[],
  write: { limits: LimitRow[]; removedLimitIds: string[] },
  nowMs: number,
): RoutingLimit[] {
  const limits = specs.map((spec) => {
    const kept = existing.find((limit) => limit.window === spec.window && limit.currency === spec.currency);
    const limit: RoutingLimit = {
      limitId: kept?.limitId ?? `lim_${newId(nowMs)}`,
      window: spec.window as LimitWindow,
      currency: spec.currency,
      amountMinor: limitAmountMinor(spec.amount, spec.currency)!,
    };
    write.limits.push({ owner, ownerId, limit });
    return limit;
  });
  for (const limit of existing) {
    if (!limits.some((each) => each.limitId === limit.limitId)) write.removedLimitIds.push(limit.limitId);
  }
  return limits;
}

/** The change log keeps what changed, never a secret's value. */
function redacted(document: RoutingDocument): Record<string, unknown> {
  return {
    mids: document.mids.map(({ secretSettings, ...mid }) => ({
      ...mid,
      ...(secretSettings ? { secretSettings: Object.keys(secretSettings).map((key) => `${key}=(secret)`) } : {}),
    })),
    mappings: document.mappings,
    ...(document.exchange ? { exchange: document.exchange } : {}),
  };
}

export async function routingHistory(storage: Storage, limit: number) {
  return listRoutingChanges(storage, limit);
}

/** A new MID's defaults: the test engine, accepting everything, 3-D Secure as the merchant's. */
export function newMidSpec(name: string): MidSpec {
  return {
    name,
    connector: 'test-engine',
    settings: {},
    paymentTypes: [anyValue],
    actions: [anyValue],
    brands: [anyValue],
    currencies: [anyValue],
    settlementCurrency: 'USD',
    threeDsMode: 'merchant',
    requireDayLimit: false,
    enabled: true,
    limits: [],
  };
}
