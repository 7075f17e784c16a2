import type { CardBrand } from './card.ts';
import { financialDay } from './dates.ts';
import { noExchange, quoteExchange, type ExchangeQuote, type ExchangeTable } from './exchange.ts';

/**
 * Routing (ADR 0050): which MID of a merchant mapping takes a payment, or the spec's 2040xx
 * reason none can. Pure: the configuration, the payment and each limit's use so far come in;
 * a typed decision goes out, with the verdict on every MID (what `kassa routing explain` shows).
 */

/** The kinds of money movement a MID may accept. SALE with auth=Y is an authorization. */
export const paymentTypes = ['purchase', 'authorization', 'payout', 'transfer'] as const;
export type PaymentType = (typeof paymentTypes)[number];

/** The request actions that start a payment and so are routed. */
export const routedActions = ['SALE', 'RECURRING_SALE', 'DEBIT', 'CREDIT2CARD', 'CARD2CARD'] as const;
export type RoutedAction = (typeof routedActions)[number];

export const paymentMethods = ['card'] as const;
export const knownBrands: readonly CardBrand[] = [
  'VISA',
  'MASTERCARD',
  'MIR',
  'UNIONPAY',
  'AMEX',
  'JCB',
  'DISCOVER',
  'MAESTRO',
];
export const limitWindows = ['day', 'week', 'month'] as const;
export type LimitWindow = (typeof limitWindows)[number];
export const threeDsModes = ['merchant', 'always', 'never'] as const;
export type ThreeDsMode = (typeof threeDsModes)[number];

/** In a MID's accepted lists, `*` accepts every value, also one the platform does not know. */
export const anyValue = '*';

/** A turnover ceiling for payments in its currency, in that currency's minor units. */
export interface RoutingLimit {
  limitId: string;
  window: LimitWindow;
  currency: string;
  amountMinor: number;
}

export interface MidConfig {
  midId: string;
  name: string;
  connector: string;
  enabled: boolean;
  paymentTypes: readonly string[];
  actions: readonly string[];
  brands: readonly string[];
  currencies: readonly string[];
  settlementCurrency: string;
  /** Currencies taken by exchange into the settlement currency (ADR 0054); `*`: any with a rate. */
  exchangeCurrencies?: readonly string[];
  threeDsMode: ThreeDsMode;
  /** "Day MID limit is not set": a MID that requires a day limit refuses a currency without one. */
  requireDayLimit: boolean;
  limits: readonly RoutingLimit[];
}

/**
 * The kinds of decline a cascade rule can name (ADR 0053), from the connector's classification
 * of the decline reason (`explainDecline`): `do-not-honor` is every refusal that says nothing
 * about the card — "do not honor", "declined by processing", a technical error at the bank.
 */
export const cascadeDeclines = [
  'do-not-honor', 'insufficient-funds', 'expired', 'incorrect-details', 'not-enabled-online',
] as const;
export type CascadeDecline = (typeof cascadeDeclines)[number];

/** When a declined attempt goes on to the next MID of the mapping. */
export interface CascadeRule {
  /** The declines that cascade; empty: cascading is off. */
  on: readonly CascadeDecline[];
  /** At most this many attempts in all (the first included); null: every MID of the mapping. */
  maxAttempts: number | null;
}

/** The default rule: a decline that says nothing about the card is tried at the next MID; one
 * that does (funds, expiry, details, not enabled online) would be refused by every MID. */
export const defaultCascadeRule: CascadeRule = { on: ['do-not-honor'], maxAttempts: null };

/** Attempts can never go on for ever, whatever a rule or a MID list says. */
export const cascadeAttemptsCeiling = 10;

/** The kind of decline, from the connector's explanation (connector.ts DeclineExplanation). */
export function cascadeDeclineOf(explanation: string | undefined): CascadeDecline | undefined {
  switch (explanation) {
    case undefined:
    case 'other':
      return 'do-not-honor';
    case 'insufficientFunds':
      return 'insufficient-funds';
    case 'expired':
      return 'expired';
    case 'incorrectDetails':
      return 'incorrect-details';
    case 'notEnabledOnline':
      return 'not-enabled-online';
    default:
      // The cardholder's own step (3-D Secure failed, cancelled): never tried elsewhere.
      return undefined;
  }
}

