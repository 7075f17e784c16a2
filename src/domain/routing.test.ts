import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  cascadeDeclineOf,
  cascades,
  chooseMid,
  defaultCascadeRule,
  limitUseKey,
  windowKeyOf,
  type MappingConfig,
  type MidConfig,
  type RoutingRequest,
} from './routing.ts';

const nowMs = Date.UTC(2026, 10, 23, 10, 0, 0); // a Monday

function mid(overrides: Partial<MidConfig> = {}): MidConfig {
  return {
    midId: 'mid-1',
    name: 'first',
    connector: 'test-engine',
    enabled: true,
    paymentTypes: ['*'],
    actions: ['*'],
    brands: ['*'],
    currencies: ['*'],
    settlementCurrency: 'USD',
    threeDsMode: 'merchant',
    requireDayLimit: false,
    limits: [],
    ...overrides,
  };
}

function mapping(overrides: Partial<MappingConfig> = {}): MappingConfig {
  return {
    mappingId: 'map-1',
    merchantId: 'm',
    enabled: true,
    paymentMethods: ['card'],
    midIds: ['mid-1'],
    requireDayLimit: false,
    limits: [],
    ...overrides,
  };
}

const request: RoutingRequest = {
  action: 'SALE',
  paymentType: 'purchase',
  paymentMethod: 'card',
  brand: 'VISA',
  currency: 'USD',
  amountMinor: 100,
};

function route(
  mids: MidConfig[],
  map: MappingConfig = mapping({ midIds: mids.map((each) => each.midId) }),
  overrides: Partial<RoutingRequest> = {},
  use = new Map<string, number>(),
) {
  return chooseMid(
    map,
    new Map(mids.map((each) => [each.midId, each])),
    { ...request, ...overrides },
    use,
    nowMs,
    'UTC',
  );
}

function refusalOf(decision: ReturnType<typeof route>) {
  return decision.outcome === 'refused' ? decision.refusal : `routed to ${decision.mid.name}`;
}

test('the first enabled MID that accepts the payment is chosen; earlier ones are skipped with their reason', () => {
  const decision = route([
    mid({ midId: 'a', name: 'off', enabled: false }),
    mid({ midId: 'b', name: 'mastercard only', brands: ['MASTERCARD'] }),
    mid({ midId: 'c', name: 'visa' }),
    mid({ midId: 'd', name: 'never reached' }),
  ]);
  assert.equal(refusalOf(decision), 'routed to visa');
  assert.deepEqual(
    decision.verdicts.map((verdict) => [verdict.name, verdict.refusal]),
    [
      ['off', 'disabled'],
      ['mastercard only', 'brandNotSupported'],
      ['visa', undefined],
    ],
  );
});

test('each reason the spec names comes from its own situation', () => {
  assert.equal(refusalOf(chooseMid(undefined, new Map(), request, new Map(), nowMs, 'UTC')), 'mappingNotFound');
  assert.equal(refusalOf(route([mid()], mapping({ enabled: false }))), 'mappingNotFound');
  assert.equal(refusalOf(route([mid({ enabled: false })])), 'mappingNotFound');
  assert.equal(refusalOf(route([mid()], mapping({ paymentMethods: [] }))), 'paymentMethodNotFound');
  assert.equal(refusalOf(route([mid()], mapping({ paymentMethods: ['wallet'] }))), 'paymentMethodNotSupported');
  assert.equal(refusalOf(route([mid({ paymentTypes: [] })])), 'paymentTypeNotFound');
  assert.equal(refusalOf(route([mid({ paymentTypes: ['payout'] })])), 'paymentTypeNotSupported');
  assert.equal(refusalOf(route([mid({ actions: [] })])), 'actionNotFound');
  assert.equal(refusalOf(route([mid({ actions: ['DEBIT'] })])), 'actionNotSupported');
  assert.equal(refusalOf(route([mid({ brands: [] })])), 'brandNotFound');
  assert.equal(refusalOf(route([mid({ brands: ['VISA'] })], undefined, { brand: 'UNKNOWN' })), 'brandNotFound');
  assert.equal(refusalOf(route([mid({ brands: ['AMEX'] })])), 'brandNotSupported');
  assert.equal(refusalOf(route([mid({ currencies: ['EUR'] })])), 'currencyNotFound');
  assert.equal(refusalOf(route([mid({ requireDayLimit: true })])), 'midDayLimit');
  assert.equal(refusalOf(route([mid()], mapping({ requireDayLimit: true }))), 'mappingDayLimit');
});

