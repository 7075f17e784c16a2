import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import {
  saleHash, transactionHash, orderHash, scheduleHash, createScheduleHash, creditToCardHash,
  creditToCardTransactionHash, hashesMatch, phpStrrev, phpStrtoupper, cardHashPart,
  checkoutHash,
} from './hash.ts';

const md5 = (bytes: Buffer | string) => createHash('md5').update(bytes).digest('hex');

test('Formula 1 reproduces the one verified vector from Appendix B', () => {
  const hash = saleHash({
    email: 'doe@example.com',
    password: '13a4822c5907ed235f3a068c76184fc3',
    cardDigits: cardHashPart('4111111111111111'),
  });
  assert.equal(hash, '2702ae0c4f99506dc29b5615ba9ee3c0');
});

test('strrev reverses bytes and strtoupper touches ASCII only, as PHP does', () => {
  // "é" is C3 A9 in UTF-8; PHP's strrev gives A9 C3, which is not valid UTF-8 any more.
  assert.deepEqual([...phpStrrev('aé')], [0xa9, 0xc3, 0x61]);
  assert.equal(phpStrtoupper('abc-é-xyz').toString('utf8'), 'ABC-é-XYZ');
});

test('a non-ASCII e-mail hashes over the reversed bytes, not characters', () => {
  const email = 'jürgen@example.com';
  const expected = md5(Buffer.concat([
    phpStrtoupper(Buffer.from(Buffer.from(email, 'utf8')).reverse()),
    Buffer.from('PASS'),
    Buffer.from('1111111114'),
  ]));
  assert.equal(saleHash({ email, password: 'pass', cardDigits: '4111111111' }), expected);
  const characterReversed = md5(
    [...email].reverse().join('').toUpperCase() + 'PASS' + '1111111114');
  assert.notEqual(expected, characterReversed);
});

test('Formula 1 with an empty e-mail equals Formula 5 (absent optional terms are dropped)', () => {
  fc.assert(fc.property(fc.string({ minLength: 1 }), fc.stringMatching(/^\d{10}$/), (password, digits) => {
    assert.equal(saleHash({ password, cardDigits: digits }), creditToCardHash(password, digits));
  }));
});

test('Formula 2 and 7 put trans_id / order_id between PASSWORD and the card', () => {
  const terms = { email: 'a@b.c', password: 'P', cardDigits: '4111111111' };
  assert.equal(transactionHash(terms, 'T1'), md5('C.B@A' + 'P' + 'T1' + '1111111114'));
  assert.equal(orderHash(terms, 'o-1'), md5('C.B@A' + 'P' + 'O-1' + '1111111114'));
  assert.equal(creditToCardTransactionHash('p', 't', '4111111111'), md5('PT1111111114'));
});

test('Formula 3 and 4 reverse the whole concatenation', () => {
  assert.equal(createScheduleHash('abc1'), md5('1CBA'));
  assert.equal(scheduleHash('s1', 'pw'), md5('WP1S'));
});

test('hash comparison ignores case and rejects anything else', () => {
  const hash = '2702ae0c4f99506dc29b5615ba9ee3c0';
  assert.ok(hashesMatch(hash, hash.toUpperCase()));
  assert.ok(!hashesMatch(hash, hash.slice(0, 31)));
  assert.ok(!hashesMatch(hash, '2702ae0c4f99506dc29b5615ba9ee3c1'));
  fc.assert(fc.property(fc.string(), (other) => other.toLowerCase() === hash || !hashesMatch(hash, other)));
});

test('CREATE_CHECKOUT signs e-mail, PASSWORD and the reversed order id (vector from rev | tr | md5sum)', () => {
  assert.equal(checkoutHash('doe@example.com', '13a4822c5907ed235f3a068c76184fc3', 'ORDER-12345'), '379e4d5aca43fa9e276c3bcb889f624d');
});