/** Whether attempt number `attempt`, declined with this kind, is followed by another. */
export function cascades(
  rule: CascadeRule, decline: CascadeDecline | undefined, attempt: number, mids: number,
): boolean {
  if (decline === undefined || !rule.on.includes(decline)) return false;
  const most = Math.min(rule.maxAttempts ?? mids, mids, cascadeAttemptsCeiling);
  return attempt < most;
}

export interface MappingConfig {
  mappingId: string;
  merchantId: string;
  enabled: boolean;
  paymentMethods: readonly string[];
  /** The MIDs to try, in order. */
  midIds: readonly string[];
  requireDayLimit: boolean;
  limits: readonly RoutingLimit[];
  /** Absent: the default rule. */
  cascade?: CascadeRule;
}

export interface RoutingRequest {
  action: RoutedAction;
  paymentType: PaymentType;
  paymentMethod: string;
  brand: CardBrand;
  currency: string;
  amountMinor: number;
}

/** Why no MID could take a payment: names of the error registry (protocol/errors.ts). */
export type RoutingRefusal =
  | 'mappingNotFound'
  | 'paymentTypeNotSupported'
  | 'paymentMethodNotSupported'
  | 'actionNotSupported'
  | 'brandNotSupported'
  | 'midDayLimit'
  | 'mappingDayLimit'
  | 'paymentTypeNotFound'
  | 'paymentMethodNotFound'
  | 'brandNotFound'
  | 'currencyNotFound'
  | 'actionNotFound'
  | 'midMonthLimit'
  | 'mappingWeekLimit'
  | 'midWeekLimit'
  | 'mappingMonthLimit';

const routingRefusals: ReadonlySet<string> = new Set<RoutingRefusal>([
  'mappingNotFound', 'paymentTypeNotSupported', 'paymentMethodNotSupported', 'actionNotSupported', 'brandNotSupported',
  'midDayLimit', 'mappingDayLimit', 'paymentTypeNotFound', 'paymentMethodNotFound', 'brandNotFound', 'currencyNotFound',
  'actionNotFound', 'midMonthLimit', 'mappingWeekLimit', 'midWeekLimit', 'mappingMonthLimit',
]);

export function isRoutingRefusal(name: string): name is RoutingRefusal {
  return routingRefusals.has(name);
}

/** One limit as it stands for this payment: its window and what is left in it. */
export interface LimitHeadroom {
  owner: 'mid' | 'mapping';
  ownerId: string;
  limit: RoutingLimit;
  windowKey: string;
  usedMinor: number;
  headroomMinor: number;
}

export interface MidVerdict {
  midId: string;
  name: string;
  /** undefined: chosen; otherwise why this MID was skipped (`disabled`: switched off). */
  refusal?: RoutingRefusal | 'disabled';
  limits: LimitHeadroom[];
}

export type RoutingDecision =
  | {
    outcome: 'routed'; mid: MidConfig; mapping: MappingConfig; limits: LimitHeadroom[]; verdicts: MidVerdict[];
    /** The MID takes the currency by exchange: what it charges. Its limits count that. */
    exchange?: ExchangeQuote;
  }
  | { outcome: 'refused'; refusal: RoutingRefusal; verdicts: MidVerdict[]; mappingLimits: LimitHeadroom[] };

/** What is used of each limit in each window so far: key `limitId|windowKey`. */
export type LimitUse = ReadonlyMap<string, number>;

export function limitUseKey(limitId: string, windowKey: string): string {
  return `${limitId}|${windowKey}`;
}

const dayMs = 24 * 60 * 60 * 1000;

/** The last day's three keys: every limited payment asks for them several times (a limit read
 * and each candidate MID's headrooms), and a day's keys are the same all day, whatever the
 * time zone that made the day. */
let lastWindowKeys = { day: '', keys: { day: '', week: '', month: '' } };

/**
 * The window an instant falls in, in the platform time zone (as VOID's financial day): the
 * day's date, the ISO week's Monday, or the month. Windows are named by text, so a limit's
 * counters for a window are found by equality.
 */
