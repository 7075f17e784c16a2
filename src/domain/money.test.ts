import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { amountMinorMax, formatAmount, parseAmount } from './money.ts';
import { currencyExponents } from './currencies.ts';

const ok = (amountMinor: number) => ({ ok: true, amountMinor });
const refused = (problem: 'format' | 'not_positive' | 'too_large') => ({ ok: false, problem });

test('exponent-2 amounts as the spec writes them (XX.XX)', () => {
  assert.deepEqual(parseAmount('100.99', 'USD'), ok(10099));
  assert.deepEqual(parseAmount('1.99', 'USD'), ok(199));
  assert.deepEqual(parseAmount('1.03', 'USD'), ok(103));
  assert.deepEqual(parseAmount('0.02', 'USD'), ok(2));
});

test('exponent-2 amounts with fewer decimals, as PHP clients without number_format send them', () => {
  assert.deepEqual(parseAmount('10', 'USD'), ok(1000));
  assert.deepEqual(parseAmount('10.5', 'USD'), ok(1050));
  assert.deepEqual(parseAmount('10.50', 'USD'), ok(1050));
});

test('more decimals than the currency has are refused, never rounded', () => {
  assert.deepEqual(parseAmount('1.999', 'USD'), refused('format'));
  assert.deepEqual(parseAmount('1.990', 'USD'), refused('format'));
  assert.deepEqual(parseAmount('0.001', 'USD'), refused('format'));
  assert.deepEqual(parseAmount('100.9999', 'KWD'), refused('format'));
  assert.deepEqual(parseAmount('100.99999', 'CLF'), refused('format'));
});

test('UGX, JPY, KRW, CLP: integers and XX.XX with zero decimals', () => {
  for (const currency of ['UGX', 'JPY', 'KRW', 'CLP']) {
    assert.deepEqual(parseAmount('1000', currency), ok(1000), currency);
    assert.deepEqual(parseAmount('100.00', currency), ok(100), currency);
    assert.deepEqual(parseAmount('100.50', currency), refused('format'), currency);
    assert.deepEqual(parseAmount('100.01', currency), refused('format'), currency);
    assert.deepEqual(parseAmount('100.000', currency), refused('format'), currency);
  }
});

test('other zero-exponent currencies (ISK, VND) take integers only', () => {
  assert.deepEqual(parseAmount('100', 'ISK'), ok(100));
  assert.deepEqual(parseAmount('100.00', 'ISK'), refused('format'));
  assert.deepEqual(parseAmount('100.0', 'ISK'), refused('format'));
  assert.deepEqual(parseAmount('25000', 'VND'), ok(25000));
  assert.deepEqual(parseAmount('25000.00', 'VND'), refused('format'));
});

test('exponent 3 (XXX.XXX) and 4 (XXX.XXXX)', () => {
  assert.deepEqual(parseAmount('100.999', 'KWD'), ok(100999));
  assert.deepEqual(parseAmount('100.9', 'KWD'), ok(100900));
  assert.deepEqual(parseAmount('100', 'BHD'), ok(100000));
  assert.deepEqual(parseAmount('100.9999', 'CLF'), ok(1009999));
  assert.deepEqual(parseAmount('0.0001', 'CLF'), ok(1));
});

test('zero is not positive', () => {
  assert.deepEqual(parseAmount('0', 'USD'), refused('not_positive'));
  assert.deepEqual(parseAmount('0.00', 'USD'), refused('not_positive'));
  assert.deepEqual(parseAmount('0', 'JPY'), refused('not_positive'));
  assert.deepEqual(parseAmount('0.00', 'JPY'), refused('not_positive'));
  assert.deepEqual(parseAmount('0.000', 'KWD'), refused('not_positive'));
});

test('anything but plain decimal digits is a format problem', () => {
  for (const text of ['-1', '-0.01', '+1', '1e3', ' 1', '1 ', '1,00', '1.', '.5', '', '0x10', 'NaN', 'Infinity', '１００', '1.2.3', '1_000']) {
    assert.deepEqual(parseAmount(text, 'USD'), refused('format'), JSON.stringify(text));
  }
});

test('unknown, lower-case or N.A.-exponent currency is a format problem', () => {
  assert.deepEqual(parseAmount('1.00', 'XYZ'), refused('format'));
  assert.deepEqual(parseAmount('1.00', 'usd'), refused('format'));
  assert.deepEqual(parseAmount('1.00', 'XAU'), refused('format'));
  assert.deepEqual(parseAmount('1.00', ''), refused('format'));
});

test('too large: above the maximum in minor units', () => {
  assert.equal(amountMinorMax, 10 ** 15);
  assert.deepEqual(parseAmount('10000000000000.00', 'USD'), ok(10 ** 15));
  assert.deepEqual(parseAmount('10000000000000.01', 'USD'), refused('too_large'));
  assert.deepEqual(parseAmount('1000000000000000', 'JPY'), ok(10 ** 15));
  assert.deepEqual(parseAmount('1000000000000001', 'JPY'), refused('too_large'));
  assert.deepEqual(parseAmount('9999999999999999.9999', 'CLF'), refused('too_large'));
  // More than 16 integer digits does not even look like an amount.
  assert.deepEqual(parseAmount('12345678901234567', 'JPY'), refused('format'));
});

test('formatAmount: by the currency exponent', () => {
  assert.equal(formatAmount(2, 'USD'), '0.02');
  assert.equal(formatAmount(10099, 'USD'), '100.99');
  assert.equal(formatAmount(100, 'USD'), '1.00');
  assert.equal(formatAmount(100999, 'KWD'), '100.999');
  assert.equal(formatAmount(1, 'KWD'), '0.001');
  assert.equal(formatAmount(1009999, 'CLF'), '100.9999');
  assert.equal(formatAmount(1, 'CLF'), '0.0001');
});

test('formatAmount: the four spec currencies get ".00", other zero-exponent ones stay integers', () => {
  assert.equal(formatAmount(1000, 'JPY'), '1000.00');
  assert.equal(formatAmount(1000, 'UGX'), '1000.00');
  assert.equal(formatAmount(1000, 'KRW'), '1000.00');
  assert.equal(formatAmount(1000, 'CLP'), '1000.00');
  assert.equal(formatAmount(1000, 'ISK'), '1000');
  assert.equal(formatAmount(1000, 'VND'), '1000');
});

test('property: parseAmount(formatAmount(x, c), c) gives x back for every currency', () => {
  const currencies = [...currencyExponents.keys()];
  fc.assert(
    fc.property(fc.constantFrom(...currencies), fc.integer({ min: 1, max: 10 ** 12 }), (currency, amountMinor) => {
      const text = formatAmount(amountMinor, currency);
      assert.deepEqual(parseAmount(text, currency), ok(amountMinor), `${currency} ${text}`);
    }),
    { numRuns: 2000 },
  );
});

test('round trip holds at the edges of every currency', () => {
  for (const currency of currencyExponents.keys()) {
    for (const amountMinor of [1, 9, 10, 99, 100, 101, 999, 1000, 10 ** 12, amountMinorMax]) {
      assert.deepEqual(parseAmount(formatAmount(amountMinor, currency), currency), ok(amountMinor), `${currency} ${amountMinor}`);
    }
  }
});
