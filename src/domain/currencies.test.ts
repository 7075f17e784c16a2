import { test } from 'node:test';
import assert from 'node:assert/strict';
import { currencyExponent, currencyExponents, currenciesSentWithTwoDecimals } from './currencies.ts';

test('known exponents', () => {
  assert.equal(currencyExponent('USD'), 2);
  assert.equal(currencyExponent('JPY'), 0);
  assert.equal(currencyExponent('KWD'), 3);
  assert.equal(currencyExponent('CLF'), 4);
  assert.equal(currencyExponent('KZT'), 2);
});

test('malformed or unknown codes give undefined', () => {
  assert.equal(currencyExponent('usd'), undefined);
  assert.equal(currencyExponent('US'), undefined);
  assert.equal(currencyExponent('XXX1'), undefined);
  assert.equal(currencyExponent('XAU'), undefined);
});

test('table is complete and holds only ISO exponents', () => {
  assert.ok(currencyExponents.size > 150);
  for (const [code, exponent] of currencyExponents) {
    assert.ok([0, 2, 3, 4].includes(exponent), `${code} has exponent ${exponent}`);
  }
});

test('currencies sent with two decimals are zero-exponent', () => {
  for (const code of currenciesSentWithTwoDecimals) assert.equal(currencyExponent(code), 0);
});
