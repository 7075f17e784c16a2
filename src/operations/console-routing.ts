import { formatAmount } from '../domain/money.ts';
import {
  defaultCascadeRule,
  headroomsOf,
  windowKeyOf,
  type CascadeRule,
  type LimitHeadroom,
  type RoutingLimit,
} from '../domain/routing.ts';
import { loadMerchantById } from '../storage/merchants.ts';
import { listMappings, listMids, loadExchangeTable, loadLimitUse, type StoredMid } from '../storage/routing.ts';
import type { Actor } from './console-accounts.ts';
import type { PlatformContext } from './context.ts';
import { applyRouting, exportRouting, RoutingInputError } from './manage-routing.ts';
import { circuitStateOfMid, type CircuitState } from './routing.ts';

/**
 * The console's routing pages (issue #12, docs/adr/0086): MIDs, merchant mappings, limits with
 * their headroom, rates — read from the tables routing reads, with the limit windows and
 * headroom of `domain/routing.ts` — and the one change offered, a MID switched on or off,
 * through `applyRouting` like `kassa routing mid disable`. Credentials never leave the vault.
 */

/** One limit now: used and left in its current window (a window with no payment yet: 0 used). */
export interface LimitNow {
  limitId: string;
  window: RoutingLimit['window'];
  currency: string;
  windowKey: string;
  limit: string;
  used: string;
  headroom: string;
  /** Whole per cent used, for the eye; the amounts are exact. */
  usedPercent: number;
}

export interface MidSummary {
  name: string;
  connector: string;
  enabled: boolean;
  circuit: CircuitState;
  currencies: readonly string[];
  exchangeCurrencies: readonly string[];
  settlementCurrency: string;
  brands: readonly string[];
  limits: LimitNow[];
}

export interface MidDetails extends MidSummary {
  paymentTypes: readonly string[];
  actions: readonly string[];
  threeDsMode: string;
  requireDayLimit: boolean;
  /** Its plain settings, with any that looks like a credential shown as `(hidden)`. */
  settings: { name: string; value: string }[];
  /** Secret settings are stored (encrypted); their values are never read here. */
  hasSecretSettings: boolean;
  /** The merchants (client_key) whose mapping lists it, and where. */
  usedBy: { clientKey: string; position: number }[];
}

export interface MappingSummary {
  clientKey: string;
  descriptor: string;
  enabled: boolean;
  paymentMethods: readonly string[];
  /** The MIDs in cascade order, with their state. */
  mids: { name: string; enabled: boolean }[];
  cascade: string;
  requireDayLimit: boolean;
  limits: LimitNow[];
}

export interface RatesView {
  baseCurrency: string | null;
  rates: { from: string; to: string; rate: string }[];
}

/** Settings whose name says credential are shown hidden even though stored plain: a MID's
 * secrets belong in its secret settings, but a mistaken `--setting password=…` must not show. */
const credentialName = /pass|secret|token|credential|private|apikey|api_key|signature/i;

function settingsShown(settings: Record<string, unknown>): { name: string; value: string }[] {
  return Object.entries(settings).map(([name, value]) => ({
    name,
    value: credentialName.test(name) ? '(hidden)' : typeof value === 'string' ? value : JSON.stringify(value),
  }));
}

function limitNowOf(headroom: LimitHeadroom): LimitNow {
  const { limit } = headroom;
  const money = (minor: number) => formatAmount(minor, limit.currency);
  return {
    limitId: limit.limitId,
    window: limit.window,
    currency: limit.currency,
    windowKey: headroom.windowKey,
    limit: money(limit.amountMinor),
    used: money(headroom.usedMinor),
    headroom: money(headroom.headroomMinor),
    usedPercent:
      limit.amountMinor === 0 ? 100 : Math.min(100, Math.floor((headroom.usedMinor * 100) / limit.amountMinor)),
  };
}

/** Every limit's use in its current window, read from the counters routing reserves in. */
async function limitsNow(
  context: Pick<PlatformContext, 'storage' | 'timeZone' | 'clock'>,
  owners: { owner: 'mid' | 'mapping'; ownerId: string; limits: readonly RoutingLimit[] }[],
): Promise<Map<string, LimitNow[]>> {
  const nowMs = context.clock.nowMs();
  const keys = owners.flatMap(({ limits }) =>
    limits.map((limit) => ({ limitId: limit.limitId, windowKey: windowKeyOf(limit.window, nowMs, context.timeZone) })),
  );
  const { use } = await loadLimitUse(context.storage, keys);
  const byOwner = new Map<string, LimitNow[]>();
  for (const { owner, ownerId, limits } of owners) {
    const headrooms = limits.flatMap((limit) =>
      headroomsOf(owner, ownerId, [limit], limit.currency, use, nowMs, context.timeZone),
    );
    byOwner.set(`${owner}:${ownerId}`, headrooms.map(limitNowOf));
  }
  return byOwner;
}

