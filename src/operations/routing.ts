import type { AcquirerConnector } from '../acquirers/connector.ts';
import { TestEngineConnector } from '../acquirers/test-engine.ts';
import { UpstreamS2sCardConnector } from '../acquirers/upstream-s2s-card.ts';
import { Secret } from '../domain/secret.ts';
import type { CardBrand } from '../domain/card.ts';
import {
  chooseMid,
  defaultCascadeRule,
  limitRefusals,
  limitUseKey,
  paymentTypeOf,
  windowKeyOf,
  type CascadeRule,
  type LimitHeadroom,
  type RoutedAction,
  type RoutingDecision,
  type RoutingRefusal,
} from '../domain/routing.ts';
import type { ExchangeQuote } from '../domain/exchange.ts';
import { formatAmount } from '../domain/money.ts';
import { ProtocolError, protocolErrors } from '../protocol/errors.ts';
import { loadMerchantByClientKey } from '../storage/merchants.ts';
import { RoutingInputError } from './manage-routing.ts';
import type { PaymentCompanion } from '../storage/payment-companions.ts';
import {
  ensureLimitCounters,
  limitShardCount,
  shardShareMinor,
  type LimitReservation,
} from '../storage/routing-limits.ts';
import {
  loadLimitUse,
  loadMid,
  loadRoutingSnapshot,
  type LimitUseRead,
  type RoutingSnapshot,
  type StoredMid,
} from '../storage/routing.ts';
import type { PlatformContext } from './context.ts';

/**
 * The seam between a payment and routing (ADR 0050): which MID takes it, through which
 * connector, with 3-D Secure or not, and the limit holds its insert must take. The decision is
 * pure (domain/routing.ts); this file reads what it needs and builds connectors per MID.
 */

/** What routing needs of the merchant; `routingRevision` lets a cached snapshot be reused. */
export interface RoutedMerchant {
  merchantId: string;
  threeDsEnabled: boolean;
  routingRevision?: number;
}

export interface PaymentToRoute {
  action: RoutedAction;
  isAuth: boolean;
  brand: CardBrand;
  currency: string;
  amountMinor: number;
}

export interface PaymentRoute {
  midId: string;
  connector: AcquirerConnector;
  /** The MID's 3-D Secure mode applied to the merchant's setting. */
  threeDsEnabled: boolean;
  /** The limit holds to write with the payment (none when no limit counts it). */
  limitHolds: PaymentCompanion[];
  /** The mapping's cascade rule and how many MIDs it lists (ADR 0053). */
  cascade: CascadeRule;
  mappingMids: number;
  /** The MID takes the currency by exchange (ADR 0054): what it charges, and the rates. */
  exchange?: ExchangeQuote;
  /** The Appendix C sets the MID needs (ADR 0055; its `parameterSets` setting). */
  parameterSets: readonly string[];
}

const snapshotsMax = 10_000;
const snapshots = new Map<string, { revision: number; snapshot: RoutingSnapshot }>();

/** The merchant's routing as of its revision: the merchant record comes from the exact merchant
 * cache, and every routing change bumps every merchant's revision in its own transaction. */
async function snapshotOf(
  context: Pick<PlatformContext, 'storage'>,
  merchant: RoutedMerchant,
): Promise<RoutingSnapshot> {
  const cached = snapshots.get(`${context.storage.dialect}:${merchant.merchantId}`);
  if (cached && merchant.routingRevision !== undefined && cached.revision === merchant.routingRevision)
    return cached.snapshot;
  const snapshot = await loadRoutingSnapshot(context.storage, merchant.merchantId);
  if (merchant.routingRevision !== undefined) {
    if (snapshots.size >= snapshotsMax) snapshots.clear();
    snapshots.set(`${context.storage.dialect}:${merchant.merchantId}`, {
      revision: merchant.routingRevision,
      snapshot,
    });
  }
  return snapshot;
}

/** The limit windows a payment could touch: every limit of the mapping and its MIDs in the
 * payment's currency, in the window `nowMs` falls in. */
