import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { cardBrand, isCardExpired, isLuhnValid, maskCardNumber, maskFromParts } from './card.ts';

/** Independent oracle: the Luhn check digit for a payload, written the textbook way. */
function luhnCheckDigit(payload: string): string {
  const digits = [...payload].reverse().map(Number);
  const sum = digits.reduce((total, digit, index) => {
    if (index % 2 === 1) return total + digit;
    const doubled = digit * 2;
    return total + (doubled > 9 ? doubled - 9 : doubled);
  }, 0);
  return String((10 - (sum % 10)) % 10);
}

const digitString = (minLength: number, maxLength: number) =>
  fc.array(fc.integer({ min: 0, max: 9 }), { minLength, maxLength }).map((digits) => digits.join(''));

/** A Luhn-valid number of 12 to 19 digits, the lengths the API accepts. */
const validCardNumber = digitString(11, 18).map((payload) => payload + luhnCheckDigit(payload));

test('Luhn: the spec test card is valid, one digit off is not', () => {
  assert.equal(isLuhnValid('4111111111111111'), true);
  assert.equal(isLuhnValid('4111111111111112'), false);
  assert.equal(isLuhnValid('4111111111111121'), false);
  assert.equal(isLuhnValid('378282246310005'), true);
  assert.equal(isLuhnValid('378282246310006'), false);
});

test('Luhn: the well-known test numbers of every brand are valid', () => {
  for (const number of [
    '5555555555554444', '2221000000000009', '2200000000000004', '6200000000000005',
    '378282246310005', '3530111333300000', '6011111111111117', '4000000000009995',
  ]) {
    assert.equal(isLuhnValid(number), true, number);
  }
});

test('property: numbers built with a correct check digit are valid', () => {
  fc.assert(fc.property(validCardNumber, (number) => {
    assert.equal(isLuhnValid(number), true, number);
  }));
});

test('property: changing any single digit of a valid number makes it invalid', () => {
  fc.assert(fc.property(
    validCardNumber, fc.nat(), fc.integer({ min: 1, max: 9 }),
    (number, positionSeed, shift) => {
      const position = positionSeed % number.length;
      const changed = (Number(number[position]) + shift) % 10;
      const mutated = number.slice(0, position) + changed + number.slice(position + 1);
      assert.notEqual(mutated, number);
      assert.equal(isLuhnValid(mutated), false, `${number} → ${mutated}`);
    },
  ), { numRuns: 2000 });
});

test('property: isLuhnValid agrees with the textbook algorithm on arbitrary digit strings', () => {
  fc.assert(fc.property(digitString(2, 19), (number) => {
    const expected = luhnCheckDigit(number.slice(0, -1)) === number.slice(-1);
    assert.equal(isLuhnValid(number), expected, number);
  }), { numRuns: 2000 });
});

test('brands from the leading digits', () => {
  const cases: Array<[string, string]> = [
    ['4111111111111111', 'VISA'],
    ['5555555555554444', 'MASTERCARD'],
    ['5105105105105100', 'MASTERCARD'],
    ['2221000000000009', 'MASTERCARD'],
    ['2720990000000007', 'MASTERCARD'],
    ['2200000000000004', 'MIR'],
    ['2204000000000000', 'MIR'],
    ['6200000000000005', 'UNIONPAY'],
    ['378282246310005', 'AMEX'],
    ['371449635398431', 'AMEX'],
    ['3530111333300000', 'JCB'],
    ['6011111111111117', 'DISCOVER'],
    ['6500000000000002', 'DISCOVER'],
  ];
  for (const [number, brand] of cases) assert.equal(cardBrand(number), brand, number);
});

test('the edges of the 2-series: below 2221 is not Mastercard, above 2720 neither', () => {
  assert.notEqual(cardBrand('2220990000000000'), 'MASTERCARD');
  assert.notEqual(cardBrand('2721000000000000'), 'MASTERCARD');
  assert.notEqual(cardBrand('2205000000000000'), 'MIR');
});

test('mask: first six and last four, the middle starred', () => {
  assert.equal(maskCardNumber('4111111111111111'), '411111******1111');
  assert.equal(maskCardNumber('378282246310005'), '378282*****0005');
  assert.equal(maskCardNumber('4000000000000000006'), '400000*********0006');
  assert.equal(maskCardNumber('4000000000000000006').match(/\*/g)?.length, 9);
  assert.equal(maskFromParts('411111', '1111', 16), '411111******1111');
});

test('property: a mask never shows more than the first six and last four', () => {
  fc.assert(fc.property(validCardNumber, (number) => {
    const mask = maskCardNumber(number);
    assert.equal(mask.length, number.length);
    assert.equal(mask.slice(0, 6), number.slice(0, 6));
    assert.equal(mask.slice(-4), number.slice(-4));
    assert.match(mask.slice(6, -4), /^\**$/);
  }));
});

test('expiry: valid through the last day of the expiry month, UTC', () => {
  assert.equal(isCardExpired(11, 2026, Date.parse('2026-11-30T23:59:59.999Z')), false);
  assert.equal(isCardExpired(11, 2026, Date.parse('2026-12-01T00:00:00Z')), true);
  assert.equal(isCardExpired(11, 2026, Date.parse('2026-11-01T00:00:00Z')), false);
  assert.equal(isCardExpired(10, 2026, Date.parse('2026-11-23T00:00:00Z')), true);
});

test('expiry: December rolls over into January of the next year', () => {
  assert.equal(isCardExpired(12, 2026, Date.parse('2026-12-31T23:59:59Z')), false);
  assert.equal(isCardExpired(12, 2026, Date.parse('2027-01-01T00:00:00Z')), true);
  assert.equal(isCardExpired(1, 2027, Date.parse('2027-01-31T23:59:59Z')), false);
  assert.equal(isCardExpired(1, 2027, Date.parse('2027-02-01T00:00:00Z')), true);
});