function summaryOf(context: PlatformContext, mid: StoredMid, limits: LimitNow[]): MidSummary {
  return {
    name: mid.name,
    connector: mid.connector,
    enabled: mid.enabled,
    circuit: circuitStateOfMid(context, mid),
    currencies: mid.currencies,
    exchangeCurrencies: mid.exchangeCurrencies ?? [],
    settlementCurrency: mid.settlementCurrency,
    brands: mid.brands,
    limits,
  };
}

/** The page shows at most this many MIDs or mappings (a platform has tens, not thousands). */
export const routingRowsShownMax = 500;

export async function consoleMids(context: PlatformContext): Promise<MidSummary[]> {
  const mids = (await listMids(context.storage)).slice(0, routingRowsShownMax);
  const limits = await limitsNow(
    context,
    mids.map((mid) => ({ owner: 'mid', ownerId: mid.midId, limits: mid.limits })),
  );
  return mids.map((mid) => summaryOf(context, mid, limits.get(`mid:${mid.midId}`) ?? []));
}

export async function consoleMid(context: PlatformContext, name: string): Promise<MidDetails | undefined> {
  const mids = await listMids(context.storage);
  const mid = mids.find((each) => each.name === name);
  if (!mid) return undefined;
  const limits = await limitsNow(context, [{ owner: 'mid', ownerId: mid.midId, limits: mid.limits }]);
  const usedBy: MidDetails['usedBy'] = [];
  for (const mapping of (await listMappings(context.storage)).slice(0, routingRowsShownMax)) {
    const position = mapping.midIds.indexOf(mid.midId);
    if (position < 0) continue;
    const merchant = await loadMerchantById(context.storage, mapping.merchantId);
    if (merchant) usedBy.push({ clientKey: merchant.clientKey, position: position + 1 });
  }
  return {
    ...summaryOf(context, mid, limits.get(`mid:${mid.midId}`) ?? []),
    paymentTypes: mid.paymentTypes,
    actions: mid.actions,
    threeDsMode: mid.threeDsMode,
    requireDayLimit: mid.requireDayLimit,
    settings: settingsShown(mid.settings),
    hasSecretSettings: mid.secretSettingsCiphertext !== null,
    usedBy,
  };
}

function cascadeInWords(rule: CascadeRule): string {
  if (rule.on.length === 0) return 'off';
  const most = rule.maxAttempts === null ? 'every MID' : `at most ${rule.maxAttempts} attempts`;
  return `on ${rule.on.join(', ')}; ${most}`;
}

export async function consoleMappings(context: PlatformContext): Promise<MappingSummary[]> {
  const mappings = (await listMappings(context.storage)).slice(0, routingRowsShownMax);
  const mids = new Map((await listMids(context.storage)).map((mid) => [mid.midId, mid]));
  const limits = await limitsNow(
    context,
    mappings.map((mapping) => ({ owner: 'mapping', ownerId: mapping.mappingId, limits: mapping.limits })),
  );
  const shown: MappingSummary[] = [];
  for (const mapping of mappings) {
    const merchant = await loadMerchantById(context.storage, mapping.merchantId);
    if (!merchant) continue;
    shown.push({
      clientKey: merchant.clientKey,
      descriptor: merchant.descriptor,
      enabled: mapping.enabled,
      paymentMethods: mapping.paymentMethods,
      mids: mapping.midIds.map((midId) => ({
        name: mids.get(midId)?.name ?? midId,
        enabled: mids.get(midId)?.enabled ?? false,
      })),
      cascade: cascadeInWords(mapping.cascade ?? defaultCascadeRule),
      requireDayLimit: mapping.requireDayLimit,
      limits: limits.get(`mapping:${mapping.mappingId}`) ?? [],
    });
  }
  return shown;
}

export async function consoleRates(context: PlatformContext): Promise<RatesView> {
  const table = await loadExchangeTable(context.storage);
  const rates = [...table.rates]
    .map(([key, rate]) => {
      const [from, to] = key.split('>') as [string, string];
      return { from, to, rate };
    })
    .sort((a, b) => `${a.from}${a.to}`.localeCompare(`${b.from}${b.to}`));
  return { baseCurrency: table.baseCurrency, rates };
}

/** A MID switched on or off through the routing document (recorded in `kassa routing history`
 * with the console user as actor); `undefined` when no MID has that name. */
export async function setMidEnabled(
  context: PlatformContext,
  actor: Actor,
  name: string,
  enabled: boolean,
): Promise<{ before: boolean; after: boolean } | undefined> {
  const mid = (await exportRouting(context.storage)).mids.find((each) => each.name === name);
  if (!mid) return undefined;
  const { hasSecretSettings: _stored, ...spec } = mid;
  const verb = enabled ? 'enable' : 'disable';
  try {
    await applyRouting(
      context,
      { mids: [{ ...spec, enabled }], mappings: [] },
      `console:${actor.name}`,
      `mid ${verb} ${name}`,
    );
  } catch (error) {
    // The stored configuration is valid, so only a concurrent change can make it fail here.
    if (error instanceof RoutingInputError) return undefined;
    throw error;
  }
  return { before: mid.enabled, after: enabled };
}