function limitKeysOf(snapshot: RoutingSnapshot, currency: string, nowMs: number, timeZone: string) {
  // A MID taking the currency by exchange counts it in its settlement currency (ADR 0054).
  const limits = [
    ...(snapshot.mapping?.limits ?? []).filter((limit) => limit.currency === currency),
    ...[...snapshot.midsById.values()].flatMap((mid) =>
      mid.limits.filter((limit) => limit.currency === currency || limit.currency === mid.settlementCurrency)),
  ];
  return limits.map((limit) => ({ limitId: limit.limitId, windowKey: windowKeyOf(limit.window, nowMs, timeZone) }));
}

/** Limit use this process read lately, per set of (limit, window): reused for 250 ms while
 * every limit keeps a quarter of itself free after the payment, so a busy limited MID is not
 * read on every payment; near a limit every decision reads afresh. The write decides either way. */
const recentUseTtlMs = 250;
const recentUseMax = 10_000;
const recentUse = new Map<string, { readAtMs: number; read: LimitUseRead }>();

function comfortable(decision: RoutingDecision, amountMinor: number): boolean {
  return (
    decision.outcome === 'routed'
    && decision.limits.every((headroom) => headroom.headroomMinor - amountMinor >= headroom.limit.amountMinor / 4)
  );
}

async function freshLimitUse(
  storage: PlatformContext['storage'],
  keys: { limitId: string; windowKey: string }[],
): Promise<LimitUseRead> {
  let read = await loadLimitUse(storage, keys);
  const unseen = keys.filter(
    (key) => (read.shardsUsed.get(limitUseKey(key.limitId, key.windowKey))?.length ?? 0) < limitShardCount,
  );
  if (unseen.length > 0) {
    await ensureLimitCounters(storage, unseen);
    read = await loadLimitUse(storage, keys);
  }
  return read;
}

/** The decision and what was read for it: `kassa routing explain` prints the same (`fresh`). */
export async function decideRoute(
  context: Pick<PlatformContext, 'storage' | 'timeZone'>,
  merchant: RoutedMerchant,
  payment: PaymentToRoute,
  nowMs: number,
  options: { fresh?: boolean; passOver?: ReadonlySet<string>; tried?: ReadonlySet<string> } = {},
): Promise<{ decision: RoutingDecision; read: LimitUseRead; snapshot: RoutingSnapshot }> {
  const snapshot = await snapshotOf(context, merchant);
  const { passOver } = options;
  const mapping = passOver && snapshot.mapping
    ? { ...snapshot.mapping, midIds: snapshot.mapping.midIds.filter((midId) => !passOver.has(midId)) }
    : snapshot.mapping;
  const keys = limitKeysOf(snapshot, payment.currency, nowMs, context.timeZone);
  const request = {
    action: payment.action,
    paymentType: paymentTypeOf(payment.action, payment.isAuth),
    paymentMethod: 'card',
    brand: payment.brand,
    currency: payment.currency,
    amountMinor: payment.amountMinor,
  };
  const decide = (read: LimitUseRead) =>
    chooseMid(
      mapping, snapshot.midsById, request, read.use, nowMs, context.timeZone, options.tried, snapshot.exchange,
    );
  if (keys.length === 0) {
    const none: LimitUseRead = { use: new Map(), shardsUsed: new Map() };
    return { decision: decide(none), read: none, snapshot };
  }
  const cacheKey = `${context.storage.dialect}:${keys.map((key) => limitUseKey(key.limitId, key.windowKey)).join(',')}`;
  const cached = recentUse.get(cacheKey);
  if (!options.fresh && cached && Date.now() - cached.readAtMs < recentUseTtlMs) {
    const decision = decide(cached.read);
    if (comfortable(decision, payment.amountMinor)) return { decision, read: cached.read, snapshot };
  }
  const read = await freshLimitUse(context.storage, keys);
  if (recentUse.size >= recentUseMax) recentUse.clear();
  recentUse.set(cacheKey, { readAtMs: Date.now(), read });
  return { decision: decide(read), read, snapshot };
}

