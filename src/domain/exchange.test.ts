import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { convertMinor, pairKey, parseRate, quoteExchange, type ExchangeTable } from './exchange.ts';

const table: ExchangeTable = {
  baseCurrency: 'USD',
  rates: new Map([
    [pairKey('USD', 'EUR'), '0.923456'], [pairKey('GBP', 'USD'), '1.27'], [pairKey('USD', 'JPY'), '149.5'],
  ]),
};

test('rates are positive decimals with at most 10 digits after the point', () => {
  assert.deepEqual(parseRate('1.058189'), { numerator: 1058189n, scale: 1000000n });
  for (const bad of ['0', '0.000', '-1.2', '1,2', '1.12345678901', '', 'x', '1e3']) {
    assert.equal(parseRate(bad), undefined, bad);
  }
});

test('one rounding, half up, to the target minor unit; exponents differ', () => {
  assert.equal(convertMinor(1000, 'USD', 'EUR', ['0.923456']), 923); // 9.23456 EUR
  assert.equal(convertMinor(1, 'USD', 'EUR', ['0.5']), 1); // 0.005 rounds up
  assert.equal(convertMinor(1000, 'USD', 'JPY', ['149.5']), 1495); // 10.00 USD = 1495 JPY
  assert.equal(convertMinor(1495, 'JPY', 'USD', ['0.00668896']), 1000); // 9.99999… USD
  assert.equal(convertMinor(1000, 'USD', 'BHD', ['0.376']), 3760); // 3 decimals
});

test('a direct rate, else double conversion through the base currency; none when no path', () => {
  assert.deepEqual(quoteExchange(table, 1000, 'USD', 'EUR'), {
    fromCurrency: 'USD', fromAmountMinor: 1000, toCurrency: 'EUR', toAmountMinor: 923, rate: '0.923456', rateBase: null,
  });
  // 10.00 GBP → 12.70 USD → 11.7278912 EUR, rounded once: 11.73
  assert.deepEqual(quoteExchange(table, 1000, 'GBP', 'EUR'), {
    fromCurrency: 'GBP', fromAmountMinor: 1000, toCurrency: 'EUR', toAmountMinor: 1173,
    rate: '0.923456', rateBase: '1.27',
  });
  assert.equal(quoteExchange(table, 1000, 'EUR', 'USD'), undefined);
  assert.equal(quoteExchange(table, 1000, 'USD', 'USD'), undefined);
  assert.equal(quoteExchange({ ...table, baseCurrency: null }, 1000, 'GBP', 'EUR'), undefined);
});

test('property: the result is the exact product rounded half up (within half a minor unit)', () => {
  fc.assert(fc.property(fc.integer({ min: 1, max: 1e12 }), fc.integer({ min: 1, max: 1e9 }), (amount, rateMicros) => {
    const rate = (rateMicros / 1e6).toFixed(6);
    const converted = convertMinor(amount, 'USD', 'EUR', [rate]);
    const exact = (BigInt(amount) * BigInt(rateMicros));
    // |converted × 10^6 − exact| ≤ 10^6 / 2
    const difference = BigInt(converted) * 1_000_000n - exact;
    return difference <= 500_000n && difference > -500_000n;
  }));
});
