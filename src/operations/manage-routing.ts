import type { Clock } from '../domain/clock.ts';
import { currencyExponent } from '../domain/currencies.ts';
import { newId } from '../domain/ids.ts';
import { formatAmount, parseAmount } from '../domain/money.ts';
import {
  anyValue,
  knownBrands,
  limitWindows,
  paymentTypes,
  routedActions,
  threeDsModes,
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
}

export interface RoutingDocument {
  mids: MidSpec[];
  mappings: MappingSpec[];
}

/** A configuration that cannot be applied; `problems` lists every one of them. */
export class RoutingInputError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.length === 1 ? problems[0] : `${problems.length} problems:\n  ${problems.join('\n  ')}`);
  }
}

export const connectorTypes = ['test-engine'] as const;
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
    });
  }
  return { mids: mids.map(midSpecOf), mappings };
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

function checkMid(problems: string[], mid: MidSpec): void {
  const where = `MID "${mid.name}"`;
  if (typeof mid.name !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(mid.name)) {
    problems.push(`${where}: a name is 1–64 letters, digits, '.', '_' or '-'`);
  }
  if (!connectorTypes.includes(mid.connector as 'test-engine'))
    problems.push(`${where}: unknown connector "${mid.connector}"`);
  checkList(problems, where, mid.paymentTypes, paymentTypes, 'payment type');
  checkList(problems, where, mid.actions, routedActions, 'action');
  checkList(problems, where, mid.brands, knownBrands, 'brand');
  if (!Array.isArray(mid.currencies) || mid.currencies.some((code) => code !== anyValue && !isCurrency(code))) {
    problems.push(`${where}: currencies must be ISO 4217 codes Kassa knows, or *`);
  }
  if (!isCurrency(mid.settlementCurrency))
    problems.push(`${where}: the settlement currency is not a currency Kassa knows`);
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
  return merchant;
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
    });
  }
  const change: RoutingChange = { changeId: newId(nowMs), actor, subject, detail: redacted(document), nowMs };
  await writeRoutingChange(storage, write, [change]);
  return { changes: write.mids.length + write.mappings.length, document: await exportRouting(storage) };
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