function connectorIsDown(context: PlatformContext, snapshot: RoutingSnapshot, midId: string): boolean {
  const mid = snapshot.midsById.get(midId);
  return mid !== undefined && connectorOfMid(context, mid).unavailable === true;
}

/** Routes a new payment, or throws the spec's 2040xx error saying why no MID can take it. */
export async function routePayment(
  context: PlatformContext,
  merchant: RoutedMerchant,
  payment: PaymentToRoute,
  transId: string,
  nowMs: number,
  tried?: ReadonlySet<string>,
): Promise<PaymentRoute> {
  let { decision, read, snapshot } = await decideRoute(context, merchant, payment, nowMs, { tried });
  if (decision.outcome === 'refused') throw new ProtocolError(decision.refusal);
  // A MID whose circuit is open is passed over for the next one in cascade order; if none
  // other can take the payment it stays chosen, and its connector declines without a request.
  const passOver = new Set<string>();
  while (decision.outcome === 'routed' && connectorIsDown(context, snapshot, decision.mid.midId)) {
    passOver.add(decision.mid.midId);
    const next = await decideRoute(context, merchant, payment, nowMs, { passOver, tried });
    if (next.decision.outcome !== 'routed') break;
    ({ decision, read, snapshot } = next);
  }
  if (decision.outcome === 'refused') throw new ProtocolError(decision.refusal);
  const mid = snapshot.midsById.get(decision.mid.midId)!;
  const charged = decision.exchange?.toAmountMinor ?? payment.amountMinor;
  const reservations = decision.limits.map((headroom) =>
    reservationOf(headroom, headroom.owner === 'mid' ? charged : payment.amountMinor, read));
  const threeDsEnabled = mid.threeDsMode === 'always' || (mid.threeDsMode === 'merchant' && merchant.threeDsEnabled);
  return {
    midId: mid.midId,
    connector: connectorOfMid(context, mid),
    threeDsEnabled,
    limitHolds: reservations.length > 0 ? [{ kind: 'limit-holds', transId, reservations }] : [],
    cascade: decision.mapping.cascade ?? defaultCascadeRule,
    mappingMids: decision.mapping.midIds.length,
    parameterSets: Array.isArray(mid.settings.parameterSets) ? (mid.settings.parameterSets as string[]) : [],
    ...(decision.exchange ? { exchange: decision.exchange } : {}),
  };
}

/** A shard with room as the read saw it, chosen at random among them so concurrent payments
 * spread over the rows; the write checks again. */
function reservationOf(headroom: LimitHeadroom, amountMinor: number, read: LimitUseRead): LimitReservation {
  const { limit, windowKey } = headroom;
  const shardsUsed = read.shardsUsed.get(limitUseKey(limit.limitId, windowKey)) ?? [];
  const withRoom: number[] = [];
  for (let shard = 0; shard < limitShardCount; shard += 1) {
    if ((shardsUsed[shard] ?? 0) + amountMinor <= shardShareMinor(limit.amountMinor, shard)) withRoom.push(shard);
  }
  const pool = withRoom.length > 0 ? withRoom : [0];
  return {
    limitId: limit.limitId,
    windowKey,
    limitMinor: limit.amountMinor,
    amountMinor,
    preferredShard: pool[Math.floor(Math.random() * pool.length)]!,
    refusal: limitRefusals[headroom.owner][limit.window],
  };
}

const connectorsMax = 1_000;
/** One connector per MID of a database, for the MID's version (`updatedAtMs`) it was built from. */
type ConnectorsOfMids = Map<string, { version: number; connector: AcquirerConnector }>;
const connectorsByStorage = new WeakMap<object, ConnectorsOfMids>();
/** How long a connector replaced by a MID change stays open: calls already under way finish on
 * it (every answer timeout is far shorter), then its pool is closed. */
const replacedConnectorCloseMs = 120_000;