test('a limit refuses the amount that would pass it, per window and owner, counting only its currency', () => {
  const limit = (window: 'day' | 'week' | 'month', amountMinor: number) => ({
    limitId: `l-${window}`,
    window,
    currency: 'USD',
    amountMinor,
  });
  const used = (limitId: string, window: 'day' | 'week' | 'month', minor: number) =>
    new Map([[limitUseKey(limitId, windowKeyOf(window, nowMs, 'UTC')), minor]]);
  for (const [window, midCode, mappingCode] of [
    ['day', 'midDayLimit', 'mappingDayLimit'],
    ['week', 'midWeekLimit', 'mappingWeekLimit'],
    ['month', 'midMonthLimit', 'mappingMonthLimit'],
  ] as const) {
    const onMid = [mid({ limits: [limit(window, 1000)] })];
    assert.equal(refusalOf(route(onMid, undefined, {}, used(`l-${window}`, window, 900))), 'routed to first');
    assert.equal(refusalOf(route(onMid, undefined, {}, used(`l-${window}`, window, 901))), midCode);
    const onMapping = mapping({ limits: [limit(window, 1000)] });
    assert.equal(refusalOf(route([mid()], onMapping, {}, used(`l-${window}`, window, 901))), mappingCode);
    // A EUR payment is not counted by a USD limit.
    assert.equal(
      refusalOf(route(onMid, undefined, { currency: 'EUR' }, used(`l-${window}`, window, 1000))),
      'routed to first',
    );
  }
});

test('windows are the day, the ISO week from Monday and the month in the platform time zone', () => {
  const sunday = Date.UTC(2026, 10, 29, 23, 30);
  assert.equal(windowKeyOf('week', sunday, 'UTC'), 'week:2026-11-23');
  assert.equal(windowKeyOf('week', sunday, 'Asia/Almaty'), 'week:2026-11-30'); // already Monday there
  assert.equal(windowKeyOf('day', sunday, 'Asia/Almaty'), 'day:2026-11-30');
  assert.equal(windowKeyOf('month', Date.UTC(2026, 10, 30, 20, 0), 'Asia/Almaty'), 'month:2026-12');
});

const brands = ['VISA', 'MASTERCARD', 'AMEX', 'UNKNOWN'] as const;
const midArbitrary = fc.record({
  enabled: fc.boolean(),
  brands: fc.subarray(['*', 'VISA', 'MASTERCARD', 'AMEX']),
  currencies: fc.subarray(['*', 'USD', 'EUR']),
  dayLimitMinor: fc.option(fc.integer({ min: 0, max: 500 })),
});

test('property: a chosen MID accepts the payment and has headroom; a refusal means no MID does', () => {
  fc.assert(
    fc.property(
      fc.array(midArbitrary, { minLength: 1, maxLength: 5 }),
      fc.constantFrom(...brands),
      fc.constantFrom('USD', 'EUR'),
      fc.integer({ min: 1, max: 600 }),
      fc.integer({ min: 0, max: 600 }),
      (specs, brand, currency, amountMinor, usedMinor) => {
        const mids = specs.map((spec, index) =>
          mid({
            midId: `m${index}`,
            name: `m${index}`,
            enabled: spec.enabled,
            brands: spec.brands,
            currencies: spec.currencies,
            limits:
              spec.dayLimitMinor === null
                ? []
                : [{ limitId: `l${index}`, window: 'day', currency: 'USD', amountMinor: spec.dayLimitMinor }],
          }),
        );
        const use = new Map(
          mids.map((each) => [limitUseKey(`l${each.midId.slice(1)}`, windowKeyOf('day', nowMs, 'UTC')), usedMinor]),
        );
        const fits = (each: MidConfig) =>
          each.enabled
          && (each.brands.includes('*') || each.brands.includes(brand))
          && (each.currencies.includes('*') || each.currencies.includes(currency))
          && each.limits.every((limit) => limit.currency !== currency || usedMinor + amountMinor <= limit.amountMinor);
        const decision = route(mids, undefined, { brand, currency, amountMinor }, use);
        const expected = mids.find(fits);
        if (expected) assert.equal(decision.outcome === 'routed' && decision.mid.midId, expected.midId);
        else assert.equal(decision.outcome, 'refused');
      },
    ),
  );
});

test('cascade rule: the default cascades do-not-honor only, to the end of the MID list, never past 10', () => {
  assert.equal(cascadeDeclineOf(undefined), 'do-not-honor');
  assert.equal(cascadeDeclineOf('other'), 'do-not-honor');
  assert.equal(cascadeDeclineOf('insufficientFunds'), 'insufficient-funds');
  assert.equal(cascadeDeclineOf('cardholderStep'), undefined);
  assert.equal(cascades(defaultCascadeRule, 'do-not-honor', 1, 2), true);
  assert.equal(cascades(defaultCascadeRule, 'do-not-honor', 2, 2), false);
  assert.equal(cascades(defaultCascadeRule, 'insufficient-funds', 1, 2), false);
  assert.equal(cascades(defaultCascadeRule, undefined, 1, 2), false);
  assert.equal(cascades({ on: [], maxAttempts: null }, 'do-not-honor', 1, 3), false);
  assert.equal(cascades({ on: ['do-not-honor'], maxAttempts: 2 }, 'do-not-honor', 2, 3), false);
  assert.equal(cascades({ on: ['do-not-honor'], maxAttempts: null }, 'do-not-honor', 10, 50), false);
});