export function windowKeyOf(window: LimitWindow, nowMs: number, timeZone: string): string {
  const day = financialDay(nowMs, timeZone);
  if (day !== lastWindowKeys.day) lastWindowKeys = { day, keys: windowKeysOfDay(day) };
  return lastWindowKeys.keys[window];
}

function windowKeysOfDay(day: string): Record<LimitWindow, string> {
  const [year, month, date] = day.split('-').map(Number) as [number, number, number];
  const dayStartMs = Date.UTC(year, month - 1, date);
  const weekday = (new Date(dayStartMs).getUTCDay() + 6) % 7; // Monday 0 … Sunday 6
  const week = new Date(dayStartMs - weekday * dayMs).toISOString().slice(0, 10);
  return { day: `day:${day}`, week: `week:${week}`, month: `month:${day.slice(0, 7)}` };
}

export function paymentTypeOf(action: RoutedAction, isAuth: boolean): PaymentType {
  if (action === 'CREDIT2CARD') return 'payout';
  if (action === 'CARD2CARD') return 'transfer';
  return isAuth ? 'authorization' : 'purchase';
}

export const limitRefusals: Record<'mid' | 'mapping', Record<LimitWindow, RoutingRefusal>> = {
  mid: { day: 'midDayLimit', week: 'midWeekLimit', month: 'midMonthLimit' },
  mapping: { day: 'mappingDayLimit', week: 'mappingWeekLimit', month: 'mappingMonthLimit' },
};

/** Each limit of an owner that counts this payment (its currency), with its headroom now. */
export function headroomsOf(
  owner: 'mid' | 'mapping',
  ownerId: string,
  limits: readonly RoutingLimit[],
  currency: string,
  use: LimitUse,
  nowMs: number,
  timeZone: string,
): LimitHeadroom[] {
  return limits
    .filter((limit) => limit.currency === currency)
    .map((limit) => {
      const windowKey = windowKeyOf(limit.window, nowMs, timeZone);
      const usedMinor = use.get(limitUseKey(limit.limitId, windowKey)) ?? 0;
      return { owner, ownerId, limit, windowKey, usedMinor, headroomMinor: Math.max(0, limit.amountMinor - usedMinor) };
    });
}

/** The first limit this amount would exceed (day, week, month), or a required day limit absent. */
export function limitRefusalOf(
  owner: 'mid' | 'mapping',
  headrooms: readonly LimitHeadroom[],
  amountMinor: number,
  requireDayLimit: boolean,
): RoutingRefusal | undefined {
  if (requireDayLimit && !headrooms.some((headroom) => headroom.limit.window === 'day'))
    return limitRefusals[owner].day;
  for (const window of limitWindows) {
    const exceeded = headrooms.some(
      (headroom) => headroom.limit.window === window && headroom.headroomMinor < amountMinor,
    );
    if (exceeded) return limitRefusals[owner][window];
  }
  return undefined;
}

function accepts(list: readonly string[], value: string): boolean {
  return list.includes(anyValue) || list.includes(value);
}

/** A MID's checks in order; a MID is skipped at the first that fails. `stage` orders refusals:
 * when every MID is skipped, the answer is the reason of the MID that got furthest. */
function midRefusal(
  mid: MidConfig,
  request: RoutingRequest,
  limits: readonly LimitHeadroom[],
  charged: { currency: string; amountMinor: number; byExchange: boolean },
): { stage: number; refusal?: RoutingRefusal } {
  if (mid.paymentTypes.length === 0) return { stage: 1, refusal: 'paymentTypeNotFound' };
  if (!accepts(mid.paymentTypes, request.paymentType)) return { stage: 1, refusal: 'paymentTypeNotSupported' };
  if (mid.actions.length === 0) return { stage: 2, refusal: 'actionNotFound' };
  if (!accepts(mid.actions, request.action)) return { stage: 2, refusal: 'actionNotSupported' };
  if (mid.brands.length === 0) return { stage: 3, refusal: 'brandNotFound' };
  if (!accepts(mid.brands, request.brand)) {
    return { stage: 3, refusal: request.brand === 'UNKNOWN' ? 'brandNotFound' : 'brandNotSupported' };
  }
  if (!charged.byExchange && !accepts(mid.currencies, request.currency)) {
    return { stage: 4, refusal: 'currencyNotFound' };
  }
  const refusal = limitRefusalOf('mid', limits, charged.amountMinor, mid.requireDayLimit);
  return refusal ? { stage: 5, refusal } : { stage: 6 };
}

