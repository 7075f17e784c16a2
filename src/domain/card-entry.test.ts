import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkCardEntry, splitCardholderName } from './card-entry.ts';

const good = { cardNumber: '4111 1111 1111 1111', cardholderName: 'JOHN DOE', expiry: '01/25', cvv: '123' };

test('a card as printed is accepted: spaces in the number, MM/YY, the brand detected', () => {
  const check = checkCardEntry(good);
  assert.ok(check.ok);
  assert.deepEqual(check.entry, { digits: '4111111111111111', brand: 'VISA', cardholderName: 'JOHN DOE', expiryMonth: 1, expiryYear: 2025, cvv: '123' });
  for (const expiry of ['01/2025', '0125', '1/25', ' 01 / 25 ']) {
    const other = checkCardEntry({ ...good, expiry });
    assert.ok(other.ok, expiry);
    assert.equal(other.entry.expiryMonth, 1);
    assert.equal(other.entry.expiryYear, 2025);
  }
  const mastercard = checkCardEntry({ ...good, cardNumber: '5555-5555-5555-4444' });
  assert.ok(mastercard.ok && mastercard.entry.brand === 'MASTERCARD');
  const mir = checkCardEntry({ ...good, cardNumber: '2200000000000004' });
  assert.ok(mir.ok && mir.entry.brand === 'MIR');
  const unionPay = checkCardEntry({ ...good, cardNumber: '6200000000000005' });
  assert.ok(unionPay.ok && unionPay.entry.brand === 'UNIONPAY');
});

test('each field gets its own problem, all at once, and the brand is still known', () => {
  const check = checkCardEntry({ cardNumber: '4111 1111 1111 1112', cardholderName: ' ', expiry: '13/25', cvv: '12' });
  assert.equal(check.ok, false);
  assert.deepEqual(!check.ok && check.problems, { cardNumber: 'numberInvalid', cardholderName: 'nameMissing', expiry: 'expiryMonth', cvv: 'cvvFormat' });
  assert.equal(!check.ok && check.brand, 'VISA');
});

test('number problems: missing, letters, wrong length for the brand, Luhn', () => {
  const problem = (cardNumber: string) => { const check = checkCardEntry({ ...good, cardNumber }); return check.ok ? undefined : check.problems.cardNumber; };
  assert.equal(problem(''), 'numberMissing');
  assert.equal(problem('4111 1111 1111 111O'), 'numberCharacters');
  assert.equal(problem('4111 1111 1111 11'), 'numberLength');
  assert.equal(problem('5555 5555 5555 44448'), 'numberLength', 'Mastercard has 16 digits');
  assert.equal(problem('4111 1111 1111 1112'), 'numberInvalid');
});

test('expiry, CVV and name problems', () => {
  const problems = (input: Partial<typeof good>) => { const check = checkCardEntry({ ...good, ...input }); return check.ok ? {} : check.problems; };
  assert.equal(problems({ expiry: '' }).expiry, 'expiryMissing');
  assert.equal(problems({ expiry: 'next year' }).expiry, 'expiryFormat');
  assert.equal(problems({ expiry: '125' }).expiry, 'expiryFormat');
  assert.equal(problems({ expiry: '00/26' }).expiry, 'expiryMonth');
  assert.equal(problems({ cvv: '' }).cvv, 'cvvMissing');
  assert.equal(problems({ cvv: '1234' }).cvv, 'cvvFormat', 'Visa has 3 digits');
  assert.equal(problems({ cardNumber: '378282246310005', cvv: '1234' }).cvv, undefined, 'American Express has 4');
  assert.equal(problems({ cardholderName: 'J' }).cardholderName, 'nameInvalid');
  assert.equal(problems({ cardholderName: '12345' }).cardholderName, 'nameInvalid');
  assert.equal(problems({ cardholderName: 'x'.repeat(65) }).cardholderName, 'nameInvalid');
  assert.equal(problems({ cardholderName: 'ИВАН ПЕТРОВ' }).cardholderName, undefined, 'any script');
});

test('the cardholder name splits into first and last name at the last space', () => {
  assert.deepEqual(splitCardholderName('JOHN RONALD SMITH'), { firstName: 'JOHN RONALD', lastName: 'SMITH' });
  assert.deepEqual(splitCardholderName('MADONNA'), { firstName: '', lastName: 'MADONNA' });
});