function remember(connectors: ConnectorsOfMids, midId: string, version: number, connector: AcquirerConnector): void {
  const replaced = connectors.get(midId);
  if (replaced === undefined && connectors.size >= connectorsMax) {
    for (const { connector: old } of connectors.values()) closeLater(old);
    connectors.clear();
  }
  if (replaced !== undefined) closeLater(replaced.connector);
  connectors.set(midId, { version, connector });
}

function closeLater(connector: AcquirerConnector): void {
  const closable = connector as Partial<{ close(): Promise<void> }>;
  if (typeof closable.close !== 'function') return;
  setTimeout(() => void closable.close!().catch(() => undefined), replacedConnectorCloseMs).unref();
}

/**
 * The connector instance of a MID. The default MID with no settings of its own is the
 * platform's configured connector (what tests inject); any other MID gets its own instance
 * built from its settings, so two test-engine MIDs can behave differently.
 */
/** The upstream S2S CARD connector of a MID: the PASSWORD is decrypted here only, into a Secret. */
function upstreamConnectorOf(context: PlatformContext, mid: StoredMid): AcquirerConnector {
  const secrets = mid.secretSettingsCiphertext
    ? (JSON.parse(context.vault.decrypt(mid.secretSettingsCiphertext)) as Record<string, string>) : {};
  const settings = mid.settings as Record<string, unknown>;
  return new UpstreamS2sCardConnector({
    baseUrl: String(settings.baseUrl),
    clientKey: String(settings.clientKey),
    password: new Secret(secrets.password ?? ''),
    connectTimeoutMs: settings.connectTimeoutMs === undefined ? undefined : Number(settings.connectTimeoutMs),
    answerTimeoutMs: settings.answerTimeoutMs === undefined ? undefined : Number(settings.answerTimeoutMs),
    breakerFailureThreshold: settings.breakerFailures === undefined ? undefined : Number(settings.breakerFailures),
    breakerOpenMs: settings.breakerOpenMs === undefined ? undefined : Number(settings.breakerOpenMs),
  });
}

export function connectorOfMid(context: PlatformContext, mid: StoredMid): AcquirerConnector {
  if (
    mid.connector === 'test-engine'
    && Object.keys(mid.settings).length === 0
    && mid.secretSettingsCiphertext === null
  ) {
    return context.acquirer;
  }
  let connectors = connectorsByStorage.get(context.storage);
  if (connectors === undefined) {
    connectors = new Map();
    connectorsByStorage.set(context.storage, connectors);
  }
  const known = connectors.get(mid.midId);
  if (known !== undefined && known.version === mid.updatedAtMs) return known.connector;
  const connector = mid.connector === 'upstream-s2s-card'
    ? upstreamConnectorOf(context, mid)
    : new TestEngineConnector({
      recordPrepare: mid.settings.recordPrepare === true,
      declineEverything: mid.settings.declineEverything === true,
    });
  remember(connectors, mid.midId, mid.updatedAtMs, connector);
  return connector;
}

/** A MID's circuit as this process knows it, without building a connector to ask: `open`
 * (payments pass it over, ADR 0095), `closed`, `none` (its connector has no circuit breaker),
 * or `unknown` (no payment of this process has used it since its last change). */
export type CircuitState = 'open' | 'closed' | 'none' | 'unknown';

export function circuitStateOfMid(context: PlatformContext, mid: StoredMid): CircuitState {
  const builtIn = mid.connector === 'test-engine' && Object.keys(mid.settings).length === 0
    && mid.secretSettingsCiphertext === null;
  const known = connectorsByStorage.get(context.storage)?.get(mid.midId);
  const connector = builtIn ? context.acquirer : known?.version === mid.updatedAtMs ? known.connector : undefined;
  if (connector === undefined) return 'unknown';
  if (connector.unavailable === undefined) return 'none';
  return connector.unavailable ? 'open' : 'closed';
}

/** The connector of the MID that processed a payment: CAPTURE, CREDITVOID, VOID and 3-D
 * Secure completion go there, whatever the mapping says now. */