/** A MID that does not take the currency as it is but by exchange, with a rate to its
 * settlement currency: the conversion. Otherwise none (taken directly, or not at all). */
function exchangeOf(mid: MidConfig, request: RoutingRequest, exchange: ExchangeTable): ExchangeQuote | undefined {
  if (accepts(mid.currencies, request.currency)) return undefined;
  if (!accepts(mid.exchangeCurrencies ?? [], request.currency)) return undefined;
  return quoteExchange(exchange, request.amountMinor, request.currency, mid.settlementCurrency);
}

/**
 * The first enabled MID of the mapping that accepts the payment's type, action, brand and
 * currency and has headroom in every limit that counts it; else why not. Mapping-wide reasons
 * (no enabled mapping or MID, the payment method, the mapping's own limits) come first.
 */
export function chooseMid(
  mapping: MappingConfig | undefined,
  midsById: ReadonlyMap<string, MidConfig>,
  request: RoutingRequest,
  use: LimitUse,
  nowMs: number,
  timeZone: string,
  /** MIDs already tried by this payment's cascade: not considered again. */
  tried: ReadonlySet<string> = new Set(),
  exchange: ExchangeTable = noExchange,
): RoutingDecision {
  const refused = (refusal: RoutingRefusal, verdicts: MidVerdict[] = [], mappingLimits: LimitHeadroom[] = []) => ({
    outcome: 'refused' as const,
    refusal,
    verdicts,
    mappingLimits,
  });
  if (!mapping?.enabled) return refused('mappingNotFound');
  const configured = mapping.midIds.map((midId) => midsById.get(midId)).filter((mid) => mid !== undefined);
  const disabled: MidVerdict[] = configured
    .filter((mid) => !mid.enabled)
    .map((mid) => ({ midId: mid.midId, name: mid.name, refusal: 'disabled', limits: [] }));
  const mids = configured.filter((mid) => mid.enabled && !tried.has(mid.midId));
  if (mids.length === 0) return refused('mappingNotFound', disabled);
  if (mapping.paymentMethods.length === 0) return refused('paymentMethodNotFound');
  if (!mapping.paymentMethods.includes(request.paymentMethod)) return refused('paymentMethodNotSupported');
  const mappingLimits = headroomsOf(
    'mapping',
    mapping.mappingId,
    mapping.limits,
    request.currency,
    use,
    nowMs,
    timeZone,
  );
  const mappingRefusal = limitRefusalOf('mapping', mappingLimits, request.amountMinor, mapping.requireDayLimit);
  if (mappingRefusal) return refused(mappingRefusal, [], mappingLimits);
  const verdicts: MidVerdict[] = [...disabled];
  let furthest: { stage: number; refusal: RoutingRefusal } | undefined;
  for (const mid of mids) {
    const quote = exchangeOf(mid, request, exchange);
    const charged = quote
      ? { currency: quote.toCurrency, amountMinor: quote.toAmountMinor, byExchange: true }
      : { currency: request.currency, amountMinor: request.amountMinor, byExchange: false };
    const limits = headroomsOf('mid', mid.midId, mid.limits, charged.currency, use, nowMs, timeZone);
    const { stage, refusal } = midRefusal(mid, request, limits, charged);
    verdicts.push({ midId: mid.midId, name: mid.name, refusal, limits });
    if (refusal === undefined) {
      const routed = { outcome: 'routed' as const, mid, mapping, limits: [...mappingLimits, ...limits], verdicts };
      return quote ? { ...routed, exchange: quote } : routed;
    }
    if (!furthest || stage > furthest.stage) furthest = { stage, refusal };
  }
  return refused(furthest!.refusal, verdicts, mappingLimits);
}