export async function connectorForPayment(context: PlatformContext, midId: string | null): Promise<AcquirerConnector> {
  if (midId === null) return context.acquirer;
  const mid = await loadMid(context.storage, midId);
  if (!mid) throw new Error(`the payment's MID ${midId} is not configured`);
  return connectorOfMid(context, mid);
}

/** What `kassa routing explain` shows: the MIDs considered in cascade order, the one chosen or
 * the refusal, why each other was skipped, and each limit's headroom. */
export interface RouteExplanation {
  chosen?: string;
  refusal?: string;
  mids: { name: string; verdict: string; limits: string[] }[];
  mappingLimits: string[];
  cascadeOrder: string[];
  /** The mapping's cascade rule in words (ADR 0053). */
  cascadeRule: string;
  /** The chosen MID takes the currency by exchange (ADR 0054): the conversion in words. */
  exchange?: string;
}

function exchangeText(quote: ExchangeQuote): string {
  const from = `${formatAmount(quote.fromAmountMinor, quote.fromCurrency)} ${quote.fromCurrency}`;
  const to = `${formatAmount(quote.toAmountMinor, quote.toCurrency)} ${quote.toCurrency}`;
  return `${from} → ${to} at ${quote.rate}${quote.rateBase ? ` (through the base at ${quote.rateBase})` : ''}`;
}

function cascadeRuleText(rule: CascadeRule): string {
  if (rule.on.length === 0) return 'off';
  const most = rule.maxAttempts === null ? 'every MID' : `at most ${rule.maxAttempts} attempts`;
  return `on ${rule.on.join(', ')}, ${most}`;
}

function headroomText(headroom: LimitHeadroom): string {
  const { limit } = headroom;
  const money = (minor: number) => `${formatAmount(minor, limit.currency)} ${limit.currency}`;
  return (
    `${limit.window} ${money(limit.amountMinor)}: used ${money(headroom.usedMinor)}, `
    + `headroom ${money(headroom.headroomMinor)}`
    + ` (${headroom.windowKey})`
  );
}

function refusalText(refusal: RoutingRefusal | 'disabled'): string {
  if (refusal === 'disabled') return 'skipped: disabled';
  return `${protocolErrors[refusal].code} ${protocolErrors[refusal].message}`;
}

export async function explainRoute(
  context: Pick<PlatformContext, 'storage' | 'timeZone'>,
  clientKey: string,
  payment: PaymentToRoute,
  atMs: number,
): Promise<RouteExplanation> {
  const merchant = await loadMerchantByClientKey(context.storage, clientKey);
  if (!merchant) throw new RoutingInputError([`no merchant has the client_key ${clientKey}`]);
  const { decision, snapshot } = await decideRoute(
    context,
    { merchantId: merchant.merchantId, threeDsEnabled: merchant.threeDsEnabled },
    payment,
    atMs,
    { fresh: true },
  );
  const judged = new Map(decision.verdicts.map((verdict) => [verdict.midId, verdict]));
  const mids = (snapshot.mapping?.midIds ?? []).map((midId) => {
    const verdict = judged.get(midId);
    const name = snapshot.midsById.get(midId)?.name ?? midId;
    if (!verdict) return { name, verdict: 'not reached', limits: [] };
    return {
      name,
      verdict: verdict.refusal === undefined ? 'chosen' : `skipped: ${refusalText(verdict.refusal)}`,
      limits: verdict.limits.map(headroomText),
    };
  });
  const routed = decision.outcome === 'routed';
  return {
    ...(routed ? { chosen: decision.mid.name } : { refusal: refusalText(decision.refusal) }),
    mids,
    mappingLimits: (routed ? decision.limits.filter((limit) => limit.owner === 'mapping') : decision.mappingLimits).map(
      headroomText,
    ),
    cascadeOrder: (snapshot.mapping?.midIds ?? []).map((midId) => snapshot.midsById.get(midId)?.name ?? midId),
    cascadeRule: cascadeRuleText(snapshot.mapping?.cascade ?? defaultCascadeRule),
    ...(routed && decision.exchange ? { exchange: exchangeText(decision.exchange) } : {}),
  };
}
